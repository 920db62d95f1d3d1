"""Gymnasium wrapper that gives any environment a robomem memory.

``MemoryWrapper(env, memory, planner, to_observation, goal=...)``:

- at every ``reset`` and ``step`` it turns the env's observation into a
  robomem :class:`~robomem.observation.Observation` with ``to_observation(obs,
  info)`` (return None to skip a frame) and updates memory;
- it asks the planner for the context of the goal at the robot's pose and
  adds ``memory`` (float32 [K, D], the token layout of
  :mod:`robomem.planning.context`) and ``memory_mask`` (int8 [K], 1 = a valid token)
  to a Dict observation (a non-Dict observation goes under ``"observation"``);
  ``info["memory_context"]`` holds the :class:`~robomem.planning.context.Context`;
- ``reset`` starts a new episode without wiping long-term memory; pass
  ``options={"wipe_memory": True}`` (or ``wipe_on_reset=True``) to wipe it.

Time: memory is built in time order, and simulators restart their clock each
episode, so the wrapper adds an offset that places every episode after what
memory already holds (``stamp_offset``).

Determinism: memory carries over between episodes by design, so the same seed
and actions need not give the same memory tokens; the wrapper's ``spec`` says
``nondeterministic=True`` (gymnasium's ``check_env`` then skips its
determinism comparisons, which only a memoryless env can pass).
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from robomem.memory import Memory
from robomem.observation import Observation
from robomem.planning.context import Goal, RobotState, token_dim
from robomem.planning.planner import Planner

EPISODE_GAP_S = 1.0  # seconds of memory time between the end of one episode and the start of the next

ToObservation = Callable[[Any, dict[str, Any]], Observation | None]


class MemoryWrapper(gym.Wrapper):
    def __init__(
        self,
        env: gym.Env,
        memory: Memory,
        planner: Planner,
        to_observation: ToObservation,
        goal: Goal | str | Callable[[dict[str, Any]], Goal | str | None] | None = None,
        k: int = 16,
        wipe_on_reset: bool = False,
    ) -> None:
        if not isinstance(memory, Memory):
            raise ValueError(f"MemoryWrapper: memory must be a robomem Memory, got {type(memory).__name__}")
        if not isinstance(planner, Planner):
            raise ValueError(f"MemoryWrapper: planner must be a robomem Planner, got {type(planner).__name__}")
        if planner.memory is not memory:
            raise ValueError("MemoryWrapper: the planner must read the same Memory the wrapper updates")
        if not callable(to_observation):
            raise ValueError("MemoryWrapper: to_observation must be a callable (obs, info) -> Observation | None")
        if isinstance(k, bool) or not isinstance(k, int) or k <= 0:
            raise ValueError(f"MemoryWrapper: k must be a positive integer, got {k!r}")
        if goal is not None and not callable(goal):
            goal = Goal.of(goal)
        gym.Wrapper.__init__(self, env)
        # Kept by reference (gymnasium's RecordConstructorArgs would deep-copy the open Memory).
        self._ctor_kwargs = {
            "memory": memory,
            "planner": planner,
            "to_observation": to_observation,
            "goal": goal,
            "k": k,
            "wipe_on_reset": wipe_on_reset,
        }
        self.memory = memory
        self.planner = planner
        self.to_observation = to_observation
        self.goal = goal
        self.k = k
        self.wipe_on_reset = wipe_on_reset
        self.dim = token_dim(memory.embedder.dim)
        inner = env.observation_space
        base = dict(inner.spaces) if isinstance(inner, spaces.Dict) else {"observation": inner}
        for name in ("memory", "memory_mask"):
            if name in base:
                raise ValueError(f"MemoryWrapper: the env's observation already has a {name!r} key")
        self._dict_obs = isinstance(inner, spaces.Dict)
        self.observation_space = spaces.Dict(
            {
                **base,
                "memory": spaces.Box(-np.inf, np.inf, shape=(k, self.dim), dtype=np.float32),
                "memory_mask": spaces.MultiBinary(k),
            }
        )
        self.stamp_offset = 0.0
        self._episode_start: float | None = None
        self._last_stamp = -np.inf
        self.last_context = None

    @property
    def spec(self) -> Any:
        """The inner env's spec plus this wrapper (sharing the same memory), marked nondeterministic."""
        if self._cached_spec is not None:
            return self._cached_spec
        inner = self.env.spec
        if inner is None:
            return None
        from gymnasium.envs.registration import WrapperSpec

        spec = copy.deepcopy(inner)
        spec.additional_wrappers += (
            WrapperSpec(
                name=type(self).__name__,
                entry_point=f"{type(self).__module__}:{type(self).__name__}",
                kwargs=self._ctor_kwargs,
            ),
        )
        spec = dataclasses.replace(spec, nondeterministic=True)
        self._cached_spec = spec
        return spec

    # -- helpers ---------------------------------------------------------------------
    def _goal_for(self, info: dict[str, Any]) -> Goal | None:
        g = info.get("goal", self.goal) if isinstance(info, dict) else self.goal
        if callable(g) and not isinstance(g, (Goal, str)):
            g = g(info)
        return Goal.of(g) if g is not None else None

    def _remember(self, obs: Any, info: dict[str, Any]) -> Observation | None:
        o = self.to_observation(obs, info)
        if o is None:
            return None
        if not isinstance(o, Observation):
            raise ValueError(f"MemoryWrapper: to_observation returned {type(o).__name__}, expected an Observation")
        if self._episode_start is None:
            # First frame of the episode: shift this episode's clock after everything memory holds.
            newest = max(self.memory.newest_stamp, self._last_stamp if np.isfinite(self._last_stamp) else 0.0)
            self.stamp_offset = (newest + EPISODE_GAP_S - o.stamp) if newest > 0 else 0.0
            self.stamp_offset = max(self.stamp_offset, 0.0)
            self._episode_start = o.stamp + self.stamp_offset
        stamp = max(o.stamp + self.stamp_offset, self._last_stamp)
        if stamp != o.stamp:
            o = dataclasses.replace(o, stamp=stamp)
        self.memory.update(o)
        self._last_stamp = stamp
        return o

    def _augment(self, obs: Any, info: dict[str, Any], mem_obs: Observation | None) -> dict[str, Any]:
        out = dict(obs) if self._dict_obs else {"observation": obs}
        tokens = np.zeros((self.k, self.dim), dtype=np.float32)
        mask = np.zeros(self.k, dtype=np.int8)
        goal = self._goal_for(info)
        if goal is not None and mem_obs is not None:
            state = RobotState.from_pose(mem_obs.pose, mem_obs.stamp)
            ctx = self.planner.context(goal, state, k=max(self.k, 1))
            t, m = ctx.features(self.k)
            tokens, mask = t, m.astype(np.int8)
            info["memory_context"] = ctx
            self.last_context = ctx
        out["memory"] = tokens
        out["memory_mask"] = mask
        return out

    # -- gymnasium API ---------------------------------------------------------------
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[Any, dict[str, Any]]:
        options = dict(options or {})
        wipe = bool(options.pop("wipe_memory", self.wipe_on_reset))
        if wipe:
            wipe_memory(self.memory)
            self._last_stamp = -np.inf
        obs, info = self.env.reset(seed=seed, options=options or None)
        info = dict(info)
        self._episode_start = None
        mem_obs = self._remember(obs, info)
        return self._augment(obs, info, mem_obs), info

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        obs, reward, terminated, truncated, info = self.env.step(action)
        info = dict(info)
        mem_obs = self._remember(obs, info)
        return self._augment(obs, info, mem_obs), reward, terminated, truncated, info


def wipe_memory(memory: Memory) -> None:
    """Delete everything memory holds and reload it empty (the store and its places stay)."""
    memory.clear()
