"""Every object's latest sighting and latest absence, held as numpy columns (issue 14: 10^6 objects).

Opening a store at 10^6 objects used to keep a Python tuple per object and per absence (+414 MB, 2.9 s);
here each is one row of ``LatestRows`` columns, and a ``Sighting`` / ``AbsenceRecord`` is built from its row
when asked.  The rows are read from SQL (``read``) or from the index cache (``from_cache``), which holds the
same columns compacted (``cache_arrays``); both give the same state.  Which row is an object's latest is the
rule ``read`` applies: the greatest (t_end, id) for a sighting, (stamp, id) for an absence.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass
from itertools import chain
from operator import itemgetter

import numpy as np

from robomem.store.index_cache import PackedStrings, pack_strings
from robomem.submodules.temporal.rows import LatestRows, Places, latest_per_object

Vec3 = tuple[float, float, float]


@dataclass(frozen=True)
class Sighting:
    object_id: int
    t_start: float
    t_end: float
    n: int
    position: Vec3
    place: str | None
    row_id: int = 0

    @property
    def stamp(self) -> float:
        return self.t_end


@dataclass(frozen=True)
class AbsenceRecord:
    object_id: int
    stamp: float
    position: Vec3
    place: str | None
    row_id: int = 0


_SEEN = {
    "t_start": ("f8", 1),
    "t_end": ("f8", 1),
    "n": ("i8", 1),
    "pos": ("f8", 3),
    "place": ("i4", 1),
    "row": ("i8", 1),
}
_GONE = {"stamp": ("f8", 1), "pos": ("f8", 3), "place": ("i4", 1), "row": ("i8", 1)}

# every row that is its object's latest by time (ties: read keeps the highest id); the numbers first, as ``read``
# takes them into one float64 row, then the place
_SEEN_SQL = (
    "SELECT s.object_id, s.t_start, s.t_end, s.n, s.x, s.y, s.z, s.id, s.place FROM sightings s"
    " JOIN (SELECT object_id, MAX(t_end) AS t FROM sightings GROUP BY object_id) m"
    " ON s.object_id = m.object_id AND s.t_end = m.t"
)
_GONE_SQL = (
    "SELECT a.object_id, a.stamp, a.x, a.y, a.z, a.id, a.place FROM absences a"
    " JOIN (SELECT object_id, MAX(stamp) AS t FROM absences GROUP BY object_id) m"
    " ON a.object_id = m.object_id AND a.stamp = m.t"
)
CHUNK = 1024  # rows converted at a time: their tuples are still in the CPU cache (spatial/table.py)
EXACT = 2.0**53  # a row id or object id at or above this is not exact in a float64


def _pos(p: np.ndarray) -> Vec3:
    return (float(p[0]), float(p[1]), float(p[2]))


class Latest:
    """The latest sighting (``seen``) and absence (``gone``) per object; callers hold their own lock."""

    def __init__(self) -> None:
        self.places = Places()
        self.seen = LatestRows(_SEEN)
        self.gone = LatestRows(_GONE)

    # -- records ----------------------------------------------------------------------
    def sighting(self, oid: int) -> Sighting | None:
        s = self.seen.slot(oid)
        if s < 0:
            return None
        c = self.seen.cols
        return Sighting(
            oid,
            float(c["t_start"][s]),
            float(c["t_end"][s]),
            int(c["n"][s]),
            _pos(c["pos"][s]),
            self.places.name(int(c["place"][s])),
            int(c["row"][s]),
        )

    def absence(self, oid: int) -> AbsenceRecord | None:
        s = self.gone.slot(oid)
        if s < 0:
            return None
        c = self.gone.cols
        return AbsenceRecord(
            oid, float(c["stamp"][s]), _pos(c["pos"][s]), self.places.name(int(c["place"][s])), int(c["row"][s])
        )

    def put_sighting(self, s: Sighting) -> None:
        self.seen.put(
            int(s.object_id),
            {
                "t_start": s.t_start,
                "t_end": s.t_end,
                "n": s.n,
                "pos": s.position,
                "place": self.places.code(s.place),
                "row": s.row_id,
            },
        )

    def put_absence(self, a: AbsenceRecord) -> None:
        self.gone.put(
            int(a.object_id),
            {"stamp": a.stamp, "pos": a.position, "place": self.places.code(a.place), "row": a.row_id},
        )

    def newest(self) -> float:
        """The newest stamp of any row: an object's newest row is its latest, so the newest over the latest."""
        tops = [float(r.live(k).max()) for r, k in ((self.seen, "t_end"), (self.gone, "stamp")) if len(r)]
        return max(tops, default=0.0)

    # -- loading ----------------------------------------------------------------------
    def read(self, conn: sqlite3.Connection) -> None:
        """Every object's latest rows from the tables (a chunked scan: no Python object per row is kept; each
        chunk's numbers go into one float64 row per row through one fromiter over the chained tuples)."""
        self.places = Places()
        for rows, sql, times in ((self.seen, _SEEN_SQL, ("t_start", "t_end", "n")), (self.gone, _GONE_SQL, ("stamp",))):
            m = len(times)
            width = 5 + m  # object id, the times, x, y, z, row id
            numbers, place = itemgetter(slice(0, width)), itemgetter(width)
            parts: list[np.ndarray] = []
            codes: list[np.ndarray] = []
            cur = conn.execute(sql)
            while chunk := cur.fetchmany(CHUNK):
                k = len(chunk)
                parts.append(np.fromiter(chain.from_iterable(map(numbers, chunk)), np.float64, k * width))
                codes.append(self.places.codes(list(map(place, chunk))))
            num = np.concatenate(parts).reshape(-1, width) if parts else np.zeros((0, width))
            ids: np.ndarray = num[:, [0, width - 1]].astype(np.int64)
            if len(num) and float(np.abs(num[:, [0, width - 1]]).max()) >= EXACT:  # read the ids again, exactly
                ids = np.array([(r[0], r[width - 1]) for r in conn.execute(sql)], np.int64).reshape(-1, 2)
            arr = {"oid": ids[:, 0]}
            arr.update({k: num[:, 1 + i].astype(rows.cols[k].dtype) for i, k in enumerate(times)})
            arr["pos"] = num[:, 1 + m : 4 + m].copy()
            arr["place"] = np.concatenate(codes) if codes else np.zeros(0, np.int32)
            arr["row"] = ids[:, 1]
            keep = latest_per_object(arr["oid"], arr["row"])  # each row is at its object's newest time: top id
            rows.fill(arr.pop("oid")[keep], {k: v[keep] for k, v in arr.items()})

    # -- index cache --------------------------------------------------------------------
    def cache_arrays(self) -> dict[str, np.ndarray]:
        buf, off = pack_strings(list(self.places.names))
        out = {"places_buf": buf, "places_off": off}
        for prefix, rows in (("s_", self.seen), ("a_", self.gone)):
            ids, cols = rows.arrays()
            out[prefix + "ids"] = ids
            out.update({prefix + k: v for k, v in cols.items()})
        return out

    def from_cache(self, cached: Mapping[str, np.ndarray]) -> None:
        """The state ``cache_arrays`` saved; raises (KeyError, ValueError) on anything inconsistent."""
        names = list(PackedStrings(cached["places_buf"], cached["places_off"]))
        if any(n is None for n in names) or len(set(names)) != len(names):
            raise ValueError("temporal index cache: bad place names")
        places = Places(n for n in names if n is not None)
        loaded = []
        for prefix, spec, rows in (("s_", _SEEN, LatestRows(_SEEN)), ("a_", _GONE, LatestRows(_GONE))):
            ids = np.asarray(cached[prefix + "ids"])
            cols = {}
            for k, (dtype, width) in spec.items():
                col = np.asarray(cached[prefix + k])
                want = (len(ids), width) if width > 1 else (len(ids),)
                if col.shape != want or col.dtype != np.dtype(dtype):
                    raise ValueError(f"temporal index cache: {prefix}{k} has shape {col.shape}, {col.dtype}")
                cols[k] = col
            if ids.dtype.kind not in "iu" or (len(ids) and (np.any(np.diff(ids) <= 0))):
                raise ValueError("temporal index cache: object ids not ascending")
            p = cols["place"]
            if len(p) and (p.min() < -1 or p.max() >= len(names)):
                raise ValueError("temporal index cache: place code out of range")
            rows.fill(ids, cols)
            loaded.append(rows)
        self.places, self.seen, self.gone = places, loaded[0], loaded[1]
