"""Places (rooms, areas) as named 2D boxes in the world frame.

A robot's semantic map, a simulator's room layout or a user's YAML gives
them; memory uses them to say *where* in human terms ("kitchen") and as
semantic-graph entities.  Without places, answers fall back to coordinates.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Place:
    name: str
    min_xy: tuple[float, float]
    max_xy: tuple[float, float]

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip():
            raise ValueError(f"Place.name: must be a non-empty string, got {self.name!r}")
        lo = tuple(float(v) for v in self.min_xy)
        hi = tuple(float(v) for v in self.max_xy)
        if len(lo) != 2 or len(hi) != 2 or not all(math.isfinite(v) for v in lo + hi):
            raise ValueError(f"Place {self.name!r}: min_xy and max_xy must be 2 finite numbers each")
        if lo[0] >= hi[0] or lo[1] >= hi[1]:
            raise ValueError(f"Place {self.name!r}: min_xy {lo} must be below max_xy {hi}")
        object.__setattr__(self, "min_xy", lo)
        object.__setattr__(self, "max_xy", hi)

    def contains(self, x: float, y: float) -> bool:
        return self.min_xy[0] <= x <= self.max_xy[0] and self.min_xy[1] <= y <= self.max_xy[1]

    @property
    def centre(self) -> tuple[float, float]:
        return ((self.min_xy[0] + self.max_xy[0]) / 2, (self.min_xy[1] + self.max_xy[1]) / 2)


class Places:
    """An immutable set of places; first match wins for overlapping boxes."""

    def __init__(self, places: Iterable[Place] = ()) -> None:
        if isinstance(places, (str, bytes, Place)):
            raise ValueError(f"places: expected an iterable of Place, got {type(places).__name__}")
        self.places: tuple[Place, ...] = tuple(places)
        for i, p in enumerate(self.places):
            if not isinstance(p, Place):
                raise ValueError(
                    f"places[{i}]: expected a robomem.Place(name, min_xy, max_xy), got {type(p).__name__} {str(p)[:60]}"
                )
        names = [p.name for p in self.places]
        if len(set(names)) != len(names):
            raise ValueError(f"places: duplicate names in {names}")
        self._lo = np.array([p.min_xy for p in self.places], dtype=np.float64).reshape(-1, 2)
        self._hi = np.array([p.max_xy for p in self.places], dtype=np.float64).reshape(-1, 2)

    def __len__(self) -> int:
        return len(self.places)

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self.places)

    def names(self) -> list[str]:
        return [p.name for p in self.places]

    def get(self, name: str) -> Place | None:
        for p in self.places:
            if p.name == name:
                return p
        return None

    def locate(self, point: Sequence[float] | np.ndarray) -> str | None:
        if not self.places:
            return None
        x, y = float(point[0]), float(point[1])
        inside = (self._lo[:, 0] <= x) & (x <= self._hi[:, 0]) & (self._lo[:, 1] <= y) & (y <= self._hi[:, 1])
        idx = np.flatnonzero(inside)
        return self.places[int(idx[0])].name if len(idx) else None
