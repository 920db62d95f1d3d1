#!/usr/bin/env bash
# Set up everything robomem needs on a fresh machine, idempotently:
#   system packages (apt-get, only those missing), the virtual environment at .venv,
#   torch pinned to the CPU build, robomem itself (editable) with all extras,
#   and the ROS 2 interface packages robomem's nodes use (built from .msg/.srv here).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
VENV="$ROOT/.venv"
PY=${PYTHON:-python3}
STAMP="$VENV/.robomem-bootstrap"
want=$( (cat pyproject.toml scripts/bootstrap.sh scripts/build_ros_interfaces.sh $(find ros -type f 2>/dev/null | LC_ALL=C sort) 2>/dev/null || true) | sha256sum | cut -d" " -f1)
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want" ]; then
  exit 0
fi

log() { printf '[bootstrap] %s\n' "$*"; }

# --- system packages -------------------------------------------------------------
# EGL + Mesa for headless MuJoCo rendering, libusb for open3d, cmake/g++ for the ROS
# interface packages; PostgreSQL 15 for the fleet memory's tests (robomem.testing.postgres); Debian's colcon (with the ROS and setup.py plugins) for the colcon build test.
need=()
for p in libegl1 libegl-mesa0 libgl1-mesa-dri libgles2 libusb-1.0-0 libgomp1 cmake g++ make \
  colcon python3-colcon-ros python3-colcon-python-setup-py python3-colcon-package-selection \
  python3-colcon-parallel-executor python3-colcon-output python3-colcon-recursive-crawl \
  python3-colcon-library-path python3-colcon-metadata python3-colcon-test-result python3-colcon-bash \
  postgresql postgresql-contrib; do
  dpkg -s "$p" >/dev/null 2>&1 || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  log "apt-get install ${need[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}"
fi

# --- python ------------------------------------------------------------------------
if [ ! -x "$VENV/bin/python" ]; then
  log "creating $VENV"
  "$PY" -m venv "$VENV"
fi
PIP=("$VENV/bin/python" -m pip --disable-pip-version-check -q)
"${PIP[@]}" install --upgrade pip setuptools wheel
# torch first and pinned: any later "torch" requirement is then already satisfied and
# pip never pulls a CUDA build.
log "installing torch==2.13.0 (CPU build)"
"${PIP[@]}" install "torch==2.13.0"
log "installing robomem and its extras"
"${PIP[@]}" install -e ".[torch,embed,spatial,sim,replay,ros,interop,fleet,dev]"

# --- current colcon from PyPI, in its own venv (colcon is a build tool, not a robomem dependency) ---
if [ ! -x "$ROOT/.colcon-venv/bin/colcon" ]; then
  log "installing colcon from PyPI into .colcon-venv"
  "$PY" -m venv "$ROOT/.colcon-venv"
  "$ROOT/.colcon-venv/bin/python" -m pip --disable-pip-version-check -q install colcon-common-extensions
fi

# --- ROS 2 interface packages ------------------------------------------------------
if [ -f scripts/build_ros_interfaces.sh ]; then
  log "building ROS 2 interface packages"
  bash scripts/build_ros_interfaces.sh "$VENV"
fi

echo "$want" > "$STAMP"
log "done: $VENV"
