"""The one observation assembler (robomem.io.assembler): sync, TF wait on the injected clock,
camera info, the instance policy, depth units; used by the memory node and by replay."""

from __future__ import annotations

import logging
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from robomem import Memory, MemoryConfig
from robomem.config import TopicMap
from robomem.errors import ConfigError
from robomem.io.assembler import AssemblerSettings, ObservationAssembler, Rejected, camera_streams
from robomem.nodes.memory_node import MemoryNodeCore
from robomem.nodes.settings import NodeSettings
from robomem.observation import Observation

H, W = 6, 8


def _header(t: float, frame: str = "cam") -> SimpleNamespace:
    return SimpleNamespace(stamp=SimpleNamespace(sec=int(t), nanosec=int(round((t % 1) * 1e9))), frame_id=frame)


def _image(arr: np.ndarray, enc: str, t: float, frame: str = "cam") -> SimpleNamespace:
    arr = np.ascontiguousarray(arr)
    return SimpleNamespace(
        header=_header(t, frame),
        height=arr.shape[0],
        width=arr.shape[1],
        encoding=enc,
        is_bigendian=0,
        step=arr.strides[0],
        data=arr.tobytes(),
    )


def _camera_info() -> SimpleNamespace:
    f, cx, cy = 5.0, W / 2, H / 2
    return SimpleNamespace(
        width=W,
        height=H,
        k=[f, 0, cx, 0, f, cy, 0, 0, 1],
        p=[f, 0, cx, 0, 0, f, cy, 0, 0, 0, 1, 0],
        binning_x=0,
        binning_y=0,
        roi=SimpleNamespace(x_offset=0, y_offset=0, width=0, height=0),
    )


def _tf(t: float, x: float, child: str = "cam") -> SimpleNamespace:
    ts = SimpleNamespace(
        header=_header(t, "map"),
        child_frame_id=child,
        transform=SimpleNamespace(
            translation=SimpleNamespace(x=x, y=0.0, z=1.0), rotation=SimpleNamespace(x=0.0, y=0.0, z=0.0, w=1.0)
        ),
    )
    return SimpleNamespace(transforms=[ts])


def _depth_mm(t: float, mm: int = 1500) -> SimpleNamespace:
    return _image(np.full((H, W), mm, np.uint16), "16UC1", t)


