"""Visit counts behind ``usually_in``, kept incrementally so a consolidation pass costs what changed.

A *visit* of an object to a place is a ``visit_window_s``-long window with a sighting there (temporal's
``visits``).  ``VisitTally`` holds, per object and place, the visits and the first sighting, and their
sums per class (label), as of the last pass.  It is built once from every sighting (one scan, grouped in
numpy) and afterwards changed only for the objects a pass re-reads (those seen since, merged, forgotten),
each change replacing that object's counts and moving its contribution between class sums.  A pass then
judges only those objects and their classes; facts of every other subject stand as they were, because
their evidence did not change.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from robomem.store.index_cache import PackedStrings, pack_strings

PlaceCounts = dict[str, tuple[int, float]]  # place -> (visits, first sighting there)


@dataclass(frozen=True)
class ObjectVisits:
    """One object's counts as a pass sees them: the label it counts under (None: no longer an object)."""

    label: str | None
    places: PlaceCounts


# per (object, place) pair, by object id then place: (object ids, place names sorted, place index, visits, first)
Pairs = tuple[np.ndarray, list[str], np.ndarray, np.ndarray, np.ndarray]


def group_visits(
    oids: np.ndarray, pcodes: np.ndarray, pnames: list[str], windows: np.ndarray, t_start: np.ndarray
) -> Pairs:
    """Per (object, place): distinct windows and the first t_start, from one row per sighting (its place as a
    code into ``pnames``, temporal ``visit_windows``).

    Returns (object ids sorted, place names sorted, place index, visits, first seen) with one entry per pair."""
    used = np.unique(pcodes)
    names = sorted(pnames[int(c)] for c in used)
    rank = np.zeros(len(pnames), np.int64)
    rank[used] = [names.index(pnames[int(c)]) for c in used]
    pidx = rank[pcodes] if len(pcodes) else np.zeros(0, np.int64)
    if not len(oids):
        empty = np.zeros(0, np.int64)
        return empty, names, empty, empty, np.zeros(0, float)
    order = np.lexsort((t_start, windows, pidx, oids))
    o, p, w, t = oids[order], pidx[order], windows[order], t_start[order]
    new_pair = np.r_[True, (o[1:] != o[:-1]) | (p[1:] != p[:-1])]
    new_window = new_pair | np.r_[True, w[1:] != w[:-1]]
    pair = np.cumsum(new_pair) - 1
    visits = np.bincount(pair, weights=new_window).astype(np.int64)
    first = np.minimum.reduceat(t, np.flatnonzero(new_pair))  # rows sort by window first, so take the least
    return o[new_pair], names, p[new_pair], visits, first


