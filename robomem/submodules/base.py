"""The one small interface every memory submodule implements: its whole lifecycle.

A submodule owns its tables (``tables``, created by ``schema``) and an
in-memory index: all its state and locks are created in ``__init__``, and
``load`` warms the index from the store once, at open (never as a reset).
Every step computes and *returns* :class:`Changes` — statements to run in the
facade's one shared transaction and in-memory edits to apply after the
commit — and writes nothing itself:

- ``update(frame)`` / ``on_event(event)``: what a frame or an event changes;
- ``search(query, now)``: scored candidate entries (read only);
- ``mark_retrieved(entries, now)``: count retrievals of its own entry kinds;
- ``remap_object(drop, keep)``: a merge — rows and index entries of object
  ``drop`` become ``keep``;
- ``forget(limits, now)``: the budget pass, with a report of what it dropped;
- ``newest_stamp()``: the newest world time it holds.

Ids (object, episode, fact ids, ...) are taken at commit: a counter advances
only in an ``after_commit`` hook (or the id comes from the insert), so a
failed transaction burns no id.  Query verbs specific to a submodule
(``last_seen``, ``facts``, …) are plain methods on it; other code reads a
submodule's tables only through them.
"""

from __future__ import annotations

import sqlite3
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

import numpy as np

from robomem.config import BudgetConfig, MemoryConfig
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
    after_commit: list[Callable[[], None]] = field(default_factory=list)

    def sql(self, statement: str, params: tuple[Any, ...] = ()) -> None:
        self.statements.append((statement, params))

    def delete(self, table: str, ids: Iterable[int], column: str = "id", chunk: int = 500) -> None:
        """``DELETE FROM table WHERE column IN (ids)``, in chunks (SQLite limits the number of parameters)."""
        ordered = sorted(ids)
        for i in range(0, len(ordered), chunk):
            part = tuple(ordered[i : i + chunk])
            self.sql(f"DELETE FROM {table} WHERE {column} IN ({','.join('?' * len(part))})", part)

    def then(self, fn: Callable[[], None]) -> None:
        self.after_commit.append(fn)

    def extend(self, other: Changes) -> None:
        self.statements.extend(other.statements)
        self.after_commit.extend(other.after_commit)

    def execute(self, conn: sqlite3.Connection) -> None:
        for statement, params in self.statements:
            conn.execute(statement, params)

    def commit_memory(self) -> None:
        for fn in self.after_commit:
            fn()

    def __bool__(self) -> bool:
        return bool(self.statements or self.after_commit)


@dataclass(frozen=True, eq=False)
class LabelIndex:
    """Every object's label, as arrays: ``labels[lab_idx[j]]`` is the label of object ``ids[j]``.

    One instance per state of the labels: a new one whenever an object is added or removed or its label
    changes (not when only its geometry or sightings change), so ``is`` tells staleness."""

    ids: np.ndarray  # int64 object ids, ascending
    uniq: tuple[str, ...]  # the distinct labels, sorted
    lab_idx: np.ndarray  # int64 index into ``uniq`` per object
    version: int = -1  # the owner's label version it reflects (see ``ObjectIndex.label_changes``); -1: unknown


class ObjectIndex(Protocol):
    """Spatial memory as the other submodules see it (passed to their constructors after the context): the one label authority (the argmax of each
    object's label distribution) and how much each object matters."""

    def label_of(self, object_id: int) -> str | None: ...

    def label_index(self) -> LabelIndex: ...

    # ids whose label entry differs between the label indexes of these versions (None: too far back: rebuild)
    def label_changes(self, since: int, until: int) -> set[int] | None: ...

    def usage(self) -> dict[int, tuple[int, int]]: ...  # object id -> (times observed, times retrieved)

    # (ids, relevance to the query's text, complete): the objects the query selects by top label, the most
    # relevant labels first and only as many as hold ``enough`` objects (see ``spatial.search.labelled``)
    def labelled(self, query: Query, enough: int | None) -> tuple[np.ndarray, np.ndarray, bool]: ...


