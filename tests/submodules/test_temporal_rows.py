"""Temporal memory's latest rows as columns (rows.py, latest.py): slots, ids, ties, and the live state after a
session (updates, absences, a merge, forgetting) equal to what a reopen reads from the tables."""

from __future__ import annotations

import numpy as np
import pytest

from robomem import Memory
from robomem.config import BudgetConfig
from robomem.submodules.base import ForgetLimits
from robomem.submodules.temporal.rows import LatestRows, Places, latest_per_object
from robomem.testing.synthetic import BoxScene, demo_boxes, look_at

SPEC = {"t": ("f8", 1), "pos": ("f8", 3), "place": ("i4", 1)}


def test_slots_stay_put_through_updates_and_moves_only_for_new_rows():
    rows = LatestRows(SPEC, capacity=2)
    for oid in (5, 9, 2, 7):  # 2 and 7 arrive out of id order
        rows.put(oid, {"t": float(oid), "pos": (oid, 0, 0), "place": -1})
    assert len(rows) == 4 and rows.ids().tolist() == [2, 5, 7, 9]
    s9, presence = rows.slot(9), rows.presence
    rows.put(9, {"t": 99.0})  # a new sighting of a known object: same slot, same presence
    assert rows.slot(9) == s9 and rows.presence == presence and rows.cols["t"][s9] == 99.0
    assert rows.slots(np.array([9, 3, 2, 100])).tolist() == [s9, -1, rows.slot(2), -1]
    assert rows.pop(5) >= 0 and 5 not in rows and rows.pop(5) == -1 and len(rows) == 3
    rows.put(5, {"t": 1.5, "pos": (1, 2, 3), "place": 0})  # back with a new slot
    assert 5 in rows and rows.presence > presence and rows.cols["t"][rows.slot(5)] == 1.5
    ids, cols = rows.arrays()
    assert ids.tolist() == [2, 5, 7, 9] and cols["t"].tolist() == [2.0, 1.5, 7.0, 99.0]
    assert cols["pos"][1].tolist() == [1.0, 2.0, 3.0]
    assert sorted(rows.live("t").tolist()) == [1.5, 2.0, 7.0, 99.0]  # the removed row's old value is not read


def test_slot_lookup_agrees_with_a_dict_for_ids_near_and_far():
    """Ids below the dense map's length are gathered, larger ones (a fleet's, a jump) binary-searched: both
    agree with a plain dict through adds, removals, re-adds and a refill."""
    rng = np.random.default_rng(4)
    rows, want = LatestRows(SPEC, capacity=4), {}
    pool = np.concatenate([np.arange(1, 3000), rng.integers(10**6, 10**12, 200), [2**62]])
    for step in range(4000):
        oid = int(rng.choice(pool))
        if oid in want and rng.random() < 0.3:
            assert rows.pop(oid) == want.pop(oid)
        else:
            want[oid] = rows.put(oid, {"t": float(step)})
        if step % 500 == 499:
            probe = rng.choice(np.concatenate([pool, [-5, 0, 3001, 10**13]]), 400)
            assert rows.slots(probe).tolist() == [want.get(int(o), -1) for o in probe]
            assert all(rows.slot(int(o)) == want.get(int(o), -1) for o in probe[:50])
    ids, cols = rows.arrays()
    refilled = LatestRows(SPEC)
    refilled.fill(ids[::-1].copy(), {k: v[::-1].copy() for k, v in cols.items()})
    got = refilled.slots(ids)
    assert (got >= 0).all() and (refilled.cols["t"][got] == cols["t"]).all()
    assert refilled.slots(np.array([-1, 2**62 + 1, 10**13])).tolist() == [-1, -1, -1]


def test_fill_rejects_repeated_ids_and_latest_per_object_takes_the_greatest_key():
    rows = LatestRows(SPEC)
    with pytest.raises(ValueError, match="distinct"):
        rows.fill(np.array([1, 1]), {"t": np.zeros(2), "pos": np.zeros((2, 3)), "place": np.zeros(2)})
    oids = np.array([3, 1, 3, 3, 1])
    t = np.array([5.0, 2.0, 5.0, 4.0, 1.0])
    rid = np.array([10, 11, 12, 13, 14])
    pick = latest_per_object(oids, t, rid)
    assert sorted(zip(oids[pick].tolist(), rid[pick].tolist(), strict=True)) == [(1, 11), (3, 12)]
    places = Places(["hall"])
    assert places.codes(["kitchen", None, "hall"]).tolist() == [1, -1, 0] and places.name(1) == "kitchen"


def _latest(mem: Memory) -> dict[int, tuple[object, object]]:
    ids = {o.object_id for o in mem.objects()} | set(range(1, 60))
    return {i: (mem.temporal.last_seen(i), mem.temporal.last_absence(i)) for i in sorted(ids)}


def test_live_latest_rows_equal_a_reopen_after_updates_absences_a_merge_and_forgetting(tmp_path, embedder):
    boxes = demo_boxes()
    views = [(0.0, 0.0, 1.5), (0.2, -0.5, 1.5), (0.3, 0.5, 1.4)]
    with Memory.open(tmp_path / "m", embedder=embedder) as mem:
        t = 0.0
        for k in range(9):
            scene = BoxScene(boxes if k < 5 else boxes[1:])  # one box taken away: absences
            mem.update(scene.observe(look_at(views[k % 3], (2.3, -0.3, 0.7)), t))
            t += 1.0
        objs = sorted(o.object_id for o in mem.objects())
        assert any(mem.temporal.last_absence(i) is not None for i in objs)
        mem._commit([mem.temporal.remap_object(objs[1], objs[0])])  # noqa: SLF001 - one merge step
        limits = ForgetLimits(BudgetConfig(max_sighting_rows=4), 1.0, keep_recent_s=0.0, target_fraction=0.8)
        ch, report = mem.temporal.forget(limits, now=t)
        mem._commit([ch])  # noqa: SLF001
        assert report["sightings_merged"] + report["sightings_dropped"] > 0
        live, newest = _latest(mem), mem.temporal.newest_stamp()
        assert live[objs[1]] == (None, None) and live[objs[0]][0] is not None
    with Memory.open(tmp_path / "m", embedder=embedder) as mem:
        assert _latest(mem) == live and mem.temporal.newest_stamp() == newest
