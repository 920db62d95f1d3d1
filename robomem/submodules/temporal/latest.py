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

# every row that is its object's latest by time (ties: read keeps the highest id)
_SEEN_SQL = (
    "SELECT s.object_id, s.t_start, s.t_end, s.n, s.x, s.y, s.z, s.place, s.id FROM sightings s"
    " JOIN (SELECT object_id, MAX(t_end) AS t FROM sightings GROUP BY object_id) m"
    " ON s.object_id = m.object_id AND s.t_end = m.t"
)
_GONE_SQL = (
    "SELECT a.object_id, a.stamp, a.x, a.y, a.z, a.place, a.id FROM absences a"
    " JOIN (SELECT object_id, MAX(stamp) AS t FROM absences GROUP BY object_id) m"
    " ON a.object_id = m.object_id AND a.stamp = m.t"
)
_CHUNK = 65536


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
        """Every object's latest rows from the tables (a chunked scan: no Python object per row is kept)."""
        self.places = Places()
        for rows, sql, times in ((self.seen, _SEEN_SQL, ("t_start", "t_end", "n")), (self.gone, _GONE_SQL, ("stamp",))):
            m = len(times)
            parts: list[dict[str, np.ndarray]] = []
            cur = conn.execute(sql)
            while chunk := cur.fetchmany(_CHUNK):
                cols = list(zip(*chunk, strict=True))
                part = {"oid": np.asarray(cols[0], np.int64)}
                part.update({k: np.asarray(cols[1 + i], rows.cols[k].dtype) for i, k in enumerate(times)})
                part["pos"] = np.column_stack([np.asarray(c, np.float64) for c in cols[1 + m : 4 + m]])
                part["place"] = self.places.codes(cols[4 + m])
                part["row"] = np.asarray(cols[5 + m], np.int64)
                parts.append(part)
            if not parts:
                rows.fill(np.zeros(0, np.int64), {k: v[:0] for k, v in rows.cols.items()})
                continue
            arr = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
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
