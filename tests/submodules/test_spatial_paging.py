"""Object geometry is paged from the store (issue 14): an LRU holds at most ``resident_objects`` full states;
an evicted object's points come back from the store identical, and memory with a one-object LRU decides
exactly what memory holding everything decides."""

from __future__ import annotations

import sqlite3

import numpy as np
import pytest

from robomem import Memory
from robomem.config import MemoryConfig, SpatialConfig
from robomem.errors import UnknownObjectError
from robomem.submodules.spatial.index import IndexedObject, ObjectIndex
from robomem.testing.synthetic import BoxScene, demo_boxes, look_at

TARGET = (2.3, -0.3, 0.7)
VIEWS = [(0.0, 0.0, 1.5), (0.2, -0.5, 1.5), (0.3, 0.5, 1.4), (1.0, -2.0, 1.6), (0.1, 0.2, 1.5)]


def _config(resident: int) -> MemoryConfig:
    return MemoryConfig(spatial=SpatialConfig(resident_objects=resident))


def _run(path, embedder, resident: int) -> dict[int, tuple[object, np.ndarray]]:
    """The demo room seen from every view; every object's record and points, read with that LRU size."""
    with Memory.open(path, config=_config(resident), embedder=embedder) as mem:
        scene = BoxScene(demo_boxes())
        for i, eye in enumerate(VIEWS):
            mem.update(scene.observe(look_at(eye, TARGET), float(i)))
            assert mem.spatial.paging()["resident"] <= resident
        out = {}
        for o in mem.spatial.objects():
            out[o.object_id] = (o, mem.spatial.points(o.object_id))
            assert mem.spatial.paging()["resident"] <= resident
        return out


def test_a_one_object_lru_decides_what_a_full_one_does(tmp_path, embedder):
    full = _run(tmp_path / "full", embedder, 4096)
    small = _run(tmp_path / "small", embedder, 1)
    assert len(full) >= 4
    assert full.keys() == small.keys()
    for oid, (rec, pts) in full.items():
        rec_s, pts_s = small[oid]
        assert rec_s == rec
        np.testing.assert_array_equal(pts_s, pts)


def test_evicted_points_come_back_from_the_store_identical(tmp_path, embedder):
    path = tmp_path / "m"
    held = _run(path, embedder, 4096)
    with Memory.open(path, config=_config(2), embedder=embedder) as mem:
        assert mem.spatial.paging()["resident"] == 0  # open reads no geometry
        assert mem.spatial.count() == len(held)
        for _ in range(2):  # the second round pages every object in again: the LRU holds two
            for oid, (rec, pts) in held.items():
                assert mem.spatial.get(oid) == rec
                np.testing.assert_array_equal(mem.spatial.points(oid), pts)
                assert mem.spatial.paging()["resident"] <= 2
        stats = mem.spatial.paging()
        assert stats["page_ins"] == 2 * len(held)  # every read after an eviction went to the store
        assert stats["resident"] == 2


def test_bulk_load_builds_the_index_upserts_build():
    rng = np.random.default_rng(3)
    n = 3000
    lo = np.column_stack([rng.uniform(-20, 20, n), rng.uniform(-20, 20, n), rng.uniform(0, 1, n)])
    size = np.where(rng.random((n, 1)) < 0.02, 12.0, rng.uniform(0.05, 2.5, (n, 1))) * np.ones((1, 3))
    hi = lo + size  # most in one cell, some over several, a few over more than max_cells
    names = ["mug", "cup", "book", "red mug"]
    tops = [names[i] for i in rng.integers(0, 4, n)]
    sets = {i: (tops[i], "cup" if tops[i] != "cup" else "mug") for i in range(n) if rng.random() < 0.1}
    absent = rng.random(n) < 0.2
    ids = np.arange(1, n + 1, dtype=np.int64) * 3
    stamps = np.column_stack([rng.uniform(0, 10, n), rng.uniform(10, 20, n)])
    n_obs = rng.integers(1, 9, n).astype(float)
    bulk, one = ObjectIndex(), ObjectIndex()
    bulk.bulk_load(ids, lo, hi, (lo + hi) / 2, stamps, n_obs, tops, sets, absent)
    for i in range(n):
        labels = sets.get(i, (tops[i],))
        one.upsert(
            IndexedObject(
                int(ids[i]),
                lo[i],
                hi[i],
                (lo[i] + hi[i]) / 2,
                stamps[i, 0],
                stamps[i, 1],
                int(n_obs[i]),
                tops[i],
                labels,
                bool(absent[i]),
            )
        )
    assert bulk.canonical() == one.canonical() and bulk.top == one.top
    for name in ("ids", "mins", "maxs", "cents", "first_seen", "last_seen", "n_obs", "absent", "active"):
        np.testing.assert_array_equal(getattr(bulk, name)[:n], getattr(one, name)[:n])
    assert [bulk.vocab[j] for j in bulk.lab_idx[:n]] == [one.vocab[j] for j in one.lab_idx[:n]]
    for i in range(0, n, 7):  # and the bulk-built index changes as the other does
        bulk.remove(int(ids[i]))
        one.remove(int(ids[i]))
    assert bulk.canonical() == one.canonical()


def test_points_that_fail_when_paged_in_set_the_object_aside(tmp_path, embedder):
    path = tmp_path / "m"
    held = _run(path, embedder, 4096)
    (mug,) = [oid for oid, (rec, _) in held.items() if rec.label == "red mug"]
    with sqlite3.connect(path / "memory.db", isolation_level=None) as db:
        blob = db.execute("SELECT points FROM objects WHERE id=?", (mug,)).fetchone()[0]
        pts = np.frombuffer(blob, dtype=np.float32).reshape(-1, 3) + np.float32(5.0)  # all outside the sound box
        db.execute("UPDATE objects SET points=? WHERE id=?", (pts.tobytes(), mug))
    with Memory.open(path, config=_config(2), embedder=embedder) as mem:
        assert mem.spatial.count() == len(held) and mem.stats()["damaged"] == []  # open reads no points
        with pytest.raises(UnknownObjectError):
            mem.spatial.points(mug)  # paged in: the checksum fails and no point lies in the box
        (problem,) = mem.stats()["damaged"]
        assert f"#{mug}" in problem and "set aside" in problem
        assert mem.spatial.get(mug) is None and mem.spatial.count() == len(held) - 1
        assert mug not in {o.object_id for o in mem.spatial.objects()}
        others = [oid for oid in held if oid != mug]
        for oid in others:  # the rest pages in as before
            np.testing.assert_array_equal(mem.spatial.points(oid), held[oid][1])
        mem.spatial.points(others[0])
        assert mem.stats()["damaged"] == [problem]  # reported once
