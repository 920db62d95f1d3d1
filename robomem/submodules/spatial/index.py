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
from collections.abc import Mapping
from dataclasses import dataclass
from itertools import chain

import numpy as np

from robomem.store.index_cache import PackedStrings, pack_strings
from robomem.submodules.spatial.compact import CELL_LIMIT, IdSlots, SlotSets, build_base_sets


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


_ROWS = {  # the row arrays of the cache: dtype, shape past the first axis
    "ids": (np.int64, ()),
    "mins": (np.float64, (3,)),
    "maxs": (np.float64, (3,)),
    "cents": (np.float64, (3,)),
    "first_seen": (np.float64, ()),
    "last_seen": (np.float64, ()),
    "n_obs": (np.float64, ()),
    "lab_idx": (np.int64, ()),
    "absent": (np.bool_, ()),
}


def cell_code(x: int, y: int) -> int:
    """One int64 per floor cell (both coordinates inside the cell limit)."""
    return ((x + CELL_LIMIT) << 32) | (y + CELL_LIMIT)


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
        self.slot_of = IdSlots()
        self._free: list[int] = []
        self._top = 0  # slots [0, top) have been used
        # The slot sets (compact.py): a base built at open, whose entries of a slot count while ``_base_ok``
        # (cleared when the slot leaves them), and the sets of the slots hooked since.
        self._grid = SlotSets()  # cell_code -> slots whose box covers the cell
        self._big: set[int] = set()
        self._hooked = np.zeros(cap, dtype=bool)  # in the grid and label sets (cells found again from the box)
        self._base_ok = np.zeros(cap, dtype=bool)
        # every label of any distribution, interned (the keys of ``_members``); ``vocab`` holds the top labels
        self._names: list[str] = []
        self._name_pos: dict[str, int] = {}
        self._member_n: dict[str, int] = {}  # label -> how many objects' distributions hold it
        # the labels of a slot's distribution when there are others than its top label (most objects have one):
        # of base slots as name indices by slot, of hooked ones as tuples
        self._base_multi = SlotSets()
        self._multi: dict[int, tuple[str, ...]] = {}
        self._by_label = SlotSets()  # vocab index of the top label -> slots
        self._members = SlotSets()  # name index -> slots whose distribution holds it
        self._absent_by = SlotSets()  # vocab index -> absent slots (base entries also need ``absent``)
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
        for name in ("absent", "active", "_hooked", "_base_ok"):
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

    def _name_id(self, label: str) -> int:
        j = self._name_pos.get(label)
        if j is None:
            j = len(self._names)
            self._names.append(label)
            self._name_pos[label] = j
        return j

    def _count(self, label: str, d: int) -> None:
        n = self._member_n.get(label, 0) + d
        if n > 0:
            self._member_n[label] = n
        else:
            self._member_n.pop(label, None)

    def _cells(self, lo: np.ndarray, hi: np.ndarray) -> list[int] | None:
        """The codes of the cells a box covers; None: a big box (more than ``max_cells``, or past the limit)."""
        c = self.cell
        x0, y0 = math.floor(lo[0] / c), math.floor(lo[1] / c)
        x1, y1 = math.floor(hi[0] / c), math.floor(hi[1] / c)
        if min(x0, y0) < -CELL_LIMIT or max(x1, y1) >= CELL_LIMIT:
            return None
        if (x1 - x0 + 1) * (y1 - y0 + 1) > self.max_cells:
            return None
        return [cell_code(x, y) for x in range(x0, x1 + 1) for y in range(y0, y1 + 1)]

    def _labels_of(self, slot: int) -> tuple[str, ...]:
        """The labels of a hooked slot's distribution (its top label first when it has one only)."""
        if self._base_ok[slot]:
            extra = self._base_multi.base_row(slot)
            if len(extra):
                return tuple(self._names[j] for j in extra.tolist())
            return (self.vocab[int(self.lab_idx[slot])],)
        return self._multi.get(slot, (self.vocab[int(self.lab_idx[slot])],))

    def _unhook(self, slot: int) -> None:
        """Take a hooked slot out of its cells and label sets (found from its rows: box, label, absent flag)."""
        if not self._hooked[slot]:
            return
        self._hooked[slot] = False
        j = int(self.lab_idx[slot])
        top = self.vocab[j]
        labels = self._labels_of(slot)
        for lab in labels:
            self._count(lab, -1)
        self._absent_by.discard(j, slot)
        self._changed(top)
        if self._base_ok[slot]:  # its base entries stop counting; it was in no added set
            self._base_ok[slot] = False
            self._big.discard(slot)
            return
        if slot in self._big:
            self._big.discard(slot)
        else:
            for key in self._cells(self.mins[slot], self.maxs[slot]) or ():
                self._grid.discard(key, slot)
        self._by_label.discard(j, slot)
        self._multi.pop(slot, None)
        for lab in labels:
            self._members.discard(self._name_pos[lab], slot)

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
        j = self.label_id(o.label)
        self.lab_idx[slot] = j
        self.absent[slot] = o.absent
        self.active[slot] = True
        cells = self._cells(lo, hi)
        if cells is None:
            self._big.add(slot)
        else:
            for key in cells:
                self._grid.add(key, slot)
        self._hooked[slot] = True
        labels = tuple(dict.fromkeys((o.label, *o.labels)))
        if len(labels) > 1:
            self._multi[slot] = labels
        self._by_label.add(j, slot)
        for lab in labels:
            self._members.add(self._name_id(lab), slot)
            self._count(lab, 1)
        if o.absent:
            self._absent_by.add(j, slot)
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
        self._install(*self._prepare(ids, mins, maxs, cents, stamps, n_obs, labels, label_sets, absent))

    def _prepare(
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
    ) -> tuple[dict[str, np.ndarray], list[str], list[str], dict[str, np.ndarray]]:
        n = len(ids)
        vocab = sorted(set(labels))
        pos = {lab: j for j, lab in enumerate(vocab)}
        lab_idx = np.fromiter(map(pos.__getitem__, labels), dtype=np.int64, count=n)
        multi = {i: t for i, ls in label_sets.items() if len(t := tuple(dict.fromkeys((labels[i], *ls)))) > 1}
        names = sorted(set(vocab).union(*multi.values()))
        npos = {lab: j for j, lab in enumerate(names)}
        m_slots = np.fromiter(multi, dtype=np.int64, count=len(multi))
        m_lens = np.fromiter(map(len, multi.values()), dtype=np.int64, count=len(multi))
        m_names = np.fromiter(
            (npos[lab] for ls in multi.values() for lab in ls), dtype=np.int64, count=int(m_lens.sum())
        )
        state = {
            "ids": np.asarray(ids, dtype=np.int64),
            "mins": np.asarray(mins, dtype=np.float64),
            "maxs": np.asarray(maxs, dtype=np.float64),
            "cents": np.asarray(cents, dtype=np.float64),
            "first_seen": np.asarray(stamps[:, 0], dtype=np.float64),
            "last_seen": np.asarray(stamps[:, 1], dtype=np.float64),
            "n_obs": np.asarray(n_obs, dtype=np.float64),
            "lab_idx": lab_idx,
            "absent": np.asarray(absent, dtype=bool),
        }
        return (
            state,
            vocab,
            names,
            build_base_sets(state, names, vocab, (m_slots, m_lens, m_names), self.cell, self.max_cells),
        )

    # -- the index cache (store/index_cache.py) ---------------------------------------------
    def export(self) -> dict[str, np.ndarray]:
        """The arrays ``restore`` takes to build the index an open from the store would build now (the objects
        in id order, one slot each): what ``bulk_load`` of the stored rows makes, vectorised but for the
        objects with several labels."""
        slots = self.slots()
        slots = slots[np.argsort(self.ids[slots], kind="stable")]
        vocab = self.vocab
        tops = [vocab[j] for j in self.lab_idx[slots].tolist()]
        rank = np.zeros(self._top, dtype=np.int64)
        rank[slots] = np.arange(len(slots))
        bm = self._base_multi.keys
        multi = set(bm[self._base_ok[bm]].tolist()) | {s for s in self._multi if not self._base_ok[s]}
        sets = {int(rank[s]): self._labels_of(s) for s in multi}
        stamps = np.column_stack([self.first_seen[slots], self.last_seen[slots]])
        state, vocab_, names, built = self._prepare(
            self.ids[slots], self.mins[slots], self.maxs[slots], self.cents[slots], stamps, self.n_obs[slots],
            tops, sets, self.absent[slots],
        )  # fmt: skip
        out = {f"row.{k}": v for k, v in state.items()}
        out.update({f"set.{k}": v for k, v in built.items()})
        out["vocab.buf"], out["vocab.off"] = pack_strings(vocab_)
        out["names.buf"], out["names.off"] = pack_strings(names)
        return out

    def restore(self, a: Mapping[str, np.ndarray]) -> None:
        """An empty index from ``export``'s arrays (checked: a damaged cache raises, never answers wrongly)."""
        if len(self.slot_of):
            raise ValueError("ObjectIndex.restore: the index must be empty")
        state = {k: np.asarray(a["row." + k]) for k in _ROWS}
        n = len(state["ids"])
        for k, (dtype, shape) in _ROWS.items():
            v = state[k]
            if v.dtype != dtype or v.shape[1:] != shape or len(v) != n:
                raise ValueError(f"ObjectIndex.restore: row array {k} has the wrong dtype or shape")
        if not (np.all(np.isfinite(state["mins"])) and np.all(np.isfinite(state["maxs"]))):
            raise ValueError("ObjectIndex.restore: a box is not finite")
        vocab = [str(x) for x in PackedStrings(a["vocab.buf"], a["vocab.off"])]
        names = [str(x) for x in PackedStrings(a["names.buf"], a["names.off"])]
        sets = {k[4:]: np.asarray(v) for k, v in a.items() if k.startswith("set.")}
        self._install(state, vocab, names, sets)

    def _install(
        self, a: dict[str, np.ndarray], vocab: list[str], names: list[str], sets: dict[str, np.ndarray]
    ) -> None:
        """Take rows 0..n-1 and their base sets (``_build_sets``) into an empty index."""
        n = len(a["ids"])
        if len(self.ids) < n:
            self._grow(1 << (n - 1).bit_length())
        for name in ("ids", "mins", "maxs", "cents", "first_seen", "last_seen", "n_obs", "lab_idx", "absent"):
            getattr(self, name)[:n] = a[name]
        if n and (int(a["lab_idx"].min()) < 0 or int(a["lab_idx"].max()) >= len(vocab)):
            raise ValueError("ObjectIndex: a label index outside the vocabulary")
        self.active[:n] = True
        self._hooked[:n] = True
        self._base_ok[:n] = True
        self._top = n
        self.slot_of.fill(a["ids"], np.arange(n))
        for lab in vocab:
            self.label_id(lab)
        for lab in names:
            self._name_id(lab)
        self._big = set(sets["big"].tolist())
        for name, n_keys, n_vals in (
            ("grid", None, n),
            ("by_label", len(vocab), n),
            ("members", len(names), n),
            ("absent_by", len(vocab), n),
            ("base_multi", n, len(names)),
        ):
            ss = SlotSets.from_arrays(sets[name + ".keys"], sets[name + ".starts"], sets[name + ".vals"])
            if len(ss.vals) and (int(ss.vals.min()) < 0 or int(ss.vals.max()) >= n_vals):
                raise ValueError(f"ObjectIndex: {name} holds a slot or label outside the rows")
            if n_keys is not None and len(ss.keys) and (int(ss.keys[0]) < 0 or int(ss.keys[-1]) >= n_keys):
                raise ValueError(f"ObjectIndex: {name} has a key outside the rows")
            setattr(self, "_" + name, ss)
        if len(sets["big"]) and (int(sets["big"].min()) < 0 or int(sets["big"].max()) >= n):
            raise ValueError("ObjectIndex: a big slot outside the rows")
        counts = np.diff(self._members.starts)
        self._member_n = {
            names[int(k)]: int(v) for k, v in zip(self._members.keys.tolist(), counts.tolist(), strict=True)
        }
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
        j = int(self.lab_idx[slot])
        self.absent[slot] = absent
        if absent:
            self._absent_by.add(j, slot)
        else:
            self._absent_by.discard(j, slot)
        self._changed(self.vocab[j])
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
        if n_cells > grid.n_keys():  # more cells asked than occupied: the vectorised scan is cheaper
            return self.slots()
        x0, y0 = max(x0, -CELL_LIMIT), max(y0, -CELL_LIMIT)  # no cell past the limit holds a slot
        x1, y1 = min(x1, CELL_LIMIT - 1), min(y1, CELL_LIMIT - 1)
        parts = [np.fromiter(self._big, dtype=np.int64, count=len(self._big))]
        if x0 <= x1 and y0 <= y1:
            xs = np.arange(x0, x1 + 1, dtype=np.int64) + CELL_LIMIT
            ys = np.arange(y0, y1 + 1, dtype=np.int64) + CELL_LIMIT
            codes = ((xs[:, None] << 32) | ys[None, :]).ravel()
            parts.append(grid.gather(codes, self._base_ok))
            over = grid.over
            if over:
                if len(over) < len(codes):
                    lo_y, hi_y = y0 + CELL_LIMIT, y1 + CELL_LIMIT
                    lo_c, hi_c = int(codes[0]), int(codes[-1])
                    sets = [s for k, s in over.items() if lo_c <= k <= hi_c and lo_y <= (k & 0xFFFFFFFF) <= hi_y]
                else:
                    sets = [s for k in codes.tolist() if (s := over.get(k))]
                found = set(chain.from_iterable(sets))
                parts.append(np.fromiter(found, dtype=np.int64, count=len(found)))
        return np.unique(np.concatenate(parts))

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

    def in_floor_box(self, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
        """Slots whose centroid may lie in the floor rectangle [lo, hi] (x, y; a superset), ascending."""
        return self._region(np.asarray(lo, dtype=np.float64), np.asarray(hi, dtype=np.float64))

    def near_centroids(self, point: np.ndarray, radius: float) -> np.ndarray:
        """Slots whose centroid may be within ``radius`` of ``point`` in the floor plane (a superset)."""
        p = np.asarray(point, dtype=np.float64)
        r = max(0.0, float(radius))
        # a centroid lies inside its box, and the box is hashed to every cell it covers
        return self._region(p - r, p + r)

    # -- the label sets (ascending slot arrays) ----------------------------------------------
    def of_label(self, label: str) -> np.ndarray:
        """Slots whose top label is ``label``."""
        j = self._vocab_pos.get(label)
        return np.zeros(0, dtype=np.int64) if j is None else self._by_label.get(j, self._base_ok)

    def members_of(self, label: str) -> np.ndarray:
        """Slots whose label distribution holds ``label``."""
        j = self._name_pos.get(label)
        return np.zeros(0, dtype=np.int64) if j is None else self._members.get(j, self._base_ok)

    def absent_of(self, label: str) -> np.ndarray:
        """Absent slots whose top label is ``label``."""
        j = self._vocab_pos.get(label)
        return np.zeros(0, dtype=np.int64) if j is None else self._absent_by.get(j, self._base_ok, self.absent)

    def member_labels(self) -> list[str]:
        """Every label some object's distribution holds, sorted."""
        return sorted(self._member_n)

    def canonical(self) -> dict[str, object]:
        """What the slot sets hold, as plain Python (tests: two indexes that answer alike compare equal)."""
        ok, names, vocab = self._base_ok, self._names, self.vocab
        multi = {s: frozenset(v) for s, v in self._multi.items()}
        for s, js in self._base_multi.as_dict().items():
            if ok[s]:
                multi[s] = frozenset(names[j] for j in js)
        return {
            "slot_of": self.slot_of.as_dict(),
            "grid": {
                ((k >> 32) - CELL_LIMIT, (k & 0xFFFFFFFF) - CELL_LIMIT): v for k, v in self._grid.as_dict(ok).items()
            },
            "big": frozenset(self._big),
            "multi": multi,
            "by_label": {vocab[k]: v for k, v in self._by_label.as_dict(ok).items()},
            "members": {names[k]: v for k, v in self._members.as_dict(ok).items()},
            "absent_by_label": {vocab[k]: v for k, v in self._absent_by.as_dict(ok, self.absent).items()},
            "member_n": dict(self._member_n),
        }
