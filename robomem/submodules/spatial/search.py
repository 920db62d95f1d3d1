"""Object search over the incrementally kept object index (``ObjectIndex``).

Nothing here is rebuilt after an update: the per-object arrays are the index's rows, the label
sets are kept by the index, each top label's slots are kept in step with it (``LabelSlots``), and
the relevance of a query text to every known label is cached per text and extended only by the
labels that are new since (the vocabulary only grows at its end).  So the first query after an
update costs what any other query costs, and a query reads only the rows it may return: those of
its ids, its label, its radius or the labels relevant to its text (not a pass over every slot).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from robomem.config import RetrievalConfig
from robomem.retrieval.query import Entry, Query, mth_largest, proximity, recency, text_relevance
from robomem.submodules.spatial.index import ObjectIndex
from robomem.submodules.spatial.label_slots import LabelSlots
from robomem.submodules.spatial.objects import ObjectRecord
from robomem.submodules.spatial.snapshots import Snapshot

MAX_CACHED_TEXTS = 256
_EMPTY = np.zeros(0, dtype=np.int64)


class RelevanceCache:
    """What object search keeps between queries: query text -> relevance of each vocabulary label (grown
    as the vocabulary grows), and each top label's slots (``LabelSlots``)."""

    def __init__(self, embedder: Any) -> None:
        self._embedder = embedder
        self._by_text: dict[str, np.ndarray] = {}
        self.label_slots = LabelSlots()

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


