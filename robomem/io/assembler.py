"""Where a ROS frame enters: one observation assembler for the live node and for replay.

Camera messages (depth, colour, instance image + labels, or detections), CameraInfo, /tf or
a pose topic go in; :class:`~robomem.observation.Observation` objects (or a
:class:`Rejected` naming why a frame was dropped) come out, in time order.  The memory node
(``robomem.nodes.memory_node.MemoryNodeCore``) and log replay (``robomem.io.replay``) both
use this class, so a bag replays into the memory the live node would have built.

The policy, in the order a frame meets it:

1. **Sync.** The camera streams (:func:`camera_streams`: depth first, so the depth stamp is
   the frame's stamp) are grouped by :class:`~robomem.io.sync.ApproximateTimeSynchronizer`
   within ``slop`` seconds; messages without a match are counted in :attr:`unsynced`.
2. **Decode** (once per synchronised frame): depth to float32 metres (32FC1 metres or 16UC1
   millimetres), colour to RGB, and the instance policy of
   :func:`~robomem.io.ros_io.frame_instances` (ids without a label are cleared to "no
   instance", the frame is kept and they are counted in :attr:`unlabeled`).  A message that
   cannot be decoded rejects the frame as ``bad_image``.
3. **Camera info**: the newest CameraInfo received before the frame was synchronised, or,
   if none had arrived, the first one that arrives while the frame waits.
4. **TF wait**: a frame waits until the map -> camera chain has a transform at or after its
   stamp (so the pose is interpolated, not extrapolated), at most ``tf_wait`` seconds of
   the injected clock, or until more than ``max_pending`` frames wait.  Then the pose is
   looked up once more (held within ``tf_tolerance``); if there is none the frame is
   rejected as ``missing_transform`` (``no_camera_info`` if camera info never came).
   Frames leave in arrival order, so memory always sees increasing stamps.

**Camera frame.** A frame's camera is the depth image's own ``header.frame_id`` (what the
driver names it: ``camera_color_optical_frame``, ``oak_rgb_camera_optical_frame``, ...) unless
``camera_frame`` is set, which then overrides every header.  A pose topic that names no child
frame (a PoseStamped, no ``pose_child_frame``) gives the pose of the camera itself: with no
``camera_frame`` set, frames are then looked up against that pose, whatever their header says.

The clock is injected: the node's clock (sim time when ``use_sim_time``) live, the log time
of the newest bag message in replay, so replay is deterministic.  Pure Python; no ROS.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from robomem.config import TopicMap
from robomem.errors import ConfigError
from robomem.io import rosmsg
from robomem.io.ros_io import RosIoConfig, frame_instances
from robomem.io.sync import ApproximateTimeSynchronizer, SyncedSet
from robomem.io.tf_buffer import TfBuffer, TfError
from robomem.observation import InstanceInfo, Intrinsics, Observation, Pose

__all__ = ["AssemblerSettings", "ObservationAssembler", "Rejected", "camera_streams"]

CAMERA_ROLES = ("depth", "color", "instances", "labels", "detections")
# the TF child of a pose topic that names no frame (a PoseStamped of "the camera"), when camera_frame is empty
POSE_CAMERA = "robomem/pose_topic_camera"


def camera_streams(topics: TopicMap) -> tuple[str, ...]:
    """The synchronised camera streams for ``topics``: depth first (its stamp is the frame's),
    then colour, then detections or (instances, labels), each only if it has a topic."""
    streams = ["depth"]
    if topics.color:
        streams.append("color")
    if topics.detections:
        streams.append("detections")
    else:
        streams += [r for r in ("instances", "labels") if getattr(topics, r)]
    return tuple(streams)


@dataclass(frozen=True)
class AssemblerSettings:
    streams: tuple[str, ...]  # camera streams, depth first (see camera_streams)
    map_frame: str = "map"
    camera_frame: str = ""  # "" = the depth image's header.frame_id; set = overrides every header
    slop: float = 0.05  # s, approximate-time sync
    queue_size: int = 30  # messages kept per stream by the synchroniser
    tf_tolerance: float = 0.1  # s, hold the nearest transform this far outside the stamped range
    tf_wait: float = 5.0  # s of the injected clock a frame may wait for /tf to cover its stamp
    max_pending: int = 120  # frames waiting for camera info or /tf; past this the oldest is resolved now
    robot_id: str = "robot"
    source: str = "ros"  # Observation.source

    @classmethod
    def from_io(cls, io: RosIoConfig, *, tf_wait: float, max_pending: int, source: str) -> AssemblerSettings:
        """The settings of the shared I/O config (``ros:``/``replay:``): the streams its topics name, frames,
        sync and TF tolerance; what differs between the live node and replay is given."""
        return cls(
            streams=camera_streams(io.topics),
            map_frame=io.map_frame,
            camera_frame=io.camera_frame,
            slop=io.slop,
            queue_size=io.queue_size,
            tf_tolerance=io.tf_tolerance,
            tf_wait=tf_wait,
            max_pending=max_pending,
            robot_id=io.robot_id,
            source=source,
        )

    def __post_init__(self) -> None:
        if not self.streams or self.streams[0] != "depth" or not set(self.streams) <= set(CAMERA_ROLES):
            raise ConfigError(f"assembler streams: depth first, then some of {CAMERA_ROLES[1:]}, got {self.streams}")
        for name in ("slop", "tf_tolerance", "tf_wait"):
            if not getattr(self, name) >= 0:
                raise ConfigError(f"assembler {name}: must be >= 0, got {getattr(self, name)!r}")
        for name in ("queue_size", "max_pending"):
            if not getattr(self, name) >= 1:
                raise ConfigError(f"assembler {name}: must be >= 1, got {getattr(self, name)!r}")


@dataclass(frozen=True)
class Rejected:
    """A frame that did not become an Observation: ``reason`` is one of ``bad_image``,
    ``invalid_observation``, ``no_camera_info``, ``missing_transform``."""

    reason: str
    detail: str
    stamp: float
    where: str = ""  # the message that caused it ("topic ... message #i" in replay)


Outcome = Observation | Rejected


@dataclass
class _Waiting:
    stamp: float
    arrived: float  # injected clock when it was synchronised
    frame: str
    depth: np.ndarray
    rgb: np.ndarray | None
    ids: np.ndarray | None
    infos: dict[int, InstanceInfo]
    intrinsics: Intrinsics | None
    where: str


class ObservationAssembler:
    """Messages in, Observations out (see the module docstring for the policy). Thread-safe."""

    def __init__(self, settings: AssemblerSettings, clock: Callable[[], float]) -> None:
        self.settings = settings
        self.clock = clock
        self.tf = TfBuffer(cache_time=60.0, tolerance=settings.tf_tolerance)
        self.sync: ApproximateTimeSynchronizer[tuple[Any, str]] = ApproximateTimeSynchronizer(
            len(settings.streams), queue_size=settings.queue_size, slop=settings.slop, names=list(settings.streams)
        )
        self.intrinsics: Intrinsics | None = None
        self.unlabeled = 0  # instance ids without a label, cleared to "no instance" (frames kept)
        self.last_tf_error: str | None = None
        self._pose_is_camera = False  # a pose topic without a child frame has been seen (see POSE_CAMERA)
        self._waiting: deque[_Waiting] = deque()
        self._lock = threading.RLock()

    # -- counters ------------------------------------------------------------------------------
    @property
    def unsynced(self) -> int:
        """Camera messages the synchroniser dropped without a match."""
        return int(self.sync.dropped)

    @property
    def waiting(self) -> int:
        """Frames waiting for camera info or /tf."""
        return len(self._waiting)

    # -- inputs (each returns the frames it completed) ----------------------------------------
    def add_camera_info(self, msg: Any) -> list[Outcome]:
        intr = rosmsg.camera_info_to_intrinsics(msg)
        with self._lock:
            self.intrinsics = intr
            for f in self._waiting:  # frames synchronised before any camera info take the first one
                if f.intrinsics is None:
                    f.intrinsics = intr
            return self.poll()

    def add_tf(self, msg: Any, static: bool = False) -> list[Outcome]:
        transforms = rosmsg.tf_message_to_transforms(msg, static=static)
        with self._lock:
            self.tf.add_many(transforms)
            return self.poll()

    def add_pose(self, msg: Any, stamp: float, parent: str = "", child: str = "") -> list[Outcome]:
        """A PoseStamped / Odometry message giving ``parent`` -> ``child`` at ``stamp``
        (defaults: map_frame; the camera: ``camera_frame``, or whatever frame the images name)."""
        m = rosmsg.to_matrix(msg)
        with self._lock:
            if not child and not self.settings.camera_frame:
                child, self._pose_is_camera = POSE_CAMERA, True
            self.tf.set_matrix(parent or self.settings.map_frame, child or self.settings.camera_frame, stamp, m)
            return self.poll()

    def set_waits(self, tf_wait: float, max_pending: int) -> None:
        """Change how long (and how many) frames may wait for /tf, e.g. a live parameter; checked as at start."""
        with self._lock:
            self.settings = replace(self.settings, tf_wait=tf_wait, max_pending=max_pending)

    def add(self, stream: str, stamp: float, msg: Any, where: str = "") -> list[Outcome]:
        """One camera message (``stream`` one of :attr:`AssemblerSettings.streams`) at ``stamp``."""
        if stream not in self.settings.streams:
            raise ValueError(f"assembler: unknown camera stream {stream!r} (streams: {self.settings.streams})")
        with self._lock:
            out: list[Outcome] = []
            for s in self.sync.add(stream, stamp, (msg, where)):
                rej = self._decode(s)
                if rej is not None:
                    out.append(rej)
            return out + self.poll()

    # -- frames --------------------------------------------------------------------------------
    def poll(self, final: bool = False) -> list[Outcome]:
        """Frames whose camera info and pose are known, in order; ``final`` resolves every waiting frame."""
        out: list[Outcome] = []
        with self._lock:
            now = self.clock()
            while self._waiting:
                f = self._waiting[0]
                waited_out = (
                    final or now - f.arrived >= self.settings.tf_wait or len(self._waiting) > self.settings.max_pending
                )
                intr = f.intrinsics or self.intrinsics
                if intr is None:
                    if not waited_out:
                        break
                    self._waiting.popleft()
                    out.append(Rejected("no_camera_info", "no CameraInfo received for this frame", f.stamp, f.where))
                    continue
                pose = self._pose_at(f, waited_out)
                if pose is None:
                    if not waited_out:
                        break
                    self._waiting.popleft()
                    out.append(Rejected("missing_transform", self.last_tf_error or "", f.stamp, f.where))
                    continue
                self._waiting.popleft()
                out.append(self._observation(f, intr, pose))
        return out

    def _decode(self, s: SyncedSet[tuple[Any, str]]) -> Rejected | None:
        p = dict(zip(self.settings.streams, s.payloads, strict=True))
        depth_msg, where = p["depth"]
        stage = "depth"
        try:
            depth = rosmsg.depth_to_metres(depth_msg)
            stage = "color"
            rgb = rosmsg.image_to_rgb(p["color"][0]) if "color" in p else None
            stage = "instances"
            ids = rosmsg.instance_image_to_ids(p["instances"][0]) if "instances" in p else None
            stage = "labels"
            labels = rosmsg.instance_labels_to_infos(p["labels"][0]) if "labels" in p else None
            stage = "detections"
            det = p["detections"][0] if "detections" in p else None
            ids, infos, unlabeled = frame_instances(depth.shape, ids, labels, det)
        except (ValueError, TypeError, AttributeError) as exc:
            return Rejected("bad_image", f"{stage}: {exc}", s.stamp, p[stage][1] if stage in p else where)
        self.unlabeled += len(unlabeled)
        frame = self.settings.camera_frame or str(getattr(getattr(depth_msg, "header", None), "frame_id", "") or "")
        self._waiting.append(_Waiting(s.stamp, self.clock(), frame, depth, rgb, ids, infos, self.intrinsics, where))
        return None

    def _pose_at(self, f: _Waiting, waited_out: bool) -> Pose | None:
        target = self.settings.map_frame
        source = POSE_CAMERA if self._pose_is_camera and not self.settings.camera_frame else f.frame
        if not source:
            self.last_tf_error = (
                "the depth image's header.frame_id is empty and no camera_frame is set: "
                "cannot tell which TF frame the camera is"
            )
            return None
        try:
            latest = self.tf.latest_common_time(target, source)
        except TfError as exc:
            self.last_tf_error = str(exc)
            return None
        if latest is not None and f.stamp > latest and not waited_out:
            return None  # wait for a newer transform: it lets us interpolate
        try:
            return self.tf.lookup_pose(target, source, f.stamp)
        except (TfError, ValueError) as exc:
            self.last_tf_error = str(exc)
            return None

    def _observation(self, f: _Waiting, intr: Intrinsics, pose: Pose) -> Outcome:
        try:
            return Observation(
                stamp=f.stamp,
                pose=pose,
                intrinsics=intr,
                depth=f.depth,
                rgb=f.rgb,
                instance_ids=f.ids,
                instances=f.infos,
                robot_id=self.settings.robot_id,
                source=self.settings.source,
                frame_id=f.frame,
            )
        except ValueError as exc:
            return Rejected("invalid_observation", f"frame at t={f.stamp:.3f}s is invalid: {exc}", f.stamp, f.where)
