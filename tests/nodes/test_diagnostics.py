"""/diagnostics judges a sliding window, goes STALE when camera input stops, and says why.

The window logic is tested on plain counts; then over real DDS a memory node with no camera
publisher reports STALE "no publisher", and with a publisher whose QoS cannot match (best effort
into a reliable subscription) STALE "publishers on ... but nothing received"; its hardware_id is
the robot id, not the store path.  Run as a script (``probe``) this file is the DDS side.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from robomem.nodes.diagnostics import OK, STALE, WARN, Counts, DiagnosticsWindow

HERE = Path(__file__).resolve()
ROOT = HERE.parents[2]


def test_one_rejection_does_not_warn_forever():
    w = DiagnosticsWindow(window=10.0)
    pubs = {"camera/depth/image_raw": 1}
    assert w.status(Counts(0.0, 0, 0, 0, 0), pubs)[0] == OK  # just started: waiting, not stale yet
    assert w.status(Counts(2.0, 20, 1, 0, 9), pubs)[0] == WARN  # a rejection in the window
    level, msg = w.status(Counts(5.0, 50, 1, 0, 24), pubs)
    assert level == WARN and "1 rejected" in msg
    level, msg = w.status(Counts(16.0, 160, 1, 0, 80), pubs)  # the rejection is older than the window
    assert level == OK and "0 rejected" in msg, msg


def test_stale_when_input_stops_and_says_why():
    w = DiagnosticsWindow(window=10.0)
    w.status(Counts(0.0, 0, 0, 0, 0), {"camera/depth/image_raw": 0})
    w.status(Counts(5.0, 40, 0, 0, 20), {"camera/depth/image_raw": 1})
    level, msg = w.status(Counts(20.0, 40, 0, 0, 20), {"camera/depth/image_raw": 1})
    assert level == STALE and "publishers on camera/depth/image_raw but nothing received" in msg, msg
    level, msg = w.status(Counts(40.0, 40, 0, 0, 20), {"camera/depth/image_raw": 0})
    assert level == STALE and "no publisher on camera/depth/image_raw" in msg, msg
    with pytest.raises(ValueError, match="window"):
        DiagnosticsWindow(window=0)


def _rclpy_ok() -> tuple[bool, str]:
    r = subprocess.run([sys.executable, "-c", "import rclpy, robomem_interfaces.srv"], capture_output=True, text=True)
    return r.returncode == 0, (r.stderr.strip().splitlines() or [""])[-1]


@pytest.mark.ros
@pytest.mark.slow
def test_stale_over_dds_no_publisher_then_qos_mismatch(tmp_path):
    ok, why = _rclpy_ok()
    if not ok:
        pytest.skip(f"rclpy/robomem_interfaces not importable ({why}); run scripts/bootstrap.sh")
    env = {k: v for k, v in os.environ.items() if k not in ("ROS_LOCALHOST_ONLY", "ROS_STATIC_PEERS")}
    env.update(
        ROS_DOMAIN_ID=str(random.randint(223, 232)),
        ROS_AUTOMATIC_DISCOVERY_RANGE="LOCALHOST",
        RMW_IMPLEMENTATION="rmw_fastrtps_cpp",
        ROS_LOG_DIR=str(tmp_path / "ros_log"),
        PYTHONUNBUFFERED="1",
    )
    log = tmp_path / "memory.log"
    cmd = [sys.executable, "-m", "robomem.nodes.memory_node", "--ros-args", "-p", f"store_path:={tmp_path / 's'}"]
    cmd += ["-p", "node.sensor_qos:=reliable", "-p", "node.diagnostics_period:=0.5", "-p", "robot_id:=rover7"]
    node = subprocess.Popen(cmd, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT, cwd=tmp_path)
    try:
        t0 = time.monotonic()
        while "memory node ready" not in log.read_text(errors="replace"):
            assert node.poll() is None and time.monotonic() - t0 < 120, log.read_text(errors="replace")[-3000:]
            time.sleep(0.2)
        r = subprocess.run([sys.executable, str(HERE), "probe"], env=env, capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stderr[-3000:]
        res = json.loads(r.stdout.strip().splitlines()[-1])
    finally:
        if node.poll() is None:
            node.send_signal(signal.SIGINT)
            try:
                node.wait(timeout=30)
            except subprocess.TimeoutExpired:
                node.kill()
    assert res["no_publisher"]["level"] == STALE and "no publisher on" in res["no_publisher"]["message"], res
    assert res["no_publisher"]["hardware_id"] == "rover7" and res["no_publisher"]["name"] == "robomem_memory: memory"
    assert res["qos_mismatch"]["level"] == STALE, res
    assert "camera/depth/image_raw but nothing received" in res["qos_mismatch"]["message"], res


def probe() -> int:
    import rclpy
    from diagnostic_msgs.msg import DiagnosticArray
    from rclpy.qos import qos_profile_sensor_data
    from sensor_msgs.msg import Image

    rclpy.init(args=[])
    node = rclpy.create_node("robomem_diag_probe")
    last: dict[str, object] = {}

    def on_diag(m: DiagnosticArray) -> None:
        for st in m.status:
            if st.name == "robomem_memory: memory":
                last.update(level=st.level[0], message=st.message, hardware_id=st.hardware_id, name=st.name)

    node.create_subscription(DiagnosticArray, "/diagnostics", on_diag, 10)

    def wait_for(text: str, timeout: float = 40.0) -> dict[str, object]:
        t0 = time.monotonic()
        while time.monotonic() - t0 < timeout:
            rclpy.spin_once(node, timeout_sec=0.2)
            if text in str(last.get("message", "")):
                return dict(last)
        raise SystemExit(f"no diagnostics with {text!r}; last: {last}")

    res = {"no_publisher": wait_for("no publisher on")}
    pub = node.create_publisher(Image, "/camera/depth/image_raw", qos_profile_sensor_data)  # best effort: no match
    t0 = time.monotonic()
    while time.monotonic() - t0 < 3.0:
        rclpy.spin_once(node, timeout_sec=0.1)
        pub.publish(Image())
    res["qos_mismatch"] = wait_for("but nothing received")
    print(json.dumps(res), flush=True)
    node.destroy_node()
    rclpy.shutdown()
    return 0


if __name__ == "__main__":
    if sys.argv[1:] == ["probe"]:
        raise SystemExit(probe())
    raise SystemExit(f"usage: {sys.argv[0]} probe")
