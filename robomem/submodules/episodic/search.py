"""Reading episodes: by id, time and robot; similar-past-experience search with neighbours in time; ``search``."""

from __future__ import annotations

import math

import numpy as np

from robomem.retrieval.query import Entry, Query, recency
from robomem.submodules.episodic.records import STEP_COLUMNS, Episode, EpisodeHit, Step, step_from_row
from robomem.submodules.episodic.state import EpisodicState


class EpisodeSearch(EpisodicState):
    # -- queries ----------------------------------------------------------------------
    def episode(self, episode_id: int) -> Episode | None:
        with self._lock:
            return self._episodes.get(int(episode_id))

    def current(self, robot_id: str = "robot") -> Episode | None:
        with self._lock:
            cur = self._current.get(robot_id)
            return self._episodes.get(cur.episode_id) if cur is not None else None

    def episodes(
        self,
        since: float | None = None,
        until: float | None = None,
        kind: str | None = None,
        robot_id: str | None = None,
    ) -> list[Episode]:
        lo = -math.inf if since is None else since
        hi = math.inf if until is None else until
        with self._lock:
            eps = list(self._episodes.values())
        return sorted(
            (
                e
                for e in eps
                if e.t_end >= lo
                and e.t_start <= hi
                and (kind is None or e.kind == kind)
                and (robot_id is None or e.robot_id == robot_id)
            ),
            key=lambda e: (e.t_start, e.episode_id),
        )

    def neighbours(self, episode_id: int, n: int | None = None) -> tuple[tuple[Episode, ...], tuple[Episode, ...]]:
        """The ``n`` episodes just before and just after this one (same robot), in time order."""
        n = self.config.episodic.neighbours if n is None else n
        ep = self.episode(episode_id)
        if ep is None:
            raise ValueError(f"neighbours: no episode {episode_id}")
        same = self.episodes(robot_id=ep.robot_id)
        i = next(j for j, e in enumerate(same) if e.episode_id == ep.episode_id)
        return tuple(same[max(0, i - n) : i]), tuple(same[i + 1 : i + 1 + n])

    def _episode_matrix(self) -> tuple[list[int], np.ndarray]:
        with self._lock:
            if self._matrix is not None:
                return self._matrix
            ids = sorted(self._episodes)
            emb = dict(self._emb)
            tasks = {i: self._episodes[i].task for i in ids if i not in emb}
        if tasks:  # open episodes are embedded when they end; until then, here (the embedder caches)
            emb.update(zip(tasks, self._embed(list(tasks.values())), strict=True))
        mat = np.stack([emb[i] for i in ids]) if ids else np.zeros((0, self.ctx.embedder.dim), np.float32)
        with self._lock:
            self._matrix = (ids, mat)
        return ids, mat

    def similar(
        self,
        text: str,
        k: int = 5,
        outcome: str | None = None,
        since: float | None = None,
        until: float | None = None,
        place: str | None = None,
        kind: str | None = None,
        object_ids: tuple[int, ...] = (),
        neighbours: int | None = None,
        min_relevance: float = 0.0,
    ) -> list[EpisodeHit]:
        """Past episodes most like ``text`` (a task), each with its neighbours in time and its best steps.

        ``outcome``: "success", "failure" (by the success flag) or any other text the outcome must contain;
        ``since``/``until``: the episode must overlap that window; ``place``: it must have been there.
        """
        if not isinstance(text, str) or not text.strip():
            raise ValueError(f"similar: text must be a non-empty string, got {text!r}")
        if isinstance(k, bool) or not isinstance(k, int) or k < 1:
            raise ValueError(f"similar: k must be a positive integer, got {k!r}")
        scored = self._rank(text, outcome, since, until, place, kind, object_ids)
        out = []
        for eid, rel in scored[:k]:
            if rel < min_relevance:
                break
            before, after = self.neighbours(eid, neighbours)
            out.append(EpisodeHit(self._episodes[eid], rel, before, after, tuple(self._best_steps(eid, text, 3))))
        return out

    def _rank(
        self,
        text: str | None,
        outcome: str | None,
        since: float | None,
        until: float | None,
        place: str | None,
        kind: str | None,
        object_ids: tuple[int, ...],
    ) -> list[tuple[int, float]]:
        ids, mat = self._episode_matrix()
        with self._lock:
            eps = {i: self._episodes[i] for i in ids if i in self._episodes}
        if text:
            q = self._embed([text])[0]
            rel = np.clip(mat @ q, 0.0, 1.0) if len(ids) else np.zeros(0)
        else:
            rel = np.ones(len(ids))
        lo = -math.inf if since is None else since
        hi = math.inf if until is None else until
        want_ok: bool | None = None
        needle = None
        if outcome is not None:
            o = outcome.strip().lower()
            if o in ("success", "succeeded", "ok", "true"):
                want_ok = True
            elif o in ("failure", "failed", "fail", "false"):
                want_ok = False
            else:
                needle = o
        out = []
        wanted_objs = set(object_ids)
        for i, eid in enumerate(ids):
            ep = eps.get(eid)
            if ep is None or ep.t_end < lo or ep.t_start > hi:
                continue
            if kind is not None and ep.kind != kind:
                continue
            if place is not None and place not in ep.places:
                continue
            if want_ok is not None and ep.success is not want_ok:
                continue
            if needle is not None and needle not in (ep.outcome or "").lower():
                continue
            if wanted_objs and not wanted_objs.intersection(ep.object_ids):
                continue
            out.append((eid, float(rel[i])))
        out.sort(key=lambda p: (-p[1], -eps[p[0]].t_end))
        return out

    def _best_steps(self, episode_id: int, text: str | None, n: int) -> list[Step]:
        rows = (
            self.store.read()
            .execute(
                f"SELECT {STEP_COLUMNS}, embedding FROM steps WHERE episode_id=? ORDER BY idx, id",
                (int(episode_id),),
            )
            .fetchall()
        )
        if not rows:
            return []
        if not text:
            return [step_from_row(r) for r in rows[-n:]]
        missing = [i for i, r in enumerate(rows) if r[14] is None]  # an open episode's steps not yet embedded
        vecs = self._embed([text] + [step_from_row(rows[i]).text for i in missing])
        q = vecs[0]
        fresh = dict(zip(missing, vecs[1:], strict=True))
        sims = [
            float((fresh[i] if i in fresh else np.frombuffer(r[14], dtype=np.float32)) @ q) for i, r in enumerate(rows)
        ]
        order = sorted(range(len(rows)), key=lambda i: -sims[i])[:n]
        return [step_from_row(rows[i]) for i in sorted(order)]

    def search(self, query: Query, now: float) -> list[Entry]:
        if not (query.wants("episode") or query.wants("step")):
            return []
        rcfg = self.config.retrieval
        if query.time is None:
            now = max(now, self._newest)  # events and steps can be newer than the newest frame
        text = query.search_text
        ranked = self._rank(text, None, query.since, query.until, None, None, query.object_ids)
        if text:
            ranked = [(e, r) for e, r in ranked if r >= rcfg.min_relevance]
        else:
            ranked.sort(key=lambda p: -self._episodes[p[0]].t_end)
        out: list[Entry] = []
        for eid, rel in ranked[: max(query.k, 3)]:
            ep = self._episodes[eid]
            before, after = self.neighbours(eid)
            parts = {
                "relevance": rel,
                "recency": recency(ep.t_end, now, rcfg.recency_tau),
                "confidence": 1.0 if ep.kind == "task" else 0.7,
                "importance": self._importance(ep),
            }
            if query.wants("episode"):
                ctx = "".join(f"; before: '{b.task}' ({b.outcome or 'no outcome'})" for b in before)
                ctx += "".join(f"; after: '{a.task}' ({a.outcome or 'no outcome'})" for a in after)
                out.append(
                    Entry(
                        key=f"episode:{eid}",
                        kind="episode",
                        source=self.name,
                        text=ep.text + ctx,
                        stamp=ep.t_end,
                        place=ep.places[0] if ep.places else None,
                        object_ids=ep.object_ids[:20],
                        provenance=tuple(f"episode:{n.episode_id}" for n in (*before, *after)),
                        parts=parts,
                        data={
                            **ep.to_dict(),
                            "before": [b.episode_id for b in before],
                            "after": [a.episode_id for a in after],
                        },
                    )
                )
            if query.wants("step"):
                for st in self._best_steps(eid, text, 2):
                    srel = rel
                    if text:
                        srel = float(np.clip(self._embed([st.text])[0] @ self._embed([text])[0], 0.0, 1.0))
                        srel = max(srel, 0.9 * rel)
                    out.append(
                        Entry(
                            key=f"step:{st.step_id}",
                            kind="step",
                            source=self.name,
                            text=f"in episode #{eid} '{ep.task}' at t={st.stamp:.1f}s: {st.text}",
                            stamp=st.stamp,
                            place=st.place,
                            provenance=(f"episode:{eid}",)
                            + ((f"frame:{st.frame_index}",) if st.frame_index is not None else ()),
                            parts={
                                **parts,
                                "relevance": srel * 0.95,
                                "recency": recency(st.stamp, now, rcfg.recency_tau),
                            },
                            data=st.to_dict(),
                        )
                    )
        return out
