"""The fleet outbox: what each committed change of this store tells the fleet memory, written in the same
SQLite transaction as the change itself (docs/architecture.md "Fleet memory").

One row per frame (``kind`` "frame"), per merge pass ("merge") and per forgetting pass that dropped objects
("forget").  ``seq`` is ``INTEGER PRIMARY KEY AUTOINCREMENT``: monotonic, and never handed out twice even after
acknowledged rows are pruned, so the fleet's cursor ``(robot_id, seq)`` stays meaningful.  A rolled-back
transaction writes no row (nothing committed locally can be missed; nothing uncommitted is ever sent).

The payload (JSON, version 1) is built inside the transaction, after the submodules' statements ran, so the
object rows it copies are exactly the committed ones::

    {"v": 1, "robot_id", "seq", "stamp", "kind", "pose": [x, y, z] | null, "place",
     "objects": [{"id", "label", "labels", "centroid", "bbox_min", "bbox_max", "n_obs", "first_seen",
                  "last_seen", "place", "status"}],
     "sightings": [{"id", "stamp", "centroid", "place"}], "absences": [{"id", "stamp", "place"}],
     "merges": [[drop_id, keep_id]], "forgotten": [id, ...]}

Delivery (robomem.fleet.sync) reads rows with :meth:`Outbox.pending` and acknowledges them with
:meth:`Outbox.mark_sent`, which also prunes acknowledged rows beyond ``keep_sent``.
"""

from __future__ import annotations

import json
import math
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the store's migrations import this module's SCHEMA
    from robomem.ingest.frame import Frame
    from robomem.store.database import Store

__all__ = ["PAYLOAD_VERSION", "SCHEMA", "TABLES", "Outbox", "OutboxRow", "OutboxWrite", "frame_write"]

PAYLOAD_VERSION = 1

SCHEMA = (
    """CREATE TABLE IF NOT EXISTS outbox(
        seq INTEGER PRIMARY KEY AUTOINCREMENT, stamp REAL NOT NULL, payload TEXT NOT NULL,
        sent INTEGER NOT NULL DEFAULT 0)""",
    "CREATE INDEX IF NOT EXISTS outbox_unsent ON outbox(sent, seq)",
)
TABLES = ("outbox",)

_OBJECT_COLUMNS = (
    "id, label, labels, cx, cy, cz, minx, miny, minz, maxx, maxy, maxz, n_obs, first_seen, last_seen, place, status"
)


@dataclass(frozen=True)
class OutboxRow:
    seq: int
    stamp: float
    payload: str  # the JSON text, as stored (sent as is)
    sent: bool


def _vec(v: Iterable[Any]) -> list[float]:
    return [float(x) for x in v]


def _objects(conn: sqlite3.Connection, ids: Iterable[int]) -> list[dict[str, Any]]:
    """The committed state of these objects (those that still exist), read inside the transaction."""
    ordered = sorted(set(ids))
    out: list[dict[str, Any]] = []
    for i in range(0, len(ordered), 500):
        part = ordered[i : i + 500]
        rows = conn.execute(
            f"SELECT {_OBJECT_COLUMNS} FROM objects WHERE id IN ({','.join('?' * len(part))}) ORDER BY id", part
        ).fetchall()
        for r in rows:
            out.append(
                {
                    "id": int(r[0]),
                    "label": r[1],
                    "labels": json.loads(r[2]),
                    "centroid": _vec(r[3:6]),
                    "bbox_min": _vec(r[6:9]),
                    "bbox_max": _vec(r[9:12]),
                    "n_obs": int(r[12]),
                    "first_seen": float(r[13]),
                    "last_seen": float(r[14]),
                    "place": r[15],
                    "status": r[16],
                }
            )
    return out


