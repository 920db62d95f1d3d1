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
from dataclasses import fields, replace
from pathlib import Path
from typing import Any

from robomem.cli.args import number
from robomem.config import MemoryConfig, load_yaml
from robomem.errors import ReplayError
from robomem.io.bag import ROLE_TYPES, BagError, BagReader, rate_text, suggest_mapping, summarize
from robomem.io.replay_decode import (
    STAGES,
    Decoder,
    MemorySink,
    ReplayStats,
    can_decode_in_process,
    decode_bag,
    decode_in_process,
)
from robomem.io.ros_io import RosIoConfig, TopicMap
from robomem.places import Place

__all__ = ["STAGES", "ReplayConfig", "ReplayError", "ReplayStats", "TopicMap", "replay", "add_arguments", "run"]


ReplayConfig = RosIoConfig  # replay reads the ros: and replay: sections of the shared config


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
    (or :class:`~robomem.io.bag.BagError`) naming topic and offset; what was ingested stays.

    With ``cfg.decoder == "process"`` (the default, where ``fork`` and a second core exist) a child process reads and
    decodes the bag beside this one's memory updates (:mod:`robomem.io.replay_decode`); the store
    is the same either way."""
    cfg = cfg or ReplayConfig()
    say = log or (lambda s: None)
    stats = ReplayStats(str(bag))
    t_wall = time.perf_counter()
    sink = MemorySink(memory, stats, on_frame)
    # resuming into a store that already holds this robot's frames: skip what it has
    resume_after = memory.last_stamp(cfg.robot_id) if hasattr(memory, "last_stamp") else None
    last_event = getattr(memory, "last_event_stamp", None)
    events_after = last_event(cfg.robot_id) if last_event is not None else None
    with BagReader(bag) as reader:
        cfg, warnings = check_topics(reader, cfg)
        for w in warnings:
            say(f"warning: {w}")
        dec = Decoder(reader, cfg, stats, sink, resume_after, events_after)
        total = sum(int(c.msgcount) for c in reader.connections if c.topic in dec.role_of)
        stats.bag_duration_s = max(0.0, (reader.end_ns - reader.start_ns) / 1e9)
        bar = _progress(total, progress)
        shown = [0]

        def on_message(n: int) -> None:
            if bar is not None and n > shown[0]:
                bar.update(n - shown[0])
                shown[0] = n
                bar.set_postfix(frames=stats.frames, refresh=False)

        try:
            if cfg.decoder == "process" and can_decode_in_process():
                end = decode_in_process(bag, cfg, resume_after, events_after, sink, stats, on_message)
            else:
                end = decode_bag(reader, dec, on_message if bar is not None else None)
        finally:
            if bar is not None:
                bar.set_postfix(frames=stats.frames)
                bar.close()
            stats.wall_s = time.perf_counter() - t_wall
            stats.objects = len(memory.objects())
    if end.dropped:
        stats.skip("camera messages without a match within slop (sync)", end.dropped)
    # every skip was of something already stored, and there was something (a re-run over a complete store)
    up_to_date = stats.already_stored > 0 and sum(stats.skipped.values()) == stats.already_stored + stats.stored_events
    if stats.frames == 0 and not up_to_date:  # a re-run over a store that holds the whole bag is fine
        counts = ", ".join(f"{n}: {k} waiting" for n, k in zip(dec.streams, end.pending, strict=False))
        why = end.last_tf_error or "; ".join(f"{k} ({v})" for k, v in stats.skipped.items()) or "no synced frames"
        raise ReplayError(
            f"no frame entered memory from {bag}: {why}. Streams synchronised: {', '.join(dec.streams)} "
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
    parser.add_argument(
        "--decoder",
        choices=("process", "inline"),
        help="process (default): decode the bag in a forked child beside the memory updates (1.6x on an idle "
        "2-core machine); inline: one process",
    )
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
    for name in ("map_frame", "camera_frame", "slop", "rate", "max_frame_rate", "robot_id", "decoder"):
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
