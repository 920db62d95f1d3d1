"""Temporal memory's last-seen search takes its candidates from spatial memory by top label, the most relevant
labels first and only as many as hold enough objects (``spatial.search.labelled``), and ranks exactly as a pass
over every object with evidence did, through a session of sightings, absences, moves and new labels."""

from __future__ import annotations

import numpy as np
import pytest

from robomem import Memory, Query
from robomem.config import RetrievalConfig
from robomem.retrieval.embedding import make_embedder
from robomem.retrieval.query import text_relevance
from robomem.submodules.spatial.index import IndexedObject, ObjectIndex
from robomem.submodules.spatial.search import RelevanceCache, labelled
from robomem.submodules.temporal.memory import best_first_by
from robomem.testing.synthetic import Box, BoxScene, look_at

COLOURS = ["red", "blue", "green", "white"]
NOUNS = ["mug", "cup", "bowl", "book", "bottle"]
LABELS = [f"{c} {n}" for c in COLOURS for n in NOUNS]


def test_labelled_takes_whole_labels_by_relevance_until_enough() -> None:
    rng = np.random.default_rng(5)
    index = ObjectIndex(cell=1.0)
    cache = RelevanceCache(make_embedder("hash"))
    for oid in range(1, 801):
        c = rng.uniform(0, 20, 3)
        lab = LABELS[int(rng.integers(len(LABELS)))]
        index.upsert(IndexedObject(oid, c - 0.1, c + 0.1, c, 1.0, 2.0, 2, lab, (), False))
    for oid in range(1, 801, 7):
        index.remove(oid)
    text, floor = "where is the red mug", 0.3
    rcfg = RetrievalConfig(min_relevance=floor)
    rel = dict(zip(index.vocab, cache.get(text, index.vocab).tolist(), strict=True))
    live = {oid: index.vocab[int(index.lab_idx[s])] for oid, s in index.slot_of.items()}
    relevant = {oid for oid, lab in live.items() if rel[lab] >= floor}
    for enough in (1, 10, 40, 150, 10**6, None):
        ids, relv, complete = labelled(index, cache, rcfg, Query(text=text), enough)
        got = set(ids.tolist())
        assert len(got) == len(ids) and got <= relevant
        assert relv.tolist() == [rel[live[o]] for o in ids.tolist()]
        cut = float(relv.min())
        # every object at least as relevant as the least relevant one taken is taken: none left out outranks
        assert got == {o for o in relevant if rel[live[o]] >= cut}
        assert complete == (got == relevant)
        assert complete or len(got) >= (enough or 0)
    assert labelled(index, cache, rcfg, Query(text=text), None)[2]
    ids, relv, _ = labelled(index, cache, rcfg, Query(text=text, label="blue cup"), 5)  # all its objects
    assert set(ids.tolist()) == {o for o, lab in live.items() if lab == "blue cup"} and len(set(relv.tolist())) == 1
    some = (2, 3, 4, 8, 10**9)
    ids, _, _ = labelled(index, cache, rcfg, Query(object_ids=some), 1)
    assert sorted(ids.tolist()) == sorted(o for o in some if o in live)


def full_scan(mem: Memory, q: Query) -> list[int]:
    """The last-seen ranking as it was: every object with a latest sighting or absence, masked by the query,
    sorted by (relevance, latest sighting's end, lower id), the first max(2 k, 10)."""
    rcfg = mem.config.retrieval
    index = mem.spatial.label_index()
    rows = []
    rel = text_relevance(mem.embedder, q.search_text, list(index.uniq)) if q.search_text else None
    for oid, j in zip(index.ids.tolist(), index.lab_idx.tolist(), strict=True):
        s, a = mem.temporal.last_seen(oid), mem.temporal.last_absence(oid)
        if s is None and a is None:
            continue
        if q.object_ids and oid not in q.object_ids:
            continue
        if q.label is not None and index.uniq[j] != q.label:
            continue
        r = 1.0 if rel is None else float(rel[j])
        if rel is not None and not (q.object_ids or q.label) and r < rcfg.min_relevance:
            continue
        rows.append((-r, -(s.t_end if s is not None else 0.0), oid))
    return [oid for _r, _t, oid in sorted(rows)[: max(q.k * 2, 10)]]


def ranked_ids(mem: Memory, q: Query) -> list[int]:
    return mem.temporal._ranked(q)[0]  # noqa: SLF001 - the ranking compared


@pytest.mark.parametrize("seed", [0])
def test_last_seen_ranking_equals_the_full_scan_through_a_session(tmp_path, embedder, seed: int) -> None:
    rng = np.random.default_rng(seed)
    boxes = []
    for i in range(60):  # two rows of small objects on the floor, labels repeating
        x, y = 0.5 + 0.3 * (i % 30), (0.0 if i < 30 else 0.6)
        lab = LABELS[int(rng.integers(len(LABELS)))]
        colour = tuple(int(c) for c in rng.integers(30, 230, 3))
        boxes.append(Box(i + 1, lab, (x, y, 0.1), (0.16, 0.16, 0.2), colour))
    scene = BoxScene(boxes, 320, 240, hfov_deg=90)
    queries = [
        Query(text="where is the red mug", k=2),
        Query(text="find a book", k=5),
        Query(text="bottle", k=1),
        Query(text="a cup", label="green cup", k=3),
        Query(label="white bowl", k=4),
        Query(object_ids=(3, 5, 8, 13, 10**6), k=2),
        Query(text="mug", object_ids=(1, 2, 3, 4, 5, 6), k=2),
        Query(k=3),
    ]
    compared = 0
    with Memory.open(tmp_path / "m", embedder=embedder) as mem:
        t = 0.0
        for lap in range(3):
            for j in range(12):  # along the rows, looking down at them
                x = 0.5 + 0.75 * j
                mem.update(scene.observe(look_at((x, -1.2, 1.3), (x, 0.3, 0.0)), t))
                t += 1.0
            for q in queries:
                assert ranked_ids(mem, q) == full_scan(mem, q)
                compared += 1
            for b in rng.choice(len(scene.boxes), 8, replace=False).tolist():  # moved off the rows or away
                old = scene.boxes[b]
                scene.boxes[b] = Box(old.instance_id, old.label, (old.center[0], 3.0 + lap, 0.1), old.size, old.colour)
            scene.boxes.append(Box(100 + lap, "orange kettle", (1.0 + lap, 0.3, 0.1), (0.2, 0.2, 0.25), (240, 120, 20)))
        assert any(mem.temporal.last_absence(o.object_id) for o in mem.objects())
        assert len(mem.objects()) > 30
    assert compared == 3 * len(queries)


@pytest.mark.parametrize("n", [5, 200, 5000])
def test_best_first_by_equals_a_full_sort(n: int) -> None:
    rng = np.random.default_rng(n)
    for _ in range(20):
        relevance = rng.choice([0.35, 0.5, 0.8, 0.8, 1.0], n)  # many ties, as a goal's noun gives
        if n > 5:
            relevance[rng.integers(0, n, 3)] = np.nan
        t_end = np.round(rng.uniform(0, 100, n))  # ties in time too
        ids = rng.permutation(n) + 1
        m = int(rng.integers(1, 40))
        key = np.where(np.isnan(relevance), -np.inf, relevance)
        want = sorted(range(n), key=lambda i: (-key[i], -t_end[i], ids[i]))[:m]
        assert best_first_by(relevance, t_end, ids, m).tolist() == want
