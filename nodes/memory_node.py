"""The robomem memory node: ROS 2 topics in, Memory.update, scene graph and answers out.

Subscribes (topics from config/robomem.yaml ``ros.topics`` or parameters):
  colour, depth (32FC1 metres or 16UC1 millimetres), instance-id image +
  robomem_interfaces/InstanceLabels (or vision_msgs/Detection2DArray), all with
  sensor-data QoS and grouped by an approximate-time synchroniser; camera_info;
  /tf and /tf_static (map -> camera optical frame, interpolated) or a pose topic;
  text events (std_msgs/String, "kind: text" or JSON {"kind", "text"}).
Publishes: the scene graph as visualization_msgs/MarkerArray (reliable +
  transient-local), diagnostic_msgs/DiagnosticArray (update rate, queue, dropped
  and rejected messages by reason).
Serves: robomem_interfaces/srv/Query (context / locate / last_seen / facts; "config": the
  MemoryConfig the open Memory runs with, as JSON, e.g. to check a ``ros2 param set``).

The whole memory runs in this one process: one Memory, whose update runs the four
submodules in parallel on a thread pool and commits them in one transaction.  One
node per submodule would need a distributed transaction per frame and would ship
every preprocessed frame four times; see docs/architecture.md.

A bad message never stops the node: it is counted under a reason and logged
(throttled), and nothing stored is touched.
"""

from __future__ import annotations

import dataclasses
import json
import queue
import signal
import threading
import time
from collections import Counter
from typing import Any

from robomem.errors import OutOfOrderError
from robomem.io.assembler import AssemblerSettings, ObservationAssembler, Rejected
from robomem.io.ros_io import parse_event
from robomem.io.rosmsg import occupancy_grid_values, stamp_to_seconds
from robomem.memory import Memory
from robomem.nodes.diagnostics import Counts, DiagnosticsWindow
from robomem.nodes.markers import scene_graph_markers
from robomem.nodes.parameters import descriptor, set_parameters_callback
from robomem.nodes.settings import NodeSettings, flatten, unflatten
from robomem.observation import Observation, Pose
from robomem.planning.context import Goal, RobotState
from robomem.planning.grid import GridDistance, OccupancyGrid
from robomem.planning.planner import Planner

# The planner's map cells (m): a map server's finer grid is pooled to this.  Ranking places needs no finer
# path, and the planner's Dijkstra field (pure Python, per query when the robot moved) costs per cell:
# measured on a 50 x 50 m map at 5 cm: 2.4 s a field, 0.64 s pooled to 10 cm (3.7x less; machine loaded).
MAP_CELL_M = 0.1


