"""Applying outbox payloads to the fleet schema: idempotent, in the caller's PostgreSQL transaction.

:func:`apply_batch` takes the robot's row ``FOR UPDATE`` (one applier per robot at a time), skips every
payload with ``seq <= robots.last_seq`` (already applied: delivery is at least once) and moves the cursor in
the same transaction, so a batch is applied entirely or not at all, and never twice.  Every evidence row is
keyed by ``(robot_id, seq, ...)`` and inserted ``ON CONFLICT DO NOTHING`` as a second guard.

Belief (``fleet_objects``) follows valid time (sensor stamps), not arrival order: a sighting or an observed
absence changes an object's status only when it is newer than ``status_since``; older evidence (a robot
catching up after an hour offline) goes into ``fleet_history`` and changes nothing else.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from robomem.errors import FleetError
from robomem.fleet.identity import assign_fleet_id
from robomem.fleet.schema import IDENTITY_LOCK, SCHEMA

__all__ = ["apply_batch"]

S = SCHEMA


def apply_batch(conn: Any, robot_id: str, payloads: Sequence[Mapping[str, Any]], radius: float) -> tuple[int, int]:
    """Apply ``payloads`` (oldest first) inside the open transaction; returns (applied, last_seq)."""
    row = conn.execute(f"SELECT last_seq FROM {S}.robots WHERE robot_id = %s FOR UPDATE", (robot_id,)).fetchone()
    if row is None:
        raise FleetError(
            f"robot {robot_id!r} is not registered in the fleet: an administrator adds it with "
            "robomem.fleet.schema.add_robot(owner_url, robot_id, role)"
        )
    last_seq = int(row[0])
    todo = [p for p in payloads if int(p["seq"]) > last_seq]
    if not todo:
        return 0, last_seq
    conn.execute("SELECT pg_advisory_xact_lock(%s)", (IDENTITY_LOCK,))
    # the fleet ids of every object the batch names, read once (then kept up to date in this dict)
    ids: set[int] = set()
    for p in todo:
        if p.get("robot_id") != robot_id:
            raise FleetError(f"outbox row {p.get('seq')} is from robot {p.get('robot_id')!r}, not {robot_id!r}")
        ids.update(int(o["id"]) for o in p.get("objects", ()))
        ids.update(int(pair[i]) for pair in p.get("merges", ()) for i in (0, 1))
    fleet_of: dict[int, int] = {}
    if ids:
        rows = conn.execute(
            f"SELECT local_id, fleet_id FROM {S}.robot_objects WHERE robot_id = %s AND local_id = ANY(%s)",
            (robot_id, sorted(ids)),
        ).fetchall()
        fleet_of = {int(a): int(b) for a, b in rows if b is not None}
    newest: dict[int, Mapping[str, Any]] = {}  # fleet id -> this robot's newest state of it in the batch
    out = _Rows()
    for p in todo:
        _apply_one(conn, robot_id, p, radius, fleet_of, newest, out)
    out.write(conn)
    _refresh_beliefs(conn, robot_id, newest)
    last_p = todo[-1]
    conn.execute(
        f"UPDATE {S}.robots SET last_seq = %s, last_stamp = GREATEST(COALESCE(last_stamp, %s), %s), synced_at = now() "
        "WHERE robot_id = %s",
        (int(last_p["seq"]), float(last_p["stamp"]), float(last_p["stamp"]), robot_id),
    )
    return len(todo), int(last_p["seq"])


class _Rows:
    """The batch's evidence rows, written with one ``executemany`` per statement after the frames' objects.

    Status updates go in two passes (every sighting, then every absence); their guards compare valid times
    only, so the result is the one of applying them frame by frame."""

    def __init__(self) -> None:
        self.frames: list[tuple[Any, ...]] = []
        self.sightings: list[tuple[Any, ...]] = []
        self.absences: list[tuple[Any, ...]] = []
        self.history: list[tuple[Any, ...]] = []
        self.present: list[tuple[Any, ...]] = []
        self.absent: list[tuple[Any, ...]] = []

    def write(self, conn: Any) -> None:
        cur = conn.cursor()
        for sql, rows in (
            (
                f"INSERT INTO {S}.frames(robot_id, seq, stamp, kind, x, y, z, place) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
                self.frames,
            ),
            (
                f"INSERT INTO {S}.sightings(robot_id, seq, local_id, stamp, cx, cy, cz, place) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
                self.sightings,
            ),
            (
                f"INSERT INTO {S}.absences(robot_id, seq, local_id, stamp, place) VALUES (%s, %s, %s, %s, %s) "
                "ON CONFLICT DO NOTHING",
                self.absences,
            ),
            (
                f"INSERT INTO {S}.fleet_history(fleet_id, robot_id, seq, kind, stamp, cx, cy, cz, place) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
                self.history,
            ),
            (
                f"UPDATE {S}.fleet_objects SET status = 'present', status_since = %s, status_robot = %s "
                "WHERE fleet_id = %s AND (status_since IS NULL OR status_since <= %s)",
                self.present,
            ),
            (
                # absent only when newer than the current status AND than every sighting (valid time decides)
                f"UPDATE {S}.fleet_objects SET status = 'absent', status_since = %s, status_robot = %s "
                "WHERE fleet_id = %s AND (status_since IS NULL OR status_since < %s) "
                "AND (last_seen IS NULL OR last_seen < %s)",
                self.absent,
            ),
        ):
            if rows:
                cur.executemany(sql, rows)


def _apply_one(
    conn: Any,
    robot_id: str,
    p: Mapping[str, Any],
    radius: float,
    fleet_of: dict[int, int],
    newest: dict[int, Mapping[str, Any]],
    out: _Rows,
) -> None:
    seq, stamp = int(p["seq"]), float(p["stamp"])
    pose = p.get("pose") or (None, None, None)
    out.frames.append((robot_id, seq, stamp, p.get("kind", "frame"), *pose, p.get("place")))
    for drop, keep in p.get("merges", ()):
        _merge(conn, robot_id, int(drop), int(keep), fleet_of)
    for oid in p.get("forgotten", ()):
        conn.execute(
            f"UPDATE {S}.robot_objects SET forgotten = true WHERE robot_id = %s AND local_id = %s", (robot_id, int(oid))
        )
    for obj in p.get("objects", ()):
        fid = _upsert_object(conn, robot_id, obj, radius, fleet_of)
        if fid not in newest or float(newest[fid]["last_seen"]) <= float(obj["last_seen"]):
            newest[fid] = obj
    for s in p.get("sightings", ()):
        oid, t = int(s["id"]), float(s["stamp"])
        c = s.get("centroid") or (None, None, None)
        out.sightings.append((robot_id, seq, oid, t, *c, s.get("place")))
        sfid = fleet_of.get(oid)
        if sfid is not None:
            out.history.append((sfid, robot_id, seq, "seen", t, *c, s.get("place")))
            out.present.append((t, robot_id, sfid, t))
    for a in p.get("absences", ()):
        oid, t = int(a["id"]), float(a["stamp"])
        out.absences.append((robot_id, seq, oid, t, a.get("place")))
        afid = fleet_of.get(oid)
        if afid is not None:
            out.history.append((afid, robot_id, seq, "absent", t, None, None, None, a.get("place")))
            out.absent.append((t, robot_id, afid, t, t))


def _upsert_object(conn: Any, robot_id: str, obj: Mapping[str, Any], radius: float, fleet_of: dict[int, int]) -> int:
    """This robot's object row and its fleet id (assigned on first sight)."""
    oid = int(obj["id"])
    fid = fleet_of.get(oid)
    if fid is None:
        fid = fleet_of[oid] = assign_fleet_id(conn, robot_id, obj, radius)
    c, lo, hi = obj["centroid"], obj["bbox_min"], obj["bbox_max"]
    conn.execute(
        f"INSERT INTO {S}.robot_objects(robot_id, local_id, fleet_id, label, labels, cx, cy, cz, bmin_x, bmin_y, "
        "bmin_z, bmax_x, bmax_y, bmax_z, n_obs, first_seen, last_seen, place) "
        "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) "
        "ON CONFLICT (robot_id, local_id) DO UPDATE SET fleet_id = excluded.fleet_id, label = excluded.label, "
        "labels = excluded.labels, cx = excluded.cx, cy = excluded.cy, cz = excluded.cz, bmin_x = excluded.bmin_x, "
        "bmin_y = excluded.bmin_y, bmin_z = excluded.bmin_z, bmax_x = excluded.bmax_x, bmax_y = excluded.bmax_y, "
        "bmax_z = excluded.bmax_z, n_obs = excluded.n_obs, first_seen = excluded.first_seen, "
        "last_seen = excluded.last_seen, place = excluded.place, forgotten = false",
        (
            robot_id,
            oid,
            fid,
            obj["label"],
            json.dumps(obj["labels"]),
            *c,
            *lo,
            *hi,
            int(obj["n_obs"]),
            float(obj["first_seen"]),
            float(obj["last_seen"]),
            obj.get("place"),
        ),
    )
    return fid


