"""Topics, frames and message-level helpers shared by the ROS 2 nodes and log replay.

One definition of which topic plays which role, how frames and poses are resolved and
how events and detections are parsed, used by ``robomem.nodes`` (live) and
``robomem.io.replay`` (recorded): the same ``ros:`` section of config/robomem.yaml drives
both.  Pure Python; nothing here imports ROS.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from robomem.config import ConfigFile, TopicMap, config_from_dict, load_config
from robomem.errors import ConfigError
from robomem.observation import Event, InstanceInfo

__all__ = ["RosIoConfig", "TopicMap", "detections_to_instances", "frame_instances", "parse_event"]


@dataclass(frozen=True)
class RosIoConfig:
    topics: TopicMap = field(default_factory=TopicMap)
    explicit: frozenset[str] = frozenset()  # roles set by the user: missing in the bag is an error
    map_frame: str = "map"
    camera_frame: str = ""  # "" = the depth image's header.frame_id
    pose_source: str = "tf"  # "tf" | "topic"
    pose_child_frame: str = ""  # frame a pose topic gives ("" = child_frame_id of Odometry, else camera_frame)
    slop: float = 0.05  # s, approximate-time sync of depth/colour/instances/labels
    queue_size: int = 30
    tf_tolerance: float = 0.1  # s, hold the nearest transform this far outside the stamped range
    rate: float = 0.0  # 0: as fast as memory allows; 1.0: recorded rate
    max_frame_rate: float = 0.0  # Hz of sensor time; 0: every synced frame enters memory
    robot_id: str = "robot"
    use_header_stamps: bool = True
    tf_wait: float = 5.0  # s (node clock live, log time in replay) a frame may wait for /tf to cover its stamp
    decoder: str = "process"  # replay: decode the bag in a forked child beside the updates; "inline": one process

    def __post_init__(self) -> None:
        if self.pose_source not in ("tf", "topic"):
            raise ConfigError(f"ros.pose.source: must be 'tf' or 'topic', got {self.pose_source!r}")
        if self.pose_source == "topic" and not self.topics.pose:
            raise ConfigError("ros.pose.source: 'topic' needs a pose topic (ros.topics.pose or --pose-topic)")
        for name in ("slop", "tf_tolerance", "rate", "max_frame_rate", "tf_wait"):
            v = getattr(self, name)
            if isinstance(v, bool) or not (isinstance(v, (int, float)) and math.isfinite(v) and v >= 0):
                key = {"slop": "ros.sync.slop", "tf_wait": "ros.node.tf_wait"}.get(name, f"replay.{name}")
                raise ConfigError(f"{key}: must be a number >= 0, got {v!r}")
        if self.decoder not in ("process", "inline"):
            raise ConfigError(f"replay.decoder: must be 'process' or 'inline', got {self.decoder!r}")
        if isinstance(self.queue_size, bool) or not isinstance(self.queue_size, int) or self.queue_size < 1:
            raise ConfigError(f"ros.sync.queue_size: must be an integer >= 1, got {self.queue_size!r}")
        if not self.topics.depth:
            raise ConfigError("ros.topics.depth: a depth topic is required (or --depth)")
        if not self.topics.camera_info:
            raise ConfigError("ros.topics.camera_info: a camera_info topic is required (or --camera-info)")

    # -- loading ------------------------------------------------------------------------
    @classmethod
    def from_yaml(cls, path: str | Path) -> RosIoConfig:
        """Read the ``ros:`` (topics, frames, pose, sync) and ``replay:`` sections of the shared config
        (the whole file is checked: see :func:`robomem.config.load_config`)."""
        return cls.from_file(load_config(path))

    @classmethod
    def from_dict(cls, data: dict[str, Any], where: str = "config") -> RosIoConfig:
        return cls.from_file(config_from_dict(data, where))

    @classmethod
    def from_file(cls, cf: ConfigFile, with_replay: bool = True) -> RosIoConfig:
        """The I/O settings of a checked config file; ``with_replay=False`` (the live nodes) ignores ``replay:``."""
        ros, rep = cf.ros, cf.replay
        kw: dict[str, Any] = {
            "topics": ros.topics,
            "explicit": cf.explicit_topics,
            "map_frame": ros.frames.map_frame,
            "camera_frame": ros.frames.camera_frame,
            "pose_source": ros.pose.source,
            "pose_child_frame": ros.pose.child_frame,
            "slop": ros.sync.slop,
            "queue_size": ros.sync.queue_size,
            "robot_id": ros.robot_id,
            "tf_wait": ros.node.tf_wait,
        }
        if with_replay:
            kw.update(
                rate=rep.rate,
                max_frame_rate=rep.max_frame_rate,
                tf_tolerance=rep.tf_tolerance,
                use_header_stamps=rep.use_header_stamps,
                decoder=rep.decoder,
            )
            for name in ("slop", "queue_size", "robot_id"):
                if getattr(rep, name) is not None:
                    kw[name] = getattr(rep, name)
        try:
            return cls(**kw)
        except ConfigError as exc:
            if cf.source:
                raise ConfigError(f"{cf.source}: {exc}") from None
            raise


def parse_event(text: str, stamp: float, robot_id: str) -> Event:
    """A String event: JSON {"kind", "text"}, or "kind: text" (kind one word), else kind "event"."""
    s = text.strip()
    kind, body = "event", s
    if s.startswith("{"):
        try:
            d = json.loads(s)
        except json.JSONDecodeError:
            d = None
        if isinstance(d, dict) and "text" in d:
            kind, body = str(d.get("kind") or "event"), str(d["text"])
    else:
        head, sep, rest = s.partition(":")
        if sep and head and " " not in head.strip() and len(head) <= 32:
            kind, body = head.strip(), rest.strip()
    return Event(stamp, kind, body, robot_id=robot_id)


def detections_to_instances(msg: Any, shape: tuple[int, int]) -> tuple[np.ndarray, dict[int, InstanceInfo]]:
    """vision_msgs/Detection2DArray -> an instance image (boxes rasterised, larger first so
    smaller boxes stay visible) and ``{id: InstanceInfo}`` from each detection's best hypothesis."""
    h, w = shape
    ids = np.zeros((h, w), np.int32)
    infos: dict[int, InstanceInfo] = {}
    boxes = []
    for det in getattr(msg, "detections", []):
        results = list(getattr(det, "results", []))
        if not results:
            continue
        best = max(results, key=lambda r: float(getattr(getattr(r, "hypothesis", r), "score", 0.0)))
        hyp = getattr(best, "hypothesis", best)
        label = str(getattr(hyp, "class_id", getattr(hyp, "id", "")))
        score = float(getattr(hyp, "score", 1.0))
        bb = det.bbox
        c = bb.center
        cx, cy = (float(c.position.x), float(c.position.y)) if hasattr(c, "position") else (float(c.x), float(c.y))
        sx, sy = float(bb.size_x), float(bb.size_y)
        if not label.strip() or sx <= 0 or sy <= 0:
            continue
        boxes.append((sx * sy, cx, cy, sx, sy, label, min(1.0, max(0.0, score))))
    for n, (_a, cx, cy, sx, sy, label, score) in enumerate(sorted(boxes, key=lambda b: -b[0]), start=1):
        u0, u1 = max(0, int(round(cx - sx / 2))), min(w, int(round(cx + sx / 2)))
        v0, v1 = max(0, int(round(cy - sy / 2))), min(h, int(round(cy + sy / 2)))
        if u1 > u0 and v1 > v0:
            ids[v0:v1, u0:u1] = n
            infos[n] = InstanceInfo(label, score)
    present = set(np.unique(ids).tolist()) - {0}
    return ids, {k: v for k, v in infos.items() if k in present}


