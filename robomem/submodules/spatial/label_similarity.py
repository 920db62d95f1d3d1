"""How alike two object labels are (cosine of their embeddings, clipped to [0, 1]), cached per pair.

Association asks it for a segment's label against each candidate's, the absence test for each label in the
frame against each candidate absent object's (a mug called "cup" does not occupy its own place).  Asked pair
by pair after an open, every pair was a model call (~60 in the first frames at 10^5 objects, 0.1-0.3 s each
on CPU); ``warm`` computes a frame's pairs from one embedding call.
"""

from __future__ import annotations

from typing import Any

import numpy as np


class LabelSimilarity:
    def __init__(self, embedder: Any) -> None:
        self._embedder = embedder
        self._sim: dict[tuple[str, str], float] = {}

    def __call__(self, a: str, b: str) -> float:
        if a == b:
            return 1.0
        key = (a, b) if a < b else (b, a)
        sim = self._sim.get(key)
        if sim is None:
            va, vb = self._embedder.embed([a, b])
            sim = self._sim[key] = _cosine(va, vb)
        return sim

    def warm(self, names: set[str], of: set[str]) -> None:
        """Cache every pair of a name with a label ``of``, embedding the texts they need in one call."""
        todo = {(a, b) if a < b else (b, a) for a in names for b in of if a != b} - self._sim.keys()
        if not todo:
            return
        texts = sorted({t for pair in todo for t in pair})
        vec = dict(zip(texts, self._embedder.embed(texts), strict=True))
        for a, b in todo:
            self._sim[(a, b)] = _cosine(vec[a], vec[b])


def _cosine(va: np.ndarray, vb: np.ndarray) -> float:
    return float(max(0.0, min(1.0, float(np.dot(va, vb)))))
