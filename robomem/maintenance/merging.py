"""Merging duplicate objects: one physical object, one id, in all four submodules.

Association gives a new id to a segment that overlaps nothing known.  When an
object moved and the robot sees its *new* place before looking at the old one,
that new id is a duplicate of the old object.  It is found when the old place
is later seen empty (an observed absence): an object with the same label and
a matching colour signature that was first seen only *after* the absent
object's last sighting (so the two were never seen at once) is the same
object, moved.  Two objects of the same label whose point clouds overlap
heavily (a split association) are duplicates too.

The merge keeps the older id: the survivor takes the duplicate's geometry
(its current place), both label distributions and counts; every sighting,
absence, keyframe link, fact and episode reference is re-pointed in one
transaction, the first re-pointed sighting is marked as a re-identification
(so ``changes()`` reports *moved*), and the submodules reload their indexes.
Merges are rare, so the reload is cheap in practice.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from robomem.ingest.association import overlap_fraction
from robomem.ingest.geometry import bbox_overlap_mask

if TYPE_CHECKING:
    from robomem.ingest.frame import Frame
    from robomem.memory import Memory

OVERLAP_DUPLICATE = 0.6  # share of the smaller object's coarse voxels inside the other one


@dataclass(frozen=True)
class Merge:
    keep: int
    drop: int
    reason: str  # "moved" | "overlap"


def _cos(a: np.ndarray | None, b: np.ndarray | None) -> float | None:
    if a is None or b is None:
        return None
    na, nb = float(np.linalg.norm(a)), float(np.linalg.norm(b))
    return float(np.dot(a, b) / (na * nb)) if na > 0 and nb > 0 else None


VIEW_RANGE_M = 4.0
VIEW_HALF_ANGLE = np.deg2rad(30.0)


def place_seen_before(memory: Memory, point: np.ndarray, before: float) -> bool:
    """Did a camera look at ``point`` (within range and the central view cone) before ``before``?

    Then an object first seen there afterwards *appeared* (occlusion is not modelled)."""
    x, y = float(point[0]), float(point[1])
    rows = (
        memory.store.read()
        .execute(
            "SELECT x, y, z, qx, qy, qz, qw FROM frames WHERE stamp < ? AND x BETWEEN ? AND ? AND y BETWEEN ? AND ?",
            (before, x - VIEW_RANGE_M, x + VIEW_RANGE_M, y - VIEW_RANGE_M, y + VIEW_RANGE_M),
        )
        .fetchall()
    )
    if not rows:
        return False
    a = np.asarray(rows, dtype=np.float64)
    qx, qy, qz, qw = a[:, 3], a[:, 4], a[:, 5], a[:, 6]
    fwd = np.stack([2 * (qx * qz + qy * qw), 2 * (qy * qz - qx * qw), 1 - 2 * (qx * qx + qy * qy)], axis=1)
    to = np.asarray(point, dtype=np.float64)[None, :3] - a[:, :3]
    dist = np.linalg.norm(to, axis=1)
    ok = (dist > 0.3) & (dist < VIEW_RANGE_M)
    cosang = np.einsum("ij,ij->i", fwd, to) / np.maximum(dist, 1e-9)
    return bool(np.any(ok & (cosang >= np.cos(VIEW_HALF_ANGLE))))


def find_merges(memory: Memory, frame: Frame) -> list[Merge]:
    """Duplicates revealed by this (already committed) frame."""
    sp = memory.spatial
    cfg = memory.config.spatial
    objs = sp._objs  # noqa: SLF001 - the spatial index is the source of truth for geometry
    out: list[Merge] = []
    used: set[int] = set()
    # 1. moved: the absent object A and a same-label object B first seen after A's last sighting
    for a in frame.absences:
        A = objs.get(a.object_id)
        if A is None or A.id in used:
            continue
        best: tuple[float, int] | None = None
        for B in objs.values():
            if B.id == A.id or B.id in used or B.status == "absent" or B.label != A.label:
                continue
            if B.first_seen <= A.last_seen:
                continue  # seen while A was still known at its place: two objects
            if not place_seen_before(memory, B.centroid, B.first_seen):
                continue  # B's spot was never looked at before: B may have been there all along
            sim = _cos(A.colour, B.colour)
            if sim is not None and sim < cfg.reid_colour_threshold:
                continue
            score = 0.5 if sim is None else sim
            if best is None or score > best[0]:
                best = (score, B.id)
        if best is not None:
            out.append(Merge(A.id, best[1], "moved"))
            used |= {A.id, best[1]}
    # 2. overlap: a detected object and another same-label object occupying the same space
    #    (candidates by a vectorised box test: this runs on every update)
    mins, maxs, _cents, ids = sp._object_arrays()  # noqa: SLF001
    for d in frame.detections:
        X = objs.get(d.object_id)
        if X is None or X.id in used:
            continue
        for j in np.flatnonzero(bbox_overlap_mask(mins, maxs, X.bbox_min, X.bbox_max, 0.0)).tolist():
            Y = objs.get(ids[j])
            if Y is None or Y.id == X.id or Y.id in used or Y.label != X.label or Y.status == "absent":
                continue
            if Y.id in frame.seen_ids:
                continue  # two segments in one frame are two objects (a stack of plates)
            small, big = (X, Y) if len(X.keys) <= len(Y.keys) else (Y, X)
            if overlap_fraction(small.keys, big.keys) >= OVERLAP_DUPLICATE:
                keep, drop = (X, Y) if X.id < Y.id else (Y, X)
                out.append(Merge(keep.id, drop.id, "overlap"))
                used |= {X.id, Y.id}
                break
    return out


def apply_merges(memory: Memory, merges: list[Merge]) -> None:
    """Re-point everything of each dropped id to the kept one, in one transaction; reload indexes."""
    if not merges:
        return
    with memory.store.transaction() as conn:
        for m in merges:
            _merge_rows(conn, m)
    for sm in memory.submodules:
        sm.load()


def _merge_rows(conn: sqlite3.Connection, m: Merge) -> None:
    keep, drop = m.keep, m.drop
    k = conn.execute("SELECT labels, n_obs, first_seen, retrieved FROM objects WHERE id=?", (keep,)).fetchone()
    d = conn.execute("SELECT labels, n_obs, first_seen, retrieved FROM objects WHERE id=?", (drop,)).fetchone()
    if k is None or d is None:
        return
    labels = json.loads(k[0])
    for lab, w in json.loads(d[0]).items():
        labels[lab] = labels.get(lab, 0.0) + w
    top = max(labels.items(), key=lambda kv: (kv[1], kv[0]))[0]
    if m.reason == "moved":
        # the survivor is where the duplicate is now: take its geometry and state
        conn.execute(
            "UPDATE objects SET (cx, cy, cz, minx, miny, minz, maxx, maxy, maxz, last_seen, colour, embedding,"
            " points, place, status) = (SELECT cx, cy, cz, minx, miny, minz, maxx, maxy, maxz, last_seen, colour,"
            " embedding, points, place, status FROM objects WHERE id=?) WHERE id=?",
            (drop, keep),
        )
    conn.execute(
        "UPDATE objects SET label=?, labels=?, n_obs=?, first_seen=?, retrieved=? WHERE id=?",
        (top, json.dumps(labels), k[1] + d[1], min(k[2], d[2]), k[3] + d[3], keep),
    )
    conn.execute("DELETE FROM objects WHERE id=?", (drop,))
    first = conn.execute("SELECT MIN(id) FROM sightings WHERE object_id=?", (drop,)).fetchone()[0]
    conn.execute("UPDATE sightings SET object_id=? WHERE object_id=?", (keep, drop))
    if m.reason == "moved" and first is not None:
        conn.execute("UPDATE sightings SET reid=1 WHERE id=?", (first,))
    conn.execute("UPDATE absences SET object_id=? WHERE object_id=?", (keep, drop))
    conn.execute("UPDATE OR IGNORE snapshot_objects SET object_id=? WHERE object_id=?", (keep, drop))
    conn.execute("DELETE FROM snapshot_objects WHERE object_id=?", (drop,))
    ks, ds = f"object:{keep}", f"object:{drop}"
    conn.execute("UPDATE facts SET subject=? WHERE subject=?", (ks, ds))
    conn.execute("UPDATE facts SET object=? WHERE object=?", (ks, ds))
    conn.execute("DELETE FROM entities WHERE id=?", (ds,))
    for eid, ids in conn.execute("SELECT id, object_ids FROM episodes").fetchall():
        lst = json.loads(ids)
        if drop in lst:
            new = sorted({keep if i == drop else i for i in lst})
            conn.execute("UPDATE episodes SET object_ids=? WHERE id=?", (json.dumps(new), eid))
