"""The household simulator's perception-noise model (envs/household/noise.py) on real rendered frames, and
memory fed through it at realism ``robot`` (issue 15)."""

from __future__ import annotations

import os

import numpy as np
import pytest

os.environ.setdefault("MUJOCO_GL", "egl")
pytest.importorskip("mujoco")

from robomem import Memory  # noqa: E402
from robomem.envs.household.noise import (  # noqa: E402
    FALSE_POSITIVE_ID0,
    LEVELS,
    NoiseConfig,
    PerceptionNoise,
    noise_level,
    published_pose_error,
)
from robomem.envs.household.realism import RealismFeed  # noqa: E402
from robomem.envs.household.sim import HouseholdSim  # noqa: E402
from robomem.envs.household.tour import scripted_tour  # noqa: E402
from robomem.places import Place  # noqa: E402
from robomem.qa.engine import QuestionEngine  # noqa: E402


@pytest.fixture(scope="module")
def tour() -> tuple[HouseholdSim, list]:
    sim = HouseholdSim(width=320, height=240, seed=3)
    frames = scripted_tour(sim, rooms=["hallway", "kitchen", "living room"])
    yield sim, frames
    sim.close()


def test_levels_are_named_and_checked() -> None:
    assert set(LEVELS) == {"clean", "robot", "hard"}
    assert noise_level("robot").miss == pytest.approx(0.10) and noise_level("hard").miss == pytest.approx(0.25)
    with pytest.raises(ValueError, match="unknown level 'noisy'.*clean, robot, hard"):
        noise_level("noisy")
    with pytest.raises(ValueError, match="NoiseConfig.miss"):
        NoiseConfig("bad", miss=1.5)


def test_clean_publishes_the_rendered_frame(tour) -> None:
    _sim, frames = tour
    noise = PerceptionNoise("clean", seed=0)
    for f in frames[:5]:
        out = noise.apply(f)
        assert out is not None and out.frame is f
        assert set(out.truth) == set(f.labels) and all(v == 1.0 for v in out.scores.values())


def test_robot_noise_is_seeded_and_leaves_the_truth_alone(tour) -> None:
    sim, frames = tour
    truth_before = sim.object_states()
    depth_before = [f.depth.copy() for f in frames[:6]]
    a = [PerceptionNoise("robot", seed=7).apply(f) for f in frames[:6]]
    b = [PerceptionNoise("robot", seed=7).apply(f) for f in frames[:6]]
    for x, y, f, d in zip(a, b, frames, depth_before, strict=False):
        assert (x is None) == (y is None)
        if x is not None and y is not None:
            assert np.array_equal(x.frame.depth, y.frame.depth) and dict(x.frame.labels) == dict(y.frame.labels)
            assert np.allclose(x.frame.pose, y.frame.pose)
        assert np.array_equal(f.depth, d)  # the rendered frame is untouched
    assert sim.object_states() == truth_before


def test_robot_noise_has_the_documented_rates(tour) -> None:
    _sim, frames = tour
    cfg = LEVELS["robot"]
    noise = PerceptionNoise(cfg, seed=1)
    shown = missed = fps = relabelled = published = 0
    depth_err: dict[str, list[float]] = {"near": [], "far": []}
    pose_xy, scores = [], []
    for _ in range(3):  # the same frames three times: more draws
        for f in frames:
            out = noise.apply(f)
            if out is None:
                continue
            published += 1
            shown += len(f.labels)
            missed += len(out.missed)
            fps += sum(1 for i, t in out.truth.items() if t == 0)
            assert all(i >= FALSE_POSITIVE_ID0 for i, t in out.truth.items() if t == 0)
            relabelled += sum(1 for i, t in out.truth.items() if t and out.frame.labels[i] != f.labels[i])
            scores += list(out.scores.values())
            pose_xy.append(published_pose_error(out, f)[0])
            both = (f.depth > 0) & (out.frame.depth > 0)
            err = (out.frame.depth - f.depth)[both]
            z = f.depth[both]
            depth_err["near"] += list(err[(z > 0.8) & (z < 1.2)])
            depth_err["far"] += list(err[(z > 2.7) & (z < 3.3)])
    assert 0.06 < missed / shown < 0.14  # about 10% per instance per frame
    assert 0.15 < fps / published < 0.5  # about 0.3 blobs per frame (some fall on no background)
    assert relabelled > 0
    assert min(scores) >= 0.4 and max(scores) <= 0.95
    assert 0.0 < float(np.median(pose_xy)) < 0.1
    near, far = np.std(depth_err["near"]), np.std(depth_err["far"])
    assert near == pytest.approx(cfg.depth_sigma_z2 * 1.0, rel=0.35)
    assert 5.0 < far / near < 14.0  # grows with z^2 (9x from 1 m to 3 m)


def test_memory_at_realism_robot_believes_no_false_object(tmp_path, tour) -> None:
    sim, frames = tour
    feed = RealismFeed("robot", seed=2)
    with Memory.open(tmp_path / "store") as mem:
        mem.set_places([Place(n, lo, hi) for n, lo, hi in sim.places()])
        for f in frames:
            feed.update(mem, f)
        report = feed.false_objects(mem)
        engine = QuestionEngine(mem)
        for never in ("laptop", "umbrella", "toy car", "backpack", "shoe"):  # false-positive labels only
            assert engine.where_now(never).abstained, never
        assert engine.where_now("sofa").best is not None and engine.where_now("sofa").best.place == "living room"
    assert report["believed"] >= 10
    assert report["false"] <= max(1, round(0.05 * report["believed"])), report
    assert report["frames"] == len(frames)
