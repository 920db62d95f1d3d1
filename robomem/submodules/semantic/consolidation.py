"""Consolidation: general facts derived from many observations (usually_in, often_fails, on/in from geometry)."""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import replace
from typing import Any

import numpy as np

from robomem.submodules.base import Changes
from robomem.submodules.semantic.habits import ObjectVisits
from robomem.submodules.semantic.language import slug, verb_target
from robomem.submodules.semantic.records import MAX_SUPPORT_ROWS
from robomem.submodules.semantic.rules import FactRules
from robomem.submodules.semantic.state import _Plan
from robomem.submodules.spatial.scene_graph import pair_relation, xy_overlap_pairs


class FactConsolidation(FactRules):
    def consolidate(self, now: float | None = None) -> Changes:
        """Plan a full consolidation pass now (usually_in, often_fails, on/in from geometry) from all evidence."""
        ch = Changes()
        t = self._newest if now is None else float(now)
        plan = self._plan()
        self._consolidate(plan, ch, t, full=True)
        plan.consolidated = True
        self._commit_plan(plan, ch)
        return ch

    def _consolidate(self, plan: _Plan, ch: Changes, t: float, full: bool = False) -> None:
        self._consolidate_usually(plan, ch, t, full)
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
                plan.newest = max(plan.newest, new.last_evidence)
            plan.ops.append(("NOOP", f.fact_id))
            return
        new_id = plan.next_fact  # the id _add takes next
        if functional:
            for f in current:
                reason = f"superseded by fact #{new_id} ({detail})"
                self._close(plan, ch, f, t, reason, None, (kind, kind, detail), superseded_by=new_id)
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

    def _consolidate_usually(self, plan: _Plan, ch: Changes, t: float, full: bool) -> None:
        """``usually_in`` from visit counts.  A full pass (``consolidate()``, or after forgetting compressed
        sightings) re-reads every sighting; the periodic pass re-reads only the objects seen since (or merged)
        and judges them and their classes: the rest's evidence did not change (``habits.py``)."""
        cfg = self.config.semantic
        # "usually" needs repeated evidence over time, not many frames of one look: temporal memory counts
        # visits (distinct windows with a sighting), so one tour never makes a habit
        with self._lock:
            dirty = set(self._visit_dirty)
            tally = self._tally
        full = full or not tally.ready or tally.epoch != self.temporal.forget_epoch
        if full:
            tally = self._build_tally()
            objects = {oid: tally.object_visits(oid) for oid in tally.objects()}
            totals = {lab: tally.class_visits(lab) for lab in tally.classes()}
        else:
            by_obj: dict[int, dict[str, tuple[int, float]]] = defaultdict(dict)
            for v in self.temporal.visits(cfg.visit_window_s, sorted(dirty)):
                by_obj[v.object_id][v.place] = (v.visits, v.first_seen)
            # the one label rule; None: the object is gone
            objects = {oid: ObjectVisits(self.spatial.label_of(oid), by_obj.get(oid, {})) for oid in dirty}
            totals = tally.class_totals(objects)
        keep: set[str] = set()
        judged: set[str] = set()
        for oid, ov in objects.items():
            judged.add(f"object:{oid}")
            if ov.label is not None:
                self._judge_usually(plan, ch, t, f"object:{oid}", ov.places, False, keep)
        for lab, counts in totals.items():
            judged.add(f"class:{lab}")
            self._judge_usually(plan, ch, t, f"class:{lab}", counts, True, keep)
        reason = "sightings no longer mostly in one place"
        if full:
            self._retire(plan, ch, "usually_in", keep, t, reason, "")
        else:
            self._retire_subjects(plan, ch, "usually_in", judged, keep, t, reason)

        def apply() -> None:
            with self._lock:
                if full:
                    self._tally = tally
                else:
                    tally.apply(objects, totals)
                self._visit_dirty -= dirty

        ch.then(apply)

    def _judge_usually(
        self,
        plan: _Plan,
        ch: Changes,
        t: float,
        subject: str,
        by_place: dict[str, tuple[int, float]],
        is_class: bool,
        keep: set[str],
    ) -> None:
        cfg = self.config.semantic
        if not by_place:
            return
        total = sum(int(v[0]) for v in by_place.values())
        place, (n, t0) = max(by_place.items(), key=lambda kv: (kv[1][0], kv[0]))
        share = n / total if total else 0.0
        if total < cfg.usually_min_count or share < cfg.usually_min_share:
            return
        obj = f"place:{place}"
        self._ensure_named(plan, ch, obj, place)
        if is_class:
            self._ensure_named(plan, ch, subject, subject)
        detail = f"{int(n)} of {total} visits in the {place}"
        self._set_derived(
            plan, ch, subject, "usually_in", obj, round(share, 4), int(n), t, detail, True, valid_from=float(t0)
        )
        keep.add(f"{subject}|{obj}")

    def _retire_subjects(
        self, plan: _Plan, ch: Changes, predicate: str, subjects: set[str], keep: set[str], t: float, reason: str
    ) -> None:
        """``_retire`` for these subjects only (the periodic pass judged no others)."""
        with self._lock:
            ids = [i for s in subjects for i in self._by_sp.get((s, predicate), ())]
        for fid in ids:
            f = plan.open[fid] if fid in plan.open else self._open.get(fid)
            if f is not None and f"{f.subject}|{f.object}" not in keep and f.source in ("consolidation", "scene_graph"):
                self._close(plan, ch, f, t, reason, "INVALIDATE", ("consolidation", "consolidation", reason))

    def _consolidate_failures(self, plan: _Plan, ch: Changes, t: float) -> None:
        cfg = self.config.semantic
        tally: dict[tuple[str, str], list[Any]] = defaultdict(lambda: [0, 0, [], math.inf])
        seen_in_episode: set[tuple[int, str, str]] = set()

        def count(va: tuple[str, str], success: Any, ref: str, stamp: float) -> None:
            acc = tally[va]
            acc[1] += 1
            if not success:
                acc[0] += 1
                acc[2].append(ref)
                acc[3] = min(acc[3], stamp)

        for st in self.episodic.action_steps():
            va = verb_target(st.action)
            if va is not None:
                count(va, st.success, f"step:{st.step_id}", st.stamp)
                seen_in_episode.add((st.episode_id, *va))
        tasks = [e for e in self.episodic.episodes(kind="task") if e.success is not None]
        for ep in sorted(tasks, key=lambda e: e.episode_id):
            va = verb_target(ep.task)
            if va is not None and (ep.episode_id, *va) not in seen_in_episode:  # its own steps already count
                count(va, ep.success, f"episode:{ep.episode_id}", ep.t_end)
        keep: set[str] = set()
        for (verb, target), (n_fail, n_total, refs, t0) in tally.items():
            if n_fail < cfg.often_fails_min_count or n_fail / n_total < cfg.often_fails_min_share:
                continue
            subj = self._entity(target, plan)
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
        if self.spatial.count(include_absent=False) > 2000:
            return  # too many for a cheap pass; relations stay as they were (counted first: no record per object)
        # Only objects whose floor boxes overlap another's can be on or in one (found by a sweep, not by a
        # pass of every object against every other); records are built for those alone.
        ids, mins, maxs = self.spatial.boxes(include_absent=False)
        first, second = xy_overlap_pairs(mins, maxs)
        keep: set[str] = set()
        if len(first):
            near = self.config.spatial.near_distance
            order = np.lexsort((ids[second], ids[first]))  # each object's candidates in id order, as before
            first, second = first[order], second[order]
            involved = np.unique(np.concatenate([first, second])).tolist()
            recs = {i: self.spatial.get(int(ids[i])) for i in involved}
            bounds = np.flatnonzero(np.r_[True, first[1:] != first[:-1], True])
            for lo, hi in zip(bounds[:-1].tolist(), bounds[1:].tolist(), strict=True):
                a = recs[int(first[lo])]
                if a is None:
                    continue
                best: tuple[str, float, int] | None = None
                for j in second[lo:hi].tolist():
                    b = recs[j]
                    r = pair_relation(a, b, near) if b is not None else None
                    if r in ("on", "in"):
                        vol = float(np.prod(np.maximum(maxs[j] - mins[j], 1e-3)))
                        cand = (r, vol, int(ids[j]))
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
