"""The embedded store: WAL, owner-only files, one writer, schema versions, blobs."""

from __future__ import annotations

import sqlite3
import stat

import pytest

from robomem import Memory
from robomem.store.database import SCHEMA_VERSION, Store, StoreError, StoreLockedError, StoreVersionError


def test_store_files_are_owner_only_and_wal(tmp_path, embedder):
    with Memory.open(tmp_path / "s", embedder=embedder) as mem:
        db = tmp_path / "s" / "memory.db"
        assert stat.S_IMODE(db.stat().st_mode) & 0o077 == 0
        assert stat.S_IMODE((tmp_path / "s").stat().st_mode) & 0o077 == 0
        mode = mem.store.read().execute("PRAGMA journal_mode").fetchone()[0]
        assert mode == "wal"


def test_second_writer_gets_a_clear_error(tmp_path, embedder):
    with (
        Memory.open(tmp_path / "s", embedder=embedder),
        pytest.raises(StoreLockedError, match="open in another process"),
    ):
        Store(tmp_path / "s")
    # released on close
    with Memory.open(tmp_path / "s", embedder=embedder):
        pass


def test_a_forked_child_that_outlives_the_opener_does_not_hold_the_lock(tmp_path):
    """flock belongs to the open file, which fork shares: the replay decoder process outliving a killed
    `robomem replay` kept the store locked.  A forked child now drops its copy of the lock fd."""
    import os
    import signal
    import subprocess
    import sys
    import textwrap

    script = textwrap.dedent(
        r"""
        import os, sys, time
        from robomem.store.database import Store
        s = Store(sys.argv[1])
        pid = os.fork()
        if pid == 0:  # the fork handler has run by now
            os.write(1, b"child ready\n")
            time.sleep(60)
            os._exit(0)
        os.write(1, b"%d\n" % pid)
        os._exit(0)  # the opener dies without closing, as under SIGKILL
        """
    )
    opener = subprocess.Popen([sys.executable, "-c", script, str(tmp_path / "s")], stdout=subprocess.PIPE, text=True)
    lines = [opener.stdout.readline().strip() for _ in range(2)]  # type: ignore[union-attr]
    assert "child ready" in lines, lines
    child = int(next(x for x in lines if x.isdigit()))
    opener.wait(timeout=60)
    try:
        os.kill(child, 0)  # the forked child is still alive
        Store(tmp_path / "s").close()  # and the store opens
    finally:
        os.kill(child, signal.SIGKILL)


def test_newer_schema_is_refused_older_is_migrated(tmp_path, embedder):
    with Memory.open(tmp_path / "new", embedder=embedder):
        pass
    conn = sqlite3.connect(tmp_path / "new" / "memory.db")
    conn.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(StoreVersionError, match="newer than this robomem supports"):
        Memory.open(tmp_path / "new", embedder=embedder)

    # A synthetic version-1 store: objects table without the `retrieved` column.
    old = tmp_path / "old"
    old.mkdir()
    conn = sqlite3.connect(old / "memory.db")
    conn.execute(
        "CREATE TABLE objects(id INTEGER PRIMARY KEY, label TEXT NOT NULL, labels TEXT NOT NULL,"
        " cx REAL, cy REAL, cz REAL, minx REAL, miny REAL, minz REAL, maxx REAL, maxy REAL, maxz REAL,"
        " n_obs INTEGER NOT NULL, first_seen REAL NOT NULL, last_seen REAL NOT NULL, colour TEXT, embedding BLOB,"
        " points BLOB NOT NULL, place TEXT, status TEXT NOT NULL DEFAULT 'present')"
    )
    import numpy as np

    pts = np.array([[1, 2, 0.5], [1.1, 2.1, 0.6]], np.float32).tobytes()
    conn.execute(
        "INSERT INTO objects VALUES (7,'mug','{\"mug\": 1.0}',1,2,0.5,1,2,0.5,1.1,2.1,0.6,3,0,5,NULL,NULL,?,NULL,'present')",
        (pts,),
    )
    conn.execute("PRAGMA user_version=1")
    conn.commit()
    conn.close()
    with Memory.open(old, embedder=embedder) as mem:
        assert mem.store.schema_version == SCHEMA_VERSION
        (o,) = mem.objects()
        assert o.object_id == 7 and o.label == "mug" and o.n_obs == 3


def test_not_a_store_is_refused(tmp_path, embedder):
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "memory.db").write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError):
        Memory.open(bad, embedder=embedder)
    f = tmp_path / "file"
    f.write_text("x")
    with pytest.raises(StoreError, match="not a directory"):
        Memory.open(f, embedder=embedder)


def test_blobs_are_content_addressed_and_garbage_collected(tmp_path):
    s = Store(tmp_path / "s")
    k1 = s.put_blob(b"hello")
    k2 = s.put_blob(b"world")
    assert s.put_blob(b"hello") == k1 and s.get_blob(k1) == b"hello"
    assert s.collect_garbage({k1}) == 1
    with pytest.raises(StoreError, match="missing"):
        s.get_blob(k2)
    with pytest.raises(StoreError, match="invalid blob key"):
        s.get_blob("../../etc/passwd")
    s.close()


def test_failed_transaction_leaves_nothing(tmp_path):
    s = Store(tmp_path / "s", ["CREATE TABLE t(x INTEGER)"])
    with pytest.raises(RuntimeError), s.transaction() as c:
        c.execute("INSERT INTO t VALUES (1)")
        raise RuntimeError("boom")
    assert s.read().execute("SELECT COUNT(*) FROM t").fetchone()[0] == 0
    s.close()


def test_readonly_memory_reads_while_a_writer_holds_the_store(tmp_path, embedder):
    from robomem import Query
    from robomem.testing.synthetic import BoxScene, demo_boxes, look_at

    scene = BoxScene(demo_boxes())
    with Memory.open(tmp_path / "s", embedder=embedder) as writer:
        writer.update(scene.observe(look_at((0, 0, 1.5), (2.3, -0.3, 0.7)), 1.0))
        with Memory.open(tmp_path / "s", embedder=embedder, readonly=True) as reader:
            assert {o.label for o in reader.objects()} == {o.label for o in writer.objects()}
            assert reader.retrieve(Query(text="red mug", k=3))
            with pytest.raises(RuntimeError, match="read-only"):
                reader.update(scene.observe(look_at((0, 0, 1.5), (2.3, -0.3, 0.7)), 2.0))
    with pytest.raises(StoreError, match="no robomem store"):
        Memory.open(tmp_path / "nothing", embedder=embedder, readonly=True)
