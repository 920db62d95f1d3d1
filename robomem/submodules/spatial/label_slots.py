"""Each top label's slots as arrays, kept in step with the object index (issue 14: search cost follows the matches).

A text query scores only the objects whose top label is relevant enough (``RetrievalConfig.min_relevance``).
Finding those used to be a pass over every slot (gather each slot's label relevance, compare, collect: ~15 ms
at 10^6 objects); with these arrays it is a concatenation of the relevant labels' slots.  They are built once
(from the index's top-label sets) and then brought up to date from ``ObjectIndex.label_log`` (one entry per
added or removed object and per change of top label): a change costs the labels it touches, not a rebuild.
A moved or re-seen object keeps its slot and label, so the live loop's updates cost nothing here.

A removed object's slot cannot be found from the log (its id is gone from the index), so it stays in its
label's array until the slot is reused (the reuse is logged and moves it); ``slots`` drops inactive slots.
"""

from __future__ import annotations

import weakref
from collections import defaultdict

import numpy as np

from robomem.submodules.spatial.index import ObjectIndex
from robomem.submodules.spatial.label_patch import changes_since

_EMPTY = np.zeros(0, dtype=np.int64)


class LabelSlots:
    """Top label (its vocabulary index) -> the slots of the objects with that top label, ascending."""

    def __init__(self) -> None:
        self._index: weakref.ref[ObjectIndex] | None = None
        self._version = -1
        self._shadow = np.zeros(0, dtype=np.int64)  # the label each slot had at the last sync (-1: none)
        self._of: list[np.ndarray] = []
        self.rebuilds = 0  # full builds (the first, and whenever the log no longer reaches back)

    def sync(self, index: ObjectIndex) -> None:
        """Bring the arrays up to date with ``index`` (the caller holds the index's lock)."""
        version = index.label_version
        if self._index is None or self._index() is not index:
            self._rebuild(index)
            return
        if version == self._version:
            return
        touched = changes_since(index.label_log, self._version, version)
        if touched is None:
            self._rebuild(index)
            return
        slots = [s for oid in touched if (s := index.slot_of.get(oid)) is not None]
        if slots and max(slots) >= len(self._shadow):
            grown = np.full(max(index.top, max(slots) + 1), -1, dtype=np.int64)
            grown[: len(self._shadow)] = self._shadow
            self._shadow = grown
        removed: dict[int, list[int]] = defaultdict(list)
        added: dict[int, list[int]] = defaultdict(list)
        for s in slots:
            old = int(self._shadow[s])
            new = int(index.lab_idx[s]) if index.active[s] else -1
            if old == new:
                continue
            if old >= 0:
                removed[old].append(s)
            if new >= 0:
                added[new].append(s)
            self._shadow[s] = new
        if len(self._of) < len(index.vocab):
            self._of.extend([_EMPTY] * (len(index.vocab) - len(self._of)))
        for j in removed.keys() | added.keys():
            arr = self._of[j]
            if j in removed:
                arr = arr[~np.isin(arr, removed[j])]
            if j in added:
                add = np.unique(np.asarray(added[j], dtype=np.int64))
                add = add[~np.isin(add, arr)]  # a stale (removed) slot reused with its old label is there already
                arr = np.insert(arr, np.searchsorted(arr, add), add)
            self._of[j] = arr
        self._version = version

    def _rebuild(self, index: ObjectIndex) -> None:
        n = index.top
        lab = np.where(index.active[:n], index.lab_idx[:n], -1)
        # the index's own top-label sets (a CSR base and what changed since): no sort of the label column
        # (an argsort was ~60 ms in the first query after an open at 10^6)
        self._of = [index.of_label(name) for name in index.vocab]
        self._shadow = lab.astype(np.int64, copy=True)
        self._index = weakref.ref(index)
        self._version = index.label_version
        self.rebuilds += 1

    def sizes(self, labels: np.ndarray) -> np.ndarray:
        """How many slots each label (vocabulary index) holds, removed objects not yet dropped included (an
        upper bound of its active objects); call ``sync`` first."""
        return np.fromiter(
            (len(self._of[j]) if j < len(self._of) else 0 for j in labels.tolist()), np.int64, len(labels)
        )

    def slots(self, index: ObjectIndex, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(slots, their label) of the active objects whose top label is one of ``labels`` (vocabulary
        indices), grouped by label; call ``sync`` first."""
        labels = labels[labels < len(self._of)]
        if len(labels) == 0:
            return _EMPTY, _EMPTY
        parts = [self._of[j] for j in labels.tolist()]
        lens = np.fromiter((len(p) for p in parts), dtype=np.int64, count=len(parts))
        idx = np.concatenate(parts)
        lab = np.repeat(labels, lens)
        live = index.active[idx]
        if not live.all():
            idx, lab = idx[live], lab[live]
        return idx, lab
