"""The household simulator behind the planner's navigation protocol, and one object-search runner.

:class:`SimNavigator` offers what :class:`robomem.planning.policy.Navigator` asks for (``current_pose``,
``path_to``, ``target_visible``, ``forward_step``, ``turn_angle``) over a
:class:`~robomem.envs.household.sim.HouseholdSim`; it executes the policy's discrete actions,
renders a frame after each one, optionally feeds it into a :class:`~robomem.Memory`, and counts
steps.  "Visible" is read from the rendered instance image (the simulator's segmentation): at
least ``min_pixels`` pixels of an instance with the target label, and its median depth within
``reach`` metres.

:func:`run_search` runs one search episode with either the memory planner's proposals
(:func:`memory_context`) or exploration only (:func:`explore_context`): both contexts end with
the same room-by-room exploration, nearest room first, so the two differ only in what memory
contributes.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

os.environ.setdefault("MUJOCO_GL", "egl")

import numpy as np  # noqa: E402

from robomem.planning.context import Context, Goal, GoalProposal, RobotState  # noqa: E402
from robomem.planning.critic import LoopCritic  # noqa: E402
from robomem.planning.policy import Action, ObjectSearchPolicy  # noqa: E402

from .household.adapter import to_observation  # noqa: E402
from .household.layout import room_at  # noqa: E402
from .household.sim import Frame, HouseholdSim  # noqa: E402
from .household.tour import VIEWPOINTS  # noqa: E402

if TYPE_CHECKING:
    from robomem.memory import Memory
    from robomem.planning.planner import Planner

__all__ = [
    "SearchResult",
    "SimNavigator",
    "explore_context",
    "explore_proposals",
    "memory_context",
    "perceived_room",
    "run_search",
    "visible_instances",
]

MIN_PIXELS = 80  # of 320x240 (0.1% of the image): an object this large in view counts as seen
REACH = 3.5  # m: "reached" = in view and at most this far (median depth)


def visible_instances(frame: Frame, min_pixels: int = MIN_PIXELS) -> dict[int, tuple[int, float]]:
    """Instance id -> (pixels, median depth in m) for every instance with at least ``min_pixels`` valid pixels."""
    inst = frame.instances
    valid = frame.depth > 0
    ids, counts = np.unique(inst[valid], return_counts=True)
    out: dict[int, tuple[int, float]] = {}
    for i, c in zip(ids.tolist(), counts.tolist(), strict=True):
        if i == 0 or c < min_pixels:
            continue
        d = frame.depth[(inst == i) & valid]
        out[int(i)] = (int(c), float(np.median(d)))
    return out


def perceived_room(frame: Frame, instance_id: int) -> str | None:
    """The room an instance stands in, from its pixels back-projected with depth and pose (what the agent sees)."""
    mask = (frame.instances == instance_id) & (frame.depth > 0)
    if not mask.any():
        return None
    fx, fy, cx, cy = frame.intrinsics
    v, u = np.nonzero(mask)
    z = frame.depth[v, u].astype(np.float64)
    pc = np.stack([(u - cx) * z / fx, (v - cy) * z / fy, z], axis=1)
    pw = pc @ frame.pose[:3, :3].T + frame.pose[:3, 3]
    x, y = np.median(pw[:, 0]), np.median(pw[:, 1])
    return room_at(float(x), float(y))


class SimNavigator:
    """:class:`robomem.planning.policy.Navigator` over a :class:`HouseholdSim` (see the module docstring)."""

    def __init__(
        self,
        sim: HouseholdSim,
        memory: Memory | None = None,
        min_pixels: int = MIN_PIXELS,
        reach: float = REACH,
        on_step: Callable[[SimNavigator], None] | None = None,
    ) -> None:
        self.sim = sim
        self.memory = memory
        self.min_pixels = int(min_pixels)
        self.reach = float(reach)
        self.on_step = on_step
        self.forward_step = float(sim.forward_step)
        self.turn_angle = float(sim.turn)
        self.steps = 0
        self.collisions = 0
        self.path: list[tuple[float, float]] = [(sim.agent.x, sim.agent.y)]
        self.frame = self._observe()

    # -- the Navigator protocol ------------------------------------------------------
    def current_pose(self) -> tuple[float, float, float]:
        a = self.sim.agent
        return (a.x, a.y, a.yaw)

    def path_to(self, x: float, y: float) -> list[tuple[float, float]] | None:
        """The simulator's shortest path, densified to a point every ``forward_step`` so that a follower
        that steers at the next point in 30-degree turns stays close to the planned line."""
        path = self.sim.path_to(x, y)
        if path is None:
            return None
        out = [path[0]]
        for a, b in zip(path, path[1:], strict=False):
            n = max(1, math.ceil(math.dist(a, b) / self.forward_step))
            out += [(a[0] + (b[0] - a[0]) * k / n, a[1] + (b[1] - a[1]) * k / n) for k in range(1, n + 1)]
        return out

    def target_visible(self, label: str) -> bool:
        return self.visible_target(label) is not None

    # -- extras ----------------------------------------------------------------------
    def visible_target(self, label: str) -> int | None:
        """The instance id of the closest visible, reachable instance labelled ``label``, else None."""
        best: tuple[float, int] | None = None
        valid = self.frame.depth > 0
        for i, lab in self.frame.labels.items():
            if lab != label:
                continue
            mask = (self.frame.instances == i) & valid
            if int(mask.sum()) < self.min_pixels:
                continue
            dist = float(np.median(self.frame.depth[mask]))
            if dist <= self.reach and (best is None or dist < best[0]):
                best = (dist, i)
        return None if best is None else best[1]

    def _sidestep(self) -> None:
        """A local planner's recovery after bumping into something: the nearest heading (one or two turns
        either way) with a free step ahead, turned to and stepped along with real actions."""
        sim = self.sim
        a = sim.agent
        for k in (1, -1, 2, -2):
            yaw = a.yaw + k * sim.turn
            nxt = (a.x + sim.forward_step * math.cos(yaw), a.y + sim.forward_step * math.sin(yaw))
            if sim.segment_free((a.x, a.y), nxt):
                for _ in range(abs(k)):
                    sim.step("turn_left" if k > 0 else "turn_right")
                    self.steps += 1
                sim.step("move_forward")
                self.steps += 1
                return

    def state(self) -> RobotState:
        a = self.sim.agent
        return RobotState((a.x, a.y, 0.0), a.yaw, self.sim.time)

    def _observe(self) -> Frame:
        frame = self.sim.observe()
        if self.memory is not None:
            self.memory.update(to_observation(frame))
        return frame

    def act(self, action: Action | str) -> Frame:
        """Apply one action (not ``stop``), render, feed memory; returns the new frame."""
        name = action.value if isinstance(action, Action) else str(action)
        res = self.sim.step(name)
        self.steps += 1
        if res.collided:
            self.collisions += 1
            self._sidestep()
        a = self.sim.agent
        if (a.x, a.y) != self.path[-1]:
            self.path.append((a.x, a.y))
        self.frame = self._observe()
        if self.on_step is not None:
            self.on_step(self)
        return self.frame


# -- contexts --------------------------------------------------------------------------
def explore_proposals(
    sim: HouseholdSim, start: tuple[float, float], label: str | None, rooms: list[str] | None = None
) -> list[GoalProposal]:
    """Every room's viewpoint in nearest-neighbour order from ``start`` (a fixed order, no memory)."""
    todo = [r for r in (list(VIEWPOINTS) if rooms is None else rooms) if r in VIEWPOINTS]
    out: list[GoalProposal] = []
    here = start
    while todo:
        room = min(todo, key=lambda r: (math.dist(here, VIEWPOINTS[r]), r))
        todo.remove(room)
        x, y = VIEWPOINTS[room]
        out.append(
            GoalProposal(
                kind="explore",
                confidence=0.0,
                target=(x, y, 0.0),
                place=room,
                label=label,
                reason=f"explore: look around the {room}",
            )
        )
        here = (x, y)
    return out


