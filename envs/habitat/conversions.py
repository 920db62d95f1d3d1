"""Pure numpy conversions from habitat-sim's conventions to robomem's.

Nothing here imports habitat_sim: every function takes plain arrays or
duck-typed objects, so they run (and are tested) where habitat-sim is absent.

Habitat conventions (habitat-sim docs, "Coordinate Frame Tutorial"; ``agent.py``;
``agent/controls/default_controls.py``; ``sensors/sensor_wrapper.py``):

- world frame: right-handed, **y up**; an agent with identity rotation looks
  down its local **-z** (``move_forward`` translates by ``-amount`` along local z,
  ``turn_left`` rotates by ``+amount`` degrees about local +y);
- camera (sensor) frame: OpenGL, x right, y up, looking down **-z**;
- ``AgentState.position`` is a float array (3,), ``AgentState.rotation`` a
  numpy-quaternion ``np.quaternion(w, x, y, z)``; ``AgentState.sensor_states[uuid]``
  is a ``SixDOFPose`` (position, rotation) of the sensor in the *world* frame,
  i.e. ``T_world_sensor`` with the sensor in the OpenGL camera frame;
  ``habitat_sim.utils.common.quat_to_coeffs`` / ``quat_from_coeffs`` use the
  order ``[x, y, z, w]``; magnum quaternions expose ``.scalar`` and ``.vector``;
- colour: ``uint8 (H, W, 4)`` RGBA; depth: ``float32 (H, W)`` metres along the
  camera axis (z-depth, not ray length), 0 where nothing was hit; semantic:
  ``uint32 (H, W)`` object ids; row 0 of every image is the *top* row (the
  sensor wrapper flips the GL buffer);
- ``CameraSensorSpec.hfov`` is an angle in degrees (``magnum.Deg``); pixels are
  square, so the vertical field of view follows from the aspect ratio.

robomem conventions (``robomem.observation``): world right-handed, z up;
``Pose`` is ``T_world_camera`` with the camera in the optical frame (x right,
y down, z forward); depth float32 metres with 0/NaN invalid; instance ids int,
0 = none.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from robomem.observation import InstanceInfo, Intrinsics, Pose

__all__ = [
    "R_ROBOMEM_FROM_HABITAT",
    "T_ROBOMEM_FROM_HABITAT",
    "R_OPENGL_FROM_OPTICAL",
    "as_numpy",
    "HabitatLabDepth",
    "depth_to_metres",
    "habitat_from_robomem_points",
    "habitat_pose_matrix",
    "hfov_degrees",
    "instances_from_semantic",
    "intrinsics_from_hfov",
    "quat_wxyz_to_matrix",
    "quaternion_to_wxyz",
    "rgba_to_rgb",
    "robomem_from_habitat_points",
    "semantic_label_map",
    "sensor_pose_from_habitat",
    "sensor_pose_to_habitat",
]

# ---------------------------------------------------------------------------
# frames
# ---------------------------------------------------------------------------

#: Rotation taking Habitat world coordinates to robomem world coordinates:
#: ``p_robomem = R @ p_habitat`` with
#:
#:     x_r = -z_h   (Habitat's forward, -z, becomes robomem +x: forward)
#:     y_r = -x_h   (Habitat's right, +x, becomes robomem -y: y points left)
#:     z_r =  y_h   (Habitat's up, +y, becomes robomem +z: up)
#:
#: det(R) = +1 (a proper rotation, so handedness is kept). With it, a Habitat
#: agent with identity rotation faces robomem +x with +y to its left, the same as
#: a ROS ``base_link`` with identity orientation (REP 103).
R_ROBOMEM_FROM_HABITAT: np.ndarray = np.array(
    [
        [0.0, 0.0, -1.0],
        [-1.0, 0.0, 0.0],
        [0.0, 1.0, 0.0],
    ]
)
R_ROBOMEM_FROM_HABITAT.flags.writeable = False

#: The same as a homogeneous 4x4 transform (no translation: both worlds share the origin).
T_ROBOMEM_FROM_HABITAT: np.ndarray = np.eye(4)
T_ROBOMEM_FROM_HABITAT[:3, :3] = R_ROBOMEM_FROM_HABITAT
T_ROBOMEM_FROM_HABITAT.flags.writeable = False

#: Rotation taking optical-frame coordinates (x right, y down, z forward) to
#: OpenGL camera coordinates (x right, y up, z backward): ``p_gl = R @ p_optical``,
#: i.e. flip y and z. It is its own inverse; det = +1.
R_OPENGL_FROM_OPTICAL: np.ndarray = np.diag([1.0, -1.0, -1.0])
R_OPENGL_FROM_OPTICAL.flags.writeable = False


def robomem_from_habitat_points(points: Any) -> np.ndarray:
    """Map points (3,) or (N, 3) from the Habitat world frame to robomem's: ``(x, y, z) = (-z_h, -x_h, y_h)``."""
    p = np.asarray(points, dtype=np.float64)
    if p.shape[-1] != 3:
        raise ValueError(f"points: expected last dimension 3, got shape {p.shape}")
    return p @ R_ROBOMEM_FROM_HABITAT.T


