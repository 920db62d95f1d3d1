"""The object-search half of ``robomem eval``: the same episodes with memory and with exploration only.

Random targets (present objects, any label) and random start poses, drawn from a seeded generator.
Each episode runs twice from the same pose with :func:`robomem.envs.search.run_search`:

- ``memory``: the core planner's proposals (``Planner(memory, viewpoints=VIEWPOINTS)``), nothing
  rewritten by the simulator;
- ``no_memory``: exploration only, every room's viewpoint, nearest first.

Frames of the search are not fed into memory, so one episode's views cannot help the next; the
memory agent does record each search as an episode (what a robot would remember: "last time I looked
for it, it was in the kitchen"), which the planner may use in later episodes of the same label.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from robomem.planning.context import Goal
from robomem.planning.planner import Planner

from .household.sim import HouseholdSim
from .household.tour import VIEWPOINTS
from .navigation import SimNavigator
from .search import exploration_search, memory_search, run_search

if TYPE_CHECKING:
    from .evaluation import Scenario

__all__ = ["MODES", "random_start", "search_episodes", "search_summary"]

MODES = ("memory", "no_memory")
PITCH = math.radians(-15.0)


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


def _reachable(sim: HouseholdSim, label: str, x: float, y: float, yaw: float) -> bool:
    """Can the agent at (x, y) reach the room of some instance of ``label`` (doors may be closed)?"""
    sim.teleport(x, y, yaw)
    rooms = {s.room for s in sim.object_states().values() if s.label == label and s.present and s.room}
    return any(sim.path_to(*VIEWPOINTS[r]) is not None for r in rooms if r in VIEWPOINTS)


def search_episodes(
    sc: Scenario,
    episodes: int,
    max_steps: int,
    rng: np.random.Generator,
    progress: Callable[[str], None] | None = None,
    logs: bool = False,
) -> list[dict[str, Any]]:
    """``episodes`` searches, each with memory then without; ``logs`` keeps each search's decision log."""
    sim = sc.sim
    planner = Planner(sc.memory, viewpoints=VIEWPOINTS)
    present = sorted(s.label for s in sim.object_states().values() if s.present)
    out: list[dict[str, Any]] = []
    for ep in range(episodes):
        label = present[int(rng.integers(len(present)))]
        x, y, yaw = random_start(sim, rng)
        if not _reachable(sim, label, x, y, yaw):  # behind a door that closed overnight: draw once more
            label = present[int(rng.integers(len(present)))]
            x, y, yaw = random_start(sim, rng)
            if not _reachable(sim, label, x, y, yaw):
                continue
        goal = Goal(text=f"find the {label}", label=label)
        row: dict[str, Any] = {"seed": sc.seed, "episode": ep, "label": label, "start": [round(x, 2), round(y, 2)]}
        for mode in MODES:
            sim.teleport(x, y, yaw, PITCH)
            nav = SimNavigator(sim)
            if mode == "memory":
                res = run_search(nav, goal, memory_search(planner, goal, nav), max_steps, record=sc.memory)
            else:
                res = run_search(nav, goal, exploration_search(goal, nav, VIEWPOINTS), max_steps)
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


def search_summary(rows: list[dict[str, Any]], max_steps: int) -> dict[str, Any]:
    """Success rate and mean steps (a failure counts ``max_steps``) per mode, and their ratio."""
    out: dict[str, Any] = {"episodes": len(rows)}
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
