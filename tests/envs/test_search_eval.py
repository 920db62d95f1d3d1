"""Object-search eval helpers on the real household simulator: path lengths on the navigable map, and which
targets some policy could find (reachable and perceivable) before an episode is kept."""

from __future__ import annotations

import math
import os

import pytest

os.environ.setdefault("MUJOCO_GL", "egl")
pytest.importorskip("mujoco")

from robomem.envs.household.sim import HouseholdSim  # noqa: E402
from robomem.envs.household.tour import VIEWPOINTS  # noqa: E402
from robomem.envs.navigation import MIN_PIXELS, REACH, PathDistance, visible_instances  # noqa: E402
from robomem.envs.search_eval import PITCH, findable, search_summary  # noqa: E402


@pytest.fixture(scope="module")
def sim():
    s = HouseholdSim(width=160, height=120, seed=0)
    yield s
    s.close()


def test_path_distance_follows_the_doors_and_matches_the_planner(sim):
    d = PathDistance(sim)
    hall, living = VIEWPOINTS["hallway"], VIEWPOINTS["living room"]
    # the living room is 2.5 m from the hallway viewpoint in a straight line, through a wall; the path is longer
    assert d(hall, living) > 2 * math.dist(hall, living)
    assert d(hall, hall) == pytest.approx(0.0, abs=0.06)
    assert d(hall, living) == pytest.approx(d(living, hall), abs=0.1)
    sim.teleport(*hall)
    path = sim.path_to(*VIEWPOINTS["study"])
    assert path is not None
    # the A* path the navigator follows is simplified to straight segments: never longer than the grid path
    assert sim.plan_grid.path_length(path) <= d(hall, VIEWPOINTS["study"]) + 0.05
    assert sim.plan_grid.path_length(path) >= 0.9 * d(hall, VIEWPOINTS["study"])
    sim.set_door("study door", False)
    try:
        assert d(hall, VIEWPOINTS["study"]) is None  # the grid changed: the cache is dropped, the door is shut
    finally:
        sim.set_door("study door", True)
    assert d(hall, VIEWPOINTS["study"]) is not None


def test_a_kept_target_is_seen_from_its_view_and_a_shut_room_is_excluded(sim):
    states = [s for s in sim.object_states().values() if s.present and s.room == "study"]
    label = sorted(s.label for s in states)[0]
    clock = sim.time
    ok = findable(sim, label, VIEWPOINTS["hallway"])
    assert ok.ok and ok.reason == "ok" and ok.view is not None and ok.tried >= 1
    assert sim.time == clock  # the check does not spend the agents' time
    x, y, yaw = ok.view
    sim.teleport(x, y, yaw, PITCH)
    seen = visible_instances(sim.observe(), MIN_PIXELS)
    assert ok.instance_id in seen and seen[ok.instance_id][1] <= REACH
    sim.set_door("study door", False)
    try:
        shut = findable(sim, label, VIEWPOINTS["hallway"])
        assert not shut.ok and shut.reason == "unreachable", shut
    finally:
        sim.set_door("study door", True)
    assert findable(sim, "unicorn", VIEWPOINTS["hallway"]).reason == "absent"
    rows = []
    summary = search_summary(rows, 150, [shut.to_dict()])
    assert summary["excluded"] == {"draws": 1, "by_reason": {"unreachable": 1}}
