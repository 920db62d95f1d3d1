"""The fleet memory as the question engine sees it: a read-only view over PostgreSQL.

:class:`FleetMemory` has the attributes :class:`robomem.qa.engine.QuestionEngine` reads from a local
:class:`~robomem.memory.Memory` (``spatial``, ``temporal``, ``places``, ``frames``, ``semantic``,
``newest_stamp``, ``embedder``, ``retrieve``), answered from the fleet schema (``robomem_fleet``) that
:mod:`robomem.fleet.sync` fills.  So the ONE engine answers fleet-wide and no verb is written twice:

- objects are ``fleet_objects`` (object id = ``fleet_id``); the current belief (place, status, which robot
  saw it last and when) is that table's row, resolved by valid time when the frames were applied;
- where-at and changes read ``fleet_history`` (every robot's sightings and observed absences, with valid
  time); the records carry ``robot`` so answers say which robot saw it;
- the name -> objects step is pushed into SQL (:meth:`FleetSpatial.objects_named`): only objects whose
  label distribution holds a literal form or a head-noun match of the name (or, failing those, a synonym
  of a fleet label) are loaded, and the one label rule (:func:`robomem.qa.labels.match_label`) decides
  among them.  A question never loads all fleet objects into Python (``objects()`` does, on request).
- there are no keyframes, no frame indexes, no place geometry, no episodes and no semantic facts in the
  fleet (empty answers); so :class:`robomem.planning.planner.Planner` over a FleetMemory proposes the
  remembered objects (wherever any robot saw them) and then explores.

The connection is read-only (``SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY``); any role that
may SELECT the schema can ask.  Errors name the server and database, never a password.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from robomem.config import MemoryConfig
from robomem.errors import FleetError
from robomem.fleet.url import connect, describe, redact, scrub
from robomem.qa.labels import narrow_by_name
from robomem.retrieval.query import Entry, Query, merge, recency, text_relevance
from robomem.submodules.spatial.objects import ObjectRecord
from robomem.submodules.temporal.memory import AbsenceRecord, Change, Sighting, Whereabouts

SCHEMA = "robomem_fleet"
_OBJ_COLS = (
    "fleet_id, label, labels, cx, cy, cz, bmin_x, bmin_y, bmin_z, bmax_x, bmax_y, bmax_z, n_obs,"
    " first_seen, last_seen, place, status, status_since, last_robot, status_robot"
)
Vec3 = tuple[float, float, float]


@dataclass(frozen=True)
class FleetSighting(Sighting):
    """A sighting in the fleet: which robot saw it (``robot``) and the evidence reference."""

    robot: str | None = None
    ref: str | None = None


@dataclass(frozen=True)
class FleetAbsence(AbsenceRecord):
    """An observed absence in the fleet: which robot looked (``robot``) and the evidence reference."""

    robot: str | None = None
    ref: str | None = None


@dataclass(frozen=True)
class FleetWhereabouts(Whereabouts):
    """Where-at in the fleet: ``robot`` is the robot whose evidence decides (the sighting's, or the absence's)."""

    robot: str | None = None


@dataclass(frozen=True)
class FleetChange(Change):
    """A change in the fleet: ``robot`` is the robot whose evidence shows it."""

    robot: str | None = None


@dataclass(frozen=True)
class RobotStatus:
    """One robot of the fleet: the newest frame applied (``last_seq``, ``last_stamp``) and when."""

    robot_id: str
    last_seq: int
    last_stamp: float | None
    synced_at: str | None


def _vec(a: Any, b: Any, c: Any) -> Vec3 | None:
    if a is None or b is None or c is None:
        return None
    return (float(a), float(b), float(c))


def _robot(w: Whereabouts) -> str | None:
    return getattr(w, "robot", None)


def _ref(kind: str, robot: str | None, stamp: float | None) -> str:
    return f"{kind}:{robot or '?'}@{float(stamp or 0.0):.3f}"


class _Conn:
    """One read-only libpq connection; every query goes through :meth:`rows` (errors become FleetError)."""

    def __init__(self, url: str, connect_timeout_s: float) -> None:
        import psycopg

        self.url = url
        self.where = describe(url)
        self.conn = connect(url, connect_timeout_s, autocommit=True)
        try:
            self.conn.execute("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY")
        except psycopg.Error as exc:
            self.conn.close()
            raise FleetError(f"fleet memory at {self.where}: {scrub(str(exc).strip(), url)}") from None
        self._error = psycopg.Error

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        try:
            return self.conn.execute(sql, params).fetchall()
        except self._error as exc:
            msg = scrub(str(exc).strip().replace("\n", " "), self.url)
            raise FleetError(f"fleet memory at {self.where}: query failed: {msg}") from None

    def close(self) -> None:
        self.conn.close()


class FleetSpatial:
    """Fleet objects as :class:`ObjectRecord` (object id = fleet id); a per-question cache serves ``get``."""

    def __init__(self, db: _Conn, view: FleetMemory) -> None:
        self.db = db
        self.view = view
        self._cache: dict[int, ObjectRecord] = {}
        self.extra: dict[int, tuple[str | None, str | None, float | None]] = {}  # last_robot, status_robot, since

    def _records(self, rows: Iterable[tuple[Any, ...]]) -> list[ObjectRecord]:
        out = []
        for r in rows:  # psycopg gives int, str, dict (jsonb) and float (double precision) already
            labels = r[2] if isinstance(r[2], dict) and r[2] else {r[1]: 1.0}
            rec = ObjectRecord(
                r[0], r[1], labels, r[3:6], r[6:9], r[9:12], r[12] or 0, r[13], r[14], r[15], r[16] or "present"
            )
            self._cache[rec.object_id] = rec
            self.extra[rec.object_id] = (r[18], r[19], None if r[17] is None else float(r[17]))
            out.append(rec)
        return out

    def _fresh(self) -> None:
        """A new question starts: forget the previous one's rows (the fleet changes while we ask)."""
        self._cache.clear()
        self.extra.clear()

    def objects(self) -> list[ObjectRecord]:
        """Every fleet object (a full read: for ``robomem query ... objects``; questions use objects_named)."""
        self._fresh()
        return self._records(self.db.rows(f"SELECT {_OBJ_COLS} FROM {SCHEMA}.fleet_objects ORDER BY fleet_id"))

    def count(self) -> int:
        return int(self.db.rows(f"SELECT count(*) FROM {SCHEMA}.fleet_objects")[0][0])

    def vocabulary(self) -> list[str]:
        """The distinct top labels in the fleet: a loose index scan (one probe of the label index per label)."""
        rows = self.db.rows(
            f"""WITH RECURSIVE t(label) AS (
                    (SELECT label FROM {SCHEMA}.fleet_objects ORDER BY label LIMIT 1)
                    UNION ALL
                    SELECT (SELECT o.label FROM {SCHEMA}.fleet_objects o WHERE o.label > t.label
                            ORDER BY o.label LIMIT 1)
                    FROM t WHERE t.label IS NOT NULL)
                SELECT label FROM t WHERE label IS NOT NULL"""
        )
        return [str(r[0]) for r in rows]

    def _with_labels(self, labels: Sequence[str]) -> list[ObjectRecord]:
        if not labels:
            return []
        return self._records(
            self.db.rows(
                f"SELECT {_OBJ_COLS} FROM {SCHEMA}.fleet_objects WHERE label = ANY(%s)"
                " OR (jsonb_typeof(labels) = 'object' AND labels ?| %s)",
                (list(labels), list(labels)),
            )
        )

    def objects_named(self, name: str) -> list[ObjectRecord]:
        """The fleet objects ``name`` may refer to: a superset of what the label rule picks, loaded by label.

        Literal tiers first (a label whose normalised form is the name, or whose head noun is the one-word
        name); only if the label rule finds nothing among those, the fleet labels the rule calls synonyms.
        """
        self._fresh()

        def with_labels(labels: Sequence[str]) -> list[ObjectRecord]:
            self._fresh()  # the synonym tier may have run the text model for a while
            return self._with_labels(labels)

        return narrow_by_name(name, self.vocabulary(), with_labels, self.view.embedder)

    def search(self, query: Query, now: float) -> list[Entry]:
        """Object entries for a text (labels scored by retrieval's text relevance >= 0.5), then recency."""
        if not query.text and not query.label:
            return []
        tops = self.vocabulary()
        if not tops:
            return []
        text = query.label or query.text or ""
        rel = dict(zip(tops, (float(v) for v in text_relevance(self.view.embedder, text, tops)), strict=True))
        wanted = [lab for lab, v in rel.items() if v >= 0.5]
        tau = self.view.config.retrieval.recency_tau
        entries = []
        for o in self._with_labels(wanted):
            robot = self.extra.get(o.object_id, (None, None, None))[0]
            where = f" in the {o.place}" if o.place else ""
            entries.append(
                Entry(
                    f"object:{o.object_id}",
                    "object",
                    "spatial",
                    f"{o.label} #{o.object_id}{where}, last seen t={o.last_seen:.1f}s by {robot or '?'}",
                    o.last_seen,
                    o.centroid,
                    o.place,
                    (o.object_id,),
                    parts={"relevance": rel.get(o.label, 0.0), "recency": recency(o.last_seen, now, tau)},
                    data={"label": o.label, "robot": robot, "status": o.status},
                )
            )
        return merge(entries, self.view.config.retrieval, query.k)

    def get(self, object_id: int) -> ObjectRecord | None:
        oid = int(object_id)
        if oid not in self._cache:
            self._records(self.db.rows(f"SELECT {_OBJ_COLS} FROM {SCHEMA}.fleet_objects WHERE fleet_id = %s", (oid,)))
        return self._cache.get(oid)

    def label_of(self, object_id: int) -> str:
        o = self.get(object_id)
        return o.label if o is not None else "object"

    def best_snapshots(self, object_id: int, n: int = 1) -> list[Any]:
        """The fleet keeps no keyframes (they stay in each robot's store)."""
        return []


