"""Semantic memory: a bi-temporal knowledge graph of facts with provenance.

A *fact* is (subject, predicate, object) between *entities* that share ids
with the rest of memory: ``object:12`` (display name "red mug #12", the same
id as in spatial and temporal memory), ``place:kitchen``, ``class:red mug``
(all objects with that label) and ``entity:anna`` (anything else named in
language).  Each fact row carries

- ``confidence`` in [0, 1] and ``count`` (how much evidence supports it);
- *valid time* ``valid_from`` / ``valid_to`` (when it was true in the world,
  sensor seconds) and *record time* ``recorded_at`` / ``expired_at`` (when
  memory learned it and when memory stopped believing it — the newest
  stamp memory had when it wrote the row; for asserted and consolidated
  facts the two differ);
- provenance rows in ``fact_evidence``: frame indexes, event stamps and
  texts, episode and step ids — ``why(fact_id)`` follows them back to the
  temporal ``sightings`` rows and ``frames``.

Updates are ADD / UPDATE / INVALIDATE / NOOP and perception decides first:
a sighting of an object in a place ADDs ``object:N located_in place:P`` or,
if another place was believed, UPDATEs (the old fact is *closed*:
``valid_to`` and ``expired_at`` set, never deleted); an observed absence
INVALIDATEs the location fact; a repeat sighting is a NOOP that reinforces
(count, confidence, last evidence).  For *functional* predicates (one value
at a time: located_in, belongs_to, on, …) conflicting evidence is resolved
by recency and confidence: new evidence of strength s replaces the old value
when s >= confidence_old * 0.5 ** (age / half_life) - update_margin (age =
time since the old fact's last evidence; the margin lets the newer of two
similar claims win); clearly weaker evidence only lowers the old confidence,
so repeated weak evidence eventually wins.

Facts also come from events: ``Event(kind="fact", text="red mug | belongs_to |
Anna")`` (an optional fourth field is a confidence, or ``false`` to retract)
and simple patterns in instructions ("the red mug is Anna's", "the keys are
in the kitchen", "the book is on the table", "drawer_2 is broken").

Consolidation (every ``consolidate_every`` frames, or ``Memory.consolidate()``)
derives general facts with the count behind each: ``object:N usually_in
place:P`` and ``class:mug usually_in place:P`` from where most sightings
were, ``entity:drawer_2 often_fails open`` from failed steps/episodes, and
``on`` / ``in`` facts from the scene graph's geometry.
"""

from __future__ import annotations

import math
import re
import threading
from collections import defaultdict
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from robomem.ingest.frame import Frame
from robomem.observation import Event
from robomem.retrieval.query import Entry, Query, recency, text_relevance, words
from robomem.submodules.base import Changes, Submodule
from robomem.submodules.spatial.scene_graph import pair_relation

MAX_SUPPORT_ROWS = 20  # evidence rows kept per fact (first, latest, and this many supports/contradictions)
MAX_SEARCH_FACTS = 400  # candidate facts embedded per query at most

_ARTICLES = re.compile(r"^(?:the|a|an|my|our|your|his|her|their|this|that)\s+", re.I)
_PREFIX = re.compile(r"^(?:please\s+)?(?:remember|note|know|fyi|btw)(?:\s+that)?[:,]?\s+", re.I)
_STATES = (
    "broken",
    "open",
    "closed",
    "empty",
    "full",
    "dirty",
    "clean",
    "locked",
    "unlocked",
    "on",
    "off",
    "charging",
    "wet",
    "dry",
    "hot",
    "cold",
)

# (pattern, predicate, negate); the first that matches wins.
_PATTERNS: tuple[tuple[re.Pattern[str], str, bool], ...] = (
    (re.compile(r"^(?P<s>.+?) (?:is|are) (?P<o>[\w .-]+?)'s$", re.I), "belongs_to", False),
    (re.compile(r"^(?P<s>.+?) belongs? to (?P<o>.+)$", re.I), "belongs_to", False),
    (re.compile(r"^(?P<s>.+?) (?:is|are) (?:not|no longer) (?:in|inside|at) (?P<o>.+)$", re.I), "located_in", True),
    (re.compile(r"^(?P<s>.+?) (?:is|are) (?:now |usually |always )?(?:in|inside|at) (?P<o>.+)$", re.I), "in", False),
    (re.compile(r"^(?P<s>.+?) (?:is|are) (?:now )?on (?:top of )?(?P<o>.+)$", re.I), "on", False),
    (re.compile(r"^(?P<s>.+?) (?:is|are) (?P<o>" + "|".join(_STATES) + r")$", re.I), "state", False),
    (re.compile(r"^(?P<s>.+?) (?:is|are) (?:a|an) (?P<o>.+)$", re.I), "is_a", False),
)


@dataclass(frozen=True)
class Fact:
    fact_id: int
    subject: str
    predicate: str
    object: str
    confidence: float
    source: str  # "perception" | "event" | "instruction" | "consolidation" | "scene_graph"
    valid_from: float
    valid_to: float | None
    recorded_at: float
    expired_at: float | None
    count: int
    last_evidence: float
    reason: str | None = None  # why it was closed
    subject_name: str = ""
    object_name: str = ""
    retrieved: int = 0

    @property
    def is_valid(self) -> bool:
        return self.valid_to is None

    def valid_at(self, t: float) -> bool:
        return self.valid_from <= t and (self.valid_to is None or t < self.valid_to)

    @property
    def text(self) -> str:
        return f"{self.subject_name or self.subject} {self.predicate} {self.object_name or self.object}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "fact_id": self.fact_id,
            "subject": self.subject,
            "predicate": self.predicate,
            "object": self.object,
            "subject_name": self.subject_name,
            "object_name": self.object_name,
            "confidence": self.confidence,
            "source": self.source,
            "valid_from": self.valid_from,
            "valid_to": self.valid_to,
            "recorded_at": self.recorded_at,
            "expired_at": self.expired_at,
            "count": self.count,
            "last_evidence": self.last_evidence,
            "reason": self.reason,
        }


