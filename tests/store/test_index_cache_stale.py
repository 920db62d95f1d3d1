"""Ways a store can hold other rows than its index cache was made from while the change clock reads the same
(review of issue 14): a rolled-back tail of commits, a table-rebuilding migration, an odd cache file."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import sys

import numpy as np
import pytest

from robomem import Memory
from robomem.store import database
from robomem.store.index_cache import CACHE_NAME
from robomem.submodules.temporal.memory import TemporalMemory
from robomem.testing.synthetic import BoxScene, demo_boxes, look_at

TARGET = (2.3, -0.3, 0.7)


def _observe(mem: Memory, stamp: float) -> None:
    mem.update(BoxScene(demo_boxes()).observe(look_at((0.0, 0.0, 1.5), TARGET), stamp))


def _bump_clock_to(path, target: int) -> None:
    """Writes by another tool (a sqlite3 shell) until the store's change clock reads ``target``."""
    conn = sqlite3.connect(path / "memory.db")
    with conn:
        (n,) = conn.execute("SELECT n FROM change_clock").fetchone()
        assert n < target
        for i in range(target - n):
            conn.execute("INSERT INTO meta(key, value) VALUES (?, 'x')", (f"k{i}",))
        assert conn.execute("SELECT n FROM change_clock").fetchone()[0] == target
    conn.close()


def test_a_store_rolled_back_past_the_close_does_not_open_from_that_close_cache(tmp_path, embedder):
    """The WAL runs synchronous=NORMAL: a power cut may lose the last commits while the fsynced cache stays
    (or a backup of memory.db is put back).  Writes after that can bring the clock back to the cache's count
    with other rows; the cache must not be taken for them."""
    path, backup = tmp_path / "s", tmp_path / "backup.db"
    Memory.open(path, embedder=embedder).close()
    shutil.copy(path / "memory.db", backup)  # the store before the lost commits (no objects)
    with Memory.open(path, embedder=embedder) as mem:
        _observe(mem, 0.0)
        assert mem.spatial.count() > 0
    with np.load(path / CACHE_NAME) as z:
        cache_clock = int(z["__cache__.clock"])
    shutil.copy(backup, path / "memory.db")  # the commits of that session are lost; its cache is not
    _bump_clock_to(path, cache_clock)
    with Memory.open(path, embedder=embedder) as mem:
        assert not mem.opened_from_cache
        assert mem.spatial.count() == 0  # what the store holds


def test_a_migration_that_rebuilds_a_table_makes_the_cache_stale(tmp_path, embedder, monkeypatch):
    """A schema step that rebuilds a table (rename, create, copy, drop) writes rows no trigger sees."""
    path = tmp_path / "s"
    with Memory.open(path, embedder=embedder) as mem:
        _observe(mem, 0.0)
        oid = mem.spatial.objects()[0].object_id
        before = mem.spatial._objs.retrieved(oid)

    def rebuild_objects(c: sqlite3.Connection) -> None:
        (ddl,) = c.execute("SELECT sql FROM sqlite_master WHERE type='table' AND name='objects'").fetchone()
        c.execute("ALTER TABLE objects RENAME TO objects_old")
        c.execute(ddl)
        c.execute("INSERT INTO objects SELECT * FROM objects_old")
        c.execute("UPDATE objects SET retrieved = retrieved + 7")
        c.execute("DROP TABLE objects_old")

    monkeypatch.setattr(database, "SCHEMA_VERSION", database.SCHEMA_VERSION + 1)
    monkeypatch.setitem(database.MIGRATIONS, database.SCHEMA_VERSION - 1, rebuild_objects)
    with Memory.open(path, embedder=embedder) as mem:
        assert not mem.opened_from_cache
        assert mem.spatial._objs.retrieved(oid) == before + 7


