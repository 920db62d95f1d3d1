"""robomem.io.rosmsg on stand-in objects (SimpleNamespace with the ROS field names), on the real rclpy
message classes when they import, and on the ``rosbags`` dataclasses when rosbags is installed."""

from __future__ import annotations

import array
import importlib.util
import math
from types import SimpleNamespace as NS
from typing import Any

import numpy as np
import pytest

from robomem.io import rosmsg
from robomem.io.tf_buffer import TfBuffer
from robomem.observation import InstanceInfo, Intrinsics, Pose

HAVE_RCLPY_MSGS = importlib.util.find_spec("sensor_msgs") is not None and importlib.util.find_spec("rclpy") is not None
HAVE_ROSBAGS = importlib.util.find_spec("rosbags") is not None


def img(arr: np.ndarray, encoding: str, pad: int = 0, bigendian: bool = False, data_type: Any = bytes) -> NS:
    a = np.asarray(arr)
    h, w = a.shape[:2]
    a = a.astype(a.dtype.newbyteorder(">" if bigendian else "<"))
    rows = a.reshape(h, -1).view(np.uint8)
    step = rows.shape[1] + pad
    buf = np.zeros((h, step), np.uint8)
    buf[:, : rows.shape[1]] = rows
    data = data_type(buf.tobytes()) if data_type is not np.ndarray else buf.reshape(-1)
    return NS(
        header=NS(stamp=NS(sec=1, nanosec=5), frame_id="cam"),
        height=h,
        width=w,
        encoding=encoding,
        is_bigendian=int(bigendian),
        step=step,
        data=data,
    )


# -- time ------------------------------------------------------------------------------------
def test_stamp_roundtrip() -> None:
    assert rosmsg.stamp_to_seconds(NS(sec=12, nanosec=500_000_000)) == 12.5
    assert rosmsg.stamp_to_seconds(NS(stamp=NS(sec=1, nanosec=1))) == pytest.approx(1.000000001)
    assert rosmsg.stamp_to_seconds(NS(nanoseconds=2_500_000_000)) == 2.5
    assert rosmsg.stamp_to_seconds(3) == 3.0
    assert rosmsg.seconds_to_stamp(1.9999999999) == (2, 0)
    assert rosmsg.seconds_to_stamp(12.25) == (12, 250_000_000)
    s = rosmsg.fill_stamp(NS(sec=0, nanosec=0), 7.000000003)
    assert (s.sec, s.nanosec) == (7, 3)
    with pytest.raises(ValueError, match="sec and nanosec"):
        rosmsg.stamp_to_seconds(NS(x=1))


# -- images ----------------------------------------------------------------------------------
@pytest.mark.parametrize("data_type", [bytes, bytearray, np.ndarray, lambda b: array.array("B", b), list])
@pytest.mark.parametrize("pad", [0, 3])
def test_rgb8_with_padding_and_buffer_types(pad: int, data_type: Any) -> None:
    a = np.arange(4 * 5 * 3, dtype=np.uint8).reshape(4, 5, 3)
    out = rosmsg.image_to_numpy(img(a, "rgb8", pad=pad, data_type=data_type))
    assert out.dtype == np.uint8 and out.shape == (4, 5, 3)
    np.testing.assert_array_equal(out, a)
    assert out.flags.owndata or out.base is not None  # a copy, independent of the message


def test_colour_conversions_to_rgb() -> None:
    rgb = np.random.default_rng(0).integers(0, 255, (3, 4, 3), dtype=np.uint8)
    bgr = rgb[..., ::-1]
    alpha = np.full((3, 4, 1), 7, np.uint8)
    np.testing.assert_array_equal(rosmsg.image_to_rgb(img(rgb, "rgb8")), rgb)
    np.testing.assert_array_equal(rosmsg.image_to_rgb(img(bgr, "bgr8")), rgb)
    np.testing.assert_array_equal(rosmsg.image_to_rgb(img(np.concatenate([rgb, alpha], 2), "rgba8")), rgb)
    np.testing.assert_array_equal(rosmsg.image_to_rgb(img(np.concatenate([bgr, alpha], 2), "bgra8")), rgb)
    # raw channel order is preserved by image_to_numpy
    np.testing.assert_array_equal(rosmsg.image_to_numpy(img(bgr, "bgr8")), bgr)
    mono = rgb[..., 0]
    out = rosmsg.image_to_rgb(img(mono, "mono8"))
    assert out.shape == (3, 4, 3) and (out[..., 2] == mono).all()
    with pytest.raises(ValueError, match="not a colour image"):
        rosmsg.image_to_rgb(img(np.zeros((2, 2), np.float32), "32FC1"))


