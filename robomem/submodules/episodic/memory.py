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
import math
import re
import threading
from collections import Counter, deque
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from robomem.ingest.frame import Frame
from robomem.observation import Event
from robomem.retrieval.query import Entry, Query, recency
from robomem.submodules.base import Changes, Submodule

_FAIL_WORDS = (
    "fail",
    "failed",
    "failure",
    "error",
    "stuck",
    "could not",
    "couldn't",
    "cannot",
    "can't",
    "unable",
    "aborted",
    "abort",
    "timeout",
    "timed out",
    "blocked",
    "dropped",
    "missed",
    "not found",
)
_OK_WORDS = (
    "success",
    "succeeded",
    "successful",
    "done",
    "ok",
    "completed",
    "complete",
    "achieved",
    "reached",
    "delivered",
    "found",
    "opened",
    "closed",
    "picked",
    "placed",
    "grasped",
    "arrived",
)

MAX_OBJECTS_PER_EPISODE = 200
RECENT_FRAMES = 20  # the window "what was seen lately" that surprise compares against


def infer_success(text: str | None) -> bool | None:
    """True/False from an outcome text ("success", "failed: drawer stuck"); None when it says neither."""
    if not text:
        return None
    t = " " + re.sub(r"[^a-z' ]+", " ", text.lower()) + " "
    if any(f" {w} " in t or (" " not in w and f" {w}" in t and w in ("fail", "error")) for w in _FAIL_WORDS):
        return False
    if any(f" {w} " in t for w in _OK_WORDS):
        return True
    return None


@dataclass(frozen=True)
class Step:
    step_id: int
    episode_id: int
    index: int  # position inside the episode
    stamp: float
    kind: str  # "observe" | "action" | "outcome" | "instruction" | "event" | "summary"
    observation: str
    action: str
    result: str
    success: bool | None
    place: str | None
    frame_index: int | None
    n: int = 1  # raw steps this row stands for (summaries stand for many)
    t_end: float | None = None

    @property
    def text(self) -> str:
        parts = []
        if self.observation:
            parts.append(self.observation)
        if self.action:
            parts.append(f"action: {self.action}")
        if self.result:
            parts.append(f"result: {self.result}")
        return "; ".join(parts) or self.kind

    def to_dict(self) -> dict[str, Any]:
        return {
            "step_id": self.step_id,
            "episode_id": self.episode_id,
            "index": self.index,
            "stamp": self.stamp,
            "kind": self.kind,
            "observation": self.observation,
            "action": self.action,
            "result": self.result,
            "success": self.success,
            "place": self.place,
            "frame_index": self.frame_index,
            "n": self.n,
        }


@dataclass(frozen=True)
class Episode:
    episode_id: int
    task: str
    kind: str  # "task" (begun explicitly) | "auto" (cut from the stream)
    robot_id: str
    t_start: float
    t_end: float  # last activity (the end, once closed)
    is_open: bool
    outcome: str | None
    success: bool | None
    places: tuple[str, ...]
    object_ids: tuple[int, ...]
    n_steps: int
    n_frames: int
    cut_reason: str  # why it began: "begin", "start", "goal", "surprise", "place", "gap"
    retrieved: int = 0

    @property
    def text(self) -> str:
        state = "in progress" if self.is_open else (self.outcome or "ended")
        where = f" in {', '.join(self.places)}" if self.places else ""
        return f"episode #{self.episode_id} '{self.task}'{where}, t={self.t_start:.1f}-{self.t_end:.1f}s: {state}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "episode_id": self.episode_id,
            "task": self.task,
            "kind": self.kind,
            "robot_id": self.robot_id,
            "t_start": self.t_start,
            "t_end": self.t_end,
            "open": self.is_open,
            "outcome": self.outcome,
            "success": self.success,
            "places": list(self.places),
            "object_ids": list(self.object_ids),
            "n_steps": self.n_steps,
            "n_frames": self.n_frames,
            "cut_reason": self.cut_reason,
        }


@dataclass(frozen=True)
class EpisodeHit:
    """A search result: the episode, how well it matches, its neighbours in time and its best steps."""

    episode: Episode
    relevance: float
    before: tuple[Episode, ...]
    after: tuple[Episode, ...]
    steps: tuple[Step, ...]