def habitat_from_robomem_points(points: Any) -> np.ndarray:
    """Inverse of :func:`robomem_from_habitat_points`: ``(x_h, y_h, z_h) = (-y_r, z_r, -x_r)``."""
    p = np.asarray(points, dtype=np.float64)
    if p.shape[-1] != 3:
        raise ValueError(f"points: expected last dimension 3, got shape {p.shape}")
    return p @ R_ROBOMEM_FROM_HABITAT


# ---------------------------------------------------------------------------
# quaternions and poses
# ---------------------------------------------------------------------------

QuatOrder = Literal["wxyz", "xyzw"]


def quaternion_to_wxyz(q: Any, order: QuatOrder | None = None) -> np.ndarray:
    """Read a quaternion in any of habitat's formats and return ``[w, x, y, z]`` (float64, unit norm).

    Accepted:

    - numpy-quaternion ``np.quaternion`` (habitat's ``AgentState.rotation``) or
      anything else with ``.w .x .y .z`` attributes;
    - magnum ``mn.Quaternion`` or anything with ``.scalar`` (w) and ``.vector``
      (x, y, z, indexable or with ``.x .y .z``);
    - a plain sequence/array of 4 numbers, which is ambiguous, so ``order`` must
      say whether it is ``"wxyz"`` (numpy-quaternion's ``as_float_array``) or
      ``"xyzw"`` (habitat's ``quat_to_coeffs``, episode ``start_rotation``, ROS).

    ``order`` given together with a quaternion object is an error (the object
    already says which part is which). ``q`` and ``-q`` are the same rotation;
    the sign is kept as given.
    """
    if hasattr(q, "scalar") and hasattr(q, "vector"):
        if order is not None:
            raise ValueError("quaternion_to_wxyz: order applies to plain arrays only, got a magnum-like quaternion")
        v = q.vector
        vx, vy, vz = (v.x, v.y, v.z) if hasattr(v, "x") else (v[0], v[1], v[2])
        wxyz = np.array([float(q.scalar), float(vx), float(vy), float(vz)])
    elif all(hasattr(q, a) for a in ("w", "x", "y", "z")):
        if order is not None:
            raise ValueError("quaternion_to_wxyz: order applies to plain arrays only, got a quaternion object")
        wxyz = np.array([float(q.w), float(q.x), float(q.y), float(q.z)])
    else:
        a = as_numpy(q).astype(np.float64).reshape(-1)
        if a.shape != (4,):
            raise ValueError(f"quaternion_to_wxyz: expected 4 numbers, got shape {a.shape}")
        if order == "wxyz":
            wxyz = a.copy()
        elif order == "xyzw":
            wxyz = np.array([a[3], a[0], a[1], a[2]])
        elif order is None:
            raise ValueError(
                "quaternion_to_wxyz: a plain array of 4 numbers is ambiguous; pass order='wxyz' "
                "(numpy-quaternion) or order='xyzw' (habitat quat_to_coeffs, episode start_rotation)"
            )
        else:
            raise ValueError(f"quaternion_to_wxyz: order must be 'wxyz' or 'xyzw', got {order!r}")
    if not np.all(np.isfinite(wxyz)):
        raise ValueError(f"quaternion_to_wxyz: not finite: {wxyz.tolist()}")
    n = float(np.linalg.norm(wxyz))
    if abs(n - 1.0) > 1e-3:
        raise ValueError(f"quaternion_to_wxyz: not a unit quaternion (norm {n:.6f})")
    return wxyz / n


