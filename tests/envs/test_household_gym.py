"""Gymnasium environment and the robomem adapter, on real rendered frames."""

from __future__ import annotations

import os

import numpy as np
import pytest

os.environ.setdefault("MUJOCO_GL", "egl")
pytest.importorskip("mujoco")
gym = pytest.importorskip("gymnasium")

from robomem.observation import Observation  # noqa: E402


@pytest.fixture(scope="module")
def env():
    import robomem.envs.gym_env  # noqa: F401  (registers robomem/Household-v0)

    e = gym.make("robomem/Household-v0", max_episode_steps=50)
    yield e
    e.close()


def test_check_env_passes(env) -> None:
    from gymnasium.utils.env_checker import check_env

    check_env(env.unwrapped, skip_render_check=True)


def test_observation_space_and_labels(env) -> None:
    obs, info = env.reset(seed=3)
    assert env.observation_space.contains(obs)
    assert obs["rgb"].shape == (240, 320, 3) and obs["depth"].shape == (240, 320, 1)
    names = env.unwrapped.label_names
    for i in np.unique(obs["instances"]):
        if i:
            assert obs["labels"][i] > 0 and names[obs["labels"][i] - 1] == info["labels"][int(i)]
    assert set(np.nonzero(obs["labels"])[0].tolist()) == set(info["labels"])
    obs2, reward, terminated, truncated, info2 = env.step(1)  # move_forward
    assert reward == 0.0 and not terminated and not truncated
    assert info2["stamp"] == pytest.approx(info["stamp"] + 0.5)
    _, _, terminated, _, _ = env.step(0)  # stop
    assert terminated


def test_adapter_produces_valid_observations(env) -> None:
    from robomem.envs.household.adapter import to_observation

    env.reset(seed=0)
    sim = env.unwrapped.sim
    sim.teleport(2.1, 6.9, -np.pi / 2, np.radians(-25))  # kitchen table with objects on it
    frame = sim.observe()
    obs = to_observation(frame)
    assert isinstance(obs, Observation)
    assert obs.source == "household" and obs.stamp == frame.stamp
    assert obs.depth.dtype == np.float32 and obs.rgb is not None and obs.instance_ids is not None
    assert {i: v.label for i, v in obs.instances.items()} == dict(frame.labels)
    assert "plate" in {v.label for v in obs.instances.values()}
    assert (obs.intrinsics.width, obs.intrinsics.height) == (320, 240)
    assert obs.intrinsics.fx == pytest.approx(160.0)  # 90 degree horizontal field of view
    np.testing.assert_allclose(obs.pose.matrix, frame.pose)


def test_tour_visits_every_room() -> None:
    from robomem.envs.household import HouseholdSim
    from robomem.envs.household.tour import scripted_tour, tour_observations

    sim = HouseholdSim(width=80, height=60, seed=2)
    try:
        frames = scripted_tour(sim, turns=4)
        assert {f.room for f in frames} == {"hallway", "kitchen", "living room", "study", "bedroom"}
        assert len(frames) == 20
        stamps = [f.stamp for f in frames]
        assert stamps == sorted(stamps)
        seen = set().union(*(f.labels.values() for f in frames))
        assert {"sofa", "bed", "dining table", "desk"} <= seen
        obs = tour_observations(sim, rooms=["kitchen"], turns=2)
        assert len(obs) == 2 and all(isinstance(o, Observation) for o in obs)
    finally:
        sim.close()
