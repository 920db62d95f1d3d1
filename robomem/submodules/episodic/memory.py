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

from dataclasses import replace

from robomem.submodules.base import Changes
from robomem.submodules.episodic.forgetting import EpisodeForgetting
from robomem.submodules.episodic.records import Episode, EpisodeHit, Step, infer_success
from robomem.submodules.episodic.search import EpisodeSearch
from robomem.submodules.episodic.segmentation import EpisodeWriter

__all__ = ["Episode", "EpisodeHit", "EpisodicMemory", "Step", "infer_success"]


class EpisodicMemory(EpisodeWriter, EpisodeSearch, EpisodeForgetting):
    """The episodic submodule: segmentation (``update``, ``on_event``, ``begin``/``end``/``step``), queries and
    search, forgetting.  The pieces live in the modules named above; this class joins them."""

    def mark_retrieved(self, episode_ids: list[int]) -> Changes:
        """Count retrievals (forgetting keeps often-retrieved episodes longer)."""
        ch = Changes()
        ids = [int(i) for i in episode_ids]
        for eid in ids:
            ch.sql("UPDATE episodes SET retrieved = retrieved + 1 WHERE id=?", (eid,))

        def apply() -> None:
            with self._lock:
                for eid in ids:
                    ep = self._episodes.get(eid)
                    if ep is not None:
                        self._episodes[eid] = replace(ep, retrieved=ep.retrieved + 1)

        ch.then(apply)
        return ch