def _refresh_beliefs(conn: Any, robot_id: str, newest: Mapping[int, Mapping[str, Any]]) -> None:
    """Once per batch, each fleet object the batch touched: labels and n_obs pooled over every robot's object
    in it; geometry and place from the most recent sighting (valid time), whichever robot made it."""
    if not newest:
        return
    members: dict[int, list[tuple[Any, Any, Any]]] = {}
    rows = conn.execute(
        f"SELECT fleet_id, labels, n_obs, first_seen FROM {S}.robot_objects "
        "WHERE fleet_id = ANY(%s) AND merged_into IS NULL",
        (sorted(newest),),
    ).fetchall()
    for fid, labels, n, f in rows:
        members.setdefault(int(fid), []).append((labels, n, f))
    for fid, obj in newest.items():
        _refresh_belief(conn, fid, robot_id, obj, members.get(fid, []))


def _refresh_belief(
    conn: Any, fid: int, robot_id: str, obj: Mapping[str, Any], members: list[tuple[Any, Any, Any]]
) -> None:
    pooled: dict[str, float] = {}
    n_obs, first = 0, None
    for labels, n, f in members:
        total = sum(float(v) for v in labels.values()) or 1.0
        for k, v in labels.items():  # each robot weighs by how often it saw the object
            pooled[k] = pooled.get(k, 0.0) + float(v) / total * int(n)
        n_obs += int(n)
        first = f if first is None else min(first, f)
    pooled = {k: round(v, 6) for k, v in pooled.items()}
    label = max(pooled.items(), key=lambda kv: (kv[1], kv[0]))[0] if pooled else obj["label"]
    conn.execute(
        f"UPDATE {S}.fleet_objects SET labels = %s, label = %s, n_obs = %s, first_seen = %s WHERE fleet_id = %s",
        (json.dumps(pooled), label, n_obs, first, fid),
    )
    c, lo, hi = obj["centroid"], obj["bbox_min"], obj["bbox_max"]
    conn.execute(
        f"UPDATE {S}.fleet_objects SET cx = %s, cy = %s, cz = %s, bmin_x = %s, bmin_y = %s, bmin_z = %s, "
        "bmax_x = %s, bmax_y = %s, bmax_z = %s, last_seen = %s, last_robot = %s, place = %s "
        "WHERE fleet_id = %s AND (last_seen IS NULL OR last_seen <= %s)",
        (*c, *lo, *hi, float(obj["last_seen"]), robot_id, obj.get("place"), fid, float(obj["last_seen"])),
    )


def _merge(conn: Any, robot_id: str, drop: int, keep: int, fleet_of: dict[int, int]) -> None:
    """The robot merged two of its objects: ``drop`` now points at ``keep``; keep inherits drop's fleet id
    when it had none.  Two fleet objects are not merged: other robots' evidence may still tell them apart."""
    conn.execute(
        f"UPDATE {S}.robot_objects SET merged_into = %s WHERE robot_id = %s AND local_id = %s", (keep, robot_id, drop)
    )
    dropped = fleet_of.get(drop)
    if dropped is not None and keep not in fleet_of:
        fleet_of[keep] = dropped
        conn.execute(
            f"UPDATE {S}.robot_objects SET fleet_id = %s WHERE robot_id = %s AND local_id = %s",
            (dropped, robot_id, keep),
        )