class OutboxWrite:
    """One outbox row to write as the last step of a transaction (``begin`` runs first, ``write`` last)."""

    def __init__(
        self,
        robot_id: str,
        kind: str,
        stamp: float,
        pose: Iterable[float] | None = None,
        place: str | None = None,
        touched: Iterable[int] = (),
        sightings: Sequence[dict[str, Any]] = (),
        absences: Sequence[dict[str, Any]] = (),
        merges: Sequence[tuple[int, int]] = (),
    ) -> None:
        if kind not in ("frame", "merge", "forget"):
            raise ValueError(f"OutboxWrite.kind: expected frame, merge or forget, got {kind!r}")
        if not math.isfinite(stamp):
            raise ValueError(f"OutboxWrite.stamp: expected a finite number, got {stamp!r}")
        self.robot_id = robot_id
        self.kind = kind
        self.stamp = float(stamp)
        self.pose = None if pose is None else _vec(pose)
        self.place = place
        self.touched = set(touched)
        self.sightings = list(sightings)
        self.absences = list(absences)
        self.merges = [[int(d), int(k)] for d, k in merges]
        self._before: set[int] | None = None
        self.seq: int | None = None  # set once written (inside the transaction; valid after it commits)

    def begin(self, conn: sqlite3.Connection) -> None:
        """At the start of the transaction: a forgetting pass remembers which objects exist before it."""
        if self.kind == "forget":
            self._before = {int(r[0]) for r in conn.execute("SELECT id FROM objects")}

    def write(self, conn: sqlite3.Connection) -> bool:
        """After every other statement of the transaction: insert the row (False: nothing to tell the fleet)."""
        forgotten: list[int] = []
        if self.kind == "forget":
            after = {int(r[0]) for r in conn.execute("SELECT id FROM objects")}
            forgotten = sorted((self._before or set()) - after)
            if not forgotten:
                return False
        payload = {
            "v": PAYLOAD_VERSION,
            "robot_id": self.robot_id,
            "seq": None,
            "stamp": self.stamp,
            "kind": self.kind,
            "pose": self.pose,
            "place": self.place,
            "objects": _objects(conn, self.touched),
            "sightings": self.sightings,
            "absences": self.absences,
            "merges": self.merges,
            "forgotten": forgotten,
        }
        cur = conn.execute("INSERT INTO outbox(stamp, payload) VALUES (?, '')", (self.stamp,))
        seq = int(cur.lastrowid or 0)
        payload["seq"] = seq
        conn.execute("UPDATE outbox SET payload=? WHERE seq=?", (json.dumps(payload, separators=(",", ":")), seq))
        self.seq = seq
        return True


def frame_write(robot_id: str, frame: Frame) -> OutboxWrite:
    """The outbox row of one frame: its pose and place, the objects it saw or found absent, their sightings."""
    stamp = frame.stamp
    return OutboxWrite(
        robot_id,
        "frame",
        stamp,
        pose=frame.observation.pose.position,
        place=frame.camera_place,
        touched=[d.object_id for d in frame.detections] + [a.object_id for a in frame.absences],
        sightings=[
            {"id": d.object_id, "stamp": stamp, "centroid": _vec(d.segment.centroid), "place": d.place}
            for d in frame.detections
        ],
        absences=[{"id": a.object_id, "stamp": stamp, "place": a.place} for a in frame.absences],
    )


class Outbox:
    """Reading and acknowledging outbox rows (from any thread: reads use the caller's reader connection)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def pending(self, limit: int, after: int = 0) -> list[OutboxRow]:
        """Up to ``limit`` unacknowledged rows with ``seq > after``, oldest first."""
        rows = (
            self.store.read()
            .execute(
                "SELECT seq, stamp, payload, sent FROM outbox WHERE sent=0 AND seq>? ORDER BY seq LIMIT ?",
                (after, int(limit)),
            )
            .fetchall()
        )
        return [OutboxRow(int(r[0]), float(r[1]), r[2], bool(r[3])) for r in rows]

    def backlog(self) -> int:
        """Rows not yet acknowledged by the fleet."""
        return int(self.store.read().execute("SELECT COUNT(*) FROM outbox WHERE sent=0").fetchone()[0])

    def oldest_pending_stamp(self) -> float | None:
        row = self.store.read().execute("SELECT MIN(stamp) FROM outbox WHERE sent=0").fetchone()
        return None if row is None or row[0] is None else float(row[0])

    def last_seq(self) -> int:
        """The newest seq handed out (0: none), pruned rows included."""
        conn = self.store.read()
        row = conn.execute("SELECT seq FROM sqlite_sequence WHERE name='outbox'").fetchone()
        return 0 if row is None else int(row[0])

    def mark_sent(self, upto_seq: int, keep_sent: int) -> None:
        """Acknowledge every row with ``seq <= upto_seq``; keep only the newest ``keep_sent`` acknowledged rows."""
        with self.store.transaction() as conn:
            conn.execute("UPDATE outbox SET sent=1 WHERE sent=0 AND seq<=?", (int(upto_seq),))
            conn.execute(
                "DELETE FROM outbox WHERE sent=1 AND seq <= (SELECT MAX(seq) FROM outbox WHERE sent=1) - ?",
                (int(keep_sent),),
            )
