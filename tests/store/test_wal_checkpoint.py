"""The WAL is copied into the database by the background checkpointer, never inside a COMMIT."""

from __future__ import annotations

import os
import time

from robomem.store.database import Store


def test_commit_does_not_checkpoint_and_the_background_does(tmp_path):
    s = Store(tmp_path / "s", ["CREATE TABLE t(x BLOB)"])
    try:
        # SQLite's own checkpoint only as a backstop far past what a frame writes
        assert s._conn.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 10000
        db = tmp_path / "s" / "memory.db"
        before = os.stat(db).st_size
        with s.transaction() as c:  # ~8 MB: twice the 1000 pages at which SQLite's default auto-checkpoint fires
            c.executemany("INSERT INTO t VALUES (?)", [(os.urandom(4000),) for _ in range(2000)])
        # the commit left every page in the WAL; only the checkpointer (a second connection) copies them
        deadline = time.monotonic() + 60.0  # a liveness bound, not a speed check
        while os.stat(db).st_size < before + 2000 * 4000 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert os.stat(db).st_size >= before + 2000 * 4000
        assert s.read().execute("SELECT count(*) FROM t").fetchone()[0] == 2000
    finally:
        s.close()
    assert not (tmp_path / "s" / "memory.db-wal").exists() or (tmp_path / "s" / "memory.db-wal").stat().st_size == 0


def test_close_stops_the_checkpointer(tmp_path):
    s = Store(tmp_path / "s", ["CREATE TABLE t(x INTEGER)"])
    with s.transaction() as c:
        c.execute("INSERT INTO t VALUES (1)")
    thread = s._checkpointer._thread
    assert thread.is_alive()
    s.close()
    assert not thread.is_alive()