def quat_wxyz_to_matrix(wxyz: Any) -> np.ndarray:
    """Unit quaternion ``[w, x, y, z]`` to a 3x3 rotation matrix (Hamilton convention, active rotation).

    ``R = [[1-2(y²+z²), 2(xy-wz), 2(xz+wy)], [2(xy+wz), 1-2(x²+z²), 2(yz-wx)], [2(xz-wy), 2(yz+wx), 1-2(x²+y²)]]``,
    the convention numpy-quaternion (``quaternion.as_rotation_matrix``) and magnum use:
    ``R @ v`` equals ``q * v * q⁻¹``.
    """
    w, x, y, z = (float(v) for v in np.asarray(wxyz, dtype=np.float64).reshape(4))
    return np.array(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
            [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
            [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)],
        ]
    )


def habitat_pose_matrix(position: Any, rotation: Any, order: QuatOrder | None = None) -> np.ndarray:
    """``T_habitatworld_node`` (4x4) from a habitat position (3,) and rotation (any format of :func:`quaternion_to_wxyz`)."""
    t = as_numpy(position).astype(np.float64).reshape(-1)
    if t.shape != (3,) or not np.all(np.isfinite(t)):
        raise ValueError(f"position: expected 3 finite numbers, got {t.tolist()}")
    m = np.eye(4)
    m[:3, :3] = quat_wxyz_to_matrix(quaternion_to_wxyz(rotation, order))
    m[:3, 3] = t
    return m


def sensor_pose_from_habitat(position: Any, rotation: Any, order: QuatOrder | None = None) -> Pose:
    """robomem ``Pose`` (T_world_camera, z-up world, optical camera) from a habitat sensor state.

    ``position``/``rotation`` are ``AgentState.sensor_states[uuid].position/.rotation``:
    the sensor's OpenGL frame in the Habitat world, ``T_hw_gl``. Then

        T_rw_opt = T_rw_hw @ T_hw_gl @ T_gl_opt

    with ``T_rw_hw`` = :data:`T_ROBOMEM_FROM_HABITAT` and ``T_gl_opt`` =
    diag(1, -1, -1, 1) (:data:`R_OPENGL_FROM_OPTICAL`). Check: a sensor with
    identity rotation looks down Habitat -z; its optical +z is mapped to
    ``R_gl_opt @ e_z = -e_z`` (Habitat -z) and then to robomem +x (forward);
    optical +y (image down) becomes Habitat -y, then robomem -z (down).
    """
    t_hw_gl = habitat_pose_matrix(position, rotation, order)
    t_gl_opt = np.eye(4)
    t_gl_opt[:3, :3] = R_OPENGL_FROM_OPTICAL
    m = T_ROBOMEM_FROM_HABITAT @ t_hw_gl @ t_gl_opt
    # Re-orthonormalise the rotation (float noise from the quaternion) before Pose validates it.
    u, _, vt = np.linalg.svd(m[:3, :3])
    m[:3, :3] = u @ vt
    return Pose(m)


def sensor_pose_to_habitat(pose: Pose) -> tuple[np.ndarray, np.ndarray]:
    """Inverse of :func:`sensor_pose_from_habitat`: ``(position (3,), rotation [w, x, y, z])`` in habitat's frames."""
    t_gl_opt = np.eye(4)
    t_gl_opt[:3, :3] = R_OPENGL_FROM_OPTICAL
    t_hw_gl = T_ROBOMEM_FROM_HABITAT.T @ pose.matrix @ t_gl_opt  # both factors are their own/transpose inverses
    xyzw = _matrix_to_quat_xyzw(t_hw_gl[:3, :3])
    return t_hw_gl[:3, 3].copy(), np.array([xyzw[3], xyzw[0], xyzw[1], xyzw[2]])


