"""The Habitat episode runner, driven by the habitat stand-in (not habitat-sim)."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from robomem.envs.habitat import (
    NavEpisode,
    SimSettings,
    habitat_sim_available,
    make_configuration,
    results_json,
    results_table,
    robomem_from_habitat_points,
    run_episode,
    run_episodes,
    write_results,
)
from robomem.observation import Observation, Pose

try:
    from habitat_standin import StandinSimulator
except ImportError:  # tests/ laid out as packages
    from tests.envs.habitat_standin import StandinSimulator


@pytest.fixture()
def mem(tmp_path: Path) -> Any:
    from robomem import Memory

    with Memory.open(tmp_path / "store") as m:
        yield m


def frames(mem: Any) -> list[Pose]:
    """The poses memory stored for every frame it was fed, in order."""
    rows = mem.store.read().execute("SELECT x, y, z, qx, qy, qz, qw, stamp FROM frames ORDER BY idx").fetchall()
    return [(Pose.from_xyz_quat(r[:3], r[3:7]), float(r[7])) for r in rows]


def test_action_sequence_reaches_goal(mem: Any) -> None:
    sim = StandinSimulator(width=48, height=36)
    ep = NavEpisode(
        "walk", start_position=(0.0, 0.0, 0.0), goal_position=(0.0, 0.0, -1.0), actions=["move_forward"] * 4
    )
    r = run_episode(sim, ep, mem, record_events=True)
    assert (r.steps, r.success, r.collisions, r.memory_updates) == (4, True, 0, 5)
    assert r.distance_to_goal == pytest.approx(0.0, abs=1e-5)
    assert r.start_distance == pytest.approx(1.0) and r.path_length == pytest.approx(1.0)
    assert r.spl == pytest.approx(1.0) and r.distance_kind == "euclidean"
    assert r.goal_robomem == pytest.approx([1.0, 0.0, 0.0])
    got = frames(mem)
    assert len(got) == 5
    stamps = [t for _, t in got]
    assert stamps == sorted(stamps) and len(set(stamps)) == 5
    # the camera moved 1 m along robomem +x
    np.testing.assert_allclose(got[-1][0].position - got[0][0].position, [1, 0, 0], atol=1e-6)
    # the run is one episode in episodic memory: four actions, then the outcome
    (e,) = mem.episodic.episodes(kind="task")
    assert e.task == "habitat episode walk" and not e.is_open and e.success is True
    assert e.outcome.startswith("success: 0.00 m from the goal after 4 steps")
    steps = [s for s in mem.episodic.steps(e.episode_id) if s.action]
    assert [s.action for s in steps] == ["move_forward"] * 4
    assert steps[-1].result == "0.00 m from the goal"


def test_policy_uses_robomem_pose_and_stops(mem: Any) -> None:
    goal_h = np.array([-1.0, 0.0, -1.0])
    goal_r = robomem_from_habitat_points(goal_h)

    def policy(obs: Observation, step: int) -> str | None:
        to_goal = goal_r[:2] - obs.pose.position[:2]
        if np.linalg.norm(to_goal) < 0.2:
            return "stop"
        fwd = obs.pose.forward[:2]
        cross = fwd[0] * to_goal[1] - fwd[1] * to_goal[0]  # > 0: goal to the left (z up)
        angle = np.degrees(np.arctan2(cross, fwd @ to_goal))
        if angle > 6:
            return "turn_left"
        if angle < -6:
            return "turn_right"
        return "move_forward"

    sim = StandinSimulator(width=32, height=24)
    ep = NavEpisode(
        "pointnav", (0.0, 0.0, 0.0), goal_position=goal_h, instruction="go to the corner", require_stop=True
    )
    r = run_episode(sim, ep, mem, policy=policy)
    assert r.stopped and r.success and r.distance_to_goal is not None and r.distance_to_goal < 0.2
    assert 0 < r.steps < 40
    (e,) = mem.episodic.episodes(kind="task")
    assert e.task == "go to the corner" and e.success is True
    actions = [s.action for s in mem.episodic.steps(e.episode_id) if s.action]
    assert actions[-1] == "stop" and len(actions) == r.steps + 1
    # the next search can find this one: similar-experience search returns it
    hits = mem.episodic.similar("go to the corner", outcome="success")
    assert hits and hits[0].episode.episode_id == e.episode_id


def test_collisions_and_max_steps() -> None:
    sim = StandinSimulator(width=32, height=24)
    ep = NavEpisode("bump", (0.0, 0.0, -2.0), goal_position=(0.0, 0.0, -3.0), actions=["move_forward"] * 6, max_steps=5)
    r = run_episode(sim, ep)  # no memory at all
    assert r.steps == 5 and r.collisions == 3  # the table's front face (+ radius) stops the agent at z = -2.5
    assert not r.success and r.distance_to_goal == pytest.approx(0.5, abs=1e-5)
    assert r.memory_updates == 0


def test_start_rotation_is_habitat_xyzw(mem: Any) -> None:
    sim = StandinSimulator(width=32, height=24)
    s = np.sqrt(0.5)
    ep = NavEpisode("turned", (0.0, 0.0, 0.0), start_rotation=(0.0, s, 0.0, s), actions=["move_forward"])  # left 90
    run_episode(sim, ep, mem)
    got = frames(mem)
    np.testing.assert_allclose(got[0][0].forward, [0, 1, 0], atol=1e-6)
    np.testing.assert_allclose(got[1][0].position[:2], [0.0, 0.25], atol=1e-6)


def test_results_table_and_json(tmp_path: Path, mem: Any) -> None:
    sim = StandinSimulator(width=32, height=24)
    eps = [
        NavEpisode("a", (0.0, 0.0, 0.0), goal_position=(0.0, 0.0, -0.5), actions=["move_forward"] * 2),
        NavEpisode("b", (0.0, 0.0, 0.0), goal_position=(0.0, 0.0, -2.0), actions=["turn_left"]),
        NavEpisode("c", (0.0, 0.0, 0.0), actions=["turn_right", "stop", "move_forward"]),
    ]
    results = run_episodes(sim, eps, mem)
    assert [r.success for r in results] == [True, False, False]
    assert results[2].steps == 1 and results[2].stopped and results[2].distance_to_goal is None
    table = results_table(results)
    assert table.splitlines()[0].split()[:4] == ["episode", "steps", "success", "dist_to_goal_m"]
    assert "3 episodes, success rate 0.33" in table
    data = json.loads(results_json(results))
    assert data["summary"]["episodes"] == 3 and data["episodes"][0]["episode_id"] == "a"
    out = write_results(results, tmp_path / "r" / "results.json")
    assert json.loads(out.read_text())["summary"]["success_rate"] == pytest.approx(1 / 3)


def test_episode_from_habitat_lab() -> None:
    ep = SimpleNamespace(
        episode_id=17,
        start_position=[1.0, 0.1, 2.0],
        start_rotation=[0.0, 0.0, 0.0, 1.0],
        goals=[SimpleNamespace(position=[3.0, 0.1, 4.0], radius=0.36)],
    )
    e = NavEpisode.from_habitat_lab(ep, max_steps=50)
    assert e.episode_id == "17" and e.goal_position == [3.0, 0.1, 4.0]
    assert e.success_distance == 0.36 and e.require_stop and e.max_steps == 50


def test_episode_needs_actions_or_policy() -> None:
    with pytest.raises(ValueError, match="policy"):
        run_episode(StandinSimulator(width=8, height=6), NavEpisode("x", (0.0, 0.0, 0.0)))


@pytest.mark.slow
def test_real_memory_if_available(tmp_path: Path) -> None:
    from robomem import Memory

    sim = StandinSimulator(width=64, height=48)
    ep = NavEpisode("mem", (0.0, 0.0, 0.0), goal_position=(0.0, 0.0, -1.0), actions=["move_forward"] * 4)
    with Memory.open(tmp_path / "store") as mem:
        r = run_episode(sim, ep, mem)
        assert r.success and r.memory_updates == 5
        objects: Any = mem.spatial.objects()
    assert {"table", "chair"} <= {o.label for o in objects}
    # the remembered geometry sits where the stand-in put the boxes, in robomem's z-up frame
    for box in sim.boxes:
        if box.category not in ("table", "chair"):
            continue
        corners = robomem_from_habitat_points(
            [np.array(box.center) + np.array(box.half_size) * s for s in ((-1, -1, -1), (1, 1, 1))]
        )
        lo, hi = corners.min(axis=0) - 0.1, corners.max(axis=0) + 0.1  # voxel-sized slack
        for o in (o for o in objects if o.label == box.category):
            assert np.all(np.array(o.bbox_min) >= lo) and np.all(np.array(o.bbox_max) <= hi), o


@pytest.mark.skipif(habitat_sim_available(), reason="habitat-sim is installed here")
def test_make_configuration_names_the_conda_command_without_habitat_sim() -> None:
    with pytest.raises(ImportError, match="conda install habitat-sim"):
        make_configuration(SimSettings(scene="NONE"))
