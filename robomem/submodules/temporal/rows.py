"""Every object's latest sighting (or absence) as numpy columns, one row per object (opening at 10^6 objects).

``LatestRows`` maps an object id to a *slot*: one row of fixed-width columns (float, int, a place code into a
shared ``Places`` list).  A slot never moves while its object keeps a row, so an index that stored slots (the
search index) stays valid through new sightings of the objects it holds; only adding an object or removing one
changes which slots are in use (``presence``).  The ids are kept sorted beside their slots (object ids come from
a counter, so a new one is almost always appended).  Records (``Sighting``, ``AbsenceRecord``) are built by the
caller from one row when asked; nothing here holds a Python object per row.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import numpy as np


class Places:
    """Place names as small integer codes (-1: no place), shared by a submodule's columns."""

    def __init__(self, names: Iterable[str] = ()) -> None:
        self.names: list[str] = []
        self._code: dict[str, int] = {}
        for n in names:
            self.code(n)

    def code(self, name: str | None) -> int:
        if name is None:
            return -1
        c = self._code.get(name)
        if c is None:
            c = self._code[name] = len(self.names)
            self.names.append(name)
        return c

    def codes(self, names: Sequence[str | None]) -> np.ndarray:
        """The codes of these names (new names get theirs in order of first appearance), by one C-level map."""
        for n in dict.fromkeys(names):  # new names in order of first appearance, as coding one by one would
            if n is not None and n not in self._code:
                self.code(n)
        lookup: dict[str | None, int] = {None: -1}
        lookup.update(self._code)
        return np.fromiter(map(lookup.__getitem__, names), np.int32, count=len(names))

    def name(self, code: int) -> str | None:
        return None if code < 0 else self.names[code]


