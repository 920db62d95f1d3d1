"""merge scores, de-duplicates (keeping the best, the first of equals) and keeps k, copying only those k."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from robomem.config import RetrievalConfig
from robomem.retrieval.query import Entry, merge, total_score


def _reference(cands: list[Entry], cfg: RetrievalConfig, k: int) -> list[Entry]:
    best: dict[str, Entry] = {}
    for e in cands:
        e = replace(e, score=total_score(e.parts, cfg))
        cur = best.get(e.key)
        if cur is None or e.score > cur.score:
            best[e.key] = e
    return sorted(best.values(), key=lambda e: (-e.score, e.key))[:k]


def test_merge_equals_scoring_every_candidate() -> None:
    rng = np.random.default_rng(0)
    cfg = RetrievalConfig()
    for _ in range(50):
        cands = [
            Entry(
                key=f"object:{int(rng.integers(0, 15))}",
                kind="object",
                source=f"s{i}",  # which of equal-keyed entries was kept shows in its source
                text="x",
                parts={p: float(rng.integers(0, 3)) / 2 for p in ("relevance", "recency", "distance")},
            )
            for i in range(int(rng.integers(0, 40)))
        ]
        k = int(rng.integers(1, 12))
        got, want = merge(cands, cfg, k), _reference(cands, cfg, k)
        assert [(e.key, e.source, e.score) for e in got] == [(e.key, e.source, e.score) for e in want]
        assert all(e.score == total_score(e.parts, cfg) for e in got)
