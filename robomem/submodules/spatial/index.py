"""The object index: per-object arrays kept in slots, and a voxel-hash grid of boxes.

Every remembered object has one *slot*: a row of the arrays (box, centroid, first/last seen,
sightings, label, absent flag).  An update writes only the rows of the objects it changed; a
removed object's slot is freed and reused.  Nothing is rebuilt per frame.

The grid hashes the floor-plane cells (``cell`` metres square) that an object's box covers to
the slots in them; a box that covers more than ``max_cells`` cells is kept in a short list that
every query also checks.  Box, radius and region queries visit only the cells they touch, then
test the exact geometry on those rows, vectorised; a query that would touch more cells than
there are objects scans the arrays instead.  The labels are interned (``label_idx``: an
append-only vocabulary, so a per-text relevance over it only ever grows at the end), with the
slots of each object's top label (``by_label``), of each label of its distribution
(``members``), and of the absent objects of each top label (``absent_by_label``).  ``label_gen``
says when the objects of a top label last changed (added, removed, moved, re-labelled, marked
absent or present): what was decided about that label's objects still holds while it is unchanged.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from itertools import chain

import numpy as np


@dataclass(frozen=True)
class IndexedObject:
    """What the index keeps of one object."""

    object_id: int
    bbox_min: np.ndarray
    bbox_max: np.ndarray
    centroid: np.ndarray
    first_seen: float
    last_seen: float
    n_obs: int
    label: str
    labels: tuple[str, ...]
    absent: bool


@dataclass(frozen=True)
class MovedCandidates:
    """What the moved-object rule (maintenance.merging) reads of the candidates, as arrays in id order: no
    record each, as at 10^6 objects one label has thousands.  ``colours`` rows are NaN where unknown."""

    ids: np.ndarray  # (k,) int64
    centroids: np.ndarray  # (k, 3)
    first_seen: np.ndarray  # (k,)
    colours: np.ndarray  # (k, 3)


class ObjectIndex:
    def __init__(self, cell: float = 1.0, max_cells: int = 64, capacity: int = 1024) -> None:
        if not (cell > 0 and math.isfinite(cell)):
            raise ValueError(f"ObjectIndex.cell: expected a positive number of metres, got {cell!r}")
        if max_cells < 1:
            raise ValueError(f"ObjectIndex.max_cells: expected >= 1, got {max_cells!r}")
        self.cell = float(cell)
        self.max_cells = int(max_cells)
        cap = max(16, int(capacity))
        self.ids = np.full(cap, -1, dtype=np.int64)
        self.mins = np.zeros((cap, 3))
        self.maxs = np.zeros((cap, 3))
        self.cents = np.zeros((cap, 3))
        self.first_seen = np.zeros(cap)
        self.last_seen = np.zeros(cap)
        self.n_obs = np.zeros(cap)
        self.lab_idx = np.zeros(cap, dtype=np.int64)
        self.absent = np.zeros(cap, dtype=bool)
        self.active = np.zeros(cap, dtype=bool)
        self.vocab: list[str] = []
        self._vocab_pos: dict[str, int] = {}
        self.slot_of: dict[int, int] = {}
        self._free: list[int] = []
        self._top = 0  # slots [0, top) have been used
        self._grid: dict[tuple[int, int], set[int]] = {}
        self._big: set[int] = set()
        self._hooked = np.zeros(cap, dtype=bool)  # in the grid and label sets (cells found again from the box)
        # the labels of a slot's distribution when there are others than its top label (most objects have one)
        self._multi: dict[int, tuple[str, ...]] = {}
        self.by_label: dict[str, set[int]] = {}
        self.members: dict[str, set[int]] = {}
        self.absent_by_label: dict[str, set[int]] = {}
        self.version = 0  # bumped by every change
        self.label_version = 0  # bumped when an object is added, removed or changes its top label
        self.label_gen: dict[str, int] = {}  # top label -> generation of its last change (see the docstring)
        # (label_version after it, object id, its label if the change added an object, else None): lets a
        # reader extend what it built at an older label_version instead of rebuilding it; the last 4096
        self.label_log: list[tuple[int, int, str | None]] = []
        self._gen = 0

    def __len__(self) -> int:
        return len(self.slot_of)

    @property
    def top(self) -> int:
        return self._top

    # -- writing ---------------------------------------------------------------------
    def _grow(self, cap: int = 0) -> None:
        cap = max(cap, 2 * len(self.ids))
        for name in ("mins", "maxs", "cents"):
            old = getattr(self, name)
            new = np.zeros((cap, 3))
            new[: len(old)] = old
            setattr(self, name, new)
        for name, fill in (("first_seen", 0.0), ("last_seen", 0.0), ("n_obs", 0.0)):
            old = getattr(self, name)
            new = np.full(cap, fill)
            new[: len(old)] = old
            setattr(self, name, new)
        for name, dtype, fill in (("ids", np.int64, -1), ("lab_idx", np.int64, 0)):
            old = getattr(self, name)
            new = np.full(cap, fill, dtype=dtype)
            new[: len(old)] = old
            setattr(self, name, new)
        for name in ("absent", "active", "_hooked"):
            old = getattr(self, name)
            new = np.zeros(cap, dtype=bool)
            new[: len(old)] = old
            setattr(self, name, new)

    def label_id(self, label: str) -> int:
        j = self._vocab_pos.get(label)
        if j is None:
            j = len(self.vocab)
            self.vocab.append(label)
            self._vocab_pos[label] = j
        return j

    def _cells(self, lo: np.ndarray, hi: np.ndarray) -> tuple[tuple[int, int], ...] | None:
        c = self.cell
        x0, y0 = math.floor(lo[0] / c), math.floor(lo[1] / c)
        x1, y1 = math.floor(hi[0] / c), math.floor(hi[1] / c)
        if (x1 - x0 + 1) * (y1 - y0 + 1) > self.max_cells:
            return None
        return tuple((x, y) for x in range(x0, x1 + 1) for y in range(y0, y1 + 1))

    def _unhook(self, slot: int) -> None:
        """Take a hooked slot out of its cells and label sets (found from its rows: box, label, absent flag)."""
        if not self._hooked[slot]:
            return
        self._hooked[slot] = False
        if slot in self._big:
            self._big.discard(slot)
        else:
            for key in self._cells(self.mins[slot], self.maxs[slot]) or ():
                s = self._grid.get(key)
                if s is not None:
                    s.discard(slot)
                    if not s:
                        del self._grid[key]
        top = self.vocab[int(self.lab_idx[slot])]
        self._changed(top)
        _discard(self.by_label, top, slot)
        for lab in self._multi.pop(slot, (top,)):
            _discard(self.members, lab, slot)
        if self.absent[slot]:
            _discard(self.absent_by_label, top, slot)

    def upsert(self, o: IndexedObject) -> None:
        """Insert or replace one object's row (its old cells and label sets are left first)."""
        lo = np.asarray(o.bbox_min, dtype=np.float64)
        hi = np.asarray(o.bbox_max, dtype=np.float64)
        if lo.shape != (3,) or hi.shape != (3,) or not (np.all(np.isfinite(lo)) and np.all(np.isfinite(hi))):
            raise ValueError(f"ObjectIndex.upsert: object {o.object_id} needs a finite 3D box, got {lo}, {hi}")
        slot = self.slot_of.get(o.object_id)
        old_top = None
        if slot is None:
            if self._free:
                slot = self._free.pop()
            else:
                if self._top == len(self.ids):
                    self._grow()
                slot = self._top
                self._top += 1
            self.slot_of[o.object_id] = slot
            self.label_version += 1
            self._log(o.object_id, o.label)
        else:
            old_top = self.vocab[int(self.lab_idx[slot])] if self._hooked[slot] else None
            self._unhook(slot)
        if old_top is not None and old_top != o.label:
            self.label_version += 1
            self._log(o.object_id, None)
        self.ids[slot] = o.object_id
        self.mins[slot] = lo
        self.maxs[slot] = hi
        self.cents[slot] = o.centroid
        self.first_seen[slot] = o.first_seen
        self.last_seen[slot] = o.last_seen
        self.n_obs[slot] = o.n_obs
        self.lab_idx[slot] = self.label_id(o.label)
        self.absent[slot] = o.absent
        self.active[slot] = True
        cells = self._cells(lo, hi)
        if cells is None:
            self._big.add(slot)
        else:
            for key in cells:
                self._grid.setdefault(key, set()).add(slot)
        self._hooked[slot] = True
        labels = tuple(dict.fromkeys((o.label, *o.labels)))
        if len(labels) > 1:
            self._multi[slot] = labels
        self.by_label.setdefault(o.label, set()).add(slot)
        for lab in labels:
            self.members.setdefault(lab, set()).add(slot)
        if o.absent:
            self.absent_by_label.setdefault(o.label, set()).add(slot)
        self._changed(o.label)
        self.version += 1

    def bulk_load(
        self,
        ids: np.ndarray,
        mins: np.ndarray,
        maxs: np.ndarray,
        cents: np.ndarray,
        stamps: np.ndarray,
        n_obs: np.ndarray,
        labels: list[str],
        label_sets: dict[int, tuple[str, ...]],
        absent: np.ndarray,
    ) -> None:
        """Fill an empty index with ``n`` objects at once (opening a store): the same state as ``n`` upserts,
        built vectorised.  ``stamps`` is (n, 2) first/last seen; ``label_sets[i]`` the labels of object i's
        distribution where it has others than ``labels[i]`` (absent: only its top label)."""
        if len(self.slot_of):
            raise ValueError("ObjectIndex.bulk_load: the index must be empty")
        n = len(ids)
        if n == 0:
            return
        if not (np.all(np.isfinite(mins)) and np.all(np.isfinite(maxs))):
            bad = int(ids[~(np.all(np.isfinite(mins), axis=1) & np.all(np.isfinite(maxs), axis=1))][0])
            raise ValueError(f"ObjectIndex.bulk_load: object {bad} needs a finite 3D box")
        if len(self.ids) < n:
            self._grow(1 << (n - 1).bit_length())
        self.ids[:n], self.mins[:n], self.maxs[:n], self.cents[:n] = ids, mins, maxs, cents
        self.first_seen[:n], self.last_seen[:n], self.n_obs[:n] = stamps[:, 0], stamps[:, 1], n_obs
        vocab = sorted(set(labels))
        for lab in vocab:
            self.label_id(lab)
        pos = self._vocab_pos
        self.lab_idx[:n] = np.fromiter((pos[lab] for lab in labels), dtype=np.int64, count=n)
        self.absent[:n] = absent
        self.active[:n] = True
        self._hooked[:n] = True
        self._top = n
        self.slot_of = dict(zip(ids.tolist(), range(n), strict=True))
        c = self.cell
        x0, y0 = np.floor(mins[:, 0] / c).astype(np.int64), np.floor(mins[:, 1] / c).astype(np.int64)
        x1, y1 = np.floor(maxs[:, 0] / c).astype(np.int64), np.floor(maxs[:, 1] / c).astype(np.int64)
        n_cells = (x1 - x0 + 1) * (y1 - y0 + 1)
        self._big = set(np.flatnonzero(n_cells > self.max_cells).tolist())
        # every (slot, cell) pair of the boxes that are hashed, grouped by cell: one sort
        small = np.flatnonzero(n_cells <= self.max_cells)
        reps = n_cells[small]
        slot_rep = np.repeat(small, reps)
        k = np.arange(len(slot_rep)) - np.repeat(np.cumsum(reps) - reps, reps)
        ny = (y1 - y0 + 1)[slot_rep]
        cx, cy = x0[slot_rep] + k // ny, y0[slot_rep] + k % ny
        order = np.lexsort((cy, cx))
        slot_rep, cx, cy = slot_rep[order], cx[order], cy[order]
        if len(slot_rep):
            starts = np.flatnonzero(np.r_[True, (cx[1:] != cx[:-1]) | (cy[1:] != cy[:-1])])
            ends = np.r_[starts[1:], len(slot_rep)]
            grid = self._grid
            for a, b in zip(starts.tolist(), ends.tolist(), strict=True):
                grid[(int(cx[a]), int(cy[a]))] = set(slot_rep[a:b].tolist())
        lab_idx = self.lab_idx[:n]
        for j, slots in _groups(lab_idx, np.arange(n)):
            self.by_label[self.vocab[j]] = set(slots)
            self.members[self.vocab[j]] = set(slots)
        for j, slots in _groups(lab_idx[absent], np.flatnonzero(absent)):
            self.absent_by_label[self.vocab[j]] = set(slots)
        for slot, extra in label_sets.items():
            if len(extra) > 1:
                self._multi[slot] = extra
                for lab in extra:
                    self.members.setdefault(lab, set()).add(slot)
        for lab in vocab:
            self._changed(lab)
        self.label_version += n  # nothing built at an older version can be extended (an empty label_log)
        self.version += 1

    def _changed(self, label: str) -> None:
        self._gen += 1
        self.label_gen[label] = self._gen

    def set_absent(self, object_id: int, absent: bool = True) -> None:
        slot = self.slot_of.get(object_id)
        if slot is None or bool(self.absent[slot]) == absent:
            return
        top = self.vocab[int(self.lab_idx[slot])]
        self.absent[slot] = absent
        if absent:
            self.absent_by_label.setdefault(top, set()).add(slot)
        else:
            _discard(self.absent_by_label, top, slot)
        self._changed(top)
        self.version += 1

    def remove(self, object_id: int) -> None:
        slot = self.slot_of.pop(object_id, None)
        if slot is None:
            return
        self._unhook(slot)
        self.ids[slot] = -1
        self.active[slot] = False
        self.absent[slot] = False
        self._free.append(slot)
        self.version += 1
        self.label_version += 1
        self._log(object_id, None)

    def _log(self, object_id: int, added: str | None) -> None:
        self.label_log.append((self.label_version, int(object_id), added))
        if len(self.label_log) > 8192:
            del self.label_log[:4096]

    # -- reading ---------------------------------------------------------------------
    def slots(self) -> np.ndarray:
        """Every used slot, ascending."""
        return np.flatnonzero(self.active[: self._top])

    def _region(self, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
        """Slots whose grid cells touch the floor rectangle [lo, hi] (a superset of the hits), ascending."""
        c = self.cell
        x0, y0 = math.floor(lo[0] / c), math.floor(lo[1] / c)
        x1, y1 = math.floor(hi[0] / c), math.floor(hi[1] / c)
        n_cells = (x1 - x0 + 1) * (y1 - y0 + 1)
        grid = self._grid
        if n_cells > len(grid):  # more cells asked than occupied: the vectorised scan is cheaper
            return self.slots()
        sets = [s for x in range(x0, x1 + 1) for y in range(y0, y1 + 1) if (s := grid.get((x, y)))]
        found = set(chain.from_iterable(sets))
        found |= self._big
        out = np.fromiter(found, dtype=np.int64, count=len(found))
        out.sort()
        return out

    def box(self, lo: np.ndarray, hi: np.ndarray, pad: float = 0.0) -> np.ndarray:
        """Slots whose box intersects [lo - pad, hi + pad], ascending."""
        lo = np.asarray(lo, dtype=np.float64) - pad
        hi = np.asarray(hi, dtype=np.float64) + pad
        cand = self._region(lo, hi)
        if len(cand) == 0:
            return cand
        ok = np.all(self.mins[cand] <= hi, axis=1) & np.all(self.maxs[cand] >= lo, axis=1)
        return cand[ok]

    def around(self, point: np.ndarray, radius: float) -> np.ndarray:
        """Slots whose *centroid* is within ``radius`` of ``point``, ascending."""
        p = np.asarray(point, dtype=np.float64)
        r = float(radius)
        cand = self.near_centroids(p, r)
        if len(cand) == 0:
            return cand
        return cand[np.linalg.norm(self.cents[cand] - p, axis=1) <= r]

    def near_centroids(self, point: np.ndarray, radius: float) -> np.ndarray:
        """Slots whose centroid may be within ``radius`` of ``point`` in the floor plane (a superset)."""
        p = np.asarray(point, dtype=np.float64)
        r = max(0.0, float(radius))
        # a centroid lies inside its box, and the box is hashed to every cell it covers
        return self._region(p - r, p + r)


def _discard(index: dict[str, set[int]], key: str, slot: int) -> None:
    s = index.get(key)
    if s is not None:
        s.discard(slot)
        if not s:
            del index[key]


def _groups(keys: np.ndarray, values: np.ndarray) -> list[tuple[int, list[int]]]:
    """(key, values with that key) for every distinct key (vectorised: one sort)."""
    if len(keys) == 0:
        return []
    order = np.argsort(keys, kind="stable")
    k, v = keys[order], values[order]
    starts = np.flatnonzero(np.r_[True, k[1:] != k[:-1]])
    ends = np.r_[starts[1:], len(k)]
    return [(int(k[a]), v[a:b].tolist()) for a, b in zip(starts.tolist(), ends.tolist(), strict=True)]
