"""A TF buffer in pure numpy: a tree of timestamped transforms, looked up like tf2.

Used by the ROS nodes (fed from ``/tf`` and ``/tf_static``) and by log replay (fed from the
same messages read from a bag) to get ``T_map_camera`` for each frame.

Conventions (the same as tf2):

- a transform ``parent -> child`` at time t (a ``geometry_msgs/TransformStamped`` with
  ``header.frame_id = parent`` and ``child_frame_id = child``) is the pose of the child frame
  in the parent frame: it maps points from child coordinates into parent coordinates;
- :meth:`TfBuffer.lookup` ``(target, source, t)`` returns the 4x4 ``T_target_source``, which maps
  points from ``source`` into ``target``; so ``lookup("map", "camera_optical_frame", t)`` is the
  camera pose in the map, what :class:`robomem.observation.Pose` holds;
- every frame has at most one parent (a tree); static transforms hold at all times, dynamic
  ones are interpolated between stamps (linear translation, slerp rotation);
- a lookup outside an edge's stamped range fails with :class:`ExtrapolationError` unless it
  is within ``tolerance`` seconds of the range, in which case the nearest entry is used (held,
  never extrapolated);
- ``t=None`` means "the latest time at which the whole chain is known" (tf2's time 0).

Quaternions are (x, y, z, w), ROS order. Frame names lose a leading "/" (tf2 style).
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from robomem.errors import RobomemError
from robomem.observation import Pose, quat_to_matrix

__all__ = [
    "ConnectivityError",
    "ExtrapolationError",
    "FrameNotFoundError",
    "TfBuffer",
    "TfError",
    "Transform",
    "slerp",
]


class TfError(RobomemError, LookupError):
    """Base of the lookup errors (a :class:`~robomem.errors.RobomemError` and a ``LookupError``)."""


class FrameNotFoundError(TfError):
    """A frame named in a lookup has never been seen."""


class ConnectivityError(TfError):
    """Both frames exist but lie in different trees (no chain joins them)."""


class ExtrapolationError(TfError):
    """An edge of the chain has no data close enough to the requested time."""


def _frame(name: Any) -> str:
    if not isinstance(name, str):
        raise ValueError(f"TF frame id must be a string, got {type(name).__name__}")
    n = name.lstrip("/")
    if not n:
        raise ValueError(f"TF frame id must be non-empty, got {name!r}")
    return n


def _unit_quat(q: Any) -> np.ndarray:
    a = np.asarray(q, dtype=np.float64).reshape(-1)
    if a.shape != (4,) or not np.all(np.isfinite(a)):
        raise ValueError(f"rotation: expected 4 finite values (x, y, z, w), got {np.asarray(q).tolist()}")
    n2 = float(a @ a)
    # tf2 rejects quaternions whose squared norm is off by more than 0.01; within that, normalise.
    if abs(n2 - 1.0) > 0.01:
        raise ValueError(f"rotation: quaternion {a.tolist()} is not normalised (norm {math.sqrt(n2):.4f})")
    return a / math.sqrt(n2)


def slerp(q0: np.ndarray, q1: np.ndarray, u: float) -> np.ndarray:
    """Spherical linear interpolation between unit quaternions (x, y, z, w), shortest arc."""
    a = np.asarray(q0, dtype=np.float64)
    b = np.asarray(q1, dtype=np.float64)
    d = float(a @ b)
    if d < 0.0:
        b = -b
        d = -d
    if d > 0.9995:  # nearly parallel: normalised lerp is exact enough and stable
        q = a + u * (b - a)
        return q / np.linalg.norm(q)
    theta = math.acos(min(1.0, d))
    s = math.sin(theta)
    q = (math.sin((1.0 - u) * theta) / s) * a + (math.sin(u * theta) / s) * b
    return q / np.linalg.norm(q)


def _matrix(translation: np.ndarray, quat: np.ndarray) -> np.ndarray:
    m = np.eye(4)
    m[:3, :3] = quat_to_matrix(quat)
    m[:3, 3] = translation
    return m


@dataclass(frozen=True)
class Transform:
    """One stamped transform parent -> child (pose of ``child`` in ``parent``)."""

    parent: str
    child: str
    stamp: float
    translation: np.ndarray
    rotation: np.ndarray  # unit quaternion x, y, z, w
    static: bool = False

    def __post_init__(self) -> None:
        p, c = _frame(self.parent), _frame(self.child)
        if p == c:
            raise ValueError(f"Transform: parent and child are the same frame {p!r}")
        object.__setattr__(self, "parent", p)
        object.__setattr__(self, "child", c)
        s = float(self.stamp)
        if not math.isfinite(s):
            raise ValueError(f"Transform {p}->{c}: stamp must be finite, got {self.stamp!r}")
        object.__setattr__(self, "stamp", s)
        t = np.asarray(self.translation, dtype=np.float64).reshape(-1)
        if t.shape != (3,) or not np.all(np.isfinite(t)):
            raise ValueError(f"Transform {p}->{c}: translation must be 3 finite values, got {t.tolist()}")
        t.flags.writeable = False
        object.__setattr__(self, "translation", t)
        try:
            q = _unit_quat(self.rotation)
        except ValueError as e:
            raise ValueError(f"Transform {p}->{c}: {e}") from None
        q.flags.writeable = False
        object.__setattr__(self, "rotation", q)
        object.__setattr__(self, "static", bool(self.static))

    def matrix(self) -> np.ndarray:
        return _matrix(self.translation, self.rotation)


@dataclass
class _Edge:
    parent: str
    static: bool
    stamps: list[float] = field(default_factory=list)
    translations: list[np.ndarray] = field(default_factory=list)
    rotations: list[np.ndarray] = field(default_factory=list)


class TfBuffer:
    """A buffer of transforms forming a tree of frames.

    ``cache_time``: how many seconds of dynamic history to keep per edge (relative to the
    newest stamp on that edge). ``tolerance``: default slack in seconds for lookups just
    outside an edge's stamped range (0: none, like tf2).
    """

    def __init__(self, cache_time: float = 10.0, tolerance: float = 0.0) -> None:
        if not (cache_time > 0 and math.isfinite(cache_time)):
            raise ValueError(f"TfBuffer.cache_time must be > 0 seconds, got {cache_time!r}")
        if not (tolerance >= 0 and math.isfinite(tolerance)):
            raise ValueError(f"TfBuffer.tolerance must be >= 0 seconds, got {tolerance!r}")
        self.cache_time = float(cache_time)
        self.tolerance = float(tolerance)
        self._edges: dict[str, _Edge] = {}  # child -> edge to its parent
        self._frames: set[str] = set()

    # -- feeding -----------------------------------------------------------------
    def set_transform(
        self,
        parent: str,
        child: str,
        stamp: float,
        translation: Any,
        rotation_xyzw: Any,
        static: bool = False,
    ) -> None:
        """Add one transform (the pose of ``child`` in ``parent`` at ``stamp``)."""
        self.add(Transform(parent, child, stamp, translation, rotation_xyzw, static))

    def set_matrix(self, parent: str, child: str, stamp: float, matrix: Any, static: bool = False) -> None:
        """Add one transform given as a 4x4 rigid matrix T_parent_child."""
        p = Pose(np.asarray(matrix, dtype=np.float64))
        self.add(Transform(parent, child, stamp, p.position, p.quat_xyzw(), static))

    def add(self, tf: Transform) -> None:
        edge = self._edges.get(tf.child)
        if edge is not None and (edge.parent != tf.parent or edge.static != tf.static):
            # re-parented, or switched between static and dynamic: the newest definition wins
            edge = None
        if edge is None:
            if self._is_ancestor(tf.child, tf.parent):
                raise ValueError(
                    f"TfBuffer: adding {tf.parent}->{tf.child} would make a loop "
                    f"({tf.child} is already an ancestor of {tf.parent})"
                )
            edge = _Edge(tf.parent, tf.static)
            self._edges[tf.child] = edge
        self._frames.update((tf.parent, tf.child))
        if tf.static:
            edge.stamps[:] = [tf.stamp]
            edge.translations[:] = [tf.translation]
            edge.rotations[:] = [tf.rotation]
            return
        k = bisect.bisect_left(edge.stamps, tf.stamp)
        if k < len(edge.stamps) and edge.stamps[k] == tf.stamp:  # same stamp again: replace
            edge.translations[k] = tf.translation
            edge.rotations[k] = tf.rotation
        else:
            edge.stamps.insert(k, tf.stamp)
            edge.translations.insert(k, tf.translation)
            edge.rotations.insert(k, tf.rotation)
        oldest_kept = edge.stamps[-1] - self.cache_time
        cut = bisect.bisect_left(edge.stamps, oldest_kept)
        if cut > 0:
            del edge.stamps[:cut], edge.translations[:cut], edge.rotations[:cut]

    def add_many(self, transforms: Iterable[Transform]) -> None:
        for tf in transforms:
            self.add(tf)

    def clear(self) -> None:
        self._edges.clear()
        self._frames.clear()

    # -- queries ------------------------------------------------------------------
    def frames(self) -> set[str]:
        return set(self._frames)

    def parent_of(self, frame: str) -> str | None:
        e = self._edges.get(_frame(frame))
        return e.parent if e else None

    def chain(self, target: str, source: str) -> list[str]:
        """The frames from ``source`` up to the common ancestor and down to ``target``."""
        up_src, up_tgt = self._paths(_frame(target), _frame(source))
        return up_src + list(reversed(up_tgt[:-1]))

    def time_range(self, parent: str, child: str) -> tuple[float, float] | None:
        """(oldest, newest) stamp of the edge parent -> child; None for a static edge."""
        e = self._edges.get(_frame(child))
        if e is None or e.parent != _frame(parent):
            raise FrameNotFoundError(f"TfBuffer: no edge {parent} -> {child}")
        return None if e.static else (e.stamps[0], e.stamps[-1])

    def latest_common_time(self, target: str, source: str) -> float | None:
        """Latest stamp at which every dynamic edge of the chain has data (None if all static)."""
        up, down = self._paths(_frame(target), _frame(source))
        newest = [self._edges[f].stamps[-1] for f in (up[:-1] + down[:-1]) if not self._edges[f].static]
        return min(newest) if newest else None

    def can_transform(
        self, target: str, source: str, stamp: float | None = None, tolerance: float | None = None
    ) -> bool:
        try:
            self.lookup(target, source, stamp, tolerance)
        except TfError:
            return False
        return True

    def lookup(
        self,
        target: str,
        source: str,
        stamp: float | None = None,
        tolerance: float | None = None,
    ) -> np.ndarray:
        """4x4 ``T_target_source`` at ``stamp`` (None: latest common time)."""
        tgt, src = _frame(target), _frame(source)
        tol = self.tolerance if tolerance is None else float(tolerance)
        if tgt == src:
            if tgt not in self._frames:
                raise FrameNotFoundError(self._missing_msg(tgt))
            return np.eye(4)
        up_src, up_tgt = self._paths(tgt, src)
        t = self.latest_common_time(tgt, src) if stamp is None else float(stamp)
        # T_root_src = product of edges from root down to src
        t_anc_src = np.eye(4)
        for f in up_src[:-1]:
            t_anc_src = self._edge_matrix(f, t, tol, tgt, src) @ t_anc_src
        t_anc_tgt = np.eye(4)
        for f in up_tgt[:-1]:
            t_anc_tgt = self._edge_matrix(f, t, tol, tgt, src) @ t_anc_tgt
        return _rigid_inverse(t_anc_tgt) @ t_anc_src

    def lookup_pose(self, target: str, source: str, stamp: float | None = None, tolerance: float | None = None) -> Pose:
        """Like :meth:`lookup` as a :class:`robomem.observation.Pose` (T_target_source)."""
        return Pose(self.lookup(target, source, stamp, tolerance))

    # -- internals -----------------------------------------------------------------
    def _missing_msg(self, frame: str) -> str:
        known = sorted(self._frames)
        shown = ", ".join(known[:20]) + (" ..." if len(known) > 20 else "")
        return f"TfBuffer: frame {frame!r} does not exist; known frames: [{shown}]"

    def _is_ancestor(self, frame: str, of: str) -> bool:
        f: str | None = of
        while f is not None:
            if f == frame:
                return True
            e = self._edges.get(f)
            f = e.parent if e else None
        return False

    def _root_path(self, frame: str) -> list[str]:
        path = [frame]
        e = self._edges.get(frame)
        while e is not None:
            path.append(e.parent)
            e = self._edges.get(e.parent)
        return path

    def _paths(self, tgt: str, src: str) -> tuple[list[str], list[str]]:
        """Paths from src and from tgt up to (and including) their lowest common ancestor."""
        for f in (tgt, src):
            if f not in self._frames:
                raise FrameNotFoundError(self._missing_msg(f))
        ps, pt = self._root_path(src), self._root_path(tgt)
        if ps[-1] != pt[-1]:
            raise ConnectivityError(
                f"TfBuffer: no chain between {tgt!r} and {src!r}: {src!r} is in the tree rooted at {ps[-1]!r}, "
                f"{tgt!r} in the tree rooted at {pt[-1]!r}"
            )
        in_t = set(pt)
        k = next(i for i, f in enumerate(ps) if f in in_t)
        anc = ps[k]
        return ps[: k + 1], pt[: pt.index(anc) + 1]

    def _edge_matrix(self, child: str, t: float | None, tol: float, tgt: str, src: str) -> np.ndarray:
        e = self._edges[child]
        if e.static:
            return _matrix(e.translations[0], e.rotations[0])
        if t is None:  # unreachable: a chain with a dynamic edge has a latest common time
            t = e.stamps[-1]
        st = e.stamps
        lo, hi = st[0], st[-1]
        if t < lo - tol or t > hi + tol:
            if t > hi:
                where = f"{t - hi:.6f} s after the newest ({hi:.6f})"
            else:
                where = f"{lo - t:.6f} s before the oldest ({lo:.6f})"
            raise ExtrapolationError(
                f"TfBuffer: lookup {tgt} <- {src} at t={t:.6f}: edge {e.parent} -> {child} has data in "
                f"[{lo:.6f}, {hi:.6f}] ({len(st)} stamps); requested time is {where}, tolerance {tol} s"
            )
        if t <= lo:
            return _matrix(e.translations[0], e.rotations[0])
        if t >= hi:
            return _matrix(e.translations[-1], e.rotations[-1])
        k = bisect.bisect_right(st, t)  # st[k-1] <= t < st[k]
        t0, t1 = st[k - 1], st[k]
        u = (t - t0) / (t1 - t0)
        tr = (1.0 - u) * e.translations[k - 1] + u * e.translations[k]
        q = slerp(e.rotations[k - 1], e.rotations[k], u)
        return _matrix(tr, q)


def _rigid_inverse(m: np.ndarray) -> np.ndarray:
    r = m[:3, :3]
    out = np.eye(4)
    out[:3, :3] = r.T
    out[:3, 3] = -r.T @ m[:3, 3]
    return out
