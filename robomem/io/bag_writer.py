"""Writing ROS 2 bags (MCAP or rosbag2 sqlite3) with the pure-Python ``rosbags`` library: what
``robomem.envs.record`` uses to record simulated tours and what the replay tests build bags with.
Reading is :mod:`robomem.io.bag`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from robomem.io.bag import INSTANCE_LABELS_TYPE, make_typestore
from robomem.observation import InstanceInfo, Intrinsics, Pose

__all__ = ["BagWriter", "offered_qos"]

_SENSOR_TYPES = ("sensor_msgs/msg/Image", "sensor_msgs/msg/CameraInfo", INSTANCE_LABELS_TYPE)


def offered_qos(topic: str, msgtype: str) -> Any:
    """The QoS a ROS 2 publisher of ``topic`` offers, as rosbag2 records it (``offered_qos_profiles``):
    /tf_static is reliable + transient local (depth 1, like tf2's static broadcaster), camera streams are
    sensor data (best effort, depth 5), the rest reliable + volatile.  ``ros2 bag play`` replays with
    these, so a late subscriber (RViz) still gets /tf_static."""
    from rosbags.interfaces import Qos, QosDurability, QosHistory, QosLiveliness, QosReliability, QosTime

    zero = QosTime(sec=0, nsec=0)  # the RMW default (no deadline, no lifespan)
    if msgtype == "tf2_msgs/msg/TFMessage" and topic.rstrip("/").endswith("tf_static"):
        rel, dur, depth = QosReliability.RELIABLE, QosDurability.TRANSIENT_LOCAL, 1
    elif msgtype in _SENSOR_TYPES:
        rel, dur, depth = QosReliability.BEST_EFFORT, QosDurability.VOLATILE, 5
    else:
        rel, dur, depth = QosReliability.RELIABLE, QosDurability.VOLATILE, 100 if "TFMessage" in msgtype else 10
    return Qos(QosHistory.KEEP_LAST, depth, rel, dur, zero, zero, QosLiveliness.AUTOMATIC, zero, False)


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
    _schemas: dict[str, int] = field(init=False, default_factory=dict, repr=False)  # one per message type
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
                import yaml
                from rosbags.rosbag2.metadata import dump_qos_v9

                sid = self._schemas.get(msgtype)
                if sid is None:
                    text, _ = self._ts.generate_msgdef(msgtype, ros_version=2)
                    sid = self._schemas[msgtype] = self._writer.register_schema(msgtype, "ros2msg", text.encode())
                qos = yaml.safe_dump(dump_qos_v9([offered_qos(topic, msgtype)]), sort_keys=False)
                meta = {"offered_qos_profiles": qos}  # as rosbag2_storage_mcap writes it
                ch = self._channels[topic] = self._writer.register_channel(topic, "cdr", sid, metadata=meta)
            self._writer.add_message(ch, log_time=ns, publish_time=ns, data=bytes(data))
        else:
            if ch is None:
                ch = self._channels[topic] = self._writer.add_connection(
                    topic, msgtype, typestore=self._ts, offered_qos_profiles=[offered_qos(topic, msgtype)]
                )
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
