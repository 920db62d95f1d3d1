"""One object-search runner for every simulator, recording each search as an episode.

:func:`run_search` drives :class:`~robomem.planning.policy.ObjectSearchPolicy` over any
:class:`SearchNavigator` (the household simulator's :class:`~robomem.envs.navigation.SimNavigator`,
or any robot or simulator that offers the same few calls) with the proposals of a context
builder: :func:`memory_search` (the core planner's proposals, unchanged: the simulator supplies
only its viewpoints and its motion) or :func:`exploration_search` (no memory: every viewpoint,
nearest first).  When the loop critic asks for a re-plan, or a candidate is given up, the context
is rebuilt, so the next candidate comes from what memory knows *now*.

With ``record=memory`` each search is one episode in episodic memory (``begin_episode``, one step
per candidate tried, ``end_episode`` with the typed ``target`` and ``found_in`` and a readable
:func:`~robomem.planning.search.found_outcome`), which the planner reads back as evidence for the
next search of the same thing.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from robomem.planning.context import Context, Goal, GoalProposal, RobotState
from robomem.planning.critic import LoopCritic
from robomem.planning.policy import Action, Navigator, ObjectSearchPolicy
from robomem.planning.search import Distance, found_outcome, tour_order

if TYPE_CHECKING:
    from robomem.memory import Memory
    from robomem.planning.planner import Planner

__all__ = [
    "SearchNavigator",
    "SearchResult",
    "exploration_proposals",
    "exploration_search",
    "memory_search",
    "run_search",
]


@runtime_checkable
class SearchNavigator(Navigator, Protocol):
    """A :class:`~robomem.planning.policy.Navigator` that also acts, counts and says what it found.

    ``frame``: the latest observation; ``act(action)`` applies one action (not stop) and observes;
    ``steps``: actions taken so far; ``path``: (x, y) positions visited; ``state()``: the
    :class:`RobotState` now; ``found(label)`` -> (instance id, place it stands in) of a visible,
    reachable target, else None."""

    frame: object
    steps: int
    path: list[tuple[float, float]]

    def act(self, action: Action) -> object: ...

    def state(self) -> RobotState: ...

    def found(self, label: str) -> tuple[int, str | None] | None: ...


@dataclass
class SearchResult:
    label: str
    success: bool
    steps: int
    status: str  # found | exhausted | gave_up | step_limit
    reason: str
    instance_id: int | None = None  # the instance that was found
    room: str | None = None  # the room the agent found it in (where the object stands)
    candidates: int = 0  # proposals the policy went to
    remembered: int = 0  # of which came from memory
    replans: int = 0  # contexts rebuilt during the search
    episode_id: int | None = None  # the episode it was recorded as
    tried: list[tuple[str, str | None]] = field(default_factory=list)  # (kind, place) of each candidate, in order
    path: list[tuple[float, float]] = field(default_factory=list)
    log: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, object]:
        return {
            "label": self.label,
            "success": self.success,
            "steps": self.steps,
            "status": self.status,
            "reason": self.reason,
            "instance_id": self.instance_id,
            "room": self.room,
            "candidates": self.candidates,
            "remembered": self.remembered,
            "replans": self.replans,
            "episode_id": self.episode_id,
            "tried": [list(t) for t in self.tried],
            "path": [[round(x, 3), round(y, 3)] for x, y in self.path],
            "log": self.log,
        }


# -- context builders ------------------------------------------------------------------------
def memory_search(planner: Planner, goal: Goal, nav: SearchNavigator) -> Callable[[list[int]], Context]:
    """The planner's context for ``goal`` at the navigator's state now (objects already tried excluded)."""

    def make(tried: list[int]) -> Context:
        return planner.context(goal, nav.state(), exclude_objects=tried)

    return make


def exploration_proposals(
    viewpoints: Mapping[str, tuple[float, float]],
    start: tuple[float, float],
    label: str | None,
    places: list[str] | None = None,
    distance: Distance | None = None,
) -> list[GoalProposal]:
    """Every viewpoint (or those of ``places``), no memory: the same room tour as the planner's exploration
    (:func:`robomem.planning.search.tour_order`, path lengths when ``distance`` is given) from ``start``."""
    todo = [p for p in (list(viewpoints) if places is None else places) if p in viewpoints]
    out: list[GoalProposal] = []
    for k in tour_order([(name, viewpoints[name]) for name in todo], start, distance):
        name = todo[k]
        x, y = viewpoints[name]
        reason = f"explore: look around the {name}"
        out.append(
            GoalProposal(kind="explore", confidence=0.0, target=(x, y, 0.0), place=name, label=label, reason=reason)
        )
    return out


def exploration_search(
    goal: Goal,
    nav: SearchNavigator,
    viewpoints: Mapping[str, tuple[float, float]],
    places: list[str] | None = None,
    distance: Distance | None = None,
) -> Callable[[list[int]], Context]:
    """A context with no memory at all: the viewpoints toured from where the robot is now."""

    def make(tried: list[int]) -> Context:
        st = nav.state()
        props = exploration_proposals(viewpoints, st.position[:2], goal.label, places, distance)
        return Context(goal=goal, state=st, now=st.time or 0.0, entries=(), proposals=tuple(props))

    return make


# -- the runner ------------------------------------------------------------------------------
def run_search(
    nav: SearchNavigator,
    goal: Goal,
    make_context: Callable[[list[int]], Context],
    max_steps: int = 150,
    critic: LoopCritic | None = None,
    record: Memory | None = None,
    replan_on_abandon: bool = True,
    news_every: int = 5,
) -> SearchResult:
    """Search for ``goal.label`` until it is in view, the policy stops, or ``max_steps`` actions were taken.

    ``make_context(tried_object_ids)`` builds the context; it is rebuilt when the critic re-plans,
    (``replan_on_abandon``) when a candidate is given up, and (at most every ``news_every`` steps) when
    ``record`` - the agent's memory, where the search is recorded as an episode - has a newer sighting of
    the target than before (the navigator feeds it frames: the target glimpsed from afar)."""
    if isinstance(max_steps, bool) or not isinstance(max_steps, int) or max_steps < 1:
        raise ValueError(f"run_search: max_steps must be a positive integer, got {max_steps!r}")
    label = goal.label or goal.text or ""
    ctx = make_context([])
    replans = 0

    def refresh() -> Context:
        """A candidate was given up (or the critic asked): the next one comes from what memory knows now."""
        nonlocal ctx, replans
        ctx = make_context([p.object_id for p in policy.tried if p.object_id is not None])
        replans += 1
        return ctx

    policy = ObjectSearchPolicy(
        nav, critic=critic or LoopCritic(), reach=0.2, on_abandon=refresh if replan_on_abandon else None
    )
    remembered = sum(1 for p in ctx.proposals if p.kind != "explore")
    episode = record.begin_episode(f"find the {label}", stamp=_stamp(nav)) if record is not None else None
    start_steps, path_start = nav.steps, len(nav.path) - 1
    critic_replans = 0
    news, news_step = _news(record, label), 0
    status, reason = "step_limit", f"no sight of {label!r} within {max_steps} steps"
    while nav.steps - start_steps < max_steps:
        action = policy.act(nav.frame, ctx)
        if action == Action.STOP:
            status, reason = policy.status, policy.reason
            break
        nav.act(action)
        again: list[int] = []  # objects seen anew: worth trying again even if tried before
        if record is not None and nav.steps - news_step >= news_every:
            fresh = _news(record, label)
            if fresh > news:
                again = [o.object_id for o in record.spatial.objects() if o.label == label and o.last_seen > news]
                policy.log.append(f"news: memory saw {label!r} at t={fresh:.1f}s (object {again}); re-plan")
                news, news_step = fresh, nav.steps
        critic_replanned = policy.critic.replans > critic_replans and policy.on_abandon is None
        if critic_replanned or again:
            policy.tried = [t for t in policy.tried if t.object_id not in again]
            policy.replan(refresh())
        critic_replans = policy.critic.replans
    else:
        if nav.target_visible(label):
            status, reason = "found", f"{label!r} is in view"
    hit = nav.found(label) if status == "found" else None
    found, room = (hit[0], hit[1]) if hit is not None else (None, None)
    tried = policy.went  # every candidate with a "go:" line in the log, in order: the log and this list agree
    res = SearchResult(
        label=label,
        success=found is not None,
        steps=nav.steps - start_steps,
        status=status,
        reason=reason,
        instance_id=found,
        room=room,
        candidates=len(tried),
        remembered=remembered,
        replans=replans,
        episode_id=episode,
        tried=[(p.kind, p.place) for p in tried],
        path=list(nav.path[path_start:]),
        log=list(policy.log),
    )
    if record is not None:
        _record(record, nav, res, tried)
    return res


def _news(memory: Memory | None, label: str) -> float:
    """The newest sighting memory has of an object labelled ``label`` (-inf: none)."""
    if memory is None:
        return -math.inf
    return max((o.last_seen for o in memory.spatial.objects() if o.label == label), default=-math.inf)


def _stamp(nav: SearchNavigator) -> float | None:
    return nav.state().time


def _record(memory: Memory, nav: SearchNavigator, res: SearchResult, tried: list[GoalProposal]) -> None:
    """One step per candidate tried, then the outcome (the last candidate is where it ended)."""
    stamp = _stamp(nav)
    for i, p in enumerate(tried):
        last = i == len(tried) - 1
        where = p.place or (f"({p.xy[0]:.1f}, {p.xy[1]:.1f})" if p.xy else "here")
        what = f"{p.label} #{p.object_id}" if p.object_id is not None else (p.label or res.label)
        ok = res.success and last
        memory.add_step(
            observation=p.reason,
            action=f"go to {p.kind} {where} for {what}",
            result=f"found {res.label} in the {res.room}" if ok else ("not in view" if not last else res.status),
            success=ok,
            stamp=stamp,
        )
    outcome = found_outcome(res.label, res.room) if res.success else f"failure: {res.status}: {res.reason}"
    memory.end_episode(
        outcome, stamp=stamp, success=res.success, target=res.label, found_in=res.room if res.success else None
    )