def frame_instances(
    shape: tuple[int, int],
    ids: np.ndarray | None,
    labels: dict[int, InstanceInfo] | None,
    detections: Any = None,
) -> tuple[np.ndarray | None, dict[int, InstanceInfo], list[int]]:
    """The instance image and labels of one frame, from an instance-id image plus its labels message
    or from a vision_msgs Detection2DArray: one policy for the ROS nodes and replay.

    An instance image without any labels message labels every id ``"object"``; ids the labels message
    does not name are cleared to 0 (no instance) and returned in the third item so the caller counts
    them.  The frame itself (depth, pose) is kept either way.
    """
    if detections is not None:
        det_ids, det_infos = detections_to_instances(detections, shape)
        return det_ids, det_infos, []
    if ids is None:
        return None, {}, []
    flat = ids.reshape(-1)
    small = flat.size and int(flat.min()) >= 0 and int(flat.max()) < 1 << 20
    present = set((np.flatnonzero(np.bincount(flat)) if small else np.unique(flat)).tolist()) - {0}
    if labels is None:
        return ids, {int(i): InstanceInfo("object") for i in sorted(present)}, []
    unlabeled = sorted(present - set(labels))
    if unlabeled:
        ids = np.where(np.isin(ids, unlabeled), 0, ids).astype(np.int32)
    return ids, {k: v for k, v in labels.items() if k in present}, unlabeled
