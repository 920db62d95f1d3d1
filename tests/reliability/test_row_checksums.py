"""Per-row checksums (schema version 6): a flipped bit in a stored centroid, box or point is caught on open,
repaired from what is still sound, or set aside, and never answered as if it were true."""

from __future__ import annotations

import sqlite3
import struct

import numpy as np
import pytest

from robomem import Memory
from robomem.qa.engine import QuestionEngine
from robomem.store.checksums import geometry_checksum, points_checksum
from robomem.store.database import SCHEMA_VERSION
from robomem.testing.synthetic import BoxScene, demo_boxes, look_at

TARGET = (2.3, -0.3, 0.7)
VIEWS = [(0.0, 0.0, 1.5), (0.2, -0.5, 1.5), (0.3, 0.5, 1.4), (1.0, -2.0, 1.6)]


def _store(tmp_path, embedder) -> tuple[object, int, np.ndarray]:
    path = tmp_path / "m"
    with Memory.open(path, embedder=embedder) as mem:
        scene = BoxScene(demo_boxes())
        for i, eye in enumerate(VIEWS):
            mem.update(scene.observe(look_at(eye, TARGET), float(i)))
        (mug,) = [o for o in mem.spatial.objects() if o.label == "red mug"]
    return path, mug.object_id, np.array(mug.centroid)


def _flip_bit(value: float, bit: int) -> float:
    (u,) = struct.unpack("<Q", struct.pack("<d", value))
    return struct.unpack("<d", struct.pack("<Q", u ^ (1 << bit)))[0]


def _raw(path):
    return sqlite3.connect(path / "memory.db", isolation_level=None)


def test_every_written_row_carries_checksums_that_match_it(tmp_path, embedder):
    path, _, _ = _store(tmp_path, embedder)
    with _raw(path) as db:
        rows = db.execute(
            "SELECT cx, cy, cz, minx, miny, minz, maxx, maxy, maxz, points, geom_crc, points_crc FROM objects"
        ).fetchall()
    assert rows
    for r in rows:
        assert r[10] == geometry_checksum(r[0:3], r[3:6], r[6:9])
        assert r[11] == points_checksum(r[9])


def test_a_flipped_centroid_bit_is_repaired_from_the_points(tmp_path, embedder):
    path, mug, centroid = _store(tmp_path, embedder)
    with _raw(path) as db:
        cx = db.execute("SELECT cx FROM objects WHERE id=?", (mug,)).fetchone()[0]
        bad = _flip_bit(cx, 52)  # the lowest exponent bit: x doubles or halves
        assert abs(bad - cx) > 0.5
        db.execute("UPDATE objects SET cx=? WHERE id=?", (bad, mug))  # the checksum column is left as it was
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"  # SQLite cannot see it
    with Memory.open(path, embedder=embedder) as mem:
        stats = mem.stats()
        assert len(stats["damaged"]) == 1 and f"#{mug}" in stats["damaged"][0]
        assert "recomputed from the object's points" in stats["damaged"][0]
        got = mem.spatial.get(mug)
        np.testing.assert_allclose(got.centroid, centroid, atol=1e-6)
        ans = QuestionEngine(mem).where_now("red mug")
        assert ans.status == "answered" and ans.items[0].object_id == mug
        # the answer's position is its last sighting's (within a couple of cm of the centroid), not 1.8 m off
        np.testing.assert_allclose(ans.items[0].position, centroid, atol=0.05)


def test_damaged_points_keep_the_sound_box_and_drop_what_left_it(tmp_path, embedder):
    path, mug, centroid = _store(tmp_path, embedder)
    with _raw(path) as db:
        blob = bytearray(db.execute("SELECT points FROM objects WHERE id=?", (mug,)).fetchone()[0])
        n = len(blob) // 12
        pts = np.frombuffer(bytes(blob), dtype=np.float32).reshape(-1, 3).copy()
        pts[n // 2, 0] *= 1000.0  # one point thrown kilometres away, as an exponent bit flip would
        db.execute("UPDATE objects SET points=? WHERE id=?", (pts.tobytes(), mug))
    with Memory.open(path, embedder=embedder) as mem:
        # points are checked when they are paged in (open reads only the checked centroid/box)
        assert len(mem.spatial.points(mug)) == n - 1
        (problem,) = mem.stats()["damaged"]
        assert f"#{mug}" in problem and "1 outside the stored box dropped" in problem
        got = mem.spatial.get(mug)
        np.testing.assert_allclose(got.centroid, centroid, atol=1e-9)  # the box and centroid were sound
        assert len(mem.spatial.points(mug)) == n - 1
        assert np.abs(mem.spatial.points(mug)).max() < 10.0


def test_a_row_whose_geometry_and_points_both_fail_is_set_aside_not_answered(tmp_path, embedder):
    path, mug, _ = _store(tmp_path, embedder)
    with _raw(path) as db:
        cx, blob = db.execute("SELECT cx, points FROM objects WHERE id=?", (mug,)).fetchone()
        pts = np.frombuffer(blob, dtype=np.float32).reshape(-1, 3).copy()
        pts[:, 0] += 1.8  # the whole object shifted: the box moved with it, so nothing tells which is true
        db.execute("UPDATE objects SET cx=?, points=? WHERE id=?", (cx + 1.8, pts.tobytes(), mug))
        before = db.execute("SELECT * FROM objects WHERE id=?", (mug,)).fetchone()
    with Memory.open(path, embedder=embedder) as mem:
        (problem,) = mem.stats()["damaged"]
        assert f"#{mug}" in problem and "set aside" in problem
        assert mug not in {o.object_id for o in mem.spatial.objects()}
        engine = QuestionEngine(mem)
        for ans in (engine.where_now("red mug"), engine.locate("red mug"), engine.count("red mug")):
            assert mug not in {i.object_id for i in ans.items}
        others = [o for o in mem.spatial.objects() if o.label == "book"]
        assert others, "the other objects still answer"
    with _raw(path) as db:  # nothing stored was lost: the row is on disk as it was, for a person to look at
        assert db.execute("SELECT * FROM objects WHERE id=?", (mug,)).fetchone() == before


def test_a_version_5_store_gets_checksums_on_open(tmp_path, embedder):
    path, mug, _ = _store(tmp_path, embedder)
    with _raw(path) as db:  # make it a version 5 store: no checksum columns
        db.execute("ALTER TABLE objects DROP COLUMN geom_crc")
        db.execute("ALTER TABLE objects DROP COLUMN points_crc")
        db.execute("PRAGMA user_version=5")
    with Memory.open(path, embedder=embedder) as mem:
        assert mem.store.schema_version == SCHEMA_VERSION == 6
        assert mem.stats()["damaged"] == []
    with _raw(path) as db:
        r = db.execute(
            "SELECT cx, cy, cz, minx, miny, minz, maxx, maxy, maxz, points, geom_crc, points_crc FROM objects WHERE id=?",
            (mug,),
        ).fetchone()
    assert r[10] == geometry_checksum(r[0:3], r[3:6], r[6:9]) and r[11] == points_checksum(r[9])


@pytest.mark.parametrize("bad", [[1.0, 2.0], [1.0] * 10])
def test_geometry_checksum_names_a_wrong_shape(bad):
    with pytest.raises(ValueError, match="expected 3 \\+ 3 \\+ 3"):
        geometry_checksum(bad, [], [])
