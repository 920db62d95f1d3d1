from __future__ import annotations

import math

import numpy as np
import pytest

from robomem.io.tf_buffer import (
    ConnectivityError,
    ExtrapolationError,
    FrameNotFoundError,
    TfBuffer,
    Transform,
    slerp,
)
from robomem.observation import Pose


def yaw_quat(yaw: float) -> list[float]:
    return [0.0, 0.0, math.sin(yaw / 2), math.cos(yaw / 2)]


# camera_link -> camera_optical_frame: the standard REP 103 -> optical rotation (x right, y down, z fwd)
OPTICAL_Q = [-0.5, 0.5, -0.5, 0.5]


def robot_buffer() -> TfBuffer:
    """map -> odom (dynamic, 2 stamps) -> base_link (dynamic, 3 stamps) -> camera_link -> camera_optical_frame (static)."""
    tf = TfBuffer(cache_time=100.0)
    tf.set_transform("map", "odom", 0.0, [1.0, 0.0, 0.0], yaw_quat(0.0))
    tf.set_transform("map", "odom", 10.0, [1.0, 0.0, 0.0], yaw_quat(0.0))
    tf.set_transform("odom", "base_link", 0.0, [0.0, 0.0, 0.0], yaw_quat(0.0))
    tf.set_transform("odom", "base_link", 1.0, [1.0, 0.0, 0.0], yaw_quat(math.pi / 2))
    tf.set_transform("odom", "base_link", 2.0, [1.0, 1.0, 0.0], yaw_quat(math.pi / 2))
    tf.set_transform("base_link", "camera_link", 0.0, [0.2, 0.0, 1.0], [0, 0, 0, 1], static=True)
    tf.set_transform("camera_link", "camera_optical_frame", 0.0, [0, 0, 0], OPTICAL_Q, static=True)
    return tf


def test_chain_and_exact_stamp() -> None:
    tf = robot_buffer()
    assert tf.chain("map", "camera_optical_frame") == [
        "camera_optical_frame",
        "camera_link",
        "base_link",
        "odom",
        "map",
    ]
    m = tf.lookup("map", "base_link", 1.0)
    np.testing.assert_allclose(m[:3, 3], [2.0, 0.0, 0.0], atol=1e-12)
    np.testing.assert_allclose(m[:3, 0], [0.0, 1.0, 0.0], atol=1e-12)  # base x points along map y


def test_optical_frame_axes() -> None:
    tf = robot_buffer()
    pose = tf.lookup_pose("map", "camera_optical_frame", 0.0)
    assert isinstance(pose, Pose)
    # at t=0 base_link == odom, facing map +x: the optical z (forward) is map +x, optical y (down) is map -z
    np.testing.assert_allclose(pose.forward, [1, 0, 0], atol=1e-9)
    np.testing.assert_allclose(pose.rotation[:, 1], [0, 0, -1], atol=1e-9)
    np.testing.assert_allclose(pose.rotation[:, 0], [0, -1, 0], atol=1e-9)
    np.testing.assert_allclose(pose.position, [1.2, 0.0, 1.0], atol=1e-9)


def test_interpolation_linear_and_slerp() -> None:
    tf = robot_buffer()
    m = tf.lookup("odom", "base_link", 0.5)
    np.testing.assert_allclose(m[:3, 3], [0.5, 0, 0], atol=1e-12)
    yaw = math.atan2(m[1, 0], m[0, 0])
    assert yaw == pytest.approx(math.pi / 4)
    m = tf.lookup("odom", "base_link", 1.25)
    np.testing.assert_allclose(m[:3, 3], [1.0, 0.25, 0], atol=1e-12)


def test_inverse_and_cross_branch() -> None:
    tf = robot_buffer()
    tf.set_transform("map", "charger", 0.0, [5.0, 5.0, 0.0], yaw_quat(math.pi), static=True)
    a = tf.lookup("map", "base_link", 1.5)
    b = tf.lookup("base_link", "map", 1.5)
    np.testing.assert_allclose(a @ b, np.eye(4), atol=1e-12)
    # charger in base_link = inv(T_map_base) @ T_map_charger
    c = tf.lookup("base_link", "charger", 1.5)
    np.testing.assert_allclose(c, np.linalg.inv(a) @ tf.lookup("map", "charger", 1.5), atol=1e-12)
    assert tf.lookup("odom", "odom", 3.0).tolist() == np.eye(4).tolist()


def test_latest_common_time() -> None:
    tf = robot_buffer()
    assert tf.latest_common_time("map", "camera_optical_frame") == 2.0
    m = tf.lookup("map", "base_link")  # t=None: latest common time
    np.testing.assert_allclose(m[:3, 3], [2.0, 1.0, 0.0], atol=1e-12)
    assert tf.latest_common_time("base_link", "camera_optical_frame") is None
    tf.lookup("base_link", "camera_optical_frame")  # all static: fine at any time


