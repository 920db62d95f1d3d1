"""The fleet outbox in the local store: written in the same transaction as the frame, seq never reused."""

from __future__ import annotations

import json
import sqlite3

import pytest

from robomem import Memory
from robomem.config import FleetConfig, MemoryConfig
from robomem.errors import StoreError
from robomem.store.database import SCHEMA_VERSION
from robomem.testing.synthetic import BoxScene, demo_boxes, look_at

TARGET = (2.3, -0.3, 0.7)
VIEWS = [(0.0, 0.0, 1.5), (0.2, -0.5, 1.5), (0.3, 0.5, 1.4), (1.0, -2.0, 1.6)]
FLEET = MemoryConfig(fleet=FleetConfig(url="postgresql://robot@127.0.0.1:1/fleet", robot_id="r1"))


def _rows(mem: Memory) -> list[tuple[int, dict]]:
    return [
        (int(s), json.loads(p)) for s, p in mem.store.read().execute("SELECT seq, payload FROM outbox ORDER BY seq")
    ]


def test_each_update_writes_one_outbox_row_describing_the_committed_frame(tmp_path, embedder) -> None:
    scene = BoxScene(demo_boxes())
    with Memory.open(tmp_path / "m", FLEET, embedder=embedder) as mem:
        results = [mem.update(scene.observe(look_at(eye, TARGET), float(i))) for i, eye in enumerate(VIEWS)]
        rows = _rows(mem)
        assert [s for s, _ in rows] == [1, 2, 3, 4]
        for (seq, p), r in zip(rows, results, strict=True):
            assert p["v"] == 1 and p["robot_id"] == "r1" and p["seq"] == seq and p["kind"] == "frame"
            assert p["stamp"] == r.stamp and len(p["pose"]) == 3
            assert {s["id"] for s in p["sightings"]} == set(r.object_ids.values()) - {m[1] for m in r.merged}
            assert {a["id"] for a in p["absences"]} == set(r.absences)
        # the objects in the last row are the committed state of those objects
        last = rows[-1][1]
        for o in last["objects"]:
            rec = mem.spatial.get(o["id"])
            assert rec is not None and rec.label == o["label"] and rec.n_obs == o["n_obs"]
            assert o["centroid"] == pytest.approx(list(rec.centroid))
        assert mem.outbox.backlog() == 4 and mem.outbox.last_seq() == 4


def test_a_failed_commit_writes_neither_frame_nor_outbox_row(tmp_path, embedder) -> None:
    scene = BoxScene(demo_boxes())
    with Memory.open(tmp_path / "m", FLEET, embedder=embedder) as mem:
        mem.update(scene.observe(look_at(VIEWS[0], TARGET), 0.0))
        # a trigger makes the frame insert of stamp 1.0 fail inside the update's transaction
        side = sqlite3.connect(tmp_path / "m" / "memory.db")
        side.execute(
            "CREATE TRIGGER fail_frame BEFORE INSERT ON frames WHEN NEW.stamp = 1.0 "
            "BEGIN SELECT RAISE(ABORT, 'injected failure'); END"
        )
        side.commit()
        with pytest.raises(StoreError, match="injected failure"):
            mem.update(scene.observe(look_at(VIEWS[1], TARGET), 1.0))
        assert mem.frames.count() == 1 and [s for s, _ in _rows(mem)] == [1]
        side.execute("DROP TRIGGER fail_frame")
        side.commit()
        side.close()
        mem.update(scene.observe(look_at(VIEWS[1], TARGET), 1.5))
        assert mem.frames.count() == 2 and [s for s, _ in _rows(mem)] == [1, 2]


def test_seq_is_never_reused_after_pruning_and_reopen(tmp_path, embedder) -> None:
    scene = BoxScene(demo_boxes())
    path = tmp_path / "m"
    with Memory.open(path, FLEET, embedder=embedder) as mem:
        for i, eye in enumerate(VIEWS[:3]):
            mem.update(scene.observe(look_at(eye, TARGET), float(i)))
        mem.outbox.mark_sent(3, keep_sent=0)  # all acknowledged, all pruned
        assert _rows(mem) == [] and mem.outbox.backlog() == 0
    with Memory.open(path, FLEET, embedder=embedder) as mem:
        mem.update(scene.observe(look_at(VIEWS[3], TARGET), 3.0))
        assert [s for s, _ in _rows(mem)] == [4]
        mem.outbox.mark_sent(4, keep_sent=10)
        assert mem.store.read().execute("SELECT seq, sent FROM outbox").fetchall() == [(4, 1)]


def test_no_fleet_configured_writes_no_outbox_rows(tmp_path, embedder) -> None:
    scene = BoxScene(demo_boxes())
    with Memory.open(tmp_path / "m", embedder=embedder) as mem:
        mem.update(scene.observe(look_at(VIEWS[0], TARGET), 0.0))
        assert mem.outbox.backlog() == 0 and _rows(mem) == []


def test_a_version_3_store_migrates_with_an_empty_outbox(tmp_path, embedder) -> None:
    scene = BoxScene(demo_boxes())
    path = tmp_path / "m"
    with Memory.open(path, embedder=embedder) as mem:
        mem.update(scene.observe(look_at(VIEWS[0], TARGET), 0.0))
        n_objects = len(mem.objects())
    conn = sqlite3.connect(path / "memory.db")
    conn.execute("DROP TABLE outbox")
    conn.execute("PRAGMA user_version=3")
    conn.commit()
    conn.close()
    with Memory.open(path, FLEET, embedder=embedder) as mem:
        assert mem.store.schema_version == SCHEMA_VERSION >= 4
        assert len(mem.objects()) == n_objects and mem.outbox.backlog() == 0
        mem.update(scene.observe(look_at(VIEWS[1], TARGET), 1.0))
        assert [s for s, _ in _rows(mem)] == [1]


def test_forgetting_that_drops_objects_writes_a_forget_row(tmp_path, embedder) -> None:
    scene = BoxScene(demo_boxes())
    with Memory.open(tmp_path / "m", FLEET, embedder=embedder) as mem:
        mem.update(scene.observe(look_at(VIEWS[0], TARGET), 0.0))
        victim = mem.objects()[0].object_id
        n = len(_rows(mem))
        # a forgetting pass that drops an object: run the facade's commit path the way maintain() does
        from robomem.store.outbox import OutboxWrite
        from robomem.submodules.base import Changes

        ch = Changes()
        ch.sql("DELETE FROM objects WHERE id=?", (victim,))
        with mem.store.transaction() as conn:
            w = OutboxWrite("r1", "forget", 5.0)
            w.begin(conn)
            ch.execute(conn)
            assert w.write(conn)
        rows = _rows(mem)
        assert len(rows) == n + 1 and rows[-1][1]["kind"] == "forget" and rows[-1][1]["forgotten"] == [victim]
