"""A scripted tour: walk to a viewpoint in every room and look around."""

from __future__ import annotations

import math

from robomem.observation import Observation

from .adapter import to_observation
from .sim import Frame, HouseholdSim

__all__ = ["VIEWPOINTS", "scripted_tour", "tour_observations", "walk_to"]

# A free spot in each room from which most of it can be seen.
VIEWPOINTS: dict[str, tuple[float, float]] = {
    "hallway": (5.0, 3.8),
    "kitchen": (3.6, 6.6),
    "living room": (5.8, 6.2),
    "study": (7.5, 1.8),
    "bedroom": (2.8, 1.6),
}


def walk_to(sim: HouseholdSim, x: float, y: float, capture: bool = False, max_steps: int = 300,
            tolerance: float = 0.2) -> list[Frame]:
    """Walk with discrete actions along the shortest path to (x, y).

    Returns the frames rendered after each move when ``capture``.  If the greedy follower
    makes no progress for 8 steps (a collision loop), it teleports to the next waypoint."""
    frames: list[Frame] = []
    stuck = 0
    for _ in range(max_steps):
        action = sim.next_action_towards(x, y, tolerance)
        if action is None:
            raise RuntimeError(f"walk_to: ({x:.2f}, {y:.2f}) is unreachable from {sim.agent}")
        if action == "stop":
            break
        res = sim.step(action)
        stuck = stuck + 1 if res.collided else 0
        if stuck >= 8:
            path = sim.path_to(x, y)
            if path and len(path) > 1:
                wx, wy = path[1]
                sim.teleport(wx, wy, math.atan2(wy - sim.agent.y, wx - sim.agent.x))
            stuck = 0
        if capture and action == "move_forward" and not res.collided:
            frames.append(sim.observe())
    return frames


def scripted_tour(sim: HouseholdSim, rooms: list[str] | None = None, turns: int = 12, pitch_deg: float = -15.0,
                  capture_walk: bool = False) -> list[Frame]:
    """Visit every room (default order: hallway, kitchen, living room, study, bedroom), and at
    each viewpoint turn a full circle in ``turns`` steps with the camera pitched ``pitch_deg``,
    rendering a frame after every turn.  Returns the frames in order."""
    frames: list[Frame] = []
    for room in rooms or list(VIEWPOINTS):
        x, y = VIEWPOINTS[room]
        frames += walk_to(sim, x, y, capture=capture_walk)
        sim.teleport(sim.agent.x, sim.agent.y, sim.agent.yaw, math.radians(pitch_deg))
        step = 2 * math.pi / turns
        for k in range(turns):
            if k:
                sim.teleport(sim.agent.x, sim.agent.y, sim.agent.yaw + step, sim.agent.pitch)
            frames.append(sim.observe())
        sim.teleport(sim.agent.x, sim.agent.y, sim.agent.yaw, 0.0)
    return frames


def tour_observations(sim: HouseholdSim, **kwargs: object) -> list[Observation]:
    """:func:`scripted_tour` as robomem Observations."""
    return [to_observation(f) for f in scripted_tour(sim, **kwargs)]  # type: ignore[arg-type]
