"""An open from SQL (no index cache) reads every objects row into the resident columns in one vectorised pass
(spatial/table.py): what it holds must be what each row, read and checked on its own, says -- including rows a
bulk load or another writer left unusual (several labels, non-ASCII, NULL colour and place, absent, checksum
columns that are NULL, negative or not an integer)."""

from __future__ import annotations

import sqlite3

import pytest

from robomem import Memory
from robomem.config import SpatialConfig
from robomem.store.index_cache import drop_cache
from robomem.submodules.spatial.objects import OBJECT_COLUMNS, ObjectState
from robomem.testing.synthetic import BoxScene, demo_boxes, look_at

VIEWS = [(0.0, 0.0, 1.5), (0.2, -0.5, 1.5), (0.3, 0.5, 1.4), (1.0, -2.0, 1.6)]


@pytest.fixture()
def odd_store(tmp_path, embedder):
    path = tmp_path / "m"
    with Memory.open(path, embedder=embedder) as mem:
        scene = BoxScene(demo_boxes())
        for i, eye in enumerate(VIEWS):
            mem.update(scene.observe(look_at(eye, (2.3, -0.3, 0.7)), float(i)))
    db = sqlite3.connect(path / "memory.db", isolation_level=None)
    ids = [r[0] for r in db.execute("SELECT id FROM objects ORDER BY id")]
    assert len(ids) >= 6
    edits = [
        ("UPDATE objects SET labels=?, label=? WHERE id=?", ('{"tasse caf\\u00e9": 3.0, "mug": 1.0}', "tasse café")),
        ("UPDATE objects SET labels=?, label=? WHERE id=?", ('{"k\\"ey": 1.0}', 'k"ey')),
        ("UPDATE objects SET colour=NULL, place=NULL, status='absent' WHERE id=?", ()),  # its checksum kept
        ("UPDATE objects SET geom_crc='junk' WHERE id=?", ()),
        ("UPDATE objects SET geom_crc=-1 WHERE id=?", ()),
        ("UPDATE objects SET geom_crc=NULL, status='absent', retrieved=7 WHERE id=?", ()),
    ]
    for (sql, args), oid in zip(edits, ids, strict=False):
        db.execute(sql, (*args, oid))
    db.close()
    drop_cache(path)
    return path


def test_an_open_from_sql_holds_what_each_row_read_on_its_own_says(odd_store, embedder):
    cfg = SpatialConfig()
    db = sqlite3.connect(odd_store / "memory.db")
    rows = db.execute(f"SELECT {OBJECT_COLUMNS} FROM objects ORDER BY id").fetchall()
    db.close()
    expected, problems = {}, 0
    for row in rows:
        st, problem = ObjectState.from_checked_row(row, cfg)
        problems += problem is not None
        if st is not None:
            expected[st.id] = st.record(cfg)
    assert problems == 2  # the text and the negative checksum never match a crc32
    with Memory.open(odd_store, embedder=embedder) as mem:
        assert not mem.opened_from_cache
        assert len(mem.stats()["damaged"]) == problems
        got = {r.object_id: r for r in mem.spatial.objects()}
        assert got.keys() == expected.keys()
        for oid, rec in expected.items():
            assert got[oid] == rec, oid
        index = mem.spatial.label_index()
        labels = dict(zip(index.ids.tolist(), (index.uniq[j] for j in index.lab_idx.tolist()), strict=True))
        assert labels == {oid: rec.label for oid, rec in expected.items()}
        assert "tasse café" in labels.values() and 'k"ey' in labels.values()
