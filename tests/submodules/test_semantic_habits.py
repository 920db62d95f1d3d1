"""The visit tally behind ``usually_in`` (issue 14): kept incrementally, it must agree with a full recount.

Unit cases on ``VisitTally`` (updates vs. a fresh build, including the class's earliest sighting going
away), and a real Memory whose periodic pass (re-reading only the objects seen since) must leave exactly
the facts a full ``consolidate()`` computes from every sighting.
"""

from __future__ import annotations

import numpy as np
import pytest

from robomem import Memory, MemoryConfig, Place
from robomem.submodules.semantic.habits import ObjectVisits, VisitTally, group_visits
from robomem.testing.synthetic import Box, BoxScene, look_at

WINDOW = 10.0


def rows(
    sightings: list[tuple[int, str, float]],
) -> tuple[np.ndarray, np.ndarray, list[str], np.ndarray, np.ndarray]:
    """The arrays temporal ``visit_windows`` gives, from (object, place, t_start) rows: places as codes into
    names in order of first appearance (not sorted: group_visits sorts them)."""
    oids = np.array([s[0] for s in sightings], np.int64)
    ts = np.array([s[2] for s in sightings], float)
    names = list(dict.fromkeys(s[1] for s in sightings))
    codes = np.array([names.index(s[1]) for s in sightings], np.int64)
    return oids, codes, names, (ts / WINDOW).astype(np.int64), ts


def built(sightings, labels: dict[int, str]) -> VisitTally:
    ids = np.array(sorted(labels), np.int64)
    uniq = tuple(sorted(set(labels.values())))
    lab_idx = np.array([uniq.index(labels[i]) for i in sorted(labels)], np.int64)
    tally = VisitTally()
    tally.build(rows(sightings), ids, lab_idx, uniq, epoch=0)
    return tally


def per_object(sightings, oid: int) -> dict[str, tuple[int, float]]:
    out: dict[str, tuple[int, float]] = {}
    for o, p, _t in sightings:
        if o == oid:
            wins = {int(tt / WINDOW) for oo, pp, tt in sightings if oo == oid and pp == p}
            first = min(tt for oo, pp, tt in sightings if oo == oid and pp == p)
            out[p] = (len(wins), first)
    return out


BASE = [
    (1, "kitchen", 5.0),
    (1, "kitchen", 7.0),  # the same window: one visit
    (1, "kitchen", 25.0),
    (2, "kitchen", 1.0),  # the class's first kitchen sighting
    (2, "hall", 40.0),
    (3, "hall", 12.0),
    (4, "hall", 3.0),  # no longer an object at build: not counted in any class
]
LABELS = {1: "mug", 2: "mug", 3: "book"}


def test_group_visits_counts_distinct_windows_and_first_sighting():
    o, names, p, v, first = group_visits(*rows(BASE))
    got = {(int(a), names[int(b)]): (int(c), float(d)) for a, b, c, d in zip(o, p, v, first, strict=True)}
    assert got == {
        (1, "kitchen"): (2, 5.0),
        (2, "kitchen"): (1, 1.0),
        (2, "hall"): (1, 40.0),
        (3, "hall"): (1, 12.0),
        (4, "hall"): (1, 3.0),
    }
    tally = built(BASE, LABELS)
    assert tally.class_visits("mug") == {"kitchen": (3, 1.0), "hall": (1, 40.0)}
    assert tally.class_visits("book") == {"hall": (1, 12.0)}
    assert tally.object_visits(4) == ObjectVisits(None, {"hall": (1, 3.0)})
    assert tally.missing(np.array([1, 3], np.int64)) == [2]


@pytest.mark.parametrize(
    "change",
    [
        "new visit",  # object 1 seen again in a new window
        "earliest gone",  # object 2 (the mugs' first kitchen sighting) merged away into object 3
        "relabelled",  # object 1 is a book now
    ],
)
def test_class_totals_after_updates_equal_a_fresh_build(change):
    tally = built(BASE, LABELS)
    after, labels = list(BASE), dict(LABELS)
    if change == "new visit":
        after.append((1, "kitchen", 61.0))
        after.append((1, "hall", 62.0))
        dirty = {1}
    elif change == "earliest gone":
        after = [(3 if o == 2 else o, p, t) for o, p, t in after]
        labels.pop(2)
        dirty = {2, 3}
    else:
        labels[1] = "book"
        dirty = {1}
    updates = {oid: ObjectVisits(labels.get(oid), per_object(after, oid)) for oid in dirty}
    totals = tally.class_totals(updates)
    fresh = built(after, labels)
    for lab in ("mug", "book"):
        assert totals.get(lab, tally.class_visits(lab)) == fresh.class_visits(lab), lab
    tally.apply(updates, totals)
    for lab in ("mug", "book"):
        assert tally.class_visits(lab) == fresh.class_visits(lab)
    for oid in (1, 2, 3):
        assert tally.object_visits(oid) == fresh.object_visits(oid)


PLACES = [Place("kitchen", (0, -3), (4, 3)), Place("living_room", (4, -3), (8, 3))]
KITCHEN_VIEW = look_at((2, -2.0, 1.8), (2, 0, 0.7))
LIVING_VIEW = look_at((6, -2.0, 1.8), (6, 0.2, 0.6))
AWAY = look_at((2, -2.0, 1.8), (2, -9.0, 1.8))  # at nothing: a frame with no detection


def scene(mug: tuple[float, float]) -> BoxScene:
    z = 0.85 if mug[0] < 4 else 0.9
    boxes = [
        Box(1, "kitchen table", (2, 0, 0.375), (1.2, 0.8, 0.75), (140, 90, 40)),
        Box(2, "sofa", (6, 0.2, 0.4), (1.6, 0.8, 0.8), (60, 60, 160)),
        Box(3, "red mug", (mug[0], mug[1], z), (0.2, 0.2, 0.2), (220, 30, 30)),
        Box(4, "book", (2.3, -0.1, 0.8), (0.3, 0.25, 0.1), (30, 160, 60)),
    ]
    return BoxScene(boxes, 160, 120, hfov_deg=60)


def usually(mem: Memory) -> set[tuple[str, str, int, float]]:
    return {(f.subject, f.object, f.count, round(f.confidence, 4)) for f in mem.semantic.facts(predicate="usually_in")}


def test_periodic_pass_keeps_the_facts_a_full_recount_gives(tmp_path, embedder):
    cfg = MemoryConfig.from_dict({"semantic": {"consolidate_every": 2, "visit_window_s": 1.0}})
    with Memory.open(tmp_path / "m", config=cfg, embedder=embedder) as mem:
        mem.set_places(PLACES)
        t = 0.0
        plan = [("kitchen", KITCHEN_VIEW)] * 6 + [("kitchen", LIVING_VIEW)] + [("living", LIVING_VIEW)] * 7
        plan += [("living", KITCHEN_VIEW)]
        for room, view in plan:
            r = mem.update(scene((1.7, 0.1) if room == "kitchen" else (6.2, 0.2)).observe(view, t))
            t += 1.0
        for _ in range(2):  # frames with nothing in view: the periodic pass after them has read every sighting
            r = mem.update(scene((6.2, 0.2)).observe(AWAY, t))
            assert not r.object_ids
            t += 1.0
        periodic = usually(mem)
        assert any(s.startswith("class:") for s, *_ in periodic) and any(s.startswith("object:") for s, *_ in periodic)
        n_facts = mem.stats()["rows"]["facts"]
        mem.consolidate()  # the full recount from every sighting
        assert usually(mem) == periodic
        assert mem.stats()["rows"]["facts"] == n_facts  # nothing left to add, close or supersede