@pytest.mark.parametrize("bigendian", [False, True])
def test_depth_16uc1_and_32fc1(bigendian: bool) -> None:
    mm = np.array([[0, 1000, 65535], [1500, 250, 0]], np.uint16)
    d = rosmsg.depth_to_metres(img(mm, "16UC1", pad=2, bigendian=bigendian))
    assert d.dtype == np.float32 and d.shape == (2, 3)
    np.testing.assert_allclose(d, mm.astype(np.float32) / 1000, rtol=1e-6)
    assert d[0, 0] == 0
    m = np.array([[1.5, np.nan, np.inf], [-np.inf, 0.0, 2.25]], np.float32)
    d = rosmsg.depth_to_metres(img(m, "32FC1", bigendian=bigendian))
    assert d.dtype == np.float32
    assert d[0, 0] == 1.5 and d[1, 2] == 2.25 and d[1, 1] == 0
    assert np.isnan(d[0, 1]) and np.isnan(d[0, 2]) and np.isnan(d[1, 0])  # inf -> NaN (invalid)
    raw = rosmsg.image_to_numpy(img(mm, "16UC1", bigendian=bigendian))
    assert raw.dtype == np.uint16 and raw.dtype.isnative
    np.testing.assert_array_equal(raw, mm)
    with pytest.raises(ValueError, match="'rgb8' is not a depth image"):
        rosmsg.depth_to_metres(img(np.zeros((2, 2, 3), np.uint8), "rgb8"))


def test_instance_ids() -> None:
    ids = np.array([[0, 1, 2], [70000, 0, 3]], np.int32)
    out = rosmsg.instance_image_to_ids(img(ids, "32SC1", pad=4))
    assert out.dtype == np.int32
    np.testing.assert_array_equal(out, ids)
    out = rosmsg.instance_image_to_ids(img(np.array([[0, 9]], np.uint16), "16UC1"))
    np.testing.assert_array_equal(out, [[0, 9]])
    with pytest.raises(ValueError, match="negative instance id"):
        rosmsg.instance_image_to_ids(img(np.array([[-1]], np.int32), "32SC1"))
    with pytest.raises(ValueError, match="not an integer id image"):
        rosmsg.instance_image_to_ids(img(np.zeros((1, 1), np.float32), "32FC1"))


def test_image_errors_name_the_problem() -> None:
    m = img(np.zeros((2, 3, 3), np.uint8), "rgb8")
    m.encoding = "yuv422"
    with pytest.raises(ValueError, match="unsupported encoding 'yuv422'"):
        rosmsg.image_to_numpy(m)
    m = img(np.zeros((2, 3, 3), np.uint8), "rgb8")
    m.step = 5
    with pytest.raises(ValueError, match="step 5 is smaller than .* = 9"):
        rosmsg.image_to_numpy(m)
    m = img(np.zeros((2, 3, 3), np.uint8), "rgb8")
    m.data = m.data[:10]
    with pytest.raises(
        ValueError, match=r"data has 10 bytes, expected step\*height = 9\*2 = 18 \(encoding rgb8, 2x3\)"
    ):
        rosmsg.image_to_numpy(m)
    m = img(np.zeros((2, 3), np.float32), "32FC1")
    m.height = 0
    with pytest.raises(ValueError, match="empty image"):
        rosmsg.image_to_numpy(m)
    with pytest.raises(ValueError, match="no field 'encoding'"):
        rosmsg.image_to_numpy(NS(height=1))


def test_last_row_padding_may_be_missing() -> None:
    m = img(np.arange(6, dtype=np.uint8).reshape(2, 3), "mono8", pad=5)
    m.data = m.data[:-5]
    np.testing.assert_array_equal(rosmsg.image_to_numpy(m), [[0, 1, 2], [3, 4, 5]])


# -- camera info -------------------------------------------------------------------------------
def cam_info(**kw: Any) -> NS:
    base = dict(
        width=640,
        height=480,
        k=[500.0, 0, 320.0, 0, 505.0, 240.0, 0, 0, 1],
        p=[400.0, 0, 300.0, 0, 0, 401.0, 200.0, 0, 0, 0, 1, 0],
        binning_x=0,
        binning_y=0,
        roi=NS(x_offset=0, y_offset=0, width=0, height=0, do_rectify=False),
    )
    base.update(kw)
    return NS(**base)