def explore_context(goal: Goal, nav: SimNavigator) -> Context:
    """A context with no memory at all: only the room-by-room exploration."""
    st = nav.state()
    props = explore_proposals(nav.sim, (st.position[0], st.position[1]), goal.label)
    return Context(goal=goal, state=st, now=float(nav.sim.time), entries=(), proposals=tuple(props))


def _near_view(p: GoalProposal) -> GoalProposal:
    """A keyframe pose farther from the object than ``REACH`` shows it, but too far to count as reaching it:
    go to the object itself instead."""
    if p.view_pose is not None and p.target is not None and math.dist(p.view_pose[:2], p.target[:2]) > REACH:
        return replace(p, view_pose=None)
    return p


def memory_context(planner: Planner, goal: Goal, nav: SimNavigator) -> Context:
    """The planner's context with its proposals (remembered objects, usually-in places) kept, except a
    usually-in place in a room a remembered object already sends the agent to (looking around there covers it);
    the single trailing ``explore`` is replaced by the same room-by-room exploration the baseline uses, starting
    from the last remembered place, rooms not covered by a remembered place first."""
    st = nav.state()
    ctx = planner.context(goal, st)
    objects = [_near_view(p) for p in ctx.proposals if p.kind == "object"]
    covered = {p.place for p in objects if p.place}
    remembered = objects + [p for p in ctx.proposals if p.kind == "usually_in" and p.place not in covered]
    covered |= {p.place for p in remembered if p.place}
    start = (st.position[0], st.position[1])
    if remembered and remembered[-1].xy is not None:
        start = remembered[-1].xy
    first = explore_proposals(nav.sim, start, goal.label, [r for r in VIEWPOINTS if r not in covered])
    if first and first[-1].xy is not None:
        start = first[-1].xy
    explore = first + explore_proposals(nav.sim, start, goal.label, [r for r in VIEWPOINTS if r in covered])
    return replace(ctx, proposals=tuple(remembered + explore))


