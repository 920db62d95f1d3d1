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

At scale (10^5..10^6 objects, a few hundred labels) one absent object has thousands of same-label
candidates.  They come as arrays, built once per change of their label (``ObjectIndex.label_gen``),
and are scored at once; whether a camera looked at each one's spot before it was first seen is
answered for all of them from a floor grid of camera poses that a :class:`MoveSearch` (one per open
memory) reads from the frame log once and then extends frame by frame, never a query per candidate.
An absent object whose search found nothing is not searched again until its label's objects change
(frames come in time order, so later frames cannot change the answer; a frame older than the newest
one, from a lagging robot, forgets that).
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
    from robomem.submodules.spatial.index import MovedCandidates
    from robomem.submodules.spatial.memory import SpatialMemory
    from robomem.submodules.temporal.memory import TemporalMemory

OVERLAP_DUPLICATE = 0.6  # share of the smaller object's coarse voxels inside the other one


@dataclass(frozen=True)
class Merge:
    keep: int
    drop: int
    reason: str  # "moved" | "overlap"


VIEW_RANGE_M = 4.0
# Two camera views this close (metres of position, and of the unit forward vector: ~3 degrees) are one view
# for "was this spot looked at before": far below the view cone's 30 degrees and the 0.3 m near limit.
POSE_QUANTUM = 0.05
VIEW_HALF_ANGLE = np.deg2rad(30.0)


def _forward(q: np.ndarray) -> np.ndarray:
    """Optical axis (camera +z) of rows of quaternions (qx, qy, qz, qw)."""
    qx, qy, qz, qw = q[:, 0], q[:, 1], q[:, 2], q[:, 3]
    return np.stack([2 * (qx * qz + qy * qw), 2 * (qy * qz - qx * qw), 1 - 2 * (qx * qx + qy * qy)], axis=1)


def _any_view(p: np.ndarray, before: np.ndarray, poses: np.ndarray) -> np.ndarray:
    """For each point ``p[k]``: does a pose row (stamp, x, y, z, forward xyz) earlier than ``before[k]`` have it
    in range (0.3 m .. ``VIEW_RANGE_M``) and within ``VIEW_HALF_ANGLE`` of its optical axis?"""
    ok = (poses[None, :, 0] < before[:, None]) & (np.abs(poses[None, :, 1] - p[:, None, 0]) <= VIEW_RANGE_M)
    ok &= np.abs(poses[None, :, 2] - p[:, None, 1]) <= VIEW_RANGE_M
    to = p[:, None, :] - poses[None, :, 1:4]
    dist = np.linalg.norm(to, axis=2)
    ok &= (dist > 0.3) & (dist < VIEW_RANGE_M)
    ok &= np.einsum("kpj,pj->kp", to, poses[:, 4:7]) >= np.cos(VIEW_HALF_ANGLE) * np.maximum(dist, 1e-9)
    return ok.any(axis=1)


def place_seen_before(frames: FrameLog, point: np.ndarray, before: float) -> bool:
    """Did a camera look at ``point`` (within range and the central view cone) before ``before``?

    Then an object first seen there afterwards *appeared* (occlusion is not modelled)."""
    a = frames.poses_near(float(point[0]), float(point[1]), VIEW_RANGE_M, before)  # frames before it (SQL)
    if len(a) == 0:
        return False
    poses = np.column_stack([np.full(len(a), -np.inf), a[:, :3], _forward(a[:, 3:7])])
    p = np.asarray(point, dtype=np.float64).reshape(1, -1)[:, :3]
    return bool(_any_view(p, np.array([float(before)]), poses)[0])


