"""The robomem planner node: a goal in, the retrieved context and a goal pose out.

Subscribes to a goal (std_msgs/String, e.g. "bring me the red mug"), asks the
memory node's Query service (robomem_interfaces/srv/Query, mode "locate"), and
publishes the answer: the context as JSON (std_msgs/String: entries with times,
places, score parts, and the goal proposal) and, when memory knows where the
object is, a geometry_msgs/PoseStamped on the goal topic a navigation stack such
as Nav2 consumes (default /goal_pose).  When memory knows nothing it says so in
the context and publishes no pose (the proposal is "explore").

The planner logic itself (robomem.planning.planner.Planner) runs next to the store in the
memory node; this node stays thin so it can run anywhere on the robot's network.
"""

from __future__ import annotations

import json
import signal
from typing import Any

from robomem.nodes.parameters import descriptor, set_parameters_callback
from robomem.nodes.settings import NodeSettings, description, unflatten


def _run(argv: list[str] | None = None) -> int:
    import rclpy
    from geometry_msgs.msg import PoseStamped
    from rcl_interfaces.msg import ParameterDescriptor
    from rclpy.executors import ExternalShutdownException
    from rclpy.node import Node
    from robomem_interfaces.srv import Query
    from std_msgs.msg import String

    rclpy.init(args=argv)
    node = Node("robomem_planner")
    node.declare_parameter("config_file", "", ParameterDescriptor(description=description("config_file")))
    loaded = NodeSettings.load(node.get_parameter("config_file").value or None)
    base = loaded.node
    names = {
        "node.goal_topic": base.goal_topic,
        "node.goal_pose_topic": base.goal_pose_topic,
        "node.context_topic": base.context_topic,
        "node.query_service": base.query_service,
        "node.k": base.k,
    }
    p = {}
    for name, default in names.items():
        node.declare_parameter(name, default, descriptor(name, default))  # names read-only, k live, ranges
        p[name] = node.get_parameter(name).value
    log = node.get_logger()
    current = {"s": unflatten(p, loaded)}  # checked by the config rules, like the memory node's

    def put(new: NodeSettings) -> None:
        current["s"] = new
        p["node.k"] = new.node.k

    node.add_on_set_parameters_callback(set_parameters_callback(lambda: current["s"], put, log))
    client = node.create_client(Query, p["node.query_service"])
    pose_pub = node.create_publisher(PoseStamped, p["node.goal_pose_topic"], 10)
    ctx_pub = node.create_publisher(String, p["node.context_topic"], 10)
    stats = {"goals": 0, "answered": 0, "failed": 0}

    def on_goal(msg: Any) -> None:
        goal = msg.data.strip()
        stats["goals"] += 1
        if not goal:
            log.warning("empty goal ignored")
            stats["failed"] += 1
            return
        if not client.service_is_ready():
            log.warning(f"memory node's service {p['node.query_service']} is not available; goal {goal!r} dropped")
            stats["failed"] += 1
            return
        req = Query.Request()
        req.goal, req.mode, req.k = goal, "locate", int(p["node.k"])
        fut = client.call_async(req)

        def done(f: Any) -> None:
            try:
                res = f.result()
            except Exception as exc:
                log.error(f"query for {goal!r} failed: {exc}")
                stats["failed"] += 1
                return
            if not res.ok:
                log.warning(f"memory could not answer {goal!r}: {res.error}")
                ctx_pub.publish(String(data=json.dumps({"goal": goal, "ok": False, "error": res.error})))
                stats["failed"] += 1
                return
            stats["answered"] += 1
            ctx_pub.publish(String(data=res.json))
            if res.has_goal_pose:
                pose_pub.publish(res.goal_pose)
                pp = res.goal_pose.pose.position
                log.info(f"goal {goal!r}: go to ({pp.x:.2f}, {pp.y:.2f}) confidence {res.confidence:.2f}")
            else:
                log.info(f"goal {goal!r}: memory knows no place for it; explore")

        fut.add_done_callback(done)

    node.create_subscription(String, p["node.goal_topic"], on_goal, 10)
    log.info("robomem planner node ready")
    try:
        rclpy.spin(node)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        node.destroy_node()
        rclpy.try_shutdown()
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run the node; a bad parameter or config ends it with one fatal line (exit 2)."""
    import sys

    from rclpy.exceptions import ParameterException

    from robomem.errors import ConfigError

    try:
        return _run(argv)
    except (ConfigError, ParameterException) as exc:
        print(f"[FATAL] [robomem_planner]: {exc}", file=sys.stderr, flush=True)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
