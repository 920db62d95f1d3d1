"""``robomem replay``: build memory from a recorded rosbag2 directory or .mcap file.

The bag is read in log-time order with the pure-Python ``rosbags`` library
(:mod:`robomem.io.bag`); messages are decoded by :mod:`robomem.io.rosmsg` (the same decoder the
ROS nodes use), camera streams are grouped by :mod:`robomem.io.sync` and camera poses come
from :mod:`robomem.io.tf_buffer` (``/tf`` + ``/tf_static`` with interpolation, or a pose topic
fed into the same buffer), so a bag replays into the same memory the live nodes would build.

Per frame: depth (+ colour, instance image, labels) synchronised within ``slop`` seconds,
the latest CameraInfo, and ``T_map_camera`` at the depth stamp -> one
:class:`~robomem.observation.Observation` -> :meth:`Memory.update` (one transaction per
frame, so an error mid-bag keeps everything ingested before it).  ``std_msgs/String``
events become :class:`~robomem.observation.Event` (text ``"kind: text"`` or JSON
``{"kind": ..., "text": ...}``; plain text is kind ``event``).

Everything is deterministic: the same bag and config give the same store.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from robomem.cli.args import number
from robomem.config import MemoryConfig, load_yaml
from robomem.errors import ReplayError
from robomem.io import rosmsg
from robomem.io.assembler import AssemblerSettings, ObservationAssembler, Rejected, camera_streams
from robomem.io.bag import ROLE_TYPES, BagError, BagMessage, BagReader, rate_text, suggest_mapping, summarize
from robomem.io.ros_io import RosIoConfig, TopicMap, parse_event
from robomem.observation import Observation
from robomem.places import Place

__all__ = ["ReplayConfig", "ReplayError", "ReplayStats", "TopicMap", "replay", "add_arguments", "run"]


ReplayConfig = RosIoConfig  # replay reads the ros: and replay: sections of the shared config


@dataclass
class ReplayStats:
    bag: str
    messages: int = 0
    frames: int = 0  # observations that entered memory
    events: int = 0
    skipped: dict[str, int] = field(default_factory=dict)  # reason -> count (every skip, for people)
    already_stored: int = 0  # of those, camera messages or frames already in the store (resumed or repeated replay)
    stored_events: int = 0  # and events already in the store
    first_stamp: float | None = None
    last_stamp: float | None = None
    bag_duration_s: float = 0.0
    wall_s: float = 0.0
    objects: int = 0
    error: str | None = None
    # wall seconds by stage: read (the bag's records), deserialize (CDR -> message), assemble (decode images,
    # sync, TF, build the Observation), update (Memory.update); the rest is pacing and bookkeeping
    stage_s: dict[str, float] = field(default_factory=lambda: dict.fromkeys(STAGES, 0.0))

    @property
    def speedup(self) -> float:
        return self.bag_duration_s / self.wall_s if self.wall_s > 0 else float("inf")

    def skip(self, reason: str, n: int = 1) -> None:
        self.skipped[reason] = self.skipped.get(reason, 0) + n

    def to_dict(self) -> dict[str, Any]:
        return {
            "bag": self.bag,
            "messages": self.messages,
            "frames": self.frames,
            "events": self.events,
            "skipped": dict(self.skipped),
            "already_stored": self.already_stored,
            "stored_events": self.stored_events,
            "bag_duration_s": round(self.bag_duration_s, 3),
            "wall_s": round(self.wall_s, 3),
            "speedup": round(self.speedup, 2) if math.isfinite(self.speedup) else None,
            "objects": self.objects,
            "error": self.error,
            "stage_s": {k: round(v, 3) for k, v in self.stage_s.items()},
        }


STAGES = ("read", "deserialize", "assemble", "update")

# -- message handling -------------------------------------------------------------------------
_ALREADY_STORED = "already in the store (resumed after the newest stored frame)"
_EVENT_STORED = "event already in the store (resumed after the newest stored event)"
CLOCK_JUMP_S = 1.0  # a camera stamp this much older than the newest one read is a clock jump, not jitter

_SKIP_TEXT = {
    "no_camera_info": "no CameraInfo before the frame",
    "missing_transform": "no transform at the frame's stamp",
}


class _Replayer:
    """Bag messages -> the shared :class:`~robomem.io.assembler.ObservationAssembler` -> memory.

    What is replay's own: header or log-time stamps, the ``max_frame_rate`` throttle, resuming
    after the newest stored frame, and stopping (ReplayError) on a message that cannot be decoded
    (a damaged bag), where the live node counts and goes on."""

    def __init__(
        self,
        reader: BagReader,
        memory: Any,
        cfg: ReplayConfig,
        stats: ReplayStats,
        on_frame: Callable[[Any], None] | None = None,
    ) -> None:
        self.reader = reader
        self.memory = memory
        self.cfg = cfg
        self.stats = stats
        self.on_frame = on_frame
        # resuming into a store that already holds this robot's frames: skip what it has
        self.resume_after = memory.last_stamp(cfg.robot_id) if hasattr(memory, "last_stamp") else None
        # events have their own mark: those stamped after the last frame were re-applied on every re-run
        last_event = getattr(memory, "last_event_stamp", None)
        self.events_after = last_event(cfg.robot_id) if last_event is not None else None
        if self.events_after is None:
            self.events_after = self.resume_after
        self.newest_camera = -math.inf  # the newest camera stamp read, to tell a clock that jumps back
        self.streams = list(camera_streams(cfg.topics))
        self.log_time = 0.0  # the injected clock: log time of the newest message read
        settings = AssemblerSettings(
            streams=tuple(self.streams),
            map_frame=cfg.map_frame,
            camera_frame=cfg.camera_frame,
            slop=cfg.slop,
            queue_size=cfg.queue_size,
            tf_tolerance=cfg.tf_tolerance,
            tf_wait=cfg.tf_wait,
            max_pending=4 * cfg.queue_size,
            robot_id=cfg.robot_id,
            source=f"bag:{Path(stats.bag).name}",
        )
        self.assembler = ObservationAssembler(settings, lambda: self.log_time)
        self.sync = self.assembler.sync
        self.role_of: dict[str, str] = {}
        for role, topic in cfg.topics.used().items():
            self.role_of.setdefault(topic, role)
        self.last_ingested: float | None = None

    @property
    def last_tf_error(self) -> str | None:
        return self.assembler.last_tf_error

    # -- per message --------------------------------------------------------------------
    def stamp_of(self, msg: Any, bm: BagMessage) -> float:
        if self.cfg.use_header_stamps and hasattr(msg, "header"):
            s = rosmsg.stamp_to_seconds(msg.header.stamp)
            if s > 0:
                return s
        return bm.log_time_ns / 1e9

    def handle(self, bm: BagMessage) -> None:
        role = self.role_of.get(bm.topic)
        if role is None:
            return
        self.log_time = max(self.log_time, bm.log_time_ns / 1e9)
        if role in self.streams and self.cfg.max_frame_rate > 0 and self.last_ingested is not None:
            # throttled: skip camera messages well before the next frame is due, without decoding them
            due = self.last_ingested + 1.0 / self.cfg.max_frame_rate - 2 * self.cfg.slop
            if bm.log_time_ns / 1e9 < due:
                self.stats.skip("camera messages not decoded (max_frame_rate)")
                return
        resume = self.resume_after
        if role in self.streams and resume is not None and bm.log_time_ns / 1e9 < resume - CLOCK_JUMP_S:
            # logged well before the newest stored frame: its frame is stored (header stamps precede log
            # times), so a resumed replay neither decodes nor assembles it
            self.stats.skip(_ALREADY_STORED)
            self.stats.already_stored += 1
            return
        t0 = time.perf_counter()
        msg = self.reader.deserialize(bm)
        t1 = time.perf_counter()
        self.stats.stage_s["deserialize"] += t1 - t0
        where = f"topic {bm.topic} ({role}), message #{bm.index} at t={bm.log_time_ns / 1e9:.3f}s"
        update_before = self.stats.stage_s["update"]
        try:
            self._handle(role, msg, bm, where)
        except (BagError, ReplayError):
            raise
        except ValueError as exc:
            raise ReplayError(f"{where}: {exc}") from exc
        finally:  # what handling took beyond the memory updates it made
            spent = time.perf_counter() - t1 - (self.stats.stage_s["update"] - update_before)
            self.stats.stage_s["assemble"] += spent

    def _handle(self, role: str, msg: Any, bm: BagMessage, where: str) -> None:
        asm = self.assembler
        if role in ("tf", "tf_static"):
            self.take(asm.add_tf(msg, static=(role == "tf_static")))
        elif role == "pose":
            parent = getattr(msg.header, "frame_id", "") or self.cfg.map_frame
            child = self.cfg.pose_child_frame or getattr(msg, "child_frame_id", "") or self.cfg.camera_frame
            self.take(asm.add_pose(msg, self.stamp_of(msg, bm), parent, child))
        elif role == "camera_info":
            self.take(asm.add_camera_info(msg))
        elif role == "events":
            stamp = bm.log_time_ns / 1e9
            resume = self.events_after
            if resume is not None and stamp <= resume:
                self.stats.skip(_EVENT_STORED)
                self.stats.stored_events += 1
                return
            self.memory.add_event(parse_event(str(msg.data), stamp, self.cfg.robot_id))
            self.stats.events += 1
        elif role in self.streams:
            stamp = self.stamp_of(msg, bm)
            if stamp < self.newest_camera - CLOCK_JUMP_S:
                # not a sync miss: the sensor clock went back (a reset, a merged bag); memory is built in time order
                self.stats.skip(
                    f"camera stamp went back in time (clock jump of more than {CLOCK_JUMP_S:g} s; frame dropped)"
                )
                return
            self.newest_camera = max(self.newest_camera, stamp)
            before = asm.unlabeled
            outcomes = asm.add(role, stamp, msg, where)
            if asm.unlabeled > before:
                self.stats.skip("instance ids without a label (pixels ignored)", asm.unlabeled - before)
            self.take(outcomes)

    # -- frames -> memory ----------------------------------------------------------------------
    def resolve(self, final: bool) -> None:
        """Ingest waiting frames whose pose is known (all of them at the end of the bag)."""
        self.take(self.assembler.poll(final=final))

    def take(self, outcomes: list[Observation | Rejected]) -> None:
        for o in outcomes:
            if isinstance(o, Observation):
                self.ingest(o)
            elif o.reason in _SKIP_TEXT:
                self.stats.skip(_SKIP_TEXT[o.reason])
            else:  # bad_image, invalid_observation: the bag is damaged here
                raise ReplayError(f"{o.where}: {o.detail}")

    def ingest(self, obs: Observation) -> None:
        resume = self.resume_after
        if resume is not None and obs.stamp <= resume:
            self.stats.skip(_ALREADY_STORED)
            self.stats.already_stored += 1
            return
        period = 1.0 / self.cfg.max_frame_rate if self.cfg.max_frame_rate > 0 else 0.0
        if period and self.last_ingested is not None and obs.stamp - self.last_ingested < period - 1e-6:
            self.stats.skip("throttled by max_frame_rate")
            return
        t0 = time.perf_counter()
        result = self.memory.update(obs)
        self.stats.stage_s["update"] += time.perf_counter() - t0
        self.stats.frames += 1
        self.last_ingested = obs.stamp
        self.stats.first_stamp = obs.stamp if self.stats.first_stamp is None else self.stats.first_stamp
        self.stats.last_stamp = obs.stamp
        if self.on_frame is not None:
            self.on_frame(result)


def check_topics(reader: BagReader, cfg: ReplayConfig) -> tuple[ReplayConfig, list[str]]:
    """Verify the configured topics against the bag: a topic the user named that is missing,
    or one with the wrong message type, is an error naming it; a default that is missing is
    dropped with a warning.  Relative names are the root namespace's (``camera/...`` is
    ``/camera/...`` in a bag)."""
    cfg = replace(cfg, topics=cfg.topics.absolute())
    warnings: list[str] = []
    drop: dict[str, str] = {}
    in_bag = reader.topics
    listing = ", ".join(f"{t} [{ty}]" for t, ty in sorted(in_bag.items())) or "(none)"
    used = cfg.topics.used()
    if cfg.pose_source == "tf":
        used.pop("pose", None)
    else:
        used.pop("tf", None)
    for role, topic in used.items():
        required = role in ("depth", "camera_info") or (role == "pose" and cfg.pose_source == "topic")
        if topic not in in_bag:
            if required or (role in cfg.explicit and role not in ("tf", "tf_static")):
                raise ReplayError(
                    f"topic {topic} ({role}) is not in the bag {reader.path}; topics in the bag: {listing}. "
                    f"Fix ros.topics.{role} in the config or the --{role.replace('_', '-')} flag "
                    f"(run `robomem replay --inspect {reader.path}` for a suggested mapping)"
                )
            if role not in ("tf_static",):
                warnings.append(f"topic {topic} ({role}) is not in the bag; replaying without it")
            drop[role] = ""
            continue
        have = in_bag[topic]
        if have not in ROLE_TYPES[role]:
            raise ReplayError(f"topic {topic} ({role}) has type {have}; expected {' or '.join(ROLE_TYPES[role])}")
        if not reader.has_type(have):
            raise ReplayError(f"topic {topic} ({role}): the bag has no definition of {have} and it is not built in")
    if cfg.pose_source == "tf" and "tf" in drop and "tf_static" in drop:
        raise ReplayError(
            f"no /tf or /tf_static in the bag {reader.path}: camera poses cannot be known; "
            f"use a pose topic (--pose-topic) instead; topics in the bag: {listing}"
        )
    topics = replace(cfg.topics, **{k: v for k, v in drop.items() if k in {f.name for f in fields(TopicMap)}})
    return replace(cfg, topics=topics), warnings


def replay(
    bag: str | Path,
    memory: Any,
    cfg: ReplayConfig | None = None,
    progress: bool = False,
    on_frame: Callable[[Any], None] | None = None,
    log: Callable[[str], None] | None = None,
) -> ReplayStats:
    """Replay ``bag`` into an open :class:`~robomem.memory.Memory`. Raises :class:`ReplayError`
    (or :class:`~robomem.io.bag.BagError`) naming topic and offset; what was ingested stays."""
    cfg = cfg or ReplayConfig()
    say = log or (lambda s: None)
    stats = ReplayStats(str(bag))
    t_wall = time.perf_counter()
    with BagReader(bag) as reader:
        cfg, warnings = check_topics(reader, cfg)
        for w in warnings:
            say(f"warning: {w}")
        rp = _Replayer(reader, memory, cfg, stats, on_frame)
        wanted = set(rp.role_of)
        total = sum(int(c.msgcount) for c in reader.connections if c.topic in wanted)
        stats.bag_duration_s = max(0.0, (reader.end_ns - reader.start_ns) / 1e9)
        bar = _progress(total, progress)
        # pace from the first message the store does not hold yet: a resumed replay at --rate 1 used to
        # sleep through the already-stored prefix in real time
        resume = rp.resume_after if rp.resume_after is not None else -math.inf
        pace_from: tuple[int, float] | None = None  # (log time, wall time) of the first paced message
        messages = iter(reader.messages(wanted))
        try:
            while True:
                t_read = time.perf_counter()
                bm = next(messages, None)
                stats.stage_s["read"] += time.perf_counter() - t_read
                if bm is None:
                    break
                if cfg.rate > 0 and bm.log_time_ns / 1e9 > resume:
                    if pace_from is None:
                        pace_from = (bm.log_time_ns, time.perf_counter())
                    ahead = (bm.log_time_ns - pace_from[0]) / 1e9 / cfg.rate - (time.perf_counter() - pace_from[1])
                    if ahead > 0:
                        time.sleep(ahead)
                rp.handle(bm)
                stats.messages += 1
                if bar is not None:
                    bar.update(1)
                    if stats.messages % 20 == 0:
                        bar.set_postfix(frames=stats.frames, refresh=False)
            rp.resolve(final=True)
        except BagError as exc:
            stats.error = str(exc)
            rp.resolve(final=True)  # frames complete before the damage still enter memory
            raise
        finally:
            if bar is not None:
                bar.set_postfix(frames=stats.frames)
                bar.close()
            stats.wall_s = time.perf_counter() - t_wall
            stats.objects = len(memory.objects())
        dropped = getattr(rp.sync, "dropped", 0)
        if dropped:
            stats.skip("camera messages without a match within slop (sync)", int(dropped))
        # every skip was of something already stored, and there was something (a re-run over a complete store)
        up_to_date = (
            stats.already_stored > 0 and sum(stats.skipped.values()) == stats.already_stored + stats.stored_events
        )
        if stats.frames == 0 and not up_to_date:  # a re-run over a store that holds the whole bag is fine
            pend = rp.sync.pending()
            counts = ", ".join(f"{n}: {k} waiting" for n, k in zip(rp.streams, pend, strict=False))
            why = rp.last_tf_error or "; ".join(f"{k} ({v})" for k, v in stats.skipped.items()) or "no synced frames"
            raise ReplayError(
                f"no frame entered memory from {bag}: {why}. Streams synchronised: {', '.join(rp.streams)} "
                f"({counts}); pose: {cfg.map_frame} <- {cfg.camera_frame or 'the depth header frame'} "
                f"via {cfg.pose_source}"
            )
    return stats


def _progress(total: int, enabled: bool) -> Any:
    if not enabled:
        return None
    try:
        from tqdm import tqdm
    except ImportError:  # pragma: no cover - tqdm is a dependency
        return None
    return tqdm(total=total, unit="msg", desc="replay", dynamic_ncols=True, mininterval=0.25)


# -- places ------------------------------------------------------------------------------------
def load_places(path: str | Path) -> list[Place]:
    """Places from a ``*.truth.json`` side file or a YAML/JSON file with ``places: [{name, min, max}]``."""
    p = Path(path)
    data = json.loads(p.read_text()) if p.suffix == ".json" else load_yaml(p)
    items = data.get("places", []) if isinstance(data, dict) else data
    out = []
    for i, d in enumerate(items or []):
        try:
            out.append(Place(str(d["name"]), tuple(d["min"]), tuple(d["max"])))  # type: ignore[arg-type]
        except (KeyError, TypeError) as exc:
            raise ValueError(f"{p}: places[{i}]: expected {{name, min: [x, y], max: [x, y]}}, got {d!r}") from exc
    return out


# -- command line ----------------------------------------------------------------------------
def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("bag", help="rosbag2 directory (sqlite3 or MCAP storage) or a .mcap file")
    parser.add_argument("--store", help="memory store directory to build (required unless --inspect)")
    parser.add_argument(
        "--inspect", action="store_true", help="list topics, types, counts and rates; suggest a mapping"
    )
    parser.add_argument("--config", help="YAML config (config/robomem.yaml): memory:, ros: topics/frames, replay:")
    parser.add_argument(
        "--rate",
        type=number(lo=0.0),
        default=None,
        help="playback rate (1.0 = recorded rate; 0 or default: as fast as possible)",
    )
    parser.add_argument(
        "--max-frame-rate",
        type=number(lo=0.0),
        default=None,
        help="ingest at most this many frames per second of sensor time (0 or default: all)",
    )
    for role in ("color", "depth", "camera_info", "instances", "labels", "events", "detections"):
        parser.add_argument(
            f"--{role.replace('_', '-')}", dest=f"topic_{role}", metavar="TOPIC", help=f"{role} topic ('' to ignore)"
        )
    parser.add_argument(
        "--pose-topic", help="read camera/robot poses from this PoseStamped/Odometry topic instead of /tf"
    )
    parser.add_argument("--map-frame", help="world frame (default: map)")
    parser.add_argument("--camera-frame", help="camera optical frame (default: the depth image's header.frame_id)")
    parser.add_argument("--slop", type=number(lo=0.0, lo_open=True), help="sync tolerance in seconds (default 0.05)")
    parser.add_argument("--places", help="places (rooms) from a .truth.json or YAML with places: [{name, min, max}]")
    parser.add_argument("--robot-id", help="robot id for the observations (default: robot)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("--json", action="store_true", help="print the summary (or --inspect listing) as JSON")


def config_from_args(args: argparse.Namespace) -> ReplayConfig:
    cfg = ReplayConfig.from_yaml(args.config) if args.config else ReplayConfig()
    topics = cfg.topics
    explicit = set(cfg.explicit)
    for role in ("color", "depth", "camera_info", "instances", "labels", "events", "detections"):
        v = getattr(args, f"topic_{role}")
        if v is not None:
            topics = replace(topics, **{role: v})
            if v:
                explicit.add(role)
            if role == "detections" and v:
                topics = replace(topics, instances="", labels="")
    kw: dict[str, Any] = {"topics": topics, "explicit": frozenset(explicit)}
    if args.pose_topic:
        kw["topics"] = replace(topics, pose=args.pose_topic)
        kw["pose_source"] = "topic"
    for name in ("map_frame", "camera_frame", "slop", "rate", "max_frame_rate", "robot_id"):
        v = getattr(args, name)
        if v is not None:
            kw[name] = v
    return replace(cfg, **kw)


def _print_inspect(bag: str, as_json: bool) -> int:
    with BagReader(bag) as reader:
        summary = summarize(reader)
    mapping = suggest_mapping(summary)
    if as_json:
        print(json.dumps({**summary.to_dict(), "suggested": mapping}, indent=2))
        return 0
    print(f"bag {summary.path} ({summary.storage}): {summary.message_count} messages, {summary.duration_s:.2f} s")
    if reader.truncated:
        print(f"  WARNING: the bag is truncated at {reader.truncated}; counts cover the readable part")
    w = max([len(t.topic) for t in summary.topics] + [5])
    tw = max([len(t.msgtype) for t in summary.topics] + [4])
    print(f"  {'topic':<{w}}  {'type':<{tw}}  {'count':>7}  rate")
    for t in summary.topics:
        print(f"  {t.topic:<{w}}  {t.msgtype:<{tw}}  {t.count:>7}  {rate_text(t.rate_hz)}")
    print("suggested mapping (ros.topics in config/robomem.yaml, or flags):")
    print("ros:\n  topics:")
    for role in [f.name for f in fields(TopicMap)]:
        if role in mapping:
            print(f"    {role}: {mapping[role]}")
    if "tf" not in mapping and "pose" in mapping:
        print("  pose:\n    source: topic")
    flags = " ".join(f"--{r.replace('_', '-')} {t}" for r, t in mapping.items() if r not in ("tf", "tf_static", "pose"))
    print(
        f"flags: robomem replay {bag} --store STORE {flags}"
        + (f" --pose-topic {mapping['pose']}" if "tf" not in mapping and "pose" in mapping else "")
    )
    return 0


def run(args: argparse.Namespace) -> int:
    err = sys.stderr
    try:
        if args.inspect:
            return _print_inspect(args.bag, args.json)
        if not args.store:
            print("robomem replay: --store PATH is required (or use --inspect)", file=err)
            return 2
        cfg = config_from_args(args)
        mem_cfg = MemoryConfig.from_yaml(args.config) if args.config else None
        places = load_places(args.places) if args.places else None
    except (BagError, ValueError) as exc:
        print(f"robomem replay: error: {exc}", file=err)
        return 2
    from robomem.memory import Memory

    try:
        memory = Memory.open(args.store, mem_cfg)
    except Exception as exc:
        print(f"robomem replay: cannot open store {args.store}: {exc}", file=err)
        return 2
    stats: ReplayStats | None = None
    code = 0
    frames_before = memory.frames.count()
    try:
        if places:
            memory.set_places(places)
        stats = replay(
            args.bag, memory, cfg, progress=not args.no_progress and not args.json, log=lambda s: print(s, file=err)
        )
    except (ReplayError, BagError) as exc:
        code = 1
        n = memory.frames.count() - frames_before
        print(f"robomem replay: error: {exc}", file=err)
        print(f"robomem replay: stopped; {n} frames ingested before the error are kept in {args.store}", file=err)
    except KeyboardInterrupt:
        code = 130
        print(f"robomem replay: interrupted; frames ingested so far are kept in {args.store}", file=err)
    finally:
        memory.close()
    if stats is not None:
        if args.json:
            print(json.dumps(stats.to_dict(), indent=2))
        else:
            _print_stats(stats, args.store)
    return code


def _print_stats(s: ReplayStats, store: str) -> None:
    speed = f"{s.speedup:.1f}x real time" if math.isfinite(s.speedup) else "-"
    print(
        f"replayed {s.bag}: {s.frames} frames, {s.events} events from {s.messages} messages "
        f"({s.bag_duration_s:.1f} s of log in {s.wall_s:.1f} s = {speed}); {s.objects} objects in {store}"
    )
    for reason, n in sorted(s.skipped.items()):
        print(f"  skipped {n}: {reason}")
