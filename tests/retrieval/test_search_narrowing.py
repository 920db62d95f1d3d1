"""Object search narrowed to the slots of relevant labels returns exactly what the scan of every slot returns."""

from __future__ import annotations

from robomem import Memory, Query
from robomem.submodules.spatial import search
from robomem.testing.synthetic import BoxScene, demo_boxes, look_at


def _entries(mem: Memory, q: Query) -> list[tuple[str, str, tuple[tuple[str, float], ...]]]:
    return [(e.key, e.text, tuple(sorted(e.parts.items()))) for e in mem.spatial.search(q, mem.newest_stamp)]


def test_narrowed_object_search_equals_the_full_scan(tmp_path, embedder, monkeypatch):
    with Memory.open(tmp_path / "m", embedder=embedder) as mem:
        scene = BoxScene(demo_boxes())
        for t, eye in enumerate([(0.0, 0.0, 1.5), (0.2, -0.5, 1.5), (0.3, 0.5, 1.4), (1.0, -2.0, 1.6)]):
            mem.update(scene.observe(look_at(eye, (2.3, -0.3, 0.7)), float(t)))
        queries = [Query(text=w, k=k) for w in ("red mug", "mug", "book", "chair", "a thing to sit on") for k in (1, 5)]
        queries += [Query(text="mug", position=(2.0, 0.0, 0.8), radius=r, k=3) for r in (0.5, 3.0)]
        queries += [Query(text=w, since=t, k=3) for w in ("mug", "book", "chair") for t in (0.5, 2.5, 3.0, 3.5)]
        queries += [Query(text=w, until=t, k=3) for w in ("mug", "book", "chair") for t in (-0.5, 0.0, 2.0)]
        narrowed = 0
        for q in queries:
            monkeypatch.setattr(search, "NARROW_FRACTION", 1.0)  # always narrow when a text asks
            got = _entries(mem, q)
            index = mem.spatial._index
            rel = mem.spatial._relevance.get(q.search_text, index.vocab)
            narrowed += search._relevant_slots(index, rel, mem.config.retrieval.min_relevance, index.top) is not None
            monkeypatch.setattr(search, "NARROW_FRACTION", -1.0)  # never: scan every slot
            assert got == _entries(mem, q), q
        assert narrowed == len(queries)
        assert any(_entries(mem, q) for q in queries)
