"""The open-time index cache: the submodules' in-memory indexes saved at close, so a large store opens fast.

Opening a store of 10^6 objects from SQL builds every index row by row (issue 14: ~12 s on this 2-core
machine, most of it in sqlite3's per-row Python).  At ``Memory.close()`` a writable memory asks each
submodule for ``cache_arrays()`` (plain numpy arrays of what its ``load`` builds) and writes them all into
``<store>/index_cache.npz``, together with the store's *change clock*.  At the next open, when the file's
clock equals the store's, each submodule's ``load(cached)`` gets its arrays back instead of reading SQL.

The change clock is a counter in the ``change_clock`` table that SQLite triggers bump on every INSERT,
UPDATE and DELETE of any table (installed at every writable open, so a table added by a later version is
covered too).  Any writer -- this process, another robomem, a ``sqlite3`` shell, the fleet sync -- moves it,
so a cache can only be used while the store holds exactly what the cache was made from.  A crash before
``close`` leaves a cache whose clock is behind: it is ignored, and the next open reads SQL.  The clock row
also holds a random store id, so a cache copied beside another store's database is not taken for its own,
and a seal that each close (and each migration) renews, so a count put back (lost commits, a restored
backup) and then written up to a cache's count again is not taken for the rows the cache was made from.

The cache is derived data: a damaged, foreign or unreadable file is ignored (logged) and the store is read
as before; nothing in it is a pickle (``np.load(allow_pickle=False)``).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import sqlite3
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol, overload

import numpy as np

log = logging.getLogger(__name__)

CACHE_NAME = "index_cache.npz"
FORMAT = 1  # bumped when what a submodule writes changes shape: an older cache is then ignored
_META = "__cache__."  # keys of the file's own fields (clock, store id, format)

SCHEMA = (
    "CREATE TABLE IF NOT EXISTS change_clock(id INTEGER PRIMARY KEY CHECK (id = 1), n INTEGER NOT NULL,"
    " store_id TEXT NOT NULL)",
)
TABLES = ("change_clock",)


def install_clock(conn: sqlite3.Connection) -> None:
    """Create the clock row and a trigger per table and write kind that bumps it (inside the caller's
    transaction; idempotent)."""
    for ddl in SCHEMA:
        conn.execute(ddl)
    conn.execute("INSERT OR IGNORE INTO change_clock(id, n, store_id) VALUES (1, 0, ?)", (uuid.uuid4().hex,))
    tables = [
        r[0]
        for r in conn.execute("SELECT name, sql FROM sqlite_master WHERE type='table'")
        if not r[0].startswith("sqlite_")
        and r[0] not in TABLES
        and not (r[1] or "").upper().startswith("CREATE VIRTUAL")
    ]
    for t in tables:
        for op in ("INSERT", "UPDATE", "DELETE"):
            conn.execute(
                f'CREATE TRIGGER IF NOT EXISTS "clock_{t}_{op.lower()}" AFTER {op} ON "{t}"'
                " BEGIN UPDATE change_clock SET n = n + 1 WHERE id = 1; END"
            )


def reseal(conn: sqlite3.Connection) -> None:
    """Give the clock a fresh seal (the part of its store id after ``:``), inside the caller's transaction.

    The count alone does not name the rows: commits lost to a power cut (``synchronous=NORMAL``) or a
    restored backup put the count back, and later writes can bring it to a cache's count again with other
    rows.  A close seals before it writes the cache, so a cache's seal is in the store only if that commit,
    and so every commit before it, is; a migration seals too (a rebuilt table's rows fire no trigger)."""
    row = conn.execute("SELECT store_id FROM change_clock WHERE id = 1").fetchone()
    if row is not None:
        conn.execute(
            "UPDATE change_clock SET store_id = ? WHERE id = 1", (f"{_store_part(str(row[0]))}:{uuid.uuid4().hex}",)
        )


def _store_part(store_id: str) -> str:
    return store_id.partition(":")[0]


def read_clock(conn: sqlite3.Connection) -> tuple[int, str] | None:
    """(clock, store id), or None for a store without a clock (written before it, opened read-only)."""
    try:
        row = conn.execute("SELECT n, store_id FROM change_clock WHERE id = 1").fetchone()
    except sqlite3.OperationalError:  # no such table
        return None
    return None if row is None else (int(row[0]), str(row[1]))


def read_cache(
    store_path: Path, clock: tuple[int, str] | None, setting: str = ""
) -> dict[str, dict[str, np.ndarray]] | None:
    """The cached arrays per submodule name, if ``<store>/index_cache.npz`` is current for ``clock`` and was
    made under the same ``setting`` (the config the indexes were built with); else None (no file, stale,
    another setting, another store's, another format, damaged: the last three are logged)."""
    path = Path(store_path) / CACHE_NAME
    if clock is None or not path.exists():
        return None
    try:
        with np.load(path, allow_pickle=False) as z:
            names = z.files
            store_id = str(z[_META + "store_id"])
            if int(z[_META + "format"]) != FORMAT or _store_part(store_id) != _store_part(clock[1]):
                log.warning("%s: made by another robomem or for another store; reading the store instead", path)
                return None
            if int(z[_META + "clock"]) != clock[0] or store_id != clock[1] or str(z[_META + "setting"]) != setting:
                return None  # the store changed since (or a crash before close): the usual case, not a warning
            out: dict[str, dict[str, np.ndarray]] = {}
            for key in names:
                if key.startswith(_META):
                    continue
                sub, _, field = key.partition(".")
                out.setdefault(sub, {})[field] = z[key]  # read now: a zip member's CRC is checked as it is read
            return out
    except Exception as exc:  # derived data: whatever a damaged or foreign file raises (TypeError, zlib.error, ...)
        log.warning("%s: unreadable index cache (%s); reading the store instead", path, exc)
        return None


def write_cache(
    store_path: Path, clock: tuple[int, str], arrays: Mapping[str, Mapping[str, np.ndarray]], setting: str = ""
) -> Path:
    """Write every submodule's arrays with ``clock`` into ``<store>/index_cache.npz``, atomically (a temporary
    file, then a rename: a reader never sees half a cache).  Raises ValueError for an object-dtype array."""
    path = Path(store_path) / CACHE_NAME
    flat: dict[str, np.ndarray] = {
        _META + "format": np.asarray(FORMAT),
        _META + "clock": np.asarray(clock[0], dtype=np.int64),
        _META + "store_id": np.asarray(clock[1]),
        _META + "setting": np.asarray(setting),
    }
    for sub, fields in arrays.items():
        for name, a in fields.items():
            arr = np.asarray(a)
            if arr.dtype.hasobject:
                raise ValueError(f"index cache {sub}.{name}: object arrays cannot be cached (dtype {arr.dtype})")
            flat[f"{sub}.{name}"] = arr
    for old in path.parent.glob(f".{CACHE_NAME}.*.tmp"):  # a killed close's (only the store's writer writes)
        with contextlib.suppress(OSError):
            old.unlink()
    tmp = path.with_name(f".{CACHE_NAME}.{os.getpid()}.tmp")
    try:
        # owner-only, as every store file (the store's umask is not this process's; the directory may be open)
        with os.fdopen(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as f:
            np.savez(f, **flat)  # type: ignore[arg-type]
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
    return path


def setting_of(config: object, embedder: object) -> str:
    """What the cached indexes depend on besides the rows: the whole config and the embedder's kind."""
    return hashlib.sha256(f"{config!r}|{type(embedder).__qualname__}".encode()).hexdigest()


def drop_cache(store_path: Path) -> None:
    """Remove the cache file (nothing to cache; a stale file would only be read and ignored)."""
    with contextlib.suppress(FileNotFoundError):
        (Path(store_path) / CACHE_NAME).unlink()


class _Cacheable(Protocol):
    name: str

    def cache_arrays(self) -> dict[str, np.ndarray] | None: ...


def open_with_cache(
    store_path: Path,
    clock: tuple[int, str] | None,
    setting: str,
    make: Callable[[Mapping[str, Mapping[str, np.ndarray]] | None], None],
) -> bool:
    """``make(arrays per submodule)`` from a current cache, else -- or when that raises -- ``make(None)`` (from
    SQL; ``make`` builds fresh submodules each call).  True when the cache was used."""
    cached = read_cache(store_path, clock, setting)
    if cached is not None:
        try:
            make(cached)
            return True
        except Exception as exc:  # derived data: never worth failing an open for
            log.warning("%s: index cache not usable (%s: %s); reading the store", store_path, type(exc).__name__, exc)
    make(None)
    return False


def save_cache(store_path: Path, clock: tuple[int, str] | None, setting: str, submodules: Iterable[_Cacheable]) -> None:
    """Write the submodules' arrays for the next open; a failure costs only that open's speed, never the close
    (logged; the stale file is removed)."""
    try:
        arrays = {sm.name: a for sm in submodules if (a := sm.cache_arrays()) is not None}
        if clock is None or not arrays:
            drop_cache(store_path)
            return
        write_cache(store_path, clock, arrays, setting)
    except Exception as exc:
        log.warning("%s: index cache not written (%s: %s)", store_path, type(exc).__name__, exc)
        drop_cache(store_path)


# -- strings as arrays --------------------------------------------------------------------
def pack_strings(items: Sequence[str | None]) -> tuple[np.ndarray, np.ndarray]:
    """UTF-8 bytes of every item, end to end, and ``offsets`` (n + 1; a None item has offset -1 as its end,
    so it is told from an empty string)."""
    parts = [b"" if s is None else s.encode("utf-8") for s in items]
    ends = np.cumsum(np.fromiter(map(len, parts), dtype=np.int64, count=len(parts)))
    offsets = np.concatenate([[0], ends]).astype(np.int64)
    none = np.fromiter((s is None for s in items), dtype=bool, count=len(parts))
    offsets[1:][none] = -offsets[1:][none] - 1  # -(end) - 1: still decodes the next item's start
    return np.frombuffer(b"".join(parts), dtype=np.uint8).copy(), offsets


class PackedStrings(Sequence[str | None]):
    """A read-only sequence of strings (or None) over ``pack_strings``'s arrays, decoded on item access."""

    def __init__(self, buf: np.ndarray, offsets: np.ndarray) -> None:
        if buf.dtype != np.uint8 or buf.ndim != 1 or offsets.dtype != np.int64 or offsets.ndim != 1 or not len(offsets):
            raise ValueError("PackedStrings: expected a uint8 byte array and int64 offsets (n + 1)")
        self._buf = buf.tobytes()
        self._off = offsets

    def __len__(self) -> int:
        return len(self._off) - 1

    @staticmethod
    def _end(v: int) -> int:
        return v if v >= 0 else -v - 1

    @overload
    def __getitem__(self, i: int) -> str | None: ...
    @overload
    def __getitem__(self, i: slice) -> list[str | None]: ...
    def __getitem__(self, i: Any) -> Any:
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        n = len(self)
        if i < 0:
            i += n
        if not 0 <= i < n:
            raise IndexError(i)
        end = int(self._off[i + 1])
        if end < 0:
            return None
        return self._buf[self._end(int(self._off[i])) : end].decode("utf-8")

    def __iter__(self) -> Iterator[str | None]:
        return (self[i] for i in range(len(self)))
