"""Forgetting and consolidation under a budget (``BudgetConfig``).

``enforce_budget(memory)`` is ``Memory.maintain()``: it runs every
``budget.check_every`` updates and whenever a caller asks.  Past a limit it compresses or drops low-value
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
in proportion.  Each submodule plans its own part (``forget(limits, now)``:
spatial the snapshots, temporal the sightings and absences, episodic the
episodes, semantic the facts) and the frame log its frames; everything is
written in one transaction and in-memory indexes change after the commit
(no reload).  This module only orchestrates: it holds no SQL.  Then unreferenced blobs are collected, the WAL is
checkpointed and, when enough of the file is free pages, the database is
VACUUMed so the disk use actually goes down.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from robomem.submodules.base import Changes, ForgetLimits

if TYPE_CHECKING:
    from robomem.memory import Memory


def submodule_bytes(memory: Memory) -> dict[str, int]:
    """Bytes on disk per submodule (its tables and their indexes; "core": the facade's), from SQLite's dbstat."""
    from robomem.memory import CORE_TABLES

    tb = memory.store.table_bytes()
    owners = {sm.name: sm.owned_tables() for sm in memory.submodules} | {"core": CORE_TABLES}
    return {name: sum(tb.get(t, 0) for t in tables) for name, tables in owners.items()}


def budget_scales(memory: Memory, bytes_now: int) -> dict[str, float]:
    """The share of its row limits each submodule (and "core") may use now: 1.0, less under byte pressure."""
    b = memory.config.budget
    scale = {sm.name: 1.0 for sm in memory.submodules} | {"core": 1.0}
    per = {sm.name: int(getattr(b, f"max_{sm.name}_bytes", 0)) for sm in memory.submodules}
    if any(per.values()):
        sizes = submodule_bytes(memory)
        for name, limit in per.items():
            if limit and sizes.get(name, 0) > limit:
                scale[name] = limit / sizes[name]
    if bytes_now > b.max_store_bytes:
        for name in scale:
            scale[name] = min(scale[name], b.max_store_bytes / bytes_now)
    return scale


def enforce_budget(memory: Memory) -> dict[str, Any]:
    """Compress/drop low-value detail past the budget, in one transaction; returns a report."""
    t0 = time.perf_counter()
    b = memory.config.budget
    now = memory.world_stamp()
    bytes_before = memory.store.size_bytes()
    scale = budget_scales(memory, bytes_before)
    rows_before = memory.stats()["rows"]

    def limits(name: str) -> ForgetLimits:
        return ForgetLimits(b, max(1e-9, min(1.0, scale[name])), b.keep_recent_s, b.target_fraction)

    report: dict[str, Any] = {}
    ch = Changes()
    for sm in memory.submodules:
        c, r = sm.forget(limits(sm.name), now)
        ch.extend(c)
        report.update(r)
    lc = limits("core")
    statements, r = memory.frames.forget(lc.limit(b.max_frame_rows), now, b.keep_recent_s, b.target_fraction)
    ch.statements.extend(statements)
    report.update(r)
    if ch:
        memory._commit([ch])  # noqa: SLF001 - the facade's one transaction (it holds the lock)
    report["blobs_removed"] = memory.store.collect_garbage(memory.spatial.referenced_blobs())
    report["vacuumed"] = memory.store.compact(b.vacuum_free_fraction)
    report["rows_before"] = rows_before
    report["rows_after"] = memory.stats()["rows"]
    report["bytes_before"] = bytes_before
    report["bytes_after"] = memory.store.size_bytes()
    report["seconds"] = round(time.perf_counter() - t0, 4)
    return report
