"""A scripted tour: walk to a viewpoint in every room and look around."""

from __future__ import annotations

import math

from robomem.observation import Observation

from .adapter import to_observation
from .sim import HouseholdFrame, HouseholdSim

__all__ = ["VIEWPOINTS", "scripted_tour", "tour_observations", "walk_to"]

# A free spot in each room from which most of it can be seen.
VIEWPOINTS: dict[str, tuple[float, float]] = {
    "hallway": (5.0, 3.8),
    "kitchen": (3.6, 6.6),
    "living room": (5.8, 6.2),
    "study": (7.5, 1.8),
    "bedroom": (2.8, 1.6),
}


def walk_to(
    sim: HouseholdSim, x: float, y: float, capture: bool = False, max_steps: int = 400, tolerance: float = 0.2
) -> list[HouseholdFrame]:
    """Walk with discrete actions (turn 30 degrees / move 0.25 m) along the shortest path to (x, y).

    Plans once and follows the waypoints, re-planning after a collision; after 8 collisions
    in a row it teleports to the next waypoint.  Returns the frames rendered after each
    successful move when ``capture``."""
    frames: list[HouseholdFrame] = []
    path = sim.path_to(x, y)
    if path is None:
        raise RuntimeError(f"walk_to: ({x:.2f}, {y:.2f}) is unreachable from {sim.agent}")
    waypoints = path[1:]
    stuck = 0
    for _ in range(max_steps):
        a = sim.agent
        while waypoints and math.hypot(waypoints[0][0] - a.x, waypoints[0][1] - a.y) < (
            tolerance if len(waypoints) == 1 else sim.forward_step * 0.75
        ):
            waypoints.pop(0)
        if not waypoints:
            break
        wx, wy = waypoints[0]
        err = math.remainder(math.atan2(wy - a.y, wx - a.x) - a.yaw, 2 * math.pi)
        if abs(err) > sim.turn / 2 + 1e-6:
            sim.step("turn_left" if err > 0 else "turn_right")
            continue
        res = sim.step("move_forward")
        if not res.collided:
            stuck = 0
            if capture:
                frames.append(sim.observe())
            continue
        stuck += 1
        if stuck >= 8:
            if sim.is_free(wx, wy):
                sim.teleport(wx, wy, a.yaw)
            stuck = 0
        new_path = sim.path_to(x, y)
        if new_path is None:
            raise RuntimeError(f"walk_to: ({x:.2f}, {y:.2f}) became unreachable")
        waypoints = new_path[1:]
    return frames


def scripted_tour(
    sim: HouseholdSim,
    rooms: list[str] | None = None,
    turns: int = 12,
    pitch_deg: float = -15.0,
    capture_walk: bool = False,
) -> list[HouseholdFrame]:
    """Visit every room (default order: hallway, kitchen, living room, study, bedroom), and at
    each viewpoint turn a full circle in ``turns`` steps with the camera pitched ``pitch_deg``,
    rendering a frame after every turn.  Returns the frames in order."""
    frames: list[HouseholdFrame] = []
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