def test_extrapolation_error_and_tolerance() -> None:
    tf = robot_buffer()
    with pytest.raises(ExtrapolationError, match=r"odom -> base_link.*after the newest"):
        tf.lookup("map", "camera_optical_frame", 2.5)
    with pytest.raises(ExtrapolationError, match="before the oldest"):
        tf.lookup("map", "base_link", -0.1)
    m = tf.lookup("map", "base_link", 2.05, tolerance=0.1)  # held at the newest entry
    np.testing.assert_allclose(m[:3, 3], [2.0, 1.0, 0.0], atol=1e-12)
    assert not tf.can_transform("map", "base_link", 2.5)
    assert tf.can_transform("map", "base_link", 2.5, tolerance=1.0)
    tf2 = TfBuffer(tolerance=1.0)
    tf2.set_transform("a", "b", 0.0, [0, 0, 0], [0, 0, 0, 1])
    tf2.lookup("a", "b", 0.9)  # single entry: valid only within the tolerance
    with pytest.raises(ExtrapolationError):
        tf2.lookup("a", "b", 1.1)


def test_missing_and_disconnected_frames() -> None:
    tf = robot_buffer()
    with pytest.raises(FrameNotFoundError, match="'camera_depth_frame' does not exist.*known frames"):
        tf.lookup("map", "camera_depth_frame", 0.0)
    tf.set_transform("world", "table", 0.0, [0, 0, 0], [0, 0, 0, 1], static=True)
    with pytest.raises(ConnectivityError, match="rooted at 'world'"):
        tf.lookup("map", "table", 0.0)
    assert isinstance(FrameNotFoundError("x"), LookupError)


def test_cache_pruning_and_replacement() -> None:
    tf = TfBuffer(cache_time=1.0)
    for k in range(50):
        tf.set_transform("odom", "base_link", k * 0.1, [k * 0.1, 0, 0], [0, 0, 0, 1])
    lo, hi = tf.time_range("odom", "base_link")  # type: ignore[misc]
    assert hi == pytest.approx(4.9) and lo >= 3.9 - 1e-9
    with pytest.raises(ExtrapolationError):
        tf.lookup("odom", "base_link", 1.0)
    # same stamp again replaces; an out-of-order stamp is inserted in order
    tf.set_transform("odom", "base_link", 4.9, [10.0, 0, 0], [0, 0, 0, 1])
    tf.set_transform("odom", "base_link", 4.85, [0, 0, 0], [0, 0, 0, 1])
    assert tf.lookup("odom", "base_link", 4.9)[0, 3] == 10.0
    assert tf.lookup("odom", "base_link", 4.85)[0, 3] == 0.0


def test_reparent_loop_and_validation() -> None:
    tf = TfBuffer()
    tf.set_transform("a", "b", 0.0, [0, 0, 0], [0, 0, 0, 1], static=True)
    tf.set_transform("b", "c", 0.0, [0, 0, 0], [0, 0, 0, 1], static=True)
    with pytest.raises(ValueError, match="loop"):
        tf.set_transform("c", "a", 0.0, [0, 0, 0], [0, 0, 0, 1], static=True)
    tf.set_transform("/x", "/c", 0.0, [1, 0, 0], [0, 0, 0, 1], static=True)  # re-parented; leading / stripped
    assert tf.parent_of("c") == "x"
    with pytest.raises(ValueError, match="not normalised"):
        Transform("a", "b", 0.0, [0, 0, 0], [0, 0, 0, 2])
    with pytest.raises(ValueError, match="same frame"):
        Transform("a", "a", 0.0, [0, 0, 0], [0, 0, 0, 1])
    with pytest.raises(ValueError, match="translation"):
        Transform("a", "b", 0.0, [0, float("nan"), 0], [0, 0, 0, 1])
    # slightly off-unit quaternions (float32 on the wire) are normalised
    t = Transform("a", "b", 0.0, [0, 0, 0], [0, 0, 0, 1.001])
    assert np.linalg.norm(t.rotation) == pytest.approx(1.0)


def test_set_matrix_roundtrip() -> None:
    tf = TfBuffer()
    rng = np.random.default_rng(0)
    q = rng.normal(size=4)
    q /= np.linalg.norm(q)
    m = Pose.from_xyz_quat([1, 2, 3], q).matrix
    tf.set_matrix("map", "cam", 0.0, m)
    np.testing.assert_allclose(tf.lookup("map", "cam", 0.0), m, atol=1e-12)


def test_slerp_properties() -> None:
    q0 = np.array(yaw_quat(0.0))
    q1 = np.array(yaw_quat(math.pi / 2))
    np.testing.assert_allclose(slerp(q0, q1, 0.0), q0, atol=1e-12)
    np.testing.assert_allclose(slerp(q0, q1, 1.0), q1, atol=1e-12)
    np.testing.assert_allclose(slerp(q0, q1, 0.5), yaw_quat(math.pi / 4), atol=1e-12)
    # shortest arc: -q1 is the same rotation
    np.testing.assert_allclose(np.abs(slerp(q0, -q1, 0.5)), np.abs(yaw_quat(math.pi / 4)), atol=1e-12)
