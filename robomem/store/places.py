"""The places table: the named rooms/areas memory was told about (2D boxes in the world frame).

The facade owns this table; ``PlaceTable`` is the only code that reads or writes it.
The ``meta`` key-value table (store-level facts such as where a store came from) sits here too.
"""

from __future__ import annotations

from collections.abc import Iterable
from sqlite3 import Connection

from robomem.places import Place, Places
from robomem.store.database import Store

SCHEMA = (
    """CREATE TABLE IF NOT EXISTS places(
        name TEXT PRIMARY KEY, minx REAL NOT NULL, miny REAL NOT NULL, maxx REAL NOT NULL, maxy REAL NOT NULL)""",
    "CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL)",
)
TABLES = ("places", "meta")


class PlaceTable:
    def __init__(self, store: Store) -> None:
        self.store = store

    def load(self) -> Places:
        rows = self.store.read().execute("SELECT name, minx, miny, maxx, maxy FROM places ORDER BY rowid").fetchall()
        return Places(Place(r[0], (r[1], r[2]), (r[3], r[4])) for r in rows)

    @staticmethod
    def replace(conn: Connection, places: Iterable[Place]) -> None:
        """Inside the caller's transaction: the stored places become exactly ``places``."""
        conn.execute("DELETE FROM places")
        conn.executemany(
            "INSERT INTO places(name, minx, miny, maxx, maxy) VALUES (?,?,?,?,?)",
            [(p.name, p.min_xy[0], p.min_xy[1], p.max_xy[0], p.max_xy[1]) for p in places],
        )