def test_camera_info() -> None:
    i = rosmsg.camera_info_to_intrinsics(cam_info())
    assert i == Intrinsics(500.0, 505.0, 320.0, 240.0, 640, 480)
    p = rosmsg.camera_info_to_intrinsics(cam_info(), use_projection=True)
    assert (p.fx, p.fy, p.cx, p.cy) == (400.0, 401.0, 300.0, 200.0)
    b = rosmsg.camera_info_to_intrinsics(cam_info(binning_x=2, binning_y=2))
    assert b == Intrinsics(250.0, 252.5, 160.0, 120.0, 320, 240)
    r = rosmsg.camera_info_to_intrinsics(cam_info(roi=NS(x_offset=100, y_offset=50, width=200, height=100)))
    assert r == Intrinsics(500.0, 505.0, 220.0, 190.0, 200, 100)
    with pytest.raises(ValueError, match="uncalibrated"):
        rosmsg.camera_info_to_intrinsics(cam_info(k=[0.0] * 9))
    with pytest.raises(ValueError, match="K must have 9 values"):
        rosmsg.camera_info_to_intrinsics(cam_info(k=[1.0] * 4))


# -- poses ---------------------------------------------------------------------------------------
def pose_ns(xyz: list[float], q: list[float]) -> NS:
    return NS(position=NS(x=xyz[0], y=xyz[1], z=xyz[2]), orientation=NS(x=q[0], y=q[1], z=q[2], w=q[3]))


def test_pose_like_messages() -> None:
    q = [0.0, 0.0, math.sin(0.25), math.cos(0.25)]
    expect = Pose.from_xyz_quat([1, 2, 3], q)
    p = pose_ns([1, 2, 3], q)
    stamped = NS(header=NS(stamp=NS(sec=0, nanosec=0), frame_id="map"), pose=p)
    with_cov = NS(pose=p, covariance=[0.0] * 36)
    odom = NS(header=stamped.header, child_frame_id="base_link", pose=with_cov, twist=None)
    tr = NS(translation=NS(x=1, y=2, z=3), rotation=NS(x=q[0], y=q[1], z=q[2], w=q[3]))
    tstamped = NS(header=stamped.header, child_frame_id="b", transform=tr)
    for m in (p, stamped, with_cov, NS(header=None, pose=with_cov), odom, tr, tstamped):
        np.testing.assert_allclose(rosmsg.to_matrix(m), expect.matrix, atol=1e-12)
        assert isinstance(rosmsg.to_pose(m), Pose)
    with pytest.raises(ValueError, match="not a unit quaternion"):
        rosmsg.to_matrix(pose_ns([0, 0, 0], [0, 0, 0, 0]))
    with pytest.raises(ValueError, match="is not a Pose"):
        rosmsg.to_matrix(NS(x=1))
    out = rosmsg.fill_pose_msg(pose_ns([0, 0, 0], [0, 0, 0, 1]), expect)
    np.testing.assert_allclose(rosmsg.to_matrix(out), expect.matrix, atol=1e-12)
    out = rosmsg.fill_pose_msg(NS(translation=NS(x=0, y=0, z=0), rotation=NS(x=0, y=0, z=0, w=1)), expect.matrix)
    np.testing.assert_allclose(rosmsg.to_matrix(out), expect.matrix, atol=1e-12)


def test_tf_message_into_buffer() -> None:
    def ts(parent: str, child: str, t: float, x: float) -> NS:
        sec, ns = rosmsg.seconds_to_stamp(t)
        return NS(
            header=NS(stamp=NS(sec=sec, nanosec=ns), frame_id=parent),
            child_frame_id=child,
            transform=NS(translation=NS(x=x, y=0.0, z=0.0), rotation=NS(x=0.0, y=0.0, z=0.0, w=1.0)),
        )

    buf = TfBuffer()
    buf.add_many(
        rosmsg.tf_message_to_transforms(NS(transforms=[ts("map", "odom", 1.0, 1.0), ts("map", "odom", 2.0, 3.0)]))
    )
    buf.add_many(rosmsg.tf_message_to_transforms(NS(transforms=[ts("odom", "cam", 0.0, 0.5)]), static=True))
    assert buf.lookup("map", "cam", 1.5)[0, 3] == pytest.approx(2.5)


# -- labels --------------------------------------------------------------------------------------
def test_instance_labels() -> None:
    m = NS(header=None, ids=array.array("I", [3, 7]), labels=["mug", " red cup "], scores=array.array("f", [0.5, 1.0]))
    infos = rosmsg.instance_labels_to_infos(m)
    assert infos == {3: InstanceInfo("mug", 0.5), 7: InstanceInfo("red cup", 1.0)}
    assert rosmsg.instance_labels_to_infos(NS(ids=[1], labels=["a"], scores=[]))[1].score == 1.0
    with pytest.raises(ValueError, match="differ in length"):
        rosmsg.instance_labels_to_infos(NS(ids=[1, 2], labels=["a"], scores=[]))
    with pytest.raises(ValueError, match="must be > 0"):
        rosmsg.instance_labels_to_infos(NS(ids=[0], labels=["a"], scores=[]))
    with pytest.raises(ValueError, match="appears twice"):
        rosmsg.instance_labels_to_infos(NS(ids=[1, 1], labels=["a", "b"], scores=[]))
    with pytest.raises(ValueError, match=r"id 1: InstanceInfo.score"):
        rosmsg.instance_labels_to_infos(NS(ids=[1], labels=["a"], scores=[1.5]))