class FleetTemporal:
    """Last seen / absence from the fleet's current belief; where-at and changes from ``fleet_history``."""

    def __init__(self, db: _Conn, spatial: FleetSpatial, config: MemoryConfig) -> None:
        self.db = db
        self.spatial = spatial
        self.moved_distance = float(config.temporal.moved_distance)

    def last_seen(self, object_id: int) -> FleetSighting | None:
        o = self.spatial.get(object_id)
        if o is None:
            return None
        robot = self.spatial.extra.get(o.object_id, (None, None, None))[0]
        return FleetSighting(
            o.object_id,
            o.last_seen,
            o.last_seen,
            1,
            o.centroid,
            o.place,
            0,
            robot,
            _ref("sighting", robot, o.last_seen),
        )

    def last_absence(self, object_id: int) -> FleetAbsence | None:
        """The absence that makes the fleet believe it gone (None while its status is present)."""
        o = self.spatial.get(object_id)
        if o is None or o.status != "absent":
            return None
        _, robot, since = self.spatial.extra.get(o.object_id, (None, None, None))
        stamp = since if since is not None else o.last_seen
        return FleetAbsence(o.object_id, stamp, o.centroid, o.place, 0, robot, _ref("absence", robot, stamp))

    def is_absent(self, object_id: int) -> bool:
        """The fleet's status: observed absent at its last place by some robot after every sighting."""
        o = self.spatial.get(object_id)
        return o is not None and o.status == "absent"

    def _reach(self, object_id: int) -> float:
        o = self.spatial.get(object_id)
        ext = math.dist(o.bbox_min, o.bbox_max) if o is not None else 0.0
        return max(self.moved_distance, ext)

    def where_many(self, ids: Sequence[int], t: float) -> dict[int, Whereabouts]:
        """Where each object was at time t: the newest sighting by any robot at or before t, unless a robot
        observed it absent there after that sighting (an absence elsewhere says nothing about here)."""
        ids = sorted({int(i) for i in ids})
        out: dict[int, Whereabouts] = {i: FleetWhereabouts(i, t, "unknown", None, None, None, ()) for i in ids}
        if not ids:
            return out
        seen = {
            int(r[0]): r
            for r in self.db.rows(
                f"SELECT DISTINCT ON (fleet_id) fleet_id, robot_id, stamp, cx, cy, cz, place FROM {SCHEMA}.fleet_history"
                " WHERE fleet_id = ANY(%s) AND kind = 'seen' AND stamp <= %s ORDER BY fleet_id, stamp DESC",
                (ids, t),
            )
        }
        if not seen:
            return out
        lo = min(float(r[2]) for r in seen.values())
        gone: dict[int, tuple[Any, ...]] = {}
        for r in self.db.rows(
            f"SELECT fleet_id, robot_id, stamp, cx, cy, cz, place FROM {SCHEMA}.fleet_history"
            " WHERE fleet_id = ANY(%s) AND kind = 'absent' AND stamp > %s AND stamp <= %s ORDER BY stamp",
            (sorted(seen), lo, t),
        ):
            i, s = int(r[0]), seen.get(int(r[0]))
            if i in gone or s is None or float(r[2]) <= float(s[2]):
                continue
            pa, ps = _vec(r[3], r[4], r[5]), _vec(s[3], s[4], s[5])
            here = math.dist(pa, ps) <= self._reach(i) if pa is not None and ps is not None else r[6] == s[6]
            if here:
                gone[i] = r
        for i, s in seen.items():
            pos, sref = _vec(s[3], s[4], s[5]), _ref("sighting", s[1], s[2])
            if i in gone:
                a = gone[i]
                ev = (sref, _ref("absence", a[1], a[2]))
                out[i] = FleetWhereabouts(i, t, "absent", pos, s[6], float(a[2]), ev, a[1])
            else:
                status = "seen" if float(s[2]) == t else "believed"
                out[i] = FleetWhereabouts(i, t, status, pos, s[6], float(s[2]), (sref,), s[1])
        return out

    def where_at(self, object_id: int, t: float) -> Whereabouts:
        return self.where_many([object_id], float(t))[int(object_id)]

    def changes(self, t1: float, t2: float, moved_distance: float | None = None) -> list[Change]:
        """What changed between t1 and t2 across the fleet: moved, appeared (first seen by any robot), disappeared."""
        if t2 < t1:
            raise ValueError(f"changes: t2 ({t2}) is before t1 ({t1})")
        thr = self.moved_distance if moved_distance is None else float(moved_distance)
        ids = [
            int(r[0])
            for r in self.db.rows(
                f"SELECT DISTINCT fleet_id FROM {SCHEMA}.fleet_history WHERE stamp > %s AND stamp <= %s", (t1, t2)
            )
        ]
        if not ids:
            return []
        self.spatial._records(
            self.db.rows(f"SELECT {_OBJ_COLS} FROM {SCHEMA}.fleet_objects WHERE fleet_id = ANY(%s)", (ids,))
        )
        first = {  # the first sighting by any robot: (stamp, robot)
            int(r[0]): (float(r[1]), str(r[2]))
            for r in self.db.rows(
                f"SELECT DISTINCT ON (fleet_id) fleet_id, stamp, robot_id FROM {SCHEMA}.fleet_history"
                " WHERE fleet_id = ANY(%s) AND kind = 'seen' ORDER BY fleet_id, stamp",
                (ids,),
            )
        }
        before, after = self.where_many(ids, t1), self.where_many(ids, t2)
        out: list[Change] = []
        for i in ids:
            b, a, (f, first_robot) = before[i], after[i], first.get(i, (None, None))
            if b.status == "unknown" and f is not None and t1 < f <= t2:
                out.append(FleetChange(i, "appeared", None, a.position, None, a.place, f, a.evidence, first_robot))
            elif a.status == "absent" and b.status in ("seen", "believed"):
                ev = b.evidence + a.evidence
                out.append(FleetChange(i, "disappeared", b.position, None, b.place, None, a.since or t2, ev, _robot(a)))
            elif b.position is not None and a.position is not None and a.status in ("seen", "believed"):
                o = self.spatial.get(i)
                extent = math.dist(o.bbox_min, o.bbox_max) if o is not None else 0.0
                if math.dist(a.position, b.position) > max(thr, 0.75 * extent):
                    ev = b.evidence + a.evidence
                    ch = FleetChange(i, "moved", b.position, a.position, b.place, a.place, a.since or t2, ev, _robot(a))
                    out.append(ch)
        return sorted(out, key=lambda c: (c.stamp, c.object_id))


