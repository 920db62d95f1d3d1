"""Temporal's open from SQL reads its rows in chunks of numbers (temporal/latest.py, ``visit_windows``): what it
holds must be what the rows, read one by one, say -- an object's latest sighting and absence by (time, row id),
ties and NULL positions included, and each sighting's visit window exactly as SQL's ``CAST(t_start / w AS
INTEGER)`` counts it (``visits``), for negative, fractional and huge times too."""

from __future__ import annotations

import math
import sqlite3

import numpy as np

from robomem import Memory
from robomem.store.index_cache import drop_cache

WINDOW = 7.5
SIGHTINGS = [  # object, t_start, t_end, x, place
    (1, 1.0, 2.0, 0.5, "kitchen"),
    (1, 3.0, 4.0, 0.6, "hall"),
    (1, 3.5, 4.0, 0.7, "hall"),  # ties on t_end with the row before: the higher row id is the latest
    (2, -12.25, -3.0, None, "café"),  # a NULL position reads as NaN, as before
    (2, -30.0, -20.0, 1.0, None),
    (3, 1e300, 1e300, 2.0, "hall"),  # a window beyond the 64-bit range: SQL's CAST gives its end
    (3, 22.5, 23.0, 2.5, "kitchen"),  # exactly three windows
]
ABSENCES = [(1, 9.0, 0.1, "hall"), (1, 9.0, 0.2, "hall"), (2, 4.0, None, None)]


def _store(tmp_path, embedder):
    path = tmp_path / "m"
    Memory.open(path, embedder=embedder).close()
    db = sqlite3.connect(path / "memory.db", isolation_level=None)
    for o, t0, t1, x, place in SIGHTINGS:
        db.execute(
            "INSERT INTO sightings(object_id, t_start, t_end, n, x, y, z, place) VALUES (?,?,?,2,?,0,0,?)",
            (o, t0, t1, x, place),
        )
    for o, t, x, place in ABSENCES:
        db.execute("INSERT INTO absences(object_id, stamp, x, y, z, place) VALUES (?,?,?,0,0,?)", (o, t, x, place))
    db.close()
    drop_cache(path)
    return path


def _same(a: float, b: float | None) -> bool:
    return (b is None and math.isnan(a)) or a == b


def test_latest_rows_and_visit_windows_are_what_the_rows_say(tmp_path, embedder):
    path = _store(tmp_path, embedder)
    db = sqlite3.connect(path / "memory.db")
    sightings = db.execute("SELECT object_id, t_start, t_end, n, x, place, id FROM sightings").fetchall()
    absences = db.execute("SELECT object_id, stamp, x, place, id FROM absences").fetchall()
    sql_windows = db.execute(
        "SELECT object_id, place, CAST(t_start / ? AS INTEGER), t_start FROM sightings WHERE place IS NOT NULL",
        (WINDOW,),
    ).fetchall()
    db.close()
    with Memory.open(path, embedder=embedder) as mem:
        assert not mem.opened_from_cache
        t = mem.temporal
        for oid in (1, 2, 3):
            best = max((r for r in sightings if r[0] == oid), key=lambda r: (r[2], r[6]))
            s = t.last_seen(oid)
            assert (s.t_start, s.t_end, s.n, s.place, s.row_id) == (best[1], best[2], best[3], best[5], best[6])
            assert _same(s.position[0], best[4])
        for oid in (1, 2):
            best = max((r for r in absences if r[0] == oid), key=lambda r: (r[1], r[4]))
            a = t.last_absence(oid)
            assert (a.stamp, a.place, a.row_id) == (best[1], best[3], best[4])
            assert _same(a.position[0], best[2])
        assert t.last_absence(3) is None
        oids, codes, names, windows, t_start = t.visit_windows(WINDOW)
        got = sorted(zip(oids.tolist(), (names[c] for c in codes), windows.tolist(), t_start.tolist(), strict=True))
        assert got == sorted(sql_windows)
        assert np.iinfo(np.int64).max in windows.tolist()
