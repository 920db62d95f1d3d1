"""The object-search half of ``robomem eval``: the same episodes with memory and with exploration only.

Random targets (present objects, any label) and random start poses, drawn from a seeded generator.
A target is kept only where *some* policy could find it (:func:`findable`): from the start pose the
navigable map must reach a spot within the search's reach of an instance of the label, and from one
such spot the camera (at the search's pitch) must see it as the search counts "found" (at least
``MIN_PIXELS`` pixels, median depth within ``REACH``).  A draw that fails is replaced by a fresh one
and counted, with its reason (``unreachable``: the robot cannot get into the object's room, e.g. a
door closed overnight; ``not_perceivable``: no reachable spot shows it, e.g. inside a shelf or
under furniture), in
:func:`search_summary`'s ``excluded``.  Both agents run on the same kept episodes.

Each episode runs twice from the same pose with :func:`robomem.envs.search.run_search`:

- ``memory``: the core planner's proposals (``Planner(memory, viewpoints=VIEWPOINTS, distance=...)``),
  nothing rewritten by the simulator;
- ``no_memory``: exploration only, every room's viewpoint, in the same tour order the planner uses
  for exploration (path lengths on the navigable map, :class:`~robomem.envs.navigation.PathDistance`,
  for both agents).

Frames of the search are not fed into memory, so one episode's views cannot help the next; the
memory agent does record each search as an episode (what a robot would remember: "last time I looked
for it, it was in the kitchen"), which the planner may use in later episodes of the same label.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from robomem.planning.context import Goal
from robomem.planning.grid import distance_field
from robomem.planning.planner import Planner

from .household.layout import room_at
from .household.sim import HouseholdSim
from .household.tour import VIEWPOINTS
from .navigation import MIN_PIXELS, REACH, PathDistance, SimNavigator, visible_instances
from .search import exploration_search, memory_search, run_search

if TYPE_CHECKING:
    from .evaluation import Scenario

__all__ = ["MODES", "Findable", "findable", "random_start", "search_episodes", "search_summary"]

MODES = ("memory", "no_memory")
PITCH = math.radians(-15.0)
MAX_DRAWS = 20  # draws per episode before it is given up (each failed draw is counted in ``excluded``)
VIEW_RINGS = (1.5, 1.0, 2.0, 2.75, 0.6, 3.25)  # m from the object: where a viewer is tried, in this order
VIEW_ANGLES = 16  # headings around the object per ring
VIEWS_PER_INSTANCE = 24  # renders at most, per instance


@dataclass(frozen=True)
class Findable:
    """Whether a target could be found from a start pose by some policy, and how it was decided."""

    label: str
    ok: bool
    reason: str  # "ok" | "unreachable" | "not_perceivable" | "absent"
    instance_id: int | None = None  # the instance seen (ok)
    view: tuple[float, float, float] | None = None  # (x, y, yaw) of a reachable pose that sees it (ok)
    tried: int = 0  # poses rendered

    def to_dict(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "reason": self.reason,
            "instance_id": self.instance_id,
            "view": None if self.view is None else [round(v, 3) for v in self.view],
            "tried": self.tried,
        }


def random_start(sim: HouseholdSim, rng: np.random.Generator) -> tuple[float, float, float]:
    rooms = list(VIEWPOINTS)
    for _ in range(500):
        name = rooms[int(rng.integers(len(rooms)))]
        r = next(x for x in sim.rooms if x.name == name)
        x = float(rng.uniform(r.lo[0] + 0.3, r.hi[0] - 0.3))
        y = float(rng.uniform(r.lo[1] + 0.3, r.hi[1] - 0.3))
        if sim.plan_grid.is_free(x, y) and sim.is_free(x, y):
            return x, y, float(rng.uniform(-math.pi, math.pi))
    return (*VIEWPOINTS["hallway"], 0.0)


def findable(sim: HouseholdSim, label: str, start: tuple[float, float]) -> Findable:
    """Can some policy starting at ``start`` find ``label``?  See the module docstring.

    Candidate viewer spots lie on rings around each present instance (``VIEW_RINGS`` x ``VIEW_ANGLES``), kept
    where the planning grid (the navigable map :meth:`HouseholdSim.path_to` uses) is free and connected to the
    start; the nearest-ring ones are rendered first, facing the object at the search's pitch.  The simulator's
    clock is put back afterwards (rendering a check is not time the agents spend)."""
    states = [s for s in sim.object_states().values() if s.label == label and s.present and s.position is not None]
    if not states:
        return Findable(label, False, "absent")
    grid = sim.plan_grid
    field = distance_field(grid, start)
    clock, agent = sim.time, sim.agent
    tried, any_reachable = 0, False
    try:
        for st in states:
            ox, oy, _ = st.position  # type: ignore[misc]
            spots = []
            for r in VIEW_RINGS:
                for k in range(VIEW_ANGLES):
                    a = 2 * math.pi * k / VIEW_ANGLES
                    x, y = ox + r * math.cos(a), oy + r * math.sin(a)
                    i, j = grid.cell(x, y)
                    if grid.inside(i, j) and math.isfinite(field[i, j]) and sim.is_free(x, y):
                        spots.append((x, y, math.atan2(oy - y, ox - x)))
            # reachable = the robot can get into the object's room (a spot behind the wall does not count)
            any_reachable |= any(room_at(x, y) == st.room for x, y, _ in spots)
            for x, y, yaw in spots[:VIEWS_PER_INSTANCE]:
                sim.teleport(x, y, yaw, PITCH)
                tried += 1
                seen = visible_instances(sim.observe(), MIN_PIXELS).get(st.instance_id)
                if seen is not None and seen[1] <= REACH:
                    return Findable(label, True, "ok", st.instance_id, (x, y, yaw), tried)
    finally:
        sim.teleport(agent.x, agent.y, agent.yaw, agent.pitch)
        sim.time = clock
    return Findable(label, False, "not_perceivable" if any_reachable else "unreachable", tried=tried)


def search_episodes(
    sc: Scenario,
    episodes: int,
    max_steps: int,
    rng: np.random.Generator,
    progress: Callable[[str], None] | None = None,
    logs: bool = False,
    excluded: list[dict[str, Any]] | None = None,
) -> list[dict[str, Any]]:
    """``episodes`` searches, each with memory then without; ``logs`` keeps each search's decision log; every draw
    no policy could solve (:func:`findable`) is appended to ``excluded`` with its reason and redrawn."""
    sim = sc.sim
    distance = PathDistance(sim)
    planner = Planner(sc.memory, viewpoints=VIEWPOINTS, distance=distance)
    present = sorted(s.label for s in sim.object_states().values() if s.present)
    out: list[dict[str, Any]] = []
    for ep in range(episodes):
        drawn: Findable | None = None
        for _ in range(MAX_DRAWS):
            label = present[int(rng.integers(len(present)))]
            x, y, yaw = random_start(sim, rng)
            check = findable(sim, label, (x, y))
            if check.ok:
                drawn = check
                break
            if excluded is not None:
                excluded.append(
                    {"seed": sc.seed, "episode": ep, "start": [round(x, 2), round(y, 2)], **check.to_dict()}
                )
        if drawn is None:
            continue
        goal = Goal(text=f"find the {label}", label=label)
        row: dict[str, Any] = {
            "seed": sc.seed,
            "episode": ep,
            "label": label,
            "start": [round(x, 2), round(y, 2)],
            "view": drawn.to_dict()["view"],
        }
        for mode in MODES:
            sim.teleport(x, y, yaw, PITCH)
            nav = SimNavigator(sim)
            if mode == "memory":
                res = run_search(nav, goal, memory_search(planner, goal, nav), max_steps, record=sc.memory)
            else:
                res = run_search(nav, goal, exploration_search(goal, nav, VIEWPOINTS, distance=distance), max_steps)
            row[mode] = {"success": res.success, "steps": res.steps, "status": res.status, "room": res.room}
            if logs:
                row[mode]["log"] = res.log
        out.append(row)
        if progress:
            m, n = row["memory"], row["no_memory"]
            progress(
                f"seed {sc.seed} search {ep + 1}/{episodes} {label!r}: memory {'ok' if m['success'] else 'FAIL'}"
                f" {m['steps']} steps, no memory {'ok' if n['success'] else 'FAIL'} {n['steps']} steps"
            )
    return out


def search_summary(
    rows: list[dict[str, Any]], max_steps: int, excluded: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """Success rate and mean steps (a failure counts ``max_steps``) per mode, their ratio, and the draws excluded
    as unsolvable by any policy (count per reason)."""
    out: dict[str, Any] = {"episodes": len(rows)}
    if excluded is not None:
        why: dict[str, int] = {}
        for e in excluded:
            why[e["reason"]] = why.get(e["reason"], 0) + 1
        out["excluded"] = {"draws": len(excluded), "by_reason": dict(sorted(why.items()))}
    for mode in MODES:
        rs = [r[mode] for r in rows]
        if not rs:
            continue
        ok = [r for r in rs if r["success"]]
        out[mode] = {
            "success_rate": round(len(ok) / len(rs), 4),
            "mean_steps": round(float(np.mean([r["steps"] if r["success"] else max_steps for r in rs])), 2),
            "mean_steps_success": round(float(np.mean([r["steps"] for r in ok])), 2) if ok else None,
        }
    if rows and out["no_memory"]["mean_steps"] > 0:
        out["steps_ratio"] = round(out["memory"]["mean_steps"] / out["no_memory"]["mean_steps"], 3)
    both = [r for r in rows if r["memory"]["success"] and r["no_memory"]["success"]]
    if both:
        out["both_succeeded"] = len(both)
        out["mean_steps_both"] = {m: round(float(np.mean([r[m]["steps"] for r in both])), 2) for m in MODES}
    return out
