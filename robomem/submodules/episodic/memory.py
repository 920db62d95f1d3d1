"""Episodic memory: episodes (a task, its steps, actions, outcome), each with an embedding.

An *episode* is either begun explicitly (``begin_episode(task)`` …
``end_episode(outcome)``, kind ``"task"``) or cut automatically from the
stream (kind ``"auto"``): a new goal/instruction, a large change in what is
seen (the EM-LLM "surprise" idea: 1 - Jaccard overlap of the objects in view
with those seen in the last few frames, or the camera entering another
place), or a long gap in time.  Automatic cuts never split an explicit
episode; inside one, a surprising frame becomes an observation step instead.

*Steps* are what happened inside an episode: an observation summary
("in the kitchen: saw red mug #2, table #1; book #3 gone"), an action, its
result and success.  Frames make a step only when something changes (first
frame, new or re-identified objects, observed absences, a surprising view);
events (action, outcome, instruction, fact, …) always make one.  Every
episode and step carries a text embedding (``ctx.embedder``).

``similar(text)`` finds past experiences like a task text and returns each
hit with its neighbours in time (same robot); filters: outcome, time range,
place.  ``search(query)`` returns ``Entry`` objects of kinds ``episode`` and
``step`` for ``Memory.retrieve``.

Like every submodule, the planning methods (``update``, ``on_event``,
``begin``, ``end``, ``step``) return :class:`Changes` and write nothing; the
facade commits them (``Memory.begin_episode`` etc.).
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Sequence
from dataclasses import replace

from robomem.retrieval.query import Entry
from robomem.submodules.base import Changes
from robomem.submodules.episodic.forgetting import EpisodeForgetting
from robomem.submodules.episodic.records import STEP_COLUMNS, Episode, EpisodeHit, Step, infer_success, step_from_row
from robomem.submodules.episodic.search import EpisodeSearch
from robomem.submodules.episodic.segmentation import EpisodeWriter

__all__ = ["Episode", "EpisodeHit", "EpisodicMemory", "Step", "infer_success"]


class EpisodicMemory(EpisodeWriter, EpisodeSearch, EpisodeForgetting):
    """The episodic submodule: segmentation (``update``, ``on_event``, ``begin``/``end``/``step``), queries and
    search, forgetting.  The pieces live in the modules named above; this class joins them."""

    def mark_retrieved(self, entries: Sequence[Entry], now: float) -> Changes:
        """Count retrievals of its episode entries (forgetting keeps often-retrieved episodes longer)."""
        ids = [
            int(e.data["episode_id"])
            for e in entries
            if e.source == self.name and e.kind == "episode" and "episode_id" in e.data
        ]
        ch = Changes()
        for eid in ids:
            ch.sql("UPDATE episodes SET retrieved = retrieved + 1 WHERE id=?", (eid,))

        def apply() -> None:
            with self._lock:
                for eid in ids:
                    ep = self._episodes.get(eid)
                    if ep is not None:
                        self._episodes[eid] = replace(ep, retrieved=ep.retrieved + 1)

        if ids:
            ch.then(apply)
        return ch

    def remap_object(self, drop: int, keep: int) -> Changes:
        """A merge: object ``drop`` becomes ``keep`` in episodes' object lists, steps' seen lists and the
        surprise windows of open episodes."""
        drop, keep = int(drop), int(keep)
        ch = Changes()
        with self._lock:
            eps = [e for e in self._episodes.values() if drop in e.object_ids]
        new_eps = {}
        for ep in eps:
            ids = tuple(sorted({keep if i == drop else i for i in ep.object_ids}))
            new_eps[ep.episode_id] = replace(ep, object_ids=ids)
            ch.sql("UPDATE episodes SET object_ids=? WHERE id=?", (json.dumps(list(ids)), ep.episode_id))
        rows = (
            self.store.read()
            .execute(
                "SELECT id, seen FROM steps WHERE EXISTS (SELECT 1 FROM json_each(steps.seen) WHERE value=?)", (drop,)
            )
            .fetchall()
        )
        for sid, seen in rows:
            ids_list = list(dict.fromkeys(keep if int(i) == drop else int(i) for i in json.loads(seen)))
            ch.sql("UPDATE steps SET seen=? WHERE id=?", (json.dumps(ids_list), sid))

        def swap(ids: frozenset[int]) -> frozenset[int]:
            return (ids - {drop}) | {keep} if drop in ids else ids

        def apply() -> None:
            with self._lock:
                for eid, ep in new_eps.items():
                    if eid in self._episodes:
                        self._episodes[eid] = replace(self._episodes[eid], object_ids=ep.object_ids)
                for cur in self._current.values():
                    cur.recent = deque((swap(s) for s in cur.recent), maxlen=cur.recent.maxlen)

        ch.then(apply)
        return ch

    # -- read methods for the other submodules (semantic consolidation and provenance) --------
    def action_steps(self) -> list[Step]:
        """Every step with an action whose success is known (what ``often_fails`` consolidates)."""
        rows = (
            self.store.read()
            .execute(f"SELECT {STEP_COLUMNS} FROM steps WHERE action != '' AND success IS NOT NULL ORDER BY id")
            .fetchall()
        )
        return [step_from_row(r) for r in rows]

    def step_episodes(self, step_ids: Sequence[int]) -> set[int]:
        """The episodes the given steps belong to (steps forgotten since are skipped)."""
        ids = [int(i) for i in step_ids]
        out: set[int] = set()
        conn = self.store.read()
        for i in range(0, len(ids), 500):
            part = ids[i : i + 500]
            marks = ",".join("?" * len(part))
            out |= {r[0] for r in conn.execute(f"SELECT DISTINCT episode_id FROM steps WHERE id IN ({marks})", part)}
        return out
