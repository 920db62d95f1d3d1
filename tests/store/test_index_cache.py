"""The open-time index cache (robomem/store/index_cache.py): used only while the store is unchanged since the
close that wrote it; any writer, a crash, another config, another store or a damaged file means SQL."""

from __future__ import annotations

import logging
import os
import sqlite3
import stat
from typing import Any

import numpy as np
import pytest

from robomem import Memory, Place
from robomem.store.index_cache import CACHE_NAME, PackedStrings, pack_strings, read_cache, write_cache
from robomem.submodules.spatial.memory import SpatialMemory


@pytest.fixture
def recording(monkeypatch):
    """Spatial memory caches one array (how many loads so far) and records what each load got."""
    seen: list[Any] = []
    real_load = SpatialMemory.load

    def load(self, cached=None):
        seen.append(None if cached is None else {k: v.tolist() for k, v in cached.items()})
        real_load(self, None)

    monkeypatch.setattr(SpatialMemory, "load", load)
    monkeypatch.setattr(SpatialMemory, "cache_arrays", lambda self: {"loads": np.asarray([len(seen)])})
    return seen


def test_packed_strings_round_trip_none_empty_and_unicode():
    items = ["mug", None, "", "tasse à café ☕", None, "x" * 300]
    buf, off = pack_strings(items)
    ps = PackedStrings(buf, off)
    assert len(ps) == len(items) and list(ps) == items and ps[-1] == items[-1] and ps[1:3] == [None, ""]
    with pytest.raises(IndexError):
        ps[len(items)]
    assert list(PackedStrings(*pack_strings([]))) == []


def test_every_write_moves_the_clock_even_from_another_connection(tmp_path, embedder):
    with Memory.open(tmp_path / "s", embedder=embedder) as mem:
        c0 = mem.store.change_clock()
        assert c0 is not None
    conn = sqlite3.connect(tmp_path / "s" / "memory.db")
    with conn:
        conn.execute("INSERT INTO meta(key, value) VALUES ('someone', 'else')")
    with conn:
        conn.execute("UPDATE meta SET value='again' WHERE key='someone'")
    conn.close()
    with Memory.open(tmp_path / "s", embedder=embedder) as mem:
        c1 = mem.store.change_clock()
    # the store id stays (the close renewed only its seal, after the ':'); the count moved by the two writes
    assert c1[1].partition(":")[0] == c0[1].partition(":")[0] and c1[0] == c0[0] + 2


def test_a_close_writes_the_cache_and_an_unchanged_store_opens_from_it(tmp_path, embedder, recording):
    path = tmp_path / "s"
    with Memory.open(path, embedder=embedder) as mem:
        assert not mem.opened_from_cache
    assert (path / CACHE_NAME).exists()
    with Memory.open(path, embedder=embedder) as mem:
        assert mem.opened_from_cache
    assert recording == [None, {"loads": [1]}]
    with Memory.open(path, embedder=embedder, readonly=True) as mem:  # a reader uses it, and writes none
        assert mem.opened_from_cache
    assert recording[-1] == {"loads": [2]}  # the second session's close wrote it; the reader did not


def test_a_write_after_the_close_or_a_crash_makes_the_cache_stale(tmp_path, embedder, recording):
    path = tmp_path / "s"
    Memory.open(path, embedder=embedder).close()
    conn = sqlite3.connect(path / "memory.db")
    with conn:
        conn.execute("INSERT INTO meta(key, value) VALUES ('edited', 'by hand')")
    conn.close()
    with Memory.open(path, embedder=embedder) as mem:
        assert not mem.opened_from_cache
    # a session that writes and then dies before close (no cache written): the old cache is behind
    mem = Memory.open(path, embedder=embedder)
    assert mem.opened_from_cache
    mem.set_places([Place("kitchen", (0.0, 0.0), (4.0, 3.0))])
    mem.store.close()  # the process dies: Memory.close never runs
    with Memory.open(path, embedder=embedder) as mem:
        assert not mem.opened_from_cache


