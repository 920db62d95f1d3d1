"""MemoryWrapper over a tiny gymnasium env built on robomem.testing.synthetic.BoxScene."""

from __future__ import annotations

import math

import gymnasium as gym
import numpy as np
import pytest
from gymnasium import spaces
from gymnasium.utils.env_checker import check_env

from robomem import InstanceInfo, Intrinsics, Memory, Observation, Pose
from robomem.envs.wrappers import MemoryWrapper
from robomem.planning.context import RobotState, token_dim
from robomem.planning.planner import Planner
from robomem.testing.synthetic import Box, BoxScene

W, H = 160, 120
BOXES = [
    Box(1, "table", (2.0, 0.0, 0.375), (1.2, 0.8, 0.75), (140, 90, 40)),
    Box(2, "red mug", (1.8, 0.1, 0.85), (0.2, 0.2, 0.2), (220, 30, 30)),
    Box(3, "chair", (0.0, 2.0, 0.45), (0.5, 0.5, 0.9), (90, 160, 90)),
]
LABELS = {b.instance_id: b.label for b in BOXES}
CAM_HEIGHT, PITCH = 1.2, math.radians(25)


def camera_pose(x: float, y: float, yaw: float) -> Pose:
    """Optical frame: z forward (yaw, pitched down), x right, y down."""
    fwd = np.array([math.cos(yaw) * math.cos(PITCH), math.sin(yaw) * math.cos(PITCH), -math.sin(PITCH)])
    right = np.array([math.sin(yaw), -math.cos(yaw), 0.0])
    down = np.cross(fwd, right)
    m = np.eye(4)
    m[:3, 0], m[:3, 1], m[:3, 2], m[:3, 3] = right, down, fwd, (x, y, CAM_HEIGHT)
    return Pose(m)


class TinyBoxEnv(gym.Env):
    """A robot turning and driving among boxes; observes RGB-D + instance ids. Time restarts every episode."""

    metadata = {"render_modes": []}

    def __init__(self) -> None:
        self.scene = BoxScene(BOXES, W, H)
        self.action_space = spaces.Discrete(3)  # forward, left, right
        self.observation_space = spaces.Dict(
            {
                "rgb": spaces.Box(0, 255, (H, W, 3), np.uint8),
                "depth": spaces.Box(0.0, np.inf, (H, W), np.float32),
                "instances": spaces.Box(0, 255, (H, W), np.int32),
                "pose": spaces.Box(-np.inf, np.inf, (3,), np.float64),
                "time": spaces.Box(0.0, np.inf, (1,), np.float64),
            }
        )
        self.state = np.zeros(3)
        self.t = 0.0

    def _obs(self):
        rgb, depth, ids = self.scene.render(camera_pose(*self.state))
        return {"rgb": rgb, "depth": depth, "instances": ids, "pose": self.state.copy(), "time": np.array([self.t])}

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.state = np.array([0.0, 0.0, self.np_random.uniform(-0.2, 0.2)])
        self.t = 0.0
        return self._obs(), {}

    def step(self, action):
        x, y, yaw = self.state
        if action == 0:
            x, y = x + 0.25 * math.cos(yaw), y + 0.25 * math.sin(yaw)
        else:
            yaw += math.radians(30) * (1 if action == 1 else -1)
        self.state = np.array([x, y, yaw])
        self.t += 0.5
        return self._obs(), 0.0, False, False, {}


INTR = Intrinsics.from_fov(W, H, math.radians(90))


def to_observation(obs, info) -> Observation:
    ids = obs["instances"]
    present = {int(i) for i in np.unique(ids)} - {0}
    return Observation(
        stamp=float(obs["time"][0]),
        pose=camera_pose(*obs["pose"]),
        intrinsics=INTR,
        depth=obs["depth"],
        rgb=obs["rgb"],
        instance_ids=ids,
        instances={i: InstanceInfo(LABELS[i]) for i in present},
        source="tiny",
    )


gym.register(id="RobomemTinyBoxes-v0", entry_point=TinyBoxEnv, max_episode_steps=50)


@pytest.fixture()
def mem(tmp_path, embedder):
    with Memory.open(tmp_path / "mem", embedder=embedder) as m:
        yield m


