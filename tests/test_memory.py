"""The memory facade over spatial and temporal memory, on ray-cast RGB-D scenes."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from robomem import Memory, Place, Query
from robomem.testing.synthetic import Box, BoxScene, demo_boxes, look_at

TARGET = (2.3, -0.3, 0.7)
VIEWS = [(0.0, 0.0, 1.5), (0.2, -0.5, 1.5), (0.3, 0.5, 1.4), (1.0, -2.0, 1.6), (4.5, 1.0, 1.6)]
PLACES = [Place("kitchen", (-1, -3), (2.0, 3)), Place("living room", (2.0, -3), (6, 3))]


def tour(mem: Memory, scene: BoxScene, t0: float, views=VIEWS, target=TARGET) -> float:
    t = t0
    for eye in views:
        mem.update(scene.observe(look_at(eye, target), t))
        t += 1.0
    return t


def by_label(mem: Memory) -> dict[str, list]:
    out: dict[str, list] = {}
    for o in mem.objects():
        out.setdefault(o.label, []).append(o)
    return out


def test_association_across_views_gives_one_object_per_box(tmp_path, embedder):
    scene = BoxScene(demo_boxes())
    with Memory.open(tmp_path / "m", embedder=embedder) as mem:
        tour(mem, scene, 0.0)
        objs = by_label(mem)
        assert sorted(objs) == sorted(b.label for b in demo_boxes())
        assert all(len(v) == 1 for v in objs.values()), {k: len(v) for k, v in objs.items()}
        for b in demo_boxes():
            o = objs[b.label][0]
            assert np.all(np.array(o.bbox_min) >= b.lo - 0.06) and np.all(np.array(o.bbox_max) <= b.hi + 0.06), b.label
            assert o.n_obs >= 1
        mug = objs["red mug"][0]
        assert np.linalg.norm(np.array(mug.centroid) - np.array(demo_boxes()[1].center)) < 0.06


def test_object_moved_between_passes_is_reidentified(tmp_path, embedder):
    boxes = demo_boxes()
    scene = BoxScene(boxes)
    with Memory.open(tmp_path / "m", embedder=embedder) as mem:
        mem.set_places(PLACES)
        t = tour(mem, scene, 0.0)
        mug_id = by_label(mem)["red mug"][0].object_id
        assert mem.spatial.get(mug_id).place == "kitchen"
        # Overnight the red mug moves from the table to the floor of the living room.
        scene.boxes[1] = Box(2, "red mug", (4.0, 0.8, 0.05), (0.1, 0.1, 0.1), (220, 30, 30))
        t_move = t + 3600.0
        # Day 2: first the table (absence), then the living room (re-identification).  The table is seen from
        # the living-room side, so the mug's new place (small and far, but storable since issue 15) is behind.
        r1 = mem.update(scene.observe(look_at((3.0, 0.1, 1.4), (1.8, 0.1, 0.8)), t_move))
        assert mug_id in r1.absences
        assert mem.temporal.is_absent(mug_id)
        r2 = mem.update(scene.observe(look_at((3.0, 0.0, 1.2), (4.0, 0.8, 0.05)), t_move + 1))
        assert r2.reidentified == (mug_id,)
        mug = mem.spatial.get(mug_id)
        assert mug.status == "present" and mug.place == "living room"
        assert np.linalg.norm(np.array(mug.centroid)[:2] - np.array([4.0, 0.8])) < 0.08
        changes = {(c.object_id, c.kind) for c in mem.temporal.changes(t - 1, t_move + 2)}
        assert (mug_id, "moved") in changes
        # The table and the book did not move.
        assert not {k for (i, k) in changes if i != mug_id and k == "moved"}
        # where was it at night? still on the table as far as memory knew
        w = mem.temporal.where_at(mug_id, t + 10)
        assert w.status == "believed" and w.place == "kitchen"
        w2 = mem.temporal.where_at(mug_id, t_move + 0.5)
        assert w2.status == "absent"


def test_removed_object_is_observed_absent_and_not_occluded_objects(tmp_path, embedder):
    boxes = demo_boxes()
    scene = BoxScene(boxes)
    with Memory.open(tmp_path / "m", embedder=embedder) as mem:
        t = tour(mem, scene, 0.0)
        ids = {o.label: o.object_id for o in mem.objects()}
        scene.boxes = [b for b in boxes if b.label != "book"]
        r = mem.update(scene.observe(look_at((0.0, 0.0, 1.5), TARGET), t + 10))
        assert ids["book"] in r.absences
        assert ids["table"] not in r.absences and ids["red mug"] not in r.absences
        last = mem.temporal.last_seen(ids["book"])
        assert last is not None and last.t_end < t + 10
        # An object hidden behind another is not "absent": put a wall in front of the shelf.
        scene.boxes.append(Box(9, "cabinet", (2.5, -1.4, 1.0), (0.2, 1.6, 2.0), (50, 50, 50)))
        r = mem.update(scene.observe(look_at((1.0, -1.4, 1.3), (3.5, -1.4, 1.0)), t + 11))
        assert ids["shelf"] not in r.absences and ids["white mug"] not in r.absences


def test_persistence_across_reopen_keeps_ids_and_answers(tmp_path, embedder):
    scene = BoxScene(demo_boxes())
    with Memory.open(tmp_path / "m", embedder=embedder) as mem:
        mem.set_places(PLACES)
        t = tour(mem, scene, 0.0)
        before = {o.object_id: (o.label, o.centroid, o.n_obs) for o in mem.objects()}
        last = {i: mem.temporal.last_seen(i) for i in before}
        n_snap = len(mem.spatial.snapshots())
    with Memory.open(tmp_path / "m", embedder=embedder) as mem:
        after = {o.object_id: (o.label, o.centroid, o.n_obs) for o in mem.objects()}
        assert after == before
        assert {i: mem.temporal.last_seen(i) for i in before} == last
        assert len(mem.spatial.snapshots()) == n_snap
        assert [p.name for p in mem.places] == ["kitchen", "living room"]
        # new frames keep associating to the same ids
        r = mem.update(scene.observe(look_at(VIEWS[0], TARGET), t))
        assert set(r.object_ids.values()) <= set(before)
        assert not r.new_objects


def test_retrieve_ranks_the_named_object_first(tmp_path, embedder):
    scene = BoxScene(demo_boxes())
    with Memory.open(tmp_path / "m", embedder=embedder) as mem:
        mem.set_places(PLACES)
        tour(mem, scene, 0.0)
        entries = mem.retrieve(Query(text="where is the red mug?", k=5))
        assert entries[0].kind in ("object", "sighting", "fact") and "red mug" in entries[0].text
        assert all(set(e.parts) <= {"relevance", "recency", "importance", "confidence", "distance"} for e in entries)
        assert entries == sorted(entries, key=lambda e: -e.score)
        near = mem.retrieve(Query(position=(3.5, -1.3, 1.2), radius=0.5, k=5, kinds=("object",)))
        assert {e.text.split(" #")[0] for e in near} <= {"white mug", "shelf"} and near
        assert mem.retrieve(Query(text="giraffe", k=5)) == [] or all(
            e.parts["relevance"] < 0.6 for e in mem.retrieve(Query(text="giraffe", k=5))
        )


def test_snapshots_cover_every_object_with_few_keyframes(tmp_path, embedder):
    scene = BoxScene(demo_boxes())
    with Memory.open(tmp_path / "m", embedder=embedder) as mem:
        tour(mem, scene, 0.0, views=VIEWS * 3)
        snaps = mem.spatial.snapshots()
        covered = set().union(*(s.objects for s in snaps))
        assert covered == {o.object_id for o in mem.objects()}
        assert len(snaps) <= len(mem.objects())
        best = mem.spatial.best_snapshots(mem.objects()[1].object_id)[0]
        img = mem.spatial.snapshot_image(best)
        assert img is not None and img.dtype == np.uint8 and img.shape[2] == 3


def test_out_of_order_stamp_is_refused_and_store_unchanged(tmp_path, embedder):
    scene = BoxScene(demo_boxes())
    with Memory.open(tmp_path / "m", embedder=embedder) as mem:
        tour(mem, scene, 10.0)
        before = mem.stats()["rows"]
        with pytest.raises(ValueError, match="older than the last update"):
            mem.update(scene.observe(look_at(VIEWS[0], TARGET), 1.0))
        with pytest.raises(ValueError, match="expected an Observation"):
            mem.update("not an observation")  # type: ignore[arg-type]
        assert mem.stats()["rows"] == before
        # another robot has its own clock
        mem.update(scene.observe(look_at(VIEWS[0], TARGET), 1.0, robot_id="robot2"))


def test_parallel_and_sequential_updates_agree(tmp_path, embedder):
    scene = BoxScene(demo_boxes())
    results = []
    for parallel in (True, False):
        with Memory.open(tmp_path / f"m{parallel}", embedder=embedder, parallel=parallel) as mem:
            tour(mem, scene, 0.0)
            results.append([(o.label, np.round(o.centroid, 4).tolist(), o.n_obs) for o in mem.objects()])
    assert results[0] == results[1]


def test_retrieval_counts_are_stored_with_the_next_update(tmp_path, embedder):
    scene = BoxScene(demo_boxes())
    with Memory.open(tmp_path / "m", embedder=embedder) as mem:
        t = tour(mem, scene, 0.0)
        mug = by_label(mem)["red mug"][0].object_id
        for _ in range(3):
            mem.retrieve(Query(text="red mug", k=3, kinds=("object",)))
        mem.update(scene.observe(look_at(VIEWS[0], TARGET), t))
        n = mem.store.read().execute("SELECT retrieved FROM objects WHERE id=?", (mug,)).fetchone()[0]
        assert n == 3


def test_moved_object_seen_first_at_its_new_place_is_merged_on_absence(tmp_path, embedder):
    """The robot sees the mug in the living room before it looks at the table: a new id at first,
    merged into the old one (one identity) as soon as the table is seen without it."""
    scene = BoxScene(demo_boxes())
    with Memory.open(tmp_path / "m", embedder=embedder) as mem:
        mem.set_places(PLACES)
        t = tour(mem, scene, 0.0)
        mug_id = by_label(mem)["red mug"][0].object_id
        scene.boxes[1] = Box(2, "red mug", (4.0, 0.8, 0.05), (0.1, 0.1, 0.1), (220, 30, 30))
        t2 = t + 3600.0
        r1 = mem.update(scene.observe(look_at((3.0, 0.0, 1.2), (4.0, 0.8, 0.05)), t2))
        (new_id,) = r1.new_objects
        assert new_id != mug_id and len(by_label(mem)["red mug"]) == 2
        r2 = mem.update(scene.observe(look_at((0.3, 0.2, 1.4), (1.8, 0.1, 0.8)), t2 + 1))
        assert (mug_id, new_id) in r2.merged
        mugs = by_label(mem)["red mug"]
        assert [m.object_id for m in mugs] == [mug_id]
        assert mugs[0].place == "living room" and mugs[0].status == "present"
        assert mem.spatial.get(new_id) is None
        changes = {(c.object_id, c.kind) for c in mem.temporal.changes(t - 1, t2 + 2)}
        assert (mug_id, "moved") in changes
        hist = mem.temporal.history(mug_id)
        assert {getattr(h, "place", None) for h in hist} >= {"kitchen", "living room"}
    with Memory.open(tmp_path / "m", embedder=embedder) as mem:  # and it survives a restart
        assert [m.object_id for m in by_label(mem)["red mug"]] == [mug_id]
        mug = by_label(mem)["red mug"][0].object_id
        assert not mem.temporal.is_absent(mug)


def test_a_failed_commit_burns_no_id(tmp_path, embedder):
    """Ids are taken at commit: an update whose transaction fails leaves the next object id where it was."""
    from robomem.store.database import StoreError

    scene = BoxScene(demo_boxes()[:2])
    mug = Box(7, "green mug", (1.5, -0.4, 0.80), (0.10, 0.10, 0.10), (30, 200, 30))
    view = look_at((0.2, -0.5, 1.5), (1.6, -0.2, 0.8))
    ids = []
    for fail in (False, True):
        with Memory.open(tmp_path / f"m{fail}", embedder=embedder) as mem:
            t = tour(mem, scene, 0.0, views=VIEWS[:2])
            known = {o.object_id for o in mem.objects()}
            scene2 = BoxScene([*scene.boxes, mug])
            if fail:  # a real failing transaction: the store refuses this frame's row
                with mem.store.transaction() as conn:
                    conn.execute(
                        "CREATE TRIGGER refuse BEFORE INSERT ON frames BEGIN SELECT RAISE(ABORT, 'disk full'); END"
                    )
                with pytest.raises(StoreError, match="disk full"):
                    mem.update(scene2.observe(view, t))
                assert {o.object_id for o in mem.objects()} == known  # memory unchanged
                with mem.store.transaction() as conn:
                    conn.execute("DROP TRIGGER refuse")
            r = mem.update(scene2.observe(view, t + 1.0))
            (new_id,) = r.new_objects
            ids.append(new_id)
            assert new_id == max(known) + 1
            assert mem.temporal.last_seen(new_id) is not None
    assert ids[0] == ids[1]


def test_one_label_rule_same_sighting_hits_during_a_run_and_after_reopen(tmp_path, embedder):
    """The label is spatial's argmax: one late "textbook" detection of the book changes nothing
    (before, temporal took the latest detection's label while running and the stored one after a reopen)."""
    boxes = demo_boxes()
    scene = BoxScene(boxes)
    q = Query(label="book", kinds=("sighting",))
    with Memory.open(tmp_path / "m", embedder=embedder) as mem:
        t = tour(mem, scene, 0.0)
        book = by_label(mem)["book"][0].object_id
        scene.boxes[2] = Box(3, "textbook", boxes[2].center, boxes[2].size, boxes[2].colour)
        r = mem.update(scene.observe(look_at(VIEWS[0], TARGET), t))
        assert r.object_ids[3] == book and "textbook" in mem.spatial.get(book).labels  # the same object
        assert mem.spatial.label_of(book) == mem.temporal.label_of(book) == "book"
        during = [(e.key, e.object_ids) for e in mem.retrieve(q)]
    with Memory.open(tmp_path / "m", embedder=embedder) as mem:
        after = [(e.key, e.object_ids) for e in mem.retrieve(q)]
    assert during == after == [(f"lastseen:{book}", (book,))]


def test_a_merge_changes_indexes_exactly_as_a_reopen_would(tmp_path, embedder):
    """Merges run as changes (no reload): the live indexes equal those a fresh open builds from the rows."""
    scene = BoxScene(demo_boxes())
    with Memory.open(tmp_path / "m", embedder=embedder) as mem:
        mem.set_places(PLACES)
        t = tour(mem, scene, 0.0)
        scene.boxes[1] = Box(2, "red mug", (4.0, 0.8, 0.05), (0.1, 0.1, 0.1), (220, 30, 30))
        mem.update(scene.observe(look_at((3.0, 0.0, 1.2), (4.0, 0.8, 0.05)), t + 3600.0))
        r = mem.update(scene.observe(look_at((0.3, 0.2, 1.4), (1.8, 0.1, 0.8)), t + 3601.0))
        assert r.merged
        live = (
            mem.objects(),
            {o.object_id: mem.temporal.last_seen(o.object_id) for o in mem.objects()},
            {o.object_id: mem.temporal.last_absence(o.object_id) for o in mem.objects()},
            [(s.snapshot_id, dict(s.objects)) for s in mem.spatial.snapshots()],
        )
    with Memory.open(tmp_path / "m", embedder=embedder) as mem:
        reopened = (
            mem.objects(),
            {o.object_id: mem.temporal.last_seen(o.object_id) for o in mem.objects()},
            {o.object_id: mem.temporal.last_absence(o.object_id) for o in mem.objects()},
            [(s.snapshot_id, dict(s.objects)) for s in mem.spatial.snapshots()],
        )
    # (colour signatures are stored rounded to 4 decimals: the only field a reopen rounds)
    assert [replace(o, colour=None) for o in live[0]] == [replace(o, colour=None) for o in reopened[0]]
    assert live[1:] == reopened[1:]


def test_maintain_runs_every_check_every_updates_and_on_demand(tmp_path, embedder):
    from robomem.config import BudgetConfig, MemoryConfig

    scene = BoxScene(demo_boxes())
    counts = []
    for every in (3, 10_000):
        cfg = MemoryConfig(budget=BudgetConfig(max_sighting_rows=8, keep_recent_s=0.0, check_every=every))
        with Memory.open(tmp_path / f"m{every}", config=cfg, embedder=embedder) as mem:
            tour(mem, scene, 0.0, views=VIEWS[:2])
            before = mem.stats()["rows"]["sightings"]
            tour(mem, scene, 2.0, views=VIEWS[2:3])  # the third update: the budget pass runs after it (every=3)
            counts.append((before, mem.stats()["rows"]["sightings"]))
            if every > 3:
                report = mem.maintain()  # on demand
                assert report["rows_after"]["sightings"] == counts[0][1] and report["sightings_merged"] > 0
    (b3, a3), (b_ref, a_ref) = counts
    assert b3 == b_ref > 8 and a3 < a_ref
