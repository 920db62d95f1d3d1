"""Background embedding (issue 14): texts a query will need are embedded after the commit, not in the query."""

from __future__ import annotations

import numpy as np

from robomem import Memory, Place, Query
from robomem.retrieval.embedding import HashEmbedder
from robomem.testing.synthetic import Box, BoxScene, look_at


class CountingHash(HashEmbedder):
    """The real hashing embedder, recording each batch it encodes."""

    def __init__(self) -> None:
        super().__init__()
        self.batches: list[list[str]] = []

    def _encode(self, texts: list[str]) -> np.ndarray:
        self.batches.append(list(texts))
        return super()._encode(texts)


def test_prefetched_texts_are_embedded_once_and_equal_direct_embedding():
    emb = CountingHash()
    texts = ["red mug located in kitchen", "red mug", "kitchen"]
    emb.prefetch(texts + ["", "red mug"])  # blanks and repeats are skipped
    assert emb.settle(10.0)
    assert all(emb.is_cached(t) for t in texts) and not emb.is_cached("")
    assert sorted(t for b in emb.batches for t in b) == sorted(texts)
    got = emb.embed(texts)  # served from the cache: no further model call
    assert len(emb.batches) == 1
    np.testing.assert_allclose(got, HashEmbedder().embed(texts))
    emb.prefetch(texts)  # already cached: nothing queued
    assert emb.settle(1.0) and len(emb.batches) == 1


def test_a_commit_prefetches_the_sentences_of_new_facts(tmp_path):
    emb = CountingHash()
    scene = BoxScene(
        [
            Box(1, "table", (2, 0, 0.375), (1.2, 0.8, 0.75), (140, 90, 40)),
            Box(2, "red mug", (1.8, 0.1, 0.85), (0.2, 0.2, 0.2), (220, 30, 30)),
        ],
        160,
        120,
        hfov_deg=60,
    )
    with Memory.open(tmp_path / "m", embedder=emb) as mem:
        mem.set_places([Place("kitchen", (0, -3), (4, 3))])
        mem.update(scene.observe(look_at((2, -2.0, 1.8), (2, 0, 0.7)), 1.0))
        assert emb.settle(10.0)
        for text in ("red mug located in kitchen", "table located in kitchen", "red mug", "kitchen"):
            assert emb.is_cached(text), text
        n = len(emb.batches)
        hits = mem.retrieve(Query(text="where is the red mug", kinds=("fact",), k=5))
        assert hits and "red mug" in hits[0].text
        # the query's model calls embed only its own text: the facts' sentences and names were ready
        assert {t for b in emb.batches[n:] for t in b} <= {"where is the red mug"}
