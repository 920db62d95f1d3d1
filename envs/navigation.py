"""The household simulator behind the planner's navigation protocol.

:class:`SimNavigator` offers what :class:`robomem.planning.policy.Navigator` asks for (``current_pose``,
``path_to``, ``target_visible``, ``forward_step``, ``turn_angle``) over a
:class:`~robomem.envs.household.sim.HouseholdSim`; it executes the policy's discrete actions,
renders a frame after each one, optionally feeds it into a :class:`~robomem.Memory`, and counts
steps.  "Visible" is read from the rendered instance image (the simulator's segmentation): at
least ``min_pixels`` pixels of an instance with the target label, and its median depth within
``reach`` metres.

:class:`SimNavigator` supplies motion and viewpoints only: what to search and in which order is the
core planner's (:mod:`robomem.planning.search`), and :func:`robomem.envs.search.run_search` runs the search.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from typing import TYPE_CHECKING

os.environ.setdefault("MUJOCO_GL", "egl")

import numpy as np  # noqa: E402

from robomem.planning.context import RobotState  # noqa: E402
from robomem.planning.grid import GridDistance  # noqa: E402
from robomem.planning.policy import Action  # noqa: E402

from .household.adapter import to_observation  # noqa: E402
from .household.layout import room_at  # noqa: E402
from .household.sim import HouseholdFrame, HouseholdSim  # noqa: E402
from .household.tour import VIEWPOINTS  # noqa: E402

if TYPE_CHECKING:
    from robomem.memory import Memory

__all__ = [
    "MIN_PIXELS",
    "REACH",
    "VIEWPOINTS",
    "PathDistance",
    "SimNavigator",
    "perceived_room",
    "visible_instances",
]

MIN_PIXELS = 80  # of 320x240 (0.1% of the image): an object this large in view counts as seen
REACH = 3.5  # m: "reached" = in view and at most this far (median depth)


def visible_instances(frame: HouseholdFrame, min_pixels: int = MIN_PIXELS) -> dict[int, tuple[int, float]]:
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


def perceived_room(frame: HouseholdFrame, instance_id: int) -> str | None:
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


class PathDistance(GridDistance):
    """The core's path-length rule (:class:`robomem.planning.grid.GridDistance`) on the simulator's planning
    grid, the one :meth:`HouseholdSim.path_to` uses: what :class:`robomem.planning.planner.Planner` and
    :func:`robomem.envs.search.exploration_proposals` order a room tour by.  Fields are dropped when the
    simulator rebuilds its grid (a floor object moved)."""

    def __init__(self, sim: HouseholdSim, max_cached: int = 64) -> None:
        super().__init__(lambda: sim.plan_grid, max_cached)
        self.sim = sim


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

    def found(self, label: str) -> tuple[int, str | None] | None:
        """(instance id, room it stands in, as the agent perceives it) of the visible target, else None."""
        iid = self.visible_target(label)
        return None if iid is None else (iid, perceived_room(self.frame, iid))

    def state(self) -> RobotState:
        a = self.sim.agent
        return RobotState((a.x, a.y, 0.0), a.yaw, self.sim.time)

    def _observe(self) -> HouseholdFrame:
        frame = self.sim.observe()
        if self.memory is not None:
            self.memory.update(to_observation(frame))
        return frame

    def act(self, action: Action | str) -> HouseholdFrame:
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