def _matrix_to_quat_xyzw(r: np.ndarray) -> np.ndarray:
    from robomem.observation import matrix_to_quat

    return matrix_to_quat(r)


# ---------------------------------------------------------------------------
# images
# ---------------------------------------------------------------------------


def as_numpy(x: Any) -> np.ndarray:
    """A numpy array from a numpy array, a torch tensor (habitat's gpu2gpu mode) or a sequence; contiguous."""
    if hasattr(x, "detach") and hasattr(x, "cpu") and hasattr(x, "numpy"):
        x = x.detach().cpu().numpy()
    return np.ascontiguousarray(np.asarray(x))


def rgba_to_rgb(color: Any) -> np.ndarray:
    """habitat colour ``uint8 (H, W, 4)`` RGBA to ``uint8 (H, W, 3)`` RGB (alpha dropped; (H, W, 3) passes through)."""
    c = as_numpy(color)
    if c.dtype != np.uint8:
        raise ValueError(f"colour: expected dtype uint8, got {c.dtype}")
    if c.ndim != 3 or c.shape[2] not in (3, 4):
        raise ValueError(f"colour: expected shape (H, W, 4) RGBA or (H, W, 3) RGB, got {c.shape}")
    return np.ascontiguousarray(c[:, :, :3])


@dataclass(frozen=True)
class HabitatLabDepth:
    """How habitat-lab post-processed a depth observation (its ``DepthSensorConfig``).

    habitat-lab's depth sensor does ``d = clip(d, min_depth, max_depth)``, then,
    if ``normalize_depth``, ``d_norm = (d - min_depth) / (max_depth - min_depth)``,
    and adds a trailing channel: ``(H, W, 1)``. Its defaults are min 0.0,
    max 10.0, normalize True. Raw habitat-sim depth needs none of this (pass
    ``None`` where one is asked for).
    """

    min_depth: float = 0.0
    max_depth: float = 10.0
    normalized: bool = True

    def __post_init__(self) -> None:
        if not (math.isfinite(self.min_depth) and math.isfinite(self.max_depth)):
            raise ValueError("HabitatLabDepth: min_depth and max_depth must be finite")
        if self.min_depth < 0 or self.max_depth <= self.min_depth:
            raise ValueError(
                f"HabitatLabDepth: need 0 <= min_depth < max_depth, got {self.min_depth}, {self.max_depth}"
            )


def depth_to_metres(
    depth: Any,
    habitat_lab: HabitatLabDepth | None = None,
    *,
    invalidate_clipped: bool = True,
) -> np.ndarray:
    """habitat depth to robomem depth: ``float32 (H, W)`` metres along the optical axis, 0 = invalid.

    - ``(H, W)`` (habitat-sim) and ``(H, W, 1)`` (habitat-lab) are both accepted.
    - habitat-sim depth is already z-depth in metres (the camera-axis distance
      a pinhole back-projection wants), so with ``habitat_lab=None`` it passes
      through; 0 (nothing hit) stays 0 = invalid.
    - With ``habitat_lab.normalized`` the normalisation is undone:
      ``d = min_depth + d_norm * (max_depth - min_depth)``.
    - habitat-lab clipped to ``[min_depth, max_depth]``, so a value on either
      bound is a clamp, not a measurement (nothing hit, or out of range). With
      ``invalidate_clipped`` (default) those pixels become 0: back-projecting
      them would put phantom surfaces on the range limits.
    - NaN and inf become 0; negative values are an error.
    """
    d = as_numpy(depth)
    if d.ndim == 3 and d.shape[2] == 1:
        d = d[:, :, 0]
    if d.ndim != 2:
        raise ValueError(f"depth: expected shape (H, W) or (H, W, 1), got {d.shape}")
    if not np.issubdtype(d.dtype, np.floating):
        raise ValueError(f"depth: expected a float array (metres or normalised), got {d.dtype}")
    d = d.astype(np.float32, copy=True)
    d[~np.isfinite(d)] = 0.0
    if np.any(d < 0):
        raise ValueError(f"depth: negative value {float(d.min())}")
    if habitat_lab is None:
        return np.ascontiguousarray(d)
    lo, hi = np.float32(habitat_lab.min_depth), np.float32(habitat_lab.max_depth)
    if habitat_lab.normalized:
        if float(d.max(initial=0.0)) > 1.0 + 1e-5:
            raise ValueError(
                f"depth: normalize_depth is set but values reach {float(d.max()):.3f} > 1; is it already in metres?"
            )
        clipped = (d <= 1e-6) | (d >= 1.0 - 1e-6)
        d = (lo + d * (hi - lo)).astype(np.float32)
    else:
        tol = np.float32(1e-5) * max(np.float32(1.0), hi)
        clipped = (d <= lo + tol) | (d >= hi - tol)
    if invalidate_clipped:
        d[clipped] = 0.0
    return np.ascontiguousarray(d)


