"""Spatial memory from the index cache (issue 14) holds exactly what it holds after an open from the store."""

from __future__ import annotations

import shutil
from dataclasses import replace

import numpy as np
from test_spatial_index import LABELS, _bulk, _mutate_and_check, random_object

from robomem import Memory, Query
from robomem.store.index_cache import CACHE_NAME
from robomem.submodules.spatial.index import ObjectIndex
from robomem.testing.synthetic import BoxScene, demo_boxes, look_at

ROWS = ("ids", "mins", "maxs", "cents", "first_seen", "last_seen", "n_obs", "lab_idx", "absent", "active")


def _same_index(a: ObjectIndex, b: ObjectIndex) -> None:
    assert a.canonical() == b.canonical() and a.top == b.top and a.vocab == b.vocab
    assert a.label_gen == b.label_gen and a.label_version == b.label_version and a.version == b.version
    for name in ROWS:
        np.testing.assert_array_equal(getattr(a, name)[: a.top], getattr(b, name)[: b.top])


def test_an_exported_index_restores_what_a_bulk_load_of_its_objects_builds():
    rng = np.random.default_rng(4)
    objs = {oid: random_object(rng, oid, LABELS) for oid in range(1, 301)}
    index = ObjectIndex(capacity=16)
    _bulk(objs, index)
    _mutate_and_check(index, objs, rng, 301)  # moves, relabels, absences, merges, deletes, reused slots
    fresh, restored = ObjectIndex(), ObjectIndex()
    _bulk(objs, fresh)
    restored.restore(index.export())
    _same_index(restored, fresh)
    o = random_object(rng, 10**6, LABELS)  # and it changes as the other does
    for ix in (fresh, restored):
        ix.upsert(o)
        ix.remove(sorted(objs)[3])
    _same_index(restored, fresh)


def _session(path, embedder) -> None:
    """Sightings from several views, a relabelled object, an object gone (absent), merges, forgetting."""
    target = (2.3, -0.3, 0.7)
    views = [(0.0, 0.0, 1.5), (0.2, -0.5, 1.5), (0.3, 0.5, 1.4), (1.0, -2.0, 1.6), (0.1, 0.2, 1.5)]
    boxes = demo_boxes()
    with Memory.open(path, embedder=embedder) as mem:
        for i, eye in enumerate(views):
            mem.update(BoxScene(boxes).observe(look_at(eye, target), float(i)))
    relabelled = [replace(b, label="green cup") if b.label == "red mug" else b for b in boxes]
    without_book = [b for b in relabelled if b.label != "book"]
    with Memory.open(path, embedder=embedder) as mem:  # a session on a store opened from the cache
        assert mem.opened_from_cache
        for i, eye in enumerate(views * 2):
            mem.update(BoxScene(relabelled).observe(look_at(eye, target), 10.0 + i))
        for i, eye in enumerate(views):
            mem.update(BoxScene(without_book).observe(look_at(eye, target), 30.0 + i))
        mem.maintain()


def _state(mem: Memory) -> dict[str, object]:
    sp = mem.spatial
    li = sp.label_index()
    q = mem.retrieve(Query(text="a mug", k=5))
    return {
        "objects": sp.objects(),
        "vocabulary": sp.vocabulary(),
        "labels": (li.ids.tolist(), li.uniq, li.lab_idx.tolist()),
        "absent": [o.object_id for o in sp.objects() if o.status == "absent"],
        "colours": sp._objs.colours(np.array([o.object_id for o in sp.objects()])).tolist(),
        "usage": sp.usage(),
        "answer": [e.key for e in q.entries] if hasattr(q, "entries") else repr(q),
    }


def test_a_cache_open_after_a_session_holds_what_an_open_from_the_store_holds(tmp_path, embedder):
    path = tmp_path / "m"
    _session(path, embedder)
    assert (path / CACHE_NAME).exists()
    sql = tmp_path / "sql"
    shutil.copytree(path, sql)
    (sql / CACHE_NAME).unlink()
    with Memory.open(path, embedder=embedder, readonly=True) as a, Memory.open(sql, embedder=embedder) as b:
        assert a.opened_from_cache and not b.opened_from_cache
        _same_index(a.spatial._index, b.spatial._index)
        assert len(a.spatial._objs) == len(b.spatial._objs)
        sa, sb = _state(a), _state(b)
        assert sa == sb
        assert sa["absent"] and any("green cup" in o.labels for o in sa["objects"])


def test_a_damaged_spatial_cache_falls_back_to_the_store(tmp_path, embedder):
    path = tmp_path / "m"
    _session(path, embedder)
    with np.load(path / CACHE_NAME) as z:
        arrays = {k: z[k] for k in z.files}
    arrays["spatial.ix.set.grid.vals"] = arrays["spatial.ix.set.grid.vals"] + 10**6  # slots that do not exist
    with open(path / CACHE_NAME, "wb") as f:
        np.savez(f, **arrays)
    with Memory.open(path, embedder=embedder) as mem:
        assert not mem.opened_from_cache and mem.spatial.count() > 0