class FleetPlaces:
    """Place names the fleet knows (those on its objects and its evidence); no place geometry.

    The rooms' boxes stay in each robot's store, so to the planner the fleet has no places (``len`` is 0,
    ``get`` is None): it proposes the remembered objects and then explores, and never ranks rooms it cannot
    draw."""

    def __init__(self, db: _Conn) -> None:
        self.db = db

    def __len__(self) -> int:
        return 0

    def get(self, name: str) -> None:
        return None

    def names(self) -> list[str]:
        rows = self.db.rows(
            f"SELECT DISTINCT place FROM {SCHEMA}.fleet_objects WHERE place IS NOT NULL"
            f" UNION SELECT DISTINCT place FROM {SCHEMA}.fleet_history WHERE place IS NOT NULL"
        )
        return sorted(str(r[0]) for r in rows)


class FleetFrames:
    """Frames stay indexed in each robot's own store; the fleet answers evidence without a frame index."""

    def index_at(self, stamp: float) -> int | None:
        return None


class NoFacts:
    """The fleet holds no semantic facts (they stay in each robot's store): every facts question is empty."""

    def facts(self, *args: Any, **kwargs: Any) -> list[Any]:
        return []

    def resolve(self, name: str) -> None:
        return None

    def where_is(self, object_id: int, *args: Any, **kwargs: Any) -> None:
        return None

    def search(self, query: Query, now: float) -> list[Entry]:
        return []


