"""Forgetting and consolidation under a budget (``BudgetConfig``).

``enforce_budget(memory)`` runs every ``budget.check_every`` updates and on
``Memory.enforce_budget()``.  Past a limit it compresses or drops low-value
detail down to ``target_fraction`` of the limit, in this order, and never
touches the latest known state of an object or a still-valid fact:

1. *sightings*: consecutive rows of one object at the same place (and
   within ``temporal.moved_distance`` of each other, with no observed
   absence between) are merged into one interval row (t_start, t_end, n,
   n-weighted mean position); then, if still over, whole rows are dropped
   by a value score (recency, the object's importance = n_obs, and how often
   it was retrieved).  Each object's first and latest rows always stay.
2. *absences*: repeated absences of an object between two sightings are
   reduced to the first (when it was noticed gone); each object's latest
   absence always stays.
3. *snapshots* (keyframes): thinned, those showing only absent or rarely
   seen objects and the oldest first; the in-memory best-view index is
   rebuilt.
4. *episodes*: old episodes' raw steps are summarised into one step; past
   the episode limit, the least important old episodes are dropped.
5. *facts*: closed facts are dropped, least valuable first; open ones never.
6. *frames* (the trajectory): old frames thinned to every 10th, then oldest.

A per-submodule byte limit (``max_<submodule>_bytes``, measured with SQLite
``dbstat``) or ``max_store_bytes`` scales that submodule's row limits down
in proportion.  Everything is written in one transaction; in-memory indexes
change after the commit.  Then unreferenced blobs are collected, the WAL is
checkpointed and, when enough of the file is free pages, the database is
VACUUMed so the disk use actually goes down.
"""

from __future__ import annotations

import bisect
import contextlib
import math
import sqlite3
import time
from collections import defaultdict
from typing import TYPE_CHECKING, Any

import numpy as np

from robomem.submodules.base import Changes

if TYPE_CHECKING:
    from robomem.memory import Memory
    from robomem.submodules.spatial.memory import SpatialMemory
    from robomem.submodules.temporal.memory import TemporalMemory

SUBMODULE_TABLES = {
    "spatial": ("objects", "snapshots", "snapshot_objects"),
    "temporal": ("sightings", "absences"),
    "episodic": ("episodes", "steps"),
    "semantic": ("entities", "facts", "fact_evidence"),
    "core": ("frames", "places", "meta"),
}


def _chunks(ids: list[int], n: int = 500) -> list[list[int]]:
    return [ids[i : i + n] for i in range(0, len(ids), n)]


def _delete_ids(ch: Changes, table: str, ids: list[int], column: str = "id") -> None:
    for chunk in _chunks(sorted(ids)):
        ch.sql(f"DELETE FROM {table} WHERE {column} IN ({','.join('?' * len(chunk))})", tuple(chunk))


def table_bytes(conn: sqlite3.Connection) -> dict[str, int]:
    """Bytes on disk per table (its indexes included), from SQLite's dbstat; {} where dbstat is missing."""
    try:
        owner = {r[0]: r[1] for r in conn.execute("SELECT name, tbl_name FROM sqlite_master")}
        out: dict[str, int] = defaultdict(int)
        for name, size in conn.execute("SELECT name, SUM(pgsize) FROM dbstat GROUP BY name"):
            out[owner.get(name, name)] += int(size)
        return dict(out)
    except sqlite3.Error:
        return {}


def submodule_bytes(conn: sqlite3.Connection) -> dict[str, int]:
    tb = table_bytes(conn)
    return {sm: sum(tb.get(t, 0) for t in tables) for sm, tables in SUBMODULE_TABLES.items()}