def test_another_config_another_store_or_a_damaged_file_reads_sql(tmp_path, embedder, recording, caplog):
    a, b = tmp_path / "a", tmp_path / "b"
    Memory.open(a, embedder=embedder).close()
    Memory.open(b, embedder=embedder).close()
    with Memory.open(a, config={"spatial": {"voxel_size": 0.05}}, embedder=embedder) as mem:
        assert not mem.opened_from_cache
    (b / CACHE_NAME).write_bytes((a / CACHE_NAME).read_bytes())  # a's cache beside b's database
    with caplog.at_level(logging.WARNING), Memory.open(b, embedder=embedder) as mem:
        assert not mem.opened_from_cache
    assert "another store" in caplog.text
    data = bytearray((b / CACHE_NAME).read_bytes())
    data[len(data) // 2 : len(data) // 2 + 64] = b"\x00" * 64
    (b / CACHE_NAME).write_bytes(bytes(data))
    with caplog.at_level(logging.WARNING), Memory.open(b, embedder=embedder) as mem:
        assert not mem.opened_from_cache
    (b / CACHE_NAME).write_bytes(b"not a zip")
    with caplog.at_level(logging.WARNING), Memory.open(b, embedder=embedder) as mem:
        assert not mem.opened_from_cache
    assert "unreadable index cache" in caplog.text


def test_a_load_that_fails_on_the_cache_falls_back_to_sql(tmp_path, embedder, monkeypatch, caplog):
    path = tmp_path / "s"
    monkeypatch.setattr(SpatialMemory, "cache_arrays", lambda self: {"x": np.arange(3)})
    Memory.open(path, embedder=embedder).close()
    got: list[Any] = []
    real_load = SpatialMemory.load

    def load(self, cached=None):
        got.append(cached)
        if cached is not None:
            raise KeyError("y")
        real_load(self, None)

    monkeypatch.setattr(SpatialMemory, "load", load)
    with caplog.at_level(logging.WARNING), Memory.open(path, embedder=embedder) as mem:
        assert not mem.opened_from_cache
    assert got[0] is not None and got[1] is None and "not usable" in caplog.text


def test_an_object_array_is_refused_and_the_close_still_closes(tmp_path, embedder, monkeypatch, caplog):
    path = tmp_path / "s"
    monkeypatch.setattr(SpatialMemory, "cache_arrays", lambda self: {"x": np.asarray([{"a": 1}], dtype=object)})
    with caplog.at_level(logging.WARNING):
        Memory.open(path, embedder=embedder).close()
    assert not (path / CACHE_NAME).exists() and "not written" in caplog.text
    with pytest.raises(ValueError, match="object arrays"):
        write_cache(path, (0, "id"), {"s": {"x": np.asarray([None], dtype=object)}})
    write_cache(path, (7, "id"), {"s": {"x": np.arange(2)}}, "cfg")
    got = read_cache(path, (7, "id"), "cfg")
    assert got is not None and got["s"]["x"].tolist() == [0, 1]
    assert read_cache(path, (8, "id"), "cfg") is None and read_cache(path, (7, "id"), "other") is None


def test_the_cache_file_is_owner_only_like_the_store(tmp_path, embedder):
    """It holds what the store holds (labels, places, positions): readable by the owner only, as memory.db is,
    also in a directory given by the caller that others can enter."""
    path = tmp_path / "s"
    path.mkdir(mode=0o755)
    os.chmod(path, 0o755)
    Memory.open(path, embedder=embedder).close()
    assert stat.S_IMODE((path / "memory.db").stat().st_mode) & 0o077 == 0
    assert stat.S_IMODE((path / CACHE_NAME).stat().st_mode) & 0o077 == 0


def test_a_temporary_file_left_by_a_killed_close_is_removed_by_the_next(tmp_path, embedder):
    """A close killed while it writes (2.4 s at 10^6 objects) leaves ``.index_cache.npz.<pid>.tmp``, as big as
    the cache; another pid's next close would leave it there for good."""
    path = tmp_path / "s"
    Memory.open(path, embedder=embedder).close()
    stale = path / f".{CACHE_NAME}.999999999.tmp"
    stale.write_bytes(b"half a cache")
    Memory.open(path, embedder=embedder).close()
    assert not stale.exists() and (path / CACHE_NAME).exists()
