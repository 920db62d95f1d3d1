"""The patched label index (adds, removals, relabels, new and vanished labels) equals a rebuild."""

from __future__ import annotations

import numpy as np

from robomem.submodules.base import LabelIndex
from robomem.submodules.spatial.label_patch import changes_since, patched


def build(objs: dict[int, str], version: int) -> LabelIndex:
    ids = sorted(objs)
    uniq = sorted(set(objs.values()))
    return LabelIndex(
        ids=np.asarray(ids, dtype=np.int64),
        uniq=tuple(uniq),
        lab_idx=np.asarray([uniq.index(objs[i]) for i in ids], dtype=np.int64),
        version=version,
    )


def test_patched_label_index_equals_a_rebuild():
    rng = np.random.default_rng(7)
    names = [f"label{i}" for i in range(12)]
    objs = {i: names[int(rng.integers(0, 4))] for i in range(1, 200)}
    index, version, log, next_id = build(objs, 0), 0, [], 200
    for step in range(300):
        for _ in range(int(rng.integers(1, 6))):
            op = rng.random()
            if op < 0.35 or not objs:  # a new object, sometimes with a label nobody had
                oid, next_id = next_id, next_id + 1
                objs[oid] = names[int(rng.integers(0, len(names)))]
            elif op < 0.65:  # a removal (a merge, forgetting)
                oid = int(rng.choice(sorted(objs)))
                del objs[oid]
            else:  # a relabel
                oid = int(rng.choice(sorted(objs)))
                objs[oid] = names[int(rng.integers(0, len(names)))]
            version += 1
            log.append((version, oid, None))
        touched = changes_since(log, index.version, version)
        assert touched is not None
        index = patched(index, touched, objs.get, version)
        want = build(objs, version)
        assert index.uniq == want.uniq, step
        assert np.array_equal(index.ids, want.ids) and np.array_equal(index.lab_idx, want.lab_idx), step
    assert changes_since(log[-5:], version - 10, version) is None  # the log does not reach back: rebuild
    assert changes_since(log, version, version) == set()
