"""One identity across robots: which fleet object a robot's object is (docs/architecture.md "Fleet memory").

A robot object gets its ``fleet_id`` the first time one of its frames is applied, under
``pg_advisory_xact_lock(IDENTITY_LOCK)`` (two robots applying at once cannot both create the same mug).  The
candidates are fleet objects within ``match_radius_m`` of its centroid in the shared map frame; a candidate
must name the same thing by the single-robot label rule (:mod:`robomem.qa.labels`: the same label, or one
holding at least ``MIN_SHARE`` of the other's votes, or a one-word head noun of it, after the same
normalisation and singular), and must not already stand for another live object of the same robot (that robot's memory
has decided they are two things: twins stay apart).  The nearest wins; without one, a new fleet object.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

from robomem.fleet.schema import SCHEMA
from robomem.qa.labels import MIN_SHARE, name_forms

__all__ = ["assign_fleet_id", "names_same_thing"]


def _normalised(labels: Mapping[str, float]) -> dict[str, float]:
    out: dict[str, float] = {}
    for k, v in labels.items():
        forms = name_forms(k)  # normalised, last word singular ("The Mugs" -> "mug")
        if not forms:
            continue
        n = forms[-1]
        out[n] = out.get(n, 0.0) + max(0.0, float(v))
    return out


def _top(labels: Mapping[str, float]) -> str:
    return max(labels.items(), key=lambda kv: (kv[1], kv[0]))[0] if labels else ""


def _share(labels: Mapping[str, float], name: str) -> float:
    total = sum(labels.values())
    return labels.get(name, 0.0) / total if total > 0 else 0.0


def names_same_thing(a: Mapping[str, float], b: Mapping[str, float]) -> bool:
    """Whether two label distributions (label -> votes) may be one object, by the single-robot label rule."""
    na, nb = _normalised(a), _normalised(b)
    ta, tb = _top(na), _top(nb)
    if not ta or not tb:
        return False
    if ta == tb or _share(nb, ta) >= MIN_SHARE or _share(na, tb) >= MIN_SHARE:
        return True
    # the head tier: a one-word name is the head noun of the other ("mug" / "red mug")
    return (" " not in ta and tb.split()[-1] == ta) or (" " not in tb and ta.split()[-1] == tb)


def _distance(a: Sequence[float], b: Sequence[float]) -> float:
    return math.sqrt(sum((float(x) - float(y)) ** 2 for x, y in zip(a, b, strict=True)))


def assign_fleet_id(conn: Any, robot_id: str, obj: Mapping[str, Any], radius: float) -> int:
    """The fleet id for robot object ``obj`` (a payload object); the caller holds the identity lock."""
    c = obj["centroid"]
    rows = conn.execute(
        f"SELECT f.fleet_id, f.labels, f.cx, f.cy, f.cz FROM {SCHEMA}.fleet_objects f "
        "WHERE f.cx BETWEEN %s AND %s AND f.cy BETWEEN %s AND %s AND NOT EXISTS ("
        f"  SELECT 1 FROM {SCHEMA}.robot_objects r WHERE r.fleet_id = f.fleet_id AND r.robot_id = %s"
        "   AND r.local_id <> %s AND r.merged_into IS NULL AND NOT r.forgotten)",
        (c[0] - radius, c[0] + radius, c[1] - radius, c[1] + radius, robot_id, int(obj["id"])),
    ).fetchall()
    best: tuple[float, int] | None = None
    for fleet_id, labels, cx, cy, cz in rows:
        d = _distance(c, (cx, cy, cz))
        if d > radius or not names_same_thing(obj["labels"], labels):
            continue
        if best is None or d < best[0]:
            best = (d, int(fleet_id))
    if best is not None:
        return best[1]
    lo, hi = obj["bbox_min"], obj["bbox_max"]
    row = conn.execute(
        f"INSERT INTO {SCHEMA}.fleet_objects(label, labels, cx, cy, cz, bmin_x, bmin_y, bmin_z, bmax_x, bmax_y, "
        "bmax_z, n_obs, first_seen, last_seen, last_robot, place, status, status_since, status_robot) "
        "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, 'present', %s, %s) RETURNING fleet_id",
        (
            obj["label"],
            json.dumps(obj["labels"]),
            *c,
            *lo,
            *hi,
            int(obj["n_obs"]),
            float(obj["first_seen"]),
            float(obj["last_seen"]),
            robot_id,
            obj.get("place"),
            float(obj["first_seen"]),
            robot_id,
        ),
    ).fetchone()
    return int(row[0])
