"""The nodes' plain helpers, without rclpy: settings, markers, query answers, the frame pipeline."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from robomem import Memory
from robomem.errors import ConfigError
from robomem.nodes.markers import CUBE, LINE_LIST, TEXT, scene_graph_markers
from robomem.nodes.memory_node import MemoryNodeCore, answer_query
from robomem.nodes.settings import NodeSettings, flatten, unflatten
from robomem.planning.planner import Planner
from robomem.testing.synthetic import BoxScene, demo_boxes, look_at

ROOT = Path(__file__).resolve().parents[2]


def test_settings_from_repo_config_and_parameter_overrides():
    s = NodeSettings.load(ROOT / "config" / "robomem.yaml")
    flat = flatten(s)
    assert flat["topics.color"] == "camera/color/image_raw" and flat["memory.spatial.voxel_size"] == 0.03
    s2 = unflatten({"topics.color": "/cam/rgb", "memory.spatial.voxel_size": 0.05, "node.tf_wait": 3.0}, s)
    assert s2.io.topics.color == "/cam/rgb" and s2.memory.spatial.voxel_size == 0.05 and s2.node.tf_wait == 3.0
    with pytest.raises(ValueError, match="unknown parameter 'topics.colour'"):
        unflatten({"topics.colour": "/x"}, s)
    with pytest.raises(ValueError, match="voxel_size"):
        unflatten({"memory.spatial.voxel_size": "big"}, s)
    # ROS parameters are checked by the same rules as the file, named by the parameter
    for values, message in (
        ({"sync.slop": "wide"}, "sync.slop: expected a number, got 'wide'"),
        ({"sync.queue_size": 0}, "sync.queue_size: must be >= 1, got 0"),
        ({"pose.source": "gps"}, "pose.source: must be one of tf, topic"),
        ({"topics.depth": 5}, "topics.depth: expected a string"),
        ({"node.k": 0}, "node.k: must be >= 1"),
        ({"memory.episodic.write_every": 0}, "memory.episodic.write_every: must be >= 1"),
    ):
        with pytest.raises(ConfigError) as info:
            unflatten(values, s)
        assert str(info.value).startswith(message), str(info.value)


def test_settings_reject_unknown_keys(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text("ros:\n  node:\n    tf_wiat: 1.0\n")
    with pytest.raises(ValueError, match="tf_wiat"):
        NodeSettings.load(p)
    p.write_text("memroy: {}\n")
    with pytest.raises(ValueError, match="memroy"):
        NodeSettings.load(p)


@pytest.fixture()
def mem(tmp_path, embedder):
    scene = BoxScene(demo_boxes())
    m = Memory.open(tmp_path / "s", embedder=embedder)
    for t, eye in enumerate([(0.0, 0.0, 1.5), (0.3, 0.5, 1.4), (1.0, -2.0, 1.6)]):
        m.update(scene.observe(look_at(eye, (2.3, -0.3, 0.7)), float(t)))
    yield m
    m.close()


def test_markers_from_scene_graph(mem):
    specs = scene_graph_markers(mem.spatial.scene_graph())
    cubes = [s for s in specs if s.type == CUBE]
    texts = {s.text.split(" #")[0] for s in specs if s.type == TEXT}
    assert len(cubes) == len(mem.objects())
    assert {"table", "red mug", "book"} <= texts
    on = [s for s in specs if s.type == LINE_LIST and s.text == "on"]
    assert on and len(on[0].points) % 2 == 0


def test_answer_query_modes(mem):
    planner = Planner(mem)
    pose = look_at((0.0, 0.0, 1.5), (2.3, -0.3, 0.7))
    a = answer_query(mem, planner, "bring me the red mug", "locate", 5, pose)
    assert a["ok"] and a["goal_pose"] is not None
    ans = json.loads(a["json"])
    assert ans["verb"] == "where-now" and ans["results"][0]["label"] == "red mug"
    assert ans["results"][0]["match"]["how"] == "exact" and ans["evidence"]
    last = answer_query(mem, planner, "red mug", "last_seen", 5, pose)
    assert last["ok"] and abs(last["goal_pose"][0] - 1.8) < 0.15
    ctx = answer_query(mem, planner, "bring me the red mug", "context", 5, pose)
    assert json.loads(ctx["json"])["proposals"][0]["label"] == "red mug" and ctx["goal_pose"] is None
    for mode in ("locate", "last_seen", "facts"):  # never seen: abstain in every mode
        unknown = answer_query(mem, planner, "the giraffe", mode, 5, pose)
        assert unknown["ok"] and unknown["goal_pose"] is None and unknown["confidence"] == 0.0
        assert json.loads(unknown["json"])["status"] == "not_seen"
    bad = answer_query(mem, planner, "x", "teleport", 5, pose)
    assert not bad["ok"] and "unknown mode" in bad["error"]
    empty = answer_query(mem, planner, "   ", "locate", 5, pose)
    assert not empty["ok"] and "Goal" in empty["error"]


def _image(arr: np.ndarray, enc: str, t: float, frame: str = "cam") -> SimpleNamespace:
    return SimpleNamespace(
        header=SimpleNamespace(stamp=SimpleNamespace(sec=int(t), nanosec=int((t % 1) * 1e9)), frame_id=frame),
        height=arr.shape[0],
        width=arr.shape[1],
        encoding=enc,
        is_bigendian=0,
        step=arr.strides[0],
        data=np.ascontiguousarray(arr).tobytes(),
    )


def _labels(labels: SimpleNamespace, t: float) -> SimpleNamespace:
    return SimpleNamespace(header=_image(np.zeros((1, 1), np.uint8), "mono8", t).header, **vars(labels))


def test_core_pipeline_counts_bad_frames_and_updates_good_ones(mem):
    s = NodeSettings.load(ROOT / "config" / "robomem.yaml")
    clock = {"t": 100.0}
    core = MemoryNodeCore(s, mem, logging.getLogger("test"), lambda: clock["t"])
    scene = BoxScene(demo_boxes())
    k = scene.intrinsics
    core.on_camera_info(
        SimpleNamespace(
            width=k.width,
            height=k.height,
            k=[k.fx, 0, k.cx, 0, k.fy, k.cy, 0, 0, 1],
            p=[k.fx, 0, k.cx, 0, 0, k.fy, k.cy, 0, 0, 0, 1, 0],
            binning_x=0,
            binning_y=0,
            roi=SimpleNamespace(x_offset=0, y_offset=0, width=0, height=0),
        )
    )
    cam = look_at((0.3, 0.5, 1.4), (2.3, -0.3, 0.7))
    assert s.io.camera_frame == ""  # the images' own header.frame_id ("cam") is the camera
    core.assembler.tf.set_matrix("map", "cam", 99.0, cam.matrix)
    core.assembler.tf.set_matrix("map", "cam", 101.0, cam.matrix)

    def frame(color, depth, ids=None, labels=None):  # one synchronised frame, message by message
        for stream, msg in (("color", color), ("depth", depth), ("instances", ids), ("labels", labels)):
            if msg is not None:
                core.on_message(stream, msg)

    rgb, depth, ids = scene.render(cam)
    present = sorted(set(np.unique(ids).tolist()) - {0})
    labels = SimpleNamespace(
        ids=present, labels=[b.label for b in scene.boxes if b.instance_id in present], scores=[1.0] * len(present)
    )
    frame(
        _image(rgb, "rgb8", 100.0), _image(depth, "32FC1", 100.0), _image(ids, "32SC1", 100.0), _labels(labels, 100.0)
    )
    bad = _image(rgb, "rgb8", 100.1)
    bad.encoding = "yuv422"
    frame(bad, _image(depth, "32FC1", 100.1), _image(ids, "32SC1", 100.1), _labels(labels, 100.1))
    frame(_image(rgb, "rgb8", 10.0), _image(depth, "32FC1", 10.0))  # stale: both messages rejected
    unnamed = SimpleNamespace(ids=present[:1], labels=labels.labels[:1], scores=[1.0])  # the rest have no label
    frame(
        _image(rgb, "rgb8", 100.2), _image(depth, "32FC1", 100.2), _image(ids, "32SC1", 100.2), _labels(unnamed, 100.2)
    )
    core.resolve_pending(final=True)
    while not core.queue.empty():
        core.process(core.queue.get())
    assert core.updates == 2  # the frame with unnamed ids is kept
    assert core.unlabeled == len(present) - 1
    assert core.rejected["bad_image"] == 1 and core.rejected["stale_stamp"] == 2
    d = core.diagnostics()
    assert d["updates"] == "2" and d["rejected_bad_image"] == "1"


def test_a_map_makes_the_node_planner_rank_places_by_path_length(mem):
    """The memory node's planner gets the simulator's rule once a nav_msgs/OccupancyGrid arrives: path
    length on the map (robomem.planning.grid.GridDistance); a bad map is counted and the last good one kept."""
    s = NodeSettings.load(ROOT / "config" / "robomem.yaml")
    core = MemoryNodeCore(s, mem, logging.getLogger("test"), lambda: 0.0)
    assert core.planner.distance is None and core.diagnostics()["map"].startswith("none")

    def occ(values: np.ndarray, qz: float = 0.0) -> SimpleNamespace:
        h, w = values.shape
        origin = SimpleNamespace(
            position=SimpleNamespace(x=-1.0, y=-2.0, z=0.0),
            orientation=SimpleNamespace(x=0.0, y=0.0, z=qz, w=float(np.sqrt(1 - qz * qz))),
        )
        return SimpleNamespace(
            info=SimpleNamespace(resolution=0.05, width=w, height=h, origin=origin), data=values.ravel().tolist()
        )

    wall = np.zeros((80, 120), dtype=np.int8)
    wall[:64, 60] = 100  # x = 2 m, a door at the north end (y > 1.2 m)
    core.on_map(occ(wall))
    a, b = (1.0, -1.0), (3.0, -1.0)
    d = core.planner.distance(a, b)
    assert d is not None and d > 2.0 * float(np.hypot(b[0] - a[0], b[1] - a[1]))  # round the wall, not through it
    assert core.diagnostics()["map"] == "60x40"  # pooled from 5 cm to MAP_CELL_M = 10 cm
    good = core.map
    core.on_map(occ(wall, qz=0.5))  # a rotated origin: refused, counted, the last map kept
    assert core.rejected["bad_map"] == 1 and core.map is good
    shut = wall.copy()
    shut[:, 60] = 100
    core.on_map(occ(shut))  # the map server publishes the door shut: the planner follows the new map
    assert core.planner.distance(a, b) is None
