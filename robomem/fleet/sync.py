"""Delivering a robot's outbox to the fleet memory: at least once, applied exactly once.

:class:`FleetSync` runs beside a :class:`~robomem.memory.Memory` (its own thread, its own PostgreSQL
connection, its own SQLite reader), never inside ``Memory.update``: the robot's update path does not know the
server exists.  Each pass reads unacknowledged outbox rows, applies up to ``batch_frames`` of them in one
PostgreSQL transaction (:func:`robomem.fleet.apply.apply_batch`, which moves the robot's cursor in that same
transaction), and only after that commit marks them sent locally.  A crash anywhere in between (the robot,
the server, the network) leaves rows unacknowledged; they are sent again and skipped by the cursor.

While the server is unreachable or refuses the login, ``status().last_error`` says why (host and database,
never the password), the backlog grows in the local store, and the thread retries with a capped
exponential backoff (``retry_s`` doubling up to 30 s).
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from robomem.errors import FleetError, StoreError
from robomem.fleet.apply import apply_batch
from robomem.fleet.config import FleetConfig
from robomem.fleet.url import connect, describe, redact, scrub

if TYPE_CHECKING:
    from robomem.memory import Memory

__all__ = ["MAX_BACKOFF_S", "FleetSync", "SyncStatus"]

log = logging.getLogger(__name__)

MAX_BACKOFF_S = 30.0
POLL_S = 0.1  # idle wait between passes when the backlog is empty (bounds the added sync lag)


@dataclass(frozen=True)
class SyncStatus:
    backlog: int  # outbox rows not yet acknowledged by the fleet
    last_applied_seq: int  # the fleet's cursor for this robot as last seen (0: nothing yet)
    last_error: str | None  # why the last pass failed (redacted), None after a good pass
    lag_s: float  # sensor time between the oldest unacknowledged row and the newest row (0: caught up)
    connected: bool
    applied_total: int  # rows applied by this FleetSync since it was made
    retry_in_s: float  # the current backoff (0 while healthy)


class FleetSync:
    """Sends ``memory``'s outbox to the fleet at ``config.url`` (default: ``memory.config.fleet``)."""

    def __init__(self, memory: Memory, config: FleetConfig | None = None) -> None:
        cfg = config if config is not None else memory.config.fleet
        if not isinstance(cfg, FleetConfig):
            raise FleetError(f"FleetSync: expected a FleetConfig, got {type(cfg).__name__}")
        if not cfg.url:
            raise FleetError("FleetSync: memory.fleet.url is empty: no fleet to sync with")
        mine = memory.config.fleet
        if not mine.url or mine.robot_id != cfg.robot_id:
            raise FleetError(
                f"FleetSync: the memory at {memory.path} writes no outbox for robot {cfg.robot_id!r} "
                f"(its memory.fleet has url {'set' if mine.url else 'empty'}, robot_id {mine.robot_id!r}); "
                "open the Memory with the same memory.fleet settings"
            )
        describe(cfg.url)  # a malformed url is a FleetError now, not in the thread
        self.memory = memory
        self.config = cfg
        self.robot_id = cfg.robot_id
        self._conn: Any = None
        self._lock = threading.Lock()  # one pass at a time (sync_once from a caller and the thread)
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_seq = 0
        self._last_error: str | None = None
        self._applied_total = 0
        self._backoff = 0.0

    # -- one pass ------------------------------------------------------------------------
    def _connection(self) -> Any:
        if self._conn is None or self._conn.closed:
            self._conn = connect(self.config.url, self.config.connect_timeout_s)
        return self._conn

    def _drop_connection(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):
                self._conn.close()
        self._conn = None

    def sync_once(self, max_batches: int | None = None) -> int:
        """Apply pending outbox rows now (every batch, or ``max_batches``); returns how many were applied.

        Raises :class:`FleetError` when the server cannot be reached or refuses (rows stay pending)."""
        import psycopg

        applied = 0
        with self._lock:
            try:
                batches = 0
                while max_batches is None or batches < max_batches:
                    rows = self.memory.outbox.pending(self.config.batch_frames)
                    if not rows:
                        break
                    conn = self._connection()
                    payloads = [json.loads(r.payload) for r in rows]
                    # pipeline mode: statements whose results are not read go out without a round trip each
                    with conn.pipeline(), conn.transaction():
                        n, last = apply_batch(conn, self.robot_id, payloads, self.config.match_radius_m)
                    self._last_seq = last
                    applied += n
                    self._applied_total += n
                    # committed in the fleet: acknowledge locally (a crash before this resends; the cursor skips)
                    self.memory.outbox.mark_sent(max(r.seq for r in rows), self.config.keep_sent)
                    batches += 1
            except psycopg.Error as exc:
                self._drop_connection()
                reason = scrub(str(exc).strip().replace("\n", " "), self.config.url)
                err = FleetError(f"fleet sync to {describe(self.config.url)} failed: {type(exc).__name__}: {reason}")
                self._last_error = str(err)
                raise err from None
            except FleetError as exc:
                self._drop_connection()
                self._last_error = str(exc)
                raise
            self._last_error = None
        return applied

    # -- background ------------------------------------------------------------------------
    def start(self) -> FleetSync:
        """Run passes in a background thread until :meth:`stop`; returns self."""
        if self._thread is not None and self._thread.is_alive():
            return self
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=f"robomem-fleet-{self.robot_id}", daemon=True)
        self._thread.start()
        return self

    def wake(self) -> None:
        """Start the next pass now (e.g. right after an update) instead of after the idle wait."""
        self._wake.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                n = self.sync_once(max_batches=1)
                self._backoff = 0.0
                if n == 0 and self.memory.outbox.backlog() == 0:
                    self._wait(POLL_S)
            except FleetError as exc:
                self._backoff = min(MAX_BACKOFF_S, self._backoff * 2 if self._backoff else self.config.retry_s)
                log.warning("%s (retrying in %.1f s; the robot keeps its local memory)", exc, self._backoff)
                self._wait(self._backoff)
            except StoreError as exc:  # the memory was closed under us: nothing more to send
                self._last_error = f"local store unavailable: {exc}"
                break
            except Exception as exc:  # never let the thread die silently
                self._last_error = f"fleet sync failed: {type(exc).__name__}: {scrub(str(exc), self.config.url)}"
                log.error("%s", self._last_error)
                self._drop_connection()
                self._backoff = min(MAX_BACKOFF_S, self._backoff * 2 if self._backoff else self.config.retry_s)
                self._wait(self._backoff)
        self._drop_connection()

    def _wait(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while not self._stop.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                return
            if self._wake.wait(min(left, 0.5)):
                self._wake.clear()
                if self._backoff == 0.0:
                    return

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the thread (after its current pass) and close the connection; pending rows stay pending."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        with self._lock:
            self._drop_connection()

    def __enter__(self) -> FleetSync:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- status ------------------------------------------------------------------------
    def status(self) -> SyncStatus:
        outbox = self.memory.outbox
        try:
            backlog = outbox.backlog()
            oldest = outbox.oldest_pending_stamp()
        except StoreError:
            backlog, oldest = 0, None
        lag = 0.0
        if oldest is not None:
            lag = max(0.0, self.memory.newest_stamp - oldest)
        return SyncStatus(
            backlog=backlog,
            last_applied_seq=self._last_seq,
            last_error=self._last_error,
            lag_s=lag,
            connected=self._conn is not None and not self._conn.closed,
            applied_total=self._applied_total,
            retry_in_s=self._backoff,
        )

    def __repr__(self) -> str:
        return f"FleetSync(robot_id={self.robot_id!r}, url={redact(self.config.url)!r})"
