"""``robomem record``: write a simulator run to a bag with the topics a robot would publish.

Topics and types (the defaults of the ``ros:`` section of config/robomem.yaml):

=============================== ============================================ ==========================
/camera/color/image_raw         sensor_msgs/msg/Image rgb8                   every frame
/camera/depth/image_raw         sensor_msgs/msg/Image 32FC1 (or 16UC1 mm)    every frame
/camera/color/camera_info       sensor_msgs/msg/CameraInfo                   every frame
/camera/instances               sensor_msgs/msg/Image 16UC1 instance ids     every frame
/camera/instance_labels         robomem_interfaces/msg/InstanceLabels        every frame
/tf                             tf2_msgs/msg/TFMessage map->odom->base_link  ``tf_rate`` Hz
                                (REP 105; and base_link->camera_link when
                                the head tilts)
/tf_static                      tf2_msgs/msg/TFMessage camera_link->optical  once
/robomem/events                 std_msgs/msg/String "kind: text"             a few
=============================== ============================================ ==========================

The ground truth goes to a side file ``<bag>.truth.json``: objects (label, position,
size), places, the camera trajectory, the changes the simulator made, and the events.

Two sources: ``synthetic`` (robomem.testing.synthetic.BoxScene: exact ray-cast boxes, no extra
dependencies, used for the test fixture and the benchmark) and ``household`` (the MuJoCo
household simulator in robomem.envs.household, imported only when chosen).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from robomem.cli.args import COUNT, PIXELS, RATE, SEED
from robomem.io.bag import INSTANCE_LABELS_TYPE
from robomem.io.bag_writer import BagWriter
from robomem.io.ros_io import TopicMap
from robomem.observation import InstanceInfo, Intrinsics, Observation, Pose
from robomem.testing.synthetic import Box, BoxScene, demo_boxes

__all__ = [
    "RecordedFrame",
    "Recording",
    "RobotFrames",
    "household_recording",
    "synthetic_recording",
    "write_bag",
]

# REP 103 body frame (x forward, y left, z up) -> optical frame (x right, y down, z forward)
R_BODY_OPTICAL = np.array([[0.0, 0.0, 1.0], [-1.0, 0.0, 0.0], [0.0, -1.0, 0.0]])


@dataclass(frozen=True)
class RobotFrames:
    """The TF frames a recording publishes (topics come from robomem.io.ros_io.TopicMap, as replay reads them)."""

    map_frame: str = "map"
    odom_frame: str = "odom"  # REP 105: map -> odom (localisation; identity, the simulator does not drift) -> base
    base_frame: str = "base_link"
    camera_link: str = "camera_link"
    camera_frame: str = "camera_color_optical_frame"


@dataclass(frozen=True)
class RecordedFrame:
    """One camera frame plus where the robot was (T_map_base and the head, T_base_camera_link)."""

    stamp: float
    rgb: np.ndarray
    depth: np.ndarray  # float32 metres
    instance_ids: np.ndarray
    instances: Mapping[int, InstanceInfo]
    camera_pose: Pose  # T_map_optical (ground truth)

    def observation(self, intrinsics: Intrinsics, source: str = "recorder") -> Observation:
        present = {int(i) for i in np.unique(self.instance_ids)} - {0}
        return Observation(
            stamp=self.stamp,
            pose=self.camera_pose,
            intrinsics=intrinsics,
            depth=self.depth,
            rgb=self.rgb,
            instance_ids=self.instance_ids,
            instances={i: v for i, v in self.instances.items() if i in present},
            source=source,
        )


@dataclass
class Recording:
    """What a source produces: frames, the robot path for /tf, events and ground truth."""

    intrinsics: Intrinsics
    frames: list[RecordedFrame]
    base_pose_at: Callable[[float], Pose]  # T_map_base at any time in the run
    head_pose_at: Callable[[float], Pose]  # T_base_camera_link at any time (constant for a fixed head)
    head_static: bool
    tf_stamps: list[float]
    events: list[tuple[float, str, str]] = field(default_factory=list)  # (stamp, kind, text)
    truth: dict[str, Any] = field(default_factory=dict)


def optical_from_link() -> Pose:
    """T_camera_link_optical: the fixed REP 103 -> optical rotation."""
    m = np.eye(4)
    m[:3, :3] = R_BODY_OPTICAL
    return Pose(m)


def planar_pose(x: float, y: float, yaw: float, z: float = 0.0) -> Pose:
    m = np.eye(4)
    c, s = math.cos(yaw), math.sin(yaw)
    m[:3, :3] = [[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]]
    m[:3, 3] = (x, y, z)
    return Pose(m)


def head_pose(height: float, pitch_down: float, forward: float = 0.0) -> Pose:
    """T_base_camera_link for a camera ``height`` m up, tilted down by ``pitch_down`` rad."""
    c, s = math.cos(pitch_down), math.sin(pitch_down)
    m = np.eye(4)
    m[:3, :3] = [[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]]  # rotation about y (positive pitches down)
    m[:3, 3] = (forward, 0.0, height)
    return Pose(m)


def tour_boxes() -> list[Box]:
    """robomem.testing.synthetic.demo_boxes with the small things a bit larger, so a 160x120 camera
    sees them with enough depth points to become objects."""
    grow = {"red mug": 1.6, "white mug": 1.6, "book": 1.3}
    out = []
    for b in demo_boxes():
        g = grow.get(b.label, 1.0)
        size = (b.size[0] * g, b.size[1] * g, b.size[2] * g)
        z = b.center[2] + (size[2] - b.size[2]) / 2
        out.append(Box(b.instance_id, b.label, (b.center[0], b.center[1], z), size, b.colour))
    return out


# -- sources --------------------------------------------------------------------------------
def synthetic_recording(
    n_frames: int = 20,
    width: int = 160,
    height: int = 120,
    rate_hz: float = 10.0,
    tf_rate_hz: float = 20.0,
    start: float = 1_700_000_000.0,
    move_at: float | None = 0.6,
    arc_deg: float = 150.0,
    boxes: list[Box] | None = None,
    hfov_deg: float = 70.0,
    radius: float = 2.0,
) -> Recording:
    """BoxScene tour: the robot drives an arc around a table, looking at it; at ``move_at``
    (a fraction of the run) the red mug is moved to the other end of the table."""
    boxes = list(boxes or tour_boxes())
    scene = BoxScene(boxes, width, height, hfov_deg=hfov_deg)
    centre = np.array([2.4, -0.3])
    duration = n_frames / rate_hz
    a0 = math.radians(180.0 + arc_deg / 2)

    def base_at(t: float) -> Pose:
        u = min(max((t - start) / duration, 0.0), 1.0)
        a = a0 - u * math.radians(arc_deg)
        x, y = centre + radius * np.array([math.cos(a), math.sin(a)])
        return planar_pose(float(x), float(y), a + math.pi)  # face the centre

    head = head_pose(1.3, math.radians(25.0), 0.1)
    optical = optical_from_link()
    move_time = None if move_at is None else start + move_at * duration
    mug = next((b for b in boxes if b.label == "red mug"), None)
    moved = mug.moved_to(2.35, 0.2) if mug is not None else None
    frames = []
    offset = 0.5 / tf_rate_hz  # images fall between /tf stamps: replay must interpolate
    for i in range(n_frames):
        t = start + i / rate_hz + offset
        if move_time is not None and mug is not None and moved is not None and t >= move_time:
            scene.boxes = [moved if b.instance_id == mug.instance_id else b for b in boxes]
        cam = base_at(t) @ head @ optical
        rgb, depth, ids = scene.render(cam)
        present = {int(k) for k in np.unique(ids)} - {0}
        infos = {b.instance_id: InstanceInfo(b.label) for b in scene.boxes if b.instance_id in present}
        frames.append(RecordedFrame(t, rgb, depth, ids.astype(np.int32), infos, cam))
    n_tf = int(math.ceil((duration + 2 * offset) * tf_rate_hz)) + 1
    tf_stamps = [start + k / tf_rate_hz for k in range(n_tf)]
    events = [(start, "instruction", "tour the room and remember where things are")]
    changes = []
    if move_time is not None and mug is not None and moved is not None:
        events.append((move_time, "action", "someone moved the red mug"))
        changes.append(
            {
                "time": move_time,
                "kind": "move",
                "instance_id": mug.instance_id,
                "label": mug.label,
                "from_position": list(mug.center),
                "to_position": list(moved.center),
            }
        )
    final = {b.instance_id: b for b in scene.boxes}
    truth = {
        "source": "synthetic",
        "objects": [
            {
                "instance_id": b.instance_id,
                "label": b.label,
                "position": list(final[b.instance_id].center),
                "size": list(b.size),
                "present": True,
            }
            for b in boxes
        ],
        "places": [],
        "changes": changes,
    }
    return Recording(scene.intrinsics, frames, base_at, lambda t: head, True, tf_stamps, events, truth)


def household_recording(
    n_frames: int = 40,
    width: int = 320,
    height: int = 240,
    seed: int = 0,
    days: int = 1,
    realism: str = "clean",
) -> Recording:  # pragma: no cover - needs MuJoCo; exercised by the household tests when present
    """A household tour: the agent visits every room (``n_frames`` frames a day) for ``days``
    days; between days the simulator moves objects overnight (recorded as changes).

    ``realism`` (robomem.envs.household.noise levels): what is published is what a robot's sensors and
    detector would give (drifting /tf, noisy depth and masks, misses, confusions, false positives, scores,
    camera stamps jittered against /tf, dropped camera frames); the ground-truth side file stays the truth."""
    from robomem.envs.household.noise import PerceptionNoise
    from robomem.envs.household.sim import HouseholdSim

    sim = HouseholdSim(width=width, height=height, seed=seed)
    noise = PerceptionNoise(realism, seed)
    fx, fy, cx, cy = sim.intrinsics
    k = Intrinsics(fx, fy, cx, cy, width, height)
    frames: list[RecordedFrame] = []
    base: dict[float, Pose] = {}
    heads: dict[float, Pose] = {}
    optical = optical_from_link()
    events: list[tuple[float, str, str]] = []
    for day in range(days):
        if day:
            sim.next_day()
        events.append((sim.time, "instruction", f"day {day}: tour the house"))
        targets = [r.centre for r in sim.rooms]
        ti = 0
        while sum(1 for f in frames if f.stamp >= sim.time - 1e-9) < n_frames and ti < 10 * n_frames:
            f = sim.observe()
            pub = noise.apply(f)  # None: the camera frame is dropped (/tf still flows)
            a = pub.frame.agent if pub is not None else f.agent  # where the robot believes it is
            b = planar_pose(a.x, a.y, a.yaw)
            cam = Pose(np.asarray(pub.frame.pose if pub is not None else f.pose))
            head = Pose((b.inverse() @ cam @ optical.inverse()).matrix)
            base[f.stamp], heads[f.stamp] = b, head
            if pub is not None:
                p = pub.frame
                frames.append(
                    RecordedFrame(
                        f.stamp + pub.stamp_offset,
                        p.rgb,
                        p.depth,
                        p.instances.astype(np.int32),
                        {int(i): InstanceInfo(lab, float(pub.scores[i])) for i, lab in p.labels.items()},
                        cam,
                    )
                )
            act = sim.next_action_towards(*targets[ti % len(targets)], tolerance=0.5)
            if act in (None, "stop"):
                ti += 1
                act = "turn_left"
            sim.step(act)
            if len(frames) >= n_frames * (day + 1):
                break
    stamps = sorted(base)

    def nearest(table: dict[float, Pose]) -> Callable[[float], Pose]:
        def at(t: float) -> Pose:
            i = int(np.argmin([abs(s - t) for s in stamps]))
            return table[stamps[i]]

        return at

    gt = sim.object_states()
    truth = {
        "source": "household",
        "seed": seed,
        "realism": realism,
        "objects": [
            {
                "instance_id": s.instance_id,
                "label": s.label,
                "position": list(s.position) if s.position else None,
                "room": s.room,
                "present": s.present,
            }
            for s in gt.values()
        ],
        "places": [{"name": n, "min": list(lo), "max": list(hi)} for n, lo, hi in sim.places()],
        "changes": [
            {
                "time": c.time,
                "kind": c.kind,
                "instance_id": c.instance_id,
                "label": c.label,
                "from_room": c.from_room,
                "to_room": c.to_room,
                "from_position": list(c.from_position) if c.from_position else None,
                "to_position": list(c.to_position) if c.to_position else None,
            }
            for c in sim.changes
        ],
    }
    sim.close()
    return Recording(k, frames, nearest(base), nearest(heads), False, stamps, events, truth)


# -- writing --------------------------------------------------------------------------------
def iter_messages(
    rec: Recording, topics: TopicMap, depth_encoding: str, bag: BagWriter, frames_: RobotFrames | None = None
) -> Iterator[tuple[float, str, str, Any]]:
    """(log time, topic, type, message) for the whole recording, in time order."""
    frames_ = frames_ or RobotFrames()
    out: list[tuple[float, int, str, str, Any]] = []
    seq = 0

    def put(t: float, topic: str, msgtype: str, msg: Any) -> None:
        nonlocal seq
        out.append((t, seq, topic, msgtype, msg))
        seq += 1

    t0 = min([rec.tf_stamps[0]] + [f.stamp for f in rec.frames])
    static = [(frames_.camera_link, frames_.camera_frame, optical_from_link())]
    if rec.head_static:
        static.append((frames_.base_frame, frames_.camera_link, rec.head_pose_at(t0)))
    put(t0, topics.tf_static, "tf2_msgs/msg/TFMessage", bag.tf(static, t0))
    for t in rec.tf_stamps:
        tfs = [
            (frames_.map_frame, frames_.odom_frame, Pose(np.eye(4))),
            (frames_.odom_frame, frames_.base_frame, rec.base_pose_at(t)),
        ]
        if not rec.head_static:
            tfs.append((frames_.base_frame, frames_.camera_link, rec.head_pose_at(t)))
        put(t, topics.tf, "tf2_msgs/msg/TFMessage", bag.tf(tfs, t))
    cam = frames_.camera_frame
    for f in rec.frames:
        put(f.stamp, topics.camera_info, "sensor_msgs/msg/CameraInfo", bag.camera_info(rec.intrinsics, f.stamp, cam))
        put(f.stamp, topics.color, "sensor_msgs/msg/Image", bag.image(f.rgb, "rgb8", f.stamp, cam))
        if depth_encoding == "16UC1":
            d = np.nan_to_num(f.depth, nan=0.0)
            depth = np.clip(np.round(d * 1000.0), 0, 65535).astype(np.uint16)
        else:
            depth = f.depth.astype(np.float32)
        put(f.stamp, topics.depth, "sensor_msgs/msg/Image", bag.image(depth, depth_encoding, f.stamp, cam))
        put(
            f.stamp,
            topics.instances,
            "sensor_msgs/msg/Image",
            bag.image(f.instance_ids.astype(np.uint16), "16UC1", f.stamp, cam),
        )
        put(f.stamp, topics.labels, INSTANCE_LABELS_TYPE, bag.instance_labels(f.instances, f.stamp, cam))
    for t, kind, text in rec.events:
        put(t, topics.events, "std_msgs/msg/String", bag.string(f"{kind}: {text}"))
    for t, _seq, topic, msgtype, msg in sorted(out, key=lambda e: (e[0], e[1])):
        yield t, topic, msgtype, msg


def write_bag(
    rec: Recording,
    out: str | Path,
    storage: str = "mcap",
    depth_encoding: str = "32FC1",
    topics: TopicMap | None = None,
    truth_file: bool = True,
    frames: RobotFrames | None = None,
) -> Path:
    """Write ``rec`` to a bag at ``out`` (``storage`` 'mcap': one .mcap file; 'sqlite3': a rosbag2
    directory) and its ground truth to ``<out>.truth.json``.  Returns the bag path."""
    if depth_encoding not in ("32FC1", "16UC1"):
        raise ValueError(f"depth_encoding: expected '32FC1' or '16UC1', got {depth_encoding!r}")
    topics = (topics or TopicMap()).absolute()  # a bag records absolute names (the root namespace)
    out = Path(out)
    with BagWriter(out, storage=storage) as bag:
        for t, topic, msgtype, msg in iter_messages(rec, topics, depth_encoding, bag, frames):
            bag.write(topic, msgtype, msg, t)
    if truth_file:
        truth = dict(rec.truth)
        truth["topics"] = topics.used()
        truth["frames"] = dict(vars(frames or RobotFrames()))
        truth["intrinsics"] = {
            "fx": rec.intrinsics.fx,
            "fy": rec.intrinsics.fy,
            "cx": rec.intrinsics.cx,
            "cy": rec.intrinsics.cy,
            "width": rec.intrinsics.width,
            "height": rec.intrinsics.height,
        }
        truth["frames"] = [
            {"stamp": f.stamp, "pose": [round(float(v), 9) for v in f.camera_pose.matrix.ravel()]} for f in rec.frames
        ]
        truth["events"] = [{"stamp": t, "kind": k, "text": x} for t, k, x in rec.events]
        truth_path(out).write_text(json.dumps(truth, indent=1))
    return out


def truth_path(bag: str | Path) -> Path:
    b = Path(bag)
    return b.with_name(b.name + ".truth.json")


# -- command line ---------------------------------------------------------------------------
def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("out", help="bag to write: a .mcap file (--storage mcap) or a directory (--storage sqlite3)")
    parser.add_argument(
        "--source",
        choices=("synthetic", "household"),
        default="synthetic",
        help="simulator to record (default: synthetic boxes, no extra dependencies)",
    )
    parser.add_argument("--frames", type=COUNT, default=40, help="camera frames (per day for household)")
    parser.add_argument("--width", type=PIXELS, default=320)
    parser.add_argument("--height", type=PIXELS, default=240)
    parser.add_argument("--rate", type=RATE, default=10.0, help="camera rate in Hz (synthetic)")
    parser.add_argument("--days", type=COUNT, default=1, help="household: days to record (objects move overnight)")
    parser.add_argument("--seed", type=SEED, default=0)
    parser.add_argument("--storage", choices=("mcap", "sqlite3"), default="mcap")
    parser.add_argument("--depth-encoding", choices=("32FC1", "16UC1"), default="32FC1")
    parser.add_argument("--force", action="store_true", help="overwrite an existing bag")
    parser.add_argument(
        "--realism",
        choices=("clean", "robot", "hard"),
        default="clean",
        help="household: perception noise in what is published (envs/household/noise.py); the truth file stays exact",
    )


def run(args: argparse.Namespace) -> int:
    out = Path(args.out)
    if out.exists():
        if not args.force:
            print(f"robomem record: {out} exists (use --force to overwrite)", file=sys.stderr)
            return 2
        import shutil

        shutil.rmtree(out) if out.is_dir() else out.unlink()
    t0 = time.perf_counter()
    if args.source == "household":
        rec = household_recording(args.frames, args.width, args.height, args.seed, args.days, args.realism)
    else:
        rec = synthetic_recording(args.frames, args.width, args.height, args.rate)
    write_bag(rec, out, storage=args.storage, depth_encoding=args.depth_encoding)
    size = sum(p.stat().st_size for p in out.rglob("*")) if out.is_dir() else out.stat().st_size
    print(
        f"wrote {out} ({args.storage}, {len(rec.frames)} frames {rec.intrinsics.width}x{rec.intrinsics.height}, "
        f"{size / 1e6:.2f} MB) in {time.perf_counter() - t0:.1f}s; ground truth: {truth_path(out)}"
    )
    return 0
