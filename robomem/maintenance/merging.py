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
(so ``changes()`` reports *moved*).  Each submodule does its own part through
the lifecycle interface: spatial merges the two object rows
(``merge_object``), temporal marks the re-identification, and every
submodule's ``remap_object(drop, keep)`` re-points its rows and its in-memory
index — one transaction, no reload, and no SQL here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from robomem.store.frames import FrameLog
from robomem.submodules.base import Changes, Submodule

if TYPE_CHECKING:
    from robomem.ingest.frame import Frame
    from robomem.submodules.spatial.memory import SpatialMemory
    from robomem.submodules.spatial.objects import ObjectRecord
    from robomem.submodules.temporal.memory import TemporalMemory

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


def place_seen_before(frames: FrameLog, point: np.ndarray, before: float) -> bool:
    """Did a camera look at ``point`` (within range and the central view cone) before ``before``?

    Then an object first seen there afterwards *appeared* (occlusion is not modelled)."""
    a = frames.poses_near(float(point[0]), float(point[1]), VIEW_RANGE_M, before)
    if len(a) == 0:
        return False
    qx, qy, qz, qw = a[:, 3], a[:, 4], a[:, 5], a[:, 6]
    fwd = np.stack([2 * (qx * qz + qy * qw), 2 * (qy * qz - qx * qw), 1 - 2 * (qx * qx + qy * qy)], axis=1)
    to = np.asarray(point, dtype=np.float64)[None, :3] - a[:, :3]
    dist = np.linalg.norm(to, axis=1)
    ok = (dist > 0.3) & (dist < VIEW_RANGE_M)
    cosang = np.einsum("ij,ij->i", fwd, to) / np.maximum(dist, 1e-9)
    return bool(np.any(ok & (cosang >= np.cos(VIEW_HALF_ANGLE))))


def overlap_duplicate(
    object_id: int, overlaps: Sequence[tuple[int, float]], seen_now: frozenset[int], threshold: float
) -> Merge | None:
    """The overlap rule: the first same-label neighbour (``overlaps``: id, share of the smaller one's
    voxels inside the other) past ``threshold`` that was not detected in this same frame (two segments
    of one frame are two objects: a stack of plates) is a duplicate; the older (lower) id is kept."""
    for other, fraction in overlaps:
        if other == object_id or other in seen_now:
            continue
        if fraction >= threshold:
            return Merge(min(object_id, other), max(object_id, other), "overlap")
    return None


def find_merges(spatial: SpatialMemory, frames: FrameLog, frame: Frame, reid_colour_threshold: float) -> list[Merge]:
    """Duplicates revealed by this (already committed) frame."""
    out: list[Merge] = []
    used: set[int] = set()
    # 1. moved: the absent object A and a same-label object B first seen after A's last sighting
    for a in frame.absences:
        A = spatial.get(a.object_id)
        if A is None or A.object_id in used:
            continue
        a_colour = np.asarray(A.colour) if A.colour is not None else None
        best: tuple[float, int] | None = None
        scored: list[tuple[float, int, ObjectRecord]] = []
        for j, B in enumerate(spatial.moved_candidates(A.object_id, used)):
            sim = _cos(a_colour, np.asarray(B.colour) if B.colour is not None else None)
            if sim is not None and sim < reid_colour_threshold:
                continue
            scored.append((0.5 if sim is None else sim, j, B))
        # best score first (ties: the first candidate); the view-history test (a query each) only until one passes
        for score, _j, B in sorted(scored, key=lambda t: (-t[0], t[1])):
            if place_seen_before(frames, np.asarray(B.centroid), B.first_seen):
                best = (score, B.object_id)
                break  # else B's spot was never looked at before: B may have been there all along
        if best is not None:
            out.append(Merge(A.object_id, best[1], "moved"))
            used |= {A.object_id, best[1]}
    # 2. overlap: a detected object and another same-label object occupying the same space
    for d in frame.detections:
        if d.object_id in used:
            continue
        m = overlap_duplicate(d.object_id, spatial.overlapping(d.object_id, used), frame.seen_ids, OVERLAP_DUPLICATE)
        if m is not None:
            out.append(m)
            used |= {m.keep, m.drop}
    return out


def merge_changes(
    spatial: SpatialMemory, temporal: TemporalMemory, submodules: Sequence[Submodule], merges: Sequence[Merge]
) -> Changes:
    """Everything of each dropped id becomes the kept one's, as one set of changes (one transaction)."""
    ch = Changes()
    for m in merges:
        ch.extend(spatial.merge_object(m.keep, m.drop, moved=m.reason == "moved"))
        if m.reason == "moved":
            ch.extend(temporal.mark_reidentified(m.drop))
        for sm in submodules:
            ch.extend(sm.remap_object(m.drop, m.keep))
    return ch