def answer_query(memory: Memory, planner: Planner, goal: str, mode: str, k: int, pose: Pose | None) -> dict[str, Any]:
    """The Query service's answer as plain data (unit-tested without ROS).

    Returns {"ok", "error", "json", "goal_pose": (x, y, yaw) | None, "confidence"}.
    """
    mode = (mode or "context").strip()
    if mode == "config":  # what the open Memory runs with (after any live parameter change)
        payload = {"mode": mode, "memory": dataclasses.asdict(memory.config)}
        return {"ok": True, "error": "", "json": json.dumps(payload), "goal_pose": None, "confidence": 0.0}
    if mode not in ("context", "locate", "last_seen", "facts"):
        return {
            "ok": False,
            "error": f"unknown mode {mode!r} (context, locate, last_seen, facts, config)",
            "json": "",
            "goal_pose": None,
            "confidence": 0.0,
        }
    try:
        g = Goal.of(goal)
    except ValueError as exc:
        return {"ok": False, "error": str(exc), "json": "", "goal_pose": None, "confidence": 0.0}
    state = RobotState.from_pose(pose) if pose is not None else RobotState((0.0, 0.0, 0.0))
    if mode == "context":
        ctx = planner.context(g, state, k=k)
        payload = ctx.to_dict()
        payload["mode"] = mode
        return {
            "ok": True,
            "error": "",
            "json": json.dumps(payload),
            "goal_pose": None,
            "confidence": float(ctx.best.confidence),
        }
    # locate / last_seen / facts: the one question engine; a name memory has never seen abstains
    # (ok, no goal pose, confidence 0, "status": "not_seen" in the JSON).
    from robomem.qa.engine import QuestionEngine
    from robomem.qa.router import goal_target

    eng = QuestionEngine(memory)
    target = goal_target(g.label or g.text or "")
    try:
        if mode == "locate":
            a = eng.where_now(target)
        elif mode == "last_seen":
            a = eng.last_seen(target, k=max(1, k))
        else:
            a = eng.facts(target, k=max(1, k))
    except ValueError as exc:
        return {"ok": False, "error": str(exc), "json": "", "goal_pose": None, "confidence": 0.0}
    payload = a.to_dict()
    payload.update(goal=g.describe, mode=mode)
    gp = None
    best = a.best
    if mode != "facts" and a.status == "answered" and best is not None and best.position is not None:
        if mode == "locate" and best.view_pose is not None:
            gp = tuple(float(v) for v in best.view_pose)
        else:
            gp = (best.position[0], best.position[1], _yaw_towards(state, best.position[0], best.position[1]))
    return {"ok": True, "error": "", "json": json.dumps(payload), "goal_pose": gp, "confidence": a.confidence}


def _yaw_towards(state: RobotState, x: float, y: float) -> float:
    import math

    return math.atan2(y - state.position[1], x - state.position[0])


