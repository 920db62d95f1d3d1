"""Forgetting in episodic memory: summarise old episodes' raw steps, then drop old low-value episodes."""

from __future__ import annotations

from robomem.submodules.base import Changes, ForgetLimits
from robomem.submodules.episodic.records import Step, most_seen, summarise_steps
from robomem.submodules.episodic.state import EpisodicState


class EpisodeForgetting(EpisodicState):
    def forget(self, limits: ForgetLimits, now: float) -> tuple[Changes, dict[str, int]]:
        """The budget pass (``budget.max_episode_steps``, ``budget.max_episodes``, scaled by ``limits``)."""
        b = limits.budget
        return self._forget_under(
            limits.limit(b.max_episode_steps),
            limits.limit(b.max_episodes),
            now,
            limits.keep_recent_s,
            limits.target_fraction,
        )

    def _forget_under(
        self, max_steps: int, max_episodes: int, now: float, keep_recent_s: float, target_fraction: float = 0.8
    ) -> tuple[Changes, dict[str, int]]:
        """Past the budget: summarise old episodes' raw steps into one step each, then drop old low-value episodes.

        Order: least important first (auto before task; successes before failures), then least retrieved,
        then oldest.  Open episodes and those younger than ``keep_recent_s`` are never touched.
        """
        ch = Changes()
        report = {"steps_summarised": 0, "episodes_dropped": 0}
        conn = self.store.read()
        n_steps = int(conn.execute("SELECT COUNT(*) FROM steps").fetchone()[0])
        with self._lock:
            eps = [e for e in self._episodes.values() if not e.is_open and e.t_end < now - keep_recent_s]
        order = sorted(eps, key=lambda e: (self._importance(e), e.retrieved, e.t_end))
        dropped: list[int] = []
        summaries: list[Step] = []
        next_step = self._next_step  # summary ids, taken at commit
        if n_steps > max_steps:
            target = int(max_steps * target_fraction)
            counts = dict(conn.execute("SELECT episode_id, COUNT(*) FROM steps GROUP BY episode_id").fetchall())
            for ep in order:
                if n_steps <= target:
                    break
                c = counts.get(ep.episode_id, 0)
                if c <= 1:
                    continue
                steps = self.steps(ep.episode_id)
                summary = summarise_steps(steps, self._object_name)
                sid = next_step
                next_step += 1
                st = Step(
                    sid,
                    ep.episode_id,
                    0,
                    steps[0].stamp,
                    "summary",
                    summary,
                    "",
                    ep.outcome or "",
                    ep.success,
                    steps[0].place,
                    None,
                    sum(s.n for s in steps),
                    steps[-1].t_end or steps[-1].stamp,
                    tuple(most_seen(steps)),
                )
                ch.sql("DELETE FROM steps WHERE episode_id=?", (ep.episode_id,))
                summaries.append(st)
                n_steps -= c - 1
                report["steps_summarised"] += c
            if summaries:
                vecs = self._embed([st.text for st in summaries])  # one batch
                for st, v in zip(summaries, vecs, strict=True):
                    self._step_sql(ch, st, v)
        n_eps = len(self._episodes)
        if n_eps > max_episodes:
            target = int(max_episodes * target_fraction)
            for ep in order:
                if n_eps <= target:
                    break
                ch.sql("DELETE FROM steps WHERE episode_id=?", (ep.episode_id,))
                ch.sql("DELETE FROM episodes WHERE id=?", (ep.episode_id,))
                dropped.append(ep.episode_id)
                n_eps -= 1
            report["episodes_dropped"] = len(dropped)

        def apply() -> None:
            with self._lock:
                for eid in dropped:
                    self._episodes.pop(eid, None)
                    self._emb.pop(eid, None)
                if dropped:
                    self._matrix = None
            self._taken(self._next_episode, next_step)

        ch.then(apply)
        return ch, report

    def _object_name(self, object_id: int) -> str:
        return f"{self.spatial.label_of(object_id) or 'object'} #{object_id}"
