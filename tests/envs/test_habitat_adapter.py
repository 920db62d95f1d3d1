"""End-to-end: frames ray-cast by the habitat stand-in, translated by the adapter, back-projected by robomem.

The stand-in renders in habitat-sim's formats and frames (y-up world, OpenGL
cameras, RGBA, z-depth, uint32 semantics); a world point recovered from a
depth pixel with the adapter's Pose and Intrinsics must be the scene's known
point converted to robomem's z-up frame.
"""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest

from robomem.envs.habitat import (
    HabitatAdapter,
    HabitatLabDepth,
    SensorKeys,
    intrinsics_from_hfov,
    observation_from_habitat,
    robomem_from_habitat_points,
    semantic_label_map,
    sensor_pose,
)
from robomem.ingest.geometry import backproject, project
from robomem.observation import Observation

try:
    from habitat_standin import Box, StandinAgentState, StandinSimulator, quat_about_y
except ImportError:  # tests/ laid out as packages
    from tests.envs.habitat_standin import Box, StandinAgentState, StandinSimulator, quat_about_y


def _world_points(obs: Observation, mask: np.ndarray) -> np.ndarray:
    v, u = np.nonzero(mask & (obs.depth > 0))
    pts = backproject(u, v, obs.depth[v, u], obs.intrinsics)
    return obs.pose.transform_points(pts)


def _place(sim: StandinSimulator, position: tuple[float, float, float], yaw_deg: float) -> None:
    sim.get_agent(0).set_state(StandinAgentState(np.array(position, np.float32), quat_about_y(yaw_deg)))


def test_observation_layout_from_standin() -> None:
    sim = StandinSimulator(width=64, height=48)
    raw = sim.get_sensor_observations()
    assert raw["color_sensor"].shape == (48, 64, 4) and raw["color_sensor"].dtype == np.uint8
    assert raw["depth_sensor"].shape == (48, 64) and raw["depth_sensor"].dtype == np.float32
    assert raw["semantic_sensor"].dtype == np.uint32
    adapter = HabitatAdapter(sim)
    assert adapter.keys == SensorKeys(depth="depth_sensor", rgb="color_sensor", semantic="semantic_sensor")
    o = adapter.observe(raw)
    assert o.rgb is not None and o.rgb.shape == (48, 64, 3)
    assert o.depth.dtype == np.float32 and o.instance_ids is not None and o.instance_ids.dtype == np.int32
    assert {i: info.label for i, info in o.instances.items()} == {1: "floor", 5: "table", 7: "chair", 9: "unknown"}
    assert o.frame_id == "depth_sensor" and o.source == "habitat"
    assert adapter.intrinsics == intrinsics_from_hfov(64, 48, 90.0)
    # stamps: n * period unless given
    assert adapter.observe().stamp == pytest.approx(0.1)
    assert adapter.observe(stamp=7.0).stamp == 7.0


def test_centre_pixel_of_a_thin_panel_back_projects_to_its_centre() -> None:
    """A thin panel straight ahead of a turned, displaced agent: the centre pixel lands on its centre."""
    w, h, sensor_height, dist, yaw = 97, 73, 1.25, 4.0, 30.0  # odd sizes: the optical axis hits a pixel centre
    start = (2.0, 0.0, 1.0)
    fwd = np.array([-math.sin(math.radians(yaw)), 0.0, -math.cos(math.radians(yaw))])  # habitat -z turned left
    centre_h = np.array([start[0], sensor_height, start[2]]) + dist * fwd
    panel = Box(tuple(centre_h), (0.4, 0.4, 0.0005), "panel", 11, (255, 255, 0))
    sim = StandinSimulator(width=w, height=h, sensor_height=sensor_height, boxes=[panel])
    _place(sim, start, yaw)
    o = HabitatAdapter(sim).observe()
    u, v = (w - 1) // 2, (h - 1) // 2
    assert o.instance_ids is not None and o.instance_ids[v, u] == 11
    assert o.instances[11].label == "panel"
    p_cam = backproject(np.array([u]), np.array([v]), o.depth[v : v + 1, u], o.intrinsics)
    p_world = o.pose.transform_points(p_cam)[0]
    np.testing.assert_allclose(p_world, robomem_from_habitat_points(centre_h), atol=2e-3)
    # and the expected point is where it should be in robomem terms: 4 m ahead, yawed 30 degrees left of robomem -z_h
    np.testing.assert_allclose(robomem_from_habitat_points(centre_h)[2], sensor_height)


