"""What enters memory: a camera frame with pose, or a language/action event.

Conventions (see README "Conventions"):
- metres, seconds (float sensor time), radians;
- world frame right-handed, z up (REP 103 ``map``);
- ``Pose`` is T_world_camera with the camera in the *optical* frame
  (x right, y down, z forward);
- depth is float32 metres, 0 or NaN = invalid (REP 118);
- the instance image holds integer ids, 0 = no instance; every non-zero id
  present in the image must have an ``InstanceInfo`` in ``Observation.instances``.

Every dataclass here is frozen and validates itself at construction; a
problem raises ``ValueError`` naming the field and what is wrong.  Arrays are
made read-only so a frame cannot change after it was validated.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from types import MappingProxyType
from typing import Any

import numpy as np

from robomem.errors import ObservationError

__all__ = [
    "Event",
    "InstanceInfo",
    "Intrinsics",
    "Observation",
    "Pose",
    "depth_from_millimetres",
]

# A depth image whose valid median exceeds this is almost surely in millimetres.
_MAX_INSTANCE_ID = (1 << 63) - 1
_MAX_PLAUSIBLE_MEDIAN_DEPTH_M = 100.0


def _readonly(a: np.ndarray) -> np.ndarray:
    a = np.ascontiguousarray(a)
    if a.flags.writeable:
        a = a.copy() if a.base is not None else a
        a.flags.writeable = False
    return a


def _check_finite_number(name: str, value: Any) -> float:
    # a real number only: float("12.5") would let a string stamp through and store it as 12.5
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ObservationError(f"{name}: expected a number, got {type(value).__name__} {str(value)[:40]!r}")
    try:
        v = float(value)
    except OverflowError:
        raise ObservationError(f"{name}: out of range, got {value!r}") from None
    if not math.isfinite(v):
        raise ObservationError(f"{name}: must be finite, got {v}")
    return v


MAX_NAME_CHARS = 128  # robot ids, frame ids, sources and event kinds are names, not text


def _check_name(name: str, value: Any, empty_ok: bool = False) -> str:
    """A short identifier: a string of at most MAX_NAME_CHARS, no NUL, valid UTF-8 (non-empty unless empty_ok)."""
    if not isinstance(value, str):
        raise ObservationError(f"{name}: expected a string, got {type(value).__name__}")
    if not empty_ok and not value.strip():
        raise ObservationError(f"{name}: must be a non-empty string")
    if len(value) > MAX_NAME_CHARS:
        raise ObservationError(f"{name}: longer than {MAX_NAME_CHARS} characters ({len(value)})")
    if "\x00" in value:
        raise ObservationError(f"{name}: contains a NUL character")
    _check_utf8(name, value)
    return value


def _check_utf8(name: str, text: str) -> None:
    """Refuse strings that cannot be stored as UTF-8 (lone surrogates, e.g. from bytes decoded with surrogateescape)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ObservationError(f"{name}: not valid Unicode text (lone surrogate at position {exc.start})") from None


