"""The moved rule's candidate arrays, kept across label generations, equal arrays built afresh; an absence
or a new sighting of a member does not rebuild them."""

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
            elif op < 0.8:  # a new state: its colour blends (sometimes its top label changes)
                lab = index.vocab[int(index.lab_idx[slot])]
                if rng.random() < 0.15:
                    lab = labels[int(rng.integers(0, 3))]
                index.upsert(_obj(oid, lab, rng, bool(index.absent[slot])))
                colour[oid] = tuple(rng.uniform(0, 1, 3).tolist())
                kept.colour_changed(oid)
            else:  # merged away
                index.remove(oid)
                colour.pop(oid, None)
                kept.colour_changed(oid)
        lab = labels[int(rng.integers(0, 3))]
        got = kept.candidates(index, lab, lambda ids: colours_of(ids, "kept"))
        want = MovedCache().candidates(index, lab, colours_of)
        assert np.array_equal(got.ids, want.ids), step
        assert np.array_equal(got.centroids, want.centroids) and np.array_equal(got.first_seen, want.first_seen)
        assert np.array_equal(got.colours, want.colours, equal_nan=True), step
    assert reads["kept"] < reads["fresh"] / 2  # the kept arrays read only new or changed colours


def test_absences_and_new_sightings_do_not_rebuild_the_members():
    rng = np.random.default_rng(7)
    index = ObjectIndex()
    for oid in range(1, 301):
        index.upsert(_obj(oid, "mug" if oid % 2 else "book", rng))
    kept = MovedCache()

    def colours_of(ids: np.ndarray) -> np.ndarray:
        return np.tile(ids[:, None].astype(np.float64), (1, 3))

    kept.candidates(index, "mug", colours_of)
    assert kept.rebuilds == 1
    for oid in range(1, 200, 2):  # mugs seen gone, and mugs seen again somewhere else
        index.set_absent(oid)
        index.upsert(_obj(oid + 100, "mug", rng))
        kept.colour_changed(oid + 100)
        got = kept.candidates(index, "mug", colours_of)
        want = MovedCache().candidates(index, "mug", colours_of)
        assert np.array_equal(got.ids, want.ids) and np.array_equal(got.centroids, want.centroids)
    assert kept.rebuilds == 1
    index.upsert(_obj(301, "mug", rng))  # a new member: built again
    got = kept.candidates(index, "mug", colours_of)
    assert kept.rebuilds == 2 and 301 in got.ids.tolist()


def test_filters_apply_before_colours_are_read():
    """after / exclude / where give the rows a full build gives, filtered; colours are read for those only."""
    rng = np.random.default_rng(11)
    index = ObjectIndex()
    for oid in range(1, 201):
        index.upsert(_obj(oid, "mug", rng, absent=oid % 7 == 0))
    asked: list[int] = []

    def colours_of(ids: np.ndarray) -> np.ndarray:
        asked.extend(ids.tolist())
        return np.tile(ids[:, None].astype(np.float64), (1, 3))

    def near_origin(ids: np.ndarray, cents: np.ndarray, first: np.ndarray) -> np.ndarray:
        assert np.array_equal(first, index.first_seen[[index.slot_of[i] for i in ids.tolist()]])
        return np.linalg.norm(cents, axis=1) < 15.0

    kept = MovedCache()
    got = kept.candidates(index, "mug", colours_of, after=50.0, exclude=60, where=near_origin)
    full = MovedCache().candidates(index, "mug", lambda ids: np.tile(ids[:, None].astype(np.float64), (1, 3)))
    want = (full.first_seen > 50.0) & (full.ids != 60) & (np.linalg.norm(full.centroids, axis=1) < 15.0)
    assert 0 < want.sum() < len(full.ids)
    assert np.array_equal(got.ids, full.ids[want]) and np.array_equal(got.centroids, full.centroids[want])
    assert np.array_equal(got.colours, full.colours[want])
    assert sorted(asked) == got.ids.tolist()  # no other colour was read