def test_box_front_face_hand_computed() -> None:
    """Identity agent, box straight ahead at sensor height: the axis hits the front face at z_h = -3.7."""
    w, h = 81, 61
    box = Box((0.0, 1.25, -4.0), (0.3, 0.3, 0.3), "crate", 3, (1, 2, 3))
    sim = StandinSimulator(width=w, height=h, sensor_height=1.25, boxes=[box])
    o = HabitatAdapter(sim).observe()
    u, v = (w - 1) // 2, (h - 1) // 2
    assert o.depth[v, u] == pytest.approx(3.7, abs=1e-5)
    p = o.pose.transform_points(backproject(np.array([u]), np.array([v]), o.depth[v : v + 1, u], o.intrinsics))[0]
    np.testing.assert_allclose(p, [3.7, 0.0, 1.25], atol=1e-5)  # robomem: 3.7 m ahead (+x), at sensor height


@pytest.mark.parametrize(
    ("position", "yaw"), [((0.0, 0.0, 0.0), 0.0), ((0.5, 0.0, 0.5), 20.0), ((-0.3, 0.0, 1.0), -35.0)]
)
def test_every_box_pixel_back_projects_inside_its_box(position: tuple[float, float, float], yaw: float) -> None:
    sim = StandinSimulator(width=96, height=72)
    _place(sim, position, yaw)
    o = HabitatAdapter(sim).observe()
    assert o.instance_ids is not None
    seen = 0
    for box in sim.boxes:
        mask = o.instance_ids == box.semantic_id
        if mask.sum() < 5:
            continue
        seen += 1
        pts = _world_points(o, mask)
        corners = robomem_from_habitat_points(
            [np.array(box.center) + np.array(box.half_size) * s for s in ((-1, -1, -1), (1, 1, 1))]
        )
        lo, hi = corners.min(axis=0) - 2e-3, corners.max(axis=0) + 2e-3
        assert np.all((pts >= lo) & (pts <= hi)), f"{box.category}: points outside the converted box"
        # projecting the box centre with the same Pose/Intrinsics lands on that box's pixels
        uu, vv, zz = project(robomem_from_habitat_points([box.center]), o.pose, o.intrinsics)
        if zz[0] > 0 and 0 <= round(uu[0]) < 96 and 0 <= round(vv[0]) < 72:
            assert o.instance_ids[int(round(vv[0])), int(round(uu[0]))] == box.semantic_id
    assert seen >= 2
    floor = _world_points(o, o.instance_ids == 1)
    assert len(floor) > 100
    np.testing.assert_allclose(floor[:, 2], 0.0, atol=1e-3)  # habitat y = 0 is robomem z = 0


def test_turning_and_looking_down_move_the_optical_axis() -> None:
    sim = StandinSimulator()
    adapter = HabitatAdapter(sim)
    np.testing.assert_allclose(adapter.observe().pose.forward, [1, 0, 0], atol=1e-9)
    for _ in range(9):  # 9 x 10 degrees left
        o = adapter.step("turn_left")
    np.testing.assert_allclose(o.pose.forward, [0, 1, 0], atol=1e-6)
    o = adapter.step("look_down")
    fwd = o.pose.forward
    assert fwd[2] == pytest.approx(-math.sin(math.radians(15)), abs=1e-6)  # pitched 15 degrees down
    floor = _world_points(o, o.instance_ids == 1)  # type: ignore[operator]
    np.testing.assert_allclose(floor[:, 2], 0.0, atol=1e-3)
    o = adapter.step("move_forward")  # along robomem +y now
    np.testing.assert_allclose(o.pose.position[:2], [0.0, 0.25], atol=1e-6)


