"""Episodic memory's tables, its in-memory index (episodes, embeddings, the open episode per robot) and the
row writers shared by segmentation, search and forgetting."""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Mapping
from typing import Any

import numpy as np

from robomem.store.ids import next_id
from robomem.submodules.base import Changes, ObjectIndex, Submodule, SubmoduleContext
from robomem.submodules.episodic.records import STEP_COLUMNS, CurrentEpisode, Episode, Step, step_from_row


class EpisodicState(Submodule):
    name = "episodic"
    tables = ("episodes", "steps")
    schema = (
        """CREATE TABLE IF NOT EXISTS episodes(
            id INTEGER PRIMARY KEY, task TEXT NOT NULL, kind TEXT NOT NULL, robot_id TEXT NOT NULL,
            t_start REAL NOT NULL, t_end REAL NOT NULL, open INTEGER NOT NULL DEFAULT 1,
            outcome TEXT, success INTEGER, places TEXT NOT NULL DEFAULT '[]', object_ids TEXT NOT NULL DEFAULT '[]',
            n_steps INTEGER NOT NULL DEFAULT 0, n_frames INTEGER NOT NULL DEFAULT 0, cut_reason TEXT NOT NULL,
            embedding BLOB, retrieved INTEGER NOT NULL DEFAULT 0, target TEXT, found_in TEXT)""",
        "CREATE INDEX IF NOT EXISTS episodes_t ON episodes(t_start)",
        """CREATE TABLE IF NOT EXISTS steps(
            id INTEGER PRIMARY KEY, episode_id INTEGER NOT NULL REFERENCES episodes(id) ON DELETE CASCADE,
            idx INTEGER NOT NULL, stamp REAL NOT NULL, t_end REAL NOT NULL, kind TEXT NOT NULL,
            observation TEXT NOT NULL DEFAULT '', action TEXT NOT NULL DEFAULT '', result TEXT NOT NULL DEFAULT '',
            success INTEGER, place TEXT, frame_idx INTEGER, n INTEGER NOT NULL DEFAULT 1, embedding BLOB,
            seen TEXT NOT NULL DEFAULT '[]')""",
        "CREATE INDEX IF NOT EXISTS steps_episode ON steps(episode_id, idx)",
    )

    def __init__(self, ctx: SubmoduleContext, spatial: ObjectIndex) -> None:
        super().__init__(ctx)
        self.spatial = spatial  # the label authority (episode descriptions name what was seen)
        self._lock = threading.RLock()
        self._episodes: dict[int, Episode] = {}
        self._emb: dict[int, np.ndarray] = {}
        self._current: dict[str, CurrentEpisode] = {}
        self._matrix: tuple[list[int], np.ndarray] | None = None
        self._next_episode = 1  # ids are taken at commit: these advance only in after-commit hooks
        self._next_step = 1
        self._newest = 0.0

    # -- load -------------------------------------------------------------------------
    def load(self, cached: Mapping[str, np.ndarray] | None = None) -> None:
        """Warm the index from the store (once, at open)."""
        conn = self.store.read()
        for row in conn.execute(
            "SELECT id, task, kind, robot_id, t_start, t_end, open, outcome, success, places, object_ids, n_steps,"
            " n_frames, cut_reason, embedding, retrieved, target, found_in FROM episodes"
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
                target=row[16],
                found_in=row[17],
            )
            self._episodes[ep.episode_id] = ep
            if row[14] is not None:
                self._emb[ep.episode_id] = np.frombuffer(row[14], dtype=np.float32).copy()
            if ep.is_open:
                cur = self._current.get(ep.robot_id)
                if cur is None or ep.episode_id > cur.episode_id:
                    last_place = ep.places[-1] if ep.places else None
                    self._current[ep.robot_id] = CurrentEpisode(
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
                (r[0], step_from_row(r).text)
                for r in conn.execute(
                    f"SELECT {STEP_COLUMNS} FROM steps WHERE episode_id=? AND embedding IS NULL ORDER BY id",
                    (cur.episode_id,),
                )
            ]
        self._next_episode = next_id(conn, "episodes")
        self._next_step = next_id(conn, "steps")
        self._newest = max((e.t_end for e in self._episodes.values()), default=0.0)

    def newest_stamp(self) -> float | None:
        """The newest stamp of any episode or step (events can be newer than the newest frame)."""
        with self._lock:
            return self._newest if self._episodes else None

    def _taken(self, next_episode: int, next_step: int) -> None:
        """After a commit: the ids a plan used are taken (a failed commit burns none)."""
        with self._lock:
            self._next_episode = max(self._next_episode, next_episode)
            self._next_step = max(self._next_step, next_step)

    # -- helpers ----------------------------------------------------------------------

    def _embed(self, texts: list[str]) -> np.ndarray:
        return np.asarray(self.ctx.embedder.embed(texts), dtype=np.float32)

    @staticmethod
    def _episode_sql(ep: Episode) -> tuple[str, tuple[Any, ...]]:
        return (
            "UPDATE episodes SET task=?, t_end=?, open=?, outcome=?, success=?, places=?, object_ids=?, n_steps=?,"
            " n_frames=?, target=?, found_in=? WHERE id=?",
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
                ep.target,
                ep.found_in,
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
            " frame_idx, n, embedding, seen) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
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
                json.dumps(list(st.object_ids)),
            ),
        )

    def _flush_when_embedded(self, ch: Changes, cur: CurrentEpisode) -> None:
        """A full batch of pending steps: hand it to the embedder's background thread (``prefetch``) and
        write each step once its text is embedded (a cache hit, no model call), so the model runs between
        frames, not inside one (issue 14: one MiniLM batch every ``embed_batch`` steps was the update's
        p99).  Past twice the batch (the background fell behind), or with an embedder that cannot
        prefetch: all now, as before."""
        emb = self.ctx.embedder
        prefetch, cached = getattr(emb, "prefetch", None), getattr(emb, "is_cached", None)
        if prefetch is None or cached is None or len(cur.pending) >= 2 * self.config.episodic.embed_batch:
            self._flush_embeddings(ch, cur)
            return
        ready: list[tuple[int, str]] = []
        rest: list[tuple[int, str]] = []
        for p in cur.pending:  # one pass: the background may cache a text between two passes (it was in neither)
            (ready if cached(p[1]) else rest).append(p)
        if ready:
            cur.pending = ready
            self._flush_embeddings(ch, cur)
        cur.pending = rest
        if len(rest) >= self.config.episodic.embed_batch:
            prefetch([text for _, text in rest])  # texts already queued are skipped

    def _flush_embeddings(self, ch: Changes, cur: CurrentEpisode) -> None:
        """Embed the episode's pending steps in one batch (a batch costs about as much as one text)."""
        if not cur.pending:
            return
        vecs = self._embed([text for _, text in cur.pending])
        for (sid, _), v in zip(cur.pending, vecs, strict=True):
            ch.sql("UPDATE steps SET embedding=? WHERE id=?", (v.astype(np.float32).tobytes(), sid))
        cur.pending = []

    def steps(self, episode_id: int) -> list[Step]:
        rows = (
            self.store.read()
            .execute(
                f"SELECT {STEP_COLUMNS} FROM steps WHERE episode_id=? ORDER BY idx, id",
                (int(episode_id),),
            )
            .fetchall()
        )
        return [step_from_row(r) for r in rows]

    def _importance(self, ep: Episode) -> float:
        base = 0.3 if ep.kind == "auto" else (1.0 if ep.success is False else 0.8 if ep.success else 0.6)
        return float(min(1.0, base + 0.1 * math.log1p(ep.retrieved)))


class _Plan:
    """What one planning call changes: episodes (new versions), embeddings, current-episode states."""

    def __init__(self, mem: EpisodicState) -> None:
        self.mem = mem
        self.episodes: dict[int, Episode] = {}
        self.emb: dict[int, np.ndarray] = {}
        self.current: dict[str, CurrentEpisode | None] = {}
        self.newest = mem._newest
        self.next_episode = mem._next_episode  # ids this plan takes, from here on (taken at commit)
        self.next_step = mem._next_step

    def take_episode_id(self) -> int:
        self.next_episode += 1
        return self.next_episode - 1

    def take_step_id(self) -> int:
        self.next_step += 1
        return self.next_step - 1

    def episode(self, eid: int) -> Episode:
        return self.episodes.get(eid) or self.mem._episodes[eid]

    def cur(self, robot_id: str) -> CurrentEpisode | None:
        if robot_id in self.current:
            return self.current[robot_id]
        c = self.mem._current.get(robot_id)
        if c is not None:
            c = c.copy()
            self.current[robot_id] = c
        return c
