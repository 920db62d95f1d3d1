"""Data model validation: every bad input names the field and the problem."""

from __future__ import annotations

import math

import numpy as np
import pytest

from robomem import Event, InstanceInfo, Intrinsics, Observation, Pose, depth_from_millimetres
from robomem.observation import matrix_to_quat, quat_to_matrix

K = Intrinsics(100.0, 100.0, 15.5, 11.5, 32, 24)


def obs(**kw):
    base = dict(
        stamp=1.0,
        pose=Pose.identity(),
        intrinsics=K,
        depth=np.full((24, 32), 2.0, np.float32),
        rgb=np.zeros((24, 32, 3), np.uint8),
        instance_ids=np.zeros((24, 32), np.int32),
        instances={},
    )
    base.update(kw)
    return Observation(**base)


def test_valid_observation_is_frozen_and_readonly():
    ids = np.zeros((24, 32), np.int32)
    ids[5:10, 5:10] = 3
    o = obs(instance_ids=ids, instances={3: InstanceInfo("mug", 0.9)})
    assert o.shape == (24, 32)
    with pytest.raises(ValueError):
        o.depth[0, 0] = 5.0  # read-only array
    with pytest.raises(AttributeError):
        o.stamp = 2.0  # type: ignore[misc]
    assert o.instances[3].label == "mug"


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"depth": np.full((24, 32), 2.0, np.float64)}, "float32"),
        ({"depth": np.full((24, 32), 2000, np.uint16)}, "millimetres"),
        ({"depth": np.full((24, 32), 2000.0, np.float32)}, "millimetres"),
        ({"depth": np.full((24, 31), 2.0, np.float32)}, "does not match intrinsics"),
        ({"depth": np.full((24, 32), -1.0, np.float32)}, "negative depth"),
        ({"depth": np.full((24, 32), np.inf, np.float32)}, "inf"),
        ({"depth": np.full((2, 24, 32), 2.0, np.float32)}, "shape (H, W)"),
        ({"rgb": np.zeros((24, 32, 3), np.float32)}, "uint8"),
        ({"rgb": np.zeros((24, 32, 4), np.uint8)}, "Observation.rgb"),
        ({"instance_ids": np.zeros((24, 32), np.float32)}, "integer dtype"),
        ({"stamp": float("nan")}, "Observation.stamp"),
        ({"stamp": -3.0}, "Observation.stamp"),
        ({"pose": np.eye(4)}, "Observation.pose"),
    ],
)
def test_bad_observation_names_the_field(kw, message):
    with pytest.raises(ValueError, match=None) as e:
        obs(**kw)
    assert message in str(e.value)


def test_instance_ids_without_labels_are_rejected():
    ids = np.zeros((24, 32), np.int32)
    ids[1, 1] = 7
    with pytest.raises(ValueError, match=r"ids \[7\] have no label"):
        obs(instance_ids=ids, instances={})


def test_nan_depth_is_invalid_not_an_error():
    d = np.full((24, 32), 2.0, np.float32)
    d[0] = np.nan
    d[1] = 0.0
    assert obs(depth=d).depth.shape == (24, 32)


def test_pose_validation():
    m = np.eye(4)
    m[0, 3] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        Pose(m)
    s = np.eye(4)
    s[0, 0] = 2.0
    with pytest.raises(ValueError, match="non-rigid"):
        Pose(s)
    r = np.diag([1.0, 1.0, -1.0, 1.0])
    with pytest.raises(ValueError, match="reflection"):
        Pose(r)
    with pytest.raises(ValueError, match="unit quaternion"):
        Pose.from_xyz_quat([0, 0, 0], [0, 0, 0, 2])


def test_quaternion_round_trip():
    rng = np.random.default_rng(0)
    for _ in range(50):
        q = rng.normal(size=4)
        q /= np.linalg.norm(q)
        q = q if q[3] >= 0 else -q
        assert np.allclose(matrix_to_quat(quat_to_matrix(q)), q, atol=1e-9)
    p = Pose.from_xyz_quat([1, 2, 3], [0, 0, math.sin(0.25), math.cos(0.25)])
    assert np.allclose(p.inverse().matrix @ p.matrix, np.eye(4))


def test_intrinsics_and_events():
    with pytest.raises(ValueError, match="fx"):
        Intrinsics(0.0, 1.0, 0.0, 0.0, 10, 10)
    with pytest.raises(ValueError, match="width"):
        Intrinsics(1.0, 1.0, 0.0, 0.0, 0, 10)
    k = Intrinsics.from_fov(640, 480, math.radians(90))
    assert math.isclose(k.fx, 320.0)
    with pytest.raises(ValueError, match="Event.kind"):
        Event(1.0, "", "x")
    with pytest.raises(ValueError, match="InstanceInfo.score"):
        InstanceInfo("mug", 1.5)
    with pytest.raises(ValueError, match="InstanceInfo.label"):
        InstanceInfo("   ")


def test_depth_from_millimetres():
    mm = np.array([[0, 1500]], np.uint16)
    m = depth_from_millimetres(mm)
    assert m.dtype == np.float32 and m[0, 0] == 0.0 and abs(m[0, 1] - 1.5) < 1e-6
    with pytest.raises(ValueError, match="uint16"):
        depth_from_millimetres(m)


@pytest.mark.parametrize("stamp", ["12.5", b"1", None, True, [1.0]])
def test_a_stamp_must_be_a_number_not_text(stamp):
    # float("12.5") used to let a string through and store it as 12.5
    with pytest.raises(ValueError, match="Observation.stamp: expected a number"):
        obs(stamp=stamp)
    with pytest.raises(ValueError, match="Event.stamp: expected a number"):
        Event(stamp=stamp, kind="action", text="x")


def test_numpy_numbers_are_numbers():
    assert obs(stamp=np.float64(2.5)).stamp == 2.5 and obs(stamp=np.int64(3)).stamp == 3.0


@pytest.mark.parametrize(
    ("make", "field"),
    [
        (lambda: obs(robot_id="r" * 129), "Observation.robot_id: longer than 128"),
        (lambda: obs(robot_id=""), "Observation.robot_id: must be a non-empty"),
        (lambda: obs(frame_id="f" * 10_000), "Observation.frame_id: longer than 128"),
        (lambda: Event(stamp=1.0, kind="k" * 100_000, text="x"), "Event.kind: longer than 128"),
        (lambda: Event(stamp=1.0, kind="action", text="x", robot_id="r" * 500), "Event.robot_id: longer than 128"),
        (lambda: Event(stamp=1.0, kind="act\x00ion", text="x"), "Event.kind: contains a NUL"),
    ],
)
def test_names_are_bounded(make, field):
    with pytest.raises(ValueError, match=field):
        make()


def test_uint64_instance_ids_that_would_wrap_are_refused():
    ids = np.zeros((24, 32), np.uint64)
    ids[1, 1] = np.uint64(2**63)  # wraps to a negative int64 inside perception: the instance was dropped silently
    with pytest.raises(ValueError, match="does not fit in int64"):
        obs(instance_ids=ids, instances={1: InstanceInfo("mug")})
    with pytest.raises(ValueError, match=r"keys must be instance ids in \[1, 2\^63 - 1\]"):
        obs(instance_ids=np.zeros((24, 32), np.uint64), instances={2**64 - 1: InstanceInfo("mug")})
    big = np.zeros((24, 32), np.uint64)
    big[0, 0] = np.uint64(2**63 - 1)  # the largest id that fits is fine
    assert obs(instance_ids=big, instances={2**63 - 1: InstanceInfo("mug")}).instances[2**63 - 1].label == "mug"
