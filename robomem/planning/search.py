"""The search order after the remembered objects: places ranked by memory's evidence, then exploration.

:meth:`robomem.planning.planner.Planner.propose` puts the goal's remembered objects first (each
with its best view pose); what follows comes from here, so every simulator and the ROS planner
node get the same search:

1. **Places memory has evidence for** (:func:`place_evidence`), best first: ``usually_in`` facts
   for the target object and its class, and past search episodes that found the target there
   ("last time I looked for it, it was in the bedroom": the episodes' typed ``target`` and
   ``found_in`` fields, written by the search runner).  A place is
   *ruled out* where the target was observed absent (and not seen there since); a ruled-out
   place gets no evidence proposal.  Among places with evidence the score is raised for a place
   not observed since the target was last seen (it may have gone there unseen) and ordered by
   the robot's distance.
2. **Exploration of every other place** (:func:`exploration_order`), least recently seen first,
   nearest first: places not observed since the target's last news (never observed at all, when
   memory knows nothing of the target) are toured before places looked at since, and places a
   proposal above already covers or that were ruled out come last; within each group the tour
   (:func:`tour_order`) that reaches the places soonest on average from where the previous
   proposal leaves the robot (the order that minimises the expected travel when the target is
   equally likely in any of them; nearest-neighbour past ``EXACT_TOUR`` places).

Distances are *path* distances on the navigable map when the robot supplies a distance function
(``distance(a, b) -> metres | None``, None = unreachable; the household simulator's is
:class:`robomem.envs.navigation.PathDistance`), else straight lines.  Straight lines mislead
indoors: two rooms either side of a wall are close in a line and far by the door.  Places the
robot cannot reach now go last in their group.

A place is visited at its *viewpoint*: one the robot supplies (a spot from which most of the place
can be seen, e.g. a simulator's room viewpoints) or else the place's centre.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from robomem.memory import Memory
from robomem.places import Place
from robomem.planning.context import GoalProposal
from robomem.retrieval.query import Entry, words

EPISODE_WEIGHT = 0.6  # evidence of one past successful search that ended in a place
EPISODE_HALF_LIFE_S = 86_400.0  # a day-old "found it there" counts half
STALE_BONUS = 0.15  # evidence for a place not observed since the target was last seen is raised by this
EXACT_TOUR = 7  # up to this many places a tour is chosen among all orders (7! = 5040), past it nearest-neighbour

XY = tuple[float, float]
Distance = Callable[[XY, XY], "float | None"]  # path length between two points, None = unreachable


def travel(distance: Distance | None, a: XY, b: XY) -> float:
    """Metres from ``a`` to ``b``: ``distance`` (path length on the robot's map) if given, else a straight line;
    inf where the map says ``b`` cannot be reached."""
    if distance is None:
        return math.dist(a, b)
    d = distance(a, b)
    return math.inf if d is None or not math.isfinite(d) else float(d)


def tour_order(stops: Sequence[tuple[str, XY]], start: XY, distance: Distance | None = None) -> list[int]:
    """Indices of ``stops`` ((name, xy) pairs) in the order to visit them from ``start``: the order with the least
    sum of arrival distances (the expected travel until the target is found when it is equally likely at any
    stop), among all orders for up to ``EXACT_TOUR`` stops, else nearest-neighbour; unreachable stops (inf from
    everywhere reached) come last, by name.  Ties break on names, so the order is deterministic."""
    n = len(stops)
    if n == 0:
        return []
    pts = [start] + [xy for _, xy in stops]
    cache: dict[tuple[int, int], float] = {}

    def d(i: int, j: int) -> float:  # 0 = start, k = stop k-1
        key = (i, j)
        if key not in cache:
            cache[key] = travel(distance, pts[i], pts[j])
        return cache[key]

    reach = [k for k in range(n) if math.isfinite(d(0, k + 1))]
    dead = sorted((k for k in range(n) if k not in reach), key=lambda k: stops[k][0])
    if len(reach) <= EXACT_TOUR:
        best: tuple[float, tuple[str, ...], tuple[int, ...]] | None = None
        for perm in itertools.permutations(reach):
            here, t, total = 0, 0.0, 0.0
            for k in perm:
                t += d(here, k + 1)
                total += t
                here = k + 1
            cand = (total, tuple(stops[k][0] for k in perm), perm)
            if best is None or cand[:2] < best[:2]:
                best = cand
        order = list(best[2]) if best is not None else []
        return order + dead
    order, here, todo = [], 0, list(reach)
    while todo:
        k = min(todo, key=lambda k: (d(here, k + 1), stops[k][0]))
        todo.remove(k)
        order.append(k)
        here = k + 1
    return order + dead


def found_outcome(label: str, place: str | None) -> str:
    """The outcome text a search runner records for a successful search, for people to read (the planner reads
    the episode's typed ``target`` / ``found_in`` instead)."""
    return f"success: found {label} in the {place}" if place else f"success: found {label}"


_USUALLY = re.compile(
    r"^(?P<subject>.+?)\s*(?:\||\s)\s*usually[ _]in\s*(?:\||\s)\s*(?:the\s+)?(?P<place>.+?)\s*$", re.I
)


@dataclass(frozen=True)
class PlaceEvidence:
    """What memory says about a place for one search target."""

    place: str
    score: float  # 0 = no evidence
    reasons: tuple[str, ...]
    evidence: tuple[str, ...]  # keys: fact:N, episode:N
    ruled_out: bool  # the target was observed absent there (and not seen there since)
    last_observed: float | None  # newest frame taken in the place
    kind: str = "place"  # "usually_in" when a usually_in fact is the strongest evidence


def place_observations(memory: Memory) -> dict[str, tuple[float, int]]:
    """Place -> (stamp of the newest frame taken there, frames there)."""
    return memory.frames.place_visits()


def place_evidence(
    memory: Memory,
    label: str | None,
    target_ids: Iterable[int],
    usually: Mapping[str, tuple[float, str, tuple[str, ...]]],
    observed: Mapping[str, tuple[float, int]],
    now: float,
) -> dict[str, PlaceEvidence]:
    """Every known place's evidence for the target (``label`` and the objects ``target_ids``).

    ``usually``: place -> (confidence, reason, evidence keys) of the planner's usually_in facts."""
    ids = [int(i) for i in target_ids]
    news = last_news(memory, ids)
    ruled = _ruled_out(memory, ids)
    found = _episode_places(memory, label, now) if label else {}
    out: dict[str, PlaceEvidence] = {}
    for p in memory.places:
        score, reasons, keys, kind = 0.0, [], [], "place"
        if p.name in usually:
            conf, why, ev = usually[p.name]
            score += conf
            reasons.append(why)
            keys += list(ev)
            kind = "usually_in"
        if p.name in found:
            w, why, ev = found[p.name]
            if w > score:
                kind = "place"
            score += w
            reasons.append(why)
            keys += list(ev)
        seen = observed.get(p.name)
        if score > 0 and news is not None and (seen is None or seen[0] <= news):
            score += STALE_BONUS
            reasons.append("not observed since it was last seen")
        out[p.name] = PlaceEvidence(
            place=p.name,
            score=0.0 if p.name in ruled else score,
            reasons=tuple(reasons) + ((ruled[p.name],) if p.name in ruled else ()),
            evidence=tuple(dict.fromkeys(keys)),
            ruled_out=p.name in ruled,
            last_observed=None if seen is None else seen[0],
            kind=kind,
        )
    return out


def viewpoint(place: Place, viewpoints: Mapping[str, tuple[float, float]] | None) -> tuple[float, float]:
    if viewpoints is not None and place.name in viewpoints:
        x, y = viewpoints[place.name]
        return (float(x), float(y))
    return place.centre


def evidence_proposals(
    memory: Memory,
    evidence: Mapping[str, PlaceEvidence],
    label: str | None,
    position: tuple[float, float],
    distance_scale: float,
    viewpoints: Mapping[str, tuple[float, float]] | None,
    distance: Distance | None = None,
) -> list[GoalProposal]:
    """Places with evidence, best first (evidence, then nearness to ``position``: path length if ``distance``)."""
    ranked = []
    for ev in evidence.values():
        place = memory.places.get(ev.place)
        if ev.score <= 0 or ev.ruled_out or place is None:
            continue
        xy = viewpoint(place, viewpoints)
        near = math.exp(-travel(distance, position, xy) / max(distance_scale, 1e-9))
        ranked.append((ev.score * (0.75 + 0.25 * near), ev, xy))
    ranked.sort(key=lambda t: (-t[0], t[1].place))
    return [
        GoalProposal(
            kind=ev.kind,
            confidence=min(0.5, order),
            target=(xy[0], xy[1], 0.0),
            place=ev.place,
            label=label,
            reason="; ".join(ev.reasons),
            evidence=ev.evidence,
        )
        for order, ev, xy in ranked
    ]


def exploration_order(
    memory: Memory,
    evidence: Mapping[str, PlaceEvidence],
    covered: set[str],
    looked: set[str],
    start: tuple[float, float],
    last_news: float | None,
    label: str | None,
    why: str,
    viewpoints: Mapping[str, tuple[float, float]] | None,
    distance: Distance | None = None,
) -> list[GoalProposal]:
    """Every place not in ``looked`` as an ``explore`` proposal: least recently seen group first, within each the
    :func:`tour_order` from where the previous group (or ``start``) leaves the robot; places in ``covered``
    (a remembered object sends the robot there) or ruled out come last."""
    groups: dict[int, list[tuple[Place, tuple[float, float]]]] = {}
    for p in memory.places:
        if p.name in looked:
            continue
        ev = evidence.get(p.name)
        seen = ev.last_observed if ev is not None else None
        if p.name in covered or (ev is not None and ev.ruled_out):
            g = 2
        elif seen is None or (last_news is not None and seen <= last_news):
            g = 0
        else:
            g = 1
        groups.setdefault(g, []).append((p, viewpoint(p, viewpoints)))
    out: list[GoalProposal] = []
    here = start
    names = {0: "not observed since its last news", 1: "observed since", 2: "already covered or ruled out"}
    how = "path" if distance is not None else "straight-line"
    for g in sorted(groups):
        stops = groups[g]
        for k in tour_order([(p.name, xy) for p, xy in stops], here, distance):
            p, xy = stops[k]
            far = travel(distance, here, xy)
            ev = evidence.get(p.name)
            seen = (
                "never observed"
                if ev is None or ev.last_observed is None
                else f"last observed t={ev.last_observed:.0f}s"
            )
            out.append(
                GoalProposal(
                    kind="explore",
                    confidence=0.0,
                    target=(xy[0], xy[1], 0.0),
                    place=p.name,
                    label=label,
                    reason=f"{why}; explore the {p.name} ({seen}; {names[g]}; {far:.1f} m {how} from the last stop)",
                )
            )
            here = xy
    return out


# -- evidence helpers ------------------------------------------------------------------------
def last_news(memory: Memory, ids: list[int]) -> float | None:
    """The newest stamp memory has about the targets (a sighting or an observed absence)."""
    stamps = []
    for i in ids:
        s = memory.temporal.last_seen(i)
        if s is not None:
            stamps.append(s.t_end)
        a = memory.temporal.last_absence(i)
        if a is not None:
            stamps.append(a.stamp)
    return max(stamps) if stamps else None


def _ruled_out(memory: Memory, ids: list[int]) -> dict[str, str]:
    """Places where a target was observed absent and is not believed to be since -> why."""
    out: dict[str, str] = {}
    present_in = set()
    for i in ids:
        o = memory.spatial.get(i)
        if o is None:
            continue
        if memory.temporal.is_absent(i) or o.status == "absent":
            a = memory.temporal.last_absence(i)
            place = (a.place if a is not None else None) or o.place
            if place:
                out[place] = f"{o.name} observed absent there" + (f" at t={a.stamp:.0f}s" if a is not None else "")
        elif o.place:
            present_in.add(o.place)
    return {p: why for p, why in out.items() if p not in present_in}


def _episode_places(memory: Memory, label: str, now: float) -> dict[str, tuple[float, str, tuple[str, ...]]]:
    """Place -> (weight, reason, evidence) from past successful searches for ``label`` (episodes whose typed
    ``target`` is the label and ``found_in`` a known place), each weighted by its age."""
    want = label.strip().lower()
    out: dict[str, tuple[float, str, tuple[str, ...]]] = {}
    for e in memory.episodic.episodes(kind="task"):
        place = e.found_in
        if not e.success or e.target is None or e.target.strip().lower() != want or place is None:
            continue
        if memory.places.get(place) is None:
            continue
        age = max(0.0, now - e.t_end)
        w = EPISODE_WEIGHT * 0.5 ** (age / EPISODE_HALF_LIFE_S)
        why = f"last time I looked for the {label} (episode #{e.episode_id}, t={e.t_end:.0f}s) it was in the {place}"
        prev = out.get(place)
        if prev is None or w > prev[0]:
            out[place] = (w, why, (f"episode:{e.episode_id}",))
    return out


# -- usually_in facts ---------------------------------------------------------------------
def _strip_entity(name: str) -> str:
    """'class:red mug' -> 'red mug', 'place:kitchen' -> 'kitchen', 'red mug #12' -> 'red mug'."""
    name = re.sub(r"^(class|object|place|entity):", "", name.strip())
    return re.sub(r"\s*#\d+$", "", name).strip()


def usually_place(e: Entry, subject: str) -> str | None:
    """The place of a "subject usually_in place" fact entry, else None."""
    d = e.data
    pred = str(d.get("predicate", "")).lower().replace(" ", "_")
    if pred == "usually_in":
        if d.get("valid_to") is not None:
            return None  # a retired fact
        if d.get("subject_label") and d.get("object_label"):  # semantic memory's typed labels: nothing to parse
            return str(d["object_label"]) if _same_thing(str(d["subject_label"]), subject) else None
        subj = _strip_entity(str(d.get("subject_name") or d.get("subject") or subject))
        obj = d.get("object_name") or d.get("object") or d.get("value")
        if obj is not None and _same_thing(subj, subject):
            return _strip_entity(str(obj))
        return None
    m = _USUALLY.match(e.text.strip())
    if m and _same_thing(m.group("subject"), subject):
        return m.group("place").strip().rstrip(".")
    return None


def _same_thing(subject: str, name: str) -> bool:
    """Whether a fact's subject names the searched thing: the same words (plurals folded), or one class noun
    that is the name's head noun ("mugs" covers "red mug"); "white mug" does not cover "floral mug"."""
    ws = [w[:-1] if w.endswith("s") and len(w) > 3 else w for w in words(subject)]
    wn = [w[:-1] if w.endswith("s") and len(w) > 3 else w for w in words(name)]
    if not ws or not wn:
        return False
    return ws == wn or (len(ws) == 1 and ws[0] == wn[-1])
