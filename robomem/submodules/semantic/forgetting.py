"""Forgetting in semantic memory: closed facts are dropped past the budget, least valuable first."""

from __future__ import annotations

from robomem.submodules.base import Changes, ForgetLimits
from robomem.submodules.semantic.state import SemanticState


class FactForgetting(SemanticState):
    def forget(self, limits: ForgetLimits, now: float) -> tuple[Changes, dict[str, int]]:
        """The budget pass (``budget.max_fact_rows``, scaled by ``limits``)."""
        ch, report = self._forget_under(
            limits.limit(limits.budget.max_fact_rows), now, limits.keep_recent_s, limits.target_fraction
        )

        def gone() -> None:  # objects forgotten by spatial memory: the next pass retires their habits
            index = self.spatial.label_index()
            with self._lock:
                self._visit_dirty |= set(self._tally.missing(index.ids))

        ch.then(gone)
        return ch, report

    def _forget_under(
        self, max_facts: int, now: float, keep_recent_s: float, target_fraction: float = 0.8
    ) -> tuple[Changes, dict[str, int]]:
        """Past the budget: delete *closed* facts (never a still-valid one), least valuable first.

        Order: scene-graph and perception facts before asserted and consolidated ones, then least
        retrieved, then longest closed.  Facts closed within ``keep_recent_s`` stay.
        """
        ch = Changes()
        conn = self.store.read()
        n = int(conn.execute("SELECT COUNT(*) FROM facts").fetchone()[0])
        report = {"facts_dropped": 0}
        if n <= max_facts:
            return ch, report
        excess = n - int(max_facts * target_fraction)
        rank = "CASE source WHEN 'scene_graph' THEN 0 WHEN 'perception' THEN 1 WHEN 'instruction' THEN 2 ELSE 3 END"
        ids = [
            r[0]
            for r in conn.execute(
                f"SELECT id FROM facts WHERE valid_to IS NOT NULL AND valid_to < ? ORDER BY {rank}, retrieved, valid_to"
                " LIMIT ?",
                (now - keep_recent_s, excess),
            )
        ]
        for i in range(0, len(ids), 500):
            chunk = ids[i : i + 500]
            marks = ",".join("?" * len(chunk))
            ch.sql(f"DELETE FROM fact_evidence WHERE fact_id IN ({marks})", tuple(chunk))
            ch.sql(f"DELETE FROM facts WHERE id IN ({marks})", tuple(chunk))
        report["facts_dropped"] = len(ids)
        return ch, report