class MoveSearch:
    """What the moved-object rule learnt in earlier frames (see the module docstring); one per open memory.

    The camera poses are read from the frame log once and then kept in a floor grid of ``VIEW_RANGE_M``
    cells, each new frame added as it is noted: whether a camera looked at a spot before a time is then
    answered for every candidate at once, from the poses of the 3x3 cells around it, as
    :func:`place_seen_before` answers it (frames the budget forgot since stay: they were looked through)."""

    def __init__(self, max_entries: int = 200_000) -> None:
        self.max_entries = int(max_entries)
        self._failed: dict[int, tuple[object, ...]] = {}  # absent id -> the candidates' key it found none under
        self._newest = -np.inf
        # cell -> (rows (stamp, x, y, z, forward xyz), rows in use); None until the log is read
        self._cells: dict[tuple[int, int], tuple[np.ndarray, int]] | None = None
        self._views: dict[tuple[int, ...], tuple[tuple[int, int], int]] = {}  # quantised view -> (cell, row)
        self._earliest = np.inf  # the earliest stamp of a view held: no point first seen until then was seen before
        # label -> answers of seen_before kept (ids ascending, centroids, first sightings, answers)
        self._kept: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = {}
        self._kept_n = 0
        self.reads = 0  # frame-log reads made (for tests and benchmarks)
        self.decided = 0  # points whose seen_before was computed, not taken from an earlier answer

    def _cell(self, x: float, y: float) -> tuple[int, int]:
        return (int(np.floor(x / VIEW_RANGE_M)), int(np.floor(y / VIEW_RANGE_M)))

    def _add(self, rows: np.ndarray) -> None:
        assert self._cells is not None
        if len(rows):
            self._earliest = min(self._earliest, float(rows[:, 0].min()))
        for r in rows:
            # a view already held (same spot and direction within POSE_QUANTUM) keeps its earliest stamp
            # instead of adding a row: the grid grows with the views taken, not with the frames (a row a
            # frame grew 2 MB an hour at 10 Hz on a patrol, without bound)
            view = tuple(np.round(r[1:7] / POSE_QUANTUM).astype(np.int64).tolist())
            at = self._views.get(view)
            if at is not None:
                cell, i = at
                buf, _n = self._cells[cell]
                buf[i, 0] = min(buf[i, 0], r[0])
                continue
            key = self._cell(r[1], r[2])
            buf, n = self._cells.get(key, (np.zeros((4, 7)), 0))
            if n == len(buf):  # amortised growth: a robot adds a row a new view to the cell it is in
                buf = np.concatenate([buf, np.zeros_like(buf)])
            buf[n] = r
            self._cells[key] = (buf, n + 1)
            self._views[view] = (key, n)

    def views(self) -> int:
        """Camera views held (distinct up to ``POSE_QUANTUM``); 0 before the frame log is read."""
        return len(self._views)

    def note_frame(self, stamp: float, position: np.ndarray, quat_xyzw: np.ndarray) -> None:
        """A frame was stored (before the duplicates it revealed are looked for)."""
        if stamp < self._newest:  # a frame from the past may have looked at any spot: search again
            self._failed.clear()
            self._kept.clear()
            self._kept_n = 0
        self._newest = max(self._newest, float(stamp))
        if len(self._failed) > self.max_entries:
            self._failed.clear()
        q = np.asarray(quat_xyzw, dtype=np.float64).reshape(1, 4)
        row = np.concatenate([[float(stamp)], np.asarray(position, dtype=np.float64)[:3], _forward(q)[0]])
        if self._cells is not None:  # else it is read with the rest of the log (it is stored already)
            self._add(row[None, :])

    def failed_before(self, absent_id: int, key: tuple[object, ...] | None) -> bool:
        return key is not None and self._failed.get(absent_id) == key

    def failed(self, absent_id: int, key: tuple[object, ...] | None) -> None:
        if key is not None:
            self._failed[absent_id] = key

    def _load(self, frames: FrameLog) -> None:
        a = frames.poses()
        self.reads += 1
        self._cells, self._views, self._earliest = {}, {}, np.inf
        stored = np.column_stack([a[:, :4], _forward(a[:, 4:8])]) if len(a) else np.zeros((0, 7))
        self._add(stored)

    def seen_before_kept(
        self, frames: FrameLog, label: str, ids: np.ndarray, centroids: np.ndarray, first_seen: np.ndarray
    ) -> np.ndarray:
        """:meth:`seen_before` for objects (``ids``, of top label ``label``), each answer taken from an earlier
        one for the same id at the same centroid and first sighting where there is one.  Frames come in time
        order, so a later frame (not earlier than the newest noted) cannot change an answer for a time not
        after the newest frame; a frame from the past forgets them all (:meth:`note_frame`)."""
        if self._cells is None:
            self._load(frames)
        ids = np.asarray(ids, dtype=np.int64).reshape(-1)
        pts = np.asarray(centroids, dtype=np.float64).reshape(-1, 3)
        before = np.asarray(first_seen, dtype=np.float64).reshape(-1)
        out = np.zeros(len(ids), dtype=bool)
        hit = before <= self._earliest  # answered without geometry (seen_before), nothing to keep
        kept = self._kept.get(label)
        if kept is not None and len(kept[0]) and len(ids):
            k_ids, k_pts, k_before, k_seen = kept
            pos = np.minimum(np.searchsorted(k_ids, ids), len(k_ids) - 1)
            known = (k_ids[pos] == ids) & (k_before[pos] == before) & np.all(k_pts[pos] == pts, axis=1) & ~hit
            out[known] = k_seen[pos[known]]
            hit |= known
        miss = np.flatnonzero(~hit)
        if not len(miss):
            return out
        out[miss] = self.seen_before(frames, pts[miss], before[miss])
        self.decided += len(miss)
        final = miss[before[miss] <= self._newest]  # answers no later frame can change
        if len(final):
            if self._kept_n + len(final) > self.max_entries:
                self._kept.clear()
                self._kept_n = 0
                kept = None
            new = (ids[final], pts[final], before[final], out[final])
            if kept is not None:
                old = ~np.isin(kept[0], new[0])
                new = tuple(np.concatenate([k[old], n]) for k, n in zip(kept, new, strict=True))  # type: ignore[assignment]
                self._kept_n -= len(kept[0])
            order = np.argsort(new[0], kind="stable")
            self._kept[label] = (new[0][order], new[1][order], new[2][order], new[3][order])
            self._kept_n += len(order)
        return out

    def seen_before(self, frames: FrameLog, centroids: np.ndarray, first_seen: np.ndarray) -> np.ndarray:
        """For each point: did a camera look at it (within range and the central view cone) before its time?"""
        if self._cells is None:
            self._load(frames)
        assert self._cells is not None
        pts = np.asarray(centroids, dtype=np.float64).reshape(-1, 3)
        before = np.asarray(first_seen, dtype=np.float64).reshape(-1)
        out = np.zeros(len(pts), dtype=bool)
        # a point first seen no later than every view held cannot have been seen before (a store's objects
        # from before its frame log, or from before the views the robot took near them): no geometry
        live = np.flatnonzero(before > self._earliest)
        if not len(live) or not self._cells:
            return out
        cx = np.full(len(pts), np.iinfo(np.int64).min // 2)
        cy = cx.copy()
        cx[live] = np.floor(pts[live, 0] / VIEW_RANGE_M).astype(np.int64)
        cy[live] = np.floor(pts[live, 1] / VIEW_RANGE_M).astype(np.int64)
        # visit only the pose cells next to a point's cell (the cost follows the points, not the area the robot
        # has covered), each with the points in it and its 8 neighbours
        occupied = np.unique(np.column_stack([cx[live], cy[live]]), axis=0).tolist()
        around = {(i + di, j + dj) for i, j in occupied for di in (-1, 0, 1) for dj in (-1, 0, 1)}
        for i, j in sorted(around & self._cells.keys()):
            buf, n = self._cells[(i, j)]
            poses = buf[:n]
            near = np.flatnonzero((np.abs(cx - i) <= 1) & (np.abs(cy - j) <= 1) & ~out & (before > poses[:, 0].min()))
            if not len(near):
                continue
            step = max(1, 1_000_000 // len(poses))  # a robot that stood still: bounded temporaries
            for s in range(0, len(near), step):
                grp = near[s : s + step]
                out[grp] |= _any_view(pts[grp], before[grp], poses)
        return out


def _ranked(colour: object, c: MovedCandidates, threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """Candidates by the moved rule's score, best first (ties: id order): colour cosine where both colours
    are known (below ``threshold``: not the same object, left out), 0.5 where either is not."""
    scores = np.full(len(c.ids), 0.5)
    ok = np.ones(len(c.ids), dtype=bool)
    if colour is not None and len(c.ids):
        a = np.asarray(colour, dtype=np.float64)
        na = float(np.linalg.norm(a))
        nb = np.linalg.norm(c.colours, axis=1)
        known = np.isfinite(nb) & (nb > 0) & (na > 0)
        sim = np.where(known, (c.colours @ a) / np.maximum(na * np.where(known, nb, 1.0), 1e-300), 0.5)
        scores = np.where(known, sim, 0.5)
        ok = ~known | (sim >= threshold)
    idx = np.flatnonzero(ok)
    return idx[np.argsort(-scores[idx], kind="stable")], scores


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


def find_merges(
    spatial: SpatialMemory,
    frames: FrameLog,
    frame: Frame,
    reid_colour_threshold: float,
    search: MoveSearch,
) -> list[Merge]:
    """Duplicates revealed by this (already committed) frame.  ``search``: the memory's :class:`MoveSearch`
    (kept across frames: it reads the frame log once per open)."""
    out: list[Merge] = []
    used: set[int] = set()
    obs = frame.observation
    search.note_frame(obs.stamp, obs.pose.position, obs.pose.quat_xyzw())
    # 1. moved: the absent object A and a same-label object B first seen after A's last sighting
    for a in frame.absences:
        A = spatial.get(a.object_id)
        if A is None or A.object_id in used:
            continue
        # only candidates whose spot was looked at before they were first seen (else they may have been there
        # all along): answered for all of them at once, most from earlier frames' answers; only their colours
        # are read
        label = A.label
        key, candidates = spatial.moved_candidates(
            A.object_id, where=lambda ids, c, f, lab=label: search.seen_before_kept(frames, lab, ids, c, f)
        )
        key = None if key is None else (*key, reid_colour_threshold)
        if search.failed_before(A.object_id, key):
            continue  # searched in an earlier frame, found nothing, and none of its label's objects changed
        best: tuple[float, int] | None = None
        order, scores = _ranked(A.colour, candidates, reid_colour_threshold)
        skipped = False
        if used and len(order):
            free = ~np.isin(candidates.ids[order], np.fromiter(used, dtype=np.int64, count=len(used)))
            skipped = not bool(free.all())
            order = order[free]
        if len(order):  # the best score (ties: the lower id)
            j = int(order[0])
            best = (float(scores[j]), int(candidates.ids[j]))
        if best is not None:
            out.append(Merge(A.object_id, best[1], "moved"))
            used |= {A.object_id, best[1]}
        elif not skipped:  # a candidate taken by another merge this frame may be free next time: ask again
            search.failed(A.object_id, key)
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