@dataclass(frozen=True)
class Pose:
    """A rigid transform T_world_camera (4x4, float64).

    ``matrix @ [x, y, z, 1]`` maps a point from the camera (optical) frame into
    the world frame.
    """

    matrix: np.ndarray

    def __post_init__(self) -> None:
        m = np.asarray(self.matrix)
        if m.shape != (4, 4):
            raise ObservationError(f"Pose.matrix: expected shape (4, 4), got {m.shape}")
        if not np.issubdtype(m.dtype, np.number) or np.iscomplexobj(m):
            raise ObservationError(f"Pose.matrix: expected a real numeric array, got dtype {m.dtype}")
        m = m.astype(np.float64)
        if not np.all(np.isfinite(m)):
            raise ObservationError("Pose.matrix: contains NaN or inf")
        if not np.allclose(m[3], [0.0, 0.0, 0.0, 1.0], atol=1e-6):
            raise ObservationError(f"Pose.matrix: last row must be [0, 0, 0, 1], got {m[3].tolist()}")
        r = m[:3, :3]
        if not np.allclose(r.T @ r, np.eye(3), atol=1e-4):
            raise ObservationError("Pose.matrix: rotation part is not orthonormal (non-rigid pose)")
        if np.linalg.det(r) < 0:
            raise ObservationError("Pose.matrix: rotation has determinant -1 (a reflection, not a rotation)")
        object.__setattr__(self, "matrix", _readonly(m))

    # -- constructors -------------------------------------------------------
    @classmethod
    def identity(cls) -> Pose:
        return cls(np.eye(4))

    @classmethod
    def from_xyz_quat(cls, xyz: Any, quat_xyzw: Any) -> Pose:
        """Build from a translation and a unit quaternion (x, y, z, w), ROS order."""
        t = np.asarray(xyz, dtype=np.float64).reshape(-1)
        q = np.asarray(quat_xyzw, dtype=np.float64).reshape(-1)
        if t.shape != (3,):
            raise ObservationError(f"Pose.xyz: expected 3 values, got {t.shape}")
        if q.shape != (4,):
            raise ObservationError(f"Pose.quat_xyzw: expected 4 values, got {q.shape}")
        if not (np.all(np.isfinite(t)) and np.all(np.isfinite(q))):
            raise ObservationError("Pose: translation or quaternion contains NaN or inf")
        n = float(np.linalg.norm(q))
        if abs(n - 1.0) > 1e-3:
            raise ObservationError(f"Pose.quat_xyzw: not a unit quaternion (norm {n:.6f})")
        m = np.eye(4)
        m[:3, :3] = quat_to_matrix(q / n)
        m[:3, 3] = t
        return cls(m)

    # -- accessors -----------------------------------------------------------
    @property
    def position(self) -> np.ndarray:
        return self.matrix[:3, 3].copy()

    @property
    def rotation(self) -> np.ndarray:
        return self.matrix[:3, :3].copy()

    @property
    def forward(self) -> np.ndarray:
        """The optical axis (camera +z) in world coordinates."""
        return self.matrix[:3, 2].copy()

    def quat_xyzw(self) -> np.ndarray:
        return matrix_to_quat(self.matrix[:3, :3])

    def inverse(self) -> Pose:
        r = self.matrix[:3, :3]
        t = self.matrix[:3, 3]
        m = np.eye(4)
        m[:3, :3] = r.T
        m[:3, 3] = -r.T @ t
        return Pose(m)

    def __matmul__(self, other: Pose) -> Pose:
        return Pose(self.matrix @ other.matrix)

    def transform_points(self, points: np.ndarray) -> np.ndarray:
        """Map an (N, 3) array of points by this transform."""
        p = np.asarray(points, dtype=np.float64)
        return p @ self.matrix[:3, :3].T + self.matrix[:3, 3]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Pose) and bool(np.array_equal(self.matrix, other.matrix))

    def __hash__(self) -> int:
        return hash(self.matrix.tobytes())