def candidates(
    index: ObjectIndex,
    cache: RelevanceCache,
    rcfg: RetrievalConfig,
    query: Query,
    now: float | None = None,
    m: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """(slots, relevance) of the objects a query may return (in no particular order): every condition of
    the query holds for each.  They are gathered from the narrowest source the query has (its ids, its label's
    members, the grid around its position, or the slots of the labels relevant to its text) and the other
    conditions are tested on those rows only, so the cost follows the matches, not the memory.  With ``now``
    and ``m``, a text's labels whose objects cannot reach the ``m`` best scores are not read at all
    (``_worth_reading``)."""
    text = query.search_text
    rel_all = cache.get(text, index.vocab) if text else None
    by_relevance = rel_all is not None and query.label is None and not query.object_ids
    lab: np.ndarray | None = None
    if query.object_ids:
        found = {s for oid in query.object_ids if (s := index.slot_of.get(oid)) is not None}
        idx = np.fromiter(found, dtype=np.int64, count=len(found))
    elif query.label is not None:
        idx = index.members_of(query.label)
    elif query.position is not None and query.radius is not None:
        idx = index.around(np.asarray(query.position), query.radius)
    elif by_relevance and rel_all is not None:
        cache.label_slots.sync(index)
        labels = np.flatnonzero(rel_all >= rcfg.min_relevance)
        if now is not None and m is not None:
            labels = _worth_reading(index, cache, rcfg, query, now, rel_all, labels, m)
        idx, lab = cache.label_slots.slots(index, labels)
    else:
        idx = index.slots()
    if lab is None:
        idx = idx[index.active[idx]]
    if query.label is not None and query.object_ids:
        idx = idx[np.isin(idx, index.members_of(query.label))]
    if query.position is not None and query.radius is not None and (query.object_ids or query.label is not None):
        idx = idx[np.isin(idx, index.around(np.asarray(query.position), query.radius))]
    idx, lab = _when(index, query, idx, lab)
    if rel_all is None:
        relevance = np.ones(len(idx))
    else:
        relevance = rel_all[index.lab_idx[idx] if lab is None else lab]
        if by_relevance and lab is None:
            keep = relevance >= rcfg.min_relevance
            idx, relevance = idx[keep], relevance[keep]
    return idx, relevance


def _when(
    index: ObjectIndex, query: Query, idx: np.ndarray, lab: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray | None]:
    """The rows (and their labels, when given) that pass the query's ``since`` / ``until``."""
    if query.since is not None:
        keep = index.last_seen[idx] >= query.since
        idx, lab = idx[keep], None if lab is None else lab[keep]
    if query.until is not None:
        keep = index.first_seen[idx] <= query.until
        idx, lab = idx[keep], None if lab is None else lab[keep]
    return idx, lab


def _most_relevant(cache: RelevanceCache, rel_all: np.ndarray, labels: np.ndarray, n: int) -> tuple[np.ndarray, int]:
    """``labels`` most relevant first, and how many of the first hold ``n`` slots together (all of them when
    they hold fewer; a label's removed objects not yet dropped count, so the caller checks what it reads)."""
    labels = labels[np.argsort(-rel_all[labels], kind="stable")]
    take = int(np.searchsorted(np.cumsum(cache.label_slots.sizes(labels)), n)) + 1
    return labels, min(take, len(labels))


def _worth_reading(
    index: ObjectIndex,
    cache: RelevanceCache,
    rcfg: RetrievalConfig,
    query: Query,
    now: float,
    rel_all: np.ndarray,
    labels: np.ndarray,
    m: int,
) -> np.ndarray:
    """The ``labels`` (relevant to the query's text) whose objects can reach the ``m`` best scores.

    Every object of a label scores at most ``w_rel * relevance + w_rec + w_imp (+ w_dist)`` (the other terms
    are in [0, 1]).  The most relevant labels that hold ``m`` candidates are read first; the ``m``-th best
    pre-score among them is at most the ``m``-th best overall, so a label whose bound is short of it cannot
    place an object among the best and its rows are never read (a goal's noun matches every colour of it,
    and the loosely related labels that pass ``min_relevance`` held most of the rows)."""
    if len(labels) < 2:
        return labels
    labels, take = _most_relevant(cache, rel_all, labels, m)
    while True:
        if take >= len(labels):
            return labels
        idx, lab = cache.label_slots.slots(index, labels[:take])
        idx, lab = _when(index, query, idx, lab)
        if len(idx) >= m:
            break
        take *= 4  # removed objects or the time window left too few: read more labels
    assert lab is not None
    floor = -np.partition(-_pre(index, rcfg, now, idx, rel_all[lab]), m - 1)[m - 1]
    w_dist = rcfg.w_distance if query.position is not None else 0.0
    bound = rcfg.w_relevance * rel_all[labels] + rcfg.w_recency + rcfg.w_importance + w_dist
    return labels[bound >= floor]


def labelled(
    index: ObjectIndex, cache: RelevanceCache, rcfg: RetrievalConfig, query: Query, enough: int | None
) -> tuple[np.ndarray, np.ndarray, bool]:
    """(ids, relevance to the query's text, complete): the objects another submodule's search ranks by their
    top label (temporal's last-seen search), gathered from the narrowest source and in no particular order.

    With ``object_ids``: those of them that are objects (of top label ``label`` when given); else with
    ``label``: the objects of that top label; else with a text: the objects of the labels whose relevance is at
    least ``min_relevance``, the most relevant labels first and only as many labels as hold ``enough`` objects
    (every label as relevant as the last one taken included: none left out could outrank one taken).
    ``complete`` says no relevant label was left out.  Relevance is 1.0 without a text.  The caller holds the
    spatial lock."""
    text, label = query.search_text, query.label
    rel_all = cache.get(text, index.vocab) if text else None
    complete = True
    if query.object_ids:
        found = {s for oid in query.object_ids if (s := index.slot_of.get(int(oid))) is not None}
        idx = np.fromiter(sorted(found), dtype=np.int64, count=len(found))
        idx = idx[index.active[idx]]
        if label is not None:
            idx = idx[np.isin(idx, index.of_label(label))]
    elif label is not None:
        idx = index.of_label(label)
        idx = idx[index.active[idx]]
    elif rel_all is not None:
        cache.label_slots.sync(index)
        relevant = np.flatnonzero(rel_all >= rcfg.min_relevance)
        labels = relevant
        if enough is not None and len(relevant):
            labels, take = _most_relevant(cache, rel_all, relevant, enough)
            labels = labels[rel_all[labels] >= rel_all[labels[take - 1]]]  # ties with the last taken, too
            complete = len(labels) == len(relevant)
        idx, lab = cache.label_slots.slots(index, labels)
        return index.ids[idx], rel_all[lab], complete
    else:
        idx = index.slots()
    relevance = np.ones(len(idx)) if rel_all is None else rel_all[index.lab_idx[idx]]
    return index.ids[idx], relevance, complete


def ranked(
    index: ObjectIndex, cache: RelevanceCache, rcfg: RetrievalConfig, query: Query, now: float
) -> tuple[np.ndarray, np.ndarray]:
    """(slots, relevance) of the best ``max(3 k, 10)`` candidates by their pre-score, best first (ties: the
    lower id); the entries are built for these only."""
    if index.top == 0 or len(index) == 0:
        return _EMPTY, np.zeros(0)
    m = max(query.k * 3, 10)
    idx, relevance = candidates(index, cache, rcfg, query, now, m)
    if len(idx) == 0:
        return _EMPTY, np.zeros(0)
    w_dist = rcfg.w_distance if query.position is not None else 0.0
    # the m-th best relevance is NaN when fewer than m are numbers (np.partition puts NaN last; a NaN
    # relevance is a user embedder's, ranked last by the sort): the bounds below then need the full sort
    if len(idx) > 4 * m and not np.isnan(mth := mth_largest(relevance, m)):
        # A score is at most w_rel * relevance + w_rec + w_imp (+ w_dist): recency, importance and
        # proximity are each in [0, 1].  The m-th best score is at least the m-th best (recency and
        # importance only) of the most relevant candidates, so one whose bound is short of that is
        # dropped before its rows are read.  (Each bound is summed in the score's order: with rounding
        # it is still >= the score.)
        top = np.flatnonzero(relevance >= mth)
        floor = -np.partition(-_pre(index, rcfg, now, idx[top], relevance[top]), m - 1)[m - 1]
        bound = rcfg.w_relevance * relevance + rcfg.w_recency + rcfg.w_importance + w_dist
        hope = np.flatnonzero(bound >= floor)
        if len(hope) < len(idx):
            idx, relevance = idx[hope], relevance[hope]
    pre = _pre(index, rcfg, now, idx, relevance)
    if query.position is not None:  # the near one before the far one when there are many alike
        if len(pre) > 4 * m and not np.isnan(floor := -np.partition(-pre, m - 1)[m - 1]):
            # the distance term is in [0, w_distance]: the m-th best score is at least the m-th best
            # without it, so a candidate short of that even with the whole term cannot be among the best
            near = np.flatnonzero(pre + rcfg.w_distance >= floor)
            idx, relevance, pre = idx[near], relevance[near], pre[near]
        d = np.linalg.norm(index.cents[idx] - np.asarray(query.position), axis=1)
        pre = pre + rcfg.w_distance * np.exp(-d / max(rcfg.distance_scale, 1e-9))
    keep = best_first(pre, index.ids[idx], m)
    return idx[keep], relevance[keep]


def _pre(index: ObjectIndex, rcfg: RetrievalConfig, now: float, idx: np.ndarray, relevance: np.ndarray) -> np.ndarray:
    """The pre-score without its distance term: relevance, recency and importance, weighted."""
    rec = np.exp(-np.maximum(0.0, now - index.last_seen[idx]) / rcfg.recency_tau)
    imp = np.minimum(1.0, np.log1p(index.n_obs[idx]) / math.log(50.0))
    return rcfg.w_relevance * relevance + rcfg.w_recency * rec + rcfg.w_importance * imp


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
    slots, relevance = ranked(index, relevance_cache, rcfg, query, now)
    out: list[Entry] = []
    for i, r in zip(slots.tolist(), relevance.tolist(), strict=True):
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
            "relevance": float(r),
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


def best_first(score: np.ndarray, ids: np.ndarray, m: int) -> np.ndarray:
    """Positions of the ``m`` best scores, best first (ties: the lower id): the first ``m`` of a full sort
    by (-score, id), found by partitioning first when there are many (every tie at the cut is kept for the
    sort, so which of equal scores is kept does not depend on the order of the rows)."""
    if len(score) > 4 * m:
        cut = np.partition(-score, m - 1)[m - 1]
        if not np.isnan(cut):  # NaN: fewer than m numbers; the sort below puts the NaNs last
            pick = np.flatnonzero(-score <= cut)
            return pick[np.lexsort((ids[pick], -score[pick]))][:m]
    return np.lexsort((ids, -score))[:m]
