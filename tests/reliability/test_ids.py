"""Persistent ids: an id handed out once is never handed to a different record, across merges and reopens."""

from __future__ import annotations

import sqlite3

import pytest

from robomem import Memory, Place
from robomem.store.ids import ID_TABLES, next_id, record_high_water
from robomem.testing.synthetic import Box, BoxScene, demo_boxes, look_at

TARGET = (2.3, -0.3, 0.7)
VIEWS = [(0.0, 0.0, 1.5), (0.2, -0.5, 1.5), (0.3, 0.5, 1.4), (1.0, -2.0, 1.6), (4.5, 1.0, 1.6)]
PLACES = [Place("kitchen", (-1, -3), (2.0, 3)), Place("living room", (2.0, -3), (6, 3))]


def test_merged_away_id_is_not_reused_after_reopen(tmp_path, embedder):
    scene = BoxScene(demo_boxes())
    with Memory.open(tmp_path / "m", embedder=embedder) as mem:
        mem.set_places(PLACES)
        t = 0.0
        for eye in VIEWS:
            mem.update(scene.observe(look_at(eye, TARGET), t))
            t += 1.0
        mug_id = next(o.object_id for o in mem.objects() if o.label == "red mug")
        scene.boxes[1] = Box(2, "red mug", (4.0, 0.8, 0.05), (0.1, 0.1, 0.1), (220, 30, 30))
        r1 = mem.update(scene.observe(look_at((3.0, 0.0, 1.2), (4.0, 0.8, 0.05)), t + 3600))
        (dup,) = r1.new_objects
        r2 = mem.update(scene.observe(look_at((0.3, 0.2, 1.4), (1.8, 0.1, 0.8)), t + 3601))
        assert (mug_id, dup) in r2.merged
        assert dup > max(o.object_id for o in mem.objects())  # the top id went: MAX(id) + 1 would hand it out again
        before = {o.object_id for o in mem.objects()}
    with Memory.open(tmp_path / "m", embedder=embedder) as mem:
        assert {o.object_id for o in mem.objects()} == before
        scene.boxes.append(Box(9, "green bowl", (4.2, -0.6, 0.05), (0.2, 0.2, 0.1), (30, 200, 40)))
        r = mem.update(scene.observe(look_at((3.0, 0.0, 1.2), (4.2, -0.6, 0.05)), t + 7200))
        fresh = set(r.new_objects)
        assert fresh, "the new bowl must be stored"
        assert dup not in fresh and min(fresh) > dup, f"id {dup} was merged away and must stay retired"
    with Memory.open(tmp_path / "m", embedder=embedder, readonly=True) as ro:  # a read-only view agrees
        assert next_id(ro.store.read(), "objects") == max(fresh) + 1


def test_high_water_marks_survive_deleting_the_top_rows(tmp_path):
    conn = sqlite3.connect(tmp_path / "db.sqlite", isolation_level=None)
    conn.execute("CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    for table in ID_TABLES:
        conn.execute(f"CREATE TABLE {table}(id INTEGER PRIMARY KEY)")
    conn.executemany("INSERT INTO objects(id) VALUES (?)", [(1,), (2,), (7,)])
    record_high_water(conn)
    conn.execute("DELETE FROM objects WHERE id=7")
    record_high_water(conn)  # never lowers a mark
    assert next_id(conn, "objects") == 8
    assert next_id(conn, "facts") == 1  # an empty table with no mark starts at 1
    conn.execute("INSERT INTO facts(id) VALUES (3)")
    record_high_water(conn)
    conn.execute("DELETE FROM facts")
    assert next_id(conn, "facts") == 4
    with pytest.raises(ValueError, match="not an id table"):
        next_id(conn, "places")
