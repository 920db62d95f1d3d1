"""A readers-writer lock: many readers of the in-memory view at once, or one writer applying a commit.

The facade holds the write side while a transaction commits and its in-memory changes are applied, and the
read side for a whole retrieval (and for a planner's context), so a reader never sees an index that a
merge or the forgetting pass has half changed.  Reads are re-entrant per thread (a planner's context holds
the read side and calls ``retrieve``); a waiting writer blocks new readers from other threads, so a steady
stream of queries cannot starve the update worker.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

__all__ = ["ReadWriteLock"]


class ReadWriteLock:
    def __init__(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._readers = 0
        self._writer: int | None = None  # thread ident of the writer
        self._writer_depth = 0
        self._writers_waiting = 0
        self._local = threading.local()

    def reading_here(self) -> bool:
        """Whether the calling thread holds the read side now."""
        return bool(getattr(self._local, "depth", 0))

    @contextlib.contextmanager
    def reading(self) -> Iterator[None]:
        depth = getattr(self._local, "depth", 0)
        me = threading.get_ident()
        if depth == 0 and self._writer != me:
            with self._cond:
                while self._writer is not None or self._writers_waiting:
                    self._cond.wait()
                self._readers += 1
            counted = True
        else:
            counted = False  # nested read, or a read inside this thread's own write: already safe
        self._local.depth = depth + 1
        try:
            yield
        finally:
            self._local.depth = depth
            if counted:
                with self._cond:
                    self._readers -= 1
                    if self._readers == 0:
                        self._cond.notify_all()

    @contextlib.contextmanager
    def writing(self) -> Iterator[None]:
        me = threading.get_ident()
        if getattr(self._local, "depth", 0):
            raise RuntimeError("ReadWriteLock: cannot write while this thread holds the read side")
        with self._cond:
            if self._writer == me:
                self._writer_depth += 1
            else:
                self._writers_waiting += 1
                try:
                    while self._writer is not None or self._readers:
                        self._cond.wait()
                finally:
                    self._writers_waiting -= 1
                self._writer = me
                self._writer_depth = 1
        try:
            yield
        finally:
            with self._cond:
                self._writer_depth -= 1
                if self._writer_depth == 0:
                    self._writer = None
                    self._cond.notify_all()
