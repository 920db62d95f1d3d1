"""Semantic memory: a bi-temporal knowledge graph of facts with provenance.

A *fact* is (subject, predicate, object) between *entities* that share ids
with the rest of memory: ``object:12`` (display name "red mug #12", the same
id as in spatial and temporal memory), ``place:kitchen``, ``class:red mug``
(all objects with that label) and ``entity:anna`` (anything else named in
language).  Each fact row carries

- ``confidence`` in [0, 1] and ``count`` (how much evidence supports it);
- *valid time* ``valid_from`` / ``valid_to`` (when it was true in the world,
  sensor seconds) and *record time* ``recorded_at`` / ``expired_at`` (when
  memory learned it and when memory stopped believing it — the newest
  stamp memory had when it wrote the row; for asserted and consolidated
  facts the two differ);
- provenance rows in ``fact_evidence``: frame indexes, event stamps and
  texts, episode and step ids — ``why(fact_id)`` follows them back to the
  temporal ``sightings`` rows and ``frames``.

Updates are ADD / UPDATE / INVALIDATE / NOOP and perception decides first:
a sighting of an object in a place ADDs ``object:N located_in place:P`` or,
if another place was believed, UPDATEs (the old fact is *closed*:
``valid_to`` and ``expired_at`` set, never deleted); an observed absence
INVALIDATEs the location fact; a repeat sighting is a NOOP that reinforces
(count, confidence, last evidence).  For *functional* predicates (one value
at a time: located_in, belongs_to, on, …) conflicting evidence is resolved
by recency and confidence: new evidence of strength s replaces the old value
when s >= confidence_old * 0.5 ** (age / half_life) - update_margin (age =
time since the old fact's last evidence; the margin lets the newer of two
similar claims win); clearly weaker evidence only lowers the old confidence,
so repeated weak evidence eventually wins.

Facts also come from events: ``Event(kind="fact", text="red mug | belongs_to |
Anna")`` (an optional fourth field is a confidence, or ``false`` to retract)
and simple patterns in instructions ("the red mug is Anna's", "the keys are
in the kitchen", "the book is on the table", "drawer_2 is broken").

Consolidation (every ``consolidate_every`` frames, or ``Memory.consolidate()``)
derives general facts with the count behind each: ``object:N usually_in
place:P`` and ``class:mug usually_in place:P`` from where most sightings
were, ``entity:drawer_2 often_fails open`` from failed steps/episodes, and
``on`` / ``in`` facts from the scene graph's geometry.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from robomem.retrieval.query import Entry
from robomem.submodules.base import Changes
from robomem.submodules.semantic.forgetting import FactForgetting
from robomem.submodules.semantic.language import parse_fact_text, parse_statement, slug, strip_articles
from robomem.submodules.semantic.queries import SemanticQueries
from robomem.submodules.semantic.records import Evidence, Explanation, Fact
from robomem.submodules.semantic.updates import FactUpdates

__all__ = [
    "Evidence",
    "Explanation",
    "Fact",
    "SemanticMemory",
    "parse_fact_text",
    "parse_statement",
    "slug",
    "strip_articles",
]


class SemanticMemory(FactUpdates, SemanticQueries, FactForgetting):
    """The semantic submodule: update rules from perception and events, consolidation, queries and search,
    forgetting.  The pieces live in the modules named above; this class joins them."""

    def mark_retrieved(self, entries: Sequence[Entry], now: float) -> Changes:
        """Count retrievals of its fact entries (forgetting keeps often-retrieved closed facts longer)."""
        ids = [
            int(e.data["fact_id"])
            for e in entries
            if e.source == self.name and e.kind == "fact" and "fact_id" in e.data
        ]
        ch = Changes()
        for fid in ids:
            ch.sql("UPDATE facts SET retrieved = retrieved + 1 WHERE id=?", (fid,))

        def apply() -> None:
            with self._lock:
                for fid in ids:
                    f = self._open.get(fid)
                    if f is not None:
                        self._open[fid] = replace(f, retrieved=f.retrieved + 1)

        if ids:
            ch.then(apply)
        return ch

    def remap_object(self, drop: int, keep: int) -> Changes:
        """A merge: facts about object ``drop`` (as subject or object) are about ``keep`` from now on."""
        ks, ds = f"object:{int(keep)}", f"object:{int(drop)}"
        ch = Changes()
        ch.sql("UPDATE facts SET subject=? WHERE subject=?", (ks, ds))
        ch.sql("UPDATE facts SET object=? WHERE object=?", (ks, ds))
        ch.sql("DELETE FROM entities WHERE id=?", (ds,))  # a version-2 store may still name objects here

        def apply() -> None:
            with self._lock:
                moved = [f for f in self._open.values() if ds in (f.subject, f.object)]
                for f in moved:
                    self._by_sp[(f.subject, f.predicate)].discard(f.fact_id)
                    new = replace(
                        f, subject=ks if f.subject == ds else f.subject, object=ks if f.object == ds else f.object
                    )
                    self._open[f.fact_id] = new
                    self._by_sp[(new.subject, new.predicate)].add(f.fact_id)
                self._entities.pop(ds, None)
                self._visit_dirty |= {int(keep), int(drop)}  # its sightings are keep's now

        ch.then(apply)
        return ch