class Clock:
    def __init__(self, t: float = 0.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def _assembler(streams: tuple[str, ...] = ("depth",), clock: Clock | None = None, **kw: Any) -> ObservationAssembler:
    kw.setdefault("camera_frame", "cam")
    return ObservationAssembler(AssemblerSettings(streams=streams, **kw), clock or Clock())


def test_camera_streams_put_depth_first_and_follow_the_topic_map() -> None:
    assert camera_streams(TopicMap()) == ("depth", "color", "instances", "labels")
    assert camera_streams(TopicMap(color="", detections="/det")) == ("depth", "detections")
    assert camera_streams(TopicMap(color="", instances="", labels="")) == ("depth",)
    assert camera_streams(TopicMap(labels="")) == ("depth", "color", "instances")
    with pytest.raises(ConfigError, match="depth first"):
        AssemblerSettings(streams=("color", "depth"))
    with pytest.raises(ConfigError, match="queue_size: must be >= 1"):
        AssemblerSettings(streams=("depth",), queue_size=0)


def test_a_frame_waits_for_a_transform_after_its_stamp_and_is_interpolated() -> None:
    asm = _assembler()
    assert asm.add_camera_info(_camera_info()) == []
    assert asm.add_tf(_tf(0.0, 0.0)) == []
    assert asm.add("depth", 0.5, _depth_mm(0.5)) == []  # /tf ends before 0.5: wait, do not extrapolate
    assert asm.waiting == 1
    (obs,) = asm.add_tf(_tf(1.0, 2.0))
    assert isinstance(obs, Observation) and asm.waiting == 0
    assert obs.stamp == 0.5 and obs.pose.matrix[0, 3] == pytest.approx(1.0)  # halfway between x=0 and x=2
    assert obs.depth.dtype == np.float32 and float(obs.depth[0, 0]) == pytest.approx(1.5)  # 16UC1 mm -> metres
    assert obs.instance_ids is None and obs.rgb is None and obs.frame_id == "cam" and obs.source == "ros"


def test_tf_wait_runs_on_the_injected_clock() -> None:
    clock = Clock(100.0)
    asm = _assembler(clock=clock, tf_wait=2.0, tf_tolerance=0.1)
    asm.add_camera_info(_camera_info())
    asm.add_tf(_tf(9.0, 0.0))
    assert asm.add("depth", 10.0, _depth_mm(10.0)) == []
    clock.t = 101.9
    assert asm.poll() == [] and asm.waiting == 1  # not yet: 1.9 s of the clock
    clock.t = 102.0
    (rej,) = asm.poll()  # waited out; 1 s past the last transform is beyond tf_tolerance
    assert isinstance(rej, Rejected) and rej.reason == "missing_transform" and rej.stamp == 10.0
    assert "10." in rej.detail or "extrapolat" in rej.detail.lower()


def test_waited_out_frames_use_the_nearest_transform_within_tolerance() -> None:
    clock = Clock(0.0)
    asm = _assembler(clock=clock, tf_wait=1.0, tf_tolerance=0.1)
    asm.add_camera_info(_camera_info())
    asm.add_tf(_tf(0.0, 0.0))
    asm.add_tf(_tf(1.0, 1.0))
    assert asm.add("depth", 1.05, _depth_mm(1.05)) == []
    clock.t = 1.0
    (obs,) = asm.poll()
    assert isinstance(obs, Observation) and obs.pose.matrix[0, 3] == pytest.approx(1.0)


def test_frames_leave_in_order_and_final_flushes_every_waiting_frame() -> None:
    asm = _assembler(tf_tolerance=0.05)
    asm.add_tf(_tf(0.0, 0.0))
    asm.add("depth", 0.2, _depth_mm(0.2))
    asm.add("depth", 0.4, _depth_mm(0.4))
    assert asm.waiting == 2  # no camera info yet
    assert asm.add_camera_info(_camera_info()) == []  # still waiting for /tf after 0.4
    out = asm.add_tf(_tf(0.3, 0.3))
    assert [o.stamp for o in out] == [0.2] and asm.waiting == 1  # the second still needs /tf after 0.4
    (last,) = asm.poll(final=True)
    assert isinstance(last, Rejected) and last.reason == "missing_transform"


def test_camera_info_is_the_newest_before_the_frame_or_the_first_after() -> None:
    asm = _assembler()
    asm.add_tf(_tf(0.0, 0.0))
    asm.add("depth", 0.1, _depth_mm(0.1))
    first = _camera_info()
    asm.add_camera_info(first)
    second = _camera_info()
    second.k = [9.0, 0, W / 2, 0, 9.0, H / 2, 0, 0, 1]
    asm.add("depth", 0.2, _depth_mm(0.2))
    asm.add_camera_info(second)
    out = asm.add_tf(_tf(1.0, 0.0))
    assert [o.intrinsics.fx for o in out if isinstance(o, Observation)] == [5.0, 5.0]
    (o3,) = asm.add("depth", 0.3, _depth_mm(0.3))
    assert isinstance(o3, Observation) and o3.intrinsics.fx == 9.0


def test_no_camera_info_rejects_the_frame_once_it_waited_out() -> None:
    asm = _assembler()
    asm.add_tf(_tf(1.0, 0.0))
    asm.add("depth", 0.5, _depth_mm(0.5))
    (rej,) = asm.poll(final=True)
    assert isinstance(rej, Rejected) and rej.reason == "no_camera_info"


def test_instance_policy_clears_unlabeled_ids_keeps_the_frame_and_counts_them() -> None:
    asm = _assembler(streams=("depth", "color", "instances", "labels"))
    asm.add_camera_info(_camera_info())
    asm.add_tf(_tf(0.0, 0.0))
    asm.add_tf(_tf(1.0, 0.0))
    ids = np.zeros((H, W), np.int32)
    ids[:2, :2], ids[3:, 4:], ids[0, 7] = 3, 5, 9
    labels = SimpleNamespace(header=_header(0.5), ids=[3], labels=["mug"], scores=[0.8])
    asm.add("color", 0.5, _image(np.zeros((H, W, 3), np.uint8), "rgb8", 0.5))
    asm.add("instances", 0.5, _image(ids, "32SC1", 0.5))
    (obs,) = asm.add("labels", 0.5, labels) + asm.add("depth", 0.5, _depth_mm(0.5))
    assert isinstance(obs, Observation)
    assert set(np.unique(obs.instance_ids).tolist()) == {0, 3} and obs.instances[3].label == "mug"
    assert asm.unlabeled == 2 and obs.rgb is not None and obs.rgb.shape == (H, W, 3)


def test_a_message_that_cannot_be_decoded_rejects_its_frame_and_names_the_stream() -> None:
    asm = _assembler(streams=("depth", "color"))
    asm.add_camera_info(_camera_info())
    bad = _image(np.zeros((H, W, 2), np.uint8), "yuv422", 0.5)
    asm.add("color", 0.5, bad, where="color #1")
    (rej,) = asm.add("depth", 0.5, _depth_mm(0.5), where="depth #1")
    assert isinstance(rej, Rejected) and rej.reason == "bad_image" and rej.where == "color #1"
    assert rej.detail.startswith("color: ") and asm.waiting == 0
    with pytest.raises(ValueError, match="unknown camera stream 'instances'"):
        asm.add("instances", 0.6, bad)


def test_empty_camera_frame_falls_back_to_the_depth_header() -> None:
    asm = _assembler(camera_frame="")
    asm.add_camera_info(_camera_info())
    asm.add_tf(_tf(0.0, 0.0, child="optical"))
    asm.add_tf(_tf(1.0, 0.0, child="optical"))
    depth = _depth_mm(0.5)
    depth.header.frame_id = "optical"
    (obs,) = asm.add("depth", 0.5, depth)
    assert isinstance(obs, Observation) and obs.frame_id == "optical"


def test_an_explicit_camera_frame_overrides_the_header() -> None:
    asm = _assembler(camera_frame="optical")  # the driver stamps "cam"; the user says "optical"
    asm.add_camera_info(_camera_info())
    for t in (0.0, 1.0):
        asm.add_tf(_tf(t, 0.0, child="cam"))
        asm.add_tf(_tf(t, 3.0, child="optical"))
    (obs,) = asm.add("depth", 0.5, _depth_mm(0.5))
    assert isinstance(obs, Observation) and obs.frame_id == "optical" and obs.pose.matrix[0, 3] == pytest.approx(3.0)


def test_empty_header_frame_without_camera_frame_is_rejected_naming_why() -> None:
    asm = _assembler(camera_frame="")
    asm.add_camera_info(_camera_info())
    asm.add_tf(_tf(0.0, 0.0))
    assert asm.add("depth", 0.5, _image(np.full((H, W), 1500, np.uint16), "16UC1", 0.5, frame="")) == []
    (rej,) = asm.poll(final=True)
    assert isinstance(rej, Rejected) and rej.reason == "missing_transform" and "header.frame_id is empty" in rej.detail


def test_a_pose_topic_without_a_child_frame_is_the_camera_whatever_the_header_says() -> None:
    asm = _assembler(camera_frame="")
    asm.add_camera_info(_camera_info())
    pose = lambda x: SimpleNamespace(  # noqa: E731 - a PoseStamped of the camera
        pose=SimpleNamespace(
            position=SimpleNamespace(x=x, y=0.0, z=0.0), orientation=SimpleNamespace(x=0.0, y=0.0, z=0.0, w=1.0)
        )
    )
    asm.add_pose(pose(0.0), 0.0)
    asm.add("depth", 0.5, _depth_mm(0.5))  # header frame "cam", which no TF names
    (obs,) = asm.add_pose(pose(4.0), 1.0)
    assert isinstance(obs, Observation) and obs.frame_id == "cam" and obs.pose.matrix[0, 3] == pytest.approx(2.0)


def test_waits_can_change_live_and_are_checked() -> None:
    clock = Clock(0.0)
    asm = _assembler(clock=clock, tf_wait=5.0)
    asm.add_camera_info(_camera_info())
    asm.add_tf(_tf(0.0, 0.0))
    asm.add("depth", 0.5, _depth_mm(0.5))
    clock.t = 1.0
    assert asm.poll() == [] and asm.waiting == 1  # 1 s < 5 s: still waiting for /tf
    asm.set_waits(tf_wait=0.5, max_pending=8)
    (rej,) = asm.poll()
    assert isinstance(rej, Rejected) and rej.reason == "missing_transform"
    with pytest.raises(ConfigError, match="tf_wait: must be >= 0"):
        asm.set_waits(tf_wait=-1.0, max_pending=8)


def test_pose_topic_feeds_the_same_buffer() -> None:
    asm = _assembler()
    asm.add_camera_info(_camera_info())
    pose = lambda x: SimpleNamespace(  # noqa: E731
        pose=SimpleNamespace(
            position=SimpleNamespace(x=x, y=0.0, z=0.0), orientation=SimpleNamespace(x=0.0, y=0.0, z=0.0, w=1.0)
        )
    )
    asm.add_pose(pose(0.0), 0.0)
    asm.add("depth", 0.5, _depth_mm(0.5))
    (obs,) = asm.add_pose(pose(4.0), 1.0)
    assert isinstance(obs, Observation) and obs.pose.matrix[0, 3] == pytest.approx(2.0)


def test_the_node_and_replay_build_their_frames_with_the_assembler(tmp_path: Path) -> None:
    """Both callers hold an ObservationAssembler (no second copy of the policy), and the node's
    core turns its outcomes into queued observations and counted rejections."""
    from robomem.io import replay as replay_mod
    from robomem.io import replay_decode

    # replay's decoder (robomem.io.replay_decode) is the one that holds it
    assert "ObservationAssembler" in vars(replay_decode) and not hasattr(replay_mod, "_Pending")
    settings = NodeSettings()
    with Memory.open(tmp_path / "m", MemoryConfig.from_dict({"embedder": "hash"})) as mem:
        clock = Clock(10.0)
        core = MemoryNodeCore(settings, mem, logging.getLogger("test"), clock)
        assert isinstance(core.assembler, ObservationAssembler)
        assert core.streams == ("depth", "color", "instances", "labels")
        core.on_camera_info(_camera_info())
        assert settings.io.camera_frame == ""  # the default: each image's own header.frame_id ("cam" here)
        frame = "cam"
        core.on_tf(_tf(9.0, 0.0, child=frame), static=False)
        core.on_tf(_tf(11.0, 0.0, child=frame), static=False)
        ids = np.zeros((H, W), np.int32)
        ids[:3, :3] = 1
        t = 10.0
        core.on_message("color", _image(np.zeros((H, W, 3), np.uint8), "rgb8", t))
        core.on_message("instances", _image(ids, "32SC1", t))
        core.on_message("labels", SimpleNamespace(header=_header(t), ids=[], labels=[], scores=[]))
        core.on_message("depth", _depth_mm(t))
        assert core.queue.qsize() == 1 and core.unlabeled == 1
        kind, obs = core.queue.get()
        assert kind == "obs" and isinstance(obs, Observation) and obs.stamp == t and obs.instances == {}
        core.on_message("depth", _depth_mm(10.5))  # no colour etc. to match: waits in the synchroniser
        clock.t = 100.0
        core.on_message("depth", _depth_mm(20.0))  # 80 s old: stale
        assert core.rejected["stale_stamp"] == 1
        assert core.diagnostics()["received_depth"] == "3"
