"""Reading ROS 2 bags (rosbag2 sqlite3 / MCAP directories and bare .mcap files).

Reading uses the pure-Python ``rosbags`` library; no ROS installation is needed.
Message *decoding* (Image -> numpy, CameraInfo -> Intrinsics, ...) is not here: it is
shared with the ROS nodes in :mod:`robomem.io.rosmsg`.  This module only opens bags,
resolves message types and summarises topics (``robomem replay --inspect``).  Writing
bags (``robomem record``, the test fixtures, the benchmark) is :mod:`robomem.io.bag_writer`.

Types: a bag that carries its message definitions (rosbag2 version >= 9, MCAP) is
decoded with those; otherwise the ROS 2 Humble standard types are used, plus
``robomem_interfaces/msg/InstanceLabels``, registered here from its ``.msg`` text.
"""

from __future__ import annotations

import contextlib
import math
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from robomem.errors import BagError

__all__ = [
    "INSTANCE_LABELS_MSG",
    "INSTANCE_LABELS_TYPE",
    "BagError",
    "BagMessage",
    "BagReader",
    "BagSummary",
    "TopicStat",
    "make_typestore",
    "summarize",
]

INSTANCE_LABELS_TYPE = "robomem_interfaces/msg/InstanceLabels"
# Same text as ros/robomem_interfaces/msg/InstanceLabels.msg (the contract with the ROS nodes).
INSTANCE_LABELS_MSG = """\
std_msgs/Header header
uint32[] ids
string[] labels
float32[] scores
"""

# Roles a topic can play in replay, and the message types that can fill each.
ROLE_TYPES: dict[str, tuple[str, ...]] = {
    "color": ("sensor_msgs/msg/Image",),
    "depth": ("sensor_msgs/msg/Image",),
    "camera_info": ("sensor_msgs/msg/CameraInfo",),
    "instances": ("sensor_msgs/msg/Image",),
    "labels": (INSTANCE_LABELS_TYPE,),
    "events": ("std_msgs/msg/String",),
    "tf": ("tf2_msgs/msg/TFMessage",),
    "tf_static": ("tf2_msgs/msg/TFMessage",),
    "pose": ("geometry_msgs/msg/PoseStamped", "nav_msgs/msg/Odometry", "geometry_msgs/msg/PoseWithCovarianceStamped"),
    "detections": ("vision_msgs/msg/Detection2DArray",),
}


def _import_rosbags() -> Any:
    try:
        import rosbags  # noqa: F401
    except ImportError as exc:  # pragma: no cover - rosbags is a declared extra
        raise BagError("reading bags needs the 'rosbags' package: pip install 'robomem[replay]'") from exc


def make_typestore(extra: Mapping[str, Any] | None = None) -> Any:
    """ROS 2 Humble standard types + InstanceLabels (+ ``extra`` fielddefs, which win)."""
    _import_rosbags()
    from rosbags.typesys import Stores, get_types_from_msg, get_typestore

    ts = get_typestore(Stores.ROS2_HUMBLE)
    ts.register(get_types_from_msg(INSTANCE_LABELS_MSG, INSTANCE_LABELS_TYPE))
    if extra:
        # Bag definitions win over the built-in ones (a robot may run another distro).
        fresh = {k: v for k, v in extra.items() if k not in ts.fielddefs or ts.fielddefs[k] != v}
        if fresh:
            merged = dict(ts.fielddefs)
            merged.update(fresh)
            ts = get_typestore(Stores.EMPTY)
            ts.register(merged)
    return ts


# -- reading ------------------------------------------------------------------------------
@dataclass(frozen=True)
class BagMessage:
    index: int  # 0-based position in the bag's time-ordered stream
    topic: str
    msgtype: str
    log_time_ns: int
    raw: bytes | memoryview


@dataclass(frozen=True)
class TopicStat:
    topic: str
    msgtype: str
    count: int
    first_s: float | None
    last_s: float | None

    @property
    def rate_hz(self) -> float | None:
        if self.count < 2 or self.first_s is None or self.last_s is None or self.last_s <= self.first_s:
            return None
        return (self.count - 1) / (self.last_s - self.first_s)