def test_observation_from_habitat_lab_dict() -> None:
    """habitat-lab: keys rgb/depth/semantic, depth (H, W, 1) clipped to [0, 10] and normalised."""
    sim = StandinSimulator(width=40, height=30)
    _place(sim, (0.0, 0.0, 0.5), 10.0)
    raw = sim.get_sensor_observations()
    state = sim.get_agent(0).get_state()
    metres = raw["depth_sensor"]
    lab = {
        "rgb": raw["color_sensor"][..., :3],
        "depth": (np.clip(metres, 0.0, 10.0) / 10.0)[..., None].astype(np.float32),
        "semantic": raw["semantic_sensor"][..., None],
    }
    k = intrinsics_from_hfov(40, 30, 90.0)
    labels = semantic_label_map(sim.semantic_scene)
    keys = SensorKeys(depth="depth", rgb="rgb", semantic="semantic")
    o = observation_from_habitat(
        lab, state.sensor_states["depth_sensor"], labels, k, 1.0, keys=keys, depth_config=HabitatLabDepth(0.0, 10.0)
    )
    valid = (metres > 0) & (metres < 10)
    np.testing.assert_allclose(o.depth[valid], metres[valid], rtol=1e-5)
    assert np.all(o.depth[metres >= 10] == 0)  # clamped at max_depth: invalid, not a wall at 10 m
    ref = HabitatAdapter(sim).observe(raw, stamp=1.0)
    assert o.pose == ref.pose
    assert np.array_equal(o.instance_ids, ref.instance_ids)  # type: ignore[arg-type]
    # keys guessed from habitat-lab names
    o2 = observation_from_habitat(
        lab, state.sensor_states["depth_sensor"], labels, k, 1.0, keys=None, depth_config=HabitatLabDepth()
    )
    assert o2.frame_id == "depth" and o2.pose == ref.pose
    # habitat-lab names its sim sensors like its observations; where they differ, SensorKeys.state says which
    o3 = observation_from_habitat(
        lab, state, labels, k, 1.0, keys=SensorKeys(depth="depth", state="depth_sensor"), depth_config=HabitatLabDepth()
    )
    assert o3.pose == ref.pose


def test_sensor_pose_sources() -> None:
    sim = StandinSimulator()
    state = sim.get_agent(0).get_state()
    p_agent = sensor_pose(state, "depth_sensor")
    p_sensor = sensor_pose(state.sensor_states["depth_sensor"], "ignored")
    s = state.sensor_states["depth_sensor"]
    p_tuple = sensor_pose((s.position, s.rotation), "ignored")
    assert p_agent == p_sensor == p_tuple
    assert p_agent.position[2] == pytest.approx(1.25)  # the sensor's height, not the agent's floor position
    with pytest.raises(KeyError, match="no sensor state"):
        sensor_pose(state, "rgb_left")
    with pytest.raises(TypeError):
        sensor_pose(SimpleNamespace(), "x")


def test_adapter_options() -> None:
    sim = StandinSimulator(width=32, height=24)
    a = HabitatAdapter(sim, unknown_label=None, ignore_labels=("floor",), period=0.5, start_time=10.0)
    o = a.observe()
    assert o.stamp == 10.0 and a.observe().stamp == 10.5
    assert set(o.instances) == {5, 7}  # floor ignored, the crate without a category dropped
    assert a.labels(o) == {5: "table", 7: "chair"}
    ticks = iter([3.0, 4.0])
    b = HabitatAdapter(sim, clock=lambda: next(ticks))
    assert b.observe().stamp == 3.0
    with pytest.raises(KeyError, match="no sensor"):
        HabitatAdapter(sim, keys=SensorKeys(depth="nope"))
    with pytest.raises(KeyError, match="no depth"):
        observation_from_habitat({"rgb": np.zeros((2, 2, 4), np.uint8)}, None, None, a.intrinsics, 0.0)
