"""Semantic memory's tables, its in-memory index (open facts, the names of non-object entities) and entity
naming/resolution; ``_Plan`` is the overlay one planning call builds over the committed state.

An object's name is never stored here: ``object:12`` is shown as "<label> #12" with the label spatial memory
gives (the argmax of its label distribution, the one authority), so a relabelled object is renamed
everywhere at once and reads the same before and after a reopen.
"""

from __future__ import annotations

import re
import threading
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from robomem.retrieval.query import words
from robomem.store.ids import next_id
from robomem.submodules.base import Changes, Submodule, SubmoduleContext
from robomem.submodules.semantic.habits import Pairs, VisitTally, group_visits, pairs_arrays, pairs_from_arrays
from robomem.submodules.semantic.language import slug, strip_articles
from robomem.submodules.semantic.records import FACT_COLS, Fact

if TYPE_CHECKING:
    from robomem.store.frames import FrameLog
    from robomem.submodules.episodic.memory import EpisodicMemory
    from robomem.submodules.spatial.memory import SpatialMemory
    from robomem.submodules.temporal.memory import TemporalMemory


@dataclass
class _Plan:
    """Overlay of one planning call over the committed in-memory state."""

    open: dict[int, Fact | None] = field(default_factory=dict)  # fact id -> new open version (None = closed)
    names: dict[str, tuple[str, str, str]] = field(default_factory=dict)  # entity -> (kind, name, label)
    ops: list[tuple[str, int]] = field(default_factory=list)
    objects_seen: dict[int, float] = field(default_factory=dict)  # objects in this frame -> its stamp
    labels: dict[int, str] = field(default_factory=dict)  # their labels in this frame (before spatial commits)
    consolidated: bool = False
    newest: float = 0.0
    next_fact: int = 0  # the next fact id this plan takes (taken at commit)

    def take_fact_id(self) -> int:
        self.next_fact += 1
        return self.next_fact - 1


