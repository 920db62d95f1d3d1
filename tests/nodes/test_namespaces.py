"""Two robots side by side on one DDS domain: `robomem ros --namespace robot1` and `--namespace robot2`.

Each robot streams a rendered RGB-D sequence into its own namespace (relative topics:
/robot1/camera/color/image_raw, ...), with its frames on the global /tf and /tf_static
(map -> robot1/base_link -> robot1/camera_color_optical_frame), as multi-robot ROS setups do.
robot1's room has the red mug but no book, robot2's the book but no red mug.  Each memory answers
on its own /robotN/robomem/query, only about what its own camera saw; nothing is served in the
root namespace.

Run as a script, this file is the robot side (``stream NS``) and the probe (``probe``).
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
HIDDEN = {"robot1": "book", "robot2": "red mug"}  # what each robot's room lacks


def out(event: str, **kw: object) -> None:
    print(json.dumps({"event": event, **kw}), flush=True)


def _rclpy_ok() -> tuple[bool, str]:
    r = subprocess.run([sys.executable, "-c", "import rclpy, robomem_interfaces.srv"], capture_output=True, text=True)
    return r.returncode == 0, (r.stderr.strip().splitlines() or [""])[-1]


def test_default_names_are_relative_except_the_global_ones():
    from robomem.config import NodeOptions, TopicMap

    t, n = TopicMap(), NodeOptions()
    assert (
        t.color == "camera/color/image_raw" and n.query_service == "robomem/query" and n.goal_pose_topic == "goal_pose"
    )
    assert (t.tf, t.tf_static, n.diagnostics_topic) == ("/tf", "/tf_static", "/diagnostics")
    # as a bag records them (root namespace), and as a node in /robot1 resolves them
    assert t.absolute().color == "/camera/color/image_raw" and t.absolute().detections == ""
    assert t.absolute("robot1").depth == "/robot1/camera/depth/image_raw" and t.absolute("/robot1/").tf == "/tf"


@pytest.mark.ros
@pytest.mark.slow
def test_two_namespaced_memory_nodes_answer_only_about_their_own_robot(tmp_path):
    ok, why = _rclpy_ok()
    if not ok:
        pytest.skip(f"rclpy/robomem_interfaces not importable ({why}); run scripts/bootstrap.sh")
    env = {k: v for k, v in os.environ.items() if k not in ("ROS_LOCALHOST_ONLY", "ROS_STATIC_PEERS")}
    env.update(
        ROS_DOMAIN_ID=str(random.randint(215, 222)),
        ROS_AUTOMATIC_DISCOVERY_RANGE="LOCALHOST",
        RMW_IMPLEMENTATION="rmw_fastrtps_cpp",
        ROS_LOG_DIR=str(tmp_path / "ros_log"),
        PYTHONUNBUFFERED="1",
    )
    procs: dict[str, subprocess.Popen] = {}
    logs: dict[str, Path] = {}
    for ns in HIDDEN:
        logs[ns] = tmp_path / f"{ns}.log"
        # the whole graph (memory + planner) per robot; the camera frame is each image's own
        # (robotN/camera_color_optical_frame): nothing per robot but the namespace and the store
        cmd = [sys.executable, "-m", "robomem.cli.main", "ros", "--namespace", ns]
        cmd += ["--store", str(tmp_path / f"{ns}_store"), "--ros-args"]
        # reliable QoS and a deep queue: the test checks what memory builds, not DDS on a loaded 2-core box
        cmd += ["-p", "node.sensor_qos:=reliable", "-p", "node.update_queue:=64"]
        procs[ns] = subprocess.Popen(
            cmd, env=env, stdout=logs[ns].open("w"), stderr=subprocess.STDOUT, cwd=tmp_path, start_new_session=True
        )
    try:
        t0 = time.monotonic()
        while not all(
            "memory node ready" in (text := logs[ns].read_text(errors="replace")) and "planner node ready" in text
            for ns in HIDDEN
        ):
            for ns, p in procs.items():
                assert p.poll() is None, logs[ns].read_text(errors="replace")[-3000:]
            assert time.monotonic() - t0 < 120, {ns: logs[ns].read_text(errors="replace")[-1500:] for ns in HIDDEN}
            time.sleep(0.2)
        streams = [
            subprocess.Popen(
                [sys.executable, str(HERE), "stream", ns], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
            )
            for ns in HIDDEN
        ]
        for s in streams:
            so, se = s.communicate(timeout=180)
            assert s.returncode == 0, se.decode()[-3000:]
        time.sleep(3.0)  # let the update queues drain
        r = subprocess.run([sys.executable, str(HERE), "probe"], env=env, capture_output=True, text=True, timeout=180)
        assert r.returncode == 0, r.stderr[-3000:]
        res = json.loads(r.stdout.strip().splitlines()[-1])["answers"]
    finally:
        for p in procs.values():
            if p.poll() is None:
                p.send_signal(signal.SIGINT)
        for ns, p in procs.items():
            try:
                assert p.wait(timeout=60) == 0, logs[ns].read_text(errors="replace")[-3000:]
            except subprocess.TimeoutExpired:
                p.kill()
                raise
    assert res["root_services"] == [], res  # nothing in the root namespace
    for ns, hidden in HIDDEN.items():
        seen = "red mug" if hidden == "book" else "book"
        mine = res[ns][seen]
        assert mine["ok"] and mine["status"] == "answered" and mine["has_goal_pose"], (ns, mine)
        other = res[ns][hidden]
        assert other["ok"] and other["status"] == "not_seen" and not other["has_goal_pose"], (ns, other)
        assert res[ns]["goal_frame"] == "map"


# -- the robots and the probe (run as a script) -------------------------------------------------------------


def stream(ns: str, n: int = 10) -> int:
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
    node = rclpy.create_node("robomem_test_robot", namespace=f"/{ns}")
    # relative names: they land in /<ns>/...; /tf and /tf_static are global
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
    scene = BoxScene([b for b in demo_boxes() if b.label != HIDDEN[ns]], 320, 240)
    k = scene.intrinsics
    base, optical = f"{ns}/base_link", f"{ns}/camera_color_optical_frame"
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
        im.header.stamp, im.header.frame_id = stamp, optical
        im.height, im.width, im.encoding, im.is_bigendian = int(arr.shape[0]), int(arr.shape[1]), encoding, 0
        im.step = int(arr.strides[0])
        im.data = np.ascontiguousarray(arr).tobytes()
        return im

    t0 = time.monotonic()  # discovery: this robot's memory node subscribed to every stream
    while any(p.get_subscription_count() < 1 for p in pubs.values()) and time.monotonic() - t0 < 60:
        time.sleep(0.1)
    time.sleep(0.5)
    tf_static.publish(TFMessage(transforms=[transform(base, optical, t_base_opt, node.get_clock().now().to_msg())]))
    target = (2.3, -0.3, 0.7)
    for i in range(n):
        a = -0.6 + 1.2 * i / max(1, n - 1)
        cam = look_at((2.3 - 1.8 * math.cos(a), -0.3 - 1.8 * math.sin(a), 1.4), target)
        rgb, depth, ids = scene.render(cam)
        stamp = node.get_clock().now().to_msg()
        pubs["tf"].publish(
            TFMessage(transforms=[transform("map", base, cam.matrix @ np.linalg.inv(t_base_opt), stamp)])
        )
        ci = CameraInfo()
        ci.header.stamp, ci.header.frame_id, ci.width, ci.height = stamp, optical, k.width, k.height
        ci.k = [k.fx, 0.0, k.cx, 0.0, k.fy, k.cy, 0.0, 0.0, 1.0]
        pubs["info"].publish(ci)
        pubs["color"].publish(image(rgb, "rgb8", stamp))
        pubs["depth"].publish(image(depth, "32FC1", stamp))
        pubs["inst"].publish(image(ids.astype(np.int32), "32SC1", stamp))
        present = sorted(set(np.unique(ids).tolist()) - {0})
        lab = InstanceLabels()
        lab.header.stamp = stamp
        lab.ids = [int(j) for j in present]
        lab.labels = [b.label for b in scene.boxes if b.instance_id in present]
        lab.scores = [1.0] * len(present)
        pubs["labels"].publish(lab)
        time.sleep(0.3)
    out("frames_sent", ns=ns, n=n)
    time.sleep(1.0)
    node.destroy_node()
    rclpy.shutdown()
    return 0


def probe() -> int:
    import rclpy
    from robomem_interfaces.srv import Query

    rclpy.init(args=[])
    node = rclpy.create_node("robomem_test_probe")
    answers: dict[str, object] = {}
    for ns in HIDDEN:
        cli = node.create_client(Query, f"/{ns}/robomem/query")
        assert cli.wait_for_service(timeout_sec=60), f"/{ns}/robomem/query not available"
        per: dict[str, object] = {}
        for goal in ("red mug", "book"):
            fut = cli.call_async(Query.Request(goal=goal, mode="locate", k=3))
            rclpy.spin_until_future_complete(node, fut, timeout_sec=30)
            res = fut.result()
            assert res is not None, f"/{ns}/robomem/query timed out"
            per[goal] = {
                "ok": res.ok,
                "has_goal_pose": res.has_goal_pose,
                "status": json.loads(res.json).get("status") if res.json else res.error,
            }
            per["goal_frame"] = res.goal_pose.header.frame_id
        answers[ns] = per
    names = [n for n, _ in node.get_service_names_and_types()]
    answers["root_services"] = [n for n in names if n.startswith(("/robomem/", "/robomem_memory/"))]
    print(json.dumps({"event": "probe", "answers": answers}), flush=True)
    node.destroy_node()
    rclpy.shutdown()
    return 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["stream"] and len(sys.argv) == 3:
        raise SystemExit(stream(sys.argv[2]))
    if sys.argv[1:] == ["probe"]:
        raise SystemExit(probe())
    raise SystemExit(f"usage: {sys.argv[0]} stream NS | probe")