def wrap(mem, env=None, **kw) -> MemoryWrapper:
    env = env if env is not None else gym.make("RobomemTinyBoxes-v0")
    return MemoryWrapper(env, mem, Planner(mem), to_observation, goal="find the red mug", k=8, **kw)


def test_passes_gymnasium_env_checker(mem):
    env = wrap(mem)
    check_env(env)
    assert env.spec is not None and env.spec.nondeterministic, "memory carries over episodes by design"
    env.close()


def test_observation_space_and_memory_tokens(mem):
    env = wrap(mem)
    d = token_dim(mem.embedder.dim)
    assert env.observation_space["memory"].shape == (8, d)
    assert env.observation_space["memory"].dtype == np.float32
    assert set(env.observation_space.spaces) == {"rgb", "depth", "instances", "pose", "time", "memory", "memory_mask"}
    obs, info = env.reset(seed=0)
    assert obs in env.observation_space
    ctx = info["memory_context"]
    n = len(ctx.entries)
    assert n > 0 and obs["memory_mask"].tolist() == [1] * min(n, 8) + [0] * (8 - min(n, 8))
    np.testing.assert_array_equal(obs["memory"], ctx.features(8)[0])
    assert "red mug" in ctx.entries[0].text and ctx.best.kind == "object"
    assert not np.any(obs["memory"][obs["memory_mask"] == 0])
    # Steps keep updating memory.
    frames0 = mem.stats()["rows"]["frames"]
    for a in (1, 2, 0):
        obs, _, term, trunc, info = env.step(a)
        assert obs in env.observation_space
    assert mem.stats()["rows"]["frames"] == frames0 + 3


def test_reset_keeps_long_term_memory_and_time_moves_on(mem):
    env = wrap(mem)
    env.reset(seed=1)
    for _ in range(3):
        env.step(1)
    objects = {o.object_id for o in mem.objects()}
    newest = mem.newest_stamp
    assert objects and newest == pytest.approx(1.5)
    obs, info = env.reset(seed=2)  # the env's clock restarts at 0
    assert {o.object_id for o in mem.objects()} >= objects, "long-term memory survives the episode"
    assert mem.newest_stamp > newest and env.stamp_offset > 0
    assert info["memory_context"].now == pytest.approx(mem.newest_stamp)
    env.step(0)
    # Wipe on request.
    obs, info = env.reset(seed=3, options={"wipe_memory": True})
    assert mem.stats()["rows"]["frames"] == 1
    assert mem.newest_stamp == pytest.approx(0.0)
    assert all(o.first_seen == pytest.approx(0.0) for o in mem.objects())


def test_non_dict_env_and_no_goal(mem):
    class Flat(gym.ObservationWrapper):
        def __init__(self, env):
            super().__init__(env)
            self.observation_space = spaces.Box(-np.inf, np.inf, (3,), np.float64)
            self.last = None

        def observation(self, obs):
            self.last = obs
            return obs["pose"]

    flat = Flat(TinyBoxEnv())
    env = MemoryWrapper(flat, mem, Planner(mem), lambda obs, info: to_observation(flat.last, info), goal=None, k=4)
    obs, info = env.reset(seed=0)
    assert set(obs) == {"observation", "memory", "memory_mask"}
    assert obs["memory_mask"].sum() == 0 and "memory_context" not in info  # no goal: memory updates, no context
    assert mem.stats()["rows"]["frames"] == 1
    assert obs in env.observation_space


def test_bad_construction(mem, tmp_path, embedder):
    env = gym.make("RobomemTinyBoxes-v0")
    with pytest.raises(ValueError, match="Memory"):
        MemoryWrapper(env, "mem", Planner(mem), to_observation)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="callable"):
        MemoryWrapper(env, mem, Planner(mem), None)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="k must"):
        MemoryWrapper(env, mem, Planner(mem), to_observation, k=0)
    with Memory.open(tmp_path / "other", embedder=embedder) as other, pytest.raises(ValueError, match="same Memory"):
        MemoryWrapper(env, mem, Planner(other), to_observation)
    bad = MemoryWrapper(env, mem, Planner(mem), lambda o, i: "frame", goal="mug")
    with pytest.raises(ValueError, match="expected an Observation"):
        bad.reset(seed=0)
    assert RobotState.from_pose(camera_pose(1.0, 2.0, 0.5)).yaw == pytest.approx(0.5)
