"""The navigable map a planner ranks places by: a 2D occupancy grid, shortest paths on it, and path
length as the planner's ``distance(a, b)``.

One grid for every robot: the built-in simulator builds it from its furniture (:meth:`OccupancyGrid.from_rects`),
a ROS robot from the ``nav_msgs/OccupancyGrid`` its map server publishes (:meth:`OccupancyGrid.from_occupancy`,
through :func:`robomem.io.rosmsg.occupancy_grid_values`), and :class:`GridDistance` turns either into the
path-length rule :class:`robomem.planning.planner.Planner` orders its search by.  ``blocked`` marks where the
robot's *centre* may not be: obstacles grown by its radius.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np

__all__ = ["GridDistance", "OccupancyGrid", "Rect", "distance_field", "inflate"]

Rect = tuple[tuple[float, float], tuple[float, float]]  # ((xmin, ymin), (xmax, ymax))

_NEIGHBOURS = [
    (-1, 0, 1.0),
    (1, 0, 1.0),
    (0, -1, 1.0),
    (0, 1, 1.0),
    (-1, -1, math.sqrt(2)),
    (-1, 1, math.sqrt(2)),
    (1, -1, math.sqrt(2)),
    (1, 1, math.sqrt(2)),
]


@dataclass
class OccupancyGrid:
    """Cells are ``resolution`` metres; ``blocked[i, j]`` covers x = lo_x + (j + 0.5) * res, y = lo_y + (i + 0.5) * res.

    ``blocked`` marks where the agent's *centre* may not be (obstacles grown by the radius).
    """

    lo: tuple[float, float]
    hi: tuple[float, float]
    resolution: float
    blocked: np.ndarray  # (rows=y, cols=x) bool

    @classmethod
    def from_rects(
        cls,
        lo: tuple[float, float],
        hi: tuple[float, float],
        rects: Iterable[Rect],
        radius: float,
        resolution: float = 0.05,
    ) -> OccupancyGrid:
        nx = int(math.ceil((hi[0] - lo[0]) / resolution))
        ny = int(math.ceil((hi[1] - lo[1]) / resolution))
        blocked = np.zeros((ny, nx), dtype=bool)
        xs = lo[0] + (np.arange(nx) + 0.5) * resolution
        ys = lo[1] + (np.arange(ny) + 0.5) * resolution
        for (x0, y0), (x1, y1) in rects:
            # cells whose centre is within ``radius`` of the rectangle
            dx = np.maximum(np.maximum(x0 - xs, xs - x1), 0.0)
            dy = np.maximum(np.maximum(y0 - ys, ys - y1), 0.0)
            near = (dy[:, None] ** 2 + dx[None, :] ** 2) < radius**2
            blocked |= near
        return cls(lo, hi, resolution, blocked)

    @classmethod
    def from_occupancy(
        cls,
        values: np.ndarray,
        origin: tuple[float, float],
        resolution: float,
        radius: float,
        occupied: int = 65,
        unknown_free: bool = True,
        min_resolution: float = 0.0,
    ) -> OccupancyGrid:
        """A grid from ROS occupancy values (``nav_msgs/OccupancyGrid.data`` as (height, width): 0..100, -1
        unknown; row 0 at ``origin`` y): cells at or above ``occupied`` (map_server's occupied_thresh 0.65)
        are obstacles, unknown ones too unless ``unknown_free`` (a planner ranking places is optimistic about
        what the map has not seen, as Nav2's planners with allow_unknown), all grown by ``radius`` metres."""
        v = np.asarray(values)
        if v.ndim != 2 or v.size == 0:
            raise ValueError(f"occupancy grid: expected a non-empty (height, width) array, got shape {v.shape}")
        if not (math.isfinite(resolution) and resolution > 0):
            raise ValueError(f"occupancy grid: resolution must be > 0 m, got {resolution}")
        if not all(math.isfinite(float(c)) for c in origin):
            raise ValueError(f"occupancy grid: origin must be finite, got {origin}")
        obstacle = v >= occupied
        if not unknown_free:
            obstacle |= v < 0
        blocked = inflate(obstacle, radius / resolution)
        # coarser cells than ``min_resolution`` are not needed to rank places, and a Dijkstra field costs per
        # cell: pool k x k cells into one, blocked if any of them is (after growing, so it only closes gaps)
        k = max(1, math.ceil(min_resolution / resolution - 1e-9))
        if k > 1:
            ny, nx = blocked.shape
            pad = np.ones((-(-ny // k) * k, -(-nx // k) * k), dtype=bool)
            pad[:ny, :nx] = blocked
            blocked = pad.reshape(pad.shape[0] // k, k, pad.shape[1] // k, k).any(axis=(1, 3))
            resolution *= k
        ny, nx = blocked.shape
        lo = (float(origin[0]), float(origin[1]))
        hi = (lo[0] + nx * resolution, lo[1] + ny * resolution)
        return cls(lo, hi, float(resolution), blocked)

    def cell(self, x: float, y: float) -> tuple[int, int]:
        # floor, not int(): a point just below or left of the map is outside it, not in its first cell
        return math.floor((y - self.lo[1]) / self.resolution), math.floor((x - self.lo[0]) / self.resolution)

    def centre(self, i: int, j: int) -> tuple[float, float]:
        return self.lo[0] + (j + 0.5) * self.resolution, self.lo[1] + (i + 0.5) * self.resolution

    def inside(self, i: int, j: int) -> bool:
        return 0 <= i < self.blocked.shape[0] and 0 <= j < self.blocked.shape[1]

    def is_free(self, x: float, y: float) -> bool:
        i, j = self.cell(x, y)
        return self.inside(i, j) and not bool(self.blocked[i, j])

    def segment_free(self, a: tuple[float, float], b: tuple[float, float]) -> bool:
        """Every point of the straight segment a-b is free (sampled at a quarter cell)."""
        n = max(1, int(math.hypot(b[0] - a[0], b[1] - a[1]) / (self.resolution / 4)))
        return all(self.is_free(a[0] + (b[0] - a[0]) * k / n, a[1] + (b[1] - a[1]) * k / n) for k in range(n + 1))

    def nearest_free(self, x: float, y: float, max_dist: float = 1.0) -> tuple[float, float] | None:
        i0, j0 = self.cell(x, y)
        r = int(max_dist / self.resolution)
        best, best_d = None, float("inf")
        for i in range(i0 - r, i0 + r + 1):
            for j in range(j0 - r, j0 + r + 1):
                if self.inside(i, j) and not self.blocked[i, j]:
                    d = (i - i0) ** 2 + (j - j0) ** 2
                    if d < best_d:
                        best, best_d = (i, j), d
        return None if best is None else self.centre(*best)

    def astar(self, start: tuple[float, float], goal: tuple[float, float]) -> list[tuple[float, float]] | None:
        """Shortest 8-connected path from start to goal (world xy), simplified to waypoints.

        Returns None when the goal cannot be reached; the start may be slightly inside an
        inflated cell (it is snapped to the nearest free cell)."""
        s = start if self.is_free(*start) else self.nearest_free(*start, 0.5)
        g = goal if self.is_free(*goal) else None
        if s is None or g is None:
            return None
        si, gi = self.cell(*s), self.cell(*g)
        if si == gi:
            return [start, goal]
        blocked = self.blocked
        ny, nx = blocked.shape
        dist = {si: 0.0}
        parent: dict[tuple[int, int], tuple[int, int]] = {}
        heap = [(0.0, 0.0, si)]
        gy, gx = gi
        while heap:
            _, d, cur = heapq.heappop(heap)
            if cur == gi:
                break
            if d > dist.get(cur, float("inf")):
                continue
            ci, cj = cur
            for di, dj, w in _NEIGHBOURS:
                ni, nj = ci + di, cj + dj
                if not (0 <= ni < ny and 0 <= nj < nx) or blocked[ni, nj]:
                    continue
                if di and dj and (blocked[ci + di, cj] or blocked[ci, cj + dj]):
                    continue  # no corner cutting
                nd = d + w
                if nd < dist.get((ni, nj), float("inf")):
                    dist[(ni, nj)] = nd
                    parent[(ni, nj)] = cur
                    h = math.hypot(ni - gy, nj - gx)
                    heapq.heappush(heap, (nd + h, nd, (ni, nj)))
        if gi not in dist:
            return None
        cells = [gi]
        while cells[-1] != si:
            cells.append(parent[cells[-1]])
        cells.reverse()
        pts = [start] + [self.centre(*c) for c in cells[1:-1]] + [goal]
        return self._simplify(pts)

    def _simplify(self, pts: list[tuple[float, float]]) -> list[tuple[float, float]]:
        out = [pts[0]]
        k = 0
        while k < len(pts) - 1:
            nxt = k + 1
            for m in range(len(pts) - 1, k + 1, -1):
                if self.segment_free(pts[k], pts[m]):
                    nxt = m
                    break
            out.append(pts[nxt])
            k = nxt
        return out

    @staticmethod
    def path_length(path: list[tuple[float, float]]) -> float:
        return float(sum(math.hypot(b[0] - a[0], b[1] - a[1]) for a, b in zip(path, path[1:], strict=False)))


def inflate(obstacle: np.ndarray, radius_cells: float) -> np.ndarray:
    """``obstacle`` grown by a disc of ``radius_cells``: every cell whose centre is within that many cells
    of an obstacle cell's centre (one shifted OR per offset of the disc)."""
    out = obstacle.copy()
    r = int(math.floor(radius_cells))
    ny, nx = obstacle.shape
    for di in range(-r, r + 1):
        for dj in range(-r, r + 1):
            if abs(di) >= ny or abs(dj) >= nx:
                continue  # a disc wider than the map: that offset reaches no cell
            if (di or dj) and di * di + dj * dj <= radius_cells * radius_cells:
                src = obstacle[max(0, -di) : ny - max(0, di), max(0, -dj) : nx - max(0, dj)]
                out[max(0, di) : ny - max(0, -di), max(0, dj) : nx - max(0, -dj)] |= src
    return out


_STEPS = ((-1, 0, 1.0), (1, 0, 1.0), (0, -1, 1.0), (0, 1, 1.0)) + tuple(
    (di, dj, math.sqrt(2.0)) for di in (-1, 1) for dj in (-1, 1)
)


def distance_field(grid: OccupancyGrid, start: tuple[float, float]) -> np.ndarray:
    """Shortest-path length (m) from ``start`` to every cell of ``grid`` over its free cells (inf: unreachable).

    The same moves as :meth:`OccupancyGrid.astar` (8-connected, no corner cutting); the start is snapped to the
    nearest free cell within 0.5 m as there.  All inf when no free cell is near the start."""
    blocked = grid.blocked
    ny, nx = blocked.shape
    s = start if grid.is_free(*start) else grid.nearest_free(*start, 0.5)
    if s is None:
        return np.full(blocked.shape, np.inf)
    free = (~blocked).ravel().tolist()  # plain lists: this loop touches every cell, numpy scalars are slow here
    dist = [math.inf] * (ny * nx)
    si, sj = grid.cell(*s)
    src = si * nx + sj
    dist[src] = 0.0
    res = float(grid.resolution)
    moves = [(di * nx + dj, di, dj, w * res) for di, dj, w in _STEPS]
    heap = [(0.0, src)]
    pop, push = heapq.heappop, heapq.heappush
    while heap:
        d, c = pop(heap)
        if d > dist[c]:
            continue
        ci, cj = divmod(c, nx)
        for off, di, dj, w in moves:
            ni, nj = ci + di, cj + dj
            if ni < 0 or nj < 0 or ni >= ny or nj >= nx:
                continue
            n = c + off
            if not free[n] or (di and dj and not (free[c + di * nx] and free[c + dj])):
                continue  # blocked, or cutting a corner
            nd = d + w
            if nd < dist[n]:
                dist[n] = nd
                push(heap, (nd, n))
    return np.asarray(dist, dtype=np.float64).reshape(ny, nx)


class GridDistance:
    """``distance(a, b)``: the length of the shortest collision-free path between two (x, y) points on the
    grid ``grid()`` returns now, or None when ``b`` cannot be reached from ``a`` (a door closed, off the map).

    A goal inside an obstacle is snapped to the nearest free cell within 0.6 m (objects stand on furniture).
    Fields are cached per source cell (at most ``max_cached``) and dropped when ``grid()`` returns another grid
    (the simulator rebuilt its map, the map server published a new one)."""

    def __init__(self, grid: Callable[[], OccupancyGrid], max_cached: int = 64) -> None:
        self.grid = grid
        self.max_cached = int(max_cached)
        self._grid: OccupancyGrid | None = None
        self._fields: dict[tuple[int, int], np.ndarray] = {}

    def field(self, a: tuple[float, float]) -> np.ndarray:
        grid = self.grid()
        if grid is not self._grid:
            self._grid, self._fields = grid, {}
        key = grid.cell(float(a[0]), float(a[1]))
        f = self._fields.get(key)
        if f is None:
            if len(self._fields) >= self.max_cached:
                self._fields.pop(next(iter(self._fields)))
            f = self._fields[key] = distance_field(grid, (float(a[0]), float(a[1])))
        return f

    def __call__(self, a: tuple[float, float], b: tuple[float, float]) -> float | None:
        grid = self.grid()
        f = self.field(a)
        g = (float(b[0]), float(b[1]))
        if not grid.is_free(*g):
            near = grid.nearest_free(*g, 0.6)
            if near is None:
                return None
            g = near
        i, j = grid.cell(*g)
        if not grid.inside(i, j) or not math.isfinite(f[i, j]):
            return None
        return float(f[i, j])