class NoEpisodes:
    """The fleet holds no episodes (they stay in each robot's store)."""

    def episodes(self, *args: Any, **kwargs: Any) -> list[Any]:
        return []

    def search(self, query: Query, now: float) -> list[Entry]:
        return []


class FleetMemory:
    """Read-only fleet memory for the question engine: ``QuestionEngine(FleetMemory.open(url))``."""

    def __init__(self, db: _Conn, config: MemoryConfig, embedder: Any) -> None:
        self.db = db
        self.config = config
        self.embedder = embedder
        self.path = redact(db.url)  # what front doors print as "the store" (no password)
        self.readonly = True
        self.spatial = FleetSpatial(db, self)
        self.temporal = FleetTemporal(db, self.spatial, config)
        self.places = FleetPlaces(db)
        self.frames = FleetFrames()
        self.semantic = NoFacts()
        self.episodic = NoEpisodes()
        self._closed = False

    @classmethod
    def open(
        cls, url: str, config: MemoryConfig | None = None, embedder: Any = None, connect_timeout_s: float | None = None
    ) -> FleetMemory:
        """Connect read-only to the fleet at ``url`` (``postgresql://role@host:port/db``; password from the URL,
        ``PGPASSWORD`` or ``~/.pgpass``).  FleetError (redacted) when it cannot connect or holds no fleet schema."""
        if not isinstance(url, str) or not url.startswith(("postgresql://", "postgres://")):
            raise FleetError(f"fleet url: expected postgresql://..., got {redact(str(url))!r}")
        cfg = config or MemoryConfig()
        if embedder is None:
            from robomem.qa.lazy import LazyEmbedder

            embedder = LazyEmbedder(cfg.embedder if cfg.embedder in ("auto", "minilm", "hash") else "auto")
        timeout = cfg.fleet.connect_timeout_s if connect_timeout_s is None else connect_timeout_s
        db = _Conn(url, timeout)
        try:
            ok = db.rows("SELECT to_regclass(%s)", (f"{SCHEMA}.fleet_objects",))[0][0]
        except FleetError:
            db.close()
            raise
        if ok is None:
            db.close()
            raise FleetError(
                f"fleet memory at {db.where}: no {SCHEMA} schema here (install it with robomem.fleet.schema)"
            )
        return cls(db, cfg, embedder)

    @property
    def newest_stamp(self) -> float:
        """The newest sensor stamp any robot's applied frames carry (0.0 for an empty fleet)."""
        r = self.db.rows(
            f"SELECT GREATEST((SELECT max(last_stamp) FROM {SCHEMA}.robots),"
            f" (SELECT max(last_seen) FROM {SCHEMA}.fleet_objects))"
        )
        return float(r[0][0]) if r and r[0][0] is not None else 0.0

    def robots(self) -> list[RobotStatus]:
        rows = self.db.rows(f"SELECT robot_id, last_seq, last_stamp, synced_at::text FROM {SCHEMA}.robots ORDER BY 1")
        return [RobotStatus(str(r[0]), int(r[1] or 0), None if r[2] is None else float(r[2]), r[3]) for r in rows]

    def objects(self) -> list[ObjectRecord]:
        return self.spatial.objects()

    def reading(self) -> contextlib.AbstractContextManager[None]:
        """What a Memory's read lock gives the planner; each fleet query reads its own snapshot."""
        return contextlib.nullcontext()

    def retrieve(self, query: Query | str) -> list[Entry]:
        """Fleet objects whose label the text names (relevance, recency): questions that fit no verb."""
        q = Query(text=query) if isinstance(query, str) else query
        if not isinstance(q, Query):
            raise ValueError(f"retrieve: expected a Query or a string, got {type(query).__name__}")
        return self.spatial.search(q, q.time if q.time is not None else self.newest_stamp)

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self.db.close()

    def __enter__(self) -> FleetMemory:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
