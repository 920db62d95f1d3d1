"""Persistent id high-water marks: an id, once handed out, is never handed out again.

Ids are ``INTEGER PRIMARY KEY`` columns that the submodules assign themselves.  Taking ``MAX(id) + 1`` on
open would give a merged-away or forgotten id (the highest one) to a new, different record after a reload,
so every write transaction of the facade also records each table's highest id in the ``meta`` table
(``high_water.<table>``), and submodules start from :func:`next_id`, which takes the larger of the two.
"""

from __future__ import annotations

import sqlite3

__all__ = ["ID_TABLES", "next_id", "record_high_water"]

# every table whose ids are assigned by robomem and referenced from elsewhere
ID_TABLES = ("objects", "sightings", "absences", "episodes", "steps", "facts")


def _key(table: str) -> str:
    return f"high_water.{table}"


def _has_table(conn: sqlite3.Connection, table: str) -> bool:
    return conn.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name=?", (table,)).fetchone() is not None


def next_id(conn: sqlite3.Connection, table: str) -> int:
    """The first id never used in ``table``: above both its rows and its recorded high-water mark."""
    if table not in ID_TABLES:
        raise ValueError(f"next_id: {table!r} is not an id table ({', '.join(ID_TABLES)})")
    top = int(conn.execute(f'SELECT COALESCE(MAX(id), 0) FROM "{table}"').fetchone()[0])
    if _has_table(conn, "meta"):  # a read-only view of a store written before meta existed has none
        row = conn.execute("SELECT value FROM meta WHERE key=?", (_key(table),)).fetchone()
        if row is not None:
            top = max(top, int(row[0]))
    return top + 1


def record_high_water(conn: sqlite3.Connection) -> None:
    """Inside the caller's write transaction: raise each table's mark to its current ``MAX(id)``."""
    for table in ID_TABLES:
        conn.execute(
            # the scalar subquery keeps SQLite's O(log n) MAX(rowid); "FROM (SELECT MAX(id) ...)" scans the table
            "INSERT INTO meta(key, value) SELECT ?, CAST(m AS TEXT) FROM (SELECT (SELECT MAX(id) FROM "
            f'"{table}") AS m) WHERE m IS NOT NULL '
            "ON CONFLICT(key) DO UPDATE SET value=CAST(MAX(CAST(value AS INTEGER), CAST(excluded.value AS INTEGER)) "
            "AS TEXT)",
            (_key(table),),
        )
