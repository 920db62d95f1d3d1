"""The embedded store: a directory holding a SQLite database (WAL) and blobs.

Layout of a store directory::

    memory.db      SQLite, WAL mode; every table of every submodule
    blobs/ab/cd…   content-addressed files (sha256), e.g. keyframe PNGs
    LOCK           held (flock) by the one process that has the store open

Durability: ``synchronous=NORMAL`` in WAL mode makes a committed transaction
survive a killed process (the WAL is in the OS page cache); a power cut can
lose the last commits but never corrupts the database.  Blobs are written
(temp file + rename) *before* the transaction that references them commits,
so a reference never points at a missing file; unreferenced blobs left by a
crash are removed by :meth:`Store.collect_garbage`.

Sharing: one process opens a store for writing at a time.  A second
``Store`` on the same directory raises :class:`StoreLockedError` naming the
holder's pid; read-only inspection can use ``Store(path, readonly=True)``.

Schema: ``PRAGMA user_version`` holds the schema version.  Older stores are
migrated step by step on open (``MIGRATIONS``); a store from a newer robomem
is refused with :class:`StoreVersionError`.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import sqlite3
import threading
import time
import urllib.parse
import weakref
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from robomem.errors import StoreError, StoreLockedError, StoreVersionError
from robomem.store.index_cache import CACHE_NAME, install_clock, read_clock, reseal
from robomem.store.index_cache import TABLES as CLOCK_TABLES
from robomem.store.migrations import migrate_2_to_3, migrate_3_to_4, migrate_4_to_5, migrate_5_to_6

__all__ = ["SCHEMA_VERSION", "Store", "StoreError", "StoreLockedError", "StoreVersionError"]

SCHEMA_VERSION = 6

DB_NAME = "memory.db"
# The background WAL checkpoint runs at most this often while commits come: at 10 Hz updates of ~120 KB
# each (scale.py at 10^5 objects) the WAL then holds ~0.6 MB, below the 4 MB auto-checkpoint bound it replaces.
CHECKPOINT_INTERVAL_S = 0.5
# what a store directory may hold before its database exists (a crash between mkdir and the first commit; the
# database removed by hand beside its index cache, which names another store id then and is not used)
_STORE_ENTRIES = frozenset(
    {DB_NAME, f"{DB_NAME}-wal", f"{DB_NAME}-shm", f"{DB_NAME}-journal", "LOCK", "blobs", CACHE_NAME}
)


def _migrate_1_to_2(conn: sqlite3.Connection) -> None:
    # Version 1 stores had no per-entry retrieval counter; forgetting uses it.
    cols = {r[1] for r in conn.execute("PRAGMA table_info(objects)")}
    if "retrieved" not in cols and cols:
        conn.execute("ALTER TABLE objects ADD COLUMN retrieved INTEGER NOT NULL DEFAULT 0")


# from_version -> function bringing the store to from_version + 1
MIGRATIONS: dict[int, Callable[[sqlite3.Connection], None]] = {
    1: _migrate_1_to_2,
    2: migrate_2_to_3,
    3: migrate_3_to_4,
    4: migrate_4_to_5,
    5: migrate_5_to_6,
}


def store_path(path: object) -> Path:
    """``path`` as a Path, or a ValueError naming what is wrong with it (never the current directory by accident)."""
    if isinstance(path, bytes) or not isinstance(path, (str, os.PathLike)):
        raise ValueError(f"store path: expected a str or os.PathLike, got {type(path).__name__}")
    if str(path).strip() == "":
        raise ValueError("store path: empty (it would mean the current directory); name a directory")
    return Path(path)


# Stores holding the writer's LOCK in this process.  flock belongs to the open file, which a forked child
# shares: a child that outlives its parent (the replay decoder process when `robomem replay` is killed)
# would keep the store locked.  A forked child drops its copy of each lock fd without unlocking (LOCK_UN
# would release the parent's lock too): the lock stays the opener's alone.
_LOCKED: weakref.WeakSet[Store] = weakref.WeakSet()


def _drop_locks_in_forked_child() -> None:
    for store in list(_LOCKED):
        fd, store._lock_fd = store._lock_fd, None
        if fd is not None:
            with contextlib.suppress(OSError):
                os.close(fd)
        # the child's copy is not the store: it never checkpoints or closes the parent's connections
        store._checkpointer = None
        store._closed = True


os.register_at_fork(after_in_child=_drop_locks_in_forked_child)


class _Checkpointer:
    """Copies the WAL into the database on a background thread with its own connection, at most every
    ``CHECKPOINT_INTERVAL_S`` while commits come (``PRAGMA wal_checkpoint(PASSIVE)``: it never waits for the
    writer or a reader, and the writer never waits for it; SQLite releases the GIL while it copies and
    fsyncs).  The WAL then holds at most that interval's writes, as auto-checkpointing bounded it by pages."""

    def __init__(self, db_path: Path) -> None:
        self._db_path = db_path
        self._cond = threading.Condition()
        self._pending = False
        self._stopping = False
        self._last = time.monotonic()
        # held while a pass runs: the store's own TRUNCATE checkpoint (compact, close) takes it first, or
        # SQLite would answer it SQLITE_BUSY while a pass holds the checkpoint lock and the WAL stays
        self.running = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="robomem-wal-checkpoint", daemon=True)
        self._thread.start()

    def committed(self) -> None:
        with self._cond:
            self._pending = True
            self._cond.notify()

    def _run(self) -> None:
        conn: sqlite3.Connection | None = None
        try:
            while True:
                with self._cond:
                    while not self._pending and not self._stopping:
                        self._cond.wait()
                    if self._stopping:
                        return
                    due = self._last + CHECKPOINT_INTERVAL_S
                    while not self._stopping and time.monotonic() < due:  # let commits gather; a stop wakes it
                        self._cond.wait(due - time.monotonic())
                    if self._stopping:
                        return
                    self._pending = False
                if conn is None:
                    conn = sqlite3.connect(self._db_path, timeout=0.0, isolation_level=None, check_same_thread=False)
                with self.running, contextlib.suppress(sqlite3.Error):  # busy/failed: the next pass retries
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                self._last = time.monotonic()
        finally:
            if conn is not None:
                with contextlib.suppress(sqlite3.Error):
                    conn.close()

    def stop(self) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify()
        if self._thread is not threading.current_thread():  # a close from the GC on this very thread
            self._thread.join()


