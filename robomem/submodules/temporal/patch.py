"""Temporal search index: which objects have evidence here, with their label and the slot of their latest
sighting, kept up to date instead of rebuilt (issue 14).

The index stores *slots* into the latest-sighting columns (``latest.py``), not stamps, so a new sighting of an
object it holds changes nothing in it: the search reads the stamp from the live column.  It changes only when
an object gains or loses its latest rows (``touched``: a new object, a merge) or spatial memory's label index
moved on (``ObjectIndex.label_changes``: added, removed, relabelled objects, new labels): those objects'
entries are dropped and inserted anew, the rest keep theirs (re-pointed when the set of labels changed).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from robomem.submodules.base import LabelIndex
from robomem.submodules.temporal.rows import LatestRows


@dataclass(frozen=True)
class SearchIndex:
    labels: LabelIndex  # the label index it reflects
    presence: tuple[int, int]  # the latest rows' presence counters it reflects (sightings, absences)
    ids: np.ndarray  # object ids with a latest sighting or absence and a label, ascending
    uniq: tuple[str, ...]  # the labels
    lab_idx: np.ndarray  # label index per id
    slot: np.ndarray  # slot of each id's latest sighting (-1: absences only)
    rel_cache: dict[str, np.ndarray]  # text -> relevance per label (the search fills it)

    def t_end(self, t_end_col: np.ndarray, at: np.ndarray) -> np.ndarray:
        """The latest sighting's end of the entries ``at`` (0.0 where there is none), from the live column."""
        s = self.slot[at]
        return np.where(s >= 0, t_end_col[np.maximum(s, 0)], 0.0)


def build_search_index(labels: LabelIndex, seen: LatestRows, gone: LatestRows) -> SearchIndex:
    slot = seen.slots(labels.ids)
    keep = (slot >= 0) | (gone.slots(labels.ids) >= 0)
    return SearchIndex(
        labels, (seen.presence, gone.presence), labels.ids[keep], labels.uniq, labels.lab_idx[keep], slot[keep], {}
    )


def patch_search_index(
    cached: SearchIndex,
    labels: LabelIndex,
    touched: set[int],
    seen: LatestRows,
    gone: LatestRows,
    label_changes: Callable[[int, int], set[int] | None],
) -> SearchIndex | None:
    """The cached index brought up to ``labels`` and the ``touched`` objects, or None (rebuild)."""
    old = cached.labels
    if old is labels:
        changed: set[int] | None = set()
    elif old.version < 0 or labels.version < 0:
        changed = None
    else:
        changed = label_changes(old.version, labels.version)
    if changed is None:
        return None
    ids, lab_idx, slot, rel_cache = cached.ids, cached.lab_idx, cached.slot, cached.rel_cache
    if labels.uniq != old.uniq:  # entries kept below have labels that are still in use: all map
        at = {u: j for j, u in enumerate(labels.uniq)}
        remap = np.fromiter((at.get(u, -1) for u in old.uniq), dtype=np.int64, count=len(old.uniq))
        lab_idx = remap[lab_idx]
        rel_cache = {}  # relevance per label of the old label set
    t = np.unique(np.fromiter(touched | changed, dtype=np.int64))
    if len(t) and len(ids):
        pos = np.minimum(np.searchsorted(ids, t), len(ids) - 1)
        hit = ids[pos] == t
        if hit.any():
            keep = np.ones(len(ids), dtype=bool)
            keep[pos[hit]] = False
            ids, lab_idx, slot = ids[keep], lab_idx[keep], slot[keep]
    if len(t) and len(labels.ids):
        pos = np.minimum(np.searchsorted(labels.ids, t), len(labels.ids) - 1)
        ok = labels.ids[pos] == t
        a_ids, a_pos = t[ok], pos[ok]
        a_slot = seen.slots(a_ids)
        has = (a_slot >= 0) | (gone.slots(a_ids) >= 0)
        if has.any():
            a_ids, a_lab, a_slot = a_ids[has], labels.lab_idx[a_pos[has]], a_slot[has]
            ins = np.searchsorted(ids, a_ids)
            ids, lab_idx, slot = (
                np.insert(ids, ins, a_ids),
                np.insert(lab_idx, ins, a_lab),
                np.insert(slot, ins, a_slot),
            )
    return SearchIndex(labels, (seen.presence, gone.presence), ids, labels.uniq, lab_idx, slot, rel_cache)