@dataclass
class _Current:
    """The open episode of one robot and what the surprise test needs."""

    episode_id: int
    kind: str
    recent: deque[frozenset[int]] = field(default_factory=lambda: deque(maxlen=RECENT_FRAMES))
    place: str | None = None
    n_frames: int = 0
    n_steps: int = 0
    last_activity: float = 0.0
    last_action_step: int | None = None  # step id of the latest action without a result
    pending: list[tuple[int, str]] = field(default_factory=list)  # steps whose embedding is not written yet

    def copy(self) -> _Current:
        return replace(self, recent=deque(self.recent, maxlen=RECENT_FRAMES), pending=list(self.pending))


def _surprise(seen: frozenset[int], recent: deque[frozenset[int]]) -> float:
    """The share of the objects in view that the last frames of the episode did not show (0 = all expected)."""
    if not recent or not seen:
        return 0.0
    expected = frozenset().union(*recent)
    return 1.0 - len(seen & expected) / len(seen)


class EpisodicMemory(Submodule):
    name = "episodic"
    schema = (
        """CREATE TABLE IF NOT EXISTS episodes(
            id INTEGER PRIMARY KEY, task TEXT NOT NULL, kind TEXT NOT NULL, robot_id TEXT NOT NULL,
            t_start REAL NOT NULL, t_end REAL NOT NULL, open INTEGER NOT NULL DEFAULT 1,
            outcome TEXT, success INTEGER, places TEXT NOT NULL DEFAULT '[]', object_ids TEXT NOT NULL DEFAULT '[]',
            n_steps INTEGER NOT NULL DEFAULT 0, n_frames INTEGER NOT NULL DEFAULT 0, cut_reason TEXT NOT NULL,
            embedding BLOB, retrieved INTEGER NOT NULL DEFAULT 0)""",
        "CREATE INDEX IF NOT EXISTS episodes_t ON episodes(t_start)",
        """CREATE TABLE IF NOT EXISTS steps(
            id INTEGER PRIMARY KEY, episode_id INTEGER NOT NULL REFERENCES episodes(id) ON DELETE CASCADE,
            idx INTEGER NOT NULL, stamp REAL NOT NULL, t_end REAL NOT NULL, kind TEXT NOT NULL,
            observation TEXT NOT NULL DEFAULT '', action TEXT NOT NULL DEFAULT '', result TEXT NOT NULL DEFAULT '',
            success INTEGER, place TEXT, frame_idx INTEGER, n INTEGER NOT NULL DEFAULT 1, embedding BLOB)""",
        "CREATE INDEX IF NOT EXISTS steps_episode ON steps(episode_id, idx)",
    )

    # -- load -------------------------------------------------------------------------
    def load(self) -> None:
        self._lock = threading.RLock()
        self._episodes: dict[int, Episode] = {}
        self._emb: dict[int, np.ndarray] = {}
        self._current: dict[str, _Current] = {}
        self._matrix: tuple[list[int], np.ndarray] | None = None
        conn = self.store.read()
        for row in conn.execute(
            "SELECT id, task, kind, robot_id, t_start, t_end, open, outcome, success, places, object_ids, n_steps,"
            " n_frames, cut_reason, embedding, retrieved FROM episodes"
        ):
            ep = Episode(
                episode_id=row[0],
                task=row[1],
                kind=row[2],
                robot_id=row[3],
                t_start=row[4],
                t_end=row[5],
                is_open=bool(row[6]),
                outcome=row[7],
                success=None if row[8] is None else bool(row[8]),
                places=tuple(json.loads(row[9])),
                object_ids=tuple(json.loads(row[10])),
                n_steps=row[11],
                n_frames=row[12],
                cut_reason=row[13],
                retrieved=row[15],
            )
            self._episodes[ep.episode_id] = ep
            if row[14] is not None:
                self._emb[ep.episode_id] = np.frombuffer(row[14], dtype=np.float32).copy()
            if ep.is_open:
                cur = self._current.get(ep.robot_id)
                if cur is None or ep.episode_id > cur.episode_id:
                    last_place = ep.places[-1] if ep.places else None
                    self._current[ep.robot_id] = _Current(
                        ep.episode_id,
                        ep.kind,
                        place=last_place,
                        n_frames=ep.n_frames,
                        n_steps=ep.n_steps,
                        last_activity=ep.t_end,
                    )
        for cur in self._current.values():
            last = conn.execute(
                "SELECT id, action, result FROM steps WHERE episode_id=? ORDER BY idx DESC, id DESC LIMIT 1",
                (cur.episode_id,),
            ).fetchone()
            if last is not None and last[1] and not last[2]:
                cur.last_action_step = last[0]  # an action still waiting for its outcome
            cur.pending = [
                (r[0], _step(r).text)
                for r in conn.execute(
                    "SELECT id, episode_id, idx, stamp, kind, observation, action, result, success, place, frame_idx,"
                    " n, t_end FROM steps WHERE episode_id=? AND embedding IS NULL ORDER BY id",
                    (cur.episode_id,),
                )
            ]
        self._next_episode = int(conn.execute("SELECT COALESCE(MAX(id), 0) FROM episodes").fetchone()[0]) + 1
        self._next_step = int(conn.execute("SELECT COALESCE(MAX(id), 0) FROM steps").fetchone()[0]) + 1
        self.newest_stamp = max((e.t_end for e in self._episodes.values()), default=0.0)

    # -- helpers ----------------------------------------------------------------------
    def _reserve_episode(self) -> int:
        eid = self._next_episode
        self._next_episode += 1
        return eid

    def _reserve_step(self) -> int:
        sid = self._next_step
        self._next_step += 1
        return sid

    def _embed(self, texts: list[str]) -> np.ndarray:
        return np.asarray(self.ctx.embedder.embed(texts), dtype=np.float32)

    @staticmethod
    def _episode_sql(ep: Episode) -> tuple[str, tuple[Any, ...]]:
        return (
            "UPDATE episodes SET task=?, t_end=?, open=?, outcome=?, success=?, places=?, object_ids=?, n_steps=?,"
            " n_frames=? WHERE id=?",
            (
                ep.task,
                ep.t_end,
                int(ep.is_open),
                ep.outcome,
                None if ep.success is None else int(ep.success),
                json.dumps(list(ep.places)),
                json.dumps(list(ep.object_ids)),
                ep.n_steps,
                ep.n_frames,
                ep.episode_id,
            ),
        )

    def _open_sql(self, ch: Changes, ep: Episode, emb: np.ndarray | None) -> None:
        ch.sql(
            "INSERT INTO episodes(id, task, kind, robot_id, t_start, t_end, open, outcome, success, places, object_ids,"
            " n_steps, n_frames, cut_reason, embedding) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                ep.episode_id,
                ep.task,
                ep.kind,
                ep.robot_id,
                ep.t_start,
                ep.t_end,
                1,
                None,
                None,
                json.dumps(list(ep.places)),
                json.dumps(list(ep.object_ids)),
                ep.n_steps,
                ep.n_frames,
                ep.cut_reason,
                emb.astype(np.float32).tobytes() if emb is not None else None,
            ),
        )

    def _step_sql(self, ch: Changes, st: Step, emb: np.ndarray | None) -> None:
        ch.sql(
            "INSERT INTO steps(id, episode_id, idx, stamp, t_end, kind, observation, action, result, success, place,"
            " frame_idx, n, embedding) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                st.step_id,
                st.episode_id,
                st.index,
                st.stamp,
                st.t_end if st.t_end is not None else st.stamp,
                st.kind,
                st.observation,
                st.action,
                st.result,
                None if st.success is None else int(st.success),
                st.place,
                st.frame_index,
                st.n,
                emb.astype(np.float32).tobytes() if emb is not None else None,
            ),
        )

    def _flush_embeddings(self, ch: Changes, cur: _Current) -> None:
        """Embed the episode's pending steps in one batch (a batch costs about as much as one text)."""
        if not cur.pending:
            return
        vecs = self._embed([text for _, text in cur.pending])
        for (sid, _), v in zip(cur.pending, vecs, strict=True):
            ch.sql("UPDATE steps SET embedding=? WHERE id=?", (v.astype(np.float32).tobytes(), sid))
        cur.pending = []

    class _Plan:
        """What one planning call changes: episodes (new versions), embeddings, current-episode states."""

        def __init__(self, mem: EpisodicMemory) -> None:
            self.mem = mem
            self.episodes: dict[int, Episode] = {}
            self.emb: dict[int, np.ndarray] = {}
            self.current: dict[str, _Current | None] = {}
            self.newest = mem.newest_stamp

        def episode(self, eid: int) -> Episode:
            return self.episodes.get(eid) or self.mem._episodes[eid]

        def cur(self, robot_id: str) -> _Current | None:
            if robot_id in self.current:
                return self.current[robot_id]
            c = self.mem._current.get(robot_id)
            if c is not None:
                c = c.copy()
                self.current[robot_id] = c
            return c

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
    ) -> _Current:
        eid = self._reserve_episode()
        ep = Episode(
            eid, task, kind, robot_id, stamp, stamp, True, None, None, (place,) if place else (), (), 0, 0, reason
        )
        self._open_sql(ch, ep, None)  # embedded when it ends, in one batch with its steps
        plan.episodes[eid] = ep
        cur = _Current(eid, kind, place=place, last_activity=stamp)
        plan.current[robot_id] = cur
        return cur

    def _close(
        self, plan: _Plan, ch: Changes, robot_id: str, stamp: float, outcome: str | None, success: bool | None
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
        ep = replace(ep, task=task, t_end=max(ep.t_end, stamp), is_open=False, outcome=outcome, success=success)
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
        conn = self.store.read()
        labels = [
            r[0]
            for r in conn.execute(
                "SELECT label FROM objects WHERE id IN (SELECT value FROM json_each(?)) ORDER BY n_obs DESC LIMIT 6",
                (json.dumps(list(ep.object_ids)),),
            )
        ]
        where = " and ".join(ep.places) if ep.places else "around"
        seen = f": saw {', '.join(labels)}" if labels else ""
        return f"explored {where}{seen}"

    def _add_step(
        self,
        plan: _Plan,
        ch: Changes,
        cur: _Current,
        stamp: float,
        kind: str,
        observation: str = "",
        action: str = "",
        result: str = "",
        success: bool | None = None,
        place: str | None = None,
        frame_index: int | None = None,
    ) -> Step:
        st = Step(
            self._reserve_step(),
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
        )
        self._step_sql(ch, st, None)
        cur.pending.append((st.step_id, st.text))
        if len(cur.pending) >= self.config.episodic.embed_batch:
            self._flush_embeddings(ch, cur)
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
                self.newest_stamp = max(self.newest_stamp, plan.newest)
                if stale:
                    self._matrix = None

        ch.then(apply)

    def _ensure_current(self, plan: _Plan, ch: Changes, robot_id: str, stamp: float, place: str | None) -> _Current:
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
        plan = self._Plan(self)
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
        self, outcome: str, stamp: float | None = None, robot_id: str = "robot", success: bool | None = None
    ) -> tuple[int, Changes]:
        """Plan the end of the open explicit episode with an outcome text ("success", "failed: …")."""
        if not isinstance(outcome, str) or not outcome.strip():
            raise ValueError(f"end_episode: outcome must be a non-empty string, got {outcome!r}")
        if success is not None and not isinstance(success, bool):
            raise ValueError(f"end_episode: success must be True, False or None, got {success!r}")
        t = self._stamp(stamp, "end_episode")
        plan = self._Plan(self)
        ch = Changes()
        cur = plan.cur(robot_id)
        if cur is None or cur.kind != "task":
            raise ValueError(f"end_episode: robot {robot_id!r} has no episode begun with begin_episode")
        ep = plan.episode(cur.episode_id)
        if t < ep.t_start:
            raise ValueError(f"end_episode: stamp {t} is before the episode began ({ep.t_start})")
        ok = infer_success(outcome) if success is None else success
        closed = self._close(plan, ch, robot_id, t, outcome.strip(), ok)
        assert closed is not None
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
        plan = self._Plan(self)
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
            return self.newest_stamp
        if isinstance(stamp, bool) or not isinstance(stamp, (int, float)) or not math.isfinite(stamp) or stamp < 0:
            raise ValueError(f"{where}: stamp must be a finite number >= 0, got {stamp!r}")
        return float(stamp)

    # -- the stream -------------------------------------------------------------------
    def update(self, frame: Frame) -> Changes:
        cfg = self.config.episodic
        obs = frame.observation
        t = frame.stamp
        plan = self._Plan(self)
        plan.newest = max(plan.newest, t)
        ch = Changes()
        seen = frame.seen_ids
        cur = plan.cur(obs.robot_id)
        reason = None
        surprise = 0.0
        if cur is not None:
            surprise = _surprise(seen, cur.recent)
            place_change = frame.camera_place is not None and cur.place is not None and frame.camera_place != cur.place
            if place_change:
                surprise = 1.0
            if cur.kind == "auto" and cur.n_frames >= cfg.min_episode_frames and surprise >= cfg.surprise_threshold:
                reason = "place" if place_change else "surprise"
        if reason is not None:
            assert cur is not None
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
                observation=_summarise_frame(frame),
                place=frame.camera_place,
                frame_index=frame.index,
            )
        # The episode row (t_end, places, objects) is rewritten on steps and every few frames, not on each one.
        write = stepped or cur.n_frames % cfg.write_every == 0
        self._finish(plan, ch, {cur.episode_id} if write else set())
        return ch

    def on_event(self, event: Event) -> Changes:
        plan = self._Plan(self)
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

    def steps(self, episode_id: int) -> list[Step]:
        rows = (
            self.store.read()
            .execute(
                "SELECT id, episode_id, idx, stamp, kind, observation, action, result, success, place, frame_idx, n, t_end"
                " FROM steps WHERE episode_id=? ORDER BY idx, id",
                (int(episode_id),),
            )
            .fetchall()
        )
        return [_step(r) for r in rows]

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
                "SELECT id, episode_id, idx, stamp, kind, observation, action, result, success, place, frame_idx, n, t_end,"
                " embedding FROM steps WHERE episode_id=? ORDER BY idx, id",
                (int(episode_id),),
            )
            .fetchall()
        )
        if not rows:
            return []
        if not text:
            return [_step(r) for r in rows[-n:]]
        missing = [i for i, r in enumerate(rows) if r[13] is None]  # an open episode's steps not yet embedded
        vecs = self._embed([text] + [_step(rows[i]).text for i in missing])
        q = vecs[0]
        fresh = dict(zip(missing, vecs[1:], strict=True))
        sims = [
            float((fresh[i] if i in fresh else np.frombuffer(r[13], dtype=np.float32)) @ q) for i, r in enumerate(rows)
        ]
        order = sorted(range(len(rows)), key=lambda i: -sims[i])[:n]
        return [_step(rows[i]) for i in sorted(order)]

    def _importance(self, ep: Episode) -> float:
        base = 0.3 if ep.kind == "auto" else (1.0 if ep.success is False else 0.8 if ep.success else 0.6)
        return float(min(1.0, base + 0.1 * math.log1p(ep.retrieved)))

    def search(self, query: Query, now: float) -> list[Entry]:
        if not (query.wants("episode") or query.wants("step")):
            return []
        rcfg = self.config.retrieval
        if query.time is None:
            now = max(now, self.newest_stamp)  # events and steps can be newer than the newest frame
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

    # -- forgetting -------------------------------------------------------------------
    def plan_forget(
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
                summary = _summarise_steps(steps)
                sid = self._reserve_step()
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

        ch.then(apply)
        return ch, report


def _step(r: Any) -> Step:
    return Step(
        r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], None if r[8] is None else bool(r[8]), r[9], r[10], r[11], r[12]
    )


