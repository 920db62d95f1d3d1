"""Camera frames and the TF wait, over real DDS: the image's own frame is the camera, /tf may be late.

A robot whose camera driver names its optical frame ``oak_rgb_camera_optical_frame`` (an OAK-D, not
the RealSense-style ``camera_color_optical_frame``) streams rendered RGB-D frames, with
map -> base_link on /tf published 2.5 s after the frames it poses (the issue measured /tf up to
2.4 s late on a loaded machine) and base_link -> oak_rgb_camera_optical_frame on /tf_static.
Three memory nodes listen on one DDS domain:

* ``robomem_header``: the shipped parameters, nothing overridden: every frame enters memory (its
  header's frame is the camera; the default tf_wait of 5 s covers the 2.5 s lag);
* ``robomem_override``: ``frames.camera_frame:=camera_color_optical_frame`` set explicitly: the
  override wins over the headers, so with no TF for that frame every frame is missing_transform;
* ``robomem_short_wait``: ``node.tf_wait:=2.0`` (the old default): frames are rejected as
  missing_transform, which is why the default is 5 s.

Run as a script (``stream`` / ``probe``) this file is the robot and the diagnostics reader.
"""

from __future__ import annotations

import json
import math
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

HERE = Path(__file__).resolve()
ROOT = HERE.parents[2]
PARAMS = ROOT / "config" / "robomem_ros.yaml"
OAK = "oak_rgb_camera_optical_frame"
N_FRAMES = 8
TF_LAG_S = 2.5
NODES = {
    "robomem_header": [],
    "robomem_override": ["-p", "frames.camera_frame:=camera_color_optical_frame"],
    "robomem_short_wait": ["-p", "node.tf_wait:=2.0"],
}


def out(event: str, **kw: object) -> None:
    print(json.dumps({"event": event, **kw}), flush=True)


def _rclpy_ok() -> tuple[bool, str]:
    r = subprocess.run([sys.executable, "-c", "import rclpy, robomem_interfaces.srv"], capture_output=True, text=True)
    return r.returncode == 0, (r.stderr.strip().splitlines() or [""])[-1]


def test_shipped_defaults_take_the_header_frame_and_wait_out_late_tf():
    from robomem.nodes.settings import NodeSettings, description

    s = NodeSettings.load(ROOT / "config" / "robomem.yaml")
    assert s.io.camera_frame == "" and s.node.tf_wait >= 2 * 2.4 and s.node.max_pending >= 1
    assert "2.4 s late" in description("node.tf_wait") and "header.frame_id" in description("frames.camera_frame")