# ---------------------------------------------------------------------------
# semantics
# ---------------------------------------------------------------------------


def _object_semantic_id(obj: Any) -> int | None:
    sid = getattr(obj, "semantic_id", None)
    if sid is not None:
        try:
            return int(sid)
        except (TypeError, ValueError):
            pass
    # MP3D-style ids "<level>_<region>_<object>": the last part is the instance id.
    oid = getattr(obj, "id", None)
    if isinstance(oid, str) and oid:
        try:
            return int(oid.rsplit("_", 1)[-1])
        except ValueError:
            return None
    return None


def _category_name(obj: Any) -> str | None:
    cat = getattr(obj, "category", None)
    if cat is None:
        return None
    name = cat.name() if callable(getattr(cat, "name", None)) else getattr(cat, "name", None)
    if not isinstance(name, str):
        return None
    name = name.strip()
    return name or None


def semantic_label_map(
    semantic_scene: Any,
    *,
    unknown_label: str | None = "unknown",
) -> dict[int, str]:
    """``{semantic id: category name}`` from ``sim.semantic_scene`` (or directly from a list of objects).

    For each ``obj`` in ``semantic_scene.objects``: the id is ``obj.semantic_id``
    (what the SEMANTIC sensor writes), falling back to the integer after the
    last ``_`` of ``obj.id`` (MP3D's ``<level>_<region>_<object>``); the label is
    ``obj.category.name()``. ``None`` objects are skipped; an object without a
    category (or with an empty name) gets ``unknown_label``, or is left out of
    the map when ``unknown_label`` is None. Id 0 is never mapped (0 = none).
    """
    if semantic_scene is None:
        return {}
    objects: Iterable[Any] = getattr(semantic_scene, "objects", semantic_scene)
    out: dict[int, str] = {}
    for obj in objects or ():
        if obj is None:
            continue
        sid = _object_semantic_id(obj)
        if sid is None or sid <= 0:
            continue
        name = _category_name(obj) or unknown_label
        if name is None:
            continue
        out[sid] = name
    return out