@dataclass(frozen=True)
class SubmoduleContext:
    store: Store
    config: MemoryConfig
    embedder: Embedder
    places: Places


@dataclass(frozen=True)
class ForgetLimits:
    """What one budget pass allows a submodule (each reads its own ``max_*`` fields of ``budget``)."""

    budget: BudgetConfig
    scale: float  # share of its budget allowed now (1.0 normally, < 1 under byte pressure)
    keep_recent_s: float  # never touch what is younger than this
    target_fraction: float  # when over budget, shrink to this fraction of it

    def __post_init__(self) -> None:
        if not 0.0 < self.scale <= 1.0:
            raise ValueError(f"ForgetLimits.scale: expected a share in (0, 1], got {self.scale!r}")
        if not 0.0 < self.target_fraction <= 1.0:
            raise ValueError(f"ForgetLimits.target_fraction: expected a share in (0, 1], got {self.target_fraction!r}")
        if self.keep_recent_s < 0.0:
            raise ValueError(f"ForgetLimits.keep_recent_s: expected >= 0, got {self.keep_recent_s!r}")

    def limit(self, rows: int) -> int:
        """A row limit of the budget, scaled to what is allowed now."""
        return int(rows * self.scale)


class Submodule(ABC):
    name: ClassVar[str]
    tables: ClassVar[tuple[str, ...]] = ()  # the tables it owns: written once, here, nowhere else
    schema: ClassVar[tuple[str, ...]] = ()  # the DDL that creates them (and their indexes)

    def __init__(self, ctx: SubmoduleContext) -> None:
        self.ctx = ctx
        self.store = ctx.store
        self.config = ctx.config

    def load(self, cached: Mapping[str, np.ndarray] | None = None) -> None:  # noqa: B027 - optional hook
        """Warm the in-memory index from the store (called once, at open; never as a reset).  ``cached``: the
        arrays this submodule's ``cache_arrays`` gave at the last close, when the store has not changed since
        (``store/index_cache.py``); build from them instead of SQL, or raise (the facade then reads SQL)."""

    def cache_arrays(self) -> dict[str, np.ndarray] | None:
        """What ``load(cached)`` needs to rebuild the in-memory index exactly as an SQL load would, as plain
        arrays (no object dtype); asked at a writable close.  None: nothing worth caching."""
        return None

    @abstractmethod
    def update(self, frame: Frame) -> Changes:
        """Compute what this frame changes; return it, write nothing."""

    def on_event(self, event: Event) -> Changes:
        """Compute what an event changes (default: nothing)."""
        return Changes()

    @abstractmethod
    def search(self, query: Query, now: float) -> list[Entry]:
        """Candidate entries for the query, with score parts filled in."""

    def mark_retrieved(self, entries: Sequence[Entry], now: float) -> Changes:
        """Count retrievals of the entries of its own kinds (for forgetting); default: nothing."""
        return Changes()

    def remap_object(self, drop: int, keep: int) -> Changes:
        """A merge: this submodule's rows and index entries of object ``drop`` become ``keep``."""
        return Changes()

    def forget(self, limits: ForgetLimits, now: float) -> tuple[Changes, dict[str, int]]:
        """The budget pass: compress or drop low-value detail; returns changes and counts of what went."""
        return Changes(), {}

    def newest_stamp(self) -> float | None:
        """The newest world stamp this submodule holds (None: nothing, or it keeps no time)."""
        return None

    def owned_tables(self) -> tuple[str, ...]:
        """``tables``; for a submodule that does not declare them yet, the tables its schema creates."""
        if self.tables:
            return self.tables
        out = []
        for ddl in self.schema:
            words = ddl.split()
            if len(words) > 5 and words[0].upper() == "CREATE" and words[1].upper() == "TABLE":
                table = words[5] if words[2].upper() == "IF" else words[2]
                out.append(table.split("(")[0])
        return tuple(out)

    def row_counts(self) -> dict[str, int]:
        """Rows per table this submodule owns (for budgets and benchmarks)."""
        conn = self.store.read()
        return {t: int(conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]) for t in self.owned_tables()}
