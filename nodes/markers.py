"""The scene graph as RViz markers, as plain data (converted to visualization_msgs in the node).

One namespace per kind so RViz can toggle them: ``objects`` (a CUBE per object box,
coloured by place), ``labels`` (TEXT_VIEW_FACING above each box), ``relations``
(a LINE_LIST between related objects' centroids: on = green, in = blue, near = grey).
Absent objects are drawn translucent red.
"""

from __future__ import annotations

import colorsys
import hashlib
from dataclasses import dataclass

from robomem.submodules.spatial.scene_graph import SceneGraph

RELATION_COLOURS = {"on": (0.1, 0.8, 0.1, 0.9), "in": (0.1, 0.3, 0.9, 0.9), "near": (0.6, 0.6, 0.6, 0.5)}
CUBE, LINE_LIST, TEXT = 1, 5, 9  # visualization_msgs/Marker type constants


@dataclass(frozen=True)
class MarkerSpec:
    ns: str
    id: int
    type: int
    position: tuple[float, float, float]
    scale: tuple[float, float, float]
    colour: tuple[float, float, float, float]
    text: str = ""
    points: tuple[tuple[float, float, float], ...] = ()


def place_colour(place: str | None) -> tuple[float, float, float, float]:
    if not place:
        return (0.8, 0.8, 0.8, 0.8)
    h = int.from_bytes(hashlib.blake2b(place.encode(), digest_size=2).digest(), "little") / 65535.0
    r, g, b = colorsys.hsv_to_rgb(h, 0.65, 0.9)
    return (r, g, b, 0.8)


def scene_graph_markers(graph: SceneGraph) -> list[MarkerSpec]:
    out: list[MarkerSpec] = []
    cents = {}
    for o in graph.objects:
        lo, hi = o.bbox_min, o.bbox_max
        centre = tuple((a + b) / 2 for a, b in zip(lo, hi, strict=True))
        size = tuple(max(0.02, b - a) for a, b in zip(lo, hi, strict=True))
        colour = (0.9, 0.1, 0.1, 0.3) if o.status == "absent" else place_colour(o.place)
        cents[o.object_id] = o.centroid
        out.append(MarkerSpec("objects", o.object_id, CUBE, centre, size, colour))  # type: ignore[arg-type]
        text = f"{o.label} #{o.object_id}" + (" (absent)" if o.status == "absent" else "")
        out.append(
            MarkerSpec(
                "labels",
                o.object_id,
                TEXT,
                (centre[0], centre[1], hi[2] + 0.12),
                (0.0, 0.0, 0.12),
                (1.0, 1.0, 1.0, 1.0),
                text,
            )
        )
    for pred, colour in RELATION_COLOURS.items():
        pts: list[tuple[float, float, float]] = []
        for r in graph.relations:
            if r.predicate == pred and isinstance(r.object, int) and r.subject in cents and r.object in cents:
                pts += [cents[r.subject], cents[r.object]]
        if pts:
            out.append(
                MarkerSpec(
                    "relations", len(out), LINE_LIST, (0.0, 0.0, 0.0), (0.01, 0.0, 0.0), colour, pred, tuple(pts)
                )
            )
    return out