@dataclass(frozen=True)
class Evidence:
    evidence_id: int
    fact_id: int
    role: str  # "first" | "latest" | "support" | "contradict" | "close"
    kind: str  # "frame" | "event" | "consolidation" | "episode" | "step" | "scene_graph"
    ref: str  # "frame:123", "event:12.500:fact", "episode:4", "step:17", …
    stamp: float
    detail: str


@dataclass(frozen=True)
class Explanation:
    """Why a fact is believed: its evidence chain back to observations and events."""

    fact: Fact
    evidence: tuple[Evidence, ...]
    sightings: tuple[tuple[int, float, float, int, str | None], ...]  # (sighting row id, t_start, t_end, n, place)
    frames: tuple[int, ...]  # frame indexes
    events: tuple[str, ...]  # "t=12.5 fact: red mug | belongs_to | Anna"
    episodes: tuple[int, ...]
    superseded_by: int | None = None

    def text(self) -> str:
        f = self.fact
        lines = [
            f"fact #{f.fact_id}: {f.text} (confidence {f.confidence:.2f}, {f.count} evidence, source {f.source})",
            f"  valid {f.valid_from:.1f}s .. "
            + ("now" if f.valid_to is None else f"{f.valid_to:.1f}s")
            + (f" — closed: {f.reason}" if f.reason else ""),
        ]
        for e in self.evidence:
            lines.append(f"  {e.role} {e.ref} t={e.stamp:.1f}s: {e.detail}")
        if self.sightings:
            lines.append(
                f"  sightings: {len(self.sightings)} rows, e.g. "
                + ", ".join(f"#{s[0]} t={s[1]:.1f}-{s[2]:.1f}s n={s[3]}" for s in self.sightings[:5])
            )
        if self.frames:
            lines.append("  frames: " + ", ".join(map(str, self.frames[:20])))
        return "\n".join(lines)


def slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", name.strip().lower()).strip("_")


def strip_articles(name: str) -> str:
    n = name.strip().strip(".!?,;:'\"")
    while True:
        m = _ARTICLES.match(n)
        if not m:
            return n
        n = n[m.end() :]


def parse_fact_text(text: str) -> tuple[str, str, str, float | None, bool] | None:
    """Parse "subject | predicate | object [| confidence | false]" -> (s, p, o, confidence, retract)."""
    parts = [p.strip() for p in text.split("|")]
    if len(parts) < 3 or len(parts) > 4 or not all(parts[:3]):
        return None
    conf: float | None = None
    retract = False
    if len(parts) == 4:
        extra = parts[3].lower()
        if extra in ("false", "no", "not", "retract", "invalid", "0"):
            retract = True
        else:
            try:
                conf = float(extra)
            except ValueError:
                return None
            if not 0.0 <= conf <= 1.0 or not math.isfinite(conf):
                return None
    pred = slug(parts[1])
    if not pred:
        return None
    return parts[0], pred, parts[2], conf, retract


def parse_statement(text: str) -> tuple[str, str, str, bool] | None:
    """A simple pattern parser for statements in instructions: (subject, predicate, object, negate) or None."""
    t = text.strip().rstrip(".!")
    t = _PREFIX.sub("", t)
    if not t or len(t) > 300 or "?" in t:
        return None
    for pat, pred, neg in _PATTERNS:
        m = pat.match(t)
        if m:
            s, o = strip_articles(m.group("s")), strip_articles(m.group("o"))
            if s and o:
                return s, pred, o, neg
    return None


@dataclass
class _Plan:
    """Overlay of one planning call over the committed in-memory state."""

    open: dict[int, Fact | None] = field(default_factory=dict)  # fact id -> new open version (None = closed)
    names: dict[str, tuple[str, str, str]] = field(default_factory=dict)  # entity -> (kind, name, label)
    ops: list[tuple[str, int]] = field(default_factory=list)
    objects_seen: dict[int, float] = field(default_factory=dict)
    consolidated: bool = False
    newest: float = 0.0


