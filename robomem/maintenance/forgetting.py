"""Forgetting and consolidation under a budget (``BudgetConfig``).

``plan_forgetting`` is the planning half of ``Memory.maintain()``, which runs
every ``budget.check_every`` updates and whenever a caller asks.  Past a limit it compresses or drops low-value
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

from collections.abc import Sequence

from robomem.config import BudgetConfig
from robomem.store.database import Store
from robomem.store.frames import FrameLog
from robomem.submodules.base import Changes, ForgetLimits, Submodule


def submodule_bytes(store: Store, submodules: Sequence[Submodule], core_tables: Sequence[str]) -> dict[str, int]:
    """Bytes on disk per submodule (its tables and their indexes; "core": the facade's), from SQLite's dbstat."""
    tb = store.table_bytes()
    owners = {sm.name: sm.owned_tables() for sm in submodules} | {"core": tuple(core_tables)}
    return {name: sum(tb.get(t, 0) for t in tables) for name, tables in owners.items()}


def budget_scales(
    store: Store, submodules: Sequence[Submodule], core_tables: Sequence[str], budget: BudgetConfig, bytes_now: int
) -> dict[str, float]:
    """The share of its row limits each submodule (and "core") may use now: 1.0, less under byte pressure."""
    scale = {sm.name: 1.0 for sm in submodules} | {"core": 1.0}
    per = {sm.name: int(getattr(budget, f"max_{sm.name}_bytes", 0)) for sm in submodules}
    if any(per.values()):
        sizes = submodule_bytes(store, submodules, core_tables)
        for name, limit in per.items():
            if limit and sizes.get(name, 0) > limit:
                scale[name] = limit / sizes[name]
    if bytes_now > budget.max_store_bytes:
        for name in scale:
            scale[name] = min(scale[name], budget.max_store_bytes / bytes_now)
    return scale


def plan_forgetting(
    store: Store,
    submodules: Sequence[Submodule],
    frames: FrameLog,
    core_tables: Sequence[str],
    budget: BudgetConfig,
    now: float,
) -> tuple[Changes, dict[str, int]]:
    """Every submodule's ``forget(limits, now)`` and the frame log's, as one set of changes, with a report."""
    scale = budget_scales(store, submodules, core_tables, budget, store.size_bytes())

    def limits(name: str) -> ForgetLimits:
        return ForgetLimits(budget, max(1e-9, min(1.0, scale[name])), budget.keep_recent_s, budget.target_fraction)

    report: dict[str, int] = {}
    ch = Changes()
    for sm in submodules:
        c, r = sm.forget(limits(sm.name), now)
        ch.extend(c)
        report.update(r)
    statements, r = frames.forget(
        limits("core").limit(budget.max_frame_rows), now, budget.keep_recent_s, budget.target_fraction
    )
    ch.statements.extend(statements)
    report.update(r)
    return ch, report
