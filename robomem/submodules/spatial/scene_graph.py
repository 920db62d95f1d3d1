"""The scene graph: objects, places, and relations computed from geometry.

Relations (subject -> object):
- ``on``: the subject's bottom rests on the other's top (within 8 cm) and most
  of its footprint lies over the other's footprint;
- ``in``: the subject's centroid is inside the other's box and it is smaller;
- ``near``: centroids closer than ``near_distance`` and no on/in between them;
- ``in_room``: object -> place containing its centroid.
It is computed on demand from the object map, so it is never stale.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from robomem.places import Places

if TYPE_CHECKING:
    from robomem.submodules.spatial.memory import ObjectRecord

ON_GAP = 0.08  # m


@dataclass(frozen=True)
class Relation:
    subject: int
    predicate: str
    object: int | str  # an object id, or a place name for in_room


@dataclass(frozen=True)
class SceneGraph:
    objects: tuple[ObjectRecord, ...]
    places: tuple[str, ...]
    relations: tuple[Relation, ...]

    def relations_of(self, object_id: int) -> list[Relation]:
        return [r for r in self.relations if r.subject == object_id or r.object == object_id]

    def to_dict(self) -> dict[str, Any]:
        return {
            "places": list(self.places),
            "objects": [o.to_dict() for o in self.objects],
            "relations": [{"subject": r.subject, "predicate": r.predicate, "object": r.object} for r in self.relations],
        }

    def to_json(self, indent: int = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent)


def _footprint_overlap(a_min: np.ndarray, a_max: np.ndarray, b_min: np.ndarray, b_max: np.ndarray) -> float:
    """Fraction of a's xy footprint that lies over b's."""
    w = max(0.0, min(a_max[0], b_max[0]) - max(a_min[0], b_min[0]))
    h = max(0.0, min(a_max[1], b_max[1]) - max(a_min[1], b_min[1]))
    area = max(1e-6, (a_max[0] - a_min[0]) * (a_max[1] - a_min[1]))
    return float(w * h / area)


def xy_overlap_pairs(mins: np.ndarray, maxs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every ordered pair (i, j), i != j, of boxes whose floor (x, y) extents overlap (closed intervals):
    a sweep over x (sorted box starts, each box's range of later starts before its end), then y; no pass of
    every box against every other."""
    n = len(mins)
    if n < 2:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    order = np.argsort(mins[:, 0], kind="stable")
    start = mins[order, 0]
    ends = np.searchsorted(start, maxs[order, 0], side="right")
    lens = np.maximum(ends - np.arange(1, n + 1), 0)
    first = np.repeat(np.arange(n), lens)
    second = np.repeat(np.arange(1, n + 1) - np.cumsum(lens) + lens, lens) + np.arange(int(lens.sum()))
    a, b = order[first], order[second]
    keep = (mins[a, 1] <= maxs[b, 1]) & (maxs[a, 1] >= mins[b, 1])
    a, b = a[keep], b[keep]
    return np.concatenate([a, b]), np.concatenate([b, a])


def pair_relation(a: ObjectRecord, b: ObjectRecord, near_distance: float) -> str | None:
    a_min, a_max = np.array(a.bbox_min), np.array(a.bbox_max)
    b_min, b_max = np.array(b.bbox_min), np.array(b.bbox_max)
    vol_a = float(np.prod(np.maximum(a_max - a_min, 1e-3)))
    vol_b = float(np.prod(np.maximum(b_max - b_min, 1e-3)))
    if (
        abs(a_min[2] - b_max[2]) <= ON_GAP
        and a.centroid[2] > b.centroid[2]
        and _footprint_overlap(a_min, a_max, b_min, b_max) >= 0.5
    ):
        return "on"
    c = np.array(a.centroid)
    if vol_a < vol_b and np.all(c >= b_min) and np.all(c <= b_max):
        return "in"
    if float(np.linalg.norm(np.array(a.centroid) - np.array(b.centroid))) <= near_distance:
        return "near"
    return None


def build_scene_graph(objects: list[ObjectRecord], places: Places, near_distance: float) -> SceneGraph:
    present = [o for o in objects if o.status != "absent"]
    rels: list[Relation] = []
    for o in present:
        if o.place:
            rels.append(Relation(o.object_id, "in_room", o.place))
    if present:
        cents = np.array([o.centroid for o in present])
        reach = near_distance + 2.0  # boxes of big furniture: look a bit farther than "near"
        for i, a in enumerate(present):
            d = np.linalg.norm(cents - cents[i], axis=1)
            for j in np.flatnonzero(d <= reach).tolist():
                if j == i:
                    continue
                b = present[j]
                r = pair_relation(a, b, near_distance)
                if r == "near" and a.object_id > b.object_id:
                    continue  # near is symmetric: keep one direction
                if r is not None:
                    rels.append(Relation(a.object_id, r, b.object_id))
    return SceneGraph(tuple(objects), tuple(places.names()), tuple(rels))
