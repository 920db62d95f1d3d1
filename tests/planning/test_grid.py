"""The navigable map (robomem.planning.grid): one grid and one path-length rule for the simulator and a
ROS robot's map server (nav_msgs/OccupancyGrid)."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest

from robomem.io.rosmsg import occupancy_grid_values
from robomem.planning.grid import GridDistance, OccupancyGrid, inflate

RES = 0.05


def walled(door: bool = True) -> np.ndarray:
    """6 x 4 m (120 x 80 cells), a wall at x = 2 m (column 60 from origin -1) with a door at its north end."""
    v = np.zeros((80, 120), dtype=np.int8)
    v[: 64 if door else 80, 60] = 100
    return v


def test_a_wall_makes_the_path_longer_than_the_straight_line_and_a_closed_door_unreachable() -> None:
    open_map = OccupancyGrid.from_occupancy(walled(), (-1.0, -2.0), RES, radius=0.2)
    current = {"g": open_map}
    dist = GridDistance(lambda: current["g"])
    a, b = (1.0, -1.0), (3.0, -1.0)  # 2 m apart, either side of the wall
    d = dist(a, b)
    # round the wall's end (y = 1.2 m, grown by 0.2 m): at least the two legs via the door
    via_door = math.dist(a, (2.0, 1.4)) + math.dist((2.0, 1.4), b)
    assert d is not None and d >= 0.97 * via_door and d > 2.0 * math.dist(a, b)
    assert dist(a, (1.5, 0.0)) == pytest.approx(math.dist(a, (1.5, 0.0)), rel=0.1)  # same side: near straight
    current["g"] = OccupancyGrid.from_occupancy(walled(door=False), (-1.0, -2.0), RES, radius=0.2)
    assert dist(a, b) is None  # a new map replaces the cached fields: the door is shut now


def test_occupancy_values_and_inflation() -> None:
    one = np.zeros((9, 9), dtype=bool)
    one[4, 4] = True
    assert int(inflate(one, 2.0).sum()) == 13  # lattice points within a disc of radius 2
    v = np.full((10, 10), -1, dtype=np.int8)
    v[:, :5] = 0
    optimistic = OccupancyGrid.from_occupancy(v, (0.0, 0.0), 0.1, radius=0.0)
    strict = OccupancyGrid.from_occupancy(v, (0.0, 0.0), 0.1, radius=0.0, unknown_free=False)
    assert optimistic.is_free(0.75, 0.5) and not strict.is_free(0.75, 0.5)  # x = 0.75 m is unknown
    assert not OccupancyGrid.from_occupancy(np.full((4, 4), 70, np.int8), (0, 0), 0.1, 0.0).is_free(0.2, 0.2)
    with pytest.raises(ValueError, match="resolution"):
        OccupancyGrid.from_occupancy(v, (0.0, 0.0), 0.0, radius=0.2)
    with pytest.raises(ValueError, match="non-empty"):
        OccupancyGrid.from_occupancy(np.zeros((0, 3), np.int8), (0.0, 0.0), 0.1, radius=0.2)


def _msg(values: np.ndarray, yaw: float = 0.0, data: list[int] | None = None) -> SimpleNamespace:
    h, w = values.shape
    return SimpleNamespace(
        info=SimpleNamespace(
            resolution=RES,
            width=w,
            height=h,
            origin=SimpleNamespace(
                position=SimpleNamespace(x=-1.0, y=-2.0, z=0.0),
                orientation=SimpleNamespace(x=0.0, y=0.0, z=math.sin(yaw / 2), w=math.cos(yaw / 2)),
            ),
        ),
        data=values.ravel().tolist() if data is None else data,
    )


def test_a_nav_msgs_occupancy_grid_decodes_row_major_from_its_origin() -> None:
    values, origin, res = occupancy_grid_values(_msg(walled()))
    assert values.shape == (80, 120) and origin == (-1.0, -2.0) and res == RES
    g = OccupancyGrid.from_occupancy(values, origin, res, radius=0.0)
    assert not g.is_free(2.02, -1.0) and g.is_free(2.02, 1.5)  # the wall's column, below and above the door
    with pytest.raises(ValueError, match="rotated"):
        occupancy_grid_values(_msg(walled(), yaw=0.3))
    with pytest.raises(ValueError, match="values for a 120 x 80 map"):
        occupancy_grid_values(_msg(walled(), data=[0] * 10))


def test_pooling_keeps_the_door_and_a_map_smaller_than_the_robot_is_all_blocked() -> None:
    fine = OccupancyGrid.from_occupancy(walled(), (-1.0, -2.0), RES, radius=0.2)
    coarse = OccupancyGrid.from_occupancy(walled(), (-1.0, -2.0), RES, radius=0.2, min_resolution=0.1)
    assert coarse.resolution == pytest.approx(0.1) and coarse.blocked.shape == (40, 60)
    a, b = (1.0, -1.0), (3.0, -1.0)
    d_fine, d_coarse = GridDistance(lambda: fine)(a, b), GridDistance(lambda: coarse)(a, b)
    assert d_fine is not None and d_coarse is not None and abs(d_coarse - d_fine) < 0.1 * d_fine  # still via the door
    # a 4 x 4-cell map with one obstacle and a robot wider than the map: every cell is blocked (no crash)
    tiny = np.zeros((4, 4), dtype=np.int8)
    tiny[0, 0] = 100
    assert OccupancyGrid.from_occupancy(tiny, (0.0, 0.0), RES, radius=0.25).blocked.all()
    assert not fine.is_free(-1.02, -1.0)  # just left of the map is outside it, not in its first column