class SemanticState(Submodule):
    name = "semantic"
    tables = ("entities", "facts", "fact_evidence")
    schema = (
        """CREATE TABLE IF NOT EXISTS entities(
            id TEXT PRIMARY KEY, kind TEXT NOT NULL, name TEXT NOT NULL, label TEXT)""",
        """CREATE TABLE IF NOT EXISTS facts(
            id INTEGER PRIMARY KEY, subject TEXT NOT NULL, predicate TEXT NOT NULL, object TEXT NOT NULL,
            confidence REAL NOT NULL, source TEXT NOT NULL, valid_from REAL NOT NULL, valid_to REAL,
            recorded_at REAL NOT NULL, expired_at REAL, count INTEGER NOT NULL DEFAULT 1,
            last_evidence REAL NOT NULL, reason TEXT, retrieved INTEGER NOT NULL DEFAULT 0,
            superseded_by INTEGER)""",
        "CREATE INDEX IF NOT EXISTS facts_sp ON facts(subject, predicate, valid_from)",
        "CREATE INDEX IF NOT EXISTS facts_o ON facts(object, predicate)",
        "CREATE INDEX IF NOT EXISTS facts_open ON facts(valid_to)",
        """CREATE TABLE IF NOT EXISTS fact_evidence(
            id INTEGER PRIMARY KEY, fact_id INTEGER NOT NULL REFERENCES facts(id) ON DELETE CASCADE,
            role TEXT NOT NULL, kind TEXT NOT NULL, ref TEXT NOT NULL, stamp REAL NOT NULL, detail TEXT NOT NULL)""",
        "CREATE INDEX IF NOT EXISTS fact_evidence_fact ON fact_evidence(fact_id, role)",
    )

    def __init__(
        self,
        ctx: SubmoduleContext,
        spatial: SpatialMemory,
        temporal: TemporalMemory,
        episodic: EpisodicMemory,
        frames: FrameLog | None = None,
    ) -> None:
        super().__init__(ctx)
        # The peers it reads (through their methods, never their tables): spatial is the label authority,
        # temporal has the sightings, episodic the steps and outcomes, frames the trajectory (for ``why``).
        self.spatial = spatial
        self.temporal = temporal
        self.episodic = episodic
        self.frames = frames
        self._lock = threading.RLock()
        self._open: dict[int, Fact] = {}
        self._by_sp: dict[tuple[str, str], set[int]] = defaultdict(set)
        self._entities: dict[str, tuple[str, str, str]] = {}  # places, classes, other entities: (kind, name, label)
        self.last_ops: list[tuple[str, int]] = []
        self._next_fact = 1  # advances only after a commit
        self._frames_since_consolidation = 0
        self._newest = 0.0
        self._tally = VisitTally()  # visits behind usually_in, kept incrementally (habits.py)
        self._visit_dirty: set[int] = set()  # objects whose visits changed since the tally last read them

    # -- load -------------------------------------------------------------------------
    def load(self, cached: Mapping[str, np.ndarray] | None = None) -> None:
        """Warm the index from the store (once, at open)."""
        conn = self.store.read()
        for eid, kind, name, label in conn.execute("SELECT id, kind, name, label FROM entities WHERE kind != 'object'"):
            self._entities[eid] = (kind, name, label or "")
        for row in conn.execute(FACT_COLS + " WHERE valid_to IS NULL"):
            f = self._fact(row, named=False)
            self._open[f.fact_id] = f
            self._by_sp[(f.subject, f.predicate)].add(f.fact_id)
        self._next_fact = next_id(conn, "facts")
        row = conn.execute("SELECT MAX(last_evidence), MAX(valid_to) FROM facts").fetchone()
        self._newest = max((float(v) for v in row if v is not None), default=0.0)
        if not self.store.readonly and self.config.semantic.consolidate_every > 0:
            # once here, so no periodic pass pays for it: from the index cache's pairs when it has them
            self._tally = self._build_tally(None if cached is None else pairs_from_arrays(cached))

    def cache_arrays(self) -> dict[str, np.ndarray] | None:
        """The visit tally's pairs as a build at the next open would make them (None: no tally to keep, or
        forgetting compressed sightings since it was built: the next open counts them afresh)."""
        with self._lock:
            tally, dirty = self._tally, sorted(self._visit_dirty)
        if not tally.ready or tally.epoch != self.temporal.forget_epoch:
            return None
        fresh: dict[int, dict[str, tuple[int, float]]] = {oid: {} for oid in dirty}
        for v in self.temporal.visits(self.config.semantic.visit_window_s, dirty):
            fresh[v.object_id][v.place] = (v.visits, v.first_seen)
        return pairs_arrays(tally.current_pairs(fresh))

    def _build_tally(self, pairs: Pairs | None = None) -> VisitTally:
        """A tally of every sighting now (one scan of temporal's rows, grouped in numpy), or of these pairs."""
        tally = VisitTally()
        index = self.spatial.label_index()
        if pairs is None:
            pairs = group_visits(*self.temporal.visit_windows(self.config.semantic.visit_window_s))
        tally.build_pairs(pairs, index.ids, index.lab_idx, index.uniq, self.temporal.forget_epoch)
        return tally

    def newest_stamp(self) -> float | None:
        """The newest stamp any fact row holds (evidence or closing; facts told by events can be newer than the
        newest frame).  Live and after a reopen alike: a frame or event that changes no fact does not move it."""
        with self._lock:
            return self._newest if self._newest > 0.0 or self._open else None

    def _plan(self, newest: float = 0.0) -> _Plan:
        return _Plan(newest=newest, next_fact=self._next_fact)

    def _fact(self, row: Any, named: bool = True) -> Fact:
        f = Fact(
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
            retrieved=row[13],
            superseded_by=row[14],
        )
        return self._named(f) if named else f

    def _named(self, f: Fact) -> Fact:
        """The fact with its entities' names and labels filled in as they are now."""
        return replace(
            f,
            subject_name=self.display(f.subject),
            object_name=self.display(f.object),
            subject_label=self.label(f.subject),
            object_label=self.label(f.object),
        )

    # -- entities ---------------------------------------------------------------------
    def _object_label(self, object_id: int, plan: _Plan | None = None) -> str | None:
        if plan is not None and object_id in plan.labels:
            return plan.labels[object_id]
        return self.spatial.label_of(object_id)

    def display(self, entity: str, plan: _Plan | None = None) -> str:
        """The display name of an entity id ("object:12" -> "red mug #12", "place:kitchen" -> "kitchen")."""
        kind, _, rest = entity.partition(":")
        if kind == "object" and rest.isdigit():
            return f"{self._object_label(int(rest), plan) or 'object'} #{rest}"
        if plan is not None and entity in plan.names:
            return plan.names[entity][1]
        e = self._entities.get(entity)
        if e is not None:
            return e[1]
        return rest.replace("_", " ") if rest else entity

    def label(self, entity: str, plan: _Plan | None = None) -> str:
        """What an entity is, without its id: an object's or a class's label, a place's or an entity's name."""
        kind, _, rest = entity.partition(":")
        if kind == "object" and rest.isdigit():
            return self._object_label(int(rest), plan) or "object"
        e = plan.names.get(entity) if plan is not None else None
        e = e or self._entities.get(entity)
        if e is not None:
            return e[2] if e[0] == "class" and e[2] else e[1]
        return rest.replace("_", " ") if rest else entity

    def _objects_labelled(self, match: Any, plan: _Plan | None) -> list[int]:
        """Ids of the objects whose label (spatial's, or this frame's for objects it has not committed) matches."""
        index = self.spatial.label_index()
        hits = [j for j, lab in enumerate(index.uniq) if match(lab)]
        ids = index.ids[np.isin(index.lab_idx, hits)].tolist() if hits else []
        if plan is not None:
            extra = {oid for oid, lab in plan.labels.items() if match(lab)}
            ids = sorted((set(ids) - set(plan.labels)) | extra)
        return [int(i) for i in ids]

    def _last_seen(self, object_id: int, plan: _Plan | None) -> float:
        if plan is not None and object_id in plan.objects_seen:
            return plan.objects_seen[object_id]
        rec = self.spatial.get(object_id)
        return rec.last_seen if rec is not None else -1.0

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
        exact = self._objects_labelled(lambda lab: lab.lower() == low, plan)
        if not exact:
            wanted = set(words(low))
            if wanted:
                exact = self._objects_labelled(lambda lab: wanted <= set(words(lab)), plan)
        if exact:
            return f"object:{max(exact, key=lambda i: (self._last_seen(i, plan), i))}"
        e = f"entity:{slug(n)}"
        if e in self._entities or (plan is not None and e in plan.names):
            return e
        return e if create else None

    def _entity(self, name: str, plan: _Plan | None = None) -> str:
        """``resolve`` with ``create=True``: an entity id for any name (unknown names become ``entity:<slug>``)."""
        ent = self.resolve(name, plan, create=True)
        if ent is None:  # resolve creates with create=True; a None here is a bug in resolve
            raise RuntimeError(f"semantic: could not make an entity for {name!r}")
        return ent

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