def quat_to_matrix(q_xyzw: np.ndarray) -> np.ndarray:
    x, y, z, w = (float(v) for v in q_xyzw)
    return np.array(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
            [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
            [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
        ]
    )


def matrix_to_quat(r: np.ndarray) -> np.ndarray:
    """Rotation matrix to a unit quaternion (x, y, z, w) with w >= 0."""
    m = np.asarray(r, dtype=np.float64)
    tr = m[0, 0] + m[1, 1] + m[2, 2]
    if tr > 0:
        s = math.sqrt(tr + 1.0) * 2
        w, x, y, z = 0.25 * s, (m[2, 1] - m[1, 2]) / s, (m[0, 2] - m[2, 0]) / s, (m[1, 0] - m[0, 1]) / s
    elif m[0, 0] > m[1, 1] and m[0, 0] > m[2, 2]:
        s = math.sqrt(1.0 + m[0, 0] - m[1, 1] - m[2, 2]) * 2
        w, x, y, z = (m[2, 1] - m[1, 2]) / s, 0.25 * s, (m[0, 1] + m[1, 0]) / s, (m[0, 2] + m[2, 0]) / s
    elif m[1, 1] > m[2, 2]:
        s = math.sqrt(1.0 + m[1, 1] - m[0, 0] - m[2, 2]) * 2
        w, x, y, z = (m[0, 2] - m[2, 0]) / s, (m[0, 1] + m[1, 0]) / s, 0.25 * s, (m[1, 2] + m[2, 1]) / s
    else:
        s = math.sqrt(1.0 + m[2, 2] - m[0, 0] - m[1, 1]) * 2
        w, x, y, z = (m[1, 0] - m[0, 1]) / s, (m[0, 2] + m[2, 0]) / s, (m[1, 2] + m[2, 1]) / s, 0.25 * s
    q = np.array([x, y, z, w])
    q /= np.linalg.norm(q)
    return -q if q[3] < 0 else q


@dataclass(frozen=True)
class Intrinsics:
    """Pinhole intrinsics of the depth image (pixels)."""

    fx: float
    fy: float
    cx: float
    cy: float
    width: int
    height: int

    def __post_init__(self) -> None:
        for name in ("fx", "fy", "cx", "cy"):
            v = _check_finite_number(f"Intrinsics.{name}", getattr(self, name))
            if name in ("fx", "fy") and v <= 0:
                raise ObservationError(f"Intrinsics.{name}: must be > 0, got {v}")
            object.__setattr__(self, name, v)
        for name in ("width", "height"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v <= 0:
                raise ObservationError(f"Intrinsics.{name}: must be a positive integer, got {v!r}")
            object.__setattr__(self, name, int(v))

    @classmethod
    def from_fov(cls, width: int, height: int, hfov_rad: float) -> Intrinsics:
        """Square pixels, principal point at the centre, horizontal field of view."""
        f = (width / 2.0) / math.tan(hfov_rad / 2.0)
        return cls(f, f, (width - 1) / 2.0, (height - 1) / 2.0, width, height)

    def matrix(self) -> np.ndarray:
        return np.array([[self.fx, 0, self.cx], [0, self.fy, self.cy], [0, 0, 1.0]])


@dataclass(frozen=True)
class InstanceInfo:
    """What a detector says about one instance id in the instance image."""

    label: str
    score: float = 1.0
    embedding: np.ndarray | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.label, str) or not self.label.strip():
            raise ObservationError(f"InstanceInfo.label: must be a non-empty string, got {self.label!r}")
        if "\x00" in self.label:
            raise ObservationError("InstanceInfo.label: contains a NUL character")
        _check_utf8("InstanceInfo.label", self.label)
        if len(self.label) > 256:
            raise ObservationError(f"InstanceInfo.label: longer than 256 characters ({len(self.label)})")
        object.__setattr__(self, "label", self.label.strip())
        s = _check_finite_number("InstanceInfo.score", self.score)
        if not 0.0 <= s <= 1.0:
            raise ObservationError(f"InstanceInfo.score: must be in [0, 1], got {s}")
        object.__setattr__(self, "score", s)
        if self.embedding is not None:
            e = np.asarray(self.embedding, dtype=np.float32).reshape(-1)
            if e.size == 0 or not np.all(np.isfinite(e)):
                raise ObservationError("InstanceInfo.embedding: must be a non-empty finite vector")
            object.__setattr__(self, "embedding", _readonly(e))


@dataclass(frozen=True)
class Observation:
    """One RGB-D frame with its camera pose and (optionally) instance masks.

    ``instance_ids`` is an (H, W) integer image, 0 = none; ``instances`` maps
    each non-zero id to its :class:`InstanceInfo`.
    """

    stamp: float
    pose: Pose
    intrinsics: Intrinsics
    depth: np.ndarray
    rgb: np.ndarray | None = None
    instance_ids: np.ndarray | None = None
    instances: Mapping[int, InstanceInfo] = field(default_factory=dict)
    robot_id: str = "robot"
    source: str = ""
    frame_id: str = "camera"

    def __post_init__(self) -> None:
        stamp = _check_finite_number("Observation.stamp", self.stamp)
        if stamp < 0:
            raise ObservationError(f"Observation.stamp: must be >= 0 seconds, got {stamp}")
        object.__setattr__(self, "stamp", stamp)
        if not isinstance(self.pose, Pose):
            raise ObservationError(f"Observation.pose: expected a Pose, got {type(self.pose).__name__}")
        if not isinstance(self.intrinsics, Intrinsics):
            raise ObservationError(f"Observation.intrinsics: expected Intrinsics, got {type(self.intrinsics).__name__}")
        _check_name("Observation.robot_id", self.robot_id)
        for name in ("source", "frame_id"):
            _check_name(f"Observation.{name}", getattr(self, name), empty_ok=True)

        d = self.depth
        if not isinstance(d, np.ndarray):
            raise ObservationError(f"Observation.depth: expected a numpy array, got {type(d).__name__}")
        if d.ndim != 2:
            raise ObservationError(f"Observation.depth: expected shape (H, W), got {d.shape}")
        if d.dtype == np.uint16:
            raise ObservationError(
                "Observation.depth: dtype uint16 looks like millimetres (16UC1); "
                "convert with robomem.depth_from_millimetres() to float32 metres"
            )
        if d.dtype != np.float32:
            raise ObservationError(f"Observation.depth: expected dtype float32 (metres), got {d.dtype}")
        h, w = d.shape
        if h == 0 or w == 0:
            raise ObservationError("Observation.depth: image is empty")
        if (w, h) != (self.intrinsics.width, self.intrinsics.height):
            raise ObservationError(
                f"Observation.depth: shape {d.shape} does not match intrinsics "
                f"{self.intrinsics.height}x{self.intrinsics.width} (HxW)"
            )
        if np.isinf(d).any():
            raise ObservationError("Observation.depth: contains inf (use 0 or NaN for invalid pixels)")
        with np.errstate(invalid="ignore"):
            dmin = float(np.nanmin(d)) if not np.isnan(d).all() else 0.0
        if dmin < 0:
            raise ObservationError(f"Observation.depth: negative depth {dmin:.3f} m")
        sample = d.ravel()[:: max(1, d.size // 4096)]  # the unit check needs no full-image median
        sample = sample[np.isfinite(sample) & (sample != 0)]
        if sample.size and float(np.median(sample)) > _MAX_PLAUSIBLE_MEDIAN_DEPTH_M:
            raise ObservationError(
                f"Observation.depth: median {float(np.median(sample)):.1f} is implausible in metres; "
                "is it in millimetres? depth must be float32 metres"
            )
        object.__setattr__(self, "depth", _readonly(d))

        if self.rgb is not None:
            c = self.rgb
            if not isinstance(c, np.ndarray):
                raise ObservationError(f"Observation.rgb: expected a numpy array, got {type(c).__name__}")
            if c.dtype != np.uint8:
                raise ObservationError(f"Observation.rgb: expected dtype uint8, got {c.dtype}")
            if c.shape != (h, w, 3):
                raise ObservationError(f"Observation.rgb: expected shape {(h, w, 3)} to match depth, got {c.shape}")
            object.__setattr__(self, "rgb", _readonly(c))

        infos: dict[int, InstanceInfo] = {}
        for k, v in dict(self.instances).items():
            if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 0 < int(k) <= _MAX_INSTANCE_ID:
                raise ObservationError(f"Observation.instances: keys must be instance ids in [1, 2^63 - 1], got {k!r}")
            if not isinstance(v, InstanceInfo):
                raise ObservationError(f"Observation.instances[{k}]: expected InstanceInfo, got {type(v).__name__}")
            infos[int(k)] = v
        if self.instance_ids is not None:
            ids = self.instance_ids
            if not isinstance(ids, np.ndarray):
                raise ObservationError("Observation.instance_ids: expected a numpy array")
            if not np.issubdtype(ids.dtype, np.integer):
                raise ObservationError(f"Observation.instance_ids: expected an integer dtype, got {ids.dtype}")
            if ids.shape != (h, w):
                raise ObservationError(
                    f"Observation.instance_ids: expected shape {(h, w)} to match depth, got {ids.shape}"
                )
            lo, hi = int(ids.min()), int(ids.max())
            if lo < 0:
                raise ObservationError(f"Observation.instance_ids: negative id {lo}")
            if hi > _MAX_INSTANCE_ID:  # uint64 ids above this would wrap to negative in int64 and be dropped
                raise ObservationError(f"Observation.instance_ids: id {hi} does not fit in int64 (max 2^63 - 1)")
            # bincount is much faster than a sort for detector-sized ids
            present = np.flatnonzero(np.bincount(ids.ravel(), minlength=1)) if hi < 1 << 16 else np.unique(ids)
            missing = [int(i) for i in present if i != 0 and int(i) not in infos]
            if missing:
                raise ObservationError(
                    f"Observation.instance_ids: ids {missing[:10]} have no label in Observation.instances"
                )
            object.__setattr__(self, "instance_ids", _readonly(ids))
        elif infos:
            raise ObservationError("Observation.instances: labels given but instance_ids is None")
        object.__setattr__(self, "instances", MappingProxyType(infos))

    @property
    def shape(self) -> tuple[int, int]:
        return (int(self.depth.shape[0]), int(self.depth.shape[1]))

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        """Pickle support for handing a checked frame between robomem's own processes (the replay
        decoder process, :mod:`robomem.io.replay_decode`): the fields travel as they are and come back
        already checked and read-only.  Nothing a user stores is pickled."""
        return (checked_observation, (observation_fields(self),))


def observation_fields(obs: Observation) -> dict[str, Any]:
    """The fields of a checked observation, as :func:`checked_observation` takes them back."""
    return {f.name: dict(obs.instances) if f.name == "instances" else getattr(obs, f.name) for f in fields(obs)}


def checked_observation(values: Mapping[str, Any]) -> Observation:
    """An :class:`Observation` from the fields of one that was already checked in another robomem process
    (the replay decoder: :mod:`robomem.io.replay_decode`), without checking them again.  Not for input
    from anywhere else: build an ``Observation(...)`` for that."""
    obs = object.__new__(Observation)
    for f in fields(Observation):
        v = values[f.name]
        if isinstance(v, np.ndarray):
            v.flags.writeable = False
        object.__setattr__(obs, f.name, MappingProxyType(dict(v)) if f.name == "instances" else v)
    return obs


@dataclass(frozen=True)
class Event:
    """A language or action event: an instruction, an action taken, an outcome.

    ``kind`` is free text but these have meaning to the core: ``instruction``,
    ``goal``, ``action``, ``outcome``, ``fact`` (an asserted fact in the form
    "subject | predicate | object").
    """

    stamp: float
    kind: str
    text: str
    pose: Pose | None = None
    robot_id: str = "robot"

    def __post_init__(self) -> None:
        stamp = _check_finite_number("Event.stamp", self.stamp)
        if stamp < 0:
            raise ObservationError(f"Event.stamp: must be >= 0 seconds, got {stamp}")
        object.__setattr__(self, "stamp", stamp)
        _check_name("Event.kind", self.kind)
        if not isinstance(self.text, str):
            raise ObservationError(f"Event.text: expected a string, got {type(self.text).__name__}")
        if "\x00" in self.text:
            raise ObservationError("Event.text: contains a NUL character")
        _check_utf8("Event.text", self.text)
        _check_name("Event.robot_id", self.robot_id)
        if len(self.text) > 10_000:
            raise ObservationError(f"Event.text: longer than 10000 characters ({len(self.text)})")
        if self.pose is not None and not isinstance(self.pose, Pose):
            raise ObservationError(f"Event.pose: expected a Pose or None, got {type(self.pose).__name__}")


def depth_from_millimetres(depth_mm: np.ndarray) -> np.ndarray:
    """Convert a 16UC1 millimetre depth image to float32 metres (0 stays invalid)."""
    d = np.asarray(depth_mm)
    if d.dtype != np.uint16:
        raise ObservationError(f"depth_from_millimetres: expected uint16 millimetres, got {d.dtype}")
    return d.astype(np.float32) * np.float32(0.001)
