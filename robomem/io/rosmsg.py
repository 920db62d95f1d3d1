"""Decode ROS 2 messages into robomem types: one decoder for the ROS nodes and for log replay.

Pure numpy and duck-typed: every function reads fields by their ROS names, so it works on
rclpy message objects, on the deserialised dataclasses of the ``rosbags`` library (same field
names) and on any stand-in object with those attributes. Nothing here imports ROS.

- :func:`stamp_to_seconds` - ``builtin_interfaces/Time`` (or a header, or rclpy ``Time``) to float seconds
- :func:`image_to_numpy` - ``sensor_msgs/Image`` to an array in the image's own channel order
- :func:`image_to_rgb` - colour/mono image to (H, W, 3) uint8 RGB
- :func:`depth_to_metres` - 16UC1 millimetres or 32FC1 metres to float32 metres (invalid -> NaN)
- :func:`instance_image_to_ids` - integer instance-id image to int32 (H, W)
- :func:`camera_info_to_intrinsics` - ``sensor_msgs/CameraInfo`` to :class:`Intrinsics`
- :func:`to_matrix` / :func:`to_pose` - Pose, PoseStamped, PoseWithCovariance(Stamped), Odometry,
  Transform, TransformStamped to a 4x4 matrix / :class:`Pose`
- :func:`tf_message_to_transforms` - ``tf2_msgs/TFMessage`` to :class:`robomem.io.tf_buffer.Transform` list
- :func:`instance_labels_to_infos` - ``robomem_interfaces/InstanceLabels`` to ``{id: InstanceInfo}``
- :func:`occupancy_grid_values` - ``nav_msgs/OccupancyGrid`` to (values, origin, resolution) for
  :meth:`robomem.planning.grid.OccupancyGrid.from_occupancy`
- :func:`fill_pose_msg`, :func:`fill_stamp` - the other way, into an existing message object
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from robomem.errors import ObservationError
from robomem.io.tf_buffer import Transform
from robomem.observation import InstanceInfo, Intrinsics, Pose, quat_to_matrix

__all__ = [
    "IMAGE_ENCODINGS",
    "camera_info_to_intrinsics",
    "depth_to_metres",
    "fill_pose_msg",
    "fill_stamp",
    "image_to_numpy",
    "image_to_rgb",
    "instance_image_to_ids",
    "instance_labels_to_infos",
    "occupancy_grid_values",
    "seconds_to_stamp",
    "stamp_to_seconds",
    "tf_message_to_transforms",
    "to_matrix",
    "to_pose",
]

# encoding -> (numpy dtype without byte order, channels)
IMAGE_ENCODINGS: dict[str, tuple[str, int]] = {
    "rgb8": ("u1", 3),
    "bgr8": ("u1", 3),
    "rgba8": ("u1", 4),
    "bgra8": ("u1", 4),
    "mono8": ("u1", 1),
    "mono16": ("u2", 1),
    "8UC1": ("u1", 1),
    "8UC3": ("u1", 3),
    "8UC4": ("u1", 4),
    "16UC1": ("u2", 1),
    "16SC1": ("i2", 1),
    "32SC1": ("i4", 1),
    "32FC1": ("f4", 1),
    "64FC1": ("f8", 1),
}


def _field(msg: Any, name: str, what: str) -> Any:
    try:
        return getattr(msg, name)
    except AttributeError:
        raise ObservationError(f"{what}: message of type {type(msg).__name__} has no field {name!r}") from None


# -- time -------------------------------------------------------------------------------
def stamp_to_seconds(stamp: Any) -> float:
    """Seconds as float from a ``builtin_interfaces/Time`` (sec, nanosec), a ``std_msgs/Header``
    (its ``stamp``), an rclpy ``Time`` (``nanoseconds``) or a plain number."""
    if isinstance(stamp, (int, float, np.integer, np.floating)) and not isinstance(stamp, bool):
        return float(stamp)
    if hasattr(stamp, "sec") and hasattr(stamp, "nanosec"):
        return int(stamp.sec) + int(stamp.nanosec) * 1e-9
    if hasattr(stamp, "stamp"):
        return stamp_to_seconds(stamp.stamp)
    if hasattr(stamp, "nanoseconds"):
        return int(stamp.nanoseconds) * 1e-9
    raise ObservationError(f"stamp_to_seconds: cannot read a time from {type(stamp).__name__} (need sec and nanosec)")


def seconds_to_stamp(t: float) -> tuple[int, int]:
    """(sec, nanosec) for float seconds, nanosec in [0, 1e9)."""
    t = float(t)
    if not math.isfinite(t):
        raise ObservationError(f"seconds_to_stamp: time must be finite, got {t}")
    ns = round(t * 1e9)
    return ns // 1_000_000_000, ns % 1_000_000_000


def fill_stamp(stamp_msg: Any, t: float) -> Any:
    """Set ``sec``/``nanosec`` of a ``builtin_interfaces/Time`` object in place; returns it."""
    stamp_msg.sec, stamp_msg.nanosec = seconds_to_stamp(t)
    return stamp_msg


# -- images -------------------------------------------------------------------------------
def _buffer(data: Any) -> np.ndarray:
    if isinstance(data, np.ndarray):
        return np.ascontiguousarray(data).reshape(-1).view(np.uint8)
    try:
        return np.frombuffer(data, dtype=np.uint8)  # bytes, bytearray, array.array('B'), memoryview
    except TypeError:
        return np.asarray(data, dtype=np.uint8).reshape(-1)  # a list of ints


def image_to_numpy(msg: Any) -> np.ndarray:
    """A ``sensor_msgs/Image`` as a new (H, W) or (H, W, C) array in its own channel order.

    Honours ``step`` (row padding) and ``is_bigendian``; the result is native-endian and owns
    its data. Raises ``ValueError`` naming the encoding or the size mismatch.
    """
    enc = str(_field(msg, "encoding", "image_to_numpy"))
    if enc not in IMAGE_ENCODINGS:
        raise ObservationError(f"image_to_numpy: unsupported encoding {enc!r}; supported: {', '.join(IMAGE_ENCODINGS)}")
    kind, ch = IMAGE_ENCODINGS[enc]
    h, w = int(_field(msg, "height", "image_to_numpy")), int(_field(msg, "width", "image_to_numpy"))
    step = int(_field(msg, "step", "image_to_numpy"))
    if h <= 0 or w <= 0:
        raise ObservationError(f"image_to_numpy: empty image ({h}x{w}, encoding {enc})")
    dt = np.dtype(kind).newbyteorder(">" if bool(_field(msg, "is_bigendian", "image_to_numpy")) else "<")
    row = w * ch * dt.itemsize
    if step < row:
        raise ObservationError(
            f"image_to_numpy: step {step} is smaller than width*channels*bytes = {w}*{ch}*{dt.itemsize} = {row} "
            f"(encoding {enc}, {h}x{w})"
        )
    buf = _buffer(_field(msg, "data", "image_to_numpy"))
    need = step * (h - 1) + row  # the last row's padding may be missing
    if buf.size < need:
        raise ObservationError(
            f"image_to_numpy: data has {buf.size} bytes, expected step*height = {step}*{h} = {step * h} "
            f"(encoding {enc}, {h}x{w})"
        )
    if buf.size < step * h:
        buf = np.concatenate([buf, np.zeros(step * h - buf.size, np.uint8)])
    rows = buf[: step * h].reshape(h, step)[:, :row]
    arr = np.ascontiguousarray(rows).view(dt).astype(dt.newbyteorder("="), copy=True)
    return arr.reshape(h, w) if ch == 1 else arr.reshape(h, w, ch)


def image_to_rgb(msg: Any) -> np.ndarray:
    """A colour or mono image as (H, W, 3) uint8 RGB (bgr/bgra reordered, alpha dropped, mono repeated)."""
    enc = str(_field(msg, "encoding", "image_to_rgb"))
    a = image_to_numpy(msg)
    if enc in ("rgb8", "8UC3"):
        return a
    if enc == "bgr8":
        return np.ascontiguousarray(a[..., ::-1])
    if enc == "rgba8":
        return np.ascontiguousarray(a[..., :3])
    if enc == "bgra8":
        return np.ascontiguousarray(a[..., 2::-1])
    if enc in ("mono8", "8UC1"):
        return np.repeat(a[..., None], 3, axis=2)
    raise ObservationError(
        f"image_to_rgb: encoding {enc!r} is not a colour image (use rgb8, bgr8, rgba8, bgra8 or mono8)"
    )


def depth_to_metres(msg: Any) -> np.ndarray:
    """A depth image as float32 metres (REP 118): 16UC1/mono16 millimetres are scaled by 0.001,
    32FC1 is taken as metres. 0 stays 0; NaN and +-inf become NaN (invalid)."""
    enc = str(_field(msg, "encoding", "depth_to_metres"))
    if enc in ("16UC1", "mono16"):
        return image_to_numpy(msg).astype(np.float32) * np.float32(0.001)
    if enc == "32FC1":
        d = image_to_numpy(msg).astype(np.float32, copy=False)
        d[~np.isfinite(d)] = np.nan
        return d
    raise ObservationError(
        f"depth_to_metres: encoding {enc!r} is not a depth image (expected 16UC1 millimetres or 32FC1 metres)"
    )


def instance_image_to_ids(msg: Any) -> np.ndarray:
    """An instance-id image (32SC1, 16UC1, mono16, 8UC1, mono8) as int32 (H, W); 0 = no instance."""
    enc = str(_field(msg, "encoding", "instance_image_to_ids"))
    if enc not in ("32SC1", "16UC1", "mono16", "8UC1", "mono8"):
        raise ObservationError(
            f"instance_image_to_ids: encoding {enc!r} is not an integer id image (use 32SC1, 16UC1 or 8UC1)"
        )
    ids = image_to_numpy(msg).astype(np.int32, copy=False)
    if ids.size and int(ids.min()) < 0:
        raise ObservationError(f"instance_image_to_ids: negative instance id {int(ids.min())}")
    return ids


# -- camera info ------------------------------------------------------------------------------
def camera_info_to_intrinsics(msg: Any, use_projection: bool = False) -> Intrinsics:
    """Pinhole :class:`Intrinsics` of the image a ``sensor_msgs/CameraInfo`` describes.

    Uses K (``use_projection=True``: P, for rectified images from a stereo pair) and applies
    the region of interest and binning, so the result matches the published image's pixels.
    """
    what = "camera_info_to_intrinsics"
    if use_projection:
        p = np.asarray(_field(msg, "p", what), dtype=np.float64).reshape(-1)
        if p.size != 12:
            raise ObservationError(f"{what}: P must have 12 values, got {p.size}")
        fx, fy, cx, cy = p[0], p[5], p[2], p[6]
    else:
        k = np.asarray(_field(msg, "k", what), dtype=np.float64).reshape(-1)
        if k.size != 9:
            raise ObservationError(f"{what}: K must have 9 values, got {k.size}")
        fx, fy, cx, cy = k[0], k[4], k[2], k[5]
    if fx <= 0 or fy <= 0:
        raise ObservationError(
            f"{what}: focal length fx={fx}, fy={fy} is not positive (uncalibrated camera? K is all zero)"
        )
    width, height = int(_field(msg, "width", what)), int(_field(msg, "height", what))
    roi = getattr(msg, "roi", None)
    if roi is not None and int(getattr(roi, "width", 0)) > 0 and int(getattr(roi, "height", 0)) > 0:
        cx -= int(roi.x_offset)
        cy -= int(roi.y_offset)
        width, height = int(roi.width), int(roi.height)
    bx = max(1, int(getattr(msg, "binning_x", 0) or 0))
    by = max(1, int(getattr(msg, "binning_y", 0) or 0))
    if bx > 1 or by > 1:
        fx, cx, width = fx / bx, cx / bx, width // bx
        fy, cy, height = fy / by, cy / by, height // by
    return Intrinsics(float(fx), float(fy), float(cx), float(cy), width, height)


# -- poses ------------------------------------------------------------------------------------
def _unwrap_pose(msg: Any) -> tuple[Any, Any]:
    """Find (translation-like, quaternion-like) fields in a pose-ish message."""
    m = msg
    for _ in range(4):  # Odometry.pose.pose, PoseWithCovarianceStamped.pose.pose, ...
        if hasattr(m, "position") and hasattr(m, "orientation"):
            return m.position, m.orientation
        if hasattr(m, "translation") and hasattr(m, "rotation"):
            return m.translation, m.rotation
        if hasattr(m, "transform"):
            m = m.transform
        elif hasattr(m, "pose"):
            m = m.pose
        else:
            break
    raise ObservationError(
        f"to_matrix: {type(msg).__name__} is not a Pose, PoseStamped, PoseWithCovariance(Stamped), Odometry, "
        "Transform or TransformStamped (no position/orientation or translation/rotation fields)"
    )


def _xyz(v: Any) -> np.ndarray:
    return np.array([float(v.x), float(v.y), float(v.z)])


def _quat(q: Any, what: str) -> np.ndarray:
    a = np.array([float(q.x), float(q.y), float(q.z), float(q.w)])
    n2 = float(a @ a)
    if not np.all(np.isfinite(a)) or abs(n2 - 1.0) > 0.01:
        raise ObservationError(f"{what}: quaternion (x, y, z, w) = {a.tolist()} is not a unit quaternion")
    return a / math.sqrt(n2)


def to_matrix(msg: Any) -> np.ndarray:
    """4x4 float64 matrix of a pose or transform message (slightly off-unit quaternions are normalised)."""
    t, q = _unwrap_pose(msg)
    m = np.eye(4)
    m[:3, :3] = quat_to_matrix(_quat(q, "to_matrix"))
    m[:3, 3] = _xyz(t)
    if not np.all(np.isfinite(m)):
        raise ObservationError(f"to_matrix: position contains NaN or inf: {m[:3, 3].tolist()}")
    return m


def to_pose(msg: Any) -> Pose:
    """:class:`Pose` of a pose or transform message (see :func:`to_matrix`)."""
    return Pose(to_matrix(msg))


def fill_pose_msg(pose_msg: Any, pose: Pose | np.ndarray) -> Any:
    """Write a :class:`Pose` (or 4x4) into a ``geometry_msgs/Pose`` (position/orientation) or
    ``geometry_msgs/Transform`` (translation/rotation) object in place; returns it."""
    p = pose if isinstance(pose, Pose) else Pose(np.asarray(pose))
    xyz, q = p.position, p.quat_xyzw()
    if hasattr(pose_msg, "position"):
        t, r = pose_msg.position, pose_msg.orientation
    elif hasattr(pose_msg, "translation"):
        t, r = pose_msg.translation, pose_msg.rotation
    else:
        raise ObservationError(f"fill_pose_msg: {type(pose_msg).__name__} has neither position nor translation")
    t.x, t.y, t.z = (float(v) for v in xyz)
    r.x, r.y, r.z, r.w = (float(v) for v in q)
    return pose_msg


def tf_message_to_transforms(msg: Any, static: bool = False) -> list[Transform]:
    """The ``transforms`` of a ``tf2_msgs/TFMessage`` (from /tf, or /tf_static with ``static=True``)."""
    out = []
    for ts in _field(msg, "transforms", "tf_message_to_transforms"):
        tr = ts.transform
        out.append(
            Transform(
                parent=ts.header.frame_id,
                child=ts.child_frame_id,
                stamp=stamp_to_seconds(ts.header.stamp),
                translation=_xyz(tr.translation),
                rotation=_quat(tr.rotation, f"transform {ts.header.frame_id}->{ts.child_frame_id}"),
                static=static,
            )
        )
    return out


# -- labels -----------------------------------------------------------------------------------
def instance_labels_to_infos(msg: Any) -> dict[int, InstanceInfo]:
    """``robomem_interfaces/InstanceLabels`` (ids, labels, scores) to ``{id: InstanceInfo}``.

    ``scores`` may be empty (every score 1.0); otherwise all three arrays must have the same
    length. Ids must be positive (0 means "no instance") and unique.
    """
    what = "instance_labels_to_infos"
    ids = [int(i) for i in _field(msg, "ids", what)]
    labels = [str(s) for s in _field(msg, "labels", what)]
    scores = [float(s) for s in getattr(msg, "scores", [])]
    if len(labels) != len(ids) or (scores and len(scores) != len(ids)):
        raise ObservationError(
            f"{what}: ids ({len(ids)}), labels ({len(labels)}) and scores ({len(scores)}) differ in length"
        )
    out: dict[int, InstanceInfo] = {}
    for n, (i, lab) in enumerate(zip(ids, labels, strict=True)):
        if i <= 0:
            raise ObservationError(f"{what}: ids[{n}] = {i}; instance ids must be > 0 (0 means no instance)")
        if i in out:
            raise ObservationError(f"{what}: instance id {i} appears twice")
        try:
            out[i] = InstanceInfo(lab, scores[n] if scores else 1.0)
        except ValueError as e:
            raise ObservationError(f"{what}: id {i}: {e}") from None
    return out


# -- maps ---------------------------------------------------------------------------------------------
def occupancy_grid_values(msg: Any) -> tuple[np.ndarray, tuple[float, float], float]:
    """A ``nav_msgs/OccupancyGrid`` as ((height, width) int8 values, origin (x, y) of cell (0, 0)'s corner,
    resolution m).  A map whose origin is rotated about z, or whose data does not fill width x height,
    is a ValueError naming what is wrong."""
    info = _field(msg, "info", "OccupancyGrid")
    w, h, res = int(info.width), int(info.height), float(info.resolution)
    if w <= 0 or h <= 0:
        raise ValueError(f"OccupancyGrid: empty map ({w} x {h} cells)")
    if not (math.isfinite(res) and res > 0):
        raise ValueError(f"OccupancyGrid: resolution must be > 0 m/cell, got {res}")
    o = info.origin
    q = _quat(o.orientation, "OccupancyGrid.info.origin.orientation")
    yaw = math.atan2(2 * (q[3] * q[2] + q[0] * q[1]), 1 - 2 * (q[1] ** 2 + q[2] ** 2))
    if abs(yaw) > 1e-3 or abs(q[0]) > 1e-3 or abs(q[1]) > 1e-3:
        raise ValueError(f"OccupancyGrid: a rotated map origin (yaw {math.degrees(yaw):.1f} deg) is not supported")
    x, y = float(o.position.x), float(o.position.y)
    if not (math.isfinite(x) and math.isfinite(y)):
        raise ValueError(f"OccupancyGrid: origin ({x}, {y}) is not finite")
    data = msg.data
    values = data.astype(np.int8, copy=False) if isinstance(data, np.ndarray) else np.asarray(data, dtype=np.int8)
    if values.size != w * h:
        raise ValueError(f"OccupancyGrid: {values.size} values for a {w} x {h} map")
    return values.reshape(h, w), (x, y), res
