"""The one small interface every memory submodule implements.

A submodule owns its tables (``schema``) and an in-memory index it loads at
open.  ``update``/``on_event`` compute and *return* :class:`Changes` — rows to
write and in-memory edits to apply after the commit — and write nothing
themselves; the facade runs the four in parallel and applies all their changes
in one transaction.  ``search`` answers a :class:`~robomem.retrieval.query.Query`
with scored candidate entries.  Query verbs specific to a submodule
(``last_seen``, ``facts``, …) are plain methods on it.
"""

from __future__ import annotations

import sqlite3
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from robomem.config import MemoryConfig
from robomem.ingest.frame import Frame
from robomem.observation import Event
from robomem.retrieval.embedding import Embedder
from robomem.retrieval.query import Entry, Query
from robomem.store.database import Store

if TYPE_CHECKING:
    from robomem.places import Places


@dataclass
class Changes:
    """What one submodule wants written (in the shared transaction) and applied after commit."""

    statements: list[tuple[str, tuple[Any, ...]]] = field(default_factory=list)
    writers: list[Callable[[sqlite3.Connection], None]] = field(default_factory=list)
    after_commit: list[Callable[[], None]] = field(default_factory=list)

    def sql(self, statement: str, params: tuple[Any, ...] = ()) -> None:
        self.statements.append((statement, params))

    def write(self, fn: Callable[[sqlite3.Connection], None]) -> None:
        self.writers.append(fn)

    def then(self, fn: Callable[[], None]) -> None:
        self.after_commit.append(fn)

    def extend(self, other: Changes) -> None:
        self.statements.extend(other.statements)
        self.writers.extend(other.writers)
        self.after_commit.extend(other.after_commit)

    def execute(self, conn: sqlite3.Connection) -> None:
        for statement, params in self.statements:
            conn.execute(statement, params)
        for fn in self.writers:
            fn(conn)

    def commit_memory(self) -> None:
        for fn in self.after_commit:
            fn()

    def __bool__(self) -> bool:
        return bool(self.statements or self.writers or self.after_commit)


@dataclass(frozen=True)
class SubmoduleContext:
    store: Store
    config: MemoryConfig
    embedder: Embedder
    places: Places


class Submodule(ABC):
    name: ClassVar[str]
    schema: ClassVar[tuple[str, ...]] = ()

    def __init__(self, ctx: SubmoduleContext) -> None:
        self.ctx = ctx
        self.store = ctx.store
        self.config = ctx.config

    def load(self) -> None:  # noqa: B027 - optional hook: a submodule without an index needs nothing
        """Warm the in-memory index from the store (called once at open)."""

    @abstractmethod
    def update(self, frame: Frame) -> Changes:
        """Compute what this frame changes; return it, write nothing."""

    def on_event(self, event: Event) -> Changes:
        """Compute what an event changes (default: nothing)."""
        return Changes()

    @abstractmethod
    def search(self, query: Query, now: float) -> list[Entry]:
        """Candidate entries for the query, with score parts filled in."""

    def row_counts(self) -> dict[str, int]:
        """Rows per table this submodule owns (for budgets and benchmarks)."""
        conn = self.store.read()
        out = {}
        for ddl in self.schema:
            words = ddl.split()
            if len(words) > 5 and words[0].upper() == "CREATE" and words[1].upper() == "TABLE":
                table = words[5] if words[2].upper() == "IF" else words[2]
                table = table.split("(")[0]
                out[table] = int(conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])
        return out

    def forget(self, budget: Any) -> Changes:
        """Compress or drop low-value detail to stay under the budget (default: nothing)."""
        return Changes()
