"""The planner: retrieval for a goal, packing under a budget, goal proposals.

``Planner(memory).context(goal, state)``:

1. **Retrieve.**  One :class:`~robomem.retrieval.query.Query` (goal text and/or
   label, robot position, "now") goes through :meth:`Memory.retrieve`, which
   fans out to the four submodules in parallel.  Each candidate is rescored:
   ``relevance`` is raised to 1 on an exact label match (``label_match``),
   ``distance`` is recomputed from the robot for every entry with a position,
   and ``score`` is the configured weighted sum of the parts
   (:func:`robomem.retrieval.query.total_score`).  The parts stay on every entry.
2. **Resolve versions.**  Entries about the same object that say the same
   thing (same place within ``moved_distance``, or the same words) are folded
   into the best one (``Context.merged``).  An older claim about an object that
   a newer one contradicts (another place, or an observed absence) is kept
   only as history: it is flagged ``Context.superseded`` and packed after
   every current entry.
3. **Pack.**  At most ``k`` entries and ``max_tokens`` estimated tokens of
   ``Context.text()``; the best current entry of every submodule that found
   something relevant is packed first, so no submodule is crowded out.
4. **Propose** (the whole search, the same for every simulator and the ROS
   planner node).  Objects matching the goal, best first (confidence from the
   label share and freshness, order also by distance), each with the stored
   keyframe pose that best shows it from at most ``view_range`` metres;
   objects *observed absent* at their remembered place are not proposed
   there.  Then places ranked by memory's evidence (``usually_in`` facts for
   the object and its class, past searches that found it, places not observed
   since it was last seen; places where it was observed absent ruled out;
   distance), then exploration of every place, least recently seen first,
   nearest first (:mod:`robomem.planning.search`); the places of objects
   already searched for (``exclude_objects``: the robot looked around there)
   get no evidence proposal and are explored last.  Distances are path lengths
   on the robot's navigable map when it supplies ``distance(a, b)`` (the
   household simulator does), else straight lines.  Without known places the
   last proposal is one ``explore`` with no target (look around here).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any

import numpy as np

from robomem.fleet.view import FleetMemory
from robomem.memory import Memory
from robomem.planning.context import Context, Goal, GoalProposal, RobotState, estimate_tokens
from robomem.planning.entries import LOCATION_KINDS, fold_duplicates, subject
from robomem.planning.entries import superseded as superseded_entries
from robomem.planning.search import (
    Distance,
    evidence_proposals,
    exploration_order,
    last_news,
    place_evidence,
    place_observations,
)
from robomem.planning.search import (
    usually_place as _usually_place,
)
from robomem.qa.labels import match_label
from robomem.retrieval.query import Entry, Query, proximity, text_relevance, total_score, words
from robomem.submodules.spatial.memory import ObjectRecord

_PREPOSITIONS = {
    "from",
    "on",
    "in",
    "at",
    "near",
    "under",
    "inside",
    "into",
    "onto",
    "beside",
    "behind",
    "by",
}  # not "to": "go to the mug"


class Planner:
    """Turns memory into context for a goal; see the module docstring."""

    def __init__(
        self,
        memory: Memory,
        k: int = 12,
        max_tokens: int = 800,
        min_per_source: int = 1,
        max_targets: int = 10,
        viewpoints: Mapping[str, tuple[float, float]] | None = None,
        view_range: float | None = 3.5,
        distance: Distance | None = None,
    ) -> None:
        if not isinstance(memory, (Memory, FleetMemory)):  # the fleet: remembered objects, then explore
            raise ValueError(f"Planner: expected a robomem Memory or FleetMemory, got {type(memory).__name__}")
        _check_budget(k, max_tokens)
        if isinstance(min_per_source, bool) or not isinstance(min_per_source, int) or min_per_source < 0:
            raise ValueError(f"Planner.min_per_source: expected a non-negative integer, got {min_per_source!r}")
        self.memory = memory
        self.k = k
        self.max_tokens = max_tokens
        self.min_per_source = min_per_source
        self.max_targets = max(1, int(max_targets))
        if view_range is not None and not (
            isinstance(view_range, (int, float)) and math.isfinite(view_range) and view_range > 0
        ):
            raise ValueError(f"Planner.view_range: expected a positive number of metres or None, got {view_range!r}")
        # place -> (x, y) the robot looks around a place from (default: the place's centre)
        self.viewpoints = {str(k): (float(v[0]), float(v[1])) for k, v in (viewpoints or {}).items()}
        self.view_range = None if view_range is None else float(view_range)
        if distance is not None and not callable(distance):
            raise ValueError(
                f"Planner.distance: expected a function (a, b) -> metres or None, got {type(distance).__name__}"
            )
        # (x, y), (x, y) -> path length on the robot's navigable map, None = unreachable (default: straight line)
        self.distance = distance
        self._observed: tuple[float, dict[str, tuple[float, int]]] | None = None

    @property
    def embedder(self) -> Any:
        return self.memory.embedder

    # -- public ----------------------------------------------------------------------
    def context(
        self,
        goal: Goal | str,
        state: RobotState,
        k: int | None = None,
        max_tokens: int | None = None,
        exclude_objects: Iterable[int] = (),
    ) -> Context:
        """Retrieve, resolve, pack and propose for ``goal`` at ``state``."""
        with self.memory.reading():  # one memory state for the whole context: no merge lands half-way
            return self._context(goal, state, k, max_tokens, exclude_objects)

    def _context(
        self, goal: Goal | str, state: RobotState, k: int | None, max_tokens: int | None, exclude_objects: Iterable[int]
    ) -> Context:
        goal = Goal.of(goal)
        state = _check_state(state)
        k = self.k if k is None else k
        max_tokens = self.max_tokens if max_tokens is None else max_tokens
        _check_budget(k, max_tokens)
        now = state.time if state.time is not None else self.memory.newest_stamp
        candidates = self.candidates(goal, state, now, n=max(2 * k, 20))
        candidates, merged = fold_duplicates(candidates, self.memory.config.temporal.moved_distance)
        superseded = superseded_entries(candidates, self.memory.config.temporal.moved_distance)
        superseded.update(self._stale_snapshots(candidates))
        proposals = self.propose(goal, state, now=now, exclude_objects=exclude_objects)
        shell = Context(goal, state, now, (), proposals, superseded, embedder=self.embedder)
        header = shell.text().split("\n")[:-1]  # without the "nothing relevant" line
        used = sum(estimate_tokens(h) + 1 for h in header) + estimate_tokens("MEMORY (00 entries, best first):") + 1
        chosen, used = self._pack(candidates, superseded, shell, k, max_tokens, used)
        keep = {e.key for e in chosen}
        return Context(
            goal=goal,
            state=state,
            now=now,
            entries=tuple(chosen),
            proposals=proposals,
            superseded={a: b for a, b in superseded.items() if a in keep},
            merged={a: b for a, b in merged.items() if a in keep},
            budget={"k": k, "max_tokens": max_tokens, "tokens": used, "candidates": len(candidates)},
            embedder=self.embedder,
        )

    def candidates(self, goal: Goal, state: RobotState, now: float, n: int = 48) -> list[Entry]:
        """Every submodule's candidates for the goal, rescored for this robot state, best first."""
        query = Query(text=goal.text, label=goal.label, position=state.position, time=now, k=min(10_000, n))
        cfg = self.memory.config.retrieval
        label_rel = self._label_relevance(goal)
        out = []
        for e in self.memory.retrieve(query):
            parts = dict(e.parts)
            labels = self._labels_of(e)
            if labels is not None:
                # An entry about one object is as relevant as that object is to the goal: "bowl #3 located_in
                # kitchen" does not answer "red mug on the kitchen table" although it shares a word.
                main = max(labels, key=lambda k: (labels[k], k))
                if goal.label is not None:
                    parts["label_match"] = 1.0 if goal.label in labels else 0.0
                    parts["relevance"] = (
                        parts["label_match"]
                        if goal.text is None
                        else max(parts["label_match"], min(parts.get("relevance", 0.0), label_rel(main)))
                    )
                else:
                    parts["relevance"] = min(parts.get("relevance", 0.0), label_rel(main))
            if parts.get("relevance", 1.0) < cfg.min_relevance:
                continue
            if e.position is not None:
                parts["distance"] = proximity(e.position, state.position, cfg.distance_scale)
            out.append(replace(e, parts=parts, score=total_score(parts, cfg)))
        return sorted(out, key=lambda e: (-e.score, e.key))

    def _label_relevance(self, goal: Goal) -> Any:
        """label -> relevance to the goal text (labels named only as a place are capped at 0.6); cached per call."""
        cache: dict[str, float] = {}
        text = goal.text or goal.label or ""
        where_words = _location_words(goal.text) if goal.text else set()

        def rel(label: str) -> float:
            r = cache.get(label)
            if r is None:
                r = float(text_relevance(self.embedder, text, [label])[0])
                lw = words(label)
                if lw and lw[-1] in where_words and r >= 0.8 and not (goal.label and label == goal.label):
                    r = min(r, 0.6)  # "from the table": the table is where, not what
                cache[label] = r
            return r

        return rel

    def propose(
        self,
        goal: Goal | str,
        state: RobotState,
        now: float | None = None,
        exclude_objects: Iterable[int] = (),
    ) -> tuple[GoalProposal, ...]:
        """Where to go for the goal, best first; the last proposal is always ``explore``."""
        goal = Goal.of(goal)
        state = _check_state(state)
        if now is None:
            now = state.time if state.time is not None else self.memory.newest_stamp
        cfg = self.memory.config.retrieval
        excluded = {int(i) for i in exclude_objects}
        targets, rel = self._targets(goal, state, now)
        found: list[tuple[float, GoalProposal]] = []
        ruled_out: list[str] = []
        for o in targets:
            if o.object_id in excluded:
                ruled_out.append(f"{o.name} already searched for")
                continue
            if o.status == "absent" or self.memory.temporal.is_absent(o.object_id):
                a = self.memory.temporal.last_absence(o.object_id)
                when = f" at t={a.stamp:.1f}s" if a is not None else ""
                ruled_out.append(f"{o.name} was observed absent at its remembered place{when}")
                continue
            share = o.labels.get(o.label, 0.0) / (sum(o.labels.values()) or 1.0)
            fresh = math.exp(-max(0.0, now - o.last_seen) / max(cfg.recency_tau, 1e-9))
            conf = float(np.clip(share * rel.get(o.label, 1.0) * (0.6 + 0.4 * fresh), 0.0, 1.0))
            view = None
            snaps = [
                s
                for s in self.memory.spatial.best_snapshots(o.object_id, 5)
                if self._shows_current_place(o.object_id, s.stamp, o.centroid)
                and self._in_view_range(s.pose, o.centroid)
            ][:1]
            if snaps:
                vs = RobotState.from_pose(snaps[0].pose)
                view = (vs.position[0], vs.position[1], vs.yaw)
            order = conf * (0.5 + 0.5 * proximity(o.centroid, state.position, cfg.distance_scale))
            found.append(
                (
                    order,
                    GoalProposal(
                        kind="object",
                        confidence=conf,
                        target=o.centroid,
                        view_pose=view,
                        object_id=o.object_id,
                        label=o.label,
                        place=o.place,
                        reason=f"{o.name} last seen t={o.last_seen:.1f}s ({o.n_obs} sightings)",
                        evidence=(f"object:{o.object_id}",) + ((f"snapshot:{snaps[0].snapshot_id}",) if snaps else ()),
                    ),
                )
            )
        found.sort(key=lambda t: (-t[0], t[1].object_id or 0))
        proposals = [p for _, p in found]
        usually = self._usually_in(goal, targets, state, now)
        note = "; ".join(ruled_out[:3])
        if not len(self.memory.places):
            proposals += usually
            proposals.append(self._explore(goal, note, bool(proposals)))
            return tuple(proposals)
        # places this search already looked around in: those of the objects already searched for (the robot went to
        # the object's view and looked around); evidence for them does not send the robot back, exploration ends there
        searched = {
            o.place for o in (self.memory.spatial.get(i) for i in sorted(excluded)) if o is not None and o.place
        }
        usually = [p for p in usually if p.place not in searched]
        known = {
            p.place: (p.confidence, p.reason, p.evidence) for p in usually if self.memory.places.get(p.place or "")
        }
        proposals += [p for p in usually if p.place not in known]
        ids = [o.object_id for o in targets]
        observed = self._place_observations()
        evidence = place_evidence(
            self.memory, goal.label or (targets[0].label if targets else None), ids, known, observed, now
        )
        here = (state.position[0], state.position[1])
        proposals += [
            p
            for p in evidence_proposals(
                self.memory, evidence, goal.label, here, cfg.distance_scale, self.viewpoints, self.distance
            )
            if p.place not in searched
        ]
        # explored again, last: places an object proposal sends the robot to, or that this search looked around in
        covered = {p.place for p in proposals if p.place and p.kind == "object"} | searched
        looked = {p.place for p in proposals if p.place and p.kind != "object"}  # looked around already: not again
        start = next((p.xy for p in reversed(proposals) if p.xy is not None), here)
        what = goal.label or goal.text
        why = (
            f"if the candidates above fail, explore for {what!r}"
            if proposals
            else f"memory knows nothing about {what!r} that is still valid"
        )
        if note:
            why += f" ({note})"
        proposals += exploration_order(
            self.memory,
            evidence,
            covered,
            looked,
            start,
            last_news(self.memory, ids),
            goal.label,
            why,
            self.viewpoints,
            self.distance,
        )
        return tuple(proposals)

    # -- internals ---------------------------------------------------------------------
    def _in_view_range(self, pose: Any, where: tuple[float, float, float]) -> bool:
        """A keyframe taken farther than ``view_range`` from the object shows it, but too far to reach it."""
        if self.view_range is None:
            return True
        x, y = RobotState.from_pose(pose).position[:2]
        return math.dist((x, y), where[:2]) <= self.view_range

    def _shows_current_place(self, object_id: int, stamp: float, where: tuple[float, float, float]) -> bool:
        """Whether the object was at ``where`` (its current place) at ``stamp`` (a keyframe is not stale)."""
        w = self.memory.temporal.where_at(object_id, stamp)
        if w.position is None:
            return True
        return math.dist(w.position, where) <= max(self.memory.config.temporal.moved_distance, 0.5)

    def _stale_snapshots(self, entries: list[Entry]) -> dict[str, str]:
        """Keyframes that show an object at a place it has left since -> the newer location entry."""
        out: dict[str, str] = {}
        for e in entries:
            if e.kind != "snapshot" or e.stamp is None:
                continue
            oid = subject(e)
            o = self.memory.spatial.get(oid) if oid is not None else None
            if o is None or o.last_seen <= e.stamp or self._shows_current_place(o.object_id, e.stamp, o.centroid):
                continue
            newer = next((x.key for x in entries if x.kind in LOCATION_KINDS and subject(x) == oid), f"object:{oid}")
            out[e.key] = newer
        return out

    def _labels_of(self, e: Entry) -> dict[str, float] | None:
        if e.kind not in ("object", "sighting", "absence", "change", "snapshot", "fact"):
            return None
        oid = subject(e)
        if oid is None:
            return None
        o = self.memory.spatial.get(oid)
        return o.labels if o is not None else None

    def _targets(self, goal: Goal, state: RobotState, now: float) -> tuple[list[ObjectRecord], dict[str, float]]:
        """Objects the goal names (the best ``max_targets``, near ones first among equals) and their labels' relevance."""
        spatial = self.memory.spatial
        q = Query(
            text=goal.text,
            label=goal.label,
            position=state.position,
            time=now,
            kinds=("object",),
            k=max(self.max_targets, 10),
        )
        if goal.label is not None:
            # the one label rule (robomem.qa.labels): exact, share, head noun, synonym; near ones first among equals
            matches = match_label(goal.label, spatial.objects(), self.embedder)
            rel = {m.label: max(m.score, 0.0) for m in matches}
            objs = [o for o in (spatial.get(m.object_id) for m in matches) if o is not None]
            objs.sort(key=lambda o: (-rel.get(o.label, 0.0), math.dist(o.centroid, state.position), o.object_id))
            return objs[: self.max_targets], {lab: min(1.0, r) for lab, r in rel.items()}
        found = [e for e in spatial.search(q, now) if e.kind == "object" and e.object_ids]
        recs = [r for r in (spatial.get(e.object_ids[0]) for e in found) if r is not None]
        if not recs:
            return [], {}
        label_rel = self._label_relevance(goal)
        rel = {o.label: label_rel(o.label) for o in recs}
        top = max(rel.values())
        if top < 0.5:
            return [], {}
        chosen = {lab for lab, r in rel.items() if r >= max(0.5, top - 0.05)}
        objs = [o for o in recs if o.label in chosen]
        return objs[: self.max_targets], {lab: rel[lab] for lab in chosen}

    def _usually_in(self, goal: Goal, targets: list[ObjectRecord], state: RobotState, now: float) -> list[GoalProposal]:
        """Consolidated "X usually_in place" facts from semantic memory (nothing while it is a placeholder)."""
        subjects = {goal.label} if goal.label else {o.label for o in targets}
        if not subjects and goal.text:
            subjects = {goal.text}
        out: list[GoalProposal] = []
        seen: set[str] = set()
        for subj in sorted(s for s in subjects if s):
            try:
                facts = self.memory.semantic.search(Query(text=subj, kinds=("fact",), time=now, k=20), now)
            except ValueError:
                continue
            for e in facts:
                place = _usually_place(e, subj)
                if place is None or place in seen:
                    continue
                seen.add(place)
                target = e.position
                p = self.memory.places.get(place)
                if p is not None:
                    target = (p.centre[0], p.centre[1], 0.0)
                conf = 0.5 * float(e.parts.get("confidence", 1.0)) * float(e.parts.get("relevance", 1.0))
                out.append(
                    GoalProposal(
                        kind="usually_in",
                        confidence=min(conf, 0.5),
                        target=target,
                        place=place,
                        label=subj,
                        reason=f"semantic memory: {e.text}",
                        evidence=(e.key, *e.provenance),
                    )
                )
        out.sort(key=lambda p: -p.confidence)
        return out

    def _explore(self, goal: Goal, note: str, has_other: bool) -> GoalProposal:
        """The last proposal where no places are known: look around here."""
        what = goal.label or goal.text
        if has_other:
            reason = f"if the candidates above fail, explore for {what!r}"
        else:
            reason = f"memory knows nothing about {what!r} that is still valid; explore"
        if note:
            reason += f" ({note})"
        return GoalProposal(kind="explore", confidence=0.0, reason=reason)

    def _place_observations(self) -> dict[str, tuple[float, int]]:
        """Newest frame and frame count per place (cached until memory gets a new frame)."""
        key = self.memory.newest_stamp
        if self._observed is not None and self._observed[0] == key:
            return self._observed[1]
        obs = place_observations(self.memory)
        self._observed = (key, obs)
        return obs

    def _pack(
        self,
        candidates: list[Entry],
        superseded: dict[str, str],
        shell: Context,
        k: int,
        max_tokens: int,
        used: int,
    ) -> tuple[list[Entry], int]:
        min_rel = self.memory.config.retrieval.min_relevance

        def order(e: Entry) -> tuple[bool, float, str]:
            return (e.key in superseded, -e.score, e.key)

        ranked = sorted(candidates, key=order)
        reserved: list[Entry] = []
        per_source: dict[str, int] = {}
        for e in ranked:
            if e.key in superseded or e.parts.get("relevance", 1.0) < min_rel:
                continue
            if per_source.get(e.source, 0) < self.min_per_source:
                per_source[e.source] = per_source.get(e.source, 0) + 1
                reserved.append(e)
        reserved_keys = {e.key for e in reserved}
        chosen: list[Entry] = []
        for e in reserved + [e for e in ranked if e.key not in reserved_keys]:
            if len(chosen) >= k:
                break
            cost = estimate_tokens(shell.line(e)) + 1
            if used + cost > max_tokens:
                continue
            chosen.append(e)
            used += cost
        return sorted(chosen, key=order), used


# -- helpers ---------------------------------------------------------------------------
def _check_budget(k: Any, max_tokens: Any) -> None:
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= 10_000:
        raise ValueError(f"Planner: k must be an integer in [1, 10000], got {k!r}")
    if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 16:
        raise ValueError(f"Planner: max_tokens must be an integer >= 16, got {max_tokens!r}")


def _check_state(state: Any) -> RobotState:
    if isinstance(state, RobotState):
        return state
    raise ValueError(f"Planner: state must be a RobotState (position, yaw, time), got {type(state).__name__}")


def _location_words(text: str) -> set[str]:
    """Nouns that follow a preposition ("from the table" -> table)."""
    ws = words(text)
    out: set[str] = set()
    for i, w in enumerate(ws):
        if w in _PREPOSITIONS:
            for nxt in ws[i + 1 : i + 4]:
                if nxt in ("the", "a", "an", "my", "our", "this", "that"):
                    continue
                out.add(nxt)
                # "on the kitchen table": the noun is the last of a short phrase
                j = ws.index(nxt, i + 1)
                if j + 1 < len(ws) and ws[j + 1] not in _PREPOSITIONS and ws[j + 1] not in ("and", "then"):
                    out.add(ws[j + 1])
                break
    return out
