"""Semantic memory's tables, its in-memory index (open facts, entities, when objects were last seen) and
entity naming/resolution; ``_Plan`` is the overlay one planning call builds over the committed state."""

from __future__ import annotations

import re
import threading
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from robomem.retrieval.query import words
from robomem.submodules.base import Changes, Submodule
from robomem.submodules.semantic.language import slug, strip_articles
from robomem.submodules.semantic.records import FACT_COLS, Fact


@dataclass
class _Plan:
    """Overlay of one planning call over the committed in-memory state."""

    open: dict[int, Fact | None] = field(default_factory=dict)  # fact id -> new open version (None = closed)
    names: dict[str, tuple[str, str, str]] = field(default_factory=dict)  # entity -> (kind, name, label)
    ops: list[tuple[str, int]] = field(default_factory=list)
    objects_seen: dict[int, float] = field(default_factory=dict)
    consolidated: bool = False
    newest: float = 0.0


class SemanticState(Submodule):
    name = "semantic"
    schema = (
        """CREATE TABLE IF NOT EXISTS entities(
            id TEXT PRIMARY KEY, kind TEXT NOT NULL, name TEXT NOT NULL, label TEXT)""",
        """CREATE TABLE IF NOT EXISTS facts(
            id INTEGER PRIMARY KEY, subject TEXT NOT NULL, predicate TEXT NOT NULL, object TEXT NOT NULL,
            confidence REAL NOT NULL, source TEXT NOT NULL, valid_from REAL NOT NULL, valid_to REAL,
            recorded_at REAL NOT NULL, expired_at REAL, count INTEGER NOT NULL DEFAULT 1,
            last_evidence REAL NOT NULL, reason TEXT, retrieved INTEGER NOT NULL DEFAULT 0)""",
        "CREATE INDEX IF NOT EXISTS facts_sp ON facts(subject, predicate, valid_from)",
        "CREATE INDEX IF NOT EXISTS facts_o ON facts(object, predicate)",
        "CREATE INDEX IF NOT EXISTS facts_open ON facts(valid_to)",
        """CREATE TABLE IF NOT EXISTS fact_evidence(
            id INTEGER PRIMARY KEY, fact_id INTEGER NOT NULL REFERENCES facts(id) ON DELETE CASCADE,
            role TEXT NOT NULL, kind TEXT NOT NULL, ref TEXT NOT NULL, stamp REAL NOT NULL, detail TEXT NOT NULL)""",
        "CREATE INDEX IF NOT EXISTS fact_evidence_fact ON fact_evidence(fact_id, role)",
    )

    # -- load -------------------------------------------------------------------------
    def load(self) -> None:
        self._lock = threading.RLock()
        self._open: dict[int, Fact] = {}
        self._by_sp: dict[tuple[str, str], set[int]] = defaultdict(set)
        self._entities: dict[str, tuple[str, str, str]] = {}
        self._obj_seen: dict[int, float] = {}
        self.last_ops: list[tuple[str, int]] = []
        conn = self.store.read()
        for eid, kind, name, label in conn.execute("SELECT id, kind, name, label FROM entities"):
            self._entities[eid] = (kind, name, label or "")
        for oid, last in conn.execute("SELECT id, last_seen FROM objects"):
            self._obj_seen[oid] = last
        for row in conn.execute(FACT_COLS + " WHERE valid_to IS NULL"):
            f = self._fact(row)
            self._open[f.fact_id] = f
            self._by_sp[(f.subject, f.predicate)].add(f.fact_id)
        self._next_fact = int(conn.execute("SELECT COALESCE(MAX(id), 0) FROM facts").fetchone()[0]) + 1
        self._frames_since_consolidation = 0
        self.newest_stamp = float(conn.execute("SELECT COALESCE(MAX(last_evidence), 0) FROM facts").fetchone()[0])

    def _fact(self, row: Any) -> Fact:
        return Fact(
            fact_id=row[0],
            subject=row[1],
            predicate=row[2],
            object=row[3],
            confidence=row[4],
            source=row[5],
            valid_from=row[6],
            valid_to=row[7],
            recorded_at=row[8],
            expired_at=row[9],
            count=row[10],
            last_evidence=row[11],
            reason=row[12],
            subject_name=self.display(row[1]),
            object_name=self.display(row[3]),
            retrieved=row[13],
        )

    # -- entities ---------------------------------------------------------------------
    def display(self, entity: str, plan: _Plan | None = None) -> str:
        """The display name of an entity id ("object:12" -> "red mug #12", "place:kitchen" -> "kitchen")."""
        if plan is not None and entity in plan.names:
            return plan.names[entity][1]
        e = self._entities.get(entity)
        if e is not None:
            return e[1]
        kind, _, rest = entity.partition(":")
        if kind == "object":
            return f"object #{rest}"
        return rest.replace("_", " ") if rest else entity

    def _labels(self, plan: _Plan | None = None) -> dict[int, str]:
        out = {int(k.split(":", 1)[1]): v[2] for k, v in self._entities.items() if v[0] == "object"}
        if plan is not None:
            out.update({int(k.split(":", 1)[1]): v[2] for k, v in plan.names.items() if v[0] == "object"})
        return out

    def resolve(self, name: str | int, plan: _Plan | None = None, create: bool = False) -> str | None:
        """An entity id for a name: "object:12" / 12 / "red mug #12" / "red mug" (most recently seen) / "kitchen".

        Unknown names give ``entity:<slug>`` with ``create=True`` and None otherwise.
        """
        if isinstance(name, bool):
            raise ValueError(f"entity: expected a name or an object id, got {name!r}")
        if isinstance(name, (int, np.integer)):
            return f"object:{int(name)}"
        if not isinstance(name, str) or not name.strip():
            raise ValueError(f"entity: expected a non-empty name, got {name!r}")
        raw = name.strip()
        if re.match(r"^(object|place|class|entity):.+", raw):
            return raw
        m = re.search(r"#\s*(\d+)\s*$", raw)
        if m:
            return f"object:{int(m.group(1))}"
        n = strip_articles(raw)
        low = n.lower()
        for p in self.ctx.places.names():
            if p.lower() == low or p.lower().replace("_", " ") == low:
                return f"place:{p}"
        labels = self._labels(plan)
        seen = dict(self._obj_seen)
        if plan is not None:
            seen.update(plan.objects_seen)
        exact = [oid for oid, lab in labels.items() if lab.lower() == low]
        if not exact:
            wanted = set(words(low))
            exact = [oid for oid, lab in labels.items() if wanted and wanted <= set(words(lab))]
        if exact:
            return f"object:{max(exact, key=lambda i: (seen.get(i, -1.0), i))}"
        e = f"entity:{slug(n)}"
        if e in self._entities or (plan is not None and e in plan.names):
            return e
        return e if create else None

    def _name_entity(self, plan: _Plan, ch: Changes, entity: str, kind: str, name: str, label: str = "") -> None:
        cur = plan.names.get(entity) or self._entities.get(entity)
        if cur == (kind, name, label):
            return
        plan.names[entity] = (kind, name, label)
        ch.sql("INSERT OR REPLACE INTO entities(id, kind, name, label) VALUES (?,?,?,?)", (entity, kind, name, label))

    def _ensure_named(self, plan: _Plan, ch: Changes, entity: str, given: str) -> None:
        if entity in plan.names or entity in self._entities:
            return
        kind = entity.split(":", 1)[0]
        if kind == "place":
            self._name_entity(plan, ch, entity, "place", entity.split(":", 1)[1])
        elif kind == "class":
            lab = entity.split(":", 1)[1]
            self._name_entity(plan, ch, entity, "class", f"{lab} (any)", lab)
        elif kind == "entity":
            self._name_entity(plan, ch, entity, "entity", strip_articles(given) or given)
