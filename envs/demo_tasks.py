"""The demo's day-2 tasks: derived from the simulator's ground truth, solved with memory and without.

With memory the core planner drives the search (:func:`robomem.envs.search.memory_search`), every frame
keeps updating memory, and each search is recorded as an episode; without memory the same runner
explores the rooms nearest first.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from robomem.memory import Memory
from robomem.planning.context import Context, Goal
from robomem.planning.planner import Planner
from robomem.planning.search import Distance

from .evaluation import MemoryQA
from .household.layout import OBJECTS
from .household.sim import Change, HouseholdSim
from .household.tour import VIEWPOINTS
from .navigation import SimNavigator
from .search import SearchResult, exploration_search, memory_search, run_search

__all__ = ["Outcome", "Task", "choose_tasks", "solve_with_memory", "solve_without_memory", "truth_of"]


@dataclass(frozen=True)
class Task:
    kind: str  # "fetch" | "question"
    text: str
    label: str
    room: str | None = None  # for questions: the room asked about
    why: str = ""  # how the task was derived from ground truth


@dataclass
class Outcome:
    mode: str  # "memory" | "no_memory"
    steps: int
    success: bool
    answer: str
    correct: bool | None
    detail: str = ""
    search: SearchResult | None = None
    path: list[tuple[float, float]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "steps": self.steps,
            "success": self.success,
            "answer": self.answer,
            "correct": self.correct,
            "detail": self.detail,
            "search": self.search.to_dict() if self.search else None,
        }


# -- tasks from ground truth -------------------------------------------------------------------
def choose_tasks(
    sim: HouseholdSim, changes: list[Change], seen: dict[int, int], rng: np.random.Generator, quick: bool = False
) -> list[Task]:
    """Tasks that exercise the night's changes: fetch a moved object, fetch an unmoved one, ask whether the
    moved one is still in its old room (truth: no) and whether another unmoved one is in its room (truth: yes).
    Only objects the agent saw on day 1 (``seen``: instance id -> frames it was visible in) with a label no
    other object shares are used, so "the X" is unambiguous."""
    states = sim.object_states()
    label_count: dict[str, int] = {}
    for o in OBJECTS:
        label_count[o.label] = label_count.get(o.label, 0) + 1
    floor = {o.label for o in OBJECTS if o.floor}

    def ok(iid: int) -> bool:
        s = states[iid]
        return s.present and label_count[s.label] == 1 and seen.get(iid, 0) >= 2 and s.label not in floor

    moved = [c for c in changes if c.kind == "move" and ok(c.instance_id)]
    moved.sort(key=lambda c: (-seen.get(c.instance_id, 0), c.label))
    touched = {c.instance_id for c in changes}
    unmoved = sorted((i for i in states if i not in touched and ok(i)), key=lambda i: states[i].label)
    tasks: list[Task] = []
    m = moved[0] if moved else None
    if m is not None:
        tasks.append(
            Task(
                "fetch",
                f"bring me the {m.label}",
                m.label,
                why=f"moved overnight from the {m.from_room} ({m.from_support}) to the {m.to_room}",
            )
        )
    picks = [unmoved[int(i)] for i in rng.permutation(len(unmoved))[:2]] if unmoved else []
    if picks:
        s = states[picks[0]]
        tasks.append(Task("fetch", f"bring me the {s.label}", s.label, why=f"not moved: still in the {s.room}"))
    if m is not None:
        tasks.append(
            Task(
                "question",
                f"is the {m.label} still in the {m.from_room}?",
                m.label,
                m.from_room,
                why=f"moved overnight to the {m.to_room}: the true answer is no",
            )
        )
    if len(picks) > 1 and not quick:
        s = states[picks[1]]
        tasks.append(
            Task(
                "question",
                f"is the {s.label} still in the {s.room}?",
                s.label,
                s.room,
                why="not moved: the true answer is yes",
            )
        )
    return tasks


def truth_of(sim: HouseholdSim, task: Task) -> str:
    """Ground truth now: the room(s) of the target for a fetch, yes/no for a question."""
    rooms = sorted({s.room for s in sim.object_states().values() if s.label == task.label and s.present and s.room})
    if task.kind == "question":
        return "yes" if task.room in rooms else "no"
    return " / ".join(rooms) or "nowhere"


# -- solving ------------------------------------------------------------------------------------
def solve_with_memory(
    sim: HouseholdSim, mem: Memory, planner: Planner, task: Task, max_steps: int, since: float
) -> Outcome:
    """A fetch: the planner's search, frames feeding memory, the search recorded as an episode.  A question:
    answered from memory at once when memory has news of the object from today; else the remembered places
    are checked first."""
    nav = SimNavigator(sim, memory=mem)
    goal = Goal(text=task.text, label=task.label)
    qa = MemoryQA(mem)
    if task.kind == "fetch":
        found = run_search(nav, goal, memory_search(planner, goal, nav), max_steps, record=mem)
        answer = f"found in the {found.room}" if found.success else "not found"
        return Outcome("memory", found.steps, found.success, answer, None, found.reason, found, found.path)
    objs = qa.match(task.label)
    fresh = any(
        o.last_seen >= since or ((a := mem.temporal.last_absence(o.object_id)) is not None and a.stamp >= since)
        for o in objs
    )
    res: SearchResult | None = None
    if not fresh and objs:
        search = memory_search(planner, goal, nav)

        def remembered_only(tried: list[int]) -> Context:
            ctx = search(tried)
            return replace(ctx, proposals=tuple(p for p in ctx.proposals if p.kind == "object"))

        res = run_search(nav, goal, remembered_only, max_steps, record=mem)
    w = qa.where_now(task.label)
    if w is None:
        answer, detail = "don't know", "never seen"
    elif w["place"] == task.room:
        answer, detail = "yes", w["text"]
    else:
        answer, detail = "no", w["text"] if w["place"] else f"observed absent where last seen ({w['text']})"
    how = "from memory, no need to look" if res is None else f"after checking the remembered place ({res.status})"
    steps = 0 if res is None else res.steps
    return Outcome("memory", steps, True, answer, None, f"{detail}; {how}", res, [] if res is None else res.path)


def solve_without_memory(sim: HouseholdSim, task: Task, max_steps: int, distance: Distance | None = None) -> Outcome:
    """A fetch: every room, nearest first (by ``distance``, path length, when given).  A question names the room:
    go there and look around."""
    nav = SimNavigator(sim)
    goal = Goal(text=task.text, label=task.label)
    if task.kind == "fetch":
        res = run_search(nav, goal, exploration_search(goal, nav, VIEWPOINTS, distance=distance), max_steps)
        answer = f"found in the {res.room}" if res.success else "not found"
        return Outcome("no_memory", res.steps, res.success, answer, None, res.reason, res, res.path)
    if task.room is None:
        raise ValueError(f"question task {task.text!r} names no room")
    res = run_search(nav, goal, exploration_search(goal, nav, VIEWPOINTS, [task.room]), max_steps)
    seen_there = res.success and res.room == task.room
    answer = "yes" if seen_there else "no"
    detail = f"looked around the {task.room}: " + ("saw it" if seen_there else "did not see it")
    return Outcome("no_memory", res.steps, True, answer, None, detail, res, res.path)
