"""Compact slot structures of the object index (issue 14: 10^6 objects at ~100 bytes each, not ~770).

Python dicts and sets of ints cost ~100 bytes an entry, and the object index kept five of them per
object (id -> slot, grid cell -> slots, label -> slots twice, ...): ~500 MB at 10^6 objects, and most of
the time of an open.  Here the same maps are numpy arrays:

- :class:`IdSlots`: object id -> slot as a dense int32 array over the ids (the store hands them out in
  order, so they are dense); an id far past the others (a sparse import) goes to a small dict.
- :class:`SlotSets`: key -> set of slots, as a *base* built at once (CSR: sorted keys, their starts, the
  slots of each key ascending) and the Python sets of what was added since.  A base entry counts only
  while the caller's per-slot masks say so (the index clears a slot's ``base_ok`` when the slot leaves its
  base entries: the entries themselves are never edited), so nothing is rebuilt as objects change.
"""

from __future__ import annotations

import operator
from collections.abc import Iterator

import numpy as np

CELL_LIMIT = 2**30  # grid cells in [-CELL_LIMIT, CELL_LIMIT) per axis are hashed; a box past them is "big"
DENSE_SLACK = 65536  # an id up to 2 * (ids held) + this is kept in the dense array


class IdSlots:
    """Object id -> slot (a mapping of ints; ``get``, ``[]``, ``in``, ``pop``, iteration in id order)."""

    def __init__(self) -> None:
        self._dense = np.full(0, -1, dtype=np.int32)
        self._far: dict[int, int] = {}
        self._n = 0

    def __len__(self) -> int:
        return self._n

    def get(self, oid: object, default: int | None = None) -> int | None:
        try:
            i = operator.index(oid)  # type: ignore[arg-type]
        except TypeError:
            return default
        if 0 <= i < len(self._dense):
            s = self._dense.item(i)
            return default if s < 0 else s
        return self._far.get(i, default)

    def __getitem__(self, oid: int) -> int:
        s = self.get(oid)
        if s is None:
            raise KeyError(oid)
        return s

    def __contains__(self, oid: object) -> bool:
        return self.get(oid) is not None

    def __setitem__(self, oid: int, slot: int) -> None:
        i = operator.index(oid)
        if not 0 <= slot < 2**31 - 1:
            raise ValueError(f"IdSlots: slot {slot} out of range")
        if i >= len(self._dense) and 0 <= i < 2 * (self._n + 1) + DENSE_SLACK:
            self._grow(i + 1)
        if 0 <= i < len(self._dense):
            if self._dense[i] < 0:
                self._n += 1
            self._dense[i] = slot
        else:
            if i not in self._far:
                self._n += 1
            self._far[i] = slot

    def _grow(self, need: int) -> None:
        new = np.full(max(need, 2 * len(self._dense), 1024), -1, dtype=np.int32)
        new[: len(self._dense)] = self._dense
        self._dense = new
        for i in [i for i in self._far if i < len(new)]:  # now in the dense range
            new[i] = self._far.pop(i)

    def pop(self, oid: int, default: int | None = None) -> int | None:
        s = self.get(oid)
        if s is None:
            return default
        i = operator.index(oid)
        if 0 <= i < len(self._dense):
            self._dense[i] = -1
        else:
            del self._far[i]
        self._n -= 1
        return s

    def fill(self, ids: np.ndarray, slots: np.ndarray) -> None:
        """Every (id, slot) at once, into an empty map (opening a store)."""
        if self._n:
            raise ValueError("IdSlots.fill: the map must be empty")
        ids = np.asarray(ids, dtype=np.int64)
        ascending = len(ids) < 2 or bool(np.all(ids[1:] > ids[:-1]))  # as an open reads them: no sort needed
        if not ascending and len(np.unique(ids)) != len(ids):
            raise ValueError("IdSlots.fill: duplicate ids")
        bound = 2 * len(ids) + DENSE_SLACK
        dense = (ids >= 0) & (ids < bound)
        size = int(ids[dense].max()) + 1 if dense.any() else 0
        self._dense = np.full(max(size, 1024), -1, dtype=np.int32)
        self._dense[ids[dense]] = slots[dense]
        self._far = dict(zip(ids[~dense].tolist(), np.asarray(slots)[~dense].tolist(), strict=True))
        self._n = len(ids)

    def lookup(self, ids: np.ndarray) -> np.ndarray:
        """The slots of these ids (int64), -1 where not held: vectorised."""
        ids = np.asarray(ids, dtype=np.int64)
        out = np.full(len(ids), -1, dtype=np.int64)
        inside = (ids >= 0) & (ids < len(self._dense))
        out[inside] = self._dense[ids[inside]]
        if self._far:
            for j in np.flatnonzero(~inside).tolist():
                out[j] = self._far.get(int(ids[j]), -1)
        return out

    def __iter__(self) -> Iterator[int]:
        return iter(self.keys_array().tolist())

    def keys_array(self) -> np.ndarray:
        """Every id held, ascending."""
        dense = np.flatnonzero(self._dense >= 0).astype(np.int64)
        if not self._far:
            return dense
        return np.sort(np.concatenate([dense, np.fromiter(self._far, dtype=np.int64, count=len(self._far))]))

    def items(self) -> list[tuple[int, int]]:
        ids = self.keys_array()
        return list(zip(ids.tolist(), self.lookup(ids).tolist(), strict=True))

    def as_dict(self) -> dict[int, int]:
        return dict(self.items())


