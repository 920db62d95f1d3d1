"""The simulator's navigable map is the core's grid (:mod:`robomem.planning.grid`): one occupancy grid and
one shortest-path rule for the built-in simulator and a ROS robot's map."""

from __future__ import annotations

from robomem.planning.grid import OccupancyGrid, Rect

__all__ = ["OccupancyGrid", "Rect"]
