"""2D occupancy grid and A* shortest paths for the camera agent (a disc of radius r)."""

from __future__ import annotations

import heapq
import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

__all__ = ["OccupancyGrid", "Rect"]

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

    def cell(self, x: float, y: float) -> tuple[int, int]:
        return int((y - self.lo[1]) / self.resolution), int((x - self.lo[0]) / self.resolution)

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