@dataclass(frozen=True)
class BagSummary:
    path: str
    storage: str
    start_s: float
    end_s: float
    message_count: int
    topics: tuple[TopicStat, ...]

    @property
    def duration_s(self) -> float:
        return max(0.0, self.end_s - self.start_s)

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "storage": self.storage,
            "start": self.start_s,
            "end": self.end_s,
            "duration": self.duration_s,
            "messages": self.message_count,
            "topics": [
                {"topic": t.topic, "type": t.msgtype, "count": t.count, "rate_hz": t.rate_hz} for t in self.topics
            ],
        }


def _storage_of(path: Path) -> str:
    if path.is_file():
        return "mcap" if path.suffix == ".mcap" else "db3" if path.suffix == ".db3" else path.suffix.lstrip(".")
    files = sorted(p.suffix for p in path.iterdir() if p.is_file())
    if ".mcap" in files:
        return "mcap"
    if ".db3" in files:
        return "sqlite3"
    return "unknown"


class BagReader:
    """A bag opened for reading: topics, counts, and messages in time order.

    ``BagReader(path)`` accepts a rosbag2 directory (metadata.yaml + .db3 or .mcap files)
    or a bare ``.mcap`` file.  Errors are :class:`BagError` naming the bag.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        _import_rosbags()
        from rosbags.highlevel import AnyReader

        self.path = Path(path)
        if not self.path.exists():
            raise BagError(f"bag {self.path}: no such file or directory")
        if self.path.is_file() and self.path.suffix not in (".mcap",):
            raise BagError(f"bag {self.path}: not a bag; give a rosbag2 directory (with metadata.yaml) or a .mcap file")
        if self.path.is_dir() and not (self.path / "metadata.yaml").exists():
            mcaps = sorted(self.path.glob("*.mcap"))
            if len(mcaps) == 1:
                self.path = mcaps[0]  # a directory holding one MCAP file without metadata
            else:
                raise BagError(f"bag {self.path}: directory has no metadata.yaml (not a rosbag2 bag)")
        self.storage = _storage_of(self.path)
        self.truncated: str | None = None  # set when a truncated MCAP is read record by record
        self._reader = AnyReader([self.path])
        try:
            self._reader.open()
        except Exception as exc:
            self._reader = None
            if not (self.path.is_file() and self.path.suffix == ".mcap" and _has_mcap_magic(self.path)):
                raise BagError(f"bag {self.path}: cannot open ({self.storage}): {type(exc).__name__}: {exc}") from exc
            self._open_stream(exc)
            return
        self.typestore = make_typestore(self._reader.typestore.fielddefs)
        self.connections = list(self._reader.connections)
        self.topics: dict[str, str] = {}
        for c in self.connections:
            self.topics.setdefault(c.topic, c.msgtype)

    # -- a truncated MCAP (a recording that crashed): read records in file order ----------
    def _open_stream(self, cause: Exception) -> None:
        """No summary/footer: scan the records that are there (schemas, channels, counts)."""
        from rosbags.typesys import get_types_from_msg

        self.storage = "mcap (truncated, read sequentially)"
        self._stream_types: dict[int, str] = {}
        self._stream_topics: dict[int, str] = {}
        counts: dict[int, int] = {}
        defs: dict[str, Any] = {}
        first = last = None
        self.truncated = None
        for kind, rec, _offset in self._stream_records():
            if kind == "error":
                self.truncated = rec
                break
            if kind == "schema" and rec.encoding == "ros2msg":
                with contextlib.suppress(Exception):  # an unparsable definition: that topic stays unknown
                    defs.update(get_types_from_msg(rec.data.decode(), rec.name))
            elif kind == "message":
                counts[rec.channel_id] = counts.get(rec.channel_id, 0) + 1
                first = rec.log_time if first is None else min(first, rec.log_time)
                last = rec.log_time if last is None else max(last, rec.log_time)
        if not counts and self.truncated:
            raise BagError(f"bag {self.path}: cannot open (mcap): {cause}; no complete message before {self.truncated}")
        self.typestore = make_typestore(defs)
        self.topics = {self._stream_topics[c]: self._stream_types[c] for c in sorted(self._stream_topics)}
        self.connections = [
            _StreamConnection(self._stream_topics[c], self._stream_types[c], counts.get(c, 0))
            for c in sorted(self._stream_topics)
        ]
        self._stream_range = (int(first or 0), int(last or 0))

    def _stream_records(self) -> Iterator[tuple[str, Any, int]]:
        from mcap.records import Channel, Message, Schema
        from mcap.stream_reader import StreamReader

        schemas: dict[int, str] = {}
        with open(self.path, "rb") as f:
            it = iter(StreamReader(f).records)
            while True:
                try:
                    rec = next(it)
                except StopIteration:
                    return
                except Exception as exc:
                    yield (
                        "error",
                        f"byte offset {f.tell()} ({type(exc).__name__}{': ' + str(exc) if str(exc) else ''})",
                        0,
                    )
                    return
                if isinstance(rec, Schema):
                    schemas[rec.id] = rec.name
                    yield "schema", rec, f.tell()
                elif isinstance(rec, Channel):
                    self._stream_topics[rec.id] = rec.topic
                    self._stream_types[rec.id] = schemas.get(rec.schema_id, "")
                elif isinstance(rec, Message):
                    yield "message", rec, f.tell()

    def __enter__(self) -> BagReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        reader, self._reader = getattr(self, "_reader", None), None
        if reader is not None:
            with contextlib.suppress(Exception):  # closing a broken bag
                reader.close()

    @property
    def message_count(self) -> int:
        return int(sum(c.msgcount for c in self.connections))

    @property
    def start_ns(self) -> int:
        if self._reader is None:
            return self._stream_range[0]
        return int(self._reader.start_time) if self.message_count else 0

    @property
    def end_ns(self) -> int:
        if self._reader is None:
            return self._stream_range[1]
        return int(self._reader.end_time) if self.message_count else 0

    def has_type(self, msgtype: str) -> bool:
        return msgtype in self.typestore.fielddefs

    def messages(self, topics: set[str] | None = None) -> Iterator[BagMessage]:
        """Messages of ``topics`` (all when None) in log-time order.

        A storage error mid-way raises :class:`BagError` naming the offset (the index and
        time of the last message read and its topic); messages before it were yielded.
        """
        if self._reader is None:
            yield from self._stream_messages(topics)
            return
        conns = [c for c in self.connections if topics is None or c.topic in topics]
        index = -1
        last: tuple[str, int] | None = None
        it = self._reader.messages(connections=conns) if conns else iter(())
        while True:
            try:
                conn, t, raw = next(it)
            except StopIteration:
                return
            except Exception as exc:
                where = (
                    f"after message #{index} (topic {last[0]}, t={last[1] / 1e9:.3f}s)"
                    if last
                    else "before the first message"
                )
                raise BagError(
                    f"bag {self.path}: storage error {where}: {type(exc).__name__}: {exc}; the bag is corrupt or truncated"
                ) from exc
            index += 1
            last = (conn.topic, int(t))
            yield BagMessage(index, conn.topic, conn.msgtype, int(t), raw)

    def _stream_messages(self, topics: set[str] | None) -> Iterator[BagMessage]:
        index = -1
        last: tuple[str, int] | None = None
        for kind, rec, _offset in self._stream_records():
            if kind == "error":
                where = f"after message #{index} (topic {last[0]}, t={last[1] / 1e9:.3f}s)" if last else "at the start"
                raise BagError(f"bag {self.path}: truncated MCAP: stopped at {rec}, {where}; the recording was cut off")
            if kind != "message":
                continue
            topic = self._stream_topics.get(rec.channel_id, "")
            index += 1
            last = (topic, int(rec.log_time))
            if topics is None or topic in topics:
                yield BagMessage(index, topic, self._stream_types.get(rec.channel_id, ""), int(rec.log_time), rec.data)

    def deserialize(self, msg: BagMessage) -> Any:
        """Decode one message's CDR bytes; errors name the topic, type and offset."""
        if msg.msgtype not in self.typestore.fielddefs:
            raise BagError(
                f"bag {self.path}: topic {msg.topic}: message type {msg.msgtype} is unknown "
                f"(its definition is not in the bag); at message #{msg.index}, t={msg.log_time_ns / 1e9:.3f}s"
            )
        try:
            return self.typestore.deserialize_cdr(msg.raw, msg.msgtype)
        except Exception as exc:
            raise BagError(
                f"bag {self.path}: topic {msg.topic}: cannot decode {msg.msgtype} at message #{msg.index} "
                f"(t={msg.log_time_ns / 1e9:.3f}s): {type(exc).__name__}: {exc}"
            ) from exc


