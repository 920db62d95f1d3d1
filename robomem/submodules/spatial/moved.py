"""The moved-object rule's candidate arrays per top label, kept across label generations (issue 14).

``SpatialMemory.moved_candidates`` hands ``maintenance.merging`` every non-absent object of the absent
object's top label as arrays.  They are rebuilt when that label's generation changed (any of its objects
added, removed, updated, marked absent or present), and the colours were then read again for all of them:
a Python lookup per object, ~6 ms for the ~2.5k objects a label has at 10^6, for each of the several
absences a frame observes (the update p99 at 10^6).  Colours change only when spatial memory stores a new
state of an object (an update or a merge, both tell :meth:`MovedCache.colour_changed`), so a rebuild takes
the colours of objects it already had from the last arrays, and reads only the new or changed ones.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from robomem.submodules.spatial.index import MovedCandidates, ObjectIndex

LOG_KEEP = 16384  # colour changes remembered; a label's arrays older than that are rebuilt in full


class MovedCache:
    def __init__(self) -> None:
        self._by_label: dict[str, tuple[int, MovedCandidates, int]] = {}  # label -> (generation, arrays, epoch)
        self._log: list[int] = []  # ids whose colour changed, in order: entry k is epoch base + k + 1
        self._base = 0

    def colour_changed(self, object_id: int) -> None:
        self._log.append(int(object_id))
        if len(self._log) > 2 * LOG_KEEP:
            del self._log[:LOG_KEEP]
            self._base += LOG_KEEP

    def candidates(
        self, index: ObjectIndex, label: str, gen: int, colours_of: Callable[[np.ndarray], np.ndarray]
    ) -> MovedCandidates:
        """The non-absent objects of top label ``label`` in id order (the caller holds the spatial lock)."""
        cached = self._by_label.get(label)
        if cached is not None and cached[0] == gen:
            return cached[1]
        slots = index.of_label(label)
        slots = slots[~index.absent[slots]]
        slots = slots[np.argsort(index.ids[slots], kind="stable")]
        ids = index.ids[slots].copy()
        epoch = self._base + len(self._log)
        colours = None
        if cached is not None and cached[2] >= self._base and len(cached[1].ids) and len(ids):
            old = cached[1]
            pos = np.minimum(np.searchsorted(old.ids, ids), len(old.ids) - 1)
            have = old.ids[pos] == ids
            changed = self._log[cached[2] - self._base :]
            if changed:
                have &= ~np.isin(ids, np.asarray(changed, dtype=np.int64))
            colours = np.empty((len(ids), 3))
            colours[have] = old.colours[pos[have]]
            if not have.all():
                colours[~have] = colours_of(ids[~have])
        if colours is None:
            colours = colours_of(ids)
        out = MovedCandidates(ids, index.cents[slots].copy(), index.first_seen[slots].copy(), colours)
        if len(self._by_label) > 4096:
            self._by_label.clear()
        self._by_label[label] = (gen, out, epoch)
        return out