class Store:
    """SQLite + blobs under one directory; one writer connection, per-thread readers."""

    def __init__(self, path: str | os.PathLike[str], schema: Sequence[str] = (), readonly: bool = False) -> None:
        self.path = store_path(path)
        self.readonly = readonly
        self._closed = False
        self._local = threading.local()
        # (thread, its reader connection); a dead thread's connection is closed when the next reader opens
        self._readers: list[tuple[threading.Thread, sqlite3.Connection]] = []
        self._readers_lock = threading.Lock()
        self._write_lock = threading.RLock()
        self._lock_fd: int | None = None
        self._checkpointer: _Checkpointer | None = None
        if readonly:
            if not (self.path / DB_NAME).exists():
                raise StoreError(f"{self.path}: no robomem store here (missing {DB_NAME})")
        else:
            if self.path.exists() and not self.path.is_dir():
                raise StoreError(f"{self.path}: exists and is not a directory")
            if self.path.is_dir() and not (self.path / DB_NAME).exists():
                foreign = sorted(p.name for p in self.path.iterdir() if p.name not in _STORE_ENTRIES)
                if foreign:  # never turn someone's folder into a store (and later garbage-collect in it)
                    raise StoreError(
                        f"{self.path}: exists and is not a robomem store (it holds {', '.join(foreign[:3])}"
                        f"{', …' if len(foreign) > 3 else ''}); give a new or empty directory"
                    )
            old_umask = os.umask(0o077)  # store files readable by the owner only
            try:
                self.path.mkdir(parents=True, exist_ok=True)
                (self.path / "blobs").mkdir(exist_ok=True)
                self._acquire_lock()
            finally:
                os.umask(old_umask)
        self._db_path = self.path / DB_NAME
        self._ro_uri = f"file:{urllib.parse.quote(str(self._db_path))}?mode=ro"
        try:
            if readonly:
                self._open_readonly()
            else:
                self._conn = self._connect(writer=True)
                st = os.stat(self._db_path)
                self._db_identity = (st.st_dev, st.st_ino)
                migrated = self._init_schema(schema)
                with self.transaction() as c:  # the change clock the index cache is checked against
                    install_clock(c)
                    if migrated:  # a step may rebuild a table, whose copied rows fire no trigger
                        reseal(c)
                self._checkpointer = _Checkpointer(self._db_path)
        except (sqlite3.DatabaseError, UnicodeDecodeError) as exc:  # a damaged schema can fail to decode as UTF-8
            self._release_lock()
            raise StoreError(f"{self._db_path}: not a readable SQLite database ({exc})") from exc
        except Exception:
            self._release_lock()
            raise

    # -- opening -----------------------------------------------------------------
    def _acquire_lock(self) -> None:
        lock_path = self.path / "LOCK"
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise StoreLockedError(
                f"{self.path}: store is open in another process (pid {holder}); "
                "robomem allows one writer per store — close it there, or open with readonly=True"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        self._lock_fd = fd
        _LOCKED.add(self)

    def _release_lock(self) -> None:
        if self._lock_fd is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
                os.close(self._lock_fd)
            self._lock_fd = None
            _LOCKED.discard(self)

    def _open_readonly(self) -> None:
        try:
            self._conn = self._connect(writer=False)
            self._check_version(self._conn, allow_older=False)
        except sqlite3.OperationalError:
            if os.access(self.path, os.W_OK):
                raise
            # Read-only media (a ro mount, a CD, a snapshot): a WAL database cannot make its -shm file there, so
            # open it immutable; nothing can change it under us there.
            with contextlib.suppress(Exception):
                self._conn.close()
            self._ro_uri += "&immutable=1"
            self._conn = self._connect(writer=False)
            self._check_version(self._conn, allow_older=False)
        self._data_version = self._read_data_version()

    def _connect(self, writer: bool) -> sqlite3.Connection:
        if writer:
            old_umask = os.umask(0o077)
            try:
                conn = sqlite3.connect(self._db_path, timeout=30.0, isolation_level=None, check_same_thread=False)
            finally:
                os.umask(old_umask)
        else:
            conn = sqlite3.connect(self._ro_uri, uri=True, timeout=30.0, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA busy_timeout=30000")
        if writer:
            mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise StoreError(f"{self._db_path}: could not switch to WAL mode (got {mode})")
            conn.execute("PRAGMA synchronous=NORMAL")
            # No checkpoint inside COMMIT: SQLite's auto-checkpoint copied the WAL into the database (and
            # fsynced it) inside every ~1000th page's COMMIT, a 20-50 ms stall of that frame's update at 10^5
            # objects; the background checkpointer (:class:`_Checkpointer`) does it off the update path.
            # SQLite's own still runs past 10,000 pages (~40 MB), should the background pass ever stop
            conn.execute("PRAGMA wal_autocheckpoint=10000")
        conn.execute("PRAGMA foreign_keys=ON")
        return conn

    def _check_version(self, conn: sqlite3.Connection, allow_older: bool) -> int:
        version = int(conn.execute("PRAGMA user_version").fetchone()[0])
        if version > SCHEMA_VERSION:
            raise StoreVersionError(
                f"{self.path}: store schema version {version} is newer than this robomem supports "
                f"({SCHEMA_VERSION}); upgrade robomem to open it"
            )
        if not allow_older and version < SCHEMA_VERSION:
            # a read-only open cannot migrate, and this robomem's queries need the current schema
            what = "has no robomem schema version" if version == 0 else f"has schema version {version}"
            raise StoreVersionError(
                f"{self.path}: store {what}, older than this robomem's ({SCHEMA_VERSION}); a read-only open "
                "cannot migrate it — open it once writable (Memory.open(path) without readonly=True, while no other "
                "process holds it) to upgrade it in place"
            )
        return version

    def _read_data_version(self) -> int:
        return int(self._conn.execute("PRAGMA data_version").fetchone()[0])

    def changed(self) -> bool:
        """Read-only stores: whether another connection committed since the last call (or the open)."""
        self._check_open()
        if not self.readonly:
            return False
        with self._readers_lock:
            now = self._read_data_version()
            changed, self._data_version = now != self._data_version, now
        return changed

    def _init_schema(self, schema: Sequence[str]) -> bool:
        """Create or migrate the schema; True when a migration ran."""
        conn = self._conn
        version = self._check_version(conn, allow_older=True)
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if version == 0 and tables - {"sqlite_sequence"}:
            raise StoreVersionError(f"{self._db_path}: has tables but no robomem schema version; not a robomem store")
        with self.transaction() as c:
            if version == 0:
                for ddl in schema:
                    c.execute(ddl)
                c.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
                return False
            migrated = version < SCHEMA_VERSION
            while version < SCHEMA_VERSION:
                step = MIGRATIONS.get(version)
                if step is None:
                    raise StoreVersionError(f"{self.path}: no migration from schema version {version}")
                step(c)
                version += 1
            for ddl in schema:  # CREATE … IF NOT EXISTS: adds tables new in this version
                c.execute(ddl)
            c.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        return migrated

    def seal_clock(self) -> tuple[int, str] | None:
        """Renew the change clock's seal (``index_cache.reseal``) in its own commit; the clock after it."""
        with self.transaction() as c:
            reseal(c)
        return self.change_clock()

    def change_clock(self) -> tuple[int, str] | None:
        """(writes ever made, store id): moved by every write to any table (``index_cache``); None for a
        store from before the clock opened read-only."""
        self._check_open()
        return read_clock(self.read())

    @property
    def schema_version(self) -> int:
        return int(self._conn.execute("PRAGMA user_version").fetchone()[0])

    # -- use ----------------------------------------------------------------------
    def _check_open(self) -> None:
        if self._closed:
            raise StoreError(f"{self.path}: store is closed")

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction; commits on success, rolls back on any exception."""
        self._check_open()
        if self.readonly:
            raise StoreError(f"{self.path}: opened read-only")
        with self._write_lock:
            self._check_file_in_place()
            conn = self._conn
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            else:
                conn.execute("COMMIT")
                if self._checkpointer is not None:
                    self._checkpointer.committed()

    def _check_file_in_place(self) -> None:
        """Refuse to write once memory.db was deleted or replaced under this writer.

        SQLite would keep writing into the unlinked file and acknowledge every update, and all of them
        would be gone at close; a stat per transaction is cheap next to the fsync.
        """
        try:
            st = os.stat(self._db_path)
        except FileNotFoundError:
            st = None
        if st is None or (st.st_dev, st.st_ino) != self._db_identity:
            raise StoreError(
                f"{self._db_path}: was deleted or replaced while this writer had it open; "
                "nothing more is written — close and reopen the store"
            )

    def read(self) -> sqlite3.Connection:
        """A connection for reading from the calling thread (sees committed data)."""
        self._check_open()
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self._ro_uri, uri=True, timeout=30.0, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA busy_timeout=30000")
            self._local.conn = conn
            with self._readers_lock:
                self._close_dead_readers()
                self._readers.append((threading.current_thread(), conn))
        return conn

    def reader_count(self) -> int:
        """Reader connections open now (one per thread that has read and is still alive, or not yet pruned)."""
        with self._readers_lock:
            return len(self._readers)

    def _close_dead_readers(self) -> None:  # holding _readers_lock
        """A thread that read and ended leaves its connection behind (thread-local storage is not a
        finaliser): a server starting a thread per request leaked one connection, its file descriptors and
        its page cache (up to 2 MB) per request.  Those are closed here, when the next reader opens."""
        live = []
        for th, c in self._readers:
            if th.is_alive():
                live.append((th, c))
            else:
                with contextlib.suppress(sqlite3.Error):
                    c.close()
        self._readers = live

    # -- blobs --------------------------------------------------------------------
    def _blob_path(self, key: str) -> Path:
        if len(key) != 64 or any(ch not in "0123456789abcdef" for ch in key):
            raise StoreError(f"invalid blob key {key!r}")
        return self.path / "blobs" / key[:2] / key[2:]

    def put_blob(self, data: bytes) -> str:
        """Store bytes under their sha256; returns the key. Durable before it returns."""
        self._check_open()
        key = hashlib.sha256(data).hexdigest()
        p = self._blob_path(key)
        if p.exists():
            return key
        tmp = p.with_name(f".{p.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        try:
            # parents too: blobs/ itself may have been deleted under a running writer; owner-only like every file
            p.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            try:
                view = memoryview(data)
                while view:  # os.write may write less than asked (near-full disk, signals)
                    n = os.write(fd, view)
                    view = view[n:]
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(tmp, p)
        except OSError as exc:  # disk full, read-only or removed directory: no partial file is left behind
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise StoreError(f"{self.path}: cannot write blob {key[:12]}… ({exc.strerror or exc})") from exc
        return key

    def get_blob(self, key: str) -> bytes:
        """The bytes stored under ``key``, checked against it: a damaged file is a StoreError, never bad data."""
        p = self._blob_path(key)
        try:
            data = p.read_bytes()
        except FileNotFoundError:
            raise StoreError(f"{self.path}: blob {key} is missing") from None
        except OSError as exc:
            raise StoreError(f"{self.path}: blob {key} cannot be read ({exc.strerror or exc})") from exc
        if hashlib.sha256(data).hexdigest() != key:
            raise StoreError(f"{self.path}: blob {key} is damaged (its content no longer matches its checksum)")
        return data

    def collect_garbage(self, referenced: set[str]) -> int:
        """Delete blob files not in ``referenced`` (and stale temp files); returns the count removed."""
        removed = 0
        for sub in (self.path / "blobs").iterdir():
            if not sub.is_dir():
                continue
            for f in sub.iterdir():
                key = sub.name + f.name
                if f.name.startswith(".") or key not in referenced:
                    with contextlib.suppress(OSError):
                        f.unlink()
                        removed += 1
        return removed

    def clear_tables(self, keep: Sequence[str] = ()) -> None:
        """Delete every row of every table but ``keep`` (full-text indexes through their virtual table), in one
        transaction; the schema, and the tables in ``keep``, stay."""
        rows = self.read().execute("SELECT name, sql FROM sqlite_master WHERE type='table'").fetchall()
        virtual = [n for n, sql in rows if (sql or "").upper().startswith("CREATE VIRTUAL")]
        tables = [
            n
            for n, _ in rows
            if not n.startswith("sqlite_")
            and n not in keep
            and n not in CLOCK_TABLES  # the change clock counts writes; deleting it would reset the count
            and not any(n.startswith(v + "_") for v in virtual)  # shadow tables of FTS tables
        ]
        with self.transaction() as w:
            for t in tables:
                w.execute(f'DELETE FROM "{t}"')

    def table_bytes(self) -> dict[str, int]:
        """Bytes on disk per table (its indexes included), from SQLite's dbstat; {} where dbstat is missing."""
        conn = self.read()
        try:
            owner = {r[0]: r[1] for r in conn.execute("SELECT name, tbl_name FROM sqlite_master")}
            out: dict[str, int] = {}
            for name, size in conn.execute("SELECT name, SUM(pgsize) FROM dbstat GROUP BY name"):
                table = owner.get(name, name)
                out[table] = out.get(table, 0) + int(size)
            return out
        except sqlite3.Error:
            return {}

    def compact(self, free_fraction: float) -> bool:
        """Checkpoint the WAL; VACUUM when at least ``free_fraction`` of the file is free pages, so disk use
        actually goes down.  Runs outside any transaction (VACUUM cannot run inside one); True if it vacuumed."""
        self._check_open()
        if self.readonly:
            raise StoreError(f"{self.path}: opened read-only")
        with self._write_lock:
            conn = self._conn
            pages = int(conn.execute("PRAGMA page_count").fetchone()[0])
            free = int(conn.execute("PRAGMA freelist_count").fetchone()[0])
            vacuumed = False
            if pages > 64 and free >= free_fraction * pages:
                self._checkpoint()
                conn.execute("VACUUM")
                vacuumed = True
            self._checkpoint()
        return vacuumed

    def _checkpoint(self) -> None:
        """Copy the WAL into the database and truncate it, without waiting for readers: a reader holding a
        read transaction (a sqlite3 shell, a backup tool) makes it a partial checkpoint now and the rest
        happens on a later pass, instead of stalling the writer for ``busy_timeout``.  Caller holds the
        write lock."""
        conn = self._conn
        ck = self._checkpointer
        with ck.running if ck is not None else contextlib.nullcontext():
            conn.execute("PRAGMA busy_timeout=0")
            try:
                with contextlib.suppress(sqlite3.OperationalError):  # SQLITE_BUSY: a reader is in the way
                    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
            finally:
                conn.execute("PRAGMA busy_timeout=30000")

    def size_bytes(self) -> int:
        total = 0
        for p in self.path.rglob("*"):
            with contextlib.suppress(OSError):
                if p.is_file():
                    total += p.stat().st_size
        return total

    def close(self) -> None:
        if self._closed:
            return
        if getattr(self, "_checkpointer", None) is not None:
            self._checkpointer.stop()  # before the final TRUNCATE checkpoint below
        with self._write_lock:
            self._closed = True
            with self._readers_lock:
                for _th, c in self._readers:
                    with contextlib.suppress(sqlite3.Error):
                        c.close()
                self._readers.clear()
            if not self.readonly:
                with contextlib.suppress(sqlite3.Error):
                    self._checkpoint()
            self._conn.close()
            self._release_lock()

    def __del__(self) -> None:  # pragma: no cover - best effort
        with contextlib.suppress(Exception):
            self.close()
