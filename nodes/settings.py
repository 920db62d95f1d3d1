"""Settings of the ROS 2 nodes as plain data: no rclpy here, unit-tested without spinning.

Precedence: built-in defaults < ``config/robomem.yaml`` (the ``config_file``
parameter; the same file replay reads) < ROS parameters given on the command
line or in a params file (``-p topics.color:=/cam/rgb``).  Every setting is
also a declared ROS parameter with a description, under a flat dotted name:

    store_path, config_file, topics.<role>, frames.map_frame, frames.camera_frame,
    pose.source, pose.child_frame, sync.slop, sync.queue_size, node.*, memory.<section>.<field>
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, TypeVar

from robomem.config import GE0, MemoryConfig, NodeOptions, RosFrames, RosPose, RosSync, TopicMap, from_dict, load_config
from robomem.errors import ConfigError
from robomem.io.ros_io import RosIoConfig

T = TypeVar("T")

__all__ = ["DESCRIPTIONS", "NodeOptions", "NodeSettings", "description", "flatten", "unflatten"]


DESCRIPTIONS: dict[str, str] = {
    "store_path": "Directory of the robomem store (SQLite + blobs); created if missing, resumed if present.",
    "config_file": "YAML config (memory:, ros:, replay: sections) read before the other parameters.",
    "frames.map_frame": "World frame memory is built in (REP 103 map, z up).",
    "frames.camera_frame": (
        "Camera optical frame to resolve from /tf; empty (default) = each depth image's own header.frame_id "
        "(e.g. oak_rgb_camera_optical_frame). Set it only to override what the driver stamps."
    ),
    "pose.source": "'tf' (resolve map->camera from /tf and /tf_static) or 'topic' (topics.pose).",
    "pose.child_frame": "Frame a pose topic gives; empty = Odometry child_frame_id, else frames.camera_frame.",
    "sync.slop": "Seconds within which colour, depth, instances and labels count as one frame.",
    "sync.queue_size": "Messages kept per stream by the approximate-time synchroniser.",
    "tf_tolerance": "Seconds outside /tf's stamped range within which the nearest transform is held for a frame.",
    "node.max_stamp_age": "Frames older than this (seconds, node clock; honours use_sim_time) are rejected as stale.",
    "node.tf_wait": (
        "Seconds a synchronised frame waits for /tf to cover its stamp (so its pose is interpolated), then it is "
        "looked up once more or rejected as missing_transform. 5 s: /tf was measured arriving up to 2.4 s late on "
        "a loaded 2-core machine, where 2 s rejected 12 of 60 frames."
    ),
    "node.max_pending": (
        "Frames that may wait for /tf or camera_info at once (about 3.4 MB each at 640x480: a memory bound); "
        "past it the oldest is resolved at once."
    ),
    "node.k": "Entries a Query returns when the request's k is <= 0.",
    "node.update_queue": "Synchronised frames waiting for memory; the oldest is dropped (and counted) past this.",
    "memory.spatial.voxel_size": "Voxel size (m) of object point clouds.",
    "memory.spatial.match_threshold": "Association: geometric overlap + label similarity must reach this.",
    "memory.spatial.min_label_similarity": "Association: labels less similar than this never match.",
    "memory.budget.max_sighting_rows": "Forgetting budget: sighting rows kept before merging into intervals.",
    "memory.budget.max_store_bytes": "Forgetting budget: bytes on disk.",
    "memory.fleet.url": "Fleet memory (PostgreSQL URL, postgresql://role@host:port/db?sslmode=...); empty = none. "
    "Password from PGPASSWORD or ~/.pgpass, never logged. Every committed frame is also delivered there.",
    "memory.fleet.robot_id": "This robot's id in the fleet memory (the rows its role may write).",
}


@dataclass(frozen=True)
class NodeSettings:
    store_path: str = "robomem_store"
    config_file: str = ""
    io: RosIoConfig = field(default_factory=RosIoConfig)
    node: NodeOptions = field(default_factory=NodeOptions)
    memory: MemoryConfig = field(default_factory=MemoryConfig)

    @classmethod
    def load(cls, config_file: str | Path | None) -> NodeSettings:
        """Defaults < the config file (every section checked by :func:`robomem.config.load_config`)."""
        if not config_file:
            return cls()
        cf = load_config(config_file)
        io = RosIoConfig.from_file(cf, with_replay=False)  # replay: belongs to replay
        return cls(cf.store_path or "robomem_store", str(config_file), io, cf.ros.node, cf.memory)


def flatten(s: NodeSettings) -> dict[str, Any]:
    """Settings as flat ROS parameter names -> values (str, int, float, bool only)."""
    out: dict[str, Any] = {"store_path": s.store_path, "config_file": s.config_file}
    for f in fields(TopicMap):
        out[f"topics.{f.name}"] = getattr(s.io.topics, f.name)
    out["frames.map_frame"] = s.io.map_frame
    out["frames.camera_frame"] = s.io.camera_frame
    out["pose.source"] = s.io.pose_source
    out["pose.child_frame"] = s.io.pose_child_frame
    out["sync.slop"] = float(s.io.slop)
    out["sync.queue_size"] = int(s.io.queue_size)
    out["tf_tolerance"] = float(s.io.tf_tolerance)
    out["robot_id"] = s.io.robot_id
    for f in fields(NodeOptions):
        out[f"node.{f.name}"] = getattr(s.node, f.name)
    _flatten_dc(s.memory, "memory", out)
    return out


def _flatten_dc(obj: Any, prefix: str, out: dict[str, Any]) -> None:
    for f in fields(obj):
        v = getattr(obj, f.name)
        if dataclasses.is_dataclass(v):
            _flatten_dc(v, f"{prefix}.{f.name}", out)
        else:
            out[f"{prefix}.{f.name}"] = v


def description(name: str) -> str:
    if name in DESCRIPTIONS:
        return DESCRIPTIONS[name]
    if name.startswith("topics."):
        return f"Topic for the {name.split('.', 1)[1]} stream (empty = not used)."
    if name.startswith("node."):
        return f"Node option {name.split('.', 1)[1]} (see robomem/config.py NodeOptions)."
    if name.startswith("memory."):
        return f"robomem MemoryConfig {name.split('.', 1)[1]} (see robomem/config.py)."
    return name


def unflatten(values: dict[str, Any], base: NodeSettings) -> NodeSettings:
    """Apply flat parameter values over ``base``; unknown names, wrong types and out-of-range values are a
    ConfigError naming the parameter (checked by the same rules as the config file)."""
    flat = flatten(base)
    unknown = sorted(set(values) - set(flat))
    if unknown:
        raise ConfigError(f"unknown parameter {unknown[0]!r}")
    merged = {**flat, **values}

    def section(cls: type[T], prefix: str) -> T:  # checked like the file's ros.<prefix> section
        return from_dict(cls, {k.split(".", 1)[1]: v for k, v in merged.items() if k.startswith(prefix + ".")}, prefix)

    frames, pose, sync = section(RosFrames, "frames"), section(RosPose, "pose"), section(RosSync, "sync")
    robot_id = merged["robot_id"]
    if not isinstance(robot_id, str):
        raise ConfigError(f"robot_id: expected a string, got {robot_id!r}")
    tf_tolerance = merged["tf_tolerance"]
    if GE0.violation(tf_tolerance) is not None:
        raise ConfigError(f"tf_tolerance: {GE0.violation(tf_tolerance)}")
    io = replace(
        base.io,
        topics=section(TopicMap, "topics"),
        map_frame=frames.map_frame,
        camera_frame=frames.camera_frame,
        pose_source=pose.source,
        pose_child_frame=pose.child_frame,
        slop=sync.slop,
        queue_size=sync.queue_size,
        robot_id=robot_id,
        tf_tolerance=float(tf_tolerance),
    )
    node_values = {k.split(".", 1)[1]: v for k, v in merged.items() if k.startswith("node.")}
    node = from_dict(NodeOptions, node_values, "node")
    mem_tree: dict[str, Any] = {}
    for k, v in merged.items():
        if not k.startswith("memory."):
            continue
        parts = k.split(".")[1:]
        d = mem_tree
        for p in parts[:-1]:
            d = d.setdefault(p, {})
        d[parts[-1]] = v
    memory = MemoryConfig.from_dict(mem_tree)
    return NodeSettings(str(merged["store_path"]), str(merged["config_file"]), io, node, memory)
