"""Temporal memory: every sighting and every observed absence, per object.

Answers *last seen* (time and place), *where was X at t*, *what changed
between t1 and t2* (moved, appeared, disappeared) with the evidence rows
behind each answer.  A sighting row covers an interval [t_start, t_end] with
a count ``n``: a fresh sighting is a row with t_start = t_end and n = 1, and
forgetting merges runs of sightings at the same place into one row, so
queries never need to know whether detail was compressed.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Mapping, Sequence
from dataclasses import astuple, dataclass, replace
from itertools import chain
from operator import itemgetter

import numpy as np

from robomem.errors import QueryError
from robomem.ingest.frame import Frame
from robomem.retrieval.query import Entry, Query, mth_largest, proximity, recency
from robomem.store.ids import next_id
from robomem.submodules.base import Changes, ForgetLimits, ObjectIndex, Submodule, SubmoduleContext
from robomem.submodules.temporal.forgetting import plan_absences, plan_sightings
from robomem.submodules.temporal.latest import CHUNK, EXACT, AbsenceRecord, Latest, Sighting, Vec3
from robomem.submodules.temporal.rows import Places

__all__ = ["AbsenceRecord", "Change", "PlaceVisits", "Sighting", "TemporalMemory", "Whereabouts"]


def _time(verb: str, name: str, t: object) -> float:
    """A time argument as a finite float, or a QueryError naming it (NaN compared false and answered wrongly)."""
    if isinstance(t, bool) or not isinstance(t, (int, float, np.integer, np.floating)) or not math.isfinite(float(t)):
        raise QueryError(f"{verb}: {name} must be a finite time in seconds, got {t!r}")
    return float(t)


@dataclass(frozen=True)
class PlaceVisits:
    """How often an object was seen in a place: distinct time windows with a sighting there (visits, not frames)."""

    object_id: int
    place: str
    visits: int
    first_seen: float  # the first sighting's start there


@dataclass(frozen=True)
class Whereabouts:
    """Where an object was at time t, and why memory believes it."""

    object_id: int
    time: float
    status: str  # "seen" (a sighting covers t), "believed" (last sighting before t), "absent", "unknown"
    position: Vec3 | None
    place: str | None
    since: float | None  # stamp of the evidence
    evidence: tuple[str, ...]


@dataclass(frozen=True)
class Change:
    object_id: int
    kind: str  # "moved" | "appeared" | "disappeared"
    before: Vec3 | None
    after: Vec3 | None
    place_before: str | None
    place_after: str | None
    stamp: float  # when the change was first observed
    evidence: tuple[str, ...]


def best_first_by(relevance: np.ndarray, t_end: np.ndarray, ids: np.ndarray, m: int) -> np.ndarray:
    """Positions of the ``m`` best by (relevance, end of the latest sighting, lower id), best first (a NaN
    relevance ranks last).  When there are many, only those that can be among the ``m`` are sorted: the
    more relevant than the ``m``-th, and of those as relevant as it (a goal's noun gives every colour of it
    the same relevance) the latest, every tie at either cut kept."""
    n = len(ids)
    if n <= 4 * m:
        return np.lexsort((ids, -t_end, -relevance))[:m]
    if np.isnan(relevance).any():
        relevance = np.where(np.isnan(relevance), -np.inf, relevance)
    r_cut = mth_largest(relevance, m)
    above = np.flatnonzero(relevance > r_cut)
    at = np.flatnonzero(relevance == r_cut)
    need = m - len(above)
    if len(at) > 4 * need:
        t_cut = -np.partition(-t_end[at], need - 1)[need - 1]
        at = at[t_end[at] >= t_cut]
    pick = np.concatenate([above, at])
    return pick[np.lexsort((ids[pick], -t_end[pick], -relevance[pick]))][:m]


class TemporalMemory(Submodule):
    name = "temporal"
    schema = (
        """CREATE TABLE IF NOT EXISTS sightings(
            id INTEGER PRIMARY KEY, object_id INTEGER NOT NULL, t_start REAL NOT NULL, t_end REAL NOT NULL,
            n INTEGER NOT NULL DEFAULT 1, x REAL, y REAL, z REAL, place TEXT, robot_id TEXT,
            extent REAL NOT NULL DEFAULT 0, reid INTEGER NOT NULL DEFAULT 0)""",
        "CREATE INDEX IF NOT EXISTS sightings_obj ON sightings(object_id, t_start)",
        "CREATE INDEX IF NOT EXISTS sightings_t ON sightings(t_start)",
        """CREATE TABLE IF NOT EXISTS absences(
            id INTEGER PRIMARY KEY, object_id INTEGER NOT NULL, stamp REAL NOT NULL,
            x REAL, y REAL, z REAL, place TEXT, robot_id TEXT)""",
        "CREATE INDEX IF NOT EXISTS absences_obj ON absences(object_id, stamp)",
        "CREATE INDEX IF NOT EXISTS absences_t ON absences(stamp)",
    )

    tables = ("sightings", "absences")

    def __init__(self, ctx: SubmoduleContext, objects: ObjectIndex) -> None:
        super().__init__(ctx)
        self.objects = objects  # spatial memory: it names the objects
        self._lock = threading.RLock()
        self._latest = Latest()  # every object's latest sighting and absence, as columns (latest.py)
        self._next_sighting = 1  # row ids, advanced only after a commit stored the rows
        self._next_absence = 1
        self._newest = 0.0
        self.forget_epoch = 0  # bumped when forgetting merged or dropped sighting rows

    def load(self, cached: Mapping[str, np.ndarray] | None = None) -> None:
        conn = self.store.read()
        with self._lock:
            latest = Latest()
            if cached is not None:
                latest.from_cache(cached)  # the columns the last close saved (the store is unchanged since)
            else:
                latest.read(conn)
            self._latest = latest
            self._next_sighting = next_id(conn, "sightings")
            self._next_absence = next_id(conn, "absences")
            self._newest = self._latest.newest()  # the newest row of any object is its latest

    def cache_arrays(self) -> dict[str, np.ndarray]:
        """The latest-row columns for the index cache (``load(cached)`` restores them)."""
        with self._lock:
            return self._latest.cache_arrays()

    def newest_stamp(self) -> float | None:
        with self._lock:
            return self._newest if (len(self._latest.seen) or len(self._latest.gone)) else None

    def label_of(self, object_id: int) -> str:
        """The object's label, as spatial memory has it (the one label rule)."""
        return self.objects.label_of(object_id) or "object"

    # -- update ---------------------------------------------------------------------
    def update(self, frame: Frame) -> Changes:
        ch = Changes()
        obs = frame.observation
        t = frame.stamp
        new_last: dict[int, Sighting] = {}  # the last detection of an object in the frame wins
        next_sighting, next_absence = self._next_sighting, self._next_absence  # taken at commit
        for d in frame.detections:
            pos = tuple(float(v) for v in d.centroid)
            extent = float(np.linalg.norm(d.segment.bbox_max - d.segment.bbox_min))
            rid = next_sighting
            next_sighting += 1
            ch.sql(
                "INSERT INTO sightings(id, object_id, t_start, t_end, n, x, y, z, place, robot_id, extent, reid)"
                " VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                (rid, d.object_id, t, t, 1, *pos, d.place, obs.robot_id, extent, int(d.reidentified)),
            )
            new_last[d.object_id] = Sighting(d.object_id, t, t, 1, pos, d.place, rid)  # type: ignore[arg-type]
        new_abs: dict[int, AbsenceRecord] = {}
        for a in frame.absences:
            rid = next_absence
            next_absence += 1
            ch.sql(
                "INSERT INTO absences(id, object_id, stamp, x, y, z, place, robot_id) VALUES (?,?,?,?,?,?,?,?)",
                (rid, a.object_id, t, *a.position, a.place, obs.robot_id),
            )
            new_abs[a.object_id] = AbsenceRecord(a.object_id, t, a.position, a.place, rid)

        def apply() -> None:
            with self._lock:
                latest = self._latest
                for s in new_last.values():
                    latest.put_sighting(s)
                for a in new_abs.values():
                    latest.put_absence(a)
                self._next_sighting = max(self._next_sighting, next_sighting)
                self._next_absence = max(self._next_absence, next_absence)
                self._newest = max(self._newest, t)

        ch.then(apply)
        return ch

    # -- query verbs ------------------------------------------------------------------
    def last_seen(self, object_id: int) -> Sighting | None:
        with self._lock:
            return self._latest.sighting(int(object_id))

    def last_absence(self, object_id: int) -> AbsenceRecord | None:
        with self._lock:
            return self._latest.absence(int(object_id))

    def is_absent(self, object_id: int) -> bool:
        """Observed absent at the place it was last seen (and not seen since)."""
        return self._absence_applies(self.last_seen(object_id), self.last_absence(object_id))

    def _absence_applies(self, s: Sighting | None, a: AbsenceRecord | None) -> bool:
        if a is None:
            return False
        if s is None:
            return True
        if a.stamp <= s.t_end:
            return False
        # an absence observed at an older place after the object was seen elsewhere says nothing about here
        return float(np.linalg.norm(np.subtract(a.position, s.position))) <= max(
            self.config.temporal.moved_distance, 1.0
        )

    def history(
        self, object_id: int, since: float | None = None, until: float | None = None
    ) -> list[Sighting | AbsenceRecord]:
        lo = -math.inf if since is None else since
        hi = math.inf if until is None else until
        conn = self.store.read()
        rows: list[Sighting | AbsenceRecord] = [
            Sighting(r[0], r[1], r[2], r[3], (r[4], r[5], r[6]), r[7], r[8])
            for r in conn.execute(
                "SELECT object_id, t_start, t_end, n, x, y, z, place, id FROM sightings"
                " WHERE object_id=? AND t_end>=? AND t_start<=? ORDER BY t_start",
                (int(object_id), lo, hi),
            )
        ]
        rows += [
            AbsenceRecord(r[0], r[1], (r[2], r[3], r[4]), r[5], r[6])
            for r in conn.execute(
                "SELECT object_id, stamp, x, y, z, place, id FROM absences WHERE object_id=? AND stamp>=? AND stamp<=?"
                " ORDER BY stamp",
                (int(object_id), lo, hi),
            )
        ]
        return sorted(rows, key=lambda r: r.t_start if isinstance(r, Sighting) else r.stamp)

    def where_at(self, object_id: int, t: float) -> Whereabouts:
        t = _time("where_at", "t", t)
        conn = self.store.read()
        r = conn.execute(
            "SELECT object_id, t_start, t_end, n, x, y, z, place, id, extent FROM sightings"
            " WHERE object_id=? AND t_start<=? ORDER BY t_end DESC LIMIT 1",
            (int(object_id), t),
        ).fetchone()
        if r is None:
            return Whereabouts(int(object_id), t, "unknown", None, None, None, ())
        s = Sighting(r[0], r[1], r[2], r[3], (r[4], r[5], r[6]), r[7], r[8])
        # An absence counts only where it was observed: at the place of this sighting (an absence at an
        # older place, recorded after the object was already seen elsewhere, says nothing about here).
        reach = max(self.config.temporal.moved_distance, float(r[9] or 0.0))
        a = None
        for row in conn.execute(
            "SELECT id, stamp, x, y, z FROM absences WHERE object_id=? AND stamp>? AND stamp<=? ORDER BY stamp",
            (int(object_id), s.t_end, t),
        ):
            if float(np.linalg.norm(np.subtract(row[2:5], s.position))) <= reach:
                a = row
                break
        if a is not None:
            return Whereabouts(
                s.object_id, t, "absent", s.position, s.place, a[1], (f"sighting:{s.row_id}", f"absence:{a[0]}")
            )
        status = "seen" if s.t_start <= t <= s.t_end else "believed"
        return Whereabouts(s.object_id, t, status, s.position, s.place, s.t_end, (f"sighting:{s.row_id}",))

    def objects_with_evidence(self, since: float, until: float) -> list[int]:
        conn = self.store.read()
        ids = {
            r[0]
            for r in conn.execute(
                "SELECT DISTINCT object_id FROM sightings WHERE t_end>? AND t_start<=?", (since, until)
            )
        }
        ids |= {
            r[0]
            for r in conn.execute("SELECT DISTINCT object_id FROM absences WHERE stamp>? AND stamp<=?", (since, until))
        }
        return sorted(ids)

    def visits(self, window_s: float, object_ids: Sequence[int] | None = None) -> list[PlaceVisits]:
        """Per object and place, the ``window_s``-long windows with a sighting there (for semantic ``usually_in``);
        all objects, or only ``object_ids``."""
        sql = "SELECT object_id, place, COUNT(DISTINCT CAST(t_start / ? AS INTEGER)), MIN(t_start) FROM sightings"
        ids = None if object_ids is None else sorted({int(i) for i in object_ids})
        parts = [None] if ids is None else [ids[i : i + 500] for i in range(0, len(ids), 500)]
        rows = []
        for part in parts:
            where = "" if part is None else f" AND object_id IN ({','.join('?' * len(part))})"
            rows += self.store.read().execute(
                f"{sql} WHERE place IS NOT NULL{where} GROUP BY object_id, place", (float(window_s), *(part or ()))
            )
        return [PlaceVisits(int(r[0]), str(r[1]), int(r[2]), float(r[3])) for r in rows]

    def visit_windows(self, window_s: float) -> tuple[np.ndarray, np.ndarray, list[str], np.ndarray, np.ndarray]:
        """Every sighting with a place as arrays (object id, place code into the names returned, window index as
        ``visits`` counts it, t_start): one plain scan, for a caller that groups them itself (semantic's visit
        tally).  The numbers of each chunk of rows go into one float64 row through one fromiter (latest.py)."""
        cur = self.store.read().execute("SELECT object_id, t_start, place FROM sightings WHERE place IS NOT NULL")
        places = Places()
        parts: list[np.ndarray] = []
        codes: list[np.ndarray] = []
        numbers, place = itemgetter(0, 1), itemgetter(2)
        while chunk := cur.fetchmany(CHUNK):
            parts.append(np.fromiter(chain.from_iterable(map(numbers, chunk)), np.float64, 2 * len(chunk)))
            codes.append(places.codes(list(map(place, chunk))))
        num = np.concatenate(parts).reshape(-1, 2) if parts else np.zeros((0, 2))
        oids = num[:, 0].astype(np.int64)
        if len(num) and float(np.abs(num[:, 0]).max()) >= EXACT:  # an id a float64 cannot hold: read them again
            oids = np.array([r[0] for r in self.store.read().execute(
                "SELECT object_id FROM sightings WHERE place IS NOT NULL")], np.int64)  # fmt: skip
        t_start = num[:, 1].copy()
        # CAST(t_start / window AS INTEGER) as SQL computes it (visits): one IEEE division, truncated toward zero,
        # and beyond the 64-bit range its end
        q = np.trunc(t_start / float(window_s))
        big, small = q >= 2.0**63, q <= -(2.0**63)
        windows = np.where(big | small, 0.0, q).astype(np.int64)
        windows[big], windows[small] = np.iinfo(np.int64).max, np.iinfo(np.int64).min
        pcodes = np.concatenate(codes).astype(np.int64) if codes else np.zeros(0, np.int64)
        return oids, pcodes, list(places.names), windows, t_start

    def sightings_in(
        self, object_ids: Sequence[int], place: str, since: float = -math.inf, until: float = math.inf, limit: int = 200
    ) -> list[Sighting]:
        """Sightings of these objects in ``place`` overlapping [since, until], oldest first, at most ``limit``."""
        ids = [int(i) for i in object_ids]
        conn = self.store.read()
        out: list[Sighting] = []
        for i in range(0, len(ids), 500):
            part = ids[i : i + 500]
            marks = ",".join("?" * len(part))
            out += [
                Sighting(r[0], r[1], r[2], r[3], (r[4], r[5], r[6]), r[7], r[8])
                for r in conn.execute(
                    "SELECT object_id, t_start, t_end, n, x, y, z, place, id FROM sightings"
                    f" WHERE object_id IN ({marks}) AND place=? AND t_end>=? AND t_start<=? ORDER BY t_start LIMIT ?",
                    (*part, place, since, until, limit),
                )
            ]
        return sorted(out, key=lambda s: (s.t_start, s.row_id))[:limit]

    def changes(self, t1: float, t2: float, moved_distance: float | None = None) -> list[Change]:
        """What changed between t1 and t2: objects moved, appeared (first seen) or disappeared."""
        t1, t2 = _time("changes", "t1", t1), _time("changes", "t2", t2)
        if t2 < t1:
            raise ValueError(f"changes: t2 ({t2}) is before t1 ({t1})")
        thr = self.config.temporal.moved_distance if moved_distance is None else moved_distance
        conn = self.store.read()
        out: list[Change] = []
        for oid in self.objects_with_evidence(t1, t2):
            before = self.where_at(oid, t1)
            after = self.where_at(oid, t2)
            first = conn.execute("SELECT MIN(t_start), MIN(id) FROM sightings WHERE object_id=?", (oid,)).fetchone()
            if before.status == "unknown" and first[0] is not None and t1 < first[0] <= t2:
                out.append(Change(oid, "appeared", None, after.position, None, after.place, first[0], after.evidence))
                continue
            if after.status == "absent" and before.status in ("seen", "believed"):
                out.append(
                    Change(
                        oid,
                        "disappeared",
                        before.position,
                        None,
                        before.place,
                        None,
                        after.since or t2,
                        before.evidence + after.evidence,
                    )
                )
                continue
            if before.position is not None and after.position is not None and after.status in ("seen", "believed"):
                # Partial views of a big object shift its centroid: a move must exceed the
                # object's own size, unless association re-identified it after an absence.
                reid = conn.execute(
                    "SELECT MAX(reid) FROM sightings WHERE object_id=? AND t_start>? AND t_start<=?", (oid, t1, t2)
                ).fetchone()[0]
                extent = conn.execute("SELECT MAX(extent) FROM sightings WHERE object_id=?", (oid,)).fetchone()[0]
                d = float(np.linalg.norm(np.subtract(after.position, before.position)))
                if reid or d > max(thr, 0.75 * float(extent or 0.0)):
                    out.append(
                        Change(
                            oid,
                            "moved",
                            before.position,
                            after.position,
                            before.place,
                            after.place,
                            after.since or t2,
                            before.evidence + after.evidence,
                        )
                    )
        return sorted(out, key=lambda c: (c.stamp, c.object_id))

    # -- search ---------------------------------------------------------------------
    def _ranked(self, query: Query) -> tuple[list[int], dict[int, float]]:
        """The ids of the best ``max(2 k, 10)`` objects with evidence here, by (relevance, latest sighting's end,
        lower id), and their relevance.  Spatial memory names the candidates by top label, the most relevant
        labels first (``ObjectIndex.labelled``): as many labels as hold enough objects with evidence, so the
        cost follows the best matches, not the memory; the ranking is that of every object with evidence."""
        m = max(query.k * 2, 10)
        enough = m
        while True:
            ids, relv, complete = self.objects.labelled(query, enough)
            with self._lock:
                seen, gone = self._latest.seen, self._latest.gone
                slot = seen.slots(ids)
                has = (slot >= 0) | (gone.slots(ids) >= 0)
                ids, relv, slot = ids[has], relv[has], slot[has]
                t_end = np.where(slot >= 0, seen.cols["t_end"][np.maximum(slot, 0)], 0.0)
            if complete or len(ids) >= m:
                break
            enough *= 4  # objects without evidence here filled the labels taken: take more labels
        idx = best_first_by(relv, t_end, ids, m)
        return ids[idx].tolist(), {int(ids[i]): float(relv[i]) for i in idx}

    def _relevance_of(self, query: Query, object_ids: set[int]) -> dict[int, float]:
        """Relevance of each of these objects that the query selects (its ids, its label, or a label relevant
        enough to its text): the objects whose changes it reports."""
        if query.object_ids:
            object_ids = object_ids & {int(o) for o in query.object_ids}
        if not object_ids:
            return {}
        ids, relv, _ = self.objects.labelled(replace(query, object_ids=tuple(sorted(object_ids))), None)
        if query.search_text and not (query.object_ids or query.label):
            keep = relv >= self.config.retrieval.min_relevance
            ids, relv = ids[keep], relv[keep]
        return {int(o): float(r) for o, r in zip(ids.tolist(), relv.tolist(), strict=True)}

    def search(self, query: Query, now: float) -> list[Entry]:
        if not (query.wants("sighting") or query.wants("absence") or query.wants("change")):
            return []
        rcfg = self.config.retrieval
        ranked_ids, rel = self._ranked(query) if query.wants("sighting") or query.wants("absence") else ([], {})
        out: list[Entry] = []
        for oid in ranked_ids:
            s = self.last_seen(oid)
            a = self.last_absence(oid)
            label = self.label_of(oid)
            if s is not None and query.wants("sighting"):
                where = f" in the {s.place}" if s.place else ""
                out.append(
                    Entry(
                        key=f"lastseen:{oid}",
                        kind="sighting",
                        source=self.name,
                        text=f"{label} #{oid} last seen at t={s.t_end:.1f}s at ({s.position[0]:.2f}, {s.position[1]:.2f},"
                        f" {s.position[2]:.2f}){where}",
                        stamp=s.t_end,
                        position=s.position,
                        place=s.place,
                        object_ids=(oid,),
                        provenance=(f"sighting:{s.row_id}",) if s.row_id else (),
                        parts={
                            "relevance": rel[oid],
                            "recency": recency(s.t_end, now, rcfg.recency_tau),
                            "confidence": 0.5 if self._absence_applies(s, a) else 1.0,
                            "distance": proximity(s.position, query.position, rcfg.distance_scale),
                        },
                        data={"t_start": s.t_start, "n": s.n},
                    )
                )
            if self._absence_applies(s, a) and query.wants("absence"):
                where = f" in the {a.place}" if a.place else ""
                out.append(
                    Entry(
                        key=f"absence:{oid}",
                        kind="absence",
                        source=self.name,
                        text=f"{label} #{oid} NOT found at its remembered place{where} at t={a.stamp:.1f}s",
                        stamp=a.stamp,
                        position=a.position,
                        place=a.place,
                        object_ids=(oid,),
                        provenance=(f"absence:{a.row_id}",) if a.row_id else (),
                        parts={
                            "relevance": rel[oid],
                            "recency": recency(a.stamp, now, rcfg.recency_tau),
                            "confidence": 1.0,
                            "importance": 1.0,
                        },
                    )
                )
        t2 = query.until if query.until is not None else now
        if query.since is not None and query.wants("change") and query.since <= t2:  # "since" after now: no changes
            changes = self.changes(query.since, t2)
            rel = self._relevance_of(query, {c.object_id for c in changes})  # of every relevant object
            for c in changes:
                if c.object_id not in rel:
                    continue
                label = self.label_of(c.object_id)
                text_line = {
                    "moved": f"{label} #{c.object_id} moved from {c.place_before or c.before} to {c.place_after or c.after}",
                    "appeared": f"{label} #{c.object_id} appeared in {c.place_after or c.after}",
                    "disappeared": f"{label} #{c.object_id} disappeared from {c.place_before or c.before}",
                }[c.kind]
                out.append(
                    Entry(
                        key=f"change:{c.object_id}:{c.kind}:{c.stamp}",
                        kind="change",
                        source=self.name,
                        text=f"{text_line} (t={c.stamp:.1f}s)",
                        stamp=c.stamp,
                        position=c.after or c.before,
                        place=c.place_after or c.place_before,
                        object_ids=(c.object_id,),
                        provenance=c.evidence,
                        parts={
                            "relevance": rel[c.object_id],
                            "recency": recency(c.stamp, now, rcfg.recency_tau),
                            "importance": 1.0,
                            "confidence": 1.0,
                        },
                        data={"change": c.kind},
                    )
                )
        return out

    # -- lifecycle --------------------------------------------------------------------
    def mark_reidentified(self, object_id: int) -> Changes:
        """Flag the object's first sighting as a re-identification (a merge found it had moved), so
        ``changes()`` reports *moved*.  Run before ``remap_object`` in the merge's transaction."""
        ch = Changes()
        ch.sql(
            "UPDATE sightings SET reid=1 WHERE id=(SELECT MIN(id) FROM sightings WHERE object_id=?)",
            (int(object_id),),
        )
        return ch

    def remap_object(self, drop: int, keep: int) -> Changes:
        ch = Changes()
        ch.sql("UPDATE sightings SET object_id=? WHERE object_id=?", (keep, drop))
        ch.sql("UPDATE absences SET object_id=? WHERE object_id=?", (keep, drop))

        def apply() -> None:
            with self._lock:
                latest = self._latest
                s_drop, s_keep = latest.sighting(drop), latest.sighting(keep)
                latest.seen.pop(drop)
                candidates = [s for s in (s_keep, s_drop) if s is not None]
                if candidates:
                    best = max(candidates, key=lambda s: (s.t_end, s.row_id))  # as load() picks
                    latest.put_sighting(Sighting(keep, *astuple(best)[1:]))
                a_drop, a_keep = latest.absence(drop), latest.absence(keep)
                latest.gone.pop(drop)
                gone = [a for a in (a_keep, a_drop) if a is not None]
                if gone:
                    best_a = max(gone, key=lambda a: (a.stamp, a.row_id))
                    latest.put_absence(AbsenceRecord(keep, *astuple(best_a)[1:]))

        ch.then(apply)
        return ch

    def forget(self, limits: ForgetLimits, now: float) -> tuple[Changes, dict[str, int]]:
        """Compress and drop sightings and absences past the budget (``temporal.forgetting``)."""
        b = limits.budget
        conn = self.store.read()
        with self._lock:
            latest_s = set(self._latest.seen.live("row").tolist())  # without building a record of every row
            latest_a = set(self._latest.gone.live("row").tolist())
        ch, report = plan_sightings(
            conn,
            latest_s,
            self.objects.usage,
            limits.limit(b.max_sighting_rows),
            now,
            limits.keep_recent_s,
            limits.target_fraction,
            self.config.temporal.moved_distance,
        )
        ch_a, report_a = plan_absences(
            conn, latest_a, limits.limit(b.max_absence_rows), now, limits.keep_recent_s, limits.target_fraction
        )
        ch.extend(ch_a)
        if report["sightings_merged"] or report["sightings_dropped"]:

            def compressed() -> None:
                with self._lock:
                    self.forget_epoch += 1  # sightings merged or dropped: counts derived from them are stale

            ch.then(compressed)
        return ch, {**report, **report_a}
