"""Approximate-time synchronisation of N timestamped streams (pure Python, no ROS).

Used by the ROS nodes (colour, depth, camera info, instance labels arrive on separate
topics) and by log replay (the same streams read from a bag), so both group frames the
same way. The behaviour follows ``message_filters.ApproximateTimeSynchronizer``:

- every stream keeps a queue of at most ``queue_size`` (stamp, payload) pairs; when it
  overflows the oldest entry is dropped (counted in :attr:`ApproximateTimeSynchronizer.dropped`);
- when an entry arrives, the synchroniser looks for one entry per other stream such that
  all stamps of the set lie within ``slop`` seconds of each other (max - min <= slop) and
  the new entry is part of the set; among the candidates it picks the set with the
  smallest spread (ties: stamps closest to the new entry);
- a found set is emitted (returned from :meth:`add` and passed to registered callbacks)
  and, in every queue, the matched entry and everything older are removed, so each
  entry is used at most once and every stream's output stamps never go backwards;
- an entry older than or equal to the last stamp already emitted on its stream can never
  be matched and is dropped.

Stamps are float seconds (sensor time). Payloads are opaque.
"""

from __future__ import annotations

import bisect
import heapq
import math
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

__all__ = ["ApproximateTimeSynchronizer", "SyncedSet", "synchronize"]

T = TypeVar("T")


@dataclass(frozen=True)
class SyncedSet(Generic[T]):
    """One matched set: ``stamps[i]`` and ``payloads[i]`` come from stream ``i``."""

    stamps: tuple[float, ...]
    payloads: tuple[T, ...]

    @property
    def stamp(self) -> float:
        """The stamp of stream 0 (make the reference stream, e.g. depth, stream 0)."""
        return self.stamps[0]

    @property
    def spread(self) -> float:
        """max(stamps) - min(stamps), at most the synchroniser's slop."""
        return max(self.stamps) - min(self.stamps)


