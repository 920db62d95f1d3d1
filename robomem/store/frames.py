"""The frame log: one row per update (stamp, robot, camera pose, place), the camera trajectory.

The facade owns this table; ``FrameLog`` is the only code that reads or
writes it.  Writes are returned as SQL statements for the facade's one
transaction per update (or per maintenance pass).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from robomem.store.database import Store

Statement = tuple[str, tuple[Any, ...]]

SCHEMA = (
    """CREATE TABLE IF NOT EXISTS frames(
        idx INTEGER PRIMARY KEY, stamp REAL NOT NULL, robot_id TEXT NOT NULL, source TEXT,
        x REAL, y REAL, z REAL, qx REAL, qy REAL, qz REAL, qw REAL, place TEXT, n_detections INTEGER)""",
    "CREATE INDEX IF NOT EXISTS frames_stamp ON frames(stamp)",
)
TABLES = ("frames",)


class FrameLog:
    def __init__(self, store: Store) -> None:
        self.store = store

    @staticmethod
    def mark_event(robot_id: str, stamp: float) -> Statement:
        """Raise this robot's newest-event mark (in ``meta``), in the event's own transaction.

        Replay resumes events from it: events stamped after the last frame used to be applied again
        on every re-run (a fact's evidence went 1 -> 2 -> 3)."""
        return (
            "INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET "
            "value=CAST(MAX(CAST(value AS REAL), CAST(excluded.value AS REAL)) AS TEXT)",
            (f"last_event.{robot_id}", repr(float(stamp))),
        )

    def last_event(self, robot_id: str) -> float | None:
        """The newest event stamp stored from this robot (None: none, or a store written before the mark)."""
        conn = self.store.read()
        has_meta = conn.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name='meta'").fetchone()
        if not has_meta:
            return None
        row = conn.execute("SELECT value FROM meta WHERE key=?", (f"last_event.{robot_id}",)).fetchone()
        return float(row[0]) if row is not None else None

    def newest(self) -> tuple[int, dict[str, float]]:
        """(the largest frame index, the newest stamp per robot) stored."""
        conn = self.store.read()
        index = int(conn.execute("SELECT COALESCE(MAX(idx), 0) FROM frames").fetchone()[0])
        stamps = {r[0]: float(r[1]) for r in conn.execute("SELECT robot_id, MAX(stamp) FROM frames GROUP BY robot_id")}
        return index, stamps

    @staticmethod
    def insert(
        index: int,
        stamp: float,
        robot_id: str,
        source: str | None,
        position: Any,
        quat_xyzw: Any,
        place: str | None,
        n_detections: int,
    ) -> Statement:
        return (
            "INSERT INTO frames(idx, stamp, robot_id, source, x, y, z, qx, qy, qz, qw, place, n_detections)"
            " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                index,
                stamp,
                robot_id,
                source,
                *map(float, position),
                *map(float, quat_xyzw),
                place,
                n_detections,
            ),
        )

    def count(self) -> int:
        return int(self.store.read().execute("SELECT COUNT(*) FROM frames").fetchone()[0])

    def place_visits(self) -> dict[str, tuple[float, int]]:
        """Place -> (stamp of the newest frame taken there, frames there)."""
        rows = self.store.read().execute("SELECT place, MAX(stamp), COUNT(*) FROM frames GROUP BY place").fetchall()
        return {str(r[0]): (float(r[1]), int(r[2])) for r in rows if r[0] is not None}

    def index_at(self, stamp: float) -> int | None:
        """The index of a frame stored at exactly this stamp (None: none)."""
        r = self.store.read().execute("SELECT idx FROM frames WHERE stamp=? LIMIT 1", (float(stamp),)).fetchone()
        return int(r[0]) if r else None

    def trajectory(self, robot_id: str | None = None) -> list[tuple[float, float, float, float]]:
        """The camera path as (stamp, x, y, z) rows in time order."""
        conn = self.store.read()
        if robot_id is None:
            rows = conn.execute("SELECT stamp, x, y, z FROM frames ORDER BY idx").fetchall()
        else:
            rows = conn.execute(
                "SELECT stamp, x, y, z FROM frames WHERE robot_id=? ORDER BY idx", (robot_id,)
            ).fetchall()
        return [tuple(r) for r in rows]  # type: ignore[misc]

    def indexes_at(self, stamps: Sequence[float]) -> list[int]:
        """Indexes of the frames stored at exactly these stamps (for provenance: the frames behind sightings)."""
        vals = [float(s) for s in stamps]
        conn = self.store.read()
        out: set[int] = set()
        for i in range(0, len(vals), 500):
            part = vals[i : i + 500]
            marks = ",".join("?" * len(part))
            out |= {int(r[0]) for r in conn.execute(f"SELECT idx FROM frames WHERE stamp IN ({marks})", part)}
        return sorted(out)

    def poses_near(self, x: float, y: float, reach: float, before: float) -> np.ndarray:
        """Camera poses (x, y, z, qx, qy, qz, qw) stored before ``before`` within ``reach`` (a square) of (x, y)."""
        rows = (
            self.store.read()
            .execute(
                "SELECT x, y, z, qx, qy, qz, qw FROM frames"
                " WHERE stamp < ? AND x BETWEEN ? AND ? AND y BETWEEN ? AND ?",
                (before, x - reach, x + reach, y - reach, y + reach),
            )
            .fetchall()
        )
        return np.asarray(rows, dtype=np.float64).reshape(-1, 7)

    def poses(self) -> np.ndarray:
        """Every stored camera pose as rows (stamp, x, y, z, qx, qy, qz, qw)."""
        rows = self.store.read().execute("SELECT stamp, x, y, z, qx, qy, qz, qw FROM frames").fetchall()
        return np.asarray(rows, dtype=np.float64).reshape(-1, 8)

    def forget(
        self, max_rows: int, now: float, keep_recent_s: float, target_fraction: float
    ) -> tuple[list[Statement], dict[str, int]]:
        """Thin old frames to every 10th, then drop the oldest, down to ``target_fraction`` of ``max_rows``;
        each robot's newest frame and everything younger than ``keep_recent_s`` stay."""
        report = {"frames_dropped": 0}
        conn = self.store.read()
        n_rows = int(conn.execute("SELECT COUNT(*) FROM frames").fetchone()[0])
        if n_rows <= max_rows:
            return [], report
        excess = n_rows - int(max_rows * target_fraction)
        newest = {r[0] for r in conn.execute("SELECT MAX(idx) FROM frames GROUP BY robot_id")}
        rows = conn.execute("SELECT idx FROM frames WHERE stamp < ? ORDER BY idx", (now - keep_recent_s,)).fetchall()
        old = [r[0] for r in rows if r[0] not in newest]
        drop = [i for i in old if i % 10 != 0][:excess]
        if len(drop) < excess:
            kept = set(drop)
            drop += [i for i in old if i not in kept][: excess - len(drop)]
        out: list[Statement] = []
        ordered = sorted(drop)
        for i in range(0, len(ordered), 500):
            part = tuple(ordered[i : i + 500])
            out.append((f"DELETE FROM frames WHERE idx IN ({','.join('?' * len(part))})", part))
        report["frames_dropped"] = len(drop)
        return out, report
