"""The Habitat episode runner, driven by the habitat stand-in (not habitat-sim)."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from robomem.envs.habitat import (
    Episode,
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
from robomem.observation import Event, Observation

try:
    from habitat_standin import StandinSimulator
except ImportError:  # tests/ laid out as packages
    from tests.envs.habitat_standin import StandinSimulator


class Recorder:
    """Memory-like: anything with update(observation) (and optionally add_event) can be fed."""

    def __init__(self) -> None:
        self.observations: list[Observation] = []
        self.events: list[Event] = []

    def update(self, observation: Observation) -> None:
        assert isinstance(observation, Observation)
        self.observations.append(observation)

    def add_event(self, event: Event) -> None:
        self.events.append(event)


def test_action_sequence_reaches_goal() -> None:
    sim = StandinSimulator(width=48, height=36)
    mem = Recorder()
    ep = Episode("walk", start_position=(0.0, 0.0, 0.0), goal_position=(0.0, 0.0, -1.0), actions=["move_forward"] * 4)
    r = run_episode(sim, ep, mem, record_events=True)
    assert (r.steps, r.success, r.collisions, r.memory_updates) == (4, True, 0, 5)
    assert r.distance_to_goal == pytest.approx(0.0, abs=1e-5)
    assert r.start_distance == pytest.approx(1.0) and r.path_length == pytest.approx(1.0)
    assert r.spl == pytest.approx(1.0) and r.distance_kind == "euclidean"
    assert r.goal_robomem == pytest.approx([1.0, 0.0, 0.0])
    assert len(mem.observations) == 5
    stamps = [o.stamp for o in mem.observations]
    assert stamps == sorted(stamps) and len(set(stamps)) == 5
    # the camera moved 1 m along robomem +x
    np.testing.assert_allclose(
        mem.observations[-1].pose.position - mem.observations[0].pose.position, [1, 0, 0], atol=1e-6
    )
    assert [e.kind for e in mem.events] == ["action"] * 4 + ["outcome"]
    assert mem.events[-1].text.startswith("success")


def test_policy_uses_robomem_pose_and_stops() -> None:
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
    mem = Recorder()
    ep = Episode("pointnav", (0.0, 0.0, 0.0), goal_position=goal_h, instruction="go to the corner", require_stop=True)
    r = run_episode(sim, ep, mem, policy=policy)
    assert r.stopped and r.success and r.distance_to_goal is not None and r.distance_to_goal < 0.2
    assert 0 < r.steps < 40
    assert mem.events[0].kind == "instruction" and mem.events[-2].text == "stop"


def test_collisions_and_max_steps() -> None:
    sim = StandinSimulator(width=32, height=24)
    ep = Episode("bump", (0.0, 0.0, -2.0), goal_position=(0.0, 0.0, -3.0), actions=["move_forward"] * 6, max_steps=5)
    r = run_episode(sim, ep)  # no memory at all
    assert r.steps == 5 and r.collisions == 3  # the table's front face (+ radius) stops the agent at z = -2.5
    assert not r.success and r.distance_to_goal == pytest.approx(0.5, abs=1e-5)
    assert r.memory_updates == 0


def test_start_rotation_is_habitat_xyzw() -> None:
    sim = StandinSimulator(width=32, height=24)
    mem = Recorder()
    s = np.sqrt(0.5)
    ep = Episode("turned", (0.0, 0.0, 0.0), start_rotation=(0.0, s, 0.0, s), actions=["move_forward"])  # left 90
    run_episode(sim, ep, mem)
    np.testing.assert_allclose(mem.observations[0].pose.forward, [0, 1, 0], atol=1e-6)
    np.testing.assert_allclose(mem.observations[1].pose.position[:2], [0.0, 0.25], atol=1e-6)


def test_results_table_and_json(tmp_path: Path) -> None:
    sim = StandinSimulator(width=32, height=24)
    eps = [
        Episode("a", (0.0, 0.0, 0.0), goal_position=(0.0, 0.0, -0.5), actions=["move_forward"] * 2),
        Episode("b", (0.0, 0.0, 0.0), goal_position=(0.0, 0.0, -2.0), actions=["turn_left"]),
        Episode("c", (0.0, 0.0, 0.0), actions=["turn_right", "stop", "move_forward"]),
    ]
    results = run_episodes(sim, eps, Recorder())
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
    e = Episode.from_habitat_lab(ep, max_steps=50)
    assert e.episode_id == "17" and e.goal_position == [3.0, 0.1, 4.0]
    assert e.success_distance == 0.36 and e.require_stop and e.max_steps == 50


def test_episode_needs_actions_or_policy() -> None:
    with pytest.raises(ValueError, match="policy"):
        run_episode(StandinSimulator(width=8, height=6), Episode("x", (0.0, 0.0, 0.0)))


@pytest.mark.slow
def test_real_memory_if_available(tmp_path: Path) -> None:
    try:
        from robomem import Memory
    except ImportError:
        pytest.skip("robomem.Memory is not written yet; the Recorder stands in for it above")
    sim = StandinSimulator(width=64, height=48)
    ep = Episode("mem", (0.0, 0.0, 0.0), goal_position=(0.0, 0.0, -1.0), actions=["move_forward"] * 4)
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