def _summarise_frame(frame: Frame) -> str:
    where = (
        f"in the {frame.camera_place}"
        if frame.camera_place
        else "at " + ", ".join(f"{v:.1f}" for v in frame.observation.pose.position[:2])
    )
    seen = [
        f"{d.label} #{d.object_id}" + (" (new)" if d.is_new else " (moved)" if d.reidentified else "")
        for d in frame.detections[:12]
    ]
    more = f" and {len(frame.detections) - 12} more" if len(frame.detections) > 12 else ""
    text = f"{where}: saw {', '.join(seen)}{more}" if seen else f"{where}: saw nothing known"
    if frame.absences:
        text += "; gone: " + ", ".join(f"{a.label} #{a.object_id}" for a in frame.absences[:8])
    return text


def _summarise_steps(steps: list[Step]) -> str:
    """One line standing for many raw steps: the actions and results, the places, what was seen most."""
    actions = [s.action + (f" -> {s.result}" if s.result else "") for s in steps if s.action]
    places = list(dict.fromkeys(s.place for s in steps if s.place))
    seen: Counter[str] = Counter()
    for s in steps:
        if s.kind == "observe" and ": saw " in s.observation:
            for item in s.observation.split(": saw ", 1)[1].split(";")[0].split(", "):
                seen[item.replace(" (new)", "").replace(" (moved)", "").strip()] += 1
    parts = [f"{sum(s.n for s in steps)} steps"]
    if places:
        parts.append("in " + ", ".join(places[:5]))
    if actions:
        parts.append("actions: " + "; ".join(actions[:8]) + (" …" if len(actions) > 8 else ""))
    if seen:
        parts.append("saw " + ", ".join(k for k, _ in seen.most_common(8)))
    return "; ".join(parts)
