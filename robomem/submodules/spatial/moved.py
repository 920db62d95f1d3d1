"""The moved-object rule's candidate arrays per top label, kept while the label's members stay (issue 14).

``SpatialMemory.moved_candidates`` hands ``maintenance.merging`` every non-absent object of the absent
object's top label as arrays.  A label's generation moves with every change of one of its objects (a new
sighting, an absence), and several absences of one label in one frame each moved it: rebuilding the arrays
then (a Python pass over the label's slot set, ~1-2 ms for the ~2.5k objects a label has at 10^6, for each
absence) was the update p99 at 10^6.  So what is kept per label is only what changes rarely: its *members*
(slots and ids in id order), valid while the index's label log names none of them and no new member
(objects added, removed or re-labelled); the absent flags, centroids and first sightings are read from
the index rows on every call (a few vectorised gathers).  Colours change only when spatial memory stores a
new state of an object (an update or a merge, both tell :meth:`MovedCache.colour_changed`): the kept
colours are refreshed for the ids logged since, and a rebuild reads only new members' colours.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from robomem.submodules.spatial.index import MovedCandidates, ObjectIndex
from robomem.submodules.spatial.label_patch import changes_since

# which candidates the caller can use: (ids, centroids, first sightings) -> bool mask
Where = Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]

LOG_KEEP = 16384  # colour changes remembered; a label's colours older than that are read again in full


@dataclass
class _Members:
    version: int  # the index's label_version they are valid at
    slots: np.ndarray  # the label's slots (in no particular order: candidates are sorted once filtered)
    ids: np.ndarray
    colours: np.ndarray  # (k, 3), NaN rows where unknown
    read: np.ndarray  # (k,) bool: the colour row was read (rows are read only when a caller needs them)
    epoch: int  # colour log position the colours are valid at


class MovedCache:
    def __init__(self) -> None:
        self._by_label: dict[str, _Members] = {}
        self._log: list[int] = []  # ids whose colour changed, in order: entry k is epoch base + k + 1
        self._base = 0
        self.rebuilds = 0  # member arrays built from the label's slot set (for tests and benchmarks)

    def colour_changed(self, object_id: int) -> None:
        self._log.append(int(object_id))
        if len(self._log) > 2 * LOG_KEEP:
            del self._log[:LOG_KEEP]
            self._base += LOG_KEEP

    def _valid(self, index: ObjectIndex, label: str, m: _Members) -> bool:
        """Are ``m``'s members still the label's?  Only added, removed and re-labelled objects change them,
        and the index logs each of those (``label_log``)."""
        if m.version == index.label_version:
            return True
        touched = changes_since(index.label_log, m.version, index.label_version)
        if touched is None:
            return False
        t = np.fromiter(touched, dtype=np.int64, count=len(touched))
        if len(m.ids) and _among(m.ids, t).any():
            return False  # one of them left the label (removed, merged away, re-labelled) or was re-added
        for oid in t.tolist():
            slot = index.slot_of.get(oid)
            if slot is not None and index.vocab[int(index.lab_idx[slot])] == label:
                return False  # a new member
        m.version = index.label_version
        return True

    def candidates(
        self,
        index: ObjectIndex,
        label: str,
        colours_of: Callable[[np.ndarray], np.ndarray],
        after: float = -np.inf,
        exclude: int | None = None,
        where: Where | None = None,
    ) -> MovedCandidates:
        """The non-absent objects of top label ``label`` first seen after ``after``, but ``exclude``, in id
        order (the caller holds the spatial lock); with ``where`` (ids, centroids, first sightings -> mask),
        only the ones it keeps, and only their colours are read."""
        m = self._by_label.get(label)
        epoch = self._base + len(self._log)
        if m is None or not self._valid(index, label, m):
            m = self._build(index, label, m, epoch)
        elif m.epoch != epoch:
            self._refresh(m, epoch)
        rows = np.flatnonzero(~index.absent[m.slots])
        rows = rows[index.first_seen[m.slots[rows]] > after]
        if exclude is not None:
            rows = rows[m.ids[rows] != exclude]
        ids, slots = m.ids[rows], m.slots[rows]
        cents, first = index.cents[slots], index.first_seen[slots]
        if where is not None and len(rows):
            keep = np.asarray(where(ids, cents, first), dtype=bool)
            rows, ids, cents, first = rows[keep], ids[keep], cents[keep], first[keep]
        order = np.argsort(ids, kind="stable")
        rows, ids, cents, first = rows[order], ids[order], cents[order], first[order]
        unread = rows[~m.read[rows]]
        if len(unread):
            m.colours[unread] = colours_of(m.ids[unread])
            m.read[unread] = True
        return MovedCandidates(ids, cents, first, m.colours[rows])

    def _refresh(self, m: _Members, epoch: int) -> None:
        """Forget the colours of the members logged as changed since ``m.epoch`` (read again when needed)."""
        if m.epoch < self._base:
            m.read[:] = False
        else:
            changed = self._log[m.epoch - self._base :]
            if changed and len(m.ids):
                m.read &= ~_among(m.ids, np.asarray(changed, dtype=np.int64))
        m.epoch = epoch

    def _build(
        self,
        index: ObjectIndex,
        label: str,
        old: _Members | None,
        epoch: int,
    ) -> _Members:
        self.rebuilds += 1
        slots = index.of_label(label)
        ids = index.ids[slots]
        colours = np.full((len(ids), 3), np.nan)
        read = np.zeros(len(ids), dtype=bool)
        if old is not None and old.epoch >= self._base and old.read.any() and len(ids):
            by_id = np.argsort(old.ids, kind="stable")
            old_ids = old.ids[by_id]
            pos = by_id[np.minimum(np.searchsorted(old_ids, ids), len(old_ids) - 1)]
            have = (old.ids[pos] == ids) & old.read[pos]
            changed = self._log[old.epoch - self._base :]
            if changed:
                have &= ~_among(ids, np.asarray(changed, dtype=np.int64))
            colours[have] = old.colours[pos[have]]
            read = have
        if len(self._by_label) > 4096:
            self._by_label.clear()
        m = _Members(index.label_version, slots, ids, colours, read, epoch)
        self._by_label[label] = m
        return m


def _among(a: np.ndarray, few: np.ndarray) -> np.ndarray:
    """``np.isin(a, few)``; for the few ids a frame changes, compared directly (isin sorts ``a``: ~0.2 ms for
    a label's members at 10^6, for every absence)."""
    if len(few) > 32:
        return np.isin(a, few)
    out = np.zeros(len(a), dtype=bool)
    for v in np.unique(few).tolist():
        out |= a == v
    return out
