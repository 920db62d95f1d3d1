"""Checks against a real habitat-sim; skipped where it is not installed (it is conda-only).

They use the empty scene ("NONE"), so no scene data set is needed: the point is
that the adapter's pose equals habitat-sim's own sensor node transform,
converted, and that its image formats are what the adapter expects.
"""

from __future__ import annotations

import numpy as np
import pytest

habitat_sim = pytest.importorskip("habitat_sim", reason="habitat-sim is conda-only; not installable here")

from robomem.envs.habitat import (  # noqa: E402
    T_ROBOMEM_FROM_HABITAT,
    HabitatAdapter,
    SimSettings,
    intrinsics_from_hfov,
    make_simulator,
)


@pytest.fixture()
def sim():  # type: ignore[no-untyped-def]
    s = make_simulator(SimSettings(scene="NONE", width=64, height=48, hfov_deg=79.0))
    s.initialize_agent(0, habitat_sim.AgentState(np.zeros(3, np.float32), [0.0, 0.0, 0.0, 1.0]))
    yield s
    s.close()


def _node_pose(sim, uuid: str) -> np.ndarray:  # type: ignore[no-untyped-def]
    agent = sim.get_agent(0)
    sensors = agent.sensors if hasattr(agent, "sensors") else agent._sensors
    m = np.array(sensors[uuid].node.absolute_transformation(), dtype=np.float64)
    m = m.T if not np.allclose(m[3], [0, 0, 0, 1]) else m  # magnum matrices are column-major
    flip = np.diag([1.0, -1.0, -1.0, 1.0])
    return T_ROBOMEM_FROM_HABITAT @ m @ flip


def test_formats_and_intrinsics(sim) -> None:  # type: ignore[no-untyped-def]
    raw = sim.get_sensor_observations()
    assert raw["color_sensor"].dtype == np.uint8 and raw["color_sensor"].shape == (48, 64, 4)
    assert raw["depth_sensor"].dtype == np.float32 and raw["depth_sensor"].shape == (48, 64)
    assert raw["semantic_sensor"].dtype == np.uint32 and raw["semantic_sensor"].shape == (48, 64)
    adapter = HabitatAdapter(sim)
    assert adapter.intrinsics == intrinsics_from_hfov(64, 48, 79.0)
    o = adapter.observe(raw)
    assert o.depth.shape == (48, 64)


def test_pose_matches_habitat_sensor_node(sim) -> None:  # type: ignore[no-untyped-def]
    adapter = HabitatAdapter(sim)
    o = adapter.observe()
    np.testing.assert_allclose(o.pose.forward, [1.0, 0.0, 0.0], atol=1e-6)
    np.testing.assert_allclose(o.pose.matrix, _node_pose(sim, "depth_sensor"), atol=1e-5)
    for _ in range(9):
        o = adapter.step("turn_left")
    np.testing.assert_allclose(o.pose.forward, [0.0, 1.0, 0.0], atol=1e-5)
    np.testing.assert_allclose(o.pose.matrix, _node_pose(sim, "depth_sensor"), atol=1e-5)
    o = adapter.step("move_forward")
    np.testing.assert_allclose(o.pose.position[:2], [0.0, 0.25], atol=1e-5)