class SemanticMemory(Submodule):
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
        for row in conn.execute(_FACT_COLS + " WHERE valid_to IS NULL"):
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

    # -- the update rules ---------------------------------------------------------------
    def _open_for(self, plan: _Plan, subject: str, predicate: str) -> list[Fact]:
        ids = set(self._by_sp.get((subject, predicate), ()))
        ids |= {i for i, f in plan.open.items() if f is not None and f.subject == subject and f.predicate == predicate}
        out = []
        for i in ids:
            f = plan.open[i] if i in plan.open else self._open.get(i)
            if f is not None:
                out.append(f)
        return sorted(out, key=lambda f: f.fact_id)

    def _evidence(self, ch: Changes, fact_id: int, role: str, kind: str, ref: str, stamp: float, detail: str) -> None:
        ch.sql(
            "INSERT INTO fact_evidence(fact_id, role, kind, ref, stamp, detail) VALUES (?,?,?,?,?,?)",
            (fact_id, role, kind, ref, stamp, detail[:500]),
        )

    def _close(
        self,
        plan: _Plan,
        ch: Changes,
        f: Fact,
        t: float,
        reason: str,
        op: str | None,
        evidence: tuple[str, str, str] | None = None,
    ) -> None:
        t = max(t, f.valid_from)
        ch.sql(
            "UPDATE facts SET valid_to=?, expired_at=?, reason=?, confidence=? WHERE id=?",
            (t, t, reason[:300], f.confidence, f.fact_id),
        )
        if evidence is not None:
            self._evidence(ch, f.fact_id, "close", evidence[0], evidence[1], t, evidence[2])
        plan.open[f.fact_id] = None
        plan.newest = max(plan.newest, t)
        if op is not None:
            plan.ops.append((op, f.fact_id))

    def _add(
        self,
        plan: _Plan,
        ch: Changes,
        subject: str,
        predicate: str,
        obj: str,
        confidence: float,
        t: float,
        source: str,
        evidence: tuple[str, str, str],
        count: int = 1,
        valid_from: float | None = None,
    ) -> Fact:
        fid = self._next_fact
        self._next_fact += 1
        vf = t if valid_from is None else valid_from
        f = Fact(
            fid,
            subject,
            predicate,
            obj,
            float(confidence),
            source,
            vf,
            None,
            t,
            None,
            count,
            t,
            None,
            self.display(subject, plan),
            self.display(obj, plan),
        )
        ch.sql(
            "INSERT INTO facts(id, subject, predicate, object, confidence, source, valid_from, valid_to, recorded_at,"
            " expired_at, count, last_evidence, reason) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (fid, subject, predicate, obj, f.confidence, source, vf, None, t, None, count, t, None),
        )
        self._evidence(ch, fid, "first", *evidence[:2], t, evidence[2])
        plan.open[fid] = f
        plan.newest = max(plan.newest, t)
        return f

    def _reinforce(
        self,
        plan: _Plan,
        ch: Changes,
        f: Fact,
        strength: float,
        t: float,
        evidence: tuple[str, str, str],
        latest_only: bool,
        count: int | None = None,
    ) -> None:
        conf = min(1.0, f.confidence + (1.0 - f.confidence) * 0.5 * strength)
        n = f.count + 1 if count is None else count
        new = replace(f, confidence=conf, count=n, last_evidence=max(f.last_evidence, t))
        ch.sql(
            "UPDATE facts SET confidence=?, count=?, last_evidence=? WHERE id=?",
            (new.confidence, new.count, new.last_evidence, f.fact_id),
        )
        if latest_only:
            # Perception confirms the same fact every frame: keep one "latest" evidence row, updated in place.
            if f.count == 1 and count is None:
                self._evidence(ch, f.fact_id, "latest", *evidence[:2], t, evidence[2])
            else:
                ch.sql(
                    "UPDATE fact_evidence SET ref=?, stamp=?, detail=? WHERE fact_id=? AND role='latest'",
                    (evidence[1], t, evidence[2][:500], f.fact_id),
                )
        elif f.count < MAX_SUPPORT_ROWS:
            self._evidence(ch, f.fact_id, "support", *evidence[:2], t, evidence[2])
        plan.open[f.fact_id] = new
        plan.ops.append(("NOOP", f.fact_id))

    def _effective(self, f: Fact, t: float) -> float:
        half = max(1e-6, self.config.semantic.confidence_half_life)
        return f.confidence * 0.5 ** (max(0.0, t - f.last_evidence) / half)

    def observe_fact(
        self,
        plan: _Plan,
        ch: Changes,
        subject: str,
        predicate: str,
        obj: str,
        strength: float,
        t: float,
        source: str,
        evidence: tuple[str, str, str],
        latest_only: bool = False,
        functional: bool | None = None,
    ) -> str:
        """Apply one piece of evidence for (subject, predicate, object); returns the operation."""
        if functional is None:
            functional = predicate in self.config.semantic.functional_predicates
        current = self._open_for(plan, subject, predicate)
        same = [f for f in current if f.object == obj]
        if same:
            self._reinforce(plan, ch, same[0], strength, t, evidence, latest_only)
            return "NOOP"
        others = current if functional else []
        if others:
            strongest = max(others, key=lambda f: self._effective(f, t))
            if strength < self._effective(strongest, t) - self.config.semantic.update_margin:
                # Weaker than what is believed: note the contradiction, lower the confidence, keep the value.
                lowered = replace(strongest, confidence=max(0.05, strongest.confidence - 0.5 * strength))
                ch.sql("UPDATE facts SET confidence=? WHERE id=?", (lowered.confidence, lowered.fact_id))
                if strongest.count < MAX_SUPPORT_ROWS:
                    self._evidence(
                        ch,
                        strongest.fact_id,
                        "contradict",
                        evidence[0],
                        evidence[1],
                        t,
                        f"{evidence[2]} (says {self.display(obj, plan)}; weaker, kept)",
                    )
                plan.open[strongest.fact_id] = lowered
                plan.ops.append(("NOOP", strongest.fact_id))
                return "NOOP"
        new_id = self._next_fact
        for f in others:
            self._close(
                plan, ch, f, t, f"superseded by fact #{new_id} ({source}: {self.display(obj, plan)})", None, evidence
            )
        self._add(plan, ch, subject, predicate, obj, min(1.0, max(0.05, strength)), t, source, evidence)
        op = "UPDATE" if others else "ADD"
        plan.ops.append((op, new_id))
        return op

    def _commit_plan(self, plan: _Plan, ch: Changes, frames: int = 0) -> None:
        def apply() -> None:
            with self._lock:
                for fid, f in plan.open.items():
                    old = self._open.pop(fid, None)
                    if old is not None:
                        self._by_sp[(old.subject, old.predicate)].discard(fid)
                    if f is not None:
                        f = replace(
                            f, subject_name=self.display(f.subject, plan), object_name=self.display(f.object, plan)
                        )
                        self._open[fid] = f
                        self._by_sp[(f.subject, f.predicate)].add(fid)
                self._entities.update(plan.names)
                self._obj_seen.update(plan.objects_seen)
                self.last_ops = list(plan.ops)
                self.newest_stamp = max(self.newest_stamp, plan.newest)
                if plan.consolidated:
                    self._frames_since_consolidation = 0
                else:
                    self._frames_since_consolidation += frames
                # Renamed entities: refresh display names of open facts.
                if plan.names:
                    for fid, f in list(self._open.items()):
                        if f.subject in plan.names or f.object in plan.names:
                            self._open[fid] = replace(
                                f, subject_name=self.display(f.subject), object_name=self.display(f.object)
                            )

        ch.then(apply)

    # -- perception ---------------------------------------------------------------------
    def update(self, frame: Frame) -> Changes:
        ch = Changes()
        t = frame.stamp
        plan = _Plan(newest=t)
        ref = f"frame:{frame.index}"
        for d in frame.detections:
            ent = f"object:{d.object_id}"
            self._name_entity(plan, ch, ent, "object", f"{d.label} #{d.object_id}", d.label)
            plan.objects_seen[d.object_id] = t
            if d.place is not None:
                place = f"place:{d.place}"
                self._ensure_named(plan, ch, place, d.place)
                what = "re-identified" if d.reidentified else "seen"
                self.observe_fact(
                    plan,
                    ch,
                    ent,
                    "located_in",
                    place,
                    float(d.segment.score),
                    t,
                    "perception",
                    ("frame", ref, f"{d.label} #{d.object_id} {what} in the {d.place} (score {d.segment.score:.2f})"),
                    latest_only=True,
                    functional=True,
                )
        for a in frame.absences:
            ent = f"object:{a.object_id}"
            for f in self._open_for(plan, ent, "located_in"):
                if a.place is None or f.object == f"place:{a.place}":
                    self._close(
                        plan,
                        ch,
                        f,
                        t,
                        f"observed absent from the {a.place or 'remembered place'} (frame {frame.index})",
                        "INVALIDATE",
                        (
                            "frame",
                            ref,
                            f"{a.label} #{a.object_id} not at its remembered place"
                            f" (seen through {a.visible_fraction:.0%})",
                        ),
                    )
            for f in self._open_for(plan, ent, "on") + self._open_for(plan, ent, "in"):
                self._close(
                    plan,
                    ch,
                    f,
                    t,
                    f"observed absent (frame {frame.index})",
                    "INVALIDATE",
                    ("frame", ref, f"{a.label} #{a.object_id} not at its remembered place"),
                )
        cfg = self.config.semantic
        if cfg.consolidate_every > 0 and self._frames_since_consolidation + 1 >= cfg.consolidate_every:
            self._consolidate(plan, ch, t)
            plan.consolidated = True
        self._commit_plan(plan, ch, frames=1)
        return ch

    # -- events -------------------------------------------------------------------------
    def on_event(self, event: Event) -> Changes:
        ch = Changes()
        kind = event.kind.strip().lower()
        t = event.stamp
        plan = _Plan(newest=t)
        ref = f"event:{t:.3f}:{kind}"
        if kind == "fact":
            parsed = parse_fact_text(event.text)
            if parsed is None:
                raise ValueError(
                    f"Event(kind='fact').text: expected 'subject | predicate | object [| confidence | false]', "
                    f"got {event.text!r}"
                )
            s, p, o, conf, retract = parsed
            self._assert(
                plan,
                ch,
                s,
                p,
                o,
                self.config.semantic.asserted_confidence if conf is None else conf,
                t,
                "event",
                ("event", ref, f"fact: {event.text}"),
                retract,
            )
        elif kind in ("instruction", "goal", "utterance", "say", "said", "note", "statement", "language"):
            stmt = parse_statement(event.text)
            if stmt is not None:
                s, p, o, neg = stmt
                self._assert(
                    plan,
                    ch,
                    s,
                    p,
                    o,
                    self.config.semantic.parsed_confidence,
                    t,
                    "instruction",
                    ("event", ref, f"{kind}: {event.text}"),
                    neg,
                )
        self._commit_plan(plan, ch)
        return ch

    def _assert(
        self,
        plan: _Plan,
        ch: Changes,
        s: str,
        p: str,
        o: str,
        conf: float,
        t: float,
        source: str,
        evidence: tuple[str, str, str],
        retract: bool,
    ) -> str:
        subj = self.resolve(s, plan, create=True)
        obj = self.resolve(o, plan, create=True)
        assert subj is not None and obj is not None
        if p == "in" and obj.startswith("place:"):
            p = "located_in"
        self._ensure_named(plan, ch, subj, s)
        self._ensure_named(plan, ch, obj, o)
        if retract:
            ops = 0
            for f in self._open_for(plan, subj, p):
                if f.object == obj or (p == "located_in" and not obj.startswith("place:")):
                    self._close(plan, ch, f, t, f"retracted ({evidence[2]})", "INVALIDATE", evidence)
                    ops += 1
            if not ops:
                plan.ops.append(("NOOP", 0))
            return "INVALIDATE" if ops else "NOOP"
        return self.observe_fact(plan, ch, subj, p, obj, conf, t, source, evidence)

    # -- consolidation --------------------------------------------------------------------
    def consolidate(self, now: float | None = None) -> Changes:
        """Plan a consolidation pass now (usually_in, often_fails, on/in from geometry)."""
        ch = Changes()
        plan = _Plan()
        t = self.newest_stamp if now is None else float(now)
        self._consolidate(plan, ch, t)
        plan.consolidated = True
        self._commit_plan(plan, ch)
        return ch

    def _consolidate(self, plan: _Plan, ch: Changes, t: float) -> None:
        self._consolidate_usually(plan, ch, t)
        self._consolidate_failures(plan, ch, t)
        if self.config.semantic.scene_relations:
            self._consolidate_relations(plan, ch, t)

    def _set_derived(
        self,
        plan: _Plan,
        ch: Changes,
        subject: str,
        predicate: str,
        obj: str,
        share: float,
        count: int,
        t: float,
        detail: str,
        functional: bool,
        source: str = "consolidation",
        refs: tuple[str, ...] = (),
        valid_from: float | None = None,
    ) -> None:
        """A derived fact's value is recomputed from all evidence each pass: set it, do not accumulate."""
        kind = "scene_graph" if source == "scene_graph" else "consolidation"
        current = self._open_for(plan, subject, predicate)
        same = [f for f in current if f.object == obj]
        if same:
            f = same[0]
            if f.count != count or abs(f.confidence - share) > 1e-6:
                new = replace(f, confidence=share, count=count, last_evidence=max(f.last_evidence, t))
                ch.sql(
                    "UPDATE facts SET confidence=?, count=?, last_evidence=? WHERE id=?",
                    (new.confidence, new.count, new.last_evidence, f.fact_id),
                )
                ch.sql(
                    "UPDATE fact_evidence SET detail=?, stamp=? WHERE fact_id=? AND role='first'",
                    (detail[:500], t, f.fact_id),
                )
                plan.open[f.fact_id] = new
            plan.ops.append(("NOOP", f.fact_id))
            return
        new_id = self._next_fact
        if functional:
            for f in current:
                self._close(plan, ch, f, t, f"superseded by fact #{new_id} ({detail})", None, (kind, kind, detail))
        f = self._add(
            plan,
            ch,
            subject,
            predicate,
            obj,
            share,
            t,
            source,
            (kind, kind, detail),
            count=count,
            valid_from=valid_from,
        )
        for r in refs[:MAX_SUPPORT_ROWS]:
            self._evidence(ch, f.fact_id, "support", r.split(":", 1)[0], r, t, detail)
        plan.ops.append(("UPDATE" if functional and current else "ADD", f.fact_id))

    def _retire(
        self, plan: _Plan, ch: Changes, predicate: str, keep: set[str], t: float, reason: str, subject_prefix: str
    ) -> None:
        with self._lock:
            ids = [
                i
                for (s, p), fids in self._by_sp.items()
                if p == predicate and s.startswith(subject_prefix)
                for i in fids
            ]
        for fid in ids:
            f = plan.open[fid] if fid in plan.open else self._open.get(fid)
            if f is not None and f"{f.subject}|{f.object}" not in keep and f.source in ("consolidation", "scene_graph"):
                self._close(plan, ch, f, t, reason, "INVALIDATE", ("consolidation", "consolidation", reason))

    def _consolidate_usually(self, plan: _Plan, ch: Changes, t: float) -> None:
        cfg = self.config.semantic
        conn = self.store.read()
        rows = conn.execute(
            # "usually" needs repeated evidence over time, not many frames of one look: count visits
            # (distinct half-hour windows with a sighting), so one tour never makes a habit
            "SELECT s.object_id, s.place, COUNT(DISTINCT CAST(s.t_start / ? AS INTEGER)), MIN(s.t_start), o.label"
            " FROM sightings s JOIN objects o ON o.id = s.object_id WHERE s.place IS NOT NULL"
            " GROUP BY s.object_id, s.place",
            (cfg.visit_window_s,),
        ).fetchall()
        per_obj: dict[str, dict[str, tuple[int, float]]] = defaultdict(dict)
        per_class: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(lambda: [0, math.inf]))
        for oid, place, n, t0, label in rows:
            per_obj[f"object:{oid}"][place] = (int(n), float(t0))
            acc = per_class[f"class:{label}"][place]
            acc[0] += int(n)
            acc[1] = min(acc[1], float(t0))
        keep: set[str] = set()
        for groups, is_class in ((per_obj, False), (per_class, True)):
            for subject, by_place in groups.items():
                total = sum(int(v[0]) for v in by_place.values())
                place, (n, t0) = max(by_place.items(), key=lambda kv: (kv[1][0], kv[0]))
                share = n / total if total else 0.0
                if total < cfg.usually_min_count or share < cfg.usually_min_share:
                    continue
                obj = f"place:{place}"
                self._ensure_named(plan, ch, obj, place)
                if is_class:
                    self._ensure_named(plan, ch, subject, subject)
                detail = f"{int(n)} of {total} visits in the {place}"
                self._set_derived(
                    plan, ch, subject, "usually_in", obj, round(share, 4), int(n), t, detail, True, valid_from=float(t0)
                )
                keep.add(f"{subject}|{obj}")
        self._retire(plan, ch, "usually_in", keep, t, "sightings no longer mostly in one place", "")

    def _consolidate_failures(self, plan: _Plan, ch: Changes, t: float) -> None:
        cfg = self.config.semantic
        conn = self.store.read()
        tally: dict[tuple[str, str], list[Any]] = defaultdict(lambda: [0, 0, [], math.inf])
        seen_in_episode: set[tuple[int, str, str]] = set()

        def count(va: tuple[str, str], success: Any, ref: str, stamp: float) -> None:
            acc = tally[va]
            acc[1] += 1
            if not success:
                acc[0] += 1
                acc[2].append(ref)
                acc[3] = min(acc[3], stamp)

        for sid, eid, action, success, stamp in conn.execute(
            "SELECT id, episode_id, action, success, stamp FROM steps WHERE action != '' AND success IS NOT NULL"
        ):
            va = _verb_target(action)
            if va is not None:
                count(va, success, f"step:{sid}", stamp)
                seen_in_episode.add((eid, *va))
        for eid, task, success, t_end in conn.execute(
            "SELECT id, task, success, t_end FROM episodes WHERE kind='task' AND success IS NOT NULL"
        ):
            va = _verb_target(task)
            if va is not None and (eid, *va) not in seen_in_episode:  # an episode's own steps already count
                count(va, success, f"episode:{eid}", t_end)
        keep: set[str] = set()
        for (verb, target), (n_fail, n_total, refs, t0) in tally.items():
            if n_fail < cfg.often_fails_min_count or n_fail / n_total < cfg.often_fails_min_share:
                continue
            subj = self.resolve(target, plan, create=True)
            assert subj is not None
            self._ensure_named(plan, ch, subj, target)
            obj = f"entity:{slug(verb)}"
            self._ensure_named(plan, ch, obj, verb)
            detail = f"{n_fail} of {n_total} attempts to {verb} {target} failed"
            self._set_derived(
                plan,
                ch,
                subj,
                "often_fails",
                obj,
                round(n_fail / n_total, 4),
                n_fail,
                t,
                detail,
                False,
                refs=tuple(refs[-MAX_SUPPORT_ROWS:]),
                valid_from=float(t0),
            )
            keep.add(f"{subj}|{obj}")
        self._retire(plan, ch, "often_fails", keep, t, "no longer fails often", "")

    def _consolidate_relations(self, plan: _Plan, ch: Changes, t: float) -> None:
        from robomem.submodules.spatial.memory import ObjectRecord

        conn = self.store.read()
        recs = []
        for row in conn.execute(
            "SELECT id, label, cx, cy, cz, minx, miny, minz, maxx, maxy, maxz, n_obs, first_seen, last_seen, place,"
            " status FROM objects WHERE status != 'absent'"
        ):
            recs.append(
                ObjectRecord(
                    row[0],
                    row[1],
                    {row[1]: 1.0},
                    tuple(row[2:5]),
                    tuple(row[5:8]),  # type: ignore[arg-type]
                    tuple(row[8:11]),
                    row[11],
                    row[12],
                    row[13],
                    row[14],
                    row[15],
                )
            )
        if len(recs) > 2000:
            return  # too many for a cheap pass; relations stay as they were
        keep: set[str] = set()
        if recs:
            mins = np.array([r.bbox_min for r in recs])
            maxs = np.array([r.bbox_max for r in recs])
            near = self.config.spatial.near_distance
            for i, a in enumerate(recs):
                # Candidates whose xy box overlaps a's (on/in need that).
                ov = np.flatnonzero(
                    (mins[:, 0] <= maxs[i, 0])
                    & (maxs[:, 0] >= mins[i, 0])
                    & (mins[:, 1] <= maxs[i, 1])
                    & (maxs[:, 1] >= mins[i, 1])
                )
                best: tuple[str, float, int] | None = None
                for j in ov.tolist():
                    if j == i:
                        continue
                    r = pair_relation(a, recs[j], near)
                    if r in ("on", "in"):
                        vol = float(np.prod(np.maximum(maxs[j] - mins[j], 1e-3)))
                        cand = (r, vol, recs[j].object_id)
                        if best is None or (cand[0] == "on", -cand[1]) > (best[0] == "on", -best[1]):
                            best = cand
                if best is None:
                    continue
                subj, obj = f"object:{a.object_id}", f"object:{best[2]}"
                detail = f"{a.label} #{a.object_id} {best[0]} {self.display(obj, plan)} (geometry)"
                self._set_derived(plan, ch, subj, best[0], obj, 0.8, 1, t, detail, True, source="scene_graph")
                keep.add(f"{subj}|{obj}")
        for pred in ("on", "in"):
            self._retire(plan, ch, pred, keep, t, "geometry no longer shows it", "object:")

    # -- queries ------------------------------------------------------------------------
    def facts(
        self,
        entity: str | int | None = None,
        predicate: str | None = None,
        as_of: float | None = None,
        known_at: float | None = None,
        include_closed: bool = False,
    ) -> list[Fact]:
        """Facts about an entity (as subject or object); valid now, or valid at ``as_of``.

        ``known_at``: only what memory had recorded (and not yet expired) at that time (record time);
        ``include_closed``: every version, open and closed.  An unknown entity gives [].
        """
        clauses: list[str] = []
        params: list[Any] = []
        if entity is not None:
            ent = self.resolve(entity)
            if ent is None:
                return []
            clauses.append("(subject=? OR object=?)")
            params += [ent, ent]
        if predicate is not None:
            clauses.append("predicate=?")
            params.append(predicate)
        if as_of is not None:
            clauses.append("valid_from<=? AND (valid_to IS NULL OR valid_to>?)")
            params += [float(as_of), float(as_of)]
        elif not include_closed and known_at is None:
            clauses.append("valid_to IS NULL")
        if known_at is not None:
            clauses.append("recorded_at<=? AND (expired_at IS NULL OR expired_at>?)")
            params += [float(known_at), float(known_at)]
        where = (" WHERE " + " AND ".join(clauses)) if clauses else ""
        rows = self.store.read().execute(_FACT_COLS + where + " ORDER BY valid_from, id", params).fetchall()
        with self._lock:
            return [self._fact(r) for r in rows]

    def fact(self, fact_id: int) -> Fact | None:
        r = self.store.read().execute(_FACT_COLS + " WHERE id=?", (int(fact_id),)).fetchone()
        with self._lock:
            return self._fact(r) if r else None

    def where_is(self, entity: str | int, as_of: float | None = None) -> Fact | None:
        """The located_in fact valid now (or at ``as_of``); None when memory does not know."""
        fs = self.facts(entity, "located_in", as_of=as_of)
        ent = self.resolve(entity)
        fs = [f for f in fs if f.subject == ent]
        return max(fs, key=lambda f: (f.valid_from, f.fact_id)) if fs else None

    def history(self, subject: str | int, predicate: str | None = None, obj: str | None = None) -> list[Fact]:
        """Every version of the subject's facts (open and closed), oldest first."""
        ent = self.resolve(subject)
        if ent is None:
            return []
        fs = [f for f in self.facts(ent, predicate, include_closed=True) if f.subject == ent]
        if obj is not None:
            o = self.resolve(obj)
            fs = [f for f in fs if f.object == o]
        return fs

    def why(self, fact_id: int) -> Explanation:
        """The evidence chain of a fact: evidence rows, the sightings and frames behind them, events, episodes."""
        f = self.fact(fact_id)
        if f is None:
            raise ValueError(f"why: no fact {fact_id}")
        conn = self.store.read()
        ev = tuple(
            Evidence(*r)
            for r in conn.execute(
                "SELECT id, fact_id, role, kind, ref, stamp, detail FROM fact_evidence WHERE fact_id=? ORDER BY stamp, id",
                (f.fact_id,),
            )
        )
        frames = {int(e.ref.split(":")[1]) for e in ev if e.ref.startswith("frame:")}
        sightings: list[tuple[int, float, float, int, str | None]] = []
        if f.predicate in ("located_in", "usually_in") and f.object.startswith("place:"):
            place = f.object.split(":", 1)[1]
            hi = f.valid_to if f.valid_to is not None else math.inf
            if f.subject.startswith("object:"):
                q = (
                    "SELECT id, t_start, t_end, n, place FROM sightings WHERE object_id=? AND place=?"
                    " AND t_end>=? AND t_start<=? ORDER BY t_start LIMIT 200"
                )
                params: tuple[Any, ...] = (
                    int(f.subject.split(":")[1]),
                    place,
                    f.valid_from if f.predicate == "located_in" else -math.inf,
                    hi,
                )
            else:
                q = (
                    "SELECT s.id, s.t_start, s.t_end, s.n, s.place FROM sightings s JOIN objects o ON o.id=s.object_id"
                    " WHERE o.label=? AND s.place=? ORDER BY s.t_start LIMIT 200"
                )
                params = (f.subject.split(":", 1)[1], place)
            sightings = [tuple(r) for r in conn.execute(q, params)]  # type: ignore[misc]
            stamps = sorted({s[1] for s in sightings} | {s[2] for s in sightings})[:200]
            if stamps:
                marks = ",".join("?" * len(stamps))
                frames |= {r[0] for r in conn.execute(f"SELECT idx FROM frames WHERE stamp IN ({marks})", stamps)}
        events = tuple(f"t={e.stamp:.1f} {e.detail}" for e in ev if e.kind == "event")
        episodes = tuple(sorted({int(e.ref.split(":")[1]) for e in ev if e.ref.startswith("episode:")}))
        if any(e.ref.startswith("step:") for e in ev):
            sids = [int(e.ref.split(":")[1]) for e in ev if e.ref.startswith("step:")]
            marks = ",".join("?" * len(sids))
            episodes = tuple(
                sorted(
                    set(episodes)
                    | {r[0] for r in conn.execute(f"SELECT DISTINCT episode_id FROM steps WHERE id IN ({marks})", sids)}
                )
            )
        nxt = None
        if f.reason and f.reason.startswith("superseded by fact #"):
            m = re.match(r"superseded by fact #(\d+)", f.reason)
            nxt = int(m.group(1)) if m else None
        return Explanation(f, ev, tuple(sightings), tuple(sorted(frames)), events, episodes, nxt)

    # -- search ---------------------------------------------------------------------------
    def _importance(self, f: Fact) -> float:
        base = {"consolidation": 0.8, "event": 0.9, "instruction": 0.7, "perception": 0.6, "scene_graph": 0.4}.get(
            f.source, 0.5
        )
        return float(min(1.0, base + 0.1 * math.log1p(f.retrieved)))

    def search(self, query: Query, now: float) -> list[Entry]:
        if not query.wants("fact"):
            return []
        rcfg = self.config.retrieval
        conn = self.store.read()
        if query.time is None:
            now = max(now, self.newest_stamp)  # events (facts told) can be newer than the newest frame
        if query.since is not None:
            hi = query.until if query.until is not None else now
            rows = conn.execute(
                _FACT_COLS + " WHERE valid_from<=? AND (valid_to IS NULL OR valid_to>?)", (hi, query.since)
            ).fetchall()
        else:
            rows = conn.execute(
                _FACT_COLS + " WHERE valid_from<=? AND (valid_to IS NULL OR valid_to>?)", (now, now)
            ).fetchall()
        with self._lock:
            cands = [self._fact(r) for r in rows]
        if query.object_ids:
            wanted = {f"object:{i}" for i in query.object_ids}
            cands = [f for f in cands if f.subject in wanted or f.object in wanted]
        if query.label is not None:
            cands = [
                f for f in cands if _label_of(f.subject_name) == query.label or _label_of(f.object_name) == query.label
            ]
        if not cands:
            return []
        text = query.search_text
        if text:
            names = sorted({_label_of(f.subject_name) for f in cands} | {_label_of(f.object_name) for f in cands})
            by_name = dict(zip(names, text_relevance(self.ctx.embedder, text, names).tolist(), strict=True))
            stems = {w[:5] for w in words(text) if len(w) > 2}
            cued = {p for w in words(text) for p in _CUES.get(w, ())}
            rel = []
            for f in cands:
                # Names say which entity; the predicate (or a question word cueing it) says which fact about it.
                r = 0.8 * max(by_name[_label_of(f.subject_name)], 0.85 * by_name[_label_of(f.object_name)])
                pw = {w[:5] for w in words(f.predicate.replace("_", " ")) if len(w) > 2}
                if f.predicate in cued or pw & stems:
                    r += 0.2
                rel.append(r)
            # The full sentence, for what names alone miss ("who owns the cup?"): only the best few.
            order = sorted(range(len(cands)), key=lambda i: (-rel[i], -cands[i].last_evidence))[:MAX_SEARCH_FACTS]
            sent = [_sentence(cands[i]) for i in order]
            vecs = self.ctx.embedder.embed([text, *sent])
            sims = np.clip(vecs[1:] @ vecs[0], 0.0, 1.0)
            for j, i in enumerate(order):
                rel[i] = max(rel[i], float(sims[j]))
            keep = [i for i in order if rel[i] >= rcfg.min_relevance or query.object_ids or query.label]
        else:
            rel = [1.0] * len(cands)
            keep = sorted(range(len(cands)), key=lambda i: -cands[i].last_evidence)
        out = []
        for i in keep[: max(query.k * 3, 10)]:
            f = cands[i]
            ev = conn.execute(
                "SELECT ref FROM fact_evidence WHERE fact_id=? ORDER BY stamp DESC, id DESC LIMIT 5", (f.fact_id,)
            ).fetchall()
            until = "now" if f.valid_to is None else f"t={f.valid_to:.1f}s"
            place = f.object.split(":", 1)[1] if f.object.startswith("place:") else None
            oids = tuple(int(e.split(":")[1]) for e in (f.subject, f.object) if e.startswith("object:"))
            out.append(
                Entry(
                    key=f"fact:{f.fact_id}",
                    kind="fact",
                    source=self.name,
                    text=f"{f.text} (valid t={f.valid_from:.1f}s..{until}, confidence {f.confidence:.2f}, "
                    f"{f.count} evidence, {f.source})",
                    stamp=f.last_evidence,
                    place=place,
                    object_ids=oids,
                    provenance=tuple(dict.fromkeys(r[0] for r in ev)),
                    parts={
                        "relevance": float(rel[i]),
                        "recency": recency(f.last_evidence, now, rcfg.recency_tau),
                        "confidence": float(f.confidence) * (1.0 if f.valid_at(now) else 0.5),
                        "importance": self._importance(f),
                    },
                    data=f.to_dict(),
                )
            )
        return out

    def mark_retrieved(self, fact_ids: list[int]) -> Changes:
        ch = Changes()
        for fid in fact_ids:
            ch.sql("UPDATE facts SET retrieved = retrieved + 1 WHERE id=?", (int(fid),))
        ids = [int(i) for i in fact_ids]

        def apply() -> None:
            with self._lock:
                for fid in ids:
                    f = self._open.get(fid)
                    if f is not None:
                        self._open[fid] = replace(f, retrieved=f.retrieved + 1)

        ch.then(apply)
        return ch

    def open_facts(self) -> list[Fact]:
        with self._lock:
            return sorted(self._open.values(), key=lambda f: f.fact_id)

    # -- forgetting -----------------------------------------------------------------------
    def plan_forget(
        self, max_facts: int, now: float, keep_recent_s: float, target_fraction: float = 0.8
    ) -> tuple[Changes, dict[str, int]]:
        """Past the budget: delete *closed* facts (never a still-valid one), least valuable first.

        Order: scene-graph and perception facts before asserted and consolidated ones, then least
        retrieved, then longest closed.  Facts closed within ``keep_recent_s`` stay.
        """
        ch = Changes()
        conn = self.store.read()
        n = int(conn.execute("SELECT COUNT(*) FROM facts").fetchone()[0])
        report = {"facts_dropped": 0}
        if n <= max_facts:
            return ch, report
        excess = n - int(max_facts * target_fraction)
        rank = "CASE source WHEN 'scene_graph' THEN 0 WHEN 'perception' THEN 1 WHEN 'instruction' THEN 2 ELSE 3 END"
        ids = [
            r[0]
            for r in conn.execute(
                f"SELECT id FROM facts WHERE valid_to IS NOT NULL AND valid_to < ? ORDER BY {rank}, retrieved, valid_to"
                " LIMIT ?",
                (now - keep_recent_s, excess),
            )
        ]
        for i in range(0, len(ids), 500):
            chunk = ids[i : i + 500]
            marks = ",".join("?" * len(chunk))
            ch.sql(f"DELETE FROM fact_evidence WHERE fact_id IN ({marks})", tuple(chunk))
            ch.sql(f"DELETE FROM facts WHERE id IN ({marks})", tuple(chunk))
        report["facts_dropped"] = len(ids)
        return ch, report


