"""Reading and writing ROS 2 bags (rosbag2 sqlite3 / MCAP directories and bare .mcap files).

Reading uses the pure-Python ``rosbags`` library; no ROS installation is needed.
Message *decoding* (Image -> numpy, CameraInfo -> Intrinsics, ...) is not here: it is
shared with the ROS nodes in :mod:`robomem.io.rosmsg`.  This module only opens bags,
resolves message types, summarises topics (``robomem replay --inspect``), and writes
bags for ``robomem record``, the test fixtures and the benchmark.

Types: a bag that carries its message definitions (rosbag2 version >= 9, MCAP) is
decoded with those; otherwise the ROS 2 Humble standard types are used, plus
``robomem_interfaces/msg/InstanceLabels``, registered here from its ``.msg`` text.
"""

from __future__ import annotations

import contextlib
import math
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from robomem.errors import BagError
from robomem.observation import InstanceInfo, Intrinsics, Pose

__all__ = [
    "INSTANCE_LABELS_MSG",
    "INSTANCE_LABELS_TYPE",
    "BagError",
    "BagMessage",
    "BagReader",
    "BagSummary",
    "BagWriter",
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


# -- writing ------------------------------------------------------------------------------
def _split_stamp(stamp: float) -> tuple[int, int]:
    ns = round(stamp * 1e9)
    return ns // 1_000_000_000, ns % 1_000_000_000


@dataclass
class BagWriter:
    """Write ROS 2 messages to a bag: ``storage='mcap'`` (a single zstd-chunked .mcap file,
    what ``ros2 bag record -s mcap`` makes) or ``'sqlite3'`` (a rosbag2 directory with .db3).

    Builders (``image``, ``camera_info``, ``tf``, ...) return rosbags message objects; ``write``
    serialises one with the bag's typestore and stores it at its log time.
    """

    path: Path
    storage: str = "mcap"
    compress: bool = True
    _ts: Any = field(init=False, repr=False)
    _channels: dict[str, Any] = field(init=False, default_factory=dict, repr=False)
    _writer: Any = field(init=False, default=None, repr=False)
    _file: Any = field(init=False, default=None, repr=False)

    def __post_init__(self) -> None:
        self.path = Path(self.path)
        if self.storage not in ("mcap", "sqlite3"):
            raise ValueError(f"BagWriter.storage: expected 'mcap' or 'sqlite3', got {self.storage!r}")
        self._ts = make_typestore()
        if self.path.exists():
            raise FileExistsError(f"bag {self.path} already exists")
        if self.storage == "mcap":
            from mcap.writer import CompressionType
            from mcap.writer import Writer as McapWriter

            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file = open(self.path, "wb")  # noqa: SIM115 - closed in close()
            self._writer = McapWriter(
                self._file, compression=CompressionType.ZSTD if self.compress else CompressionType.NONE
            )
            self._writer.start(profile="ros2", library="robomem")
        else:
            from rosbags.rosbag2 import StoragePlugin, Writer

            self._writer = Writer(self.path, version=9, storage_plugin=StoragePlugin.SQLITE3)
            self._writer.open()

    def __enter__(self) -> BagWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._writer is None:
            return
        if self.storage == "mcap":
            self._writer.finish()
            self._file.close()
        else:
            self._writer.close()
        self._writer = None

    @property
    def types(self) -> Any:
        return self._ts.types

    def write(self, topic: str, msgtype: str, msg: Any, log_time: float) -> None:
        data = self._ts.serialize_cdr(msg, msgtype)
        ns = round(log_time * 1e9)
        ch = self._channels.get(topic)
        if self.storage == "mcap":
            if ch is None:
                text, _ = self._ts.generate_msgdef(msgtype, ros_version=2)
                sid = self._writer.register_schema(msgtype, "ros2msg", text.encode())
                ch = self._channels[topic] = self._writer.register_channel(topic, "cdr", sid)
            self._writer.add_message(ch, log_time=ns, publish_time=ns, data=bytes(data))
        else:
            if ch is None:
                ch = self._channels[topic] = self._writer.add_connection(topic, msgtype, typestore=self._ts)
            self._writer.write(ch, ns, bytes(data))

    # -- message builders -------------------------------------------------------------
    def header(self, stamp: float, frame_id: str) -> Any:
        t = self.types
        sec, nsec = _split_stamp(stamp)
        return t["std_msgs/msg/Header"](
            stamp=t["builtin_interfaces/msg/Time"](sec=sec, nanosec=nsec), frame_id=frame_id
        )

    def image(self, array: np.ndarray, encoding: str, stamp: float, frame_id: str) -> Any:
        a = np.ascontiguousarray(array)
        dtypes = {
            "rgb8": np.uint8,
            "bgr8": np.uint8,
            "rgba8": np.uint8,
            "mono8": np.uint8,
            "32FC1": np.float32,
            "16UC1": np.uint16,
            "32SC1": np.int32,
        }
        if encoding not in dtypes:
            raise ValueError(f"BagWriter.image: unsupported encoding {encoding!r}")
        a = a.astype(dtypes[encoding], copy=False)
        h, w = a.shape[:2]
        channels = a.shape[2] if a.ndim == 3 else 1
        return self.types["sensor_msgs/msg/Image"](
            header=self.header(stamp, frame_id),
            height=h,
            width=w,
            encoding=encoding,
            is_bigendian=0,
            step=w * channels * a.dtype.itemsize,
            data=a.view(np.uint8).reshape(-1),
        )

    def camera_info(self, k: Intrinsics, stamp: float, frame_id: str) -> Any:
        t = self.types
        return t["sensor_msgs/msg/CameraInfo"](
            header=self.header(stamp, frame_id),
            height=k.height,
            width=k.width,
            distortion_model="plumb_bob",
            d=np.zeros(5, np.float64),
            k=np.array([k.fx, 0, k.cx, 0, k.fy, k.cy, 0, 0, 1], np.float64),
            r=np.eye(3).reshape(-1),
            p=np.array([k.fx, 0, k.cx, 0, 0, k.fy, k.cy, 0, 0, 0, 1, 0], np.float64),
            binning_x=0,
            binning_y=0,
            roi=t["sensor_msgs/msg/RegionOfInterest"](x_offset=0, y_offset=0, height=0, width=0, do_rectify=False),
        )

    def _transform(self, pose: Pose) -> Any:
        t = self.types
        p = pose.position
        q = pose.quat_xyzw()
        return t["geometry_msgs/msg/Transform"](
            translation=t["geometry_msgs/msg/Vector3"](x=float(p[0]), y=float(p[1]), z=float(p[2])),
            rotation=t["geometry_msgs/msg/Quaternion"](x=float(q[0]), y=float(q[1]), z=float(q[2]), w=float(q[3])),
        )

    def tf(self, transforms: list[tuple[str, str, Pose]], stamp: float) -> Any:
        """A TFMessage; each entry is (parent frame, child frame, T_parent_child)."""
        t = self.types
        return t["tf2_msgs/msg/TFMessage"](
            transforms=[
                t["geometry_msgs/msg/TransformStamped"](
                    header=self.header(stamp, parent), child_frame_id=child, transform=self._transform(pose)
                )
                for parent, child, pose in transforms
            ]
        )

    def pose_stamped(self, pose: Pose, stamp: float, frame_id: str) -> Any:
        t = self.types
        p, q = pose.position, pose.quat_xyzw()
        return t["geometry_msgs/msg/PoseStamped"](
            header=self.header(stamp, frame_id),
            pose=t["geometry_msgs/msg/Pose"](
                position=t["geometry_msgs/msg/Point"](x=float(p[0]), y=float(p[1]), z=float(p[2])),
                orientation=t["geometry_msgs/msg/Quaternion"](
                    x=float(q[0]), y=float(q[1]), z=float(q[2]), w=float(q[3])
                ),
            ),
        )

    def instance_labels(self, instances: Mapping[int, InstanceInfo], stamp: float, frame_id: str) -> Any:
        ids = sorted(instances)
        return self.types[INSTANCE_LABELS_TYPE](
            header=self.header(stamp, frame_id),
            ids=np.array(ids, dtype=np.uint32),
            labels=[instances[i].label for i in ids],
            scores=np.array([instances[i].score for i in ids], dtype=np.float32),
        )

    def string(self, text: str) -> Any:
        return self.types["std_msgs/msg/String"](data=text)


def rate_text(hz: float | None) -> str:
    return "-" if hz is None or not math.isfinite(hz) else f"{hz:.1f} Hz"
