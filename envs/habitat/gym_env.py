"""A gymnasium environment over habitat-sim, with robomem's observation layout.

Observation (``gymnasium.spaces.Dict``), the layout robomem's built-in
household env uses too:

==============  ======================  =================================================
key             shape / dtype           meaning
==============  ======================  =================================================
``rgb``         (H, W, 3) uint8         colour (habitat's alpha dropped)
``depth``       (H, W, 1) float32       metres along the optical axis, 0 = invalid
``instances``   (H, W) int32            habitat semantic ids, 0 = none
``pose``        (4, 4) float64          T_world_camera, robomem world (z up), optical camera
``intrinsics``  (4,) float64            fx, fy, cx, cy (pixels)
``labels``      (N + 1,) int32          ``labels[i]``: 1-based index into ``env.label_names``
                                        of instance ``i`` if visible in this frame, else 0;
                                        N = the largest id in the semantic scene (ids above
                                        N, unmapped in the scene, are left out)
==============  ======================  =================================================

``info`` carries ``observation`` (the ``robomem.Observation``, ready for
``Memory.update``), ``labels`` ({instance id: label}), ``episode_id``,
``distance_to_goal``, ``collided`` and, at the end, ``success``.

Actions (``Discrete(6)``, habitat-lab's order, as the household env): 0 stop,
1 move_forward, 2 turn_left, 3 turn_right, 4 look_up, 5 look_down. Reward is 0
without a goal; with one it is habitat-lab's PointNav shaping: decrease in
distance to the goal, ``success_reward`` on a successful stop, plus
``slack_reward`` per step.

:class:`OldGymToGymnasium` wraps an old-API ``gym.Env`` (habitat-lab's gym
layer: ``reset() -> obs``, ``step() -> (obs, reward, done, info)``) as a
gymnasium env.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from robomem.envs.actions import NAV_ACTIONS
from robomem.observation import Observation

from ._compat import INSTALL_HINT
from .adapter import HabitatAdapter
from .runner import NavEpisode, SimSettings, _agent_state, _distance, make_simulator

try:
    import gymnasium
    from gymnasium import spaces
except ImportError as e:  # pragma: no cover - gymnasium is in the [habitat] and [sim] extras
    raise ImportError("robomem.envs.habitat.gym_env needs gymnasium: pip install -e '.[habitat]'") from e

__all__ = ["NAV_ACTIONS", "HabitatNavEnv", "OldGymToGymnasium", "convert_space", "observation_to_dict"]


def observation_spaces(height: int, width: int, max_instance: int = 0, n_labels: int = 0) -> spaces.Dict:
    """The Dict observation space of the layout above (bounds as the household env's)."""
    return spaces.Dict(
        {
            "rgb": spaces.Box(0, 255, (height, width, 3), np.uint8),
            "depth": spaces.Box(0.0, 100.0, (height, width, 1), np.float32),
            "instances": spaces.Box(0, np.iinfo(np.int32).max, (height, width), np.int32),
            "pose": spaces.Box(-1e3, 1e3, (4, 4), np.float64),
            "intrinsics": spaces.Box(0.0, 1e5, (4,), np.float64),
            "labels": spaces.Box(0, max(n_labels, 1), (max_instance + 1,), np.int32),
        }
    )


def observation_to_dict(
    o: Observation, label_index: dict[str, int] | None = None, max_instance: int = 0
) -> dict[str, np.ndarray]:
    """A ``robomem.Observation`` in the Dict layout (missing colour / instances become zeros).

    ``label_index`` maps a label to its 1-based index for the ``labels`` vector of
    length ``max_instance + 1``.
    """
    h, w = o.shape
    rgb = np.zeros((h, w, 3), np.uint8) if o.rgb is None else np.array(o.rgb, dtype=np.uint8)
    if o.instance_ids is None:
        inst = np.zeros((h, w), np.int32)
    else:
        if o.instance_ids.size and int(o.instance_ids.max()) > np.iinfo(np.int32).max:
            raise ValueError("instance ids exceed int32; the gym layout stores int32")
        inst = o.instance_ids.astype(np.int32)
    depth = np.nan_to_num(np.asarray(o.depth, dtype=np.float32), nan=0.0)[:, :, None]
    k = o.intrinsics
    labels = np.zeros(max_instance + 1, np.int32)
    for i, info in o.instances.items():
        if i <= max_instance and label_index is not None and info.label in label_index:
            labels[i] = label_index[info.label]
    return {
        "rgb": rgb,
        "depth": depth,
        "instances": inst,
        "pose": np.array(o.pose.matrix, dtype=np.float64),
        "intrinsics": np.array([k.fx, k.fy, k.cx, k.cy], dtype=np.float64),
        "labels": labels,
    }


class HabitatNavEnv(gymnasium.Env):
    """gymnasium env over a habitat-sim simulator; see the module docstring for spaces and rewards.

    Built from :class:`~robomem.envs.habitat.runner.SimSettings` (needs
    habitat-sim; without it construction raises ImportError naming the conda
    command), or over an existing simulator passed as ``sim`` (a
    ``habitat_sim.Simulator``; the tests pass a stand-in).

    ``reset(options={"episode": NavEpisode})`` starts that episode; otherwise the
    next of ``episodes`` (in order, cycling); with none the agent stays where
    it is and there is no goal.
    """

    metadata = {"render_modes": ["rgb_array"]}

    def __init__(
        self,
        settings: SimSettings | None = None,
        *,
        sim: Any = None,
        episodes: Sequence[NavEpisode] = (),
        max_episode_steps: int = 500,
        success_reward: float = 2.5,
        slack_reward: float = -0.01,
        render_mode: str | None = None,
        ignore_labels: Sequence[str] = (),
    ) -> None:
        if sim is None:
            if settings is None:
                raise ValueError("HabitatNavEnv: pass SimSettings (to build a habitat_sim.Simulator) or sim=")
            try:
                sim = make_simulator(settings)
            except ImportError as e:
                raise ImportError(f"HabitatNavEnv needs habitat-sim.\n{INSTALL_HINT}") from e
            self._owns_sim = True
        else:
            self._owns_sim = False
        self.sim = sim
        self.adapter = HabitatAdapter(sim, ignore_labels=ignore_labels)
        k = self.adapter.intrinsics
        names = set(self.adapter.semantic_map.values())
        if self.adapter.unknown_label:
            names.add(self.adapter.unknown_label)
        self.label_names: list[str] = sorted(names)
        self._label_index = {n: i + 1 for i, n in enumerate(self.label_names)}
        self.max_instance = max(self.adapter.semantic_map, default=0)
        self.observation_space = observation_spaces(k.height, k.width, self.max_instance, len(self.label_names))
        self.action_space = spaces.Discrete(len(NAV_ACTIONS))
        self.episodes = list(episodes)
        self.max_episode_steps = int(max_episode_steps)
        self.success_reward = float(success_reward)
        self.slack_reward = float(slack_reward)
        self.render_mode = render_mode
        self._next_episode = 0
        self.episode: NavEpisode | None = None
        self._steps = 0
        self._last: Observation | None = None
        self._distance: float | None = None

    # -- helpers ----------------------------------------------------------------
    def _to_dict(self, o: Observation) -> dict[str, np.ndarray]:
        return observation_to_dict(o, self._label_index, self.max_instance)

    def _goal_distance(self) -> float | None:
        if self.episode is None or self.episode.goal_position is None:
            return None
        pos = np.asarray(self.sim.get_agent(self.adapter.agent_id).get_state().position, dtype=np.float64)
        return _distance(self.sim, pos, np.asarray(self.episode.goal_position, dtype=np.float64))[0]

    def _info(self, o: Observation, **extra: Any) -> dict[str, Any]:
        return {
            "observation": o,
            "labels": {i: info.label for i, info in o.instances.items()},
            "episode_id": None if self.episode is None else self.episode.episode_id,
            "distance_to_goal": self._distance,
            "steps": self._steps,
            **extra,
        }

    # -- gymnasium API ------------------------------------------------------------
    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        super().reset(seed=seed)
        episode = (options or {}).get("episode")
        if episode is None and self.episodes:
            episode = self.episodes[self._next_episode % len(self.episodes)]
            self._next_episode += 1
        self.episode = episode
        if episode is not None:
            agent = self.sim.get_agent(self.adapter.agent_id)
            agent.set_state(_agent_state(episode.start_position, episode.start_rotation))
        self._steps = 0
        self._distance = self._goal_distance()
        self._last = self.adapter.observe()
        return self._to_dict(self._last), self._info(self._last)

    def step(self, action: Any) -> tuple[dict[str, np.ndarray], float, bool, bool, dict[str, Any]]:
        if self._last is None:
            raise RuntimeError("HabitatNavEnv: call reset() before step()")
        name = NAV_ACTIONS[int(action)]
        has_goal = self.episode is not None and self.episode.goal_position is not None
        reward = self.slack_reward if has_goal else 0.0
        terminated = False
        collided = False
        extra: dict[str, Any] = {}
        if name == "stop":
            terminated = True
            o = self._last
        else:
            raw = self.sim.step(name)
            collided = bool(raw.get("collided", False)) if hasattr(raw, "get") else False
            o = self.adapter.observe(raw)
            self._last = o
        self._steps += 1
        before = self._distance
        self._distance = self._goal_distance()
        if before is not None and self._distance is not None:
            reward += before - self._distance
        if terminated and self.episode is not None and self._distance is not None:
            success = self._distance <= self.episode.success_distance
            extra["success"] = success
            if success:
                reward += self.success_reward
        limit = self.episode.max_steps if self.episode is not None else self.max_episode_steps
        truncated = not terminated and self._steps >= min(limit, self.max_episode_steps)
        if truncated and self.episode is not None and self._distance is not None:
            extra["success"] = False
        return self._to_dict(o), float(reward), terminated, truncated, self._info(o, collided=collided, **extra)

    def render(self) -> np.ndarray | None:
        if self._last is None or self._last.rgb is None:
            return None
        return np.array(self._last.rgb)

    def close(self) -> None:
        if self._owns_sim and self.sim is not None:
            self.sim.close()
        self.sim = None if self._owns_sim else self.sim


# ---------------------------------------------------------------------------
# old gym API -> gymnasium
# ---------------------------------------------------------------------------


def convert_space(space: Any) -> spaces.Space:
    """A gymnasium space equal to an old ``gym`` space (Box, Discrete, MultiDiscrete, MultiBinary, Dict, Tuple)."""
    if isinstance(space, spaces.Space):
        return space
    kind = type(space).__name__
    if kind == "Box":
        return spaces.Box(low=space.low, high=space.high, shape=space.shape, dtype=space.dtype)
    if kind == "Discrete":
        return spaces.Discrete(int(space.n), start=int(getattr(space, "start", 0)))
    if kind == "MultiDiscrete":
        return spaces.MultiDiscrete(space.nvec)
    if kind == "MultiBinary":
        return spaces.MultiBinary(space.n)
    if kind == "Dict":
        return spaces.Dict({k: convert_space(v) for k, v in space.spaces.items()})
    if kind == "Tuple":
        return spaces.Tuple(tuple(convert_space(s) for s in space.spaces))
    raise TypeError(f"convert_space: no gymnasium equivalent for {kind}")


class OldGymToGymnasium(gymnasium.Env):
    """Wraps an old-API gym env (``reset() -> obs``, ``step() -> (obs, reward, done, info)``) as gymnasium.

    ``done`` becomes ``terminated``, unless ``info["TimeLimit.truncated"]``
    says the time limit ended it, then ``truncated``. ``reset(seed=)`` calls
    the old ``env.seed(seed)`` where it exists. An env that already returns
    ``(obs, info)`` from reset or a 5-tuple from step passes through.
    """

    def __init__(self, env: Any) -> None:
        self.env = env
        self.observation_space = convert_space(env.observation_space)
        self.action_space = convert_space(env.action_space)
        self.metadata = dict(getattr(env, "metadata", {}) or {})
        self.render_mode = getattr(env, "render_mode", None)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[Any, dict[str, Any]]:
        super().reset(seed=seed)
        if seed is not None and hasattr(self.env, "seed"):
            self.env.seed(seed)
        out = self.env.reset(**({"options": options} if options else {}))
        if isinstance(out, tuple) and len(out) == 2 and isinstance(out[1], dict):
            return out[0], out[1]
        return out, {}

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        out = self.env.step(action)
        if len(out) == 5:
            obs, reward, terminated, truncated, info = out
            return obs, float(reward), bool(terminated), bool(truncated), dict(info)
        obs, reward, done, info = out
        info = dict(info or {})
        truncated = bool(info.get("TimeLimit.truncated", False))
        return obs, float(reward), bool(done) and not truncated, truncated, info

    def render(self) -> Any:
        return self.env.render()

    def close(self) -> None:
        self.env.close()
