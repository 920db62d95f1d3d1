"""Gymnasium wrapper: ``robomem/Household-v0``.

Observation (Dict): rgb (H,W,3 uint8), depth (H,W,1 float32 metres, 0 = invalid),
instances (H,W int32, 0 = none), pose (4,4 float64, T_world_camera, optical frame),
intrinsics (4 float64: fx, fy, cx, cy), labels (MAX_INSTANCES+1 int32: ``labels[i]`` is the
1-based index into :attr:`HouseholdEnv.label_names` of instance ``i`` if it is visible in
this frame, else 0).  Actions: Discrete(6) in Habitat's order (stop, move_forward,
turn_left, turn_right, look_up, look_down); ``stop`` ends the episode.  Reward is 0: the
environment is for building and probing memory; tasks add their own reward.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from .sim import NAV_ACTIONS, HouseholdFrame, HouseholdSim

__all__ = ["ENV_ID", "MAX_INSTANCES", "HouseholdEnv", "register_envs"]

ENV_ID = "robomem/Household-v0"
MAX_INSTANCES = 64


class HouseholdEnv(gym.Env[dict[str, np.ndarray], np.int64]):
    metadata = {"render_modes": ["rgb_array"], "render_fps": 2}

    def __init__(
        self,
        width: int = 320,
        height: int = 240,
        hfov_deg: float = 90.0,
        max_episode_steps: int = 500,
        render_mode: str | None = None,
    ) -> None:
        self.sim = HouseholdSim(width=width, height=height, hfov_deg=hfov_deg)
        self.width, self.height = width, height
        self.max_episode_steps = int(max_episode_steps)
        self.render_mode = render_mode
        ids = self.sim.instance_labels
        if max(ids) > MAX_INSTANCES:
            raise ValueError("HouseholdEnv: more instances than MAX_INSTANCES")
        self.label_names: list[str] = sorted(set(ids.values()))
        self._label_index = {n: i + 1 for i, n in enumerate(self.label_names)}
        self.action_space = spaces.Discrete(len(NAV_ACTIONS))
        self.observation_space = spaces.Dict(
            {
                "rgb": spaces.Box(0, 255, (height, width, 3), np.uint8),
                "depth": spaces.Box(0.0, 100.0, (height, width, 1), np.float32),
                "instances": spaces.Box(0, MAX_INSTANCES, (height, width), np.int32),
                "pose": spaces.Box(-1e3, 1e3, (4, 4), np.float64),
                "intrinsics": spaces.Box(0.0, 1e5, (4,), np.float64),
                "labels": spaces.Box(0, len(self.label_names), (MAX_INSTANCES + 1,), np.int32),
            }
        )
        self._steps = 0
        self._last: HouseholdFrame | None = None

    def _obs(self, frame: HouseholdFrame) -> dict[str, np.ndarray]:
        labels = np.zeros(MAX_INSTANCES + 1, dtype=np.int32)
        for i, name in frame.labels.items():
            labels[i] = self._label_index[name]
        return {
            "rgb": np.array(frame.rgb, dtype=np.uint8),
            "depth": np.array(frame.depth, dtype=np.float32)[..., None],
            "instances": np.array(frame.instances, dtype=np.int32),
            "pose": np.array(frame.pose, dtype=np.float64),
            "intrinsics": np.array(frame.intrinsics, dtype=np.float64),
            "labels": labels,
        }

    def _info(self, frame: HouseholdFrame, collided: bool = False) -> dict[str, Any]:
        return {
            "stamp": frame.stamp,
            "room": frame.room,
            "labels": dict(frame.labels),
            "collided": collided,
            "agent": frame.agent,
        }

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        super().reset(seed=seed)
        if seed is None:
            seed = int(self.np_random.integers(0, 2**31 - 1))
        self.sim.reset(seed)
        self._steps = 0
        self._last = self.sim.observe()
        return self._obs(self._last), self._info(self._last)

    def step(self, action: Any) -> tuple[dict[str, np.ndarray], float, bool, bool, dict[str, Any]]:
        a = int(action)
        if not self.action_space.contains(a):
            raise ValueError(f"HouseholdEnv.step: invalid action {action!r}")
        res = self.sim.step(a)
        self._steps += 1
        self._last = self.sim.observe()
        terminated = res.action == "stop"
        truncated = self._steps >= self.max_episode_steps and not terminated
        return self._obs(self._last), 0.0, terminated, truncated, self._info(self._last, res.collided)

    @property
    def last_frame(self) -> HouseholdFrame | None:
        """The simulator frame behind the last observation (use with ``adapter.to_observation``)."""
        return self._last

    def render(self) -> np.ndarray | None:
        if self.render_mode == "rgb_array":
            return None if self._last is None else np.array(self._last.rgb)
        return None

    def close(self) -> None:
        self.sim.close()


def register_envs() -> None:
    """Register ``robomem/Household-v0`` with gymnasium (idempotent)."""
    if ENV_ID not in gym.registry:
        gym.register(id=ENV_ID, entry_point="robomem.envs.household.gym_env:HouseholdEnv")


register_envs()
