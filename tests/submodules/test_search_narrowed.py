"""Object search reads only the rows it may return (per-label slot arrays, ids, label members, the grid)
and ranks exactly as a pass over every slot did, through a session of adds, moves, relabels, removals
(with slot reuse) and absences."""

from __future__ import annotations

import math

import numpy as np
import pytest

from robomem.config import RetrievalConfig
from robomem.retrieval.embedding import make_embedder
from robomem.retrieval.query import Query
from robomem.submodules.spatial.index import IndexedObject, ObjectIndex
from robomem.submodules.spatial.label_slots import LabelSlots
from robomem.submodules.spatial.search import RelevanceCache, ranked

COLOURS = ["red", "blue", "green", "white", "black"]
NOUNS = ["mug", "cup", "bowl", "book", "bottle", "plant"]
LABELS = [f"{c} {n}" for c in COLOURS for n in NOUNS] + NOUNS


def full_scan(index: ObjectIndex, cache: RelevanceCache, rcfg: RetrievalConfig, q: Query, now: float) -> list[int]:
    """The search as it was: a mask over every slot, then the first max(3k, 10) of a full sort."""
    n = index.top
    if n == 0 or len(index) == 0:
        return []
    mask = index.active[:n].copy()
    if q.object_ids:
        mask &= np.isin(index.ids[:n], list(q.object_ids))
    if q.label is not None:
        sel = np.zeros(n, dtype=bool)
        sel[index.members_of(q.label)] = True
        mask &= sel
    if q.position is not None and q.radius is not None:
        near = np.zeros(n, dtype=bool)
        near[index.around(np.asarray(q.position), q.radius)] = True
        mask &= near
    if q.since is not None:
        mask &= index.last_seen[:n] >= q.since
    if q.until is not None:
        mask &= index.first_seen[:n] <= q.until
    text = q.search_text
    if text:
        relevance = cache.get(text, index.vocab)[index.lab_idx[:n]]
        if q.label is None and not q.object_ids:
            mask &= relevance >= rcfg.min_relevance
    else:
        relevance = np.ones(n)
    idx = np.flatnonzero(mask)
    rec = np.exp(-np.maximum(0.0, now - index.last_seen[idx]) / rcfg.recency_tau)
    imp = np.minimum(1.0, np.log1p(index.n_obs[idx]) / math.log(50.0))
    pre = rcfg.w_relevance * relevance[idx] + rcfg.w_recency * rec + rcfg.w_importance * imp
    if q.position is not None:
        d = np.linalg.norm(index.cents[idx] - np.asarray(q.position), axis=1)
        pre = pre + rcfg.w_distance * np.exp(-d / max(rcfg.distance_scale, 1e-9))
    keep = np.lexsort((index.ids[idx], -pre))[: max(q.k * 3, 10)]
    return index.ids[idx[keep]].tolist()


def _obj(rng: np.random.Generator, oid: int, t: float, label: str | None = None) -> IndexedObject:
    c = rng.uniform(0, 20, 3)
    c[2] = rng.uniform(0, 1.5)
    h = rng.uniform(0.05, 0.4, 3)
    lab = label or LABELS[int(rng.integers(len(LABELS)))]
    others = tuple(LABELS[int(j)] for j in rng.integers(0, len(LABELS), int(rng.integers(0, 3))))
    # coarse stamps and counts: many exact ties in the pre-score, so the tie rule is exercised
    last = float(np.round(t - rng.uniform(0, 3000), -2))
    return IndexedObject(oid, c - h, c + h, c, last - 100.0, last, int(rng.integers(1, 6)), lab, others, False)


