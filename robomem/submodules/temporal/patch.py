"""Temporal search index kept up to date instead of rebuilt (issue 14).

The index (object ids with evidence, their label index, last sighting end) is patched when only the
sightings of known objects changed, and extended when spatial memory extended its label index with
objects of new, higher ids (``SpatialMemory.label_index``): at 10^5..10^6 objects a rebuild is a
Python pass over every object inside the first query after an update.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from robomem.submodules.base import LabelIndex


def patch_search_index(
    cached: tuple[Any, ...], labels: LabelIndex, touched: set[int], last: dict[int, Any], gone: dict[int, Any], sig: Any
) -> tuple[Any, ...] | None:
    """The cached index brought up to ``labels`` and the ``touched`` sightings, or None (rebuild)."""
    old = cached[0][0]
    n0 = len(old.ids)
    grown = (
        old is not labels
        and labels.uniq == old.uniq
        and len(labels.ids) >= n0
        and np.array_equal(labels.ids[:n0], old.ids)
    )
    if not (old is labels or grown):
        return None
    added = labels.ids[n0:]
    ids = cached[1]
    t = np.fromiter(touched, dtype=np.int64, count=len(touched))
    t = t[~np.isin(t, added)]
    pos = np.minimum(np.searchsorted(ids, t), max(len(ids) - 1, 0))
    if len(t) and not (len(ids) and np.all(ids[pos] == t)):
        return None  # evidence for an object the index did not hold
    t_end, lab_idx = cached[4].copy(), cached[3]
    t_end[pos] = [last[i].t_end if i in last else 0.0 for i in t.tolist()]
    if len(added):
        keep = np.fromiter((i in last or i in gone for i in added.tolist()), dtype=bool, count=len(added))
        new = added[keep]
        ids = np.concatenate([ids, new])
        lab_idx = np.concatenate([lab_idx, labels.lab_idx[n0:][keep]])
        t_end = np.concatenate([t_end, np.asarray([last[i].t_end if i in last else 0.0 for i in new.tolist()])])
    return ((labels, *sig), ids, labels.uniq, lab_idx, t_end, cached[5])