# -- temporal ----------------------------------------------------------------------------
def plan_sightings(
    temporal: TemporalMemory,
    max_rows: int,
    now: float,
    keep_recent_s: float,
    target_fraction: float,
    moved_distance: float,
) -> tuple[Changes, dict[str, int]]:
    ch = Changes()
    report = {"sightings_merged": 0, "sightings_dropped": 0}
    conn = temporal.store.read()
    n_rows = int(conn.execute("SELECT COUNT(*) FROM sightings").fetchone()[0])
    if n_rows <= max_rows:
        return ch, report
    target = int(max_rows * target_fraction)
    with temporal._lock:
        latest = {s.row_id for s in temporal._last.values()}
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
        _delete_ids(ch, "sightings", list(deleted))
    report["sightings_merged"] = len(deleted)
    remaining = n_rows - len(deleted)

    # 2. still over: drop whole rows, least valuable first
    if remaining > target:
        merged_heads: dict[int, Any] = {}
        value_of_obj = {
            oid: math.log1p(n_obs) / math.log(50.0) + 0.5 * math.log1p(retrieved)
            for oid, n_obs, retrieved in conn.execute("SELECT id, n_obs, retrieved FROM objects")
        }
        span = max(keep_recent_s, now - min((r[2] for r in rows), default=now))
        cands = []
        for r in rows:
            if r[0] in deleted or r[0] in protected or r[3] >= horizon:
                continue
            merged_heads[r[0]] = r
            rec = math.exp(-max(0.0, now - r[3]) / max(1e-9, span / 3))
            cands.append((rec + value_of_obj.get(r[1], 0.0), r[3], r[0]))
        cands.sort()
        drop = [c[2] for c in cands[: remaining - target]]
        _delete_ids(ch, "sightings", drop)
        report["sightings_dropped"] = len(drop)
    return ch, report


def plan_absences(
    temporal: TemporalMemory, max_rows: int, now: float, keep_recent_s: float, target_fraction: float
) -> tuple[Changes, dict[str, int]]:
    ch = Changes()
    report = {"absences_dropped": 0}
    conn = temporal.store.read()
    n_rows = int(conn.execute("SELECT COUNT(*) FROM absences").fetchone()[0])
    if n_rows <= max_rows:
        return ch, report
    target = int(max_rows * target_fraction)
    with temporal._lock:
        latest = {a.row_id for a in temporal._last_absence.values()}
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
    _delete_ids(ch, "absences", drop)
    report["absences_dropped"] = len(drop)
    return ch, report


# -- spatial -------------------------------------------------------------------------------
def plan_snapshots(spatial: SpatialMemory, max_rows: int, target_fraction: float) -> tuple[Changes, dict[str, int]]:
    ch = Changes()
    report = {"snapshots_dropped": 0}
    with spatial._lock:
        snaps = dict(spatial._snapshots)
        objs = {oid: (o.status, o.n_obs, o.retrieved) for oid, o in spatial._objs.items()}
    if len(snaps) <= max_rows:
        return ch, report
    target = int(max_rows * target_fraction)

    def value(s: Any) -> tuple[float, float]:
        v = 0.0
        for oid in s.objects:
            status, n_obs, retrieved = objs.get(oid, ("absent", 0, 0))
            if status != "absent":
                v = max(v, 1.0 + math.log1p(n_obs) + math.log1p(retrieved))
        return (v, s.stamp)

    order = sorted(snaps.values(), key=value)
    drop = [s.snapshot_id for s in order[: len(snaps) - target]]
    _delete_ids(ch, "snapshot_objects", drop, "snapshot_id")
    _delete_ids(ch, "snapshots", drop)
    report["snapshots_dropped"] = len(drop)

    def apply() -> None:
        with spatial._lock:
            for sid in drop:
                spatial._snapshots.pop(sid, None)
            best: dict[int, tuple[int, int]] = {}
            for s in spatial._snapshots.values():
                for oid, px in s.objects.items():
                    if oid not in best or px > best[oid][1]:
                        best[oid] = (s.snapshot_id, px)
            spatial._best_view.clear()
            spatial._best_view.update(best)

    ch.then(apply)
    return ch, report


