"""Object search over the incrementally kept object index (``ObjectIndex``).

Nothing here is rebuilt after an update: the per-object arrays are the index's rows, the label
sets are kept by the index, and the relevance of a query text to every known label is cached per
text and extended only by the labels that are new since (the vocabulary only grows at its end).
So the first query after an update costs what any other query costs.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from robomem.config import RetrievalConfig
from robomem.retrieval.query import Entry, Query, proximity, recency, text_relevance
from robomem.submodules.spatial.index import ObjectIndex
from robomem.submodules.spatial.objects import ObjectRecord
from robomem.submodules.spatial.snapshots import Snapshot

MAX_CACHED_TEXTS = 256


class RelevanceCache:
    """Query text -> relevance of each vocabulary label, grown as the vocabulary grows."""

    def __init__(self, embedder: Any) -> None:
        self._embedder = embedder
        self._by_text: dict[str, np.ndarray] = {}

    def get(self, text: str, vocab: list[str]) -> np.ndarray:
        r = self._by_text.get(text)
        if r is None or len(r) < len(vocab):
            have = 0 if r is None else len(r)
            new = text_relevance(self._embedder, text, vocab[have:])
            r = new if r is None else np.concatenate([r, new])
            if len(self._by_text) >= MAX_CACHED_TEXTS:
                self._by_text.clear()
            self._by_text[text] = r
        return r


def search_objects(
    index: ObjectIndex,
    record_of: Callable[[int], ObjectRecord],
    relevance_cache: RelevanceCache,
    rcfg: RetrievalConfig,
    query: Query,
    now: float,
    source: str,
    best_snapshots: Callable[[int, int], list[Snapshot]],
) -> list[Entry]:
    """Object (and keyframe) entries for a query; the caller holds the spatial lock."""
    n = index.top
    if n == 0 or len(index) == 0:
        return []
    mask = index.active[:n].copy()
    if query.object_ids:
        mask &= np.isin(index.ids[:n], list(query.object_ids))
    if query.label is not None:
        sel = np.zeros(n, dtype=bool)
        sel[index.members_of(query.label)] = True
        mask &= sel
    cents = index.cents[:n]
    last_seen = index.last_seen[:n]
    if query.position is not None and query.radius is not None:
        near = np.zeros(n, dtype=bool)
        near[index.around(np.asarray(query.position), query.radius)] = True
        mask &= near
    if query.since is not None:
        mask &= last_seen >= query.since
    if query.until is not None:
        mask &= index.first_seen[:n] <= query.until
    text = query.search_text
    if text:
        relevance = relevance_cache.get(text, index.vocab)[index.lab_idx[:n]]
        if query.label is None and not query.object_ids:
            mask &= relevance >= rcfg.min_relevance
    else:
        relevance = np.ones(n)
    idx = np.flatnonzero(mask)
    if len(idx) == 0:
        return []
    rec = np.exp(-np.maximum(0.0, now - last_seen[idx]) / rcfg.recency_tau)
    imp = np.minimum(1.0, np.log1p(index.n_obs[idx]) / math.log(50.0))
    pre = rcfg.w_relevance * relevance[idx] + rcfg.w_recency * rec + rcfg.w_importance * imp
    if query.position is not None:  # the near one before the far one when there are many alike
        d = np.linalg.norm(cents[idx] - np.asarray(query.position), axis=1)
        pre = pre + rcfg.w_distance * np.exp(-d / max(rcfg.distance_scale, 1e-9))
    m = max(query.k * 3, 10)
    ids_idx = index.ids[idx]
    if len(pre) > 4 * m:  # only the best m are needed: partition first, then sort those (ties: lower id)
        keep = np.argpartition(-pre, m - 1)[:m]
        keep = keep[np.lexsort((ids_idx[keep], -pre[keep]))]
    else:
        keep = np.lexsort((ids_idx, -pre))[:m]
    out: list[Entry] = []
    for i in idx[keep].tolist():
        o = record_of(int(index.ids[i]))
        total = sum(o.labels.values()) or 1.0
        conf = o.labels[o.label] / total * (0.5 if o.status == "absent" else 1.0)
        pos = (float(o.centroid[0]), float(o.centroid[1]), float(o.centroid[2]))
        where = f" in the {o.place}" if o.place else ""
        status = "; observed ABSENT since" if o.status == "absent" else ""
        text_line = (
            f"{o.label} #{o.object_id} at ({pos[0]:.2f}, {pos[1]:.2f}, {pos[2]:.2f}){where}, "
            f"last seen t={o.last_seen:.1f}s{status} ({o.n_obs} sightings)"
        )
        parts = {
            "relevance": float(relevance[i]),
            "recency": recency(o.last_seen, now, rcfg.recency_tau),
            "importance": float(min(1.0, math.log1p(o.n_obs) / math.log(50.0))),
            "confidence": float(conf),
            "distance": proximity(pos, query.position, rcfg.distance_scale),
        }
        if query.wants("object"):
            out.append(
                Entry(
                    key=f"object:{o.object_id}",
                    kind="object",
                    source=source,
                    text=text_line,
                    stamp=o.last_seen,
                    position=pos,
                    place=o.place,
                    object_ids=(o.object_id,),
                    provenance=(f"object:{o.object_id}",),
                    parts=parts,
                    data={"label": o.label, "status": o.status, "n_obs": o.n_obs},
                )
            )
        if query.wants("snapshot") and len(out) < 3 * query.k:
            for s in best_snapshots(o.object_id, 1):
                p = s.pose.position
                out.append(
                    Entry(
                        key=f"snapshot:{s.snapshot_id}",
                        kind="snapshot",
                        source=source,
                        text=f"keyframe #{s.snapshot_id} at t={s.stamp:.1f}s shows {o.label} #{o.object_id}"
                        + (f" from the {s.place}" if s.place else ""),
                        stamp=s.stamp,
                        position=(float(p[0]), float(p[1]), float(p[2])),
                        place=s.place,
                        object_ids=tuple(sorted(s.objects)),
                        provenance=(f"object:{o.object_id}",),
                        parts={**parts, "relevance": parts["relevance"] * 0.9},
                        data={"pose": s.pose.matrix.tolist(), "image": s.image_key, "target": o.object_id},
                    )
                )
    return out