# -- the real message classes ------------------------------------------------------------------
@pytest.mark.ros
@pytest.mark.skipif(not HAVE_RCLPY_MSGS, reason="the ROS 2 message packages (ros extra) are not installed")
def test_with_rclpy_messages() -> None:
    from geometry_msgs.msg import PoseStamped, TransformStamped
    from nav_msgs.msg import Odometry
    from sensor_msgs.msg import CameraInfo, Image

    rgb = np.random.default_rng(1).integers(0, 255, (4, 6, 3), dtype=np.uint8)
    m = Image(height=4, width=6, encoding="bgr8", step=6 * 3 + 2, is_bigendian=0)
    padded = np.zeros((4, 20), np.uint8)
    padded[:, :18] = rgb[..., ::-1].reshape(4, 18)
    m.data = padded.tobytes()
    np.testing.assert_array_equal(rosmsg.image_to_rgb(m), rgb)
    mm = np.array([[1000, 2000]], np.uint16)
    d = Image(height=1, width=2, encoding="16UC1", step=4, data=mm.tobytes())
    np.testing.assert_allclose(rosmsg.depth_to_metres(d), [[1.0, 2.0]])
    d.header.stamp.sec, d.header.stamp.nanosec = 5, 250_000_000
    assert rosmsg.stamp_to_seconds(d.header) == 5.25

    ci = CameraInfo(width=6, height=4)
    ci.k = [3.0, 0.0, 2.5, 0.0, 3.0, 1.5, 0.0, 0.0, 1.0]
    assert rosmsg.camera_info_to_intrinsics(ci) == Intrinsics(3.0, 3.0, 2.5, 1.5, 6, 4)

    expect = Pose.from_xyz_quat([1, 2, 3], [0, 0, math.sin(0.3), math.cos(0.3)])
    ps = PoseStamped()
    rosmsg.fill_pose_msg(ps.pose, expect)
    rosmsg.fill_stamp(ps.header.stamp, 3.5)
    np.testing.assert_allclose(rosmsg.to_matrix(ps), expect.matrix, atol=1e-12)
    od = Odometry()
    rosmsg.fill_pose_msg(od.pose.pose, expect)
    np.testing.assert_allclose(rosmsg.to_matrix(od), expect.matrix, atol=1e-12)
    tr = TransformStamped()
    tr.header.frame_id, tr.child_frame_id = "map", "cam"
    rosmsg.fill_pose_msg(tr.transform, expect)
    np.testing.assert_allclose(rosmsg.to_matrix(tr), expect.matrix, atol=1e-12)

    if importlib.util.find_spec("tf2_msgs") is not None:
        from tf2_msgs.msg import TFMessage

        (t,) = rosmsg.tf_message_to_transforms(TFMessage(transforms=[tr]))
        assert (t.parent, t.child) == ("map", "cam")
    if importlib.util.find_spec("robomem_interfaces") is not None:
        from robomem_interfaces.msg import InstanceLabels

        lab = InstanceLabels(ids=[4, 5], labels=["mug", "bowl"], scores=[0.25, 0.75])
        assert rosmsg.instance_labels_to_infos(lab) == {4: InstanceInfo("mug", 0.25), 5: InstanceInfo("bowl", 0.75)}


@pytest.mark.skipif(not HAVE_ROSBAGS, reason="rosbags (replay extra) is not installed")
def test_with_rosbags_dataclasses() -> None:
    from rosbags.typesys import Stores, get_typestore

    ts = get_typestore(Stores.ROS2_KILTED if hasattr(Stores, "ROS2_KILTED") else Stores.LATEST)
    Time = ts.types["builtin_interfaces/msg/Time"]
    Header = ts.types["std_msgs/msg/Header"]
    Image = ts.types["sensor_msgs/msg/Image"]
    hdr = Header(stamp=Time(sec=2, nanosec=500_000_000), frame_id="cam")
    f = np.array([[0.5, 1.5]], np.float32)
    m = Image(
        header=hdr, height=1, width=2, encoding="32FC1", is_bigendian=0, step=8, data=f.view(np.uint8).reshape(-1)
    )
    np.testing.assert_array_equal(rosmsg.depth_to_metres(m), f)
    assert rosmsg.stamp_to_seconds(m.header) == 2.5
    # a rosbags message survives a CDR round trip and still decodes the same
    raw = ts.serialize_cdr(m, "sensor_msgs/msg/Image")
    back = ts.deserialize_cdr(raw, "sensor_msgs/msg/Image")
    np.testing.assert_array_equal(rosmsg.depth_to_metres(back), f)
