"""Temporal memory's budget pass: compress and drop sightings and absences.

*Sightings*: consecutive rows of one object at the same place (within
``moved_distance`` of each other, with no observed absence between) merge
into one interval row (t_start, t_end, n, n-weighted mean position); then, if
still over, whole rows go by a value score (recency, the object's importance
= n_obs, how often it was retrieved).  Each object's first and latest rows
always stay.  *Absences*: repeated absences of an object between two
sightings reduce to the first (when it was noticed gone); each object's
latest absence always stays.  Nothing younger than ``keep_recent_s`` is
touched.  Pure planning: the functions return :class:`Changes`.
"""

from __future__ import annotations

import bisect
import math
import sqlite3
from collections import defaultdict
from collections.abc import Callable
from typing import Any

import numpy as np

from robomem.submodules.base import Changes


def plan_sightings(
    conn: sqlite3.Connection,
    latest: set[int],
    usage: Callable[[], dict[int, tuple[int, int]]],
    max_rows: int,
    now: float,
    keep_recent_s: float,
    target_fraction: float,
    moved_distance: float,
) -> tuple[Changes, dict[str, int]]:
    """``latest``: row ids of each object's latest sighting; ``usage()``: object id -> (n_obs, retrieved), asked
    only when over the budget (a pass over every object: ~75 ms at 10^5, in every budget pass)."""
    ch = Changes()
    report = {"sightings_merged": 0, "sightings_dropped": 0}
    n_rows = int(conn.execute("SELECT COUNT(*) FROM sightings").fetchone()[0])
    if n_rows <= max_rows:
        return ch, report
    target = int(max_rows * target_fraction)
    horizon = now - keep_recent_s
    absences: dict[int, list[float]] = defaultdict(list)
    for oid, stamp in conn.execute("SELECT object_id, stamp FROM absences ORDER BY object_id, stamp"):
        absences[oid].append(stamp)
    rows = conn.execute(
        "SELECT id, object_id, t_start, t_end, n, x, y, z, place, extent, reid FROM sightings"
        " ORDER BY object_id, t_start, id"
    ).fetchall()
    first_of: dict[int, int] = {}
    for r in rows:
        first_of.setdefault(r[1], r[0])
    protected = latest | set(first_of.values())

    # 1. merge runs into intervals
    deleted: set[int] = set()
    run: list[Any] = []

    def flush() -> None:
        if len(run) < 2:
            run.clear()
            return
        n = sum(r[4] for r in run)
        w = np.array([r[4] for r in run], dtype=np.float64)
        pos = np.array([r[5:8] for r in run], dtype=np.float64)
        mean = (pos * w[:, None]).sum(axis=0) / max(1.0, w.sum())
        head = run[0]
        ch.sql(
            "UPDATE sightings SET t_end=?, n=?, x=?, y=?, z=?, extent=? WHERE id=?",
            (max(r[3] for r in run), int(n), *map(float, mean), max(r[9] for r in run), head[0]),
        )
        deleted.update(r[0] for r in run[1:])
        run.clear()

    def can_join(r: Any) -> bool:
        if not run:
            return True
        head, last = run[0], run[-1]
        if r[1] != head[1] or r[8] != head[8] or r[10]:
            return False
        if math.dist(r[5:8], head[5:8]) > moved_distance:
            return False
        ab = absences.get(r[1], [])
        return bisect.bisect_right(ab, r[2]) == bisect.bisect_right(ab, last[3])  # no absence in between

    for r in rows:
        mergeable = r[0] not in latest and r[3] < horizon
        if not mergeable:
            flush()
            continue
        if not can_join(r):
            flush()
        run.append(r)
    flush()
    if deleted:
        ch.delete("sightings", deleted)
    report["sightings_merged"] = len(deleted)
    remaining = n_rows - len(deleted)

    # 2. still over: drop whole rows, least valuable first
    if remaining > target:
        value_of_obj = {
            oid: math.log1p(n_obs) / math.log(50.0) + 0.5 * math.log1p(retrieved)
            for oid, (n_obs, retrieved) in usage().items()
        }
        span = max(keep_recent_s, now - min((r[2] for r in rows), default=now))
        cands = []
        for r in rows:
            if r[0] in deleted or r[0] in protected or r[3] >= horizon:
                continue
            rec = math.exp(-max(0.0, now - r[3]) / max(1e-9, span / 3))
            cands.append((rec + value_of_obj.get(r[1], 0.0), r[3], r[0]))
        cands.sort()
        drop = [c[2] for c in cands[: remaining - target]]
        ch.delete("sightings", drop)
        report["sightings_dropped"] = len(drop)
    return ch, report


def plan_absences(
    conn: sqlite3.Connection, latest: set[int], max_rows: int, now: float, keep_recent_s: float, target_fraction: float
) -> tuple[Changes, dict[str, int]]:
    """``latest``: row ids of each object's latest absence."""
    ch = Changes()
    report = {"absences_dropped": 0}
    n_rows = int(conn.execute("SELECT COUNT(*) FROM absences").fetchone()[0])
    if n_rows <= max_rows:
        return ch, report
    target = int(max_rows * target_fraction)
    seen: dict[int, list[float]] = defaultdict(list)
    for oid, t0 in conn.execute("SELECT object_id, t_start FROM sightings ORDER BY object_id, t_start"):
        seen[oid].append(t0)
    horizon = now - keep_recent_s
    repeated: list[tuple[float, int]] = []
    other: list[tuple[float, int]] = []
    prev: dict[int, float] = {}
    for aid, oid, stamp in conn.execute("SELECT id, object_id, stamp FROM absences ORDER BY object_id, stamp, id"):
        p = prev.get(oid)
        prev[oid] = stamp
        if aid in latest or stamp >= horizon:
            continue
        s = seen.get(oid, [])
        first_of_run = p is None or bisect.bisect_right(s, stamp) != bisect.bisect_right(s, p)
        (other if first_of_run else repeated).append((stamp, aid))
    excess = n_rows - target
    drop = [aid for _, aid in sorted(repeated)][:excess]
    if len(drop) < excess:
        drop += [aid for _, aid in sorted(other)][: excess - len(drop)]
    ch.delete("absences", drop)
    report["absences_dropped"] = len(drop)
    return ch, report
