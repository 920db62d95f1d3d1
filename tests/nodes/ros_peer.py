"""One side of the two-process ROS 2 check in test_ros_env.py (run as a script, not collected).

    python ros_peer.py server   # Query service + subscribers; prints one JSON line per event
    python ros_peer.py client   # publishes one message of each type, calls the service

Every line printed is JSON: {"event": ..., ...}. Both sides give up after TIMEOUT_S.
"""

from __future__ import annotations

import json
import sys
import time

TIMEOUT_S = 45.0
NS = "/robomem_test"


def out(event: str, **kw: object) -> None:
    print(json.dumps({"event": event, **kw}), flush=True)


def server() -> int:
    import rclpy
    from robomem_interfaces.msg import InstanceLabels
    from robomem_interfaces.srv import Query
    from tf2_msgs.msg import TFMessage
    from vision_msgs.msg import Detection2DArray

    rclpy.init()
    node = rclpy.create_node("robomem_test_server")
    got: dict[str, object] = {}

    def on_query(req: Query.Request, res: Query.Response) -> Query.Response:
        res.ok = True
        res.json = json.dumps({"goal": req.goal, "mode": req.mode, "k": req.k})
        res.goal_pose.header.frame_id = "map"
        res.goal_pose.pose.position.x = float(req.k)
        res.has_goal_pose = True
        res.confidence = 0.5
        got["query"] = req.goal
        out("query", goal=req.goal, mode=req.mode, k=req.k)
        return res

    def on_labels(m: InstanceLabels) -> None:
        if "labels" not in got:
            got["labels"] = True
            out(
                "labels",
                frame_id=m.header.frame_id,
                sec=m.header.stamp.sec,
                ids=list(m.ids),
                labels=list(m.labels),
                scores=[round(float(s), 4) for s in m.scores],
            )

    def on_tf(m: TFMessage) -> None:
        if "tf" not in got:
            got["tf"] = True
            t = m.transforms[0]
            out("tf", parent=t.header.frame_id, child=t.child_frame_id, x=t.transform.translation.x)

    def on_det(m: Detection2DArray) -> None:
        if "det" not in got:
            got["det"] = True
            d = m.detections[0]
            out(
                "det",
                class_id=d.results[0].hypothesis.class_id,
                score=d.results[0].hypothesis.score,
                cx=d.bbox.center.position.x,
                id=d.id,
            )

    node.create_service(Query, f"{NS}/query", on_query)
    node.create_subscription(InstanceLabels, f"{NS}/labels", on_labels, 10)
    node.create_subscription(TFMessage, f"{NS}/tf", on_tf, 10)
    node.create_subscription(Detection2DArray, f"{NS}/detections", on_det, 10)
    out("ready")
    deadline = time.monotonic() + TIMEOUT_S
    while time.monotonic() < deadline and len(got) < 4:
        rclpy.spin_once(node, timeout_sec=0.1)
    # let the service response go out before tearing down
    end = time.monotonic() + 0.5
    while time.monotonic() < end:
        rclpy.spin_once(node, timeout_sec=0.05)
    out("done", received=sorted(got))
    node.destroy_node()
    rclpy.shutdown()
    return 0 if len(got) == 4 else 1


def client() -> int:
    import rclpy
    from geometry_msgs.msg import TransformStamped
    from robomem_interfaces.msg import InstanceLabels
    from robomem_interfaces.srv import Query
    from tf2_msgs.msg import TFMessage
    from vision_msgs.msg import Detection2D, Detection2DArray, ObjectHypothesisWithPose

    rclpy.init()
    node = rclpy.create_node("robomem_test_client")
    pubs = {
        "labels": node.create_publisher(InstanceLabels, f"{NS}/labels", 10),
        "tf": node.create_publisher(TFMessage, f"{NS}/tf", 10),
        "detections": node.create_publisher(Detection2DArray, f"{NS}/detections", 10),
    }
    labels = InstanceLabels(ids=[3, 7], labels=["mug", "bowl"], scores=[0.25, 0.75])
    labels.header.frame_id = "camera_optical_frame"
    labels.header.stamp.sec = 42
    tr = TransformStamped()
    tr.header.frame_id, tr.child_frame_id = "map", "odom"
    tr.transform.translation.x = 1.5
    tf = TFMessage(transforms=[tr])
    hyp = ObjectHypothesisWithPose()
    hyp.hypothesis.class_id, hyp.hypothesis.score = "mug", 0.9
    det = Detection2D(results=[hyp], id="track-1")
    det.bbox.center.position.x = 12.5
    dets = Detection2DArray(detections=[det])
    msgs = {"labels": labels, "tf": tf, "detections": dets}

    cli = node.create_client(Query, f"{NS}/query")
    deadline = time.monotonic() + TIMEOUT_S
    if not cli.wait_for_service(timeout_sec=TIMEOUT_S):
        out("error", what="query service did not appear")
        return 1
    # publish until the server's subscriptions are matched, then a few more times (reliable QoS)
    while time.monotonic() < deadline and any(p.get_subscription_count() == 0 for p in pubs.values()):
        rclpy.spin_once(node, timeout_sec=0.05)
    for _ in range(5):
        for k, p in pubs.items():
            p.publish(msgs[k])
        rclpy.spin_once(node, timeout_sec=0.05)
    fut = cli.call_async(Query.Request(goal="red mug", mode="locate", k=3))
    rclpy.spin_until_future_complete(node, fut, timeout_sec=max(1.0, deadline - time.monotonic()))
    res = fut.result()
    if res is None:
        out("error", what="no response from the query service")
        return 1
    out(
        "response",
        ok=res.ok,
        error=res.error,
        json=res.json,
        frame=res.goal_pose.header.frame_id,
        x=res.goal_pose.pose.position.x,
        has_goal_pose=res.has_goal_pose,
        confidence=res.confidence,
    )
    node.destroy_node()
    rclpy.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(server() if sys.argv[1:] == ["server"] else client())