def instances_from_semantic(
    semantic: Any,
    label_map: Mapping[int, str],
    *,
    unknown_label: str | None = "unknown",
    ignore_labels: Sequence[str] = (),
    score: float = 1.0,
) -> tuple[np.ndarray, dict[int, InstanceInfo]]:
    """habitat ``uint32 (H, W)`` semantic ids to a robomem instance image and its labels.

    Returns ``(ids, infos)``: ``ids`` int32 (H, W) (int64 if an id exceeds
    int32), the habitat ids kept as they are so an id means the same object in
    every frame; ``infos`` maps each non-zero id present to
    ``InstanceInfo(label)``. Ids missing from ``label_map`` get
    ``unknown_label``, or become 0 (none) when it is None; ids whose label is in
    ``ignore_labels`` (e.g. ``("wall", "floor", "ceiling")``) become 0 too.
    ``(H, W, 1)`` input is accepted.
    """
    s = as_numpy(semantic)
    if s.ndim == 3 and s.shape[2] == 1:
        s = s[:, :, 0]
    if s.ndim != 2:
        raise ValueError(f"semantic: expected shape (H, W), got {s.shape}")
    if not np.issubdtype(s.dtype, np.integer):
        raise ValueError(f"semantic: expected an integer array, got {s.dtype}")
    if s.size and np.issubdtype(s.dtype, np.signedinteger) and int(s.min()) < 0:
        raise ValueError(f"semantic: negative id {int(s.min())}")
    big = s.size > 0 and int(s.max()) > np.iinfo(np.int32).max
    ids = s.astype(np.int64 if big else np.int32, copy=True)
    ignored = set(ignore_labels)
    infos: dict[int, InstanceInfo] = {}
    drop: list[int] = []
    for raw in np.unique(ids):
        i = int(raw)
        if i == 0:
            continue
        label = label_map.get(i, unknown_label)
        if label is None or label in ignored:
            drop.append(i)
            continue
        infos[i] = InstanceInfo(label=label, score=score)
    if drop:
        ids[np.isin(ids, drop)] = 0
    return np.ascontiguousarray(ids), infos


# ---------------------------------------------------------------------------
# intrinsics
# ---------------------------------------------------------------------------


def hfov_degrees(hfov: Any) -> float:
    """Horizontal field of view in degrees from a habitat spec value.

    ``CameraSensorSpec.hfov`` reads back as ``magnum.Deg`` (``float()`` gives
    degrees); a ``magnum.Rad`` is converted; a plain number is taken as degrees
    (habitat's configs and ``habitat_sim.utils.settings`` use degrees).
    """
    name = type(hfov).__name__
    v = float(hfov)
    if name in ("Rad", "Radd"):
        return math.degrees(v)
    return v


def intrinsics_from_hfov(
    width: int,
    height: int,
    hfov: float,
    unit: Literal["deg", "rad"] = "deg",
) -> Intrinsics:
    """Pinhole intrinsics of a habitat PINHOLE camera from its resolution and horizontal field of view.

    habitat-sim builds the projection from ``hfov`` and the aspect ratio, with
    square pixels: ``fx = fy = (W / 2) / tan(hfov / 2)``.

    Principal point: ``cx = (W - 1) / 2``, ``cy = (H - 1) / 2``. The projection
    maps the image's outer *edges* to NDC ±1, and the rasteriser samples pixel
    ``i`` at its centre, NDC ``(2i + 1) / W - 1``. robomem (like OpenCV and
    ROS ``CameraInfo``) puts pixel ``i``'s centre at coordinate ``u = i``, so
    ``u = cx + fx * X / Z`` with ``cx = W/2 - 1/2``. The often-quoted ``W / 2``
    is the same camera in a pixel-corner convention; with integer pixel indices
    it is half a pixel off. (Equal to robomem's ``Intrinsics.from_fov``.)

    ``unit`` must be given explicitly when the angle is in radians; habitat
    configs use degrees.
    """
    if unit == "deg":
        hfov_rad = math.radians(float(hfov))
    elif unit == "rad":
        hfov_rad = float(hfov)
    else:
        raise ValueError(f"intrinsics_from_hfov: unit must be 'deg' or 'rad', got {unit!r}")
    if not 0.0 < hfov_rad < math.pi:
        raise ValueError(
            f"intrinsics_from_hfov: hfov must be in (0, 180) degrees, got {math.degrees(hfov_rad):.3f} degrees "
            f"(unit={unit!r})"
        )
    w, h = int(width), int(height)
    f = (w / 2.0) / math.tan(hfov_rad / 2.0)
    return Intrinsics(fx=f, fy=f, cx=(w - 1) / 2.0, cy=(h - 1) / 2.0, width=w, height=h)