class MemoryNodeCore:
    """Everything the node does that does not need rclpy: decoding, checks, counting, updating.

    The ROS node feeds it messages; tests can drive it directly.
    """

    def __init__(self, settings: NodeSettings, memory: Memory, log: Any, now: Any) -> None:
        self.s = settings
        self.memory = memory
        self.planner = Planner(memory, k=settings.node.k)
        self.log = log
        self.now = now  # () -> float seconds, the node clock (sim time when use_sim_time)
        io = settings.io
        self.assembler = ObservationAssembler(
            AssemblerSettings.from_io(
                io, tf_wait=settings.node.tf_wait, max_pending=settings.node.max_pending, source="ros"
            ),
            now,
        )
        self.rejected: Counter[str] = Counter()
        self.dropped = 0
        self.updates = 0
        self.last_update_ms = 0.0
        self.last_pose: Pose | None = None
        self.update_times: list[float] = []
        self.queue: queue.Queue[tuple[str, Any]] = queue.Queue()
        self._last_log: dict[str, float] = {}
        self.dirty = threading.Event()
        self.received: Counter[str] = Counter()
        self.map: OccupancyGrid | None = None  # the latest map: the planner's distance is path length on it

    @property
    def streams(self) -> tuple[str, ...]:
        """The synchronised camera streams (depth first)."""
        return self.assembler.settings.streams

    @property
    def unsynced(self) -> int:
        """Camera messages the synchroniser discarded unmatched."""
        return self.assembler.unsynced

    @property
    def unlabeled(self) -> int:
        """Instance ids without a label: cleared to "no instance", the frame kept."""
        return self.assembler.unlabeled

    # -- counting --------------------------------------------------------------------
    def reject(self, reason: str, detail: str) -> None:
        self.rejected[reason] += 1
        t = time.monotonic()
        if t - self._last_log.get(reason, -1e9) > 5.0:  # throttled per reason
            self._last_log[reason] = t
            self.log.warning(f"rejected message ({reason}): {detail} [{self.rejected[reason]} so far]")

    def enqueue(self, item: tuple[str, Any]) -> None:
        while self.queue.qsize() >= self.s.node.update_queue:
            try:
                self.queue.get_nowait()
                self.dropped += 1
            except queue.Empty:
                break
        self.queue.put(item)

    # -- inputs: everything goes through the shared ObservationAssembler ----------------------
    def take(self, outcomes: list[Observation | Rejected]) -> None:
        """Queue assembled observations for the update worker; count rejected frames by reason."""
        for o in outcomes:
            if isinstance(o, Observation):
                self.enqueue(("obs", o))
            else:
                self.reject(o.reason, f"{o.where + ': ' if o.where else ''}{o.detail}")

    def on_tf(self, msg: Any, static: bool) -> None:
        try:
            outcomes = self.assembler.add_tf(msg, static=static)
        except (ValueError, TypeError, AttributeError) as exc:
            self.reject("bad_transform", str(exc))
            return
        self.take(outcomes)

    def on_pose(self, msg: Any) -> None:
        try:
            child = self.s.io.pose_child_frame or getattr(msg, "child_frame_id", "") or self.s.io.camera_frame
            parent = msg.header.frame_id or self.s.io.map_frame
            outcomes = self.assembler.add_pose(msg, stamp_to_seconds(msg.header.stamp), parent, child)
        except (ValueError, TypeError, AttributeError) as exc:
            self.reject("bad_pose", str(exc))
            return
        self.take(outcomes)

    def on_camera_info(self, msg: Any) -> None:
        try:
            outcomes = self.assembler.add_camera_info(msg)
        except (ValueError, TypeError, AttributeError) as exc:
            self.reject("bad_camera_info", str(exc))
            return
        self.take(outcomes)

    def on_map(self, msg: Any) -> None:
        """A ``nav_msgs/OccupancyGrid``: from now on the planner ranks places by path length on it (the same
        rule as in the simulator, :class:`robomem.planning.grid.GridDistance`); a bad map is counted and the
        last good one kept."""
        self.received["map"] += 1
        try:
            values, origin, resolution = occupancy_grid_values(msg)
            grid = OccupancyGrid.from_occupancy(
                values, origin, resolution, self.s.node.robot_radius, min_resolution=MAP_CELL_M
            )
        except (ValueError, TypeError, AttributeError) as exc:
            self.reject("bad_map", str(exc))
            return
        self.map = grid
        if not isinstance(self.planner.distance, GridDistance):
            self.planner.distance = GridDistance(lambda: self.map, max_cached=8)  # type: ignore[arg-type,return-value]
        ny, nx = grid.blocked.shape
        self.log.info(f"map {nx} x {ny} cells at {grid.resolution:.2f} m: the planner ranks places by path length")

    def on_event(self, msg: Any) -> None:
        try:
            self.enqueue(("event", parse_event(msg.data, self.now(), self.s.io.robot_id)))
        except ValueError as exc:
            self.reject("bad_event", str(exc))

    def fresh(self, stamp: float, what: str) -> bool:
        """False (and counted as stale_stamp) when a message is older than node.max_stamp_age."""
        age = self.now() - stamp
        if age > self.s.node.max_stamp_age:
            self.reject("stale_stamp", f"{what} at {stamp:.3f} is {age:.1f} s old (max {self.s.node.max_stamp_age} s)")
            return False
        return True

    def on_message(self, stream: str, msg: Any) -> None:
        """One camera message (a stream of :attr:`streams`): stale ones are rejected, the rest are
        synchronised, decoded and wait (at most node.tf_wait s) for camera info and /tf."""
        self.received[stream] += 1
        try:
            stamp = stamp_to_seconds(msg.header.stamp)
        except (ValueError, TypeError, AttributeError) as exc:
            self.reject("bad_stamp", f"{stream}: {exc}")
            return
        if not self.fresh(stamp, stream):
            return
        self.take(self.assembler.add(stream, stamp, msg))

    def resolve_pending(self, final: bool = False) -> None:
        """Frames that waited long enough for /tf (all of them with ``final``) leave now."""
        self.take(self.assembler.poll(final=final))

    # -- the worker ------------------------------------------------------------------
    def process(self, item: tuple[str, Any]) -> None:
        kind, payload = item
        try:
            if kind == "event":
                self.memory.add_event(payload)
                return
            t0 = time.perf_counter()
            self.memory.update(payload)
            self.last_update_ms = (time.perf_counter() - t0) * 1e3
            self.updates += 1
            self.last_pose = payload.pose
            self.update_times.append(time.monotonic())
            self.update_times = self.update_times[-50:]
            self.dirty.set()
        except OutOfOrderError as exc:
            self.reject("out_of_order", str(exc))
        except ValueError as exc:
            self.reject("invalid_observation", str(exc))
        except Exception as exc:  # a failed update leaves the store as it was; keep running
            self.reject("update_failed", f"{type(exc).__name__}: {exc}")

    def update_rate(self) -> float:
        ts = self.update_times
        if len(ts) < 2 or time.monotonic() - ts[-1] > 5.0:
            return 0.0
        return (len(ts) - 1) / max(1e-6, ts[-1] - ts[0])

    def diagnostics(self) -> dict[str, str]:
        d = {
            "updates": str(self.updates),
            "update_rate_hz": f"{self.update_rate():.2f}",
            "queue": str(self.queue.qsize()),
            "dropped_queue_full": str(self.dropped),
            "rejected_total": str(sum(self.rejected.values())),
            "last_update_ms": f"{self.last_update_ms:.1f}",
            "objects": str(len(self.memory.objects())),
            "store": str(self.memory.path),
        }
        d["dropped_unsynced"] = str(self.unsynced)
        d["unlabeled_instances"] = str(self.unlabeled)
        d["pending_tf"] = str(self.assembler.waiting)
        d["map"] = (
            "none (straight-line distance)" if self.map is None else "x".join(map(str, self.map.blocked.shape[::-1]))
        )
        for stream, n in sorted(self.received.items()):
            d[f"received_{stream}"] = str(n)
        for reason, n in sorted(self.rejected.items()):
            d[f"rejected_{reason}"] = str(n)
        return d


