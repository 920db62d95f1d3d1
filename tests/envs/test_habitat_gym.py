"""The gymnasium env over habitat (driven by the stand-in) and the old-gym converter."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

gymnasium = pytest.importorskip("gymnasium", reason="gymnasium is in the [habitat] extra")

from robomem.envs.habitat import NavEpisode, SimSettings, habitat_sim_available  # noqa: E402
from robomem.envs.habitat.gym_env import (  # noqa: E402
    NAV_ACTIONS,
    HabitatNavEnv,
    OldGymToGymnasium,
    convert_space,
)
from robomem.observation import Observation  # noqa: E402

try:
    from habitat_standin import StandinSimulator
except ImportError:  # tests/ laid out as packages
    from tests.envs.habitat_standin import StandinSimulator


def _env(**kw: Any) -> HabitatNavEnv:
    ep = NavEpisode("e", (0.0, 0.0, 0.0), goal_position=(0.0, 0.0, -0.5), max_steps=6)
    return HabitatNavEnv(sim=StandinSimulator(width=40, height=30), episodes=[ep], **kw)


def test_spaces_and_layout() -> None:
    env = _env()
    obs, info = env.reset(seed=0)
    assert env.observation_space.contains(obs)
    assert obs["rgb"].shape == (30, 40, 3) and obs["rgb"].dtype == np.uint8
    assert obs["depth"].shape == (30, 40, 1) and obs["depth"].dtype == np.float32
    assert obs["instances"].shape == (30, 40) and obs["instances"].dtype == np.int32
    assert obs["pose"].shape == (4, 4) and obs["pose"].dtype == np.float64
    np.testing.assert_allclose(obs["intrinsics"], [20.0, 20.0, 19.5, 14.5])
    assert isinstance(info["observation"], Observation)
    assert info["labels"][5] == "table" and info["episode_id"] == "e"
    assert info["distance_to_goal"] == pytest.approx(0.5)
    np.testing.assert_array_equal(obs["pose"], info["observation"].pose.matrix)
    assert env.action_space.n == 6 and NAV_ACTIONS[:4] == ("stop", "move_forward", "turn_left", "turn_right")
    # labels[i]: 1-based index into env.label_names of visible instance i
    assert env.label_names == ["chair", "floor", "table", "unknown"]
    assert obs["labels"].shape == (10,)  # the stand-in's largest semantic id is 9
    assert env.label_names[obs["labels"][5] - 1] == "table" and obs["labels"][9] == 4 and obs["labels"][2] == 0


def test_reward_success_and_truncation() -> None:
    env = _env()
    env.reset()
    _, r, term, trunc, info = env.step(1)  # move_forward: 0.25 m closer
    assert r == pytest.approx(0.25 - 0.01) and not term and not trunc
    env.step(1)
    _, r, term, trunc, info = env.step(0)  # stop at the goal
    assert term and not trunc and info["success"] and r == pytest.approx(2.5 - 0.01)
    env.reset()
    for _ in range(5):
        _, _, term, trunc, info = env.step(2)
        assert not term and not trunc
    _, _, term, trunc, info = env.step(3)  # sixth step: the episode's max_steps
    assert trunc and not term and info["success"] is False
    with pytest.raises(RuntimeError):
        HabitatNavEnv(sim=StandinSimulator(width=8, height=6)).step(1)


class _NoStampedInfo(gymnasium.Wrapper):
    """Drops info["observation"]: its stamp keeps increasing across resets on purpose (one memory can take
    many episodes), which check_env's "same seed, same info" test would flag."""

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> Any:
        obs, info = self.env.reset(seed=seed, options=options)
        return obs, {k: v for k, v in info.items() if k != "observation"}

    def step(self, action: Any) -> Any:
        *out, info = self.env.step(action)
        return (*out, {k: v for k, v in info.items() if k != "observation"})


def test_env_checker_passes() -> None:
    from gymnasium.utils.env_checker import check_env

    check_env(_NoStampedInfo(_env()), skip_render_check=True)


def test_reset_options_and_render() -> None:
    env = _env()
    s = np.sqrt(0.5)
    _, info = env.reset(options={"episode": NavEpisode("x", (1.0, 0.0, 0.0), start_rotation=(0.0, s, 0.0, s))})
    assert info["episode_id"] == "x" and info["distance_to_goal"] is None
    np.testing.assert_allclose(info["observation"].pose.forward, [0, 1, 0], atol=1e-6)
    frame = env.render()
    assert frame is not None and frame.shape == (30, 40, 3)
    env.close()


@pytest.mark.skipif(habitat_sim_available(), reason="habitat-sim is installed here")
def test_needs_habitat_sim_or_a_sim() -> None:
    with pytest.raises(ImportError, match="conda install habitat-sim"):
        HabitatNavEnv(SimSettings(scene="NONE"))
    with pytest.raises(ValueError):
        HabitatNavEnv()


# -- old gym API converter -----------------------------------------------------------


class Box:  # an old ``gym.spaces.Box`` look-alike (gym itself is not installed)
    def __init__(self, low: float, high: float, shape: tuple[int, ...], dtype: Any) -> None:
        self.low = np.full(shape, low, dtype)
        self.high = np.full(shape, high, dtype)
        self.shape, self.dtype = shape, np.dtype(dtype)


class Discrete:
    def __init__(self, n: int) -> None:
        self.n = n


class Dict:
    def __init__(self, spaces: dict[str, Any]) -> None:
        self.spaces = spaces


class OldEnv:
    """habitat-lab's gym layer style: reset() -> obs, step() -> (obs, reward, done, info)."""

    metadata: dict[str, Any] = {}

    def __init__(self) -> None:
        self.observation_space = Dict({"depth": Box(0.0, 1.0, (2, 2, 1), np.float32)})
        self.action_space = Discrete(4)
        self.t = 0
        self.seeded: int | None = None

    def seed(self, seed: int) -> None:
        self.seeded = seed

    def reset(self) -> dict[str, np.ndarray]:
        self.t = 0
        return {"depth": np.zeros((2, 2, 1), np.float32)}

    def step(self, action: int) -> tuple[dict[str, np.ndarray], float, bool, dict[str, Any]]:
        self.t += 1
        info: dict[str, Any] = {"TimeLimit.truncated": True} if self.t == 3 else {}
        return {"depth": np.zeros((2, 2, 1), np.float32)}, 1.0, self.t >= 2 and action == 0 or self.t == 3, info

    def render(self) -> None:
        return None

    def close(self) -> None:
        pass


def test_old_gym_converter() -> None:
    old = OldEnv()
    env = OldGymToGymnasium(old)
    assert isinstance(env.observation_space, gymnasium.spaces.Dict)
    assert env.observation_space["depth"].shape == (2, 2, 1)
    assert env.action_space == gymnasium.spaces.Discrete(4)
    obs, info = env.reset(seed=3)
    assert old.seeded == 3 and info == {} and env.observation_space.contains(obs)
    assert env.step(1)[2:4] == (False, False)
    assert env.step(1)[2:4] == (False, False)
    assert env.step(1)[2:4] == (False, True)  # done by the time limit: truncated, not terminated
    env.reset()
    env.step(1)
    assert env.step(0)[2:4] == (True, False)
    with pytest.raises(TypeError):
        convert_space(SimpleNamespace())
