"""The moved rule's candidate arrays, kept across label generations, equal arrays built afresh."""

from __future__ import annotations

import numpy as np

from robomem.submodules.spatial.index import IndexedObject, ObjectIndex
from robomem.submodules.spatial.moved import MovedCache


def _obj(oid: int, label: str, rng: np.random.Generator, absent: bool = False) -> IndexedObject:
    c = rng.uniform(0, 20, 3)
    return IndexedObject(oid, c - 0.1, c + 0.1, c, float(oid), float(oid) + 1.0, 2, label, (label,), absent)


def test_kept_candidate_arrays_equal_fresh_ones():
    rng = np.random.default_rng(5)
    index = ObjectIndex()
    colour: dict[int, tuple[float, float, float]] = {}
    labels = ["mug", "book", "bowl"]
    kept = MovedCache()
    reads = {"kept": 0, "fresh": 0}

    def colours_of(ids: np.ndarray, who: str = "fresh") -> np.ndarray:
        reads[who] += len(ids)
        out = np.full((len(ids), 3), np.nan)
        for j, oid in enumerate(ids.tolist()):
            if oid in colour:
                out[j] = colour[oid]
        return out

    next_id = 1
    for step in range(400):
        op = rng.random()
        if op < 0.3 or len(index) < 5:  # a new object (some without a colour)
            o = _obj(next_id, labels[int(rng.integers(0, 3))], rng)
            index.upsert(o)
            if rng.random() < 0.8:
                colour[next_id] = tuple(rng.uniform(0, 1, 3).tolist())
            kept.colour_changed(next_id)
            next_id += 1
        else:
            oid = int(rng.choice(list(index.slot_of)))
            slot = index.slot_of[oid]
            if op < 0.55:  # marked absent or present again: the label's generation moves, no colour changes
                index.set_absent(oid, not bool(index.absent[slot]))
            elif op < 0.8:  # a new state: its colour blends
                lab = index.vocab[int(index.lab_idx[slot])]
                index.upsert(_obj(oid, lab, rng, bool(index.absent[slot])))
                colour[oid] = tuple(rng.uniform(0, 1, 3).tolist())
                kept.colour_changed(oid)
            else:  # merged away
                index.remove(oid)
                colour.pop(oid, None)
                kept.colour_changed(oid)
        lab = labels[int(rng.integers(0, 3))]
        gen = index.label_gen.get(lab, 0)
        got = kept.candidates(index, lab, gen, lambda ids: colours_of(ids, "kept"))
        want = MovedCache().candidates(index, lab, gen, colours_of)
        assert np.array_equal(got.ids, want.ids), step
        assert np.array_equal(got.centroids, want.centroids) and np.array_equal(got.first_seen, want.first_seen)
        assert np.array_equal(got.colours, want.colours, equal_nan=True), step
    assert reads["kept"] < reads["fresh"] / 2  # the kept arrays read only new or changed colours