def _run_node(argv: list[str] | None = None) -> int:  # noqa: C901 - wiring only
    import rclpy
    from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
    from geometry_msgs.msg import Point
    from rclpy.executors import ExternalShutdownException
    from rclpy.node import Node
    from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy, qos_profile_sensor_data
    from robomem_interfaces.msg import InstanceLabels
    from robomem_interfaces.srv import Query as QuerySrv
    from sensor_msgs.msg import CameraInfo, Image
    from std_msgs.msg import String
    from tf2_msgs.msg import TFMessage
    from visualization_msgs.msg import Marker, MarkerArray

    rclpy.init(args=argv)
    node = Node("robomem_memory")
    node.declare_parameter("config_file", "", descriptor("config_file", ""))
    base = NodeSettings.load(node.get_parameter("config_file").value or None)
    values = {}
    for name, default in flatten(base).items():
        if name == "config_file":
            continue
        node.declare_parameter(name, default, descriptor(name, default))  # read-only / range / how it changes
        values[name] = node.get_parameter(name).value
    values["config_file"] = base.config_file
    settings = unflatten(values, base)
    log = node.get_logger()
    memory = Memory.open(settings.store_path, settings.memory)
    log.info(f"robomem memory node: store {settings.store_path} ({len(memory.objects())} objects)")
    fleet = None
    if settings.memory.fleet.url:  # memory.fleet.url: also deliver every committed frame to the fleet memory
        from robomem.fleet.sync import FleetSync
        from robomem.fleet.url import redact

        fleet = FleetSync(memory, settings.memory.fleet)
        fleet.start()  # its own thread and connection; an unreachable server never blocks an update
        log.info(f"robomem memory node: fleet {redact(settings.memory.fleet.url)} as {settings.memory.fleet.robot_id}")
    core = MemoryNodeCore(settings, memory, log, lambda: node.get_clock().now().nanoseconds * 1e-9)

    timers: dict[str, Any] = {}

    def put_settings(new: NodeSettings) -> None:
        """Install live parameters: the memory's thresholds first (it refuses, applying nothing, with a
        ConfigError), then the assembler's waits, the timers' periods and the default k."""
        old = core.s
        if new.memory != old.memory:
            changed = memory.reconfigure(new.memory)
            log.info(f"memory reconfigured: {', '.join(changed)}")
        if (new.node.tf_wait, new.node.max_pending) != (old.node.tf_wait, old.node.max_pending):
            core.assembler.set_waits(new.node.tf_wait, new.node.max_pending)
        for name in ("marker_period", "diagnostics_period"):
            if getattr(new.node, name) != getattr(old.node, name) and name in timers:
                timers[name].timer_period_ns = int(getattr(new.node, name) * 1e9)
        core.planner.k = new.node.k
        core.s = new

    # ros2 param set: applied live where that is safe, refused with the reason otherwise
    node.add_on_set_parameters_callback(set_parameters_callback(lambda: core.s, put_settings, log))

    t = settings.io.topics

    def feeder(stream: str):  # type: ignore[no-untyped-def]
        return lambda msg: core.on_message(stream, msg)

    sensor = qos_profile_sensor_data if settings.node.sensor_qos == "sensor_data" else 10
    for stream in core.streams:
        if stream == "detections":
            from vision_msgs.msg import Detection2DArray as msg_type
        else:
            msg_type = InstanceLabels if stream == "labels" else Image
        node.create_subscription(msg_type, getattr(t, stream), feeder(stream), sensor)
    node.create_subscription(CameraInfo, t.camera_info, core.on_camera_info, sensor)
    static_qos = QoSProfile(
        depth=100, durability=DurabilityPolicy.TRANSIENT_LOCAL, reliability=ReliabilityPolicy.RELIABLE
    )
    node.create_subscription(TFMessage, t.tf or "/tf", lambda m: core.on_tf(m, False), 100)
    node.create_subscription(TFMessage, t.tf_static or "/tf_static", lambda m: core.on_tf(m, True), static_qos)
    if settings.io.pose_source == "topic" and t.pose:
        if settings.node.pose_type == "odometry":
            from nav_msgs.msg import Odometry as PoseType
        else:
            from geometry_msgs.msg import PoseStamped as PoseType
        node.create_subscription(PoseType, t.pose, core.on_pose, 50)
    if t.events:
        node.create_subscription(String, t.events, core.on_event, 50)
    if settings.node.map_topic:
        from nav_msgs.msg import OccupancyGrid as MapMsg

        map_qos = QoSProfile(
            depth=1, durability=DurabilityPolicy.TRANSIENT_LOCAL, reliability=ReliabilityPolicy.RELIABLE
        )
        node.create_subscription(MapMsg, settings.node.map_topic, core.on_map, map_qos)

    latched = QoSProfile(depth=1, durability=DurabilityPolicy.TRANSIENT_LOCAL, reliability=ReliabilityPolicy.RELIABLE)
    markers_pub = node.create_publisher(MarkerArray, settings.node.markers_topic, latched)
    diag_pub = node.create_publisher(DiagnosticArray, settings.node.diagnostics_topic, 10)

    def publish_markers() -> None:
        if not core.dirty.is_set():
            return
        core.dirty.clear()
        try:
            arr = MarkerArray()
            clear = Marker()
            clear.action = Marker.DELETEALL
            arr.markers.append(clear)
            stamp = node.get_clock().now().to_msg()
            for spec in scene_graph_markers(memory.spatial.scene_graph()):
                m = Marker()
                m.header.frame_id = settings.io.map_frame
                m.header.stamp = stamp
                m.ns, m.id, m.type, m.action = spec.ns, spec.id, spec.type, Marker.ADD
                m.pose.position.x, m.pose.position.y, m.pose.position.z = spec.position
                m.pose.orientation.w = 1.0
                m.scale.x, m.scale.y, m.scale.z = spec.scale
                m.color.r, m.color.g, m.color.b, m.color.a = spec.colour
                m.text = spec.text
                m.points = [Point(x=float(p[0]), y=float(p[1]), z=float(p[2])) for p in spec.points]
                arr.markers.append(m)
            markers_pub.publish(arr)
        except Exception as exc:
            core.reject("markers_failed", f"{type(exc).__name__}: {exc}")

    diag_window = DiagnosticsWindow(window=max(10.0, 5 * settings.node.diagnostics_period))

    def publish_diagnostics() -> None:
        core.resolve_pending()
        arr = DiagnosticArray()
        arr.header.stamp = node.get_clock().now().to_msg()
        st = DiagnosticStatus()
        st.name = f"{node.get_fully_qualified_name().lstrip('/')}: memory"  # robot1/robomem_memory: memory
        st.hardware_id = settings.io.robot_id  # the robot this memory is of (the store is in the values)
        received = sum(core.received[s] for s in core.streams)
        counts = Counts(time.monotonic(), received, sum(core.rejected.values()), core.dropped, core.updates)
        topics = [getattr(t, s) for s in core.streams]
        level, st.message = diag_window.status(counts, {n: node.count_publishers(n) for n in topics})
        st.level = bytes([level])
        st.values = [KeyValue(key=k, value=v) for k, v in core.diagnostics().items()]
        arr.status = [st]
        diag_pub.publish(arr)

    timers["marker_period"] = node.create_timer(settings.node.marker_period, publish_markers)
    node.create_timer(0.2, core.resolve_pending)
    timers["diagnostics_period"] = node.create_timer(settings.node.diagnostics_period, publish_diagnostics)

    def on_query(req: Any, res: Any) -> Any:
        try:
            a = answer_query(
                memory, core.planner, req.goal, req.mode, req.k if req.k > 0 else core.s.node.k, core.last_pose
            )
        except Exception as exc:
            a = {"ok": False, "error": f"{type(exc).__name__}: {exc}", "json": "", "goal_pose": None, "confidence": 0.0}
        res.ok, res.error, res.json, res.confidence = a["ok"], a["error"], a["json"], float(a["confidence"])
        res.has_goal_pose = a["goal_pose"] is not None
        res.goal_pose.header.frame_id = settings.io.map_frame
        res.goal_pose.header.stamp = node.get_clock().now().to_msg()
        if a["goal_pose"] is not None:
            import math

            x, y, yaw = a["goal_pose"]
            res.goal_pose.pose.position.x, res.goal_pose.pose.position.y = float(x), float(y)
            res.goal_pose.pose.orientation.z, res.goal_pose.pose.orientation.w = math.sin(yaw / 2), math.cos(yaw / 2)
        return res

    node.create_service(QuerySrv, settings.node.query_service, on_query)

    stop = threading.Event()

    def worker() -> None:
        while not stop.is_set():
            try:
                item = core.queue.get(timeout=0.2)
            except queue.Empty:
                continue
            core.process(item)

    th = threading.Thread(target=worker, name="robomem-update", daemon=True)
    th.start()
    log.info("robomem memory node ready")
    try:
        rclpy.spin(node)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not interrupt the final commit
        stop.set()
        th.join(timeout=10)
        if fleet is not None:
            fleet.stop()
        memory.close()
        node.destroy_node()
        rclpy.try_shutdown()
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run the node; a bad parameter or config ends it with one fatal line (exit 2), before the store is opened."""
    import sys

    from rclpy.exceptions import ParameterException

    from robomem.errors import ConfigError

    try:
        return _run_node(argv)
    except (ConfigError, ParameterException) as exc:
        print(f"[FATAL] [robomem_memory]: {exc}", file=sys.stderr, flush=True)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
