"""Temporal memory's own lifecycle steps: remap_object (a merge) and forget (the budget pass)."""

from __future__ import annotations

from robomem import Memory
from robomem.config import BudgetConfig
from robomem.submodules.base import ForgetLimits
from robomem.testing.synthetic import BoxScene, demo_boxes, look_at

VIEWS = [(0.0, 0.0, 1.5), (0.2, -0.5, 1.5), (0.3, 0.5, 1.4)]
TARGET = (2.3, -0.3, 0.7)


def test_remap_object_moves_rows_and_index_to_the_kept_id(tmp_path, embedder):
    scene = BoxScene(demo_boxes())
    with Memory.open(tmp_path / "m", embedder=embedder) as mem:
        for i, eye in enumerate(VIEWS):
            mem.update(scene.observe(look_at(eye, TARGET), float(i)))
        objs = {o.label: o.object_id for o in mem.objects()}
        keep, drop = objs["table"], objs["book"]
        n_keep, n_drop = (len(mem.temporal.history(i)) for i in (keep, drop))
        mem._commit([mem.temporal.remap_object(drop, keep)])  # noqa: SLF001 - one step, in a real transaction
        assert mem.temporal.last_seen(drop) is None
        assert mem.temporal.last_seen(keep).object_id == keep
        assert len(mem.temporal.history(keep)) == n_keep + n_drop and mem.temporal.history(drop) == []
        live = mem.temporal.last_seen(keep)
    with Memory.open(tmp_path / "m", embedder=embedder) as mem:
        assert mem.temporal.last_seen(keep) == live  # the index equals what a reopen builds


def test_forget_merges_runs_and_keeps_first_and_latest(tmp_path, embedder):
    scene = BoxScene(demo_boxes())
    with Memory.open(tmp_path / "m", embedder=embedder) as mem:
        for i in range(6):
            mem.update(scene.observe(look_at(VIEWS[i % 3], TARGET), float(i)))
        oid = mem.objects()[0].object_id
        first, latest = mem.temporal.history(oid)[0], mem.temporal.last_seen(oid)
        limits = ForgetLimits(BudgetConfig(max_sighting_rows=5), 1.0, keep_recent_s=0.0, target_fraction=0.8)
        ch, report = mem.temporal.forget(limits, now=6.0)
        assert report["sightings_merged"] > 0
        mem._commit([ch])  # noqa: SLF001
        hist = mem.temporal.history(oid)
        assert hist[0].t_start == first.t_start and mem.temporal.last_seen(oid) == latest
        assert sum(h.n for h in hist) == 6 or report["sightings_dropped"] > 0