@dataclass(frozen=True)
class _StreamConnection:
    topic: str
    msgtype: str
    msgcount: int


def _has_mcap_magic(path: Path) -> bool:
    with open(path, "rb") as f:
        return f.read(8) == b"\x89MCAP0\r\n"


def summarize(reader: BagReader) -> BagSummary:
    """Topics, types, counts and rates (rates from log times; no message is decoded)."""
    firsts: dict[str, int] = {}
    lasts: dict[str, int] = {}
    counts: dict[str, int] = {}
    for c in reader.connections:
        counts[c.topic] = counts.get(c.topic, 0) + int(c.msgcount)
    try:
        for m in reader.messages():
            firsts.setdefault(m.topic, m.log_time_ns)
            lasts[m.topic] = m.log_time_ns
    except BagError:
        pass  # a truncated bag: summarise what is readable (reader.truncated says where it ends)
    stats = tuple(
        TopicStat(
            topic,
            reader.topics[topic],
            counts.get(topic, 0),
            firsts[topic] / 1e9 if topic in firsts else None,
            lasts[topic] / 1e9 if topic in lasts else None,
        )
        for topic in sorted(reader.topics)
    )
    return BagSummary(
        str(reader.path), reader.storage, reader.start_ns / 1e9, reader.end_ns / 1e9, reader.message_count, stats
    )


