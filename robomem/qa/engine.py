"""The one question engine: every front door asks memory through these verbs.

Verbs: ``locate``, ``where_now``, ``where_at``, ``last_seen``, ``still_in``, ``changes``
(optionally in a place), ``count``, ``facts``, ``why``.  Each returns an :class:`Answer`.

- Which objects a name means: :func:`robomem.qa.labels.match_label` (the one label rule).
- Whether an object is still where it was last seen: the temporal memory's absence
  evidence (``temporal.is_absent``: observed absent at its last place, not seen since).
- Abstention: a name that matches no remembered object answers ``status="not_seen"``
  (no place, no pose, confidence 0) in every verb; front doors turn that into a
  non-zero exit code (CLI), ``has_goal_pose=false`` (ROS), ``"status": "not_seen"`` (tools).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from robomem.errors import QueryError
from robomem.qa.answer import Answer, Evidence, Item
from robomem.qa.labels import LabelMatch, match_label, narrow_by_name

SECONDS_PER_DAY = 86_400.0

# An object observed absent with a same-label object seen since within this distance of its last place is taken
# for a second record of that one (a pose-drift duplicate), not counted again.  Measured (robot, 4 seeds x 3 days):
# the two such records were 0.21 and 0.24 m from the present one (each fed by 2 detections); every other absent
# object's nearest present same-label object was >= 1.63 m away or none (clean: >= 6.9 m or none).
COUNT_DUPLICATE_RADIUS = 0.5


def fmt_time(t: float | None) -> str:
    if t is None:
        return "-"
    if t > 1e8:  # an epoch stamp from a robot
        import datetime as _dt

        return _dt.datetime.fromtimestamp(t, _dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f")[:-4] + " UTC"
    return f"t={t:.1f}s"


def _xyz(p: Any) -> str:
    return "(" + ", ".join(f"{float(v):.2f}" for v in p) + ")" if p is not None else "-"


def _in(place: str | None) -> str:
    return f" in the {place}" if place else ""


def _by(robot: str | None) -> str:
    return f" by {robot}" if robot else ""


def _seen_by(robot: str | None, did: str) -> str:
    return f" ({robot} {did})" if robot else ""


class QuestionEngine:
    """Answers questions over one open :class:`~robomem.memory.Memory` (read-only use)."""

    def __init__(self, memory: Any) -> None:
        self.memory = memory

    # -- the shared rules -----------------------------------------------------------
    def match(self, target: str) -> tuple[LabelMatch, ...]:
        sp = self.memory.spatial
        # a memory that can narrow the candidates by name in its own store (the fleet view, in SQL) does so;
        # the label rule still decides among them
        named = getattr(sp, "objects_named", None)
        if named is not None:
            objs = named(target)
        elif hasattr(sp, "vocabulary") and hasattr(sp, "objects_with_labels"):
            objs = narrow_by_name(target, sp.vocabulary(), sp.objects_with_labels, self.memory.embedder)
            found = match_label(target, objs, self.memory.embedder)
            if found or all(o.confirmed for o in objs):
                return found
            # the narrowed candidates were only unconfirmed ones (called so once, say): the full scan decides, so a
            # looser tier (synonym, compound) over the believed objects is not cut off.  A name nothing is called
            # (every never-seen question) does not pay it: 1.0-1.3 s at 10^5 objects.
            return match_label(target, sp.objects(), self.memory.embedder)
        else:
            objs = sp.objects()
        return match_label(target, objs, self.memory.embedder)

    def is_present(self, object_id: int) -> bool:
        """The one presence rule: not observed absent where it was last seen."""
        return not self.memory.temporal.is_absent(object_id)

    def resolve_time(self, t: float | None) -> float | None:
        """A negative time counts back from the newest stamp in memory (-60: a minute ago)."""
        if t is None:
            return None
        t = float(t)
        if not math.isfinite(t):
            raise QueryError(f"time: must be a finite number of seconds, got {t!r}")
        return self.memory.newest_stamp + t if t < 0 else t

    def place_name(self, place: str | None) -> str | None:
        """The memory's own spelling of a place name; ValueError naming the known places otherwise."""
        if place is None:
            return None
        names = self.memory.places.names()
        want = place.strip().lower().replace("_", " ")
        for n in names:
            if n.lower().replace("_", " ") == want:
                return n
        known = ", ".join(names) or "none (memory has no places)"
        raise QueryError(f"place {place!r} is not a place memory knows; known places: {known}")

    def _frame_at(self, stamp: float | None) -> int | None:
        if stamp is None:
            return None
        return self.memory.frames.index_at(float(stamp))

    def _view_pose(self, object_id: int) -> tuple[tuple[float, float, float] | None, Evidence | None]:
        snaps = self.memory.spatial.best_snapshots(object_id, 1)
        if not snaps:
            return None, None
        s = snaps[0]
        m = s.pose.matrix
        yaw = math.atan2(float(m[1, 2]), float(m[0, 2]))  # the optical axis (camera z) projected on the floor
        ev = Evidence("snapshot", f"snapshot:{s.snapshot_id}", s.stamp, object_id, self._frame_at(s.stamp), s.place)
        return (float(m[0, 3]), float(m[1, 3]), yaw), ev

    def _not_seen(self, verb: str, target: str, **args: Any) -> Answer:
        return Answer(
            verb,
            "not_seen",
            (f"I have not seen anything called {target!r}",),
            {"target": target, **args},
        )

    def _object_item(self, m: LabelMatch, with_view: bool = True) -> tuple[Item, list[Evidence]]:
        mem = self.memory
        o = mem.spatial.get(m.object_id)
        s = mem.temporal.last_seen(m.object_id)
        a = mem.temporal.last_absence(m.object_id)
        present = self.is_present(m.object_id)
        place = (s.place if s is not None and s.place else None) or (o.place if o else None)
        pos = s.position if s is not None else (o.centroid if o else None)
        stamp = s.t_end if s is not None else (o.last_seen if o else None)
        ev: list[Evidence] = []
        # which robot saw it / looked (records of a fleet memory carry ``robot`` and their own ``ref``)
        seen_by, missed_by = getattr(s, "robot", None), getattr(a, "robot", None)
        if s is not None:
            ref = getattr(s, "ref", None) or f"sighting:{s.row_id}"
            ev.append(Evidence("sighting", ref, s.t_end, m.object_id, self._frame_at(s.t_end), place, seen_by))
        if a is not None and not present:
            ref = getattr(a, "ref", None) or f"absence:{a.row_id}"
            ev.append(Evidence("absence", ref, a.stamp, m.object_id, self._frame_at(a.stamp), a.place, missed_by))
        view, vev = self._view_pose(m.object_id) if with_view else (None, None)
        if vev is not None:
            ev.append(vev)
        name = f"{m.label} #{m.object_id}"
        text = f"{name} at {_xyz(pos)}{_in(place)}, last seen {fmt_time(stamp)}{_by(seen_by)}"
        if not present and a is not None:
            text += f"; NOT there when looked at {fmt_time(a.stamp)}{_by(missed_by)}"
        extra = {"n_obs": o.n_obs if o else 0, "absent_since": a.stamp if (a is not None and not present) else None}
        if seen_by is not None:
            extra["seen_by"] = seen_by
        if missed_by is not None and not present:
            extra["missed_by"] = missed_by
        item = Item(
            text,
            m.object_id,
            m.label,
            place,
            pos,
            "present" if present else "absent",
            stamp,
            m,
            view,
            extra=extra,
        )
        return item, ev

    # -- verbs ----------------------------------------------------------------------
    def locate(self, target: str, k: int = 10) -> Answer:
        """Every object the name means: present ones first, then most recently seen."""
        matches = self.match(target)
        if not matches:
            return self._not_seen("locate", target)
        ranked = sorted(matches, key=lambda m: (not self.is_present(m.object_id), -m.score, -self._last(m)))
        items, ev = [], []
        for m in ranked[: max(1, k)]:
            it, e = self._object_item(m)
            items.append(it)
            ev += e
        conf = ranked[0].score if items[0].status == "present" else 0.0
        return Answer(
            "locate", "answered", tuple(i.text for i in items), {"target": target}, tuple(items), tuple(ev), None, conf
        )

    def _last(self, m: LabelMatch) -> float:
        s = self.memory.temporal.last_seen(m.object_id)
        return s.t_end if s is not None else -math.inf

    def where_now(self, target: str) -> Answer:
        """Where the object most likely is now: the most recently seen match not observed absent since."""
        matches = self.match(target)
        if not matches:
            return self._not_seen("where-now", target)
        top = [m for m in matches if m.score >= matches[0].score - 1e-9] if matches[0].how != "share" else matches
        present = [m for m in top if self.is_present(m.object_id)]
        if not present:
            last = max(top, key=self._last)
            it, ev = self._object_item(last, with_view=False)
            line = f"{last.label} #{last.object_id} is not where I last saw it{_in(it.place)}; its place now is unknown"
            return Answer("where-now", "unknown", (line, it.text), {"target": target}, (it,), tuple(ev), None, 0.0)
        best = max(present, key=lambda m: (self._last(m), m.score))
        it, ev = self._object_item(best)
        seen = f"last seen {fmt_time(it.stamp)}{_by(it.extra.get('seen_by'))}"
        line = f"{best.label} #{best.object_id}{_in(it.place)} at {_xyz(it.position)} ({seen})"
        return Answer("where-now", "answered", (line,), {"target": target}, (it,), tuple(ev), None, best.score)

    def still_in(self, target: str, place: str) -> Answer:
        """Is it still in that place: where-now, compared with the place."""
        want = self.place_name(place)
        now = self.where_now(target)
        if now.status == "not_seen":
            return self._not_seen("still-in", target, place=want)
        it = now.items[0]
        if now.status == "unknown":
            yes = False
            line = f"no: {it.label} #{it.object_id} was observed absent from the {it.place}"
        else:
            yes = it.place == want
            line = ("yes: " if yes else "no: ") + now.text[0]
        return Answer(
            "still-in",
            "answered",
            (line,),
            {"target": target, "place": want, "yes": yes},
            now.items,
            now.evidence,
            None,
            now.confidence,
        )

    def where_at(self, target: str, t: float) -> Answer:
        """Where it was at time t (negative: seconds before the newest stamp)."""
        tt = self.resolve_time(t)
        if tt is None:
            raise QueryError("where-at: give a time --at T (seconds; negative counts back from the newest stamp)")
        matches = self.match(target)
        if not matches:
            return self._not_seen("where-at", target, time=tt)
        best, best_m, absent = None, None, None
        for m in matches:
            w = self.memory.temporal.where_at(m.object_id, tt)
            if w.status in ("seen", "believed") and (best is None or (w.since or 0.0) > (best.since or 0.0)):
                best, best_m = w, m
            elif w.status == "absent" and absent is None:
                absent = (w, m)
        if best is None or best_m is None:
            if absent is not None:
                w, m = absent
                line = f"{m.label} #{m.object_id}: observed absent from the {w.place} by {fmt_time(w.since)}"
                line += _seen_by(getattr(w, "robot", None), "looked")
                it = Item(line, m.object_id, m.label, w.place, w.position, "absent", w.since, m)
                ev = tuple(Evidence(r.split(":")[0], r, w.since, m.object_id) for r in w.evidence)
                return Answer("where-at", "unknown", (line,), {"target": target, "time": tt}, (it,), ev)
            line = f"{target}: not yet seen at {fmt_time(tt)}"
            return Answer("where-at", "unknown", (line,), {"target": target, "time": tt})
        word = "seen" if best.status == "seen" else "believed (last seen " + fmt_time(best.since) + ")"
        word += _by(getattr(best, "robot", None))
        line = (
            f"at {fmt_time(tt)}: {best_m.label} #{best_m.object_id}{_in(best.place)} at {_xyz(best.position)}, {word}"
        )
        it = Item(line, best_m.object_id, best_m.label, best.place, best.position, best.status, best.since, best_m)
        by = getattr(best, "robot", None)
        ev = tuple(
            Evidence(r.split(":")[0], r, best.since, best_m.object_id, self._frame_at(best.since), best.place, by)
            for r in best.evidence
        )
        return Answer("where-at", "answered", (line,), {"target": target, "time": tt}, (it,), ev, None, best_m.score)

    def last_seen(self, target: str, k: int = 10) -> Answer:
        """When and where each match was last seen, and whether it was then missed."""
        matches = self.match(target)
        if not matches:
            return self._not_seen("last-seen", target)
        ranked = sorted(matches, key=lambda m: -self._last(m))[: max(1, k)]
        items, ev = [], []
        for m in ranked:
            it, e = self._object_item(m, with_view=False)
            items.append(it)
            ev += e
        return Answer(
            "last-seen",
            "answered",
            tuple(i.text for i in items),
            {"target": target},
            tuple(items),
            tuple(ev),
            None,
            ranked[0].score,
        )

    def count(self, target: str, place: str | None = None) -> Answer:
        """How many objects by that name there are, optionally in one place.

        The whole house: every believed match, those observed absent from their last place included (an absence at
        one place is no evidence that the object left the house: its whereabouts are unknown); the answer says which
        are where they were last seen and which are not (``args``: ``where_last_seen`` / ``not_where_last_seen``
        object ids; each item's ``status`` present / absent), less an absent one with a same-label object seen since
        within ``COUNT_DUPLICATE_RADIUS`` of it (``duplicates``: a drift duplicate of that one). In one place: only
        those present there."""
        want = self.place_name(place)
        matches = self.match(target)
        if not matches:
            return self._not_seen("count", target, place=want)
        items, ev = [], []
        for m in matches:
            it, e = self._object_item(m, with_view=False)
            if want is None or it.place == want:
                items.append(it)
                ev += e
        here = [i for i in items if i.status == "present"]
        gone = [i for i in items if i.status != "present"]
        twice = [i for i in gone if self._seen_again_nearby(i, here)]
        moved: list[Item] = []
        if want is None:
            dup = {i.object_id for i in twice}
            gone = [i for i in gone if i.object_id not in dup]
            moved = self._maybe_moved_since(here + gone)
            mv = {i.object_id for i in moved}
            here = [i for i in here if i.object_id not in mv]
            gone = [i for i in gone if i.object_id not in mv]
            n = len(here) + len(gone)
            line = f"{n} {target}"
            if gone:
                line += f": {len(here)} where last seen, {len(gone)} not where last seen (whereabouts unknown)"
            if twice:
                line += f" ({len(twice)} more observed absent next to one seen since: taken for the same object)"
            if moved:
                line += f" ({len(moved)} more last seen before one of them appeared where I had looked: taken for it, moved)"
        else:
            n = len(here)
            line = f"{n} {target}{_in(want)}" + (f" ({len(gone)} more observed absent from it)" if gone else "")
        args = {
            "target": target,
            "place": want,
            "where_last_seen": [i.object_id for i in here],
            "not_where_last_seen": [i.object_id for i in gone],
            "duplicates": [i.object_id for i in twice] if want is None else [],
            "maybe_moved": [i.object_id for i in moved],
        }
        return Answer(
            "count", "answered", (line, *(i.text for i in items)), args, tuple(items), tuple(ev), n, matches[0].score
        )

    def _maybe_moved_since(self, items: list[Item]) -> list[Item]:
        """Older records that a same-label object first seen after their last sighting, at a spot looked at before
        (it appeared there), may be: the object moved there before its old place was looked at again."""
        from robomem.maintenance.merging import place_seen_before

        sp, frames = self.memory.spatial, self.memory.frames
        if not hasattr(frames, "poses_near"):  # a memory without its camera poses (the fleet view) cannot tell
            return []
        out: list[Item] = []
        taken: set[int] = set()
        by_recent = sorted(items, key=lambda i: -(i.stamp or -math.inf))
        for b in by_recent:
            ob = sp.get(b.object_id) if b.object_id is not None else None
            if ob is None or b.object_id in taken:
                continue
            older = [
                a
                for a in by_recent
                if a is not b
                and a.label == b.label
                and a.object_id not in taken
                and (a.stamp if a.stamp is not None else math.inf) < ob.first_seen
            ]
            if older and place_seen_before(frames, np.asarray(ob.centroid, dtype=float), ob.first_seen):
                out.append(older[0])  # the most recently seen of them
                taken |= {older[0].object_id, b.object_id}
        return out

    @staticmethod
    def _seen_again_nearby(gone: Item, here: list[Item]) -> bool:
        """Is a present object of the same label, seen after ``gone`` was, within ``COUNT_DUPLICATE_RADIUS``?"""
        if gone.position is None:
            return False
        for h in here:
            if h.label != gone.label or h.position is None or (h.stamp or -math.inf) <= (gone.stamp or -math.inf):
                continue
            if math.dist(tuple(map(float, h.position)), tuple(map(float, gone.position))) <= COUNT_DUPLICATE_RADIUS:
                return True
        return False

    def changes(self, since: float, until: float | None = None, place: str | None = None) -> Answer:
        """What moved, appeared or disappeared between the two times, optionally only in one place."""
        if since is None:
            raise QueryError("changes: give --since T (seconds; negative counts back from the newest stamp)")
        t1 = self.resolve_time(since)
        t2 = self.resolve_time(until) if until is not None else self.memory.newest_stamp
        if t1 is None or t2 is None:
            raise QueryError("changes: memory holds no frames yet, so no time range can be resolved")
        want = self.place_name(place)
        items, ev = [], []
        for c in self.memory.temporal.changes(t1, t2):
            if want is not None and want not in (c.place_before, c.place_after):
                continue
            o = self.memory.spatial.get(c.object_id)
            if o is not None and not o.confirmed:  # a candidate never confirmed (a false positive) changed nothing
                continue
            label = o.label if o else "object"
            if c.kind == "moved":
                what = f"moved from {c.place_before or _xyz(c.before)} to {c.place_after or _xyz(c.after)}"
            elif c.kind == "appeared":
                what = f"appeared at {c.place_after or _xyz(c.after)}"
            else:
                what = f"disappeared from {c.place_before or _xyz(c.before)}"
            text = f"{fmt_time(c.stamp)}  {label} #{c.object_id} {what}{_seen_by(getattr(c, 'robot', None), 'saw it')}"
            extra = {
                "kind": c.kind,
                "before": c.before,
                "after": c.after,
                "place_before": c.place_before,
                "place_after": c.place_after,
            }
            if getattr(c, "robot", None):
                extra["seen_by"] = c.robot
            items.append(
                Item(
                    text,
                    c.object_id,
                    label,
                    c.place_after or c.place_before,
                    c.after or c.before,
                    c.kind,
                    c.stamp,
                    extra=extra,
                )
            )
            ev += [Evidence(r.split(":")[0], r, c.stamp, c.object_id) for r in c.evidence]
        args = {"since": t1, "until": t2, "place": want}
        lines = tuple(i.text for i in items) or (f"no changes{_in(want)} between {fmt_time(t1)} and {fmt_time(t2)}",)
        return Answer("changes", "answered", lines, args, tuple(items), tuple(ev), len(items), 1.0)

    def facts(self, subject: str | None = None, k: int = 50) -> Answer:
        """Semantic facts valid now, about a subject (an object name, a place, an entity) or all."""
        sem = self.memory.semantic
        if subject is None or not subject.strip():
            fs = sem.facts()
        else:
            ents: list[Any] = []
            try:
                ms = self.match(subject)
            except ValueError:
                ms = ()
            ents = [m.object_id for m in ms]
            if not ents:
                r = sem.resolve(subject)
                if r is None:
                    return self._not_seen("facts", subject)
                ents = [r]
            seen: set[int] = set()
            fs = []
            for e in ents:
                for f in sem.facts(e):
                    if f.fact_id not in seen:
                        seen.add(f.fact_id)
                        fs.append(f)
        fs = sorted(fs, key=lambda f: (-f.confidence, f.fact_id))[: max(1, k)]
        items = tuple(
            Item(f.text, None, None, None, None, "valid", f.valid_from, fact_id=f.fact_id, extra={"fact": f.to_dict()})
            for f in fs
        )
        ev = tuple(Evidence("fact", f"fact:{f.fact_id}", f.last_evidence) for f in fs)
        lines = tuple(i.text for i in items) or ("no facts",)
        return Answer("facts", "answered", lines, {"subject": subject}, items, ev, len(items), 1.0)

    def why(self, target: str) -> Answer:
        """Why memory believes where the object is: the location fact's evidence chain, and the sightings."""
        now = self.where_now(target)
        if now.status == "not_seen":
            return self._not_seen("why", target)
        it = now.items[0]
        if it.object_id is None:
            return self._not_seen("why", target)
        lines = list(now.text)
        ev = list(now.evidence)
        fact = self.memory.semantic.where_is(it.object_id)
        if fact is not None:
            ex = self.memory.semantic.why(fact.fact_id)
            lines += ex.text().splitlines()
            ev.append(Evidence("fact", f"fact:{fact.fact_id}", fact.last_evidence, it.object_id))
            ev += [Evidence("frame", f"frame:{fr}", None, it.object_id, fr) for fr in ex.frames[:20]]
        else:
            lines.append("no location fact: the answer rests on the sightings above")
        a = self.memory.temporal.last_absence(it.object_id)
        if a is not None and it.status == "present":
            lines.append(f"it was missed once at {fmt_time(a.stamp)}{_in(a.place)}, but seen again after")
        return Answer("why", now.status, tuple(lines), {"target": target}, now.items, tuple(ev), None, now.confidence)

    def retrieve(self, text: str, k: int = 10) -> Answer:
        """A question that fits no verb: the retrieved entries, ranked."""
        from robomem.retrieval.query import Query

        entries = self.memory.retrieve(Query(text=text, k=max(1, k)))
        items = tuple(
            Item(
                f"[{e.kind}] {e.text}  (score {e.score:.2f})",
                e.object_ids[0] if e.object_ids else None,
                None,
                e.place,
                e.position,
                e.kind,
                e.stamp,
                extra={"entry": e.to_dict()},
            )
            for e in entries
        )
        lines = tuple(f"{i + 1:2d}. {it.text}" for i, it in enumerate(items)) or ("memory holds nothing relevant",)
        ev = tuple(Evidence("entry", e.key, None) for e in entries)
        conf = float(entries[0].score) if entries else 0.0
        return Answer("retrieve", "answered", lines, {"text": text}, items, ev, None, conf)
