"""Facts from perception (sightings, observed absences) and from events (asserted facts, statements)."""

from __future__ import annotations

from robomem.ingest.frame import Frame
from robomem.observation import Event
from robomem.submodules.base import Changes
from robomem.submodules.semantic.consolidation import FactConsolidation
from robomem.submodules.semantic.language import parse_fact_text, parse_statement
from robomem.submodules.semantic.state import _Plan


class FactUpdates(FactConsolidation):
    # -- perception ---------------------------------------------------------------------
    def update(self, frame: Frame) -> Changes:
        ch = Changes()
        t = frame.stamp
        plan = self._plan()
        ref = f"frame:{frame.index}"
        for d in frame.detections:
            ent = f"object:{d.object_id}"
            plan.labels[d.object_id] = d.label  # until spatial commits this frame (it is the authority after)
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
        seen = set(plan.objects_seen)
        if seen:

            def mark_seen() -> None:  # after the pass above took its snapshot: these rows are not in its read
                with self._lock:
                    self._visit_dirty |= seen

            ch.then(mark_seen)
        return ch

    # -- events -------------------------------------------------------------------------
    def on_event(self, event: Event) -> Changes:
        ch = Changes()
        kind = event.kind.strip().lower()
        t = event.stamp
        plan = self._plan()
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
        subj = self._entity(s, plan)
        obj = self._entity(o, plan)
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