# -- one search episode ----------------------------------------------------------------
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
            "path": [[round(x, 3), round(y, 3)] for x, y in self.path],
            "log": self.log,
        }


def run_search(
    nav: SimNavigator,
    goal: Goal,
    make_context: Callable[[], Context],
    max_steps: int = 150,
    refresh_every: int = 0,
    critic: LoopCritic | None = None,
) -> SearchResult:
    """Search for ``goal.label`` with :class:`ObjectSearchPolicy` until it is in view, the policy stops, or
    ``max_steps`` actions were taken.  ``refresh_every`` > 0 rebuilds the context that often (memory changes
    as the agent looks)."""
    label = goal.label or goal.text or ""
    policy = ObjectSearchPolicy(nav, critic=critic or LoopCritic(), reach=0.2)
    ctx = make_context()
    remembered = sum(1 for p in ctx.proposals if p.kind != "explore")
    start_steps = nav.steps
    path_start = len(nav.path) - 1
    status, reason = "step_limit", f"no sight of {label!r} within {max_steps} steps"
    while nav.steps - start_steps < max_steps:
        action = policy.act(nav.frame, ctx)
        if action == Action.STOP:
            status, reason = policy.status, policy.reason
            break
        nav.act(action)
        if refresh_every and (nav.steps - start_steps) % refresh_every == 0:
            ctx = make_context()
    else:
        if nav.target_visible(label):
            status, reason = "found", f"{label!r} is in view"
    found = nav.visible_target(label) if status == "found" else None
    room = perceived_room(nav.frame, found) if found is not None else None
    tried = list(policy.tried)
    return SearchResult(
        label=label,
        success=found is not None,
        steps=nav.steps - start_steps,
        status=status,
        reason=reason,
        instance_id=found,
        room=room,
        candidates=len(tried),
        remembered=remembered,
        path=list(nav.path[path_start:]),
        log=list(policy.log),
    )
