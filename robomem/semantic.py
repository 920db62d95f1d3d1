"""Semantic memory (placeholder until issue 3 lands: keeps no rows, finds nothing)."""

from __future__ import annotations

from robomem.frame import Frame
from robomem.retrieval import Entry, Query
from robomem.submodule import Changes, Submodule


class SemanticMemory(Submodule):
    name = "semantic"

    def update(self, frame: Frame) -> Changes:
        return Changes()

    def search(self, query: Query, now: float) -> list[Entry]:
        return []
