"""The update rules: ADD / UPDATE / INVALIDATE / NOOP on facts, with functional predicates resolved by
recency and confidence (see ``semantic.memory``)."""

from __future__ import annotations

from dataclasses import replace

from robomem.submodules.base import Changes
from robomem.submodules.semantic.records import MAX_SUPPORT_ROWS, Fact, sentence
from robomem.submodules.semantic.state import SemanticState, _Plan


class FactRules(SemanticState):
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
        superseded_by: int | None = None,
    ) -> None:
        t = max(t, f.valid_from)
        ch.sql(
            "UPDATE facts SET valid_to=?, expired_at=?, reason=?, confidence=?, superseded_by=? WHERE id=?",
            (t, t, reason[:300], f.confidence, superseded_by, f.fact_id),
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
        fid = plan.take_fact_id()
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
        plan.newest = max(plan.newest, new.last_evidence)
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
        new_id = plan.next_fact  # the id _add takes next
        for f in others:
            reason = f"superseded by fact #{new_id} ({source}: {self.display(obj, plan)})"
            self._close(plan, ch, f, t, reason, None, evidence, superseded_by=new_id)
        self._add(plan, ch, subject, predicate, obj, min(1.0, max(0.05, strength)), t, source, evidence)
        op = "UPDATE" if others else "ADD"
        plan.ops.append((op, new_id))
        return op

    def _commit_plan(self, plan: _Plan, ch: Changes, frames: int = 0) -> None:
        def apply() -> None:
            with self._lock:
                added: list[Fact] = []
                for fid, f in plan.open.items():
                    old = self._open.pop(fid, None)
                    if old is not None:
                        self._by_sp[(old.subject, old.predicate)].discard(fid)
                    if f is not None:
                        self._open[fid] = f
                        self._by_sp[(f.subject, f.predicate)].add(fid)
                        if old is None:
                            added.append(f)
                self._entities.update(plan.names)
                self.last_ops = list(plan.ops)
                self._newest = max(self._newest, plan.newest)
                self._next_fact = max(self._next_fact, plan.next_fact)  # its ids are taken now
                if plan.consolidated:
                    self._frames_since_consolidation = 0
                else:
                    self._frames_since_consolidation += frames
            if added:  # what a query's search will embed: made in the background now, not inside that query
                named = [self._named(f) for f in added]
                self.ctx.embedder.prefetch(
                    [sentence(f) for f in named] + [f.subject_label for f in named] + [f.object_label for f in named]
                )

        ch.then(apply)