# Question words that point at a predicate ("where is …" asks for a location).
_CUES: dict[str, tuple[str, ...]] = {
    "where": ("located_in", "usually_in", "on", "in"),
    "located": ("located_in",),
    "location": ("located_in",),
    "put": ("located_in", "on", "in"),
    "who": ("belongs_to",),
    "whose": ("belongs_to",),
    "owns": ("belongs_to",),
    "owner": ("belongs_to",),
    "usually": ("usually_in",),
    "normally": ("usually_in",),
    "typically": ("usually_in",),
    "fail": ("often_fails",),
    "fails": ("often_fails",),
    "failed": ("often_fails",),
    "problem": ("often_fails",),
    "what": ("is_a", "state"),
    "state": ("state",),
}

_FACT_COLS = (
    "SELECT id, subject, predicate, object, confidence, source, valid_from, valid_to, recorded_at, expired_at, count,"
    " last_evidence, reason, retrieved FROM facts"
)


def _label_of(name: str) -> str:
    return re.sub(r"\s*#\d+$", "", name).replace(" (any)", "")


def _sentence(f: Fact) -> str:
    return f"{_label_of(f.subject_name)} {f.predicate.replace('_', ' ')} {_label_of(f.object_name)}"


def _verb_target(action: str) -> tuple[str, str] | None:
    """ "open drawer_2" -> ("open", "drawer_2"); "pick up the red mug" -> ("pick up", "red mug")."""
    w = strip_articles(action.strip().lower()).split()
    if len(w) < 2:
        return None
    verb, rest = w[0], w[1:]
    if rest and rest[0] in ("up", "down", "out", "off", "on", "in") and len(rest) > 1:
        verb, rest = f"{verb} {rest[0]}", rest[1:]
    target = strip_articles(" ".join(rest))
    return (verb, target) if target else None
