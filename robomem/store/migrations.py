"""Schema migrations that reshape submodule tables (each step brings a store from version N to N + 1).

The store runs them on open, in one transaction, before the submodules' ``CREATE … IF NOT EXISTS``
statements; a table a step touches may be missing (a store written before that table existed), so each
step checks first.  Legacy text is parsed here, once, so the running code never parses it back.
"""

from __future__ import annotations

import json
import re
import sqlite3

from robomem.store.checksums import geometry_checksum, points_checksum
from robomem.store.outbox import SCHEMA as OUTBOX_SCHEMA

_SUPERSEDED = re.compile(r"superseded by fact #(\d+)")
_OBJECT_REF = re.compile(r"#(\d+)")
_FOUND = re.compile(r"found (?P<label>.+?) in the (?P<place>.+?)\s*$", re.I)  # version 4 search outcomes


def _columns(conn: sqlite3.Connection, table: str) -> set[str]:
    return {r[1] for r in conn.execute(f"PRAGMA table_info({table})")}


def migrate_2_to_3(conn: sqlite3.Connection) -> None:
    """Version 3 keeps typed fields instead of text that was parsed back.

    - ``facts.superseded_by``: the fact that replaced a closed one (version 2 had it only in ``reason``);
    - ``steps.seen``: the object ids an observation step saw, as a JSON list (only in the step's text before);
    - object rows leave ``entities``: an object's display name comes from spatial memory's label
      distribution, the one authority, not from a copy of the latest label.
    """
    facts = _columns(conn, "facts")
    if facts and "superseded_by" not in facts:
        conn.execute("ALTER TABLE facts ADD COLUMN superseded_by INTEGER")
        rows = conn.execute("SELECT id, reason FROM facts WHERE reason LIKE 'superseded by fact #%'").fetchall()
        for fid, reason in rows:
            m = _SUPERSEDED.match(reason)
            if m:
                conn.execute("UPDATE facts SET superseded_by=? WHERE id=?", (int(m.group(1)), fid))
    steps = _columns(conn, "steps")
    if steps and "seen" not in steps:
        conn.execute("ALTER TABLE steps ADD COLUMN seen TEXT NOT NULL DEFAULT '[]'")
        observed = conn.execute(
            "SELECT id, observation FROM steps WHERE kind='observe' AND observation LIKE '%: saw %'"
        ).fetchall()
        for sid, text in observed:
            saw = text.split(": saw ", 1)[1].split(";")[0]
            ids = list(dict.fromkeys(int(i) for i in _OBJECT_REF.findall(saw)))
            if ids:
                conn.execute("UPDATE steps SET seen=? WHERE id=?", (json.dumps(ids), sid))
    if _columns(conn, "entities"):
        conn.execute("DELETE FROM entities WHERE kind='object'")


def migrate_3_to_4(conn: sqlite3.Connection) -> None:
    """Version 4 adds the fleet outbox (robomem/store/outbox.py): a row per committed change for the fleet
    memory.  A store from before it has nothing to send: its history is not replayed into a fleet."""
    for ddl in OUTBOX_SCHEMA:
        conn.execute(ddl)


def migrate_4_to_5(conn: sqlite3.Connection) -> None:
    """Version 5 types what a search episode looked for and where it found it: ``episodes.target`` (the label
    searched for) and ``episodes.found_in`` (the place it was found).  Version 4 had them only in the outcome
    text ("success: found blue book in the bedroom"), parsed here once."""
    eps = _columns(conn, "episodes")
    if not eps or "found_in" in eps:
        return
    conn.execute("ALTER TABLE episodes ADD COLUMN target TEXT")
    conn.execute("ALTER TABLE episodes ADD COLUMN found_in TEXT")
    rows = conn.execute("SELECT id, outcome FROM episodes WHERE outcome LIKE '%found % in the %'").fetchall()
    for eid, outcome in rows:
        m = _FOUND.search(outcome or "")
        if m:
            conn.execute(
                "UPDATE episodes SET target=?, found_in=? WHERE id=?",
                (m.group("label").strip(), m.group("place").strip(), eid),
            )


def migrate_5_to_6(conn: sqlite3.Connection) -> None:
    """Version 6 gives each objects row checksums of its geometry (robomem/store/checksums.py): ``geom_crc``
    over centroid and box, ``points_crc`` over the points.  Rows are checksummed as they stand: damage from
    before the migration cannot be told apart, damage after it can."""
    cols = _columns(conn, "objects")
    if not cols or "geom_crc" in cols:
        return
    conn.execute("ALTER TABLE objects ADD COLUMN geom_crc INTEGER")
    conn.execute("ALTER TABLE objects ADD COLUMN points_crc INTEGER")
    rows = conn.execute("SELECT id, cx, cy, cz, minx, miny, minz, maxx, maxy, maxz, points FROM objects").fetchall()
    for r in rows:
        conn.execute(
            "UPDATE objects SET geom_crc=?, points_crc=? WHERE id=?",
            (geometry_checksum(r[1:4], r[4:7], r[7:10]), points_checksum(r[10]), r[0]),
        )
