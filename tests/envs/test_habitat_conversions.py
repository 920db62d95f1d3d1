"""Hand-computed cases for robomem.envs.habitat.conversions (no habitat-sim needed)."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest

from robomem.envs.habitat.conversions import (
    R_OPENGL_FROM_OPTICAL,
    R_ROBOMEM_FROM_HABITAT,
    HabitatLabDepth,
    depth_to_metres,
    habitat_from_robomem_points,
    hfov_degrees,
    instances_from_semantic,
    intrinsics_from_hfov,
    quat_wxyz_to_matrix,
    quaternion_to_wxyz,
    rgba_to_rgb,
    robomem_from_habitat_points,
    semantic_label_map,
    sensor_pose_from_habitat,
    sensor_pose_to_habitat,
)

S = math.sqrt(0.5)


# -- frames ---------------------------------------------------------------------------


def test_world_rotation_is_proper_and_maps_axes_as_documented() -> None:
    r = R_ROBOMEM_FROM_HABITAT
    assert np.linalg.det(r) == pytest.approx(1.0)
    np.testing.assert_allclose(r.T @ r, np.eye(3))
    # Habitat forward (-z) -> robomem +x; Habitat right (+x) -> robomem -y; Habitat up (+y) -> robomem +z.
    np.testing.assert_allclose(robomem_from_habitat_points([0, 0, -1]), [1, 0, 0])
    np.testing.assert_allclose(robomem_from_habitat_points([1, 0, 0]), [0, -1, 0])
    np.testing.assert_allclose(robomem_from_habitat_points([0, 1, 0]), [0, 0, 1])
    np.testing.assert_allclose(robomem_from_habitat_points([1.0, 2.0, 3.0]), [-3.0, -1.0, 2.0])
    pts = np.random.default_rng(0).normal(size=(10, 3))
    np.testing.assert_allclose(habitat_from_robomem_points(robomem_from_habitat_points(pts)), pts)


def test_opengl_to_optical_flips_y_and_z() -> None:
    np.testing.assert_allclose(R_OPENGL_FROM_OPTICAL @ [0, 0, 1], [0, 0, -1])  # optical forward = GL -z
    np.testing.assert_allclose(R_OPENGL_FROM_OPTICAL @ [0, 1, 0], [0, -1, 0])  # image down = GL -y
    assert np.linalg.det(R_OPENGL_FROM_OPTICAL) == pytest.approx(1.0)


# -- quaternions ------------------------------------------------------------------------


class _NpQuat:  # numpy-quaternion look-alike
    def __init__(self, w: float, x: float, y: float, z: float) -> None:
        self.w, self.x, self.y, self.z = w, x, y, z


class _MnVector3:
    def __init__(self, x: float, y: float, z: float) -> None:
        self.x, self.y, self.z = x, y, z


class _MnQuat:  # magnum look-alike
    def __init__(self, vector: _MnVector3, scalar: float) -> None:
        self.vector, self.scalar = vector, scalar


TURN_LEFT_90 = (S, 0.0, S, 0.0)  # w, x, y, z: +90 degrees about habitat +y


@pytest.mark.parametrize(
    ("q", "order"),
    [
        (_NpQuat(*TURN_LEFT_90), None),
        (_MnQuat(_MnVector3(0.0, S, 0.0), S), None),
        (SimpleNamespace(scalar=S, vector=(0.0, S, 0.0)), None),  # vector indexable
        (np.array(TURN_LEFT_90), "wxyz"),
        ([0.0, S, 0.0, S], "xyzw"),  # habitat quat_to_coeffs order
    ],
)
def test_quaternion_formats_agree(q: object, order: str | None) -> None:
    np.testing.assert_allclose(quaternion_to_wxyz(q, order), TURN_LEFT_90, atol=1e-12)


def test_quaternion_plain_array_needs_order_and_objects_refuse_it() -> None:
    with pytest.raises(ValueError, match="ambiguous"):
        quaternion_to_wxyz([1.0, 0.0, 0.0, 0.0])
    with pytest.raises(ValueError, match="order"):
        quaternion_to_wxyz(_NpQuat(1, 0, 0, 0), "wxyz")
    with pytest.raises(ValueError, match="unit"):
        quaternion_to_wxyz([1.0, 1.0, 0.0, 0.0], "wxyz")
    with pytest.raises(ValueError, match="order must be"):
        quaternion_to_wxyz([1.0, 0.0, 0.0, 0.0], "zyxw")  # type: ignore[arg-type]


def test_quaternion_matrix_is_active_rotation() -> None:
    # +90 degrees about +y takes +x to -z and -z (habitat forward) to -x.
    r = quat_wxyz_to_matrix(TURN_LEFT_90)
    np.testing.assert_allclose(r @ [1, 0, 0], [0, 0, -1], atol=1e-12)
    np.testing.assert_allclose(r @ [0, 0, -1], [-1, 0, 0], atol=1e-12)


def test_real_numpy_quaternion() -> None:
    import quaternion  # numpy-quaternion, habitat-sim's quaternion type: in the project's `sim` extra

    q = quaternion.from_rotation_vector([0.0, math.pi / 2, 0.0])
    np.testing.assert_allclose(quaternion_to_wxyz(q), TURN_LEFT_90, atol=1e-9)
    np.testing.assert_allclose(quat_wxyz_to_matrix(quaternion_to_wxyz(q)), quaternion.as_rotation_matrix(q), atol=1e-9)


def test_real_magnum_if_installed() -> None:
    mn = pytest.importorskip("magnum", reason="magnum (habitat-sim's math library) not here")
    q = mn.Quaternion.rotation(mn.Deg(90.0), mn.Vector3(0.0, 1.0, 0.0))
    np.testing.assert_allclose(quaternion_to_wxyz(q), TURN_LEFT_90, atol=1e-6)


# -- sensor poses ------------------------------------------------------------------------


def test_identity_sensor_pose_hand_computed() -> None:
    pose = sensor_pose_from_habitat([1.0, 1.5, 2.0], _NpQuat(1, 0, 0, 0))
    np.testing.assert_allclose(pose.position, [-2.0, -1.0, 1.5])
    # optical x (right) = robomem -y, optical y (down) = robomem -z, optical z (forward) = robomem +x
    np.testing.assert_allclose(pose.rotation, [[0, 0, 1], [-1, 0, 0], [0, -1, 0]], atol=1e-12)
    # A point 3 m in front of the camera: habitat (1, 1.5, -1) -> robomem (1, -1, 1.5).
    np.testing.assert_allclose(pose.transform_points(np.array([[0.0, 0.0, 3.0]]))[0], [1.0, -1.0, 1.5])
    np.testing.assert_allclose(robomem_from_habitat_points([1.0, 1.5, -1.0]), [1.0, -1.0, 1.5])
    # A point 1 m to the right of the optical axis (optical +x) is habitat +x: robomem -y.
    np.testing.assert_allclose(pose.transform_points(np.array([[1.0, 0.0, 3.0]]))[0], [1.0, -2.0, 1.5])


def test_turned_and_pitched_sensor_poses() -> None:
    left = sensor_pose_from_habitat([0, 1, 0], _NpQuat(*TURN_LEFT_90))
    np.testing.assert_allclose(left.forward, [0, 1, 0], atol=1e-12)  # turned left: robomem +y
    h = math.radians(-90) / 2  # habitat look_down 90 degrees: about +x by -90
    down = sensor_pose_from_habitat([0, 1, 0], _NpQuat(math.cos(h), math.sin(h), 0, 0))
    np.testing.assert_allclose(down.forward, [0, 0, -1], atol=1e-12)
    np.testing.assert_allclose(down.rotation[:, 0], [0, -1, 0], atol=1e-12)  # image right is still robomem -y


def test_sensor_pose_round_trip() -> None:
    rng = np.random.default_rng(1)
    for _ in range(20):
        q = rng.normal(size=4)
        q /= np.linalg.norm(q)
        p = rng.normal(size=3)
        pose = sensor_pose_from_habitat(p, q, "wxyz")
        p2, q2 = sensor_pose_to_habitat(pose)
        np.testing.assert_allclose(p2, p, atol=1e-9)
        np.testing.assert_allclose(quat_wxyz_to_matrix(q2), quat_wxyz_to_matrix(q), atol=1e-9)


# -- images -----------------------------------------------------------------------------


def test_rgba_to_rgb() -> None:
    rgba = np.zeros((2, 3, 4), np.uint8)
    rgba[..., 0], rgba[..., 1], rgba[..., 2], rgba[..., 3] = 10, 20, 30, 255
    rgb = rgba_to_rgb(np.flip(rgba, 0))  # habitat hands out flipped views
    assert rgb.shape == (2, 3, 3) and rgb.dtype == np.uint8 and rgb.flags.c_contiguous
    assert rgb[0, 0].tolist() == [10, 20, 30]
    assert rgba_to_rgb(rgba[..., :3]).shape == (2, 3, 3)
    with pytest.raises(ValueError, match="uint8"):
        rgba_to_rgb(rgba.astype(np.float32))
    with pytest.raises(ValueError, match="shape"):
        rgba_to_rgb(np.zeros((2, 3), np.uint8))


def test_depth_raw_habitat_sim_passes_through() -> None:
    d = np.array([[0.0, 1.5], [np.nan, 3.25]], np.float32)
    out = depth_to_metres(d)
    assert out.dtype == np.float32 and out.shape == (2, 2)
    assert out.tolist() == [[0.0, 1.5], [0.0, 3.25]]
    assert depth_to_metres(d[:, :, None]).shape == (2, 2)
    with pytest.raises(ValueError, match="negative"):
        depth_to_metres(np.array([[-1.0]], np.float32))
    with pytest.raises(ValueError, match="float"):
        depth_to_metres(np.array([[1000]], np.uint16))


def test_depth_normalisation_undone() -> None:
    cfg = HabitatLabDepth(min_depth=0.5, max_depth=5.5)
    d_norm = np.array([[[0.5]], [[0.1]], [[0.0]], [[1.0]]], np.float32).reshape(2, 2, 1)  # habitat-lab (H, W, 1)
    out = depth_to_metres(d_norm, cfg)
    # 0.5 + 0.5 * 5 = 3.0; 0.5 + 0.1 * 5 = 1.0; the clamps (0 and 1) become invalid
    np.testing.assert_allclose(out, [[3.0, 1.0], [0.0, 0.0]], atol=1e-6)
    kept = depth_to_metres(d_norm, cfg, invalidate_clipped=False)
    np.testing.assert_allclose(kept, [[3.0, 1.0], [0.5, 5.5]], atol=1e-6)
    with pytest.raises(ValueError, match="already in metres"):
        depth_to_metres(np.array([[2.0]], np.float32), cfg)


def test_depth_clipped_not_normalised() -> None:
    cfg = HabitatLabDepth(min_depth=0.0, max_depth=10.0, normalized=False)
    out = depth_to_metres(np.array([[0.0, 2.5, 10.0]], np.float32), cfg)
    np.testing.assert_allclose(out, [[0.0, 2.5, 0.0]])
    with pytest.raises(ValueError):
        HabitatLabDepth(min_depth=2.0, max_depth=1.0)


# -- semantics --------------------------------------------------------------------------


class _Cat:
    def __init__(self, name: str) -> None:
        self._n = name

    def name(self, mapping: str = "") -> str:
        return self._n


def _scene() -> SimpleNamespace:
    return SimpleNamespace(
        objects=[
            SimpleNamespace(id="0_0_0", semantic_id=0, category=_Cat("void")),  # id 0 = none, never mapped
            None,
            SimpleNamespace(id="0_0_3", semantic_id=3, category=_Cat("chair")),
            SimpleNamespace(id="0_1_4", semantic_id=4, category=None),
            SimpleNamespace(id="0_1_5", semantic_id=5, category=_Cat("  ")),
            SimpleNamespace(id="1_2_8", category=_Cat("sofa")),  # no semantic_id: MP3D-style id suffix
            SimpleNamespace(id="1_2_9", semantic_id=9, category=_Cat("wall")),
        ]
    )


def test_semantic_label_map() -> None:
    assert semantic_label_map(_scene()) == {3: "chair", 4: "unknown", 5: "unknown", 8: "sofa", 9: "wall"}
    assert semantic_label_map(_scene(), unknown_label=None) == {3: "chair", 8: "sofa", 9: "wall"}
    assert semantic_label_map(_scene().objects)[3] == "chair"  # a plain object list works too
    assert semantic_label_map(None) == {}


def test_instances_from_semantic() -> None:
    sem = np.array([[0, 3, 3], [4, 9, 77]], np.uint32)
    labels = semantic_label_map(_scene())
    ids, infos = instances_from_semantic(sem, labels)
    assert ids.dtype == np.int32
    assert ids.tolist() == [[0, 3, 3], [4, 9, 77]]
    assert {k: v.label for k, v in infos.items()} == {3: "chair", 4: "unknown", 9: "wall", 77: "unknown"}
    ids, infos = instances_from_semantic(sem, labels, unknown_label=None, ignore_labels=("wall",))
    assert ids.tolist() == [[0, 3, 3], [4, 0, 0]]  # 4 is mapped to "unknown" by the map itself
    assert sorted(infos) == [3, 4]
    big, _ = instances_from_semantic(np.array([[2**31 + 5]], np.uint32), {})
    assert big.dtype == np.int64 and int(big[0, 0]) == 2**31 + 5
    with pytest.raises(ValueError, match="integer"):
        instances_from_semantic(np.zeros((2, 2), np.float32), {})


# -- intrinsics -------------------------------------------------------------------------


def test_intrinsics_from_hfov_hand_computed() -> None:
    k = intrinsics_from_hfov(640, 480, 90.0)
    assert (k.fx, k.fy, k.cx, k.cy, k.width, k.height) == pytest.approx((320.0, 320.0, 319.5, 239.5, 640, 480))
    k60 = intrinsics_from_hfov(200, 100, math.pi / 3, unit="rad")
    assert k60.fx == pytest.approx(100.0 * math.sqrt(3.0)) and k60.fy == k60.fx
    assert (k60.cx, k60.cy) == (99.5, 49.5)
    with pytest.raises(ValueError, match="unit"):
        intrinsics_from_hfov(10, 10, 90, unit="grad")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="hfov"):
        intrinsics_from_hfov(10, 10, 90.0, unit="rad")  # 90 radians: a unit mistake


def test_hfov_degrees_reads_magnum_like_angles() -> None:
    class Deg:
        def __float__(self) -> float:
            return 79.0

    class Rad:
        def __float__(self) -> float:
            return math.pi / 2

    assert hfov_degrees(Deg()) == 79.0
    assert hfov_degrees(Rad()) == pytest.approx(90.0)
    assert hfov_degrees(90) == 90.0