class VisitTally:
    """Visits per object and place and their sums per class; see the module docstring."""

    def __init__(self) -> None:
        self.ready = False
        self.epoch = -1  # temporal's forget_epoch it was built at
        self.window: float | None = None  # the visit_window_s its visits were counted with (live: it can change)
        self._oids = np.zeros(0, np.int64)  # built pairs, sorted by object id
        self._place = np.zeros(0, np.int64)
        self._visits = np.zeros(0, np.int64)
        self._first = np.zeros(0, float)
        self._label = np.zeros(0, np.int64)  # index into _labels (-1: not an object at build)
        self._names: list[str] = []
        self._labels: tuple[str, ...] = ()
        self._over: dict[int, ObjectVisits] = {}  # objects re-read since the build
        self._classes: dict[str, dict[str, tuple[int, float]]] = {}

    def build(
        self,
        rows: tuple[np.ndarray, np.ndarray, list[str], np.ndarray, np.ndarray],
        ids: np.ndarray,
        lab_idx: np.ndarray,
        labels: tuple[str, ...],
        epoch: int,
    ) -> None:
        """From every sighting (temporal ``visit_windows``) and spatial's label index (ids sorted)."""
        self.build_pairs(group_visits(*rows), ids, lab_idx, labels, epoch)

    def build_pairs(
        self, pairs: Pairs, ids: np.ndarray, lab_idx: np.ndarray, labels: tuple[str, ...], epoch: int
    ) -> None:
        """From ``group_visits``' pairs (``build``), or the ``current_pairs`` an index cache kept."""
        self._oids, self._names, self._place, self._visits, self._first = pairs
        pos = np.searchsorted(ids, self._oids)
        ok = pos < len(ids)
        ok[ok] = ids[pos[ok]] == self._oids[ok]
        self._label = np.full(len(self._oids), -1, np.int64)
        self._label[ok] = lab_idx[pos[ok]]
        self._labels = labels
        self._over = {}
        self._classes = {}
        n_p = max(len(self._names), 1)
        if ok.any():
            key = self._label[ok] * n_p + self._place[ok]
            sums = np.bincount(key, weights=self._visits[ok], minlength=len(labels) * n_p)
            firsts = np.full(len(labels) * n_p, math.inf)
            np.minimum.at(firsts, key, self._first[ok])
            for k in np.flatnonzero(sums > 0).tolist():
                lab, place = labels[k // n_p], self._names[k % n_p]
                self._classes.setdefault(lab, {})[place] = (int(sums[k]), float(firsts[k]))
        self.ready = True
        self.epoch = epoch

    # -- reading ----------------------------------------------------------------------
    def objects(self) -> list[int]:
        """Every object the tally counts (built or re-read)."""
        return sorted(set(self._oids.tolist()) | set(self._over))

    def missing(self, ids: np.ndarray) -> list[int]:
        """Objects it counts under a label that are not among ``ids`` (sorted): forgotten or merged away."""
        built = self._oids[(self._label >= 0) & ~np.isin(self._oids, ids)]
        over = np.fromiter((o for o, v in self._over.items() if v.label is not None), np.int64)
        return sorted(set(built.tolist()) | set(over[~np.isin(over, ids)].tolist()))

    def object_visits(self, oid: int) -> ObjectVisits:
        if oid in self._over:
            return self._over[oid]
        lo, hi = np.searchsorted(self._oids, [oid, oid + 1])
        if lo == hi:
            return ObjectVisits(None, {})
        lab = int(self._label[lo])
        places = {
            self._names[int(self._place[i])]: (int(self._visits[i]), float(self._first[i])) for i in range(lo, hi)
        }
        return ObjectVisits(self._labels[lab] if lab >= 0 else None, places)

    def class_visits(self, label: str) -> PlaceCounts:
        return dict(self._classes.get(label, {}))

    def classes(self) -> list[str]:
        return sorted(self._classes)

    def current_pairs(self, fresh: Mapping[int, PlaceCounts]) -> Pairs:
        """The pairs ``group_visits`` would give over every sighting now: the built ones, with each object
        re-read since the build (and each in ``fresh``, counted just now: changed since the last pass) replaced
        by its newer counts.  Valid while no forgetting compressed sightings since the build (``epoch``)."""
        new = {o: v.places for o, v in self._over.items()} | dict(fresh)
        keep = ~np.isin(self._oids, np.fromiter(new, np.int64, len(new))) if new else np.ones(len(self._oids), bool)
        names = list(self._names)
        code = {n: i for i, n in enumerate(names)}
        extra = [(o, code.setdefault(p, len(code)), v, f) for o, pc in new.items() for p, (v, f) in pc.items()]
        names += sorted(code, key=code.__getitem__)[len(names) :]
        o = np.r_[self._oids[keep], np.asarray([e[0] for e in extra], np.int64)]
        p = np.r_[self._place[keep], np.asarray([e[1] for e in extra], np.int64)]
        v = np.r_[self._visits[keep], np.asarray([e[2] for e in extra], np.int64)]
        f = np.r_[self._first[keep], np.asarray([e[3] for e in extra], float)]
        used = np.unique(p)  # the places some sighting is in, renumbered as a build numbers them (sorted)
        order_names = sorted(names[i] for i in used.tolist())
        renum = np.full(len(names), -1, np.int64)
        renum[used] = [order_names.index(names[i]) for i in used.tolist()]
        p = renum[p]
        order = np.lexsort((p, o))
        return o[order], order_names, p[order], v[order], f[order]

    # -- changing ---------------------------------------------------------------------
    def class_totals(self, updates: Mapping[int, ObjectVisits]) -> dict[str, PlaceCounts]:
        """The class sums of every class the updates touch (old label or new), as they would be after them."""
        touched = {v.label for v in updates.values()} | {self.object_visits(o).label for o in updates}
        out: dict[str, PlaceCounts] = {}
        for lab in sorted(t for t in touched if t is not None):
            acc = {p: [v, f] for p, (v, f) in self._classes.get(lab, {}).items()}
            stale: set[str] = set()
            for oid, new in updates.items():
                old = self.object_visits(oid)
                if old.label == lab:
                    for p, (v, f) in old.places.items():
                        a = acc[p]
                        a[0] -= v
                        nf = new.places[p][1] if new.label == lab and p in new.places else math.inf
                        if nf > f >= a[1]:  # its first sighting was the class's first there and is gone
                            stale.add(p)
                if new.label == lab:
                    for p, (v, f) in new.places.items():
                        a = acc.setdefault(p, [0, math.inf])
                        a[0] += v
                        a[1] = min(a[1], f)
            for p in stale:
                acc[p][1] = self._class_first(lab, p, updates)
            out[lab] = {p: (int(a[0]), float(a[1])) for p, a in acc.items() if a[0] > 0}
        return out

    def _class_first(self, label: str, place: str, updates: Mapping[int, ObjectVisits]) -> float:
        """The class's first sighting in a place, recomputed over every object (rare: its earliest went away)."""
        best = math.inf
        if label in self._labels and place in self._names:
            li, pi = self._labels.index(label), self._names.index(place)
            mask = (self._label == li) & (self._place == pi)
            if self._over or updates:
                mask &= ~np.isin(self._oids, np.fromiter({*self._over, *updates}, np.int64))
            if mask.any():
                best = float(self._first[mask].min())
        for v in {**self._over, **updates}.values():  # an update replaces an earlier re-read
            if v.label == label and place in v.places:
                best = min(best, v.places[place][1])
        return best

    def apply(self, updates: Mapping[int, ObjectVisits], totals: Mapping[str, PlaceCounts]) -> None:
        """Take the updates (after the pass that planned them committed)."""
        self._over.update(updates)
        for lab, counts in totals.items():
            if counts:
                self._classes[lab] = dict(counts)
            else:
                self._classes.pop(lab, None)


def pairs_arrays(pairs: Pairs) -> dict[str, np.ndarray]:
    """The pairs as the index cache holds them (``pairs_from_arrays`` reads them back)."""
    o, names, p, v, f = pairs
    buf, off = pack_strings(names)
    return {
        "tally_oids": o,
        "tally_place": p,
        "tally_visits": v,
        "tally_first": f,
        "tally_names": buf,
        "tally_off": off,
    }


def pairs_from_arrays(cached: Mapping[str, np.ndarray]) -> Pairs:
    """``pairs_arrays``' arrays as pairs; raises (KeyError, ValueError) on anything a build could not give."""
    names = list(PackedStrings(cached["tally_names"], cached["tally_off"]))
    o, p, v, f = (np.asarray(cached[f"tally_{k}"]) for k in ("oids", "place", "visits", "first"))
    n = len(o)
    if any(x.shape != (n,) for x in (p, v, f)) or any(x.dtype != np.int64 for x in (o, p, v)) or f.dtype != float:
        raise ValueError("semantic index cache: tally arrays of unequal length or wrong type")
    if None in names or names != sorted(set(names)):  # type: ignore[type-var]
        raise ValueError("semantic index cache: tally place names not distinct and sorted")
    if n and (p.min() < 0 or p.max() >= len(names) or np.any(np.diff(o) < 0) or v.min() < 1):
        raise ValueError("semantic index cache: tally pairs out of order or out of range")
    return o, [str(x) for x in names], p, v, f