# -- core ----------------------------------------------------------------------------------
def plan_frames(
    memory: Memory, max_rows: int, now: float, keep_recent_s: float, target_fraction: float
) -> tuple[Changes, dict[str, int]]:
    ch = Changes()
    report = {"frames_dropped": 0}
    conn = memory.store.read()
    n_rows = int(conn.execute("SELECT COUNT(*) FROM frames").fetchone()[0])
    if n_rows <= max_rows:
        return ch, report
    excess = n_rows - int(max_rows * target_fraction)
    newest = {r[0] for r in conn.execute("SELECT MAX(idx) FROM frames GROUP BY robot_id")}
    rows = conn.execute("SELECT idx FROM frames WHERE stamp < ? ORDER BY idx", (now - keep_recent_s,)).fetchall()
    old = [r[0] for r in rows if r[0] not in newest]
    drop = [i for i in old if i % 10 != 0][:excess]
    if len(drop) < excess:
        kept = set(drop)
        drop += [i for i in old if i not in kept][: excess - len(drop)]
    _delete_ids(ch, "frames", drop, "idx")
    report["frames_dropped"] = len(drop)
    return ch, report


def _vacuum_if_worth_it(memory: Memory, free_fraction: float) -> bool:
    """Checkpoint the WAL; VACUUM when enough of the file is free pages (it cannot run inside a transaction)."""
    store = memory.store
    with store._write_lock:  # the store's one writer connection, outside any transaction
        conn = store._conn
        pages = int(conn.execute("PRAGMA page_count").fetchone()[0])
        free = int(conn.execute("PRAGMA freelist_count").fetchone()[0])
        vacuumed = False
        if pages > 64 and free >= free_fraction * pages:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            conn.execute("VACUUM")
            vacuumed = True
        with contextlib.suppress(sqlite3.Error):
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return vacuumed


def enforce_budget(memory: Memory) -> dict[str, Any]:
    """Compress/drop low-value detail past the budget, in one transaction; returns a report."""
    t0 = time.perf_counter()
    b = memory.config.budget
    now = max(memory.newest_stamp, memory.episodic.newest_stamp, memory.semantic.newest_stamp)
    conn = memory.store.read()
    bytes_before = memory.store.size_bytes()
    scale = dict.fromkeys(("spatial", "temporal", "episodic", "semantic", "core"), 1.0)
    if any((b.max_spatial_bytes, b.max_temporal_bytes, b.max_episodic_bytes, b.max_semantic_bytes)):
        sizes = submodule_bytes(conn)
        for sm in ("spatial", "temporal", "episodic", "semantic"):
            limit = getattr(b, f"max_{sm}_bytes")
            if limit and sizes.get(sm, 0) > limit:
                scale[sm] = limit / sizes[sm]
    if bytes_before > b.max_store_bytes:
        for sm in scale:
            scale[sm] = min(scale[sm], b.max_store_bytes / bytes_before)
    rows_before = memory.stats()["rows"]
    f = b.target_fraction
    keep = b.keep_recent_s
    plans = [
        plan_sightings(
            memory.temporal,
            int(b.max_sighting_rows * scale["temporal"]),
            now,
            keep,
            f,
            memory.config.temporal.moved_distance,
        ),
        plan_absences(memory.temporal, int(b.max_absence_rows * scale["temporal"]), now, keep, f),
        plan_snapshots(memory.spatial, int(b.max_snapshots * scale["spatial"]), f),
        memory.episodic.plan_forget(
            int(b.max_episode_steps * scale["episodic"]), int(b.max_episodes * scale["episodic"]), now, keep, f
        ),
        memory.semantic.plan_forget(int(b.max_fact_rows * scale["semantic"]), now, keep, f),
        plan_frames(memory, int(b.max_frame_rows * scale["core"]), now, keep, f),
    ]
    report: dict[str, Any] = {}
    ch = Changes()
    for c, r in plans:
        ch.extend(c)
        report.update(r)
    if ch:
        with memory.store.transaction() as wconn:
            ch.execute(wconn)
        ch.commit_memory()
    report["blobs_removed"] = memory.store.collect_garbage(memory.spatial.referenced_blobs())
    report["vacuumed"] = _vacuum_if_worth_it(memory, b.vacuum_free_fraction)
    report["rows_before"] = rows_before
    report["rows_after"] = memory.stats()["rows"]
    report["bytes_before"] = bytes_before
    report["bytes_after"] = memory.store.size_bytes()
    report["seconds"] = round(time.perf_counter() - t0, 4)
    return report