def _queries(rng: np.random.Generator, index: ObjectIndex) -> list[Query]:
    ids = list(index.slot_of)
    pos = (float(rng.uniform(0, 20)), float(rng.uniform(0, 20)), 0.0)
    some = tuple(int(i) for i in rng.choice(ids, min(25, len(ids)), replace=False)) + (10**9,)
    return [
        Query(text="where is the red mug", k=5),
        Query(text="find a book", position=pos, k=10),
        Query(text="bring me the green bottle", position=pos, radius=6.0, k=3),
        Query(text="a plant", since=7000.0, until=9500.0, k=4),
        Query(label="blue cup", position=pos, k=5),
        Query(label="cup", k=2),
        Query(label="black bowl", position=pos, radius=8.0, object_ids=some, k=5),
        Query(text="mug", object_ids=some, k=3),
        Query(object_ids=some, position=pos, k=4),
        Query(position=pos, radius=5.0, k=5),
        Query(position=pos, k=8),
        Query(k=30, until=9000.0),
    ]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_ranking_equals_the_full_scan_through_a_session(seed: int) -> None:
    rng = np.random.default_rng(seed)
    rcfg = RetrievalConfig()
    cache = RelevanceCache(make_embedder("hash"))
    index = ObjectIndex(cell=1.0)
    next_id = 1
    for _ in range(600):
        index.upsert(_obj(rng, next_id, 10_000.0))
        next_id += 1
    compared = 0
    for step in range(12):
        now = 10_000.0 + 10.0 * step
        for q in _queries(rng, index):
            assert index.ids[ranked(index, cache, rcfg, q, now)[0]].tolist() == full_scan(index, cache, rcfg, q, now)
            compared += 1
        ids = list(index.slot_of)
        for oid in rng.choice(ids, 40, replace=False).tolist():  # moved / re-seen, same label
            o = _obj(rng, oid, now, label=index.vocab[int(index.lab_idx[index.slot_of[oid]])])
            index.upsert(o)
        for oid in rng.choice(ids, 15, replace=False).tolist():  # relabelled
            index.upsert(_obj(rng, oid, now))
        for oid in rng.choice(ids, 20, replace=False).tolist():  # removed: their slots are reused below
            index.remove(oid)
        for oid in rng.choice(list(index.slot_of), 10, replace=False).tolist():
            index.set_absent(oid, bool(rng.integers(2)))
        for _ in range(int(rng.integers(5, 30))):
            label = "orange kettle" if step == 5 else None  # a new vocabulary label mid-session
            index.upsert(_obj(rng, next_id, now, label=label))
            next_id += 1
    assert compared == 12 * 12
    assert cache.label_slots.rebuilds == 1  # kept in step from the log, never rebuilt


def test_label_slots_equal_a_fresh_build_after_changes_and_rebuild_past_the_log() -> None:
    rng = np.random.default_rng(7)
    index = ObjectIndex(cell=1.0)
    for oid in range(1, 301):
        index.upsert(_obj(rng, oid, 10_000.0))
    kept = LabelSlots()
    kept.sync(index)
    for oid in range(1, 301, 3):
        index.remove(oid)
    for oid in range(2, 301, 5):
        index.upsert(_obj(rng, oid, 10_000.0))  # a new label for some
    for oid in range(301, 340):
        index.upsert(_obj(rng, oid, 10_000.0))  # into the freed slots
    kept.sync(index)
    fresh = LabelSlots()
    fresh.sync(index)
    every = np.arange(len(index.vocab))
    for j in every.tolist():
        a = kept.slots(index, np.array([j]))[0]
        b = fresh.slots(index, np.array([j]))[0]
        assert sorted(a.tolist()) == sorted(b.tolist()) == index.of_label(index.vocab[j]).tolist()
    assert kept.rebuilds == 1
    for oid in range(1000, 1000 + 9000):  # more label changes than the log keeps: rebuilt, still exact
        index.upsert(_obj(rng, oid, 10_000.0))
    kept.sync(index)
    assert kept.rebuilds == 2
    slots, lab = kept.slots(index, every)
    assert sorted(slots.tolist()) == index.slots().tolist()
    assert (index.lab_idx[slots] == lab).all()


