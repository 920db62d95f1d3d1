"""Reading facts: by entity and predicate, as of a valid time or a record time, history, ``why``, ``search``."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from robomem.retrieval.query import Entry, Query, recency, text_relevance, words
from robomem.submodules.semantic.records import (
    FACT_COLS,
    MAX_SEARCH_FACTS,
    Evidence,
    Explanation,
    Fact,
    sentence,
)
from robomem.submodules.semantic.state import SemanticState

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


class SemanticQueries(SemanticState):
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
        rows = self.store.read().execute(FACT_COLS + where + " ORDER BY valid_from, id", params).fetchall()
        with self._lock:
            return [self._fact(r) for r in rows]

    def fact(self, fact_id: int) -> Fact | None:
        r = self.store.read().execute(FACT_COLS + " WHERE id=?", (int(fact_id),)).fetchone()
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
            kind, _, rest = f.subject.partition(":")
            if kind == "object" and rest.isdigit():
                lo = f.valid_from if f.predicate == "located_in" else -math.inf
                rows = self.temporal.sightings_in([int(rest)], place, lo, hi)
            else:  # a class: the sightings of every object spatial memory labels so
                label = self.label(f.subject)
                rows = self.temporal.sightings_in(self._objects_labelled(lambda lab: lab == label, None), place)
            sightings = [(s.row_id, s.t_start, s.t_end, s.n, s.place) for s in rows]
            stamps = sorted({s[1] for s in sightings} | {s[2] for s in sightings})[:200]
            if stamps and self.frames is not None:
                frames |= set(self.frames.indexes_at(stamps))
        events = tuple(f"t={e.stamp:.1f} {e.detail}" for e in ev if e.kind == "event")
        episodes = tuple(sorted({int(e.ref.split(":")[1]) for e in ev if e.ref.startswith("episode:")}))
        sids = [int(e.ref.split(":")[1]) for e in ev if e.ref.startswith("step:")]
        if sids:
            episodes = tuple(sorted(set(episodes) | self.episodic.step_episodes(sids)))
        return Explanation(f, ev, tuple(sightings), tuple(sorted(frames)), events, episodes, f.superseded_by)

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
            now = max(now, self._newest)  # events (facts told) can be newer than the newest frame
        if query.since is not None:
            hi = query.until if query.until is not None else now
            rows = conn.execute(
                FACT_COLS + " WHERE valid_from<=? AND (valid_to IS NULL OR valid_to>?)", (hi, query.since)
            ).fetchall()
        else:
            rows = conn.execute(
                FACT_COLS + " WHERE valid_from<=? AND (valid_to IS NULL OR valid_to>?)", (now, now)
            ).fetchall()
        with self._lock:
            cands = [self._fact(r) for r in rows]
        if query.object_ids:
            wanted = {f"object:{i}" for i in query.object_ids}
            cands = [f for f in cands if f.subject in wanted or f.object in wanted]
        if query.label is not None:
            cands = [f for f in cands if query.label in (f.subject_label, f.object_label)]
        if not cands:
            return []
        text = query.search_text
        if text:
            names = sorted({f.subject_label for f in cands} | {f.object_label for f in cands})
            by_name = dict(zip(names, text_relevance(self.ctx.embedder, text, names).tolist(), strict=True))
            stems = {w[:5] for w in words(text) if len(w) > 2}
            cued = {p for w in words(text) for p in _CUES.get(w, ())}
            rel = []
            for f in cands:
                # Names say which entity; the predicate (or a question word cueing it) says which fact about it.
                r = 0.8 * max(by_name[f.subject_label], 0.85 * by_name[f.object_label])
                pw = {w[:5] for w in words(f.predicate.replace("_", " ")) if len(w) > 2}
                if f.predicate in cued or pw & stems:
                    r += 0.2
                rel.append(r)
            # The full sentence, for what names alone miss ("who owns the cup?"): only the best few.
            order = sorted(range(len(cands)), key=lambda i: (-rel[i], -cands[i].last_evidence))[:MAX_SEARCH_FACTS]
            sent = [sentence(cands[i]) for i in order]
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

    def open_facts(self) -> list[Fact]:
        with self._lock:
            facts = sorted(self._open.values(), key=lambda f: f.fact_id)
        return [self._named(f) for f in facts]