class ApproximateTimeSynchronizer(Generic[T]):
    """Group entries of ``n_streams`` streams whose stamps lie within ``slop`` seconds.

    >>> sync = ApproximateTimeSynchronizer(2, queue_size=10, slop=0.02)
    >>> sync.add(0, 1.000, "depth")
    []
    >>> [s.payloads for s in sync.add(1, 1.005, "rgb")]
    [('depth', 'rgb')]

    ``names`` lets :meth:`add` take a stream name instead of an index.
    """

    def __init__(
        self,
        n_streams: int,
        queue_size: int = 10,
        slop: float = 0.1,
        names: Sequence[str] | None = None,
    ) -> None:
        if isinstance(n_streams, bool) or not isinstance(n_streams, int) or n_streams < 1:
            raise ValueError(f"ApproximateTimeSynchronizer: n_streams must be a positive integer, got {n_streams!r}")
        if isinstance(queue_size, bool) or not isinstance(queue_size, int) or queue_size < 1:
            raise ValueError(f"ApproximateTimeSynchronizer: queue_size must be a positive integer, got {queue_size!r}")
        slop_f = float(slop)
        if not math.isfinite(slop_f) or slop_f < 0:
            raise ValueError(f"ApproximateTimeSynchronizer: slop must be a finite number >= 0 seconds, got {slop!r}")
        self.n_streams = n_streams
        self.queue_size = queue_size
        self.slop = slop_f
        self._names: dict[str, int] = {}
        if names is not None:
            names = list(names)
            if len(names) != n_streams or len(set(names)) != n_streams:
                raise ValueError(
                    f"ApproximateTimeSynchronizer: names must be {n_streams} distinct strings, got {names}"
                )
            self._names = {str(n): i for i, n in enumerate(names)}
        # per stream: parallel sorted lists of stamps and payloads
        self._stamps: list[list[float]] = [[] for _ in range(n_streams)]
        self._payloads: list[list[T]] = [[] for _ in range(n_streams)]
        self._last_emitted: list[float] = [-math.inf] * n_streams
        self._callbacks: list[Callable[[SyncedSet[T]], Any]] = []
        self.dropped = 0
        """Entries discarded without being matched (queue overflow or too old)."""
        self.emitted = 0

    # -- public ---------------------------------------------------------------
    def register_callback(self, fn: Callable[[SyncedSet[T]], Any]) -> None:
        """Call ``fn(synced_set)`` for every emitted set (in addition to :meth:`add` returning it)."""
        self._callbacks.append(fn)

    def add(self, stream: int | str, stamp: float, payload: T) -> list[SyncedSet[T]]:
        """Add one entry; return the sets completed by it (empty or one set)."""
        i = self._index(stream)
        t = float(stamp)
        if not math.isfinite(t):
            raise ValueError(f"ApproximateTimeSynchronizer.add: stamp must be finite, got {stamp!r}")
        if t <= self._last_emitted[i]:
            self.dropped += 1
            return []
        stamps, payloads = self._stamps[i], self._payloads[i]
        k = bisect.bisect_right(stamps, t)
        stamps.insert(k, t)
        payloads.insert(k, payload)
        while len(stamps) > self.queue_size:
            stamps.pop(0)
            payloads.pop(0)
            self.dropped += 1
        if t not in stamps:  # the new entry itself was the oldest and got evicted
            return []
        found = self._match(i, t)
        if found is None:
            return []
        out = self._emit(found)
        return [out]

    def pending(self) -> list[int]:
        """How many entries wait in each stream's queue."""
        return [len(s) for s in self._stamps]

    def reset(self) -> None:
        """Forget all queued entries and the emitted history (e.g. after a bag loops or time jumps back)."""
        for s, p in zip(self._stamps, self._payloads, strict=True):
            s.clear()
            p.clear()
        self._last_emitted = [-math.inf] * self.n_streams

    # -- internals --------------------------------------------------------------
    def _index(self, stream: int | str) -> int:
        if isinstance(stream, str):
            if stream not in self._names:
                raise KeyError(f"ApproximateTimeSynchronizer: unknown stream {stream!r}; known: {sorted(self._names)}")
            return self._names[stream]
        if isinstance(stream, bool) or not isinstance(stream, int) or not 0 <= stream < self.n_streams:
            raise IndexError(
                f"ApproximateTimeSynchronizer: stream index must be in [0, {self.n_streams}), got {stream!r}"
            )
        return stream

    def _match(self, i: int, t: float) -> list[int] | None:
        """Indices (one per stream) of the best set containing stream i's entry at t, or None."""
        slop = self.slop
        # candidates per stream within slop of t
        cands: list[list[float]] = []
        for j in range(self.n_streams):
            s = self._stamps[j]
            if j == i:
                cands.append([t])
                continue
            lo = bisect.bisect_left(s, t - slop)
            hi = bisect.bisect_right(s, t + slop)
            if lo == hi:
                return None
            cands.append(s[lo:hi])
        # every feasible set lies in a window [w, w + slop] that contains t, with w one of the
        # candidate stamps in [t - slop, t]; try each window, keep the set of smallest spread.
        starts = sorted({c for cs in cands for c in cs if t - slop <= c <= t})
        best: tuple[float, float, list[float]] | None = None
        for w in starts:
            pick: list[float] = []
            for cs in cands:
                lo = bisect.bisect_left(cs, w)
                hi = bisect.bisect_right(cs, w + slop)
                if lo == hi:
                    break
                pick.append(min(cs[lo:hi], key=lambda c: abs(c - t)))
            else:
                spread = max(pick) - min(pick)
                closeness = sum(abs(c - t) for c in pick)
                if best is None or (spread, closeness) < best[:2]:
                    best = (spread, closeness, pick)
        if best is None:
            return None
        picks = best[2]
        return [bisect.bisect_left(self._stamps[j], picks[j]) for j in range(self.n_streams)]

    def _emit(self, idx: list[int]) -> SyncedSet[T]:
        stamps = tuple(self._stamps[j][k] for j, k in enumerate(idx))
        payloads = tuple(self._payloads[j][k] for j, k in enumerate(idx))
        for j, k in enumerate(idx):
            # entries older than the matched one can never be matched any more
            self.dropped += k
            del self._stamps[j][: k + 1]
            del self._payloads[j][: k + 1]
            self._last_emitted[j] = stamps[j]
        out = SyncedSet(stamps, payloads)
        self.emitted += 1
        for fn in self._callbacks:
            fn(out)
        return out


def synchronize(
    streams: Sequence[Iterable[tuple[float, T]]],
    slop: float,
    queue_size: int = 10,
) -> Iterator[SyncedSet[T]]:
    """Offline helper for replay: merge N (stamp, payload) iterables (each sorted by stamp)
    in time order, feed them through an :class:`ApproximateTimeSynchronizer`, yield the sets."""
    sync: ApproximateTimeSynchronizer[T] = ApproximateTimeSynchronizer(len(streams), queue_size=queue_size, slop=slop)

    def tagged(j: int, it: Iterable[tuple[float, T]]) -> Iterator[tuple[float, int, T]]:
        for stamp, payload in it:
            yield float(stamp), j, payload

    merged = heapq.merge(*(tagged(j, s) for j, s in enumerate(streams)), key=lambda e: (e[0], e[1]))
    for stamp, j, payload in merged:
        yield from sync.add(j, stamp, payload)