class _AngleEmbedder:
    """Unit vectors at a fixed angle per text: relevance to the query spreads evenly over [0, 1]."""

    def __init__(self, query: str) -> None:
        self._query = query

    def embed(self, texts: list[str]) -> np.ndarray:
        out = []
        for t in texts:
            a = 0.0 if t == self._query else (int(t.split()[-1]) * 0.618) % (math.pi / 2)
            out.append([math.cos(a), math.sin(a)])
        return np.asarray(out)


@pytest.mark.parametrize(
    "rcfg",
    [
        RetrievalConfig(),
        RetrievalConfig(w_recency=1.5, w_importance=0.05, w_distance=0.05, min_relevance=0.1),
        RetrievalConfig(w_relevance=0.2, w_distance=2.0, distance_scale=1.0, recency_tau=300.0),
    ],
)
@pytest.mark.parametrize("perfect", [False, True])
def test_bounds_drop_only_what_cannot_rank(rcfg: RetrievalConfig, perfect: bool) -> None:
    """Many labels of graded relevance, stamps, sightings and places over their whole range: the rows
    skipped by the score bounds are never among the best (a bound one term short would show here)."""
    rng = np.random.default_rng(3)
    text = "fetch it"
    cache = RelevanceCache(_AngleEmbedder(text))
    index = ObjectIndex(cell=1.0)
    now = 10_000.0
    spots = [(1.0, 1.0, 0.0), (10.0, 12.0, 0.5)]
    for oid in range(1, 3001):
        c = rng.uniform(0, 20, 3)
        last = now - float(rng.exponential(900.0))
        lab = f"thing {int(rng.integers(0, 150))}"
        n_obs = int(rng.integers(1, 80))
        if perfect and oid % 3 == 0:  # every term at its top: the score equals its bound
            c, last, n_obs = np.asarray(spots[oid % 2]), now, 60
        index.upsert(IndexedObject(oid, c - 0.1, c + 0.1, c, last - 1.0, last, n_obs, lab, (), False))
    for k in (1, 3, 10, 40):
        for pos in (None, *spots, (5.0, 5.0, 0.0)):
            q = Query(text=text, position=pos, k=k)
            assert index.ids[ranked(index, cache, rcfg, q, now)[0]].tolist() == full_scan(index, cache, rcfg, q, now)


class _NanEmbedder:
    """An embedder (a user's) that gives NaN for some texts: their relevance is NaN, ranked last by the scan."""

    def embed(self, texts: list[str]) -> np.ndarray:
        return np.asarray([[math.nan, math.nan] if t.startswith("odd") else [1.0, 0.0] for t in texts])


@pytest.mark.parametrize("n_nan, n_ok", [(60, 3), (60, 30), (0, 60)])
def test_nan_relevance_ranks_as_in_the_full_scan(n_nan: int, n_ok: int) -> None:
    """Candidates whose relevance is NaN (a label query keeps them): the narrowing and the cut must not
    turn fewer than m finite scores into an error or an empty answer."""
    rcfg, cache, index = RetrievalConfig(), RelevanceCache(_NanEmbedder()), ObjectIndex(cell=1.0)
    labels = [f"odd {i}" for i in range(n_nan)] + [f"thing {i}" for i in range(n_ok)]
    for oid, lab in enumerate(labels, start=1):
        c = np.array([1.0 + 0.01 * oid, 1.0, 0.0])
        index.upsert(IndexedObject(oid, c - 0.1, c + 0.1, c, 0.0, 100.0 + oid % 7, 2, lab, ("box",), False))
    for pos in (None, (1.0, 1.0, 0.0)):
        q = Query(text="a box", label="box", position=pos, k=3)
        want = full_scan(index, cache, rcfg, q, 200.0)
        assert index.ids[ranked(index, cache, rcfg, q, 200.0)[0]].tolist() == want
        assert len(want) == 10