def suggest_mapping(summary: BagSummary) -> dict[str, str]:
    """Guess which topic plays which replay role, from types and names."""
    out: dict[str, str] = {}
    by_type: dict[str, list[str]] = {}
    for t in summary.topics:
        by_type.setdefault(t.msgtype, []).append(t.topic)
    images = by_type.get("sensor_msgs/msg/Image", [])

    def pick(cands: list[str], *words: str, avoid: tuple[str, ...] = ()) -> str | None:
        for w in words:
            for c in cands:
                low = c.lower()
                if w in low and not any(a in low for a in avoid) and c not in out.values():
                    return c
        return None

    for role, words, avoid in (
        ("depth", ("depth",), ("color", "rgb", "info")),
        ("instances", ("instance", "segment", "label", "mask", "semantic"), ("depth",)),
        ("color", ("color", "rgb", "image"), ("depth", "instance", "mask")),
    ):
        c = pick(images, *words, avoid=avoid)
        if c:
            out[role] = c
    infos = by_type.get("sensor_msgs/msg/CameraInfo", [])
    c = pick(infos, "color", "rgb", "depth", "camera") or (infos[0] if infos else None)
    if c:
        out["camera_info"] = c
    for role in ("labels", "events", "detections"):
        cands = [t for ty in ROLE_TYPES[role] for t in by_type.get(ty, [])]
        if role == "events":
            cands = sorted(cands, key=lambda t: ("event" not in t, t))
        if cands:
            out[role] = cands[0]
    tfs = by_type.get("tf2_msgs/msg/TFMessage", [])
    for t in tfs:
        out["tf_static" if "static" in t else "tf"] = t
    poses = [t for ty in ROLE_TYPES["pose"] for t in by_type.get(ty, [])]
    if poses and "tf" not in out:
        out["pose"] = poses[0]
    return out


def rate_text(hz: float | None) -> str:
    return "-" if hz is None or not math.isfinite(hz) else f"{hz:.1f} Hz"
