"""Temporal search index kept up to date instead of rebuilt (issue 14).

The index (object ids with evidence, their label index, last sighting end) is patched by the objects
whose sightings or absences changed (``touched``) and by those whose label entry changed in spatial
memory's label index since the one the index was built on (``ObjectIndex.label_changes``: added,
removed, relabelled objects, new labels): their entries are dropped and inserted anew, the rest keep
theirs (re-pointed when the set of labels changed).  At 10^5..10^6 objects a rebuild is a Python pass
over every object inside the first query after an update.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from robomem.submodules.base import LabelIndex


def patch_search_index(
    cached: tuple[Any, ...],
    labels: LabelIndex,
    touched: set[int],
    last: dict[int, Any],
    gone: dict[int, Any],
    sig: Any,
    label_changes: Callable[[int, int], set[int] | None],
) -> tuple[Any, ...] | None:
    """The cached index brought up to ``labels`` and the ``touched`` sightings, or None (rebuild)."""
    old = cached[0][0]
    if old is labels:
        changed: set[int] | None = set()
    elif old.version < 0 or labels.version < 0:
        changed = None
    else:
        changed = label_changes(old.version, labels.version)
    if changed is None:
        return None
    ids, lab_idx, t_end, rel_cache = cached[1], cached[3], cached[4], cached[5]
    if not changed and touched and len(ids):  # the common case: new sightings of objects the index holds
        t = np.fromiter(touched, dtype=np.int64, count=len(touched))
        pos = np.minimum(np.searchsorted(ids, t), len(ids) - 1)
        if np.all(ids[pos] == t):
            t_end = t_end.copy()  # one copy: a reader may still hold the old arrays
            t_end[pos] = [last[i].t_end if i in last else 0.0 for i in t.tolist()]
            return ((labels, *sig), ids, labels.uniq, lab_idx, t_end, rel_cache)
    if labels.uniq != old.uniq:  # entries kept below have labels that are still in use: all map
        at = {u: j for j, u in enumerate(labels.uniq)}
        remap = np.fromiter((at.get(u, -1) for u in old.uniq), dtype=np.int64, count=len(old.uniq))
        lab_idx = remap[lab_idx]
        rel_cache = {}  # relevance per label of the old label set
    t = np.unique(np.fromiter(touched | changed, dtype=np.int64))
    if len(t) and len(ids):
        pos = np.minimum(np.searchsorted(ids, t), len(ids) - 1)
        hit = ids[pos] == t
        keep = np.ones(len(ids), dtype=bool)
        keep[pos[hit]] = False
        ids, lab_idx, t_end = ids[keep], lab_idx[keep], t_end[keep]
    if len(t) and len(labels.ids):
        pos = np.minimum(np.searchsorted(labels.ids, t), len(labels.ids) - 1)
        ok = labels.ids[pos] == t
        add = [(oid, j) for oid, j, k in zip(t.tolist(), pos.tolist(), ok.tolist(), strict=True) if k]
        add = [(oid, j) for oid, j in add if oid in last or oid in gone]
        if add:
            a_ids = np.asarray([oid for oid, _j in add], dtype=np.int64)
            a_lab = labels.lab_idx[np.asarray([j for _o, j in add], dtype=np.int64)]
            a_end = np.asarray([last[oid].t_end if oid in last else 0.0 for oid, _j in add], dtype=np.float64)
            ins = np.searchsorted(ids, a_ids)
            ids, lab_idx, t_end = (
                np.insert(ids, ins, a_ids),
                np.insert(lab_idx, ins, a_lab),
                np.insert(t_end, ins, a_end),
            )
    return ((labels, *sig), ids, labels.uniq, lab_idx, t_end, rel_cache)
