"""The other side of the node tests (run as a script by test_nodes.py, not collected).

    python ros_driver.py stream N      # publish N RGB-D frames of a ray-cast scene, with TF and masks,
                                       # then a set of bad messages; prints JSON lines
    python ros_driver.py probe GOAL    # wait for markers and diagnostics, send GOAL to the planner,
                                       # wait for /goal_pose and call the Query service; prints JSON lines

Every printed line is JSON {"event": ...}.  Frames come from robomem.testing.synthetic.BoxScene: real
rendered depth, colour and instance images from known poses, published as a robot would
(map -> base_link on /tf, base_link -> camera_color_optical_frame on /tf_static).
"""

from __future__ import annotations

import json
import math
import sys
import time

import numpy as np

TIMEOUT_S = 60.0


def out(event: str, **kw: object) -> None:
    print(json.dumps({"event": event, **kw}), flush=True)


def stream(n: int) -> int:
    import rclpy
    from geometry_msgs.msg import TransformStamped
    from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy, qos_profile_sensor_data
    from robomem_interfaces.msg import InstanceLabels
    from sensor_msgs.msg import CameraInfo, Image
    from std_msgs.msg import String
    from tf2_msgs.msg import TFMessage

    from robomem.io.rosmsg import fill_pose_msg
    from robomem.observation import Pose
    from robomem.testing.synthetic import BoxScene, demo_boxes, look_at

    rclpy.init()
    node = rclpy.create_node("robomem_test_stream")
    sensor = 10 if "--reliable" in sys.argv else qos_profile_sensor_data
    pubs = {
        "color": node.create_publisher(Image, "/camera/color/image_raw", sensor),
        "depth": node.create_publisher(Image, "/camera/depth/image_raw", sensor),
        "info": node.create_publisher(CameraInfo, "/camera/color/camera_info", sensor),
        "inst": node.create_publisher(Image, "/camera/instances", sensor),
        "labels": node.create_publisher(InstanceLabels, "/camera/instance_labels", sensor),
        "tf": node.create_publisher(TFMessage, "/tf", 100),
        "events": node.create_publisher(String, "/robomem/events", 10),
    }
    static_qos = QoSProfile(
        depth=10, durability=DurabilityPolicy.TRANSIENT_LOCAL, reliability=ReliabilityPolicy.RELIABLE
    )
    tf_static = node.create_publisher(TFMessage, "/tf_static", static_qos)
    # the map server's latched map: 6 x 4 m at 5 cm, a wall at x = 3 m with a door at its north end
    from nav_msgs.msg import OccupancyGrid

    grid = np.zeros((80, 120), dtype=np.int8)
    grid[:64, 60] = 100
    occ = OccupancyGrid()
    occ.header.frame_id = "map"
    occ.info.resolution, occ.info.width, occ.info.height = 0.05, 120, 80
    occ.info.origin.position.x, occ.info.origin.position.y = -1.0, -2.0
    occ.info.origin.orientation.w = 1.0
    occ.data = grid.ravel().tolist()
    node.create_publisher(OccupancyGrid, "/map", static_qos).publish(occ)
    scene = BoxScene(demo_boxes(), 320, 240)
    k = scene.intrinsics
    # base_link -> optical frame: the optical frame looks along base x (z forward, x right, y down)
    r_base_opt = np.array([[0.0, 0.0, 1.0], [-1.0, 0.0, 0.0], [0.0, -1.0, 0.0]])
    t_base_opt = np.eye(4)
    t_base_opt[:3, :3] = r_base_opt
    t_base_opt[:3, 3] = [0.1, 0.0, 1.2]

    def transform(parent: str, child: str, m: np.ndarray, stamp: object) -> TransformStamped:
        ts = TransformStamped()
        ts.header.frame_id, ts.child_frame_id = parent, child
        ts.header.stamp = stamp
        fill_pose_msg(ts.transform, Pose(m))
        return ts

    def image(arr: np.ndarray, encoding: str, stamp: object, frame: str = "camera_color_optical_frame") -> Image:
        im = Image()
        im.header.stamp, im.header.frame_id = stamp, frame
        im.height, im.width = int(arr.shape[0]), int(arr.shape[1])
        im.encoding = encoding
        im.is_bigendian = 0
        im.step = int(arr.strides[0])
        im.data = np.ascontiguousarray(arr).tobytes()
        return im

    def info(stamp: object) -> CameraInfo:
        ci = CameraInfo()
        ci.header.stamp, ci.header.frame_id = stamp, "camera_color_optical_frame"
        ci.width, ci.height = k.width, k.height
        ci.k = [k.fx, 0.0, k.cx, 0.0, k.fy, k.cy, 0.0, 0.0, 1.0]
        ci.p = [k.fx, 0.0, k.cx, 0.0, 0.0, k.fy, k.cy, 0.0, 0.0, 0.0, 1.0, 0.0]
        ci.distortion_model = "plumb_bob"
        ci.d = [0.0] * 5
        return ci

    time.sleep(2.0)  # discovery
    tf_static.publish(
        TFMessage(
            transforms=[
                transform("base_link", "camera_color_optical_frame", t_base_opt, node.get_clock().now().to_msg())
            ]
        )
    )
    target = (2.3, -0.3, 0.7)
    sent = 0
    for i in range(n):
        a = -0.6 + 1.2 * i / max(1, n - 1)
        eye = (2.3 - 1.8 * math.cos(a), -0.3 - 1.8 * math.sin(a), 1.4)
        cam = look_at(eye, target)
        rgb, depth, ids = scene.render(cam)
        t_map_base = cam.matrix @ np.linalg.inv(t_base_opt)
        stamp = node.get_clock().now().to_msg()
        pubs["tf"].publish(TFMessage(transforms=[transform("map", "base_link", t_map_base, stamp)]))
        pubs["info"].publish(info(stamp))
        pubs["color"].publish(image(rgb, "rgb8", stamp))
        if i % 2:
            pubs["depth"].publish(image(np.round(depth * 1000).astype(np.uint16), "16UC1", stamp))
        else:
            pubs["depth"].publish(image(depth, "32FC1", stamp))
        pubs["inst"].publish(image(ids.astype(np.int32), "32SC1", stamp))
        present = sorted(set(np.unique(ids).tolist()) - {0})
        lab = InstanceLabels()
        lab.header.stamp = stamp
        lab.ids = [int(j) for j in present]
        lab.labels = [b.label for b in scene.boxes if b.instance_id in present]
        lab.scores = [1.0] * len(present)
        pubs["labels"].publish(lab)
        sent += 1
        time.sleep(0.25)
    pubs["events"].publish(String(data="instruction: bring me the red mug"))
    out("frames_sent", n=sent)

    # -- bad messages: each must be counted and must not kill the node -------------------
    bad_cam = look_at((0.0, 0.0, 1.5), target)
    rgb, depth, ids = scene.render(bad_cam)
    now = node.get_clock().now().to_msg()

    def publish_set(
        color: Image, dep: Image, stamp: object, labels_for: list[int] | None = None, with_tf: bool = True
    ) -> None:
        # a valid transform for the stamp, so each set fails for its own reason only
        t_map_base = bad_cam.matrix @ np.linalg.inv(t_base_opt)
        if with_tf:
            pubs["tf"].publish(TFMessage(transforms=[transform("map", "base_link", t_map_base, stamp)]))
        pubs["info"].publish(info(stamp))
        pubs["color"].publish(color)
        pubs["depth"].publish(dep)
        pubs["inst"].publish(image(ids.astype(np.int32), "32SC1", stamp))
        lab = InstanceLabels()
        lab.header.stamp = stamp
        present = sorted(set(np.unique(ids).tolist()) - {0}) if labels_for is None else labels_for
        lab.ids = [int(j) for j in present]
        lab.labels = [b.label for b in scene.boxes if b.instance_id in present][: len(present)]
        lab.scores = [1.0] * len(lab.ids)
        pubs["labels"].publish(lab)
        time.sleep(0.4)

    # wrong encoding
    bad = image(rgb, "rgb8", now)
    bad.encoding = "yuv422_weird"
    publish_set(bad, image(depth, "32FC1", now), now)
    # size mismatch: step/data shorter than height*width says
    now = node.get_clock().now().to_msg()
    short = image(depth, "32FC1", now)
    short.data = short.data[: len(short.data) // 2]
    publish_set(image(rgb, "rgb8", now), short, now)
    # stale stamp: an hour old
    old = node.get_clock().now().to_msg()
    old.sec -= 3600
    publish_set(image(rgb, "rgb8", old), image(depth, "32FC1", old), old)
    # instance ids without labels
    now = node.get_clock().now().to_msg()
    publish_set(image(rgb, "rgb8", now), image(depth, "32FC1", now), now, labels_for=[])
    # missing transform: /tf never covers this stamp (2 s ahead, no transform published for it)
    ahead = node.get_clock().now().to_msg()
    ahead.sec += 2
    publish_set(image(rgb, "rgb8", ahead), image(depth, "32FC1", ahead), ahead, with_tf=False)
    time.sleep(1.5)
    out("bad_sent", n=5)
    time.sleep(1.0)
    node.destroy_node()
    rclpy.shutdown()
    return 0


def probe(goal: str) -> int:
    import rclpy
    from diagnostic_msgs.msg import DiagnosticArray
    from geometry_msgs.msg import PoseStamped
    from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
    from robomem_interfaces.srv import Query
    from std_msgs.msg import String
    from visualization_msgs.msg import MarkerArray

    rclpy.init()
    node = rclpy.create_node("robomem_test_probe")
    latched = QoSProfile(depth=1, durability=DurabilityPolicy.TRANSIENT_LOCAL, reliability=ReliabilityPolicy.RELIABLE)
    got: dict[str, object] = {}

    def on_markers(m: MarkerArray) -> None:
        labels = sorted({mk.text for mk in m.markers if mk.ns == "labels"})
        got["markers"] = labels
        out("markers", labels=labels, n=len(m.markers))

    def on_diag(m: DiagnosticArray) -> None:
        for st in m.status:
            if st.name == "robomem_memory: memory":  # the node's name (with its namespace, if any)
                got["diag"] = {kv.key: kv.value for kv in st.values}

    def on_pose(m: PoseStamped) -> None:
        got["pose"] = (m.pose.position.x, m.pose.position.y, m.header.frame_id)
        out("goal_pose", x=m.pose.position.x, y=m.pose.position.y, frame=m.header.frame_id)

    def on_ctx(m: String) -> None:
        got["context"] = True
        out("context", json=m.data)

    node.create_subscription(MarkerArray, "/robomem/scene_graph", on_markers, latched)
    node.create_subscription(DiagnosticArray, "/diagnostics", on_diag, 10)
    node.create_subscription(PoseStamped, "/goal_pose", on_pose, 10)
    node.create_subscription(String, "/robomem/context", on_ctx, 10)
    goal_pub = node.create_publisher(String, "/robomem/goal", 10)
    client = node.create_client(Query, "/robomem/query")
    t0 = time.monotonic()
    while time.monotonic() - t0 < TIMEOUT_S and "markers" not in got:
        rclpy.spin_once(node, timeout_sec=0.2)
    # goal through the planner node
    t1 = time.monotonic()
    while time.monotonic() - t1 < 20 and "pose" not in got:
        goal_pub.publish(String(data=goal))
        end = time.monotonic() + 1.5
        while time.monotonic() < end and "pose" not in got:
            rclpy.spin_once(node, timeout_sec=0.1)
    # the service directly
    if client.wait_for_service(timeout_sec=10.0):
        asks = [
            (goal, "locate"),
            (goal, "last_seen"),
            (goal, "bogus"),
            ("the unicorn", "locate"),
            ("unicorn", "last_seen"),
        ]
        for asked, mode in asks:
            req = Query.Request()
            req.goal, req.mode, req.k = asked, mode, 5
            fut = client.call_async(req)
            rclpy.spin_until_future_complete(node, fut, timeout_sec=10.0)
            r = fut.result()
            if r is not None:
                out(
                    "query",
                    goal=asked,
                    mode=mode,
                    ok=r.ok,
                    error=r.error,
                    has_goal_pose=r.has_goal_pose,
                    x=r.goal_pose.pose.position.x,
                    y=r.goal_pose.pose.position.y,
                    confidence=r.confidence,
                    json=r.json,
                )
    t2 = time.monotonic()
    while time.monotonic() - t2 < 3.0:
        rclpy.spin_once(node, timeout_sec=0.2)
    out("diagnostics", values=got.get("diag", {}))
    node.destroy_node()
    rclpy.shutdown()
    return 0


if __name__ == "__main__":
    if sys.argv[1] == "stream":
        raise SystemExit(stream(int(sys.argv[2])))
    raise SystemExit(probe(sys.argv[2]))