class LatestRows:
    """object id -> slot -> a row of the columns named in ``spec`` (name -> (dtype, width))."""

    def __init__(self, spec: Mapping[str, tuple[str, int]], capacity: int = 64) -> None:
        self._spec = dict(spec)
        cap = max(int(capacity), 16)
        self.cols: dict[str, np.ndarray] = {k: self._empty(k, cap) for k in self._spec}
        self.owner = np.full(cap, -1, np.int64)  # object id per slot (-1: free or removed)
        self._used = 0  # slots handed out
        self._count = 0  # slots with an owner
        self._ids = np.zeros(cap, np.int64)  # ids ever given a slot here, ascending ...
        self._slot = np.zeros(cap, np.int64)  # ... and their latest slot (stale when owner[slot] differs)
        self._k = 0
        # id -> latest slot for ids below its length (-1: none): a gather instead of a binary search over
        # every id (25k ids of a goal's labels at 10^6: ~4 ms -> 0.2 ms); larger ids use the sorted arrays
        self._dense = np.full(0, -1, np.int32)
        self.presence = 0  # bumped when an object gains or loses its row (slots in use changed)

    def _empty(self, name: str, n: int) -> np.ndarray:
        dtype, width = self._spec[name]
        return np.zeros((n, width) if width > 1 else n, dtype)

    # -- reading ------------------------------------------------------------------------
    def __len__(self) -> int:
        return self._count

    def __contains__(self, oid: object) -> bool:
        return isinstance(oid, (int, np.integer)) and self.slot(int(oid)) >= 0

    def slot(self, oid: int) -> int:
        """The object's slot, or -1."""
        if 0 <= oid < len(self._dense):
            s = self._dense.item(oid)
            return s if s >= 0 and self.owner[s] == oid else -1
        k = self._k
        j = int(np.searchsorted(self._ids[:k], oid))
        if j < k and self._ids[j] == oid:
            s = int(self._slot[j])
            if self.owner[s] == oid:
                return s
        return -1

    def slots(self, oids: np.ndarray) -> np.ndarray:
        """The slot of each id (int64), -1 for ids without a row (vectorised)."""
        oids = np.asarray(oids, np.int64)
        k = self._k
        if not k or not len(oids):
            return np.full(len(oids), -1, np.int64)
        d = self._dense
        near = (oids >= 0) & (oids < len(d))
        if near.all():
            s = d[oids].astype(np.int64)
        else:
            s = np.full(len(oids), -1, np.int64)
            s[near] = d[oids[near]]
            far = np.flatnonzero(~near)
            j = np.minimum(np.searchsorted(self._ids[:k], oids[far]), k - 1)
            s[far] = np.where(self._ids[j] == oids[far], self._slot[j], -1)
        return np.where((s >= 0) & (self.owner[np.maximum(s, 0)] == oids), s, -1)

    def ids(self) -> np.ndarray:
        """Every id with a row, ascending."""
        k = self._k
        ids = self._ids[:k]
        return ids[self.owner[self._slot[:k]] == ids]

    def live(self, name: str) -> np.ndarray:
        """One column over the slots in use with an owner (any order; for sets of values)."""
        used = self._used
        return self.cols[name][:used][self.owner[:used] >= 0]

    # -- writing ------------------------------------------------------------------------
    def put(self, oid: int, values: Mapping[str, object]) -> int:
        """Set the object's row (a new slot if it has none); returns the slot."""
        s = self.slot(oid)
        if s < 0:
            s = self._new_slot(oid)
        for k, v in values.items():
            self.cols[k][s] = v
        return s

    def pop(self, oid: int) -> int:
        """Remove the object's row (its slot is not reused); returns the slot it had, or -1."""
        s = self.slot(oid)
        if s >= 0:
            self.owner[s] = -1
            self._count -= 1
            self.presence += 1
        return s

    def _new_slot(self, oid: int) -> int:
        s = self._used
        if s >= len(self.owner):
            self._grow_slots(2 * len(self.owner))
        self._used += 1
        self._count += 1
        self.owner[s] = oid
        self.presence += 1
        k = self._k
        j = int(np.searchsorted(self._ids[:k], oid))
        if j < k and self._ids[j] == oid:  # an id that had a row before: point it at the new slot
            self._slot[j] = s
            self._point(oid, s)
            return s
        if k >= len(self._ids):
            self._ids = np.resize(self._ids, 2 * len(self._ids))
            self._slot = np.resize(self._slot, 2 * len(self._slot))
        if j < k:  # not the largest id yet: shift the tail (rare: ids come from a counter)
            self._ids[j + 1 : k + 1] = self._ids[j:k].copy()
            self._slot[j + 1 : k + 1] = self._slot[j:k].copy()
        self._ids[j] = oid
        self._slot[j] = s
        self._k = k + 1
        self._point(oid, s)
        return s

    def _point(self, oid: int, s: int) -> None:
        """Point the dense map at the slot, growing it while ids stay within about twice the count."""
        if oid >= len(self._dense) and 0 <= oid < 2 * self._k + 1024:
            self._dense_over(max(oid + 1, 2 * len(self._dense)))
        if 0 <= oid < len(self._dense):
            self._dense[oid] = s

    def _dense_over(self, n: int) -> None:
        """A dense map of length ``n`` holding every id below it (from the sorted arrays)."""
        k = self._k
        ids, slots = self._ids[:k], self._slot[:k]
        below = ids < n
        self._dense = np.full(n, -1, np.int32)
        self._dense[ids[below]] = slots[below]

    def _grow_slots(self, cap: int) -> None:
        for k, col in self.cols.items():
            new = self._empty(k, cap)
            new[: len(col)] = col
            self.cols[k] = new  # a reader holding the old column still reads consistent (older) values
        owner = np.full(cap, -1, np.int64)
        owner[: len(self.owner)] = self.owner
        self.owner = owner

    # -- bulk ---------------------------------------------------------------------------
    def fill(self, oids: np.ndarray, cols: Mapping[str, np.ndarray]) -> None:
        """Replace everything by these rows (ids distinct, any order), as ``load`` does."""
        oids = np.asarray(oids, np.int64)
        n = len(oids)
        order = np.argsort(oids, kind="stable")
        if n and np.any(np.diff(oids[order]) == 0):
            raise ValueError("LatestRows.fill: object ids must be distinct")
        cap = max(16, n + n // 8)
        self.cols = {}
        for k in self._spec:
            col = self._empty(k, cap)
            col[:n] = cols[k]
            self.cols[k] = col
        self.owner = np.full(cap, -1, np.int64)
        self.owner[:n] = oids
        self._ids = np.zeros(cap, np.int64)
        self._slot = np.zeros(cap, np.int64)
        self._ids[:n] = oids[order]
        self._slot[:n] = order
        self._used = self._count = self._k = n
        self._dense_over(int(min(oids.max(initial=-1) + 1, 2 * n + 1024)) if n else 0)
        self.presence += 1

    def arrays(self) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """(ids ascending, their columns in that order): every row, compacted (the index cache's form)."""
        k = self._k
        ids = self._ids[:k]
        slots = self._slot[:k]
        ok = self.owner[slots] == ids
        slots = slots[ok]
        return ids[ok].copy(), {name: col[slots].copy() for name, col in self.cols.items()}


def latest_per_object(oids: np.ndarray, *order_keys: np.ndarray) -> np.ndarray:
    """Indices of one row per object id: the row greatest by ``order_keys`` (the first key most significant)."""
    if not len(oids):
        return np.zeros(0, np.int64)
    order = np.lexsort((*reversed(order_keys), oids))  # by id, then by the keys ascending: the last per id wins
    o = oids[order]
    last = np.r_[o[1:] != o[:-1], True]
    return order[last]
