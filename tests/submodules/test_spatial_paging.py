"""Object geometry is paged from the store (issue 14): an LRU holds at most ``resident_objects`` full states;
an evicted object's points come back from the store identical, and memory with a one-object LRU decides
exactly what memory holding everything decides."""

from __future__ import annotations

import numpy as np

from robomem import Memory
from robomem.config import MemoryConfig, SpatialConfig
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
