"""Temporal memory's latest rows and semantic memory's visit tally from the index cache: after a session of
updates, absences, forgetting, a merge and consolidation passes, a store opened from the cache holds exactly
what one opened from SQL holds (and answers the same)."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from robomem import Memory, Place, Query
from robomem.config import BudgetConfig, MemoryConfig, SemanticConfig
from robomem.store.index_cache import CACHE_NAME
from robomem.submodules.semantic.habits import pairs_from_arrays
from robomem.testing.synthetic import Box, BoxScene, demo_boxes, look_at

VIEWS = [(0.0, 0.0, 1.5), (0.2, -0.5, 1.5), (0.3, 0.5, 1.4), (1.0, -2.0, 1.6), (4.5, 1.0, 1.6)]
PLACES = [Place("kitchen", (-1, -3), (2.0, 3)), Place("living room", (2.0, -3), (6, 3))]
CFG = MemoryConfig(
    semantic=SemanticConfig(consolidate_every=3, visit_window_s=2.0),
    budget=BudgetConfig(max_sighting_rows=12, keep_recent_s=0.0, check_every=10**6),
)


def tour(mem: Memory, scene: BoxScene, t: float, views=VIEWS) -> float:
    for eye in views:
        mem.update(scene.observe(look_at(eye, (2.3, -0.3, 0.7)), t))
        t += 1.0
    return t


def state(mem: Memory) -> dict[str, object]:
    tm, sem = mem.temporal, mem.semantic
    ids = range(1, 1 + max(o.object_id for o in mem.objects()) + 2)
    tally = sem._tally  # noqa: SLF001 - the state compared
    pairs = tally.current_pairs({})
    return {
        "latest": [(tm.last_seen(i), tm.last_absence(i)) for i in ids],
        "columns": {k: v.tolist() for k, v in tm.cache_arrays().items()},
        "newest": tm.newest_stamp(),
        "next": (tm._next_sighting, tm._next_absence),  # noqa: SLF001
        "pairs": [np.asarray(x).tolist() for x in pairs],
        "labels": tally._label.tolist(),  # noqa: SLF001
        "classes": {lab: tally.class_visits(lab) for lab in tally.classes()},
        "objects": {o: tally.object_visits(o) for o in tally.objects()},
        "ready": (tally.ready, tally.epoch, sorted(sem._visit_dirty)),  # noqa: SLF001
        "answers": [
            [(e.key, e.text) for e in mem.retrieve(Query(text=q, k=5))]
            for q in ("red mug", "book", "where is the table")
        ],
    }


def test_a_cache_open_equals_an_sql_open_after_forgetting_a_merge_and_consolidation(tmp_path, embedder):
    a, b = tmp_path / "a", tmp_path / "b"
    scene = BoxScene(demo_boxes())
    with Memory.open(a, config=CFG, embedder=embedder) as mem:
        mem.set_places(PLACES)
        t = tour(mem, scene, 0.0)
        t = tour(mem, scene, t + 5.0)
        mem.maintain()  # forgetting merges sightings: the tally is counted afresh at the next pass
        assert mem.temporal.forget_epoch > 0
        t = tour(mem, scene, t + 5.0)
        scene.boxes[1] = Box(2, "red mug", (4.0, 0.8, 0.05), (0.1, 0.1, 0.1), (220, 30, 30))
        mem.update(scene.observe(look_at((3.0, 0.0, 1.2), (4.0, 0.8, 0.05)), t + 3600.0))
        r = mem.update(scene.observe(look_at((0.3, 0.2, 1.4), (1.8, 0.1, 0.8)), t + 3601.0))
        assert r.merged
        t = tour(mem, scene, t + 3602.0, VIEWS[:2])
        tally = mem.semantic._tally  # noqa: SLF001
        assert tally.ready and tally.epoch == mem.temporal.forget_epoch
        assert tally._over and mem.semantic._visit_dirty  # noqa: SLF001 - the cache must fold both in
        assert any(mem.temporal.last_absence(o.object_id) for o in mem.objects())
    shutil.copytree(a, b)
    (b / CACHE_NAME).unlink()
    with np.load(a / CACHE_NAME) as z:
        assert "semantic.tally_oids" in z.files and "temporal.s_ids" in z.files
    with Memory.open(a, config=CFG, embedder=embedder) as cached, Memory.open(b, config=CFG, embedder=embedder) as sql:
        assert cached.opened_from_cache and not sql.opened_from_cache
        assert state(cached) == state(sql)


def test_a_cached_tally_that_a_build_could_not_give_is_refused():
    good = {
        "tally_oids": np.array([1, 1, 2]),
        "tally_place": np.array([0, 1, 0]),
        "tally_visits": np.array([2, 1, 3]),
        "tally_first": np.array([0.0, 1.0, 2.0]),
        "tally_names": np.frombuffer(b"hallkitchen", np.uint8).copy(),
        "tally_off": np.array([0, 4, 11]),
    }
    assert pairs_from_arrays(good)[1] == ["hall", "kitchen"]
    for key, bad in (
        ("tally_place", np.array([0, 2, 0])),
        ("tally_oids", np.array([2, 1, 1])),
        ("tally_first", np.zeros(2)),
    ):
        with pytest.raises(ValueError, match="semantic index cache"):
            pairs_from_arrays({**good, key: bad})