@pytest.mark.ros
@pytest.mark.slow
def test_header_frame_is_the_camera_override_wins_and_late_tf_is_waited_for(tmp_path):
    ok, why = _rclpy_ok()
    if not ok:
        pytest.skip(f"rclpy/robomem_interfaces not importable ({why}); run scripts/bootstrap.sh")
    env = {k: v for k, v in os.environ.items() if k not in ("ROS_LOCALHOST_ONLY", "ROS_STATIC_PEERS")}
    env.update(
        ROS_DOMAIN_ID=str(random.randint(223, 230)),
        ROS_AUTOMATIC_DISCOVERY_RANGE="LOCALHOST",
        RMW_IMPLEMENTATION="rmw_fastrtps_cpp",
        ROS_LOG_DIR=str(tmp_path / "ros_log"),
        PYTHONUNBUFFERED="1",
    )
    procs: dict[str, subprocess.Popen] = {}
    logs: dict[str, Path] = {}
    for name, extra in NODES.items():
        logs[name] = tmp_path / f"{name}.log"
        cmd = [sys.executable, "-m", "robomem.nodes.memory_node", "--ros-args", "--params-file", str(PARAMS)]
        cmd += ["-r", f"__node:={name}", "-p", f"store_path:={tmp_path / name}", "-p", f"robot_id:={name}"]
        # reliable QoS and a deep update queue: the test checks frames and TF, not DDS on a loaded 2-core box
        cmd += ["-p", "node.sensor_qos:=reliable", "-p", "node.update_queue:=64", "-p", f"node.query_service:={name}"]
        cmd += ["-p", "memory.embedder:=hash"]  # three nodes need not each load a language model
        procs[name] = subprocess.Popen(
            [*cmd, *extra], env=env, stdout=logs[name].open("w"), stderr=subprocess.STDOUT, cwd=tmp_path
        )
    try:
        t0 = time.monotonic()
        while not all("memory node ready" in logs[n].read_text(errors="replace") for n in NODES):
            for n, p in procs.items():
                assert p.poll() is None, logs[n].read_text(errors="replace")[-3000:]
            assert time.monotonic() - t0 < 120, {n: logs[n].read_text(errors="replace")[-1500:] for n in NODES}
            time.sleep(0.2)
        r = subprocess.run([sys.executable, str(HERE), "stream"], env=env, capture_output=True, text=True, timeout=180)
        assert r.returncode == 0, r.stderr[-3000:]
        time.sleep(TF_LAG_S + 1.0)  # the last frames wait for their late /tf, then the update queues drain
        r = subprocess.run([sys.executable, str(HERE), "probe"], env=env, capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stderr[-3000:]
        diag = json.loads(r.stdout.strip().splitlines()[-1])["diagnostics"]
    finally:
        for p in procs.values():
            if p.poll() is None:
                p.send_signal(signal.SIGINT)
        for p in procs.values():
            try:
                p.wait(timeout=60)
            except subprocess.TimeoutExpired:
                p.kill()
    assert set(diag) == set(NODES), diag
    header, override, short = (diag[n] for n in NODES)
    # the header's frame, /tf 2.5 s late: every frame in memory, none rejected
    assert int(header["received_depth"]) == N_FRAMES, json.dumps(header)
    assert int(header["updates"]) == N_FRAMES and int(header["rejected_total"]) == 0, json.dumps(header)
    # an explicit camera_frame wins over the headers (no TF names it here: every frame lacks a transform)
    assert int(override["updates"]) == 0, override
    assert int(override.get("rejected_missing_transform", 0)) == N_FRAMES, override
    assert "camera_color_optical_frame" in logs["robomem_override"].read_text(errors="replace")
    # the old 2 s wait gives up before the late /tf arrives
    # The old 2 s wait loses frames whose /tf comes 2.5 s late. How many depends on how late the images
    # themselves arrive on a loaded machine (an image that arrives over 0.5 s late finds its /tf within the
    # wait: 6 of 8 were rejected under one CI load, 3 of 8 under another), so this asserts the loss, not its
    # size; the default 5 s wait above accepts all 8 from the same streams.
    rejected = int(short.get("rejected_missing_transform", 0))
    assert rejected >= 1 and int(short["updates"]) <= N_FRAMES - rejected, short


# -- the robot and the diagnostics reader (run as a script) --------------------------------------------------


def stream() -> int:
    import numpy as np
    import rclpy
    from geometry_msgs.msg import TransformStamped
    from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
    from robomem_interfaces.msg import InstanceLabels
    from sensor_msgs.msg import CameraInfo, Image
    from tf2_msgs.msg import TFMessage

    from robomem.io.rosmsg import fill_pose_msg
    from robomem.observation import Pose
    from robomem.testing.synthetic import BoxScene, demo_boxes, look_at

    rclpy.init(args=[])
    node = rclpy.create_node("robomem_test_oak")
    pubs = {
        "color": node.create_publisher(Image, "camera/color/image_raw", 10),
        "depth": node.create_publisher(Image, "camera/depth/image_raw", 10),
        "info": node.create_publisher(CameraInfo, "camera/color/camera_info", 10),
        "inst": node.create_publisher(Image, "camera/instances", 10),
        "labels": node.create_publisher(InstanceLabels, "camera/instance_labels", 10),
        "tf": node.create_publisher(TFMessage, "/tf", 100),
    }
    latched = QoSProfile(depth=10, durability=DurabilityPolicy.TRANSIENT_LOCAL, reliability=ReliabilityPolicy.RELIABLE)
    tf_static = node.create_publisher(TFMessage, "/tf_static", latched)
    scene = BoxScene(demo_boxes(), 320, 240)
    k = scene.intrinsics
    t_base_opt = np.eye(4)
    t_base_opt[:3, :3] = [[0.0, 0.0, 1.0], [-1.0, 0.0, 0.0], [0.0, -1.0, 0.0]]
    t_base_opt[:3, 3] = [0.1, 0.0, 1.2]

    def transform(parent: str, child: str, m: np.ndarray, stamp: object) -> TransformStamped:
        ts = TransformStamped()
        ts.header.frame_id, ts.child_frame_id, ts.header.stamp = parent, child, stamp
        fill_pose_msg(ts.transform, Pose(m))
        return ts

    def image(arr: np.ndarray, encoding: str, stamp: object) -> Image:
        im = Image()
        im.header.stamp, im.header.frame_id = stamp, OAK
        im.height, im.width, im.encoding, im.is_bigendian = int(arr.shape[0]), int(arr.shape[1]), encoding, 0
        im.step = int(arr.strides[0])
        im.data = np.ascontiguousarray(arr).tobytes()
        return im

    t0 = time.monotonic()  # discovery: every memory node subscribed to every stream (reliable, so none is lost)
    while any(p.get_subscription_count() < len(NODES) for p in pubs.values()) and time.monotonic() - t0 < 60:
        time.sleep(0.1)
    time.sleep(0.5)
    tf_static.publish(TFMessage(transforms=[transform("base_link", OAK, t_base_opt, node.get_clock().now().to_msg())]))
    target = (2.3, -0.3, 0.7)
    late: list[tuple[float, TFMessage]] = []  # (wall time to publish, message)

    def publish_due() -> None:
        while late and late[0][0] <= time.monotonic():
            pubs["tf"].publish(late.pop(0)[1])

    for i in range(N_FRAMES):
        a = -0.6 + 1.2 * i / max(1, N_FRAMES - 1)
        cam = look_at((2.3 - 1.8 * math.cos(a), -0.3 - 1.8 * math.sin(a), 1.4), target)
        rgb, depth, ids = scene.render(cam)
        stamp = node.get_clock().now().to_msg()
        msg = TFMessage(transforms=[transform("map", "base_link", cam.matrix @ np.linalg.inv(t_base_opt), stamp)])
        late.append((time.monotonic() + TF_LAG_S, msg))  # /tf for this frame arrives TF_LAG_S late
        ci = CameraInfo()
        ci.header.stamp, ci.header.frame_id, ci.width, ci.height = stamp, OAK, k.width, k.height
        ci.k = [k.fx, 0.0, k.cx, 0.0, k.fy, k.cy, 0.0, 0.0, 1.0]
        pubs["info"].publish(ci)
        pubs["color"].publish(image(rgb, "rgb8", stamp))
        pubs["depth"].publish(image(depth, "32FC1", stamp))
        pubs["inst"].publish(image(ids.astype(np.int32), "32SC1", stamp))
        present = sorted(set(np.unique(ids).tolist()) - {0})
        lab = InstanceLabels()
        lab.header.stamp, lab.header.frame_id = stamp, OAK
        lab.ids = [int(j) for j in present]
        lab.labels = [b.label for b in scene.boxes if b.instance_id in present]
        lab.scores = [1.0] * len(present)
        pubs["labels"].publish(lab)
        end = time.monotonic() + 0.3
        while time.monotonic() < end:
            publish_due()
            time.sleep(0.02)
    while late:
        publish_due()
        time.sleep(0.02)
    out("frames_sent", n=N_FRAMES)
    time.sleep(1.0)
    node.destroy_node()
    rclpy.shutdown()
    return 0


def probe() -> int:
    import rclpy
    from diagnostic_msgs.msg import DiagnosticArray

    rclpy.init(args=[])
    node = rclpy.create_node("robomem_test_frames_probe")
    got: dict[str, dict[str, str]] = {}

    def on_diag(m: DiagnosticArray) -> None:
        for st in m.status:
            name = st.name.split(":")[0]
            if name in NODES:
                got[name] = {kv.key: kv.value for kv in st.values}

    node.create_subscription(DiagnosticArray, "/diagnostics", on_diag, 10)
    t0 = time.monotonic()
    while time.monotonic() - t0 < 60 and (len(got) < len(NODES) or time.monotonic() - t0 < 3.0):
        rclpy.spin_once(node, timeout_sec=0.2)  # at least 3 s: each node's newest counts
    print(json.dumps({"event": "probe", "diagnostics": got}), flush=True)
    node.destroy_node()
    rclpy.shutdown()
    return 0


if __name__ == "__main__":
    if sys.argv[1:] == ["stream"]:
        raise SystemExit(stream())
    if sys.argv[1:] == ["probe"]:
        raise SystemExit(probe())
    raise SystemExit(f"usage: {sys.argv[0]} stream | probe")