class SlotSets:
    """int key -> set of slots: a CSR base (entries valid where the caller's masks say) plus added sets."""

    def __init__(self) -> None:
        self.keys = np.zeros(0, dtype=np.int64)  # sorted, distinct
        self.starts = np.zeros(1, dtype=np.int64)  # entries of keys[i]: vals[starts[i]:starts[i + 1]]
        self.vals = np.zeros(0, dtype=np.int32)  # slots, ascending within a key
        self.over: dict[int, set[int]] = {}

    @classmethod
    def build(cls, keys: np.ndarray, vals: np.ndarray) -> SlotSets:
        """The base from (key, slot) pairs (any order; duplicates are kept once)."""
        out = cls()
        keys = np.asarray(keys, dtype=np.int64)
        vals = np.asarray(vals, dtype=np.int64)
        if len(keys):
            order = np.lexsort((vals, keys))
            k, v = keys[order], vals[order]
            keep = np.r_[True, (k[1:] != k[:-1]) | (v[1:] != v[:-1])]
            k, v = k[keep], v[keep]
            first = np.flatnonzero(np.r_[True, k[1:] != k[:-1]])
            out.keys = k[first].copy()
            out.starts = np.r_[first, len(k)].astype(np.int64)
            out.vals = v.astype(np.int32)
        return out

    @classmethod
    def from_arrays(cls, keys: np.ndarray, starts: np.ndarray, vals: np.ndarray) -> SlotSets:
        """The base as ``arrays()`` gave it (checked: a bad cache raises rather than answers wrongly)."""
        out = cls()
        keys, starts, vals = (np.asarray(a) for a in (keys, starts, vals))
        if keys.dtype != np.int64 or starts.dtype != np.int64 or vals.dtype != np.int32:
            raise ValueError("SlotSets: wrong dtypes")
        if len(starts) != len(keys) + 1 or starts[0] != 0 or starts[-1] != len(vals) or np.any(np.diff(starts) <= 0):
            raise ValueError("SlotSets: inconsistent starts")
        if len(keys) > 1 and np.any(np.diff(keys) <= 0):
            raise ValueError("SlotSets: keys not sorted")
        out.keys, out.starts, out.vals = keys, starts, vals
        return out

    def arrays(self, *masks: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Everything held now (valid base entries and the added sets) as one base: (keys, starts, vals)."""
        k, v = self._base_pairs(*masks)
        if self.over:
            ok = np.concatenate([np.full(len(s), key, dtype=np.int64) for key, s in self.over.items()])
            ov = np.concatenate([np.fromiter(s, dtype=np.int64, count=len(s)) for s in self.over.values()])
            k, v = np.concatenate([k, ok]), np.concatenate([v, ov])
        b = SlotSets.build(k, v)
        return b.keys, b.starts, b.vals

    def _base_pairs(self, *masks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        k = np.repeat(self.keys, np.diff(self.starts))
        v = self.vals.astype(np.int64)
        ok = np.ones(len(v), dtype=bool)
        for m in masks:
            ok &= m[v]
        return k[ok], v[ok]

    def add(self, key: int, slot: int) -> None:
        self.over.setdefault(key, set()).add(slot)

    def discard(self, key: int, slot: int) -> None:
        s = self.over.get(key)
        if s is not None:
            s.discard(slot)
            if not s:
                del self.over[key]

    def n_keys(self) -> int:
        """Keys held (base keys whose entries all left still count: a cost estimate, not an answer)."""
        return len(self.keys) + len(self.over)

    def base_row(self, key: int) -> np.ndarray:
        i = int(np.searchsorted(self.keys, key))
        if i < len(self.keys) and self.keys[i] == key:
            return self.vals[self.starts[i] : self.starts[i + 1]]
        return self.vals[:0]

    def get(self, key: int, *masks: np.ndarray) -> np.ndarray:
        """The slots of ``key``, ascending (int64): base entries where every mask holds, and the added ones."""
        b = self.base_row(key).astype(np.int64)
        for m in masks:
            b = b[m[b]]
        s = self.over.get(key)
        if not s:
            return b
        return np.unique(np.concatenate([b, np.fromiter(s, dtype=np.int64, count=len(s))]))

    def gather(self, keys: np.ndarray, *masks: np.ndarray) -> np.ndarray:
        """The valid base slots of these keys (any order, duplicates possible; the added sets are not read)."""
        if len(self.keys) == 0 or len(keys) == 0:
            return np.zeros(0, dtype=np.int64)
        pos = np.searchsorted(self.keys, keys)
        posc = np.minimum(pos, len(self.keys) - 1)
        hit = posc[self.keys[posc] == keys]
        if len(hit) == 0:
            return np.zeros(0, dtype=np.int64)
        a, b = self.starts[hit], self.starts[hit + 1]
        lens = b - a
        idx = np.repeat(a - np.cumsum(lens) + lens, lens) + np.arange(int(lens.sum()))
        out = self.vals[idx].astype(np.int64)
        for m in masks:
            out = out[m[out]]
        return out

    def as_dict(self, *masks: np.ndarray) -> dict[int, frozenset[int]]:
        """key -> slots held (for tests and checks)."""
        out: dict[int, set[int]] = {}
        k, v = self._base_pairs(*masks)
        for key, slot in zip(k.tolist(), v.tolist(), strict=True):
            out.setdefault(key, set()).add(slot)
        for key, s in self.over.items():
            out.setdefault(key, set()).update(s)
        return {key: frozenset(s) for key, s in out.items() if s}


def build_base_sets(
    a: dict[str, np.ndarray],
    names: list[str],
    vocab: list[str],
    multi: tuple[np.ndarray, np.ndarray, np.ndarray],
    c: float,
    max_cells: int,
) -> dict[str, np.ndarray]:
    """The object index's base slot sets of rows in slots 0..n-1 (``ObjectIndex._prepare``), as arrays
    (``big``, and ``<set>.keys`` / ``.starts`` / ``.vals``).  ``multi``: the slots with several labels, how many
    each, and their name indices; ``c``: the grid cell (m); a box over more than ``max_cells`` cells is big."""
    n = len(a["ids"])
    m_slots, m_lens, m_names = multi
    mins, maxs = a["mins"], a["maxs"]
    with np.errstate(invalid="ignore", over="ignore"):
        fx0, fy0 = np.floor(mins[:, 0] / c), np.floor(mins[:, 1] / c)
        fx1, fy1 = np.floor(maxs[:, 0] / c), np.floor(maxs[:, 1] / c)
    far = (np.minimum(fx0, fy0) < -CELL_LIMIT) | (np.maximum(fx1, fy1) >= CELL_LIMIT)
    x0, y0 = np.where(far, 0, fx0).astype(np.int64), np.where(far, 0, fy0).astype(np.int64)
    x1, y1 = np.where(far, 0, fx1).astype(np.int64), np.where(far, 0, fy1).astype(np.int64)
    n_cells = (x1 - x0 + 1) * (y1 - y0 + 1)
    is_big = far | (n_cells > max_cells)
    small = np.flatnonzero(~is_big)
    reps = n_cells[small]
    slot_rep = np.repeat(small, reps)
    k = np.arange(len(slot_rep)) - np.repeat(np.cumsum(reps) - reps, reps)
    ny = (y1 - y0 + 1)[slot_rep]
    codes = ((x0[slot_rep] + k // ny + CELL_LIMIT) << 32) | (y0[slot_rep] + k % ny + CELL_LIMIT)
    npos = {lab: j for j, lab in enumerate(names)}
    name_of_top = np.fromiter((npos[lab] for lab in vocab), dtype=np.int64, count=len(vocab))
    single = np.ones(n, dtype=bool)
    single[m_slots] = False
    s_slots = np.flatnonzero(single)
    mem_keys = np.concatenate([name_of_top[a["lab_idx"][s_slots]], m_names])
    mem_vals = np.concatenate([s_slots, np.repeat(m_slots, m_lens)])
    absent = np.flatnonzero(a["absent"])
    out: dict[str, np.ndarray] = {"big": np.flatnonzero(is_big)}
    for name, sets in (
        ("grid", SlotSets.build(codes, slot_rep)),
        ("by_label", SlotSets.build(a["lab_idx"], np.arange(n))),
        ("members", SlotSets.build(mem_keys, mem_vals)),
        ("absent_by", SlotSets.build(a["lab_idx"][absent], absent)),
        ("base_multi", SlotSets.build(np.repeat(m_slots, m_lens), m_names)),
    ):
        out[name + ".keys"], out[name + ".starts"], out[name + ".vals"] = sets.keys, sets.starts, sets.vals
    return out
