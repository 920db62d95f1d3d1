"""Where a query is answered: ``Query`` in, scored ``Entry`` objects out.

Every submodule turns a Query into candidate Entries with *score parts*
(relevance, recency, importance, confidence, distance); ``merge`` combines the
parts with the configured weights, de-duplicates by key and sorts.  The parts
stay on each entry so a user can see why it was chosen.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any

import numpy as np

from robomem.config import RetrievalConfig

ENTRY_KINDS = ("object", "sighting", "absence", "change", "snapshot", "episode", "step", "fact")


@dataclass(frozen=True)
class Query:
    """What to retrieve.

    ``text``: free text ("where is the red mug?"); ``label``: an exact target
    label; ``object_ids``: restrict to these objects; ``position``: the robot's
    position (for distance scoring); ``time``: "now" for recency (defaults to
    the newest stamp in memory); ``since``/``until``: a time window;
    ``kinds``: restrict entry kinds; ``k``: how many entries at most.
    """

    text: str | None = None
    label: str | None = None
    object_ids: tuple[int, ...] = ()
    position: tuple[float, float, float] | None = None
    radius: float | None = None
    time: float | None = None
    since: float | None = None
    until: float | None = None
    kinds: tuple[str, ...] | None = None
    k: int = 10

    def __post_init__(self) -> None:
        if self.text is not None:
            if not isinstance(self.text, str):
                raise ValueError(f"Query.text: expected a string, got {type(self.text).__name__}")
            if len(self.text) > 2000:
                raise ValueError(f"Query.text: longer than 2000 characters ({len(self.text)})")
            if "\x00" in self.text:
                raise ValueError("Query.text: contains a NUL character")
        if self.label is not None:
            if not isinstance(self.label, str):
                raise ValueError("Query.label: expected a string")
            if len(self.label) > 2000 or "\x00" in self.label:
                raise ValueError("Query.label: longer than 2000 characters or contains a NUL character")
        for name in ("text", "label"):
            v = getattr(self, name)
            if v is not None:
                try:
                    v.encode("utf-8")
                except UnicodeEncodeError as exc:
                    raise ValueError(f"Query.{name}: not valid Unicode text (lone surrogate at {exc.start})") from None
        if isinstance(self.k, bool) or not isinstance(self.k, int) or not 1 <= self.k <= 10_000:
            raise ValueError(f"Query.k: expected an integer in [1, 10000], got {self.k!r}")
        try:
            ids = tuple(int(i) for i in self.object_ids)
        except (TypeError, ValueError, OverflowError):
            raise ValueError(f"Query.object_ids: expected a sequence of integer ids, got {self.object_ids!r}") from None
        object.__setattr__(self, "object_ids", ids)
        if self.position is not None:
            try:
                p = tuple(float(v) for v in self.position)
            except (TypeError, ValueError, OverflowError):
                p = ()
            if len(p) != 3 or not all(math.isfinite(v) for v in p):
                raise ValueError(f"Query.position: expected 3 finite numbers, got {self.position!r}")
            object.__setattr__(self, "position", p)
        for name in ("radius", "time", "since", "until"):
            v = getattr(self, name)
            if v is None:
                continue
            try:
                ok = not isinstance(v, bool) and math.isfinite(float(v))
            except (TypeError, ValueError, OverflowError):
                ok = False
            if not ok:
                raise ValueError(f"Query.{name}: must be a finite number, got {v!r}")
            object.__setattr__(self, name, float(v))
        if self.radius is not None and self.radius <= 0:
            raise ValueError(f"Query.radius: must be > 0 metres, got {self.radius}")
        if self.since is not None and self.until is not None and self.since > self.until:
            raise ValueError(f"Query.since ({self.since}) is after Query.until ({self.until})")
        if self.kinds is not None:
            if isinstance(self.kinds, str) or not isinstance(self.kinds, (tuple, list, set, frozenset)):
                raise ValueError(f"Query.kinds: expected a sequence of kinds, got {self.kinds!r}")
            bad = [k for k in self.kinds if k not in ENTRY_KINDS]
            if bad:
                raise ValueError(f"Query.kinds: unknown kind {bad[0]!r} (known: {', '.join(ENTRY_KINDS)})")
            object.__setattr__(self, "kinds", tuple(self.kinds))

    def wants(self, kind: str) -> bool:
        return self.kinds is None or kind in self.kinds

    @property
    def search_text(self) -> str | None:
        return self.text if self.text else self.label


@dataclass(frozen=True)
class Entry:
    """One retrieved memory entry."""

    key: str  # unique across memory, e.g. "object:12", "fact:7"
    kind: str  # one of ENTRY_KINDS
    source: str  # submodule name
    text: str  # human-readable one-liner
    stamp: float | None = None  # when (sensor time)
    position: tuple[float, float, float] | None = None  # where (world frame)
    place: str | None = None
    object_ids: tuple[int, ...] = ()
    provenance: tuple[str, ...] = ()  # keys of the evidence behind it
    parts: Mapping[str, float] = field(default_factory=dict)  # score parts, each in [0, 1]
    score: float = 0.0
    data: Mapping[str, Any] = field(default_factory=dict)  # kind-specific details (JSON-able)

    def __post_init__(self) -> None:
        object.__setattr__(self, "parts", MappingProxyType(dict(self.parts)))
        object.__setattr__(self, "data", MappingProxyType(dict(self.data)))

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "kind": self.kind,
            "source": self.source,
            "text": self.text,
            "stamp": self.stamp,
            "position": list(self.position) if self.position is not None else None,
            "place": self.place,
            "object_ids": list(self.object_ids),
            "provenance": list(self.provenance),
            "score": round(self.score, 4),
            "parts": {k: round(v, 4) for k, v in self.parts.items()},
            "data": _jsonable(dict(self.data)),
        }


def _jsonable(x: Any) -> Any:
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, np.ndarray):
        return x.tolist()
    if isinstance(x, np.generic):
        return x.item()
    return x


def recency(stamp: float | None, now: float, tau: float) -> float:
    if stamp is None:
        return 0.0
    return float(math.exp(-max(0.0, now - stamp) / max(tau, 1e-9)))


def proximity(
    position: tuple[float, float, float] | None, robot: tuple[float, float, float] | None, scale: float
) -> float:
    if position is None or robot is None:
        return 0.0
    d = math.dist(position, robot)
    return float(math.exp(-d / max(scale, 1e-9)))


def mth_largest(values: np.ndarray, m: int) -> float:
    """The ``m``-th largest of ``values`` (1 <= m <= len(values)).

    Relevance comes in a few levels (one per label: a goal's noun gives every colour of it 0.8), and
    ``np.partition`` on many equal keys is slow (2.6 ms on 25k values of two levels, against 0.2 ms on
    distinct ones), so the top levels are walked first; many levels or a NaN fall back to the partition."""
    level = values.max()
    for _ in range(8):
        if np.isnan(level):
            break
        if np.count_nonzero(values >= level) >= m:
            return float(level)
        level = values[values < level].max()
    return float(-np.partition(-values, m - 1)[m - 1])


WEIGHT_OF = {
    "relevance": "w_relevance",
    "recency": "w_recency",
    "importance": "w_importance",
    "confidence": "w_confidence",
    "distance": "w_distance",
}


def total_score(parts: Mapping[str, float], cfg: RetrievalConfig) -> float:
    return float(sum(getattr(cfg, WEIGHT_OF[k]) * v for k, v in parts.items() if k in WEIGHT_OF))


def merge(candidates: Iterable[Entry], cfg: RetrievalConfig, k: int) -> list[Entry]:
    """Score, de-duplicate by key (keeping the best; the first of equals), sort best first, keep k.
    Only the k kept are copied with their score (a copy of every candidate was ~1 ms a query)."""
    best: dict[str, tuple[float, Entry]] = {}
    for e in candidates:
        score = total_score(e.parts, cfg)
        cur = best.get(e.key)
        if cur is None or score > cur[0]:
            best[e.key] = (score, e)
    kept = sorted(best.values(), key=lambda se: (-se[0], se[1].key))[:k]
    return [replace(e, score=score) for score, e in kept]


_WORD = re.compile(r"[a-z0-9]+")


def words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def text_relevance(embedder: Any, text: str, labels: list[str]) -> np.ndarray:
    """Relevance in [0, 1] of each label to a query text.

    A label whose words all occur in the text scores 1; one whose head noun
    (last word: "mug" of "red mug") occurs scores at least 0.8; otherwise the
    embedding cosine similarity decides.
    """
    if not labels:
        return np.zeros(0)
    tw = set(words(text))
    vecs = embedder.embed([text, *labels])
    sims = np.clip(vecs[1:] @ vecs[0], 0.0, 1.0)
    out = np.empty(len(labels))
    for i, lab in enumerate(labels):
        lw = words(lab)
        if lw and all(w in tw for w in lw):
            out[i] = 1.0
        elif lw and (lw[-1] in tw or lw[-1] + "s" in tw):
            out[i] = max(0.8, float(sims[i]))
        else:
            out[i] = float(sims[i])
    return out
