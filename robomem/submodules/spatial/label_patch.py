"""The label index brought up to date instead of rebuilt (issue 14).

``SpatialMemory.label_index`` is every object's label as arrays.  It used to be rebuilt (a Python pass
over every object: ~0.12 s at 10^5 objects, inside the first query after an update) whenever an object
was removed, changed its top label or brought a new label.  The spatial index logs every such change
(``ObjectIndex.label_log``: the object's id); :func:`patched` takes the old arrays, drops the touched
objects' entries and inserts their current ones, all in numpy: O(n) copies, no Python loop over n.
The result equals a rebuild (tests/submodules/test_label_patch.py).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np

from robomem.submodules.base import LabelIndex


def patched(old: LabelIndex, touched: Iterable[int], label_of: Callable[[int], str | None], version: int) -> LabelIndex:
    """``old`` with the entries of the ``touched`` object ids replaced by their labels now (``label_of``:
    None = no longer an object); labels no object has any more leave ``uniq``, as in a rebuild."""
    t = np.unique(np.fromiter(touched, dtype=np.int64))
    ids, lab = old.ids, old.lab_idx
    if len(t) and len(ids):
        pos = np.searchsorted(ids, t)
        posc = np.minimum(pos, len(ids) - 1)
        hit = ids[posc] == t
        keep = np.ones(len(ids), dtype=bool)
        keep[posc[hit]] = False
        ids, lab = ids[keep], lab[keep]
    now = [(oid, label_of(oid)) for oid in t.tolist()]
    add = [(oid, lab_) for oid, lab_ in now if lab_ is not None]
    used = np.bincount(lab, minlength=len(old.uniq)) > 0 if len(lab) else np.zeros(len(old.uniq), dtype=bool)
    uniq = tuple(sorted({u for u, k in zip(old.uniq, used.tolist(), strict=True) if k} | {lb for _o, lb in add}))
    at = {u: j for j, u in enumerate(uniq)}
    if uniq != old.uniq:
        remap = np.fromiter((at.get(u, -1) for u in old.uniq), dtype=np.int64, count=len(old.uniq))
        lab = remap[lab]
    if add:
        add_ids = np.asarray([o for o, _l in add], dtype=np.int64)
        add_lab = np.asarray([at[lb] for _o, lb in add], dtype=np.int64)
        ins = np.searchsorted(ids, add_ids)
        ids, lab = np.insert(ids, ins, add_ids), np.insert(lab, ins, add_lab)
    return LabelIndex(ids=ids, uniq=uniq, lab_idx=lab, version=version)


def changes_since(log: list[tuple[int, int, str | None]], since: int, until: int) -> set[int] | None:
    """Ids of the objects whose label entry changed between label versions ``since`` and ``until``
    (the log holds one entry per version step), or None when the log no longer reaches back that far."""
    n = until - since
    if n < 0:
        return None
    if n == 0:
        return set()
    new = log[-n:]
    if len(new) != n or new[0][0] != since + 1 or new[-1][0] != until:
        return None
    return {oid for _v, oid, _l in new}