def test_a_cache_file_with_an_odd_field_shape_is_ignored(tmp_path, embedder):
    """A well-formed npz whose own fields are not scalars (another tool's file, a later format): SQL, no error."""
    path = tmp_path / "s"
    with Memory.open(path, embedder=embedder) as mem:
        _observe(mem, 0.0)
        n = mem.spatial.count()
    with np.load(path / CACHE_NAME) as z:
        arrays = {k: z[k] for k in z.files}
    arrays["__cache__.format"] = np.asarray([1, 1])
    with open(path / CACHE_NAME, "wb") as f:
        np.savez(f, **arrays)
    with Memory.open(path, embedder=embedder) as mem:
        assert not mem.opened_from_cache and mem.spatial.count() == n


def test_a_database_deleted_under_the_writer_leaves_no_cache_and_the_store_reopens(tmp_path, embedder):
    """The writer's refusal says 'close and reopen the store': the close must not write a cache of the
    unlinked database (its reader still sees it), which would then sit in a directory without a database."""
    path = tmp_path / "s"
    with Memory.open(path, embedder=embedder) as mem:
        _observe(mem, 0.0)
        (path / "memory.db").unlink()
    assert not (path / CACHE_NAME).exists()
    with Memory.open(path, embedder=embedder) as mem:
        assert not mem.opened_from_cache and mem.spatial.count() == 0


def test_a_store_whose_database_was_removed_by_hand_opens_anew_beside_its_old_cache(tmp_path, embedder):
    """rm memory.db* to start over: the cache left beside it is the store's own file, not someone's folder."""
    path = tmp_path / "s"
    with Memory.open(path, embedder=embedder) as mem:
        _observe(mem, 0.0)
    for p in path.glob("memory.db*"):
        p.unlink()
    assert (path / CACHE_NAME).exists()
    with Memory.open(path, embedder=embedder) as mem:  # a new store: another store id, the cache is not used
        assert not mem.opened_from_cache and mem.spatial.count() == 0


FORKED_CLOSE = r"""
import os, sys
from robomem import Memory
path = sys.argv[1]
Memory.open(path, config={"embedder": "hash"}).close()
mem = Memory.open(path, config={"embedder": "hash"})
pid = os.fork()
if pid == 0:  # a forked child (the replay decoder) closing its copy of the parent's memory
    try:
        mem.close()
    except Exception:
        pass
    os._exit(0 if os.path.exists(os.path.join(path, "index_cache.npz")) else 3)
_, status = os.waitpid(pid, 0)
mem.close()
print(os.waitstatus_to_exitcode(status))
"""


def test_a_forked_child_closing_its_copy_leaves_the_parents_cache(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-c", FORKED_CLOSE, str(tmp_path / "s")], capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip().splitlines()[-1] == "0"  # the child did not remove the parent's cache


def test_an_in_memory_apply_that_failed_after_its_commit_writes_no_cache(tmp_path, embedder, monkeypatch):
    """The rows are committed, then an apply raises: memory no longer holds what the store holds.  Before
    the cache the next open healed that from SQL; a cache written at this close would carry it on."""
    path = tmp_path / "s"
    Memory.open(path, embedder=embedder).close()
    real = TemporalMemory.update
    failing = [True]

    def update(self, frame):
        ch = real(self, frame)

        def boom() -> None:
            if failing.pop():
                raise RuntimeError("an apply failed")

        ch.then(boom)
        return ch

    monkeypatch.setattr(TemporalMemory, "update", update)
    with Memory.open(path, embedder=embedder) as mem:
        assert mem.opened_from_cache
        with pytest.raises(RuntimeError, match="an apply failed"):
            _observe(mem, 0.0)
    monkeypatch.setattr(TemporalMemory, "update", real)
    with Memory.open(path, embedder=embedder) as mem:
        assert not mem.opened_from_cache  # from the store: what it holds
        assert mem.spatial.count() > 0
    with Memory.open(path, embedder=embedder) as mem:  # and that session's close wrote a cache again
        assert mem.opened_from_cache
