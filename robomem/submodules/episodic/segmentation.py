"""Writing episodes: cutting the stream into episodes (goal, surprise, place, gap), explicit begin/end, and steps.

Every method plans: it returns :class:`Changes` and writes nothing; the facade commits them.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from robomem.ingest.frame import Frame
from robomem.observation import Event
from robomem.submodules.base import Changes
from robomem.submodules.episodic.records import (
    MAX_OBJECTS_PER_EPISODE,
    CurrentEpisode,
    Episode,
    Step,
    infer_success,
    summarise_frame,
    surprise_of,
)
from robomem.submodules.episodic.state import EpisodicState, _Plan


class EpisodeWriter(EpisodicState):
    def _open(
        self,
        plan: _Plan,
        ch: Changes,
        task: str,
        kind: str,
        robot_id: str,
        stamp: float,
        reason: str,
        place: str | None,
    ) -> CurrentEpisode:
        eid = plan.take_episode_id()
        ep = Episode(
            eid, task, kind, robot_id, stamp, stamp, True, None, None, (place,) if place else (), (), 0, 0, reason
        )
        self._open_sql(ch, ep, None)  # embedded when it ends, in one batch with its steps
        prefetch = getattr(self.ctx.embedder, "prefetch", None)
        if prefetch is not None:  # a query ranks open episodes by their task: embed it between frames
            prefetch([task])
        plan.episodes[eid] = ep
        cur = CurrentEpisode(eid, kind, place=place, last_activity=stamp)
        plan.current[robot_id] = cur
        return cur

    def _close(
        self,
        plan: _Plan,
        ch: Changes,
        robot_id: str,
        stamp: float,
        outcome: str | None,
        success: bool | None,
        target: str | None = None,
        found_in: str | None = None,
    ) -> Episode | None:
        cur = plan.cur(robot_id)
        if cur is None:
            return None
        ep = plan.episode(cur.episode_id)
        if ep.kind == "auto" and ep.n_frames > 0 and ep.cut_reason not in ("goal",):
            # An automatic episode's "task" is what happened in it; name it now that it is complete.
            task = self._describe(ep)
        else:
            task = ep.task
        ep = replace(
            ep,
            task=task,
            t_end=max(ep.t_end, stamp),
            is_open=False,
            outcome=outcome,
            success=success,
            target=target,
            found_in=found_in,
        )
        plan.episodes[ep.episode_id] = ep
        ch.sql(*self._episode_sql(ep))
        # The episode's embedding and its pending steps' in one batch.
        vecs = self._embed([task] + [text for _, text in cur.pending])
        plan.emb[ep.episode_id] = vecs[0]
        ch.sql("UPDATE episodes SET embedding=? WHERE id=?", (vecs[0].astype(np.float32).tobytes(), ep.episode_id))
        for (sid, _), v in zip(cur.pending, vecs[1:], strict=True):
            ch.sql("UPDATE steps SET embedding=? WHERE id=?", (v.astype(np.float32).tobytes(), sid))
        cur.pending = []
        plan.current[robot_id] = None
        return ep

    def _describe(self, ep: Episode) -> str:
        """An automatic episode's name: where it went and what it saw most (labels from spatial, the authority)."""
        usage = self.spatial.usage()
        known = sorted((oid for oid in ep.object_ids if oid in usage), key=lambda i: -usage[i][0])
        labels = [lab for lab in (self.spatial.label_of(oid) for oid in known[:6]) if lab is not None]
        where = " and ".join(ep.places) if ep.places else "around"
        seen = f": saw {', '.join(labels)}" if labels else ""
        return f"explored {where}{seen}"

    def _add_step(
        self,
        plan: _Plan,
        ch: Changes,
        cur: CurrentEpisode,
        stamp: float,
        kind: str,
        observation: str = "",
        action: str = "",
        result: str = "",
        success: bool | None = None,
        place: str | None = None,
        frame_index: int | None = None,
        object_ids: tuple[int, ...] = (),
    ) -> Step:
        st = Step(
            plan.take_step_id(),
            cur.episode_id,
            cur.n_steps,
            stamp,
            kind,
            observation,
            action,
            result,
            success,
            place,
            frame_index,
            object_ids=object_ids,
        )
        self._step_sql(ch, st, None)
        cur.pending.append((st.step_id, st.text))
        if len(cur.pending) >= self.config.episodic.embed_batch:
            self._flush_when_embedded(ch, cur)
        cur.n_steps += 1
        cur.last_activity = max(cur.last_activity, stamp)
        ep = plan.episode(cur.episode_id)
        plan.episodes[ep.episode_id] = replace(ep, n_steps=cur.n_steps, t_end=max(ep.t_end, stamp))
        return st

    def _finish(self, plan: _Plan, ch: Changes, touched: set[int]) -> None:
        for eid in touched:
            ep = plan.episodes.get(eid)
            if ep is not None and ep.is_open:
                ch.sql(*self._episode_sql(ep))

        def apply() -> None:
            with self._lock:
                stale = bool(plan.emb) or any(
                    eid not in self._episodes or ep.task != self._episodes[eid].task
                    for eid, ep in plan.episodes.items()
                )
                self._episodes.update(plan.episodes)
                self._emb.update(plan.emb)
                for rid, c in plan.current.items():
                    if c is None:
                        self._current.pop(rid, None)
                    else:
                        self._current[rid] = c
                self._newest = max(self._newest, plan.newest)
                if stale:
                    self._matrix = None
            self._taken(plan.next_episode, plan.next_step)

        ch.then(apply)

    def _ensure_current(
        self, plan: _Plan, ch: Changes, robot_id: str, stamp: float, place: str | None
    ) -> CurrentEpisode:
        cur = plan.cur(robot_id)
        cfg = self.config.episodic
        if cur is not None and cur.kind == "auto" and stamp - cur.last_activity > cfg.max_gap_s:
            self._close(plan, ch, robot_id, cur.last_activity, None, None)
            return self._open(plan, ch, "explore", "auto", robot_id, stamp, "gap", place)
        if cur is None:
            cur = self._open(plan, ch, "explore", "auto", robot_id, stamp, "start", place)
        return cur

    # -- explicit episodes ------------------------------------------------------------
    def begin(self, task: str, stamp: float | None = None, robot_id: str = "robot") -> tuple[int, Changes]:
        """Plan the start of an explicit episode; returns its id and the changes to commit."""
        if not isinstance(task, str) or not task.strip():
            raise ValueError(f"begin_episode: task must be a non-empty string, got {task!r}")
        if len(task) > 2000:
            raise ValueError(f"begin_episode: task longer than 2000 characters ({len(task)})")
        t = self._stamp(stamp, "begin_episode")
        plan = _Plan(self)
        ch = Changes()
        cur = plan.cur(robot_id)
        if cur is not None:
            if cur.kind == "task":
                raise ValueError(
                    f"begin_episode: episode #{cur.episode_id} ({plan.episode(cur.episode_id).task!r}) of robot "
                    f"{robot_id!r} is still open; call end_episode first"
                )
            self._close(plan, ch, robot_id, t, None, None)
        place = cur.place if cur is not None else None
        new = self._open(plan, ch, task.strip(), "task", robot_id, t, "begin", place)
        plan.newest = max(plan.newest, t)
        self._finish(plan, ch, set())
        return new.episode_id, ch

    def end(
        self,
        outcome: str,
        stamp: float | None = None,
        robot_id: str = "robot",
        success: bool | None = None,
        target: str | None = None,
        found_in: str | None = None,
    ) -> tuple[int, Changes]:
        """Plan the end of the open explicit episode with an outcome text ("success", "failed: …"); a search
        episode also says what it looked for (``target``) and where it found it (``found_in``)."""
        if not isinstance(outcome, str) or not outcome.strip():
            raise ValueError(f"end_episode: outcome must be a non-empty string, got {outcome!r}")
        for name, v in (("target", target), ("found_in", found_in)):
            if v is not None and (not isinstance(v, str) or not v.strip() or len(v) > 256):
                raise ValueError(
                    f"end_episode: {name} must be a non-empty string of at most 256 chars or None, got {v!r}"
                )
        if success is not None and not isinstance(success, bool):
            raise ValueError(f"end_episode: success must be True, False or None, got {success!r}")
        t = self._stamp(stamp, "end_episode")
        plan = _Plan(self)
        ch = Changes()
        cur = plan.cur(robot_id)
        if cur is None or cur.kind != "task":
            raise ValueError(f"end_episode: robot {robot_id!r} has no episode begun with begin_episode")
        ep = plan.episode(cur.episode_id)
        if t < ep.t_start:
            raise ValueError(f"end_episode: stamp {t} is before the episode began ({ep.t_start})")
        ok = infer_success(outcome) if success is None else success
        closed = self._close(
            plan,
            ch,
            robot_id,
            t,
            outcome.strip(),
            ok,
            None if target is None else target.strip(),
            None if found_in is None else found_in.strip(),
        )
        if closed is None:  # cannot happen: cur was checked above
            raise RuntimeError(f"end_episode: robot {robot_id!r} lost its open episode while ending it")
        plan.newest = max(plan.newest, t)
        self._finish(plan, ch, set())
        return closed.episode_id, ch

    def step(
        self,
        observation: str = "",
        action: str = "",
        result: str = "",
        success: bool | None = None,
        stamp: float | None = None,
        robot_id: str = "robot",
        place: str | None = None,
    ) -> tuple[int, Changes]:
        """Plan one step (observation summary, action, result) in the robot's current episode."""
        for name, v in (("observation", observation), ("action", action), ("result", result)):
            if not isinstance(v, str):
                raise ValueError(f"add_step: {name} must be a string, got {type(v).__name__}")
            if len(v) > 10_000:
                raise ValueError(f"add_step: {name} longer than 10000 characters")
        if not (observation or action or result):
            raise ValueError("add_step: give at least one of observation, action, result")
        if success is not None and not isinstance(success, bool):
            raise ValueError(f"add_step: success must be True, False or None, got {success!r}")
        t = self._stamp(stamp, "add_step")
        plan = _Plan(self)
        ch = Changes()
        cur = self._ensure_current(plan, ch, robot_id, t, place)
        if success is None and result:
            success = infer_success(result)
        kind = "action" if action else ("outcome" if result else "observe")
        st = self._add_step(plan, ch, cur, t, kind, observation, action, result, success, place or cur.place)
        plan.newest = max(plan.newest, t)
        self._finish(plan, ch, {cur.episode_id})
        return st.step_id, ch

    def _stamp(self, stamp: float | None, where: str) -> float:
        if stamp is None:
            return self._newest
        if isinstance(stamp, bool) or not isinstance(stamp, (int, float)) or not math.isfinite(stamp) or stamp < 0:
            raise ValueError(f"{where}: stamp must be a finite number >= 0, got {stamp!r}")
        return float(stamp)

    # -- the stream -------------------------------------------------------------------
    def update(self, frame: Frame) -> Changes:
        cfg = self.config.episodic
        obs = frame.observation
        t = frame.stamp
        plan = _Plan(self)
        plan.newest = max(plan.newest, t)
        ch = Changes()
        seen = frame.seen_ids
        cur = plan.cur(obs.robot_id)
        reason = None
        surprise = 0.0
        if cur is not None:
            surprise = surprise_of(seen, cur.recent)
            place_change = frame.camera_place is not None and cur.place is not None and frame.camera_place != cur.place
            if place_change:
                surprise = 1.0
            if cur.kind == "auto" and cur.n_frames >= cfg.min_episode_frames and surprise >= cfg.surprise_threshold:
                reason = "place" if place_change else "surprise"
        if reason is not None and cur is not None:  # (a reason is only found for an open episode)
            self._close(plan, ch, obs.robot_id, cur.last_activity, None, None)
            cur = self._open(plan, ch, "explore", "auto", obs.robot_id, t, reason, frame.camera_place)
        else:
            cur = self._ensure_current(plan, ch, obs.robot_id, t, frame.camera_place)
        first = cur.n_frames == 0
        cur.n_frames += 1
        cur.recent.append(seen)
        cur.last_activity = max(cur.last_activity, t)
        if frame.camera_place is not None:
            cur.place = frame.camera_place
        ep = plan.episode(cur.episode_id)
        places = list(ep.places)
        for p in [frame.camera_place, *(d.place for d in frame.detections)]:
            if p is not None and p not in places:
                places.append(p)
        objs = list(ep.object_ids)
        for oid in sorted(seen):
            if oid not in objs and len(objs) < MAX_OBJECTS_PER_EPISODE:
                objs.append(oid)
        plan.episodes[ep.episode_id] = replace(
            ep, t_end=max(ep.t_end, t), places=tuple(places), object_ids=tuple(objs), n_frames=cur.n_frames
        )
        noteworthy = any(d.is_new or d.reidentified for d in frame.detections) or bool(frame.absences)
        stepped = first or noteworthy or surprise >= cfg.step_surprise
        if stepped:
            self._add_step(
                plan,
                ch,
                cur,
                t,
                "observe",
                observation=summarise_frame(frame),
                place=frame.camera_place,
                frame_index=frame.index,
                object_ids=tuple(dict.fromkeys(d.object_id for d in frame.detections)),
            )
        # The episode row (t_end, places, objects) is rewritten on steps and every few frames, not on each one.
        write = stepped or cur.n_frames % cfg.write_every == 0
        self._finish(plan, ch, {cur.episode_id} if write else set())
        return ch

    def on_event(self, event: Event) -> Changes:
        plan = _Plan(self)
        t = event.stamp
        plan.newest = max(plan.newest, t)
        ch = Changes()
        kind = event.kind.strip().lower()
        text = event.text.strip()
        cur = plan.cur(event.robot_id)
        if kind in ("instruction", "goal") and text and (cur is None or cur.kind == "auto"):
            # A new goal cuts an automatic episode: the goal is what the next stretch is about.
            place = cur.place if cur is not None else None
            if cur is not None:
                self._close(plan, ch, event.robot_id, cur.last_activity, None, None)
            cur = self._open(plan, ch, text[:2000], "auto", event.robot_id, t, "goal", place)
        cur = self._ensure_current(plan, ch, event.robot_id, t, None)
        if kind == "action":
            st = self._add_step(plan, ch, cur, t, "action", action=text, place=cur.place)
            cur.last_action_step = st.step_id
        elif kind in ("outcome", "result"):
            ok = infer_success(text)
            if cur.last_action_step is not None:
                # The result of the latest action: completes that step rather than adding one.
                sid = cur.last_action_step
                emb_text = self.store.read().execute("SELECT action FROM steps WHERE id=?", (sid,)).fetchone()
                action = emb_text[0] if emb_text else ""
                st = Step(sid, cur.episode_id, 0, t, "action", "", action, text, ok, cur.place, None)
                ch.sql(
                    "UPDATE steps SET result=?, success=?, t_end=?, embedding=NULL WHERE id=?",
                    (text, None if ok is None else int(ok), t, sid),
                )
                cur.pending = [p for p in cur.pending if p[0] != sid] + [(sid, st.text)]
                cur.last_action_step = None
                ep = plan.episode(cur.episode_id)
                plan.episodes[ep.episode_id] = replace(ep, t_end=max(ep.t_end, t))
                cur.last_activity = max(cur.last_activity, t)
            else:
                self._add_step(plan, ch, cur, t, "outcome", result=text, success=ok, place=cur.place)
        else:
            k = "instruction" if kind in ("instruction", "goal") else "event"
            self._add_step(plan, ch, cur, t, k, observation=f"{kind}: {text}", place=cur.place)
        self._finish(plan, ch, {cur.episode_id})
        return ch
