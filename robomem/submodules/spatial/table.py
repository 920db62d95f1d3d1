"""Every object's small columns resident, its geometry paged from the store through an LRU (issue 14).

Opening a store reads one ``SELECT`` of the columns queries and association need -- id, labels, centroid,
box, stamps, counts, colour, place, status -- straight into the ``ObjectIndex`` arrays, vectorised; the
geometry CRC of every row is checked there (one ``crc32`` of each row's 72 packed bytes).  What an object
needs besides (its points, their coarse voxel keys and absence sample, its embedding) is read from the
store when it is associated, updated, merged, exported or rendered: ``ObjectTable.full`` builds its
``ObjectState`` (points CRC checked then) and keeps the last ``SpatialConfig.resident_objects`` of them
in an LRU.  The store always holds what memory holds: states change only after their commit.
"""

from __future__ import annotations

import json
import re
import zlib
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from itertools import chain
from operator import itemgetter
from sys import intern
from typing import Any, cast

import numpy as np

from robomem.config import SpatialConfig
from robomem.store.index_cache import PackedStrings, pack_strings
from robomem.submodules.spatial.index import ObjectIndex
from robomem.submodules.spatial.objects import OBJECT_COLUMNS, ObjectRecord, ObjectState, colour_json, top_label

# the columns read at open (no points, no embedding): first every number, as ``load`` reads them into one float64
# row -- centroid, min, max (the 72 bytes the geometry checksum packs), id, n_obs, first and last seen, times
# retrieved, and in one number (each value read costs ~0.1 s at 10^6 rows) the checksum (-1: none, -2: not a
# 32-bit integer, so never equal to one) times 2 plus absent -- then the texts
_NUM_SQL = (
    "cx, cy, cz, minx, miny, minz, maxx, maxy, maxz, id, n_obs, first_seen, last_seen, retrieved,"
    " (CASE WHEN geom_crc IS NULL THEN -1 WHEN typeof(geom_crc) = 'integer' AND geom_crc BETWEEN 0 AND 4294967295"
    " THEN geom_crc ELSE -2 END) * 2 + (status IS 'absent')"
)
_NUM = 15
_TEXT_SQL = "label, labels, colour, place"
_NUMBERS = itemgetter(slice(0, _NUM))
_LABEL, _LABELS, _COLOUR, _PLACE = (itemgetter(_NUM + j) for j in range(4))
# labels (JSON text, or the dict of a state committed this session), colour (JSON text or tuple), place, retrieved
_Light = tuple[str | dict[str, float], str | tuple[float, ...] | None, str | None, int]
_CACHE_MAX = 65536  # parsed label distributions / colours kept by their JSON text
# rows fetched at a time at open: a chunk small enough that its row tuples are still in the CPU cache when they
# are converted (10^6 objects on the 2-core machine: 4.1 s CPU at 1024 rows, 4.8 s at 4096, 5.0 s at 65536)
_CHUNK = 1024


_Packed = tuple[np.ndarray, np.ndarray]  # index_cache.pack_strings' (bytes, offsets)


def pack_texts(texts: Sequence[str | None]) -> _Packed:
    """``index_cache.pack_strings`` of these texts; ASCII texts (JSON of the usual labels) in one encode, their
    lengths by one C-level pass (a column without NULLs -- labels -- skips the None mask)."""
    n = len(texts)
    n_none = texts.count(None)
    none = np.array([t is None for t in texts], bool) if n_none else np.zeros(n, bool)
    present = [t for t in texts if t is not None] if n_none else cast(Sequence[str], texts)
    joined = "".join(present)
    if not joined.isascii():
        return pack_strings(texts)
    lens = np.zeros(n, np.int64)
    lens[~none] = np.fromiter(map(len, present), dtype=np.int64, count=n - n_none)
    offsets = np.concatenate([[0], np.cumsum(lens)]).astype(np.int64)
    offsets[1:][none] = -offsets[1:][none] - 1  # pack_strings' mark of a None
    return np.frombuffer(joined.encode("ascii"), dtype=np.uint8), offsets


def merge_texts(base: _Packed, take: np.ndarray, extra: list[str | None]) -> _Packed:
    """Packed texts: item i is ``base``'s item ``take[i]``, or (where ``take[i] < 0``) the next of ``extra``."""
    buf, off = base
    ex_buf, ex_off = pack_strings(extra)
    if int((take < 0).sum()) != len(extra):
        raise ValueError("merge_texts: one extra text per item not taken from the base")
    start, end = np.zeros(len(take), np.int64), np.zeros(len(take), np.int64)
    b, e = take >= 0, take < 0
    for mask, o, pos, shift in ((b, off, take[b], 0), (e, ex_off, np.arange(len(extra)), len(buf))):
        lo, hi = o[pos], o[pos + 1]
        start[mask] = np.where(lo >= 0, lo, -lo - 1) + shift
        end[mask] = np.where(hi >= 0, hi + shift, -1)
    none = end < 0
    lens = np.where(none, 0, end - start)
    ends = np.cumsum(lens)
    idx = np.repeat(start - ends + lens, lens) + np.arange(int(ends[-1]) if len(ends) else 0)
    out_off = np.concatenate([[0], ends]).astype(np.int64)
    out_off[1:][none] = -out_off[1:][none] - 1
    return np.concatenate([buf, ex_buf])[idx], out_off


class ObjectTable:
    """id -> (labels JSON, colour JSON, place, times retrieved) for every object, and the LRU of full states.

    ``on_problem(object_id, text, set_aside)`` is told of a row that fails its points checksum when paged in
    (``ObjectState.from_checked_row``): the object is cut to its sound points, or set aside (``full`` then
    answers None and the caller drops the object from the index)."""

    def __init__(
        self,
        read: Callable[[], Any],
        cfg: SpatialConfig,
        index: ObjectIndex,
        on_problem: Callable[[int, str, bool], None],
    ) -> None:
        self._read = read
        self._cfg = cfg
        self._index = index
        self._on_problem = on_problem
        # The small columns: of the rows read at open, as columns in id order (labels and colour as their JSON
        # text); of the states committed since, per id (as memory has them); ``_gone``: rows left since open.
        self._base_ids = np.zeros(0, dtype=np.int64)
        self._base: tuple[Sequence[str], Sequence[str | None], Sequence[str | None]] = ((), (), ())
        empty = (np.zeros(0, np.uint8), np.zeros(1, np.int64))
        self._packed: tuple[_Packed, _Packed] = (empty, empty)  # the arrays under _base's first two
        self._base_retrieved = np.zeros(0, dtype=np.int64)
        self._over: dict[int, _Light] = {}
        self._gone: set[int] = set()
        self._n = 0
        self._lru: OrderedDict[int, ObjectState] = OrderedDict()
        self.capacity = cfg.resident_objects
        self._labels: dict[str, dict[str, float]] = {}
        self._colours: dict[str, tuple[float, float, float]] = {}
        self.page_ins = 0
        self.hits = 0

    def __len__(self) -> int:
        return self._n

    def __contains__(self, oid: object) -> bool:
        return self._row(oid) is not None

    def _row(self, oid: Any) -> _Light | None:
        v = self._over.get(oid)
        if v is not None or oid in self._gone:
            return v
        # a row read at open sits in the index slot of its position (ObjectIndex.bulk_load); a slot freed and
        # taken again holds another id (new objects are in ``_over``)
        i = self._index.slot_of.get(oid)  # type: ignore[call-overload]
        if i is not None and i < len(self._base_ids) and self._base_ids[i] == oid:
            return (self._base[0][i], self._base[1][i], self._base[2][i], int(self._base_retrieved[i]))
        return None

    def _light(self, oid: int) -> _Light:
        v = self._row(oid)
        if v is None:
            raise KeyError(oid)
        return v

    @property
    def resident(self) -> int:
        """How many full states (with points) are held now: at most ``capacity``."""
        return len(self._lru)

    # -- open ----------------------------------------------------------------------------
    def load(self, conn: Any, repair: Callable[[int], ObjectState | None]) -> list[int]:
        """Read every row's small columns into the index (vectorised: no per-row Python object kept); returns
        the ids whose geometry failed its checksum (``repair(id)`` was asked for their state: None sets the row
        aside)."""
        n = int(conn.execute("SELECT COUNT(*) FROM objects").fetchone()[0])
        if n == 0:
            return []
        # every number of a row (SQL turns status, the checksum and "has several labels" into numbers) lands
        # in one float64 row through one fromiter over the chained row tuples: no per-column transposition
        num = np.empty((n, _NUM), dtype="<f8")
        tops: list[str] = []
        labels_json: list[str] = []
        colour: list[str | None] = []
        place: list[str | None] = []
        at = 0
        cur = conn.execute(f"SELECT {_NUM_SQL}, {_TEXT_SQL} FROM objects ORDER BY id")
        while at < n and (rows := cur.fetchmany(_CHUNK)):  # in chunks: the fetched rows never all at once
            m = min(len(rows), n - at)
            rows = rows[:m]
            numbers = chain.from_iterable(map(_NUMBERS, rows))
            num[at : at + m] = np.fromiter(numbers, dtype=np.float64, count=m * _NUM).reshape(m, _NUM)
            tops += map(intern, map(_LABEL, rows))  # one string per distinct label / place
            labels_json += map(_LABELS, rows)
            colour += map(_COLOUR, rows)
            places = list(map(_PLACE, rows))
            place += [x if x is None else intern(x) for x in places] if None in places else map(intern, places)
            del rows
            at += m
        del cur
        if at < n:  # fewer rows than counted (cannot happen under the writer lock): keep what was read
            n, num = at, num[:at]
        ids = num[:, 9].astype(np.int64)
        if n and float(np.abs(num[:, 9]).max()) >= 2.0**53:  # an id a float64 cannot hold exactly
            ids = np.fromiter((r[0] for r in conn.execute("SELECT id FROM objects ORDER BY id")), np.int64, count=n)
        retrieved = num[:, 13].astype(np.int64)
        crc_absent = num[:, 14].astype(np.int64)
        crc, absent = crc_absent >> 1, (crc_absent & 1) == 1  # crc -1: none stored, -2: not a 32-bit integer
        crc32, packed, w = zlib.crc32, memoryview(num).cast("B"), 8 * _NUM  # a row's first 72 bytes: its geometry
        bad = [i for i in np.flatnonzero(crc != -1).tolist() if crc32(packed[w * i : w * i + 72]) != crc[i]]
        geom = num[:, :9]
        keep = np.ones(n, dtype=bool)
        for i in bad:
            st = repair(int(ids[i]))
            if st is None:
                keep[i] = False
                continue
            geom[i] = np.concatenate([st.centroid, st.bbox_min, st.bbox_max])
            self._lru[st.id] = st
        # the label column is the argmax of the distribution (``ObjectState.row``, the one writer); the rows
        # whose distribution has more labels are found in one scan of the JSON texts (", \"" only ever
        # separates two items: a quote inside a key is escaped), and only those are parsed
        lens = np.fromiter(map(len, labels_json), dtype=np.int64, count=n)
        starts = np.concatenate([[0], np.cumsum(lens + 1)[:-1]])
        seps = np.fromiter((m.start() for m in re.finditer(', "', "\n".join(labels_json))), dtype=np.int64)
        sets: dict[int, tuple[str, ...]] = {}
        for i in sorted(set((np.searchsorted(starts, seps, side="right") - 1).tolist())):
            d = self.labels_of_json(labels_json[i])
            tops[i] = top_label(d)
            sets[i] = tuple(d)
        k = np.flatnonzero(keep)
        if len(k) < n:  # rows set aside: left out of the resident columns too
            kl = k.tolist()
            labels_json, colour, place = ([c[i] for i in kl] for c in (labels_json, colour, place))
            tops = [tops[i] for i in kl]
            new_pos = {int(i): j for j, i in enumerate(kl)}
            sets = {new_pos[i]: v for i, v in sets.items() if i in new_pos}
        self._base_ids = ids[k]
        self._set_base(pack_texts(labels_json), pack_texts(colour), place)  # one buffer each, not 10^6 strs
        self._base_retrieved = retrieved[k]
        self._n = len(k)
        self._index.bulk_load(
            ids[k],
            geom[k, 3:6],
            geom[k, 6:9],
            geom[k, 0:3],
            num[k, 11:13],
            num[k, 10],
            tops,
            sets,
            absent[k],
        )
        return [int(ids[i]) for i in bad]

    def _set_base(self, labels: _Packed, colour: _Packed, place: list[str | None]) -> None:
        self._packed = (labels, colour)
        self._base = (PackedStrings(*labels), PackedStrings(*colour), place)  # type: ignore[assignment]

    # -- the index cache ----------------------------------------------------------------------
    def export(self) -> dict[str, np.ndarray]:
        """The arrays ``restore`` takes to hold what an open from the store would hold now (and the index's)."""
        out = {f"ix.{k}": v for k, v in self._index.export().items()}
        ids = out["ix.row.ids"]
        nb = len(self._base_ids)
        pos = np.minimum(np.searchsorted(self._base_ids, ids), max(nb - 1, 0))
        take = np.where((nb > 0) & (self._base_ids[pos] == ids) if nb else np.zeros(len(ids), bool), pos, -1)
        over = [(j, oid) for j, oid in enumerate(ids.tolist()) if oid in self._over]
        take[[j for j, _ in over]] = -1
        lights = [self._over[oid] for _, oid in over]
        labels = [lab if isinstance(lab, str) else json.dumps(lab) for lab, _c, _p, _r in lights]
        colour = [c if c is None or isinstance(c, str) else colour_json(np.asarray(c)) for _l, c, _p, _r in lights]
        (lb, lo), (cb, co) = (merge_texts(self._packed[0], take, labels), merge_texts(self._packed[1], take, colour))
        out.update({"labels.buf": lb, "labels.off": lo, "colour.buf": cb, "colour.off": co})
        base_place = self._base[2]
        place = [base_place[p] if p >= 0 else None for p in take.tolist()]
        retrieved = np.where(take >= 0, self._base_retrieved[np.maximum(take, 0)] if nb else 0, 0).astype(np.int64)
        for (j, _oid), (_l, _c, p, r) in zip(over, lights, strict=True):
            place[j], retrieved[j] = p, r
        names = sorted({p for p in place if p is not None})
        at = {p: i for i, p in enumerate(names)}
        out["place.code"] = np.fromiter((-1 if p is None else at[p] for p in place), dtype=np.int32, count=len(place))
        out["place.names.buf"], out["place.names.off"] = pack_strings(names)
        out["retrieved"] = retrieved
        return out

    def restore(self, a: Mapping[str, np.ndarray]) -> None:
        """An empty table (and index) from ``export``'s arrays; raises on any inconsistency."""
        ids = np.asarray(a["ix.row.ids"])
        n = len(ids)
        if n == 0:
            return  # an empty store: an open reads nothing either
        labels = (np.asarray(a["labels.buf"]), np.asarray(a["labels.off"]))
        colour = (np.asarray(a["colour.buf"]), np.asarray(a["colour.off"]))
        codes, retrieved = np.asarray(a["place.code"]), np.asarray(a["retrieved"])
        names = list(PackedStrings(a["place.names.buf"], a["place.names.off"]))
        if len(labels[1]) != n + 1 or len(colour[1]) != n + 1 or len(codes) != n or len(retrieved) != n:
            raise ValueError("ObjectTable.restore: columns of different lengths")
        if retrieved.dtype != np.int64 or codes.dtype != np.int32 or (n and int(codes.max()) >= len(names)):
            raise ValueError("ObjectTable.restore: bad place or retrieved column")
        if n > 1 and np.any(np.diff(ids) <= 0):
            raise ValueError("ObjectTable.restore: ids not ascending")
        self._index.restore({k[3:]: v for k, v in a.items() if k.startswith("ix.")})
        self._base_ids = ids
        self._set_base(labels, colour, [None if c < 0 else names[c] for c in codes.tolist()])
        self._base_retrieved = retrieved
        self._n = n

    def labels_of_json(self, text: str) -> dict[str, float]:
        d = self._labels.get(text)
        if d is None:
            if len(self._labels) > _CACHE_MAX:
                self._labels.clear()
            d = json.loads(text)
            self._labels[text] = d
        return d

    # -- the small columns ---------------------------------------------------------------------
    def labels(self, oid: int) -> dict[str, float]:
        """The label distribution (a shared dict: do not change it)."""
        lab = self._light(oid)[0]
        return lab if isinstance(lab, dict) else self.labels_of_json(lab)

    def colour(self, oid: int) -> tuple[float, float, float] | None:
        text = self._light(oid)[1]
        if text is None or isinstance(text, tuple):
            return text  # type: ignore[return-value]
        c = self._colours.get(text)
        if c is None:  # as ObjectState holds it: float32
            if len(self._colours) > _CACHE_MAX:
                self._colours.clear()
            c = tuple(float(v) for v in np.asarray(json.loads(text), dtype=np.float32))  # type: ignore[assignment]
            self._colours[text] = c  # type: ignore[assignment]
        return c

    def colours(self, ids: np.ndarray) -> np.ndarray:
        """(k, 3) colour signatures of these ids, NaN where unknown: one vectorised id lookup (the moved-object
        rule reads thousands per label)."""
        out = np.full((len(ids), 3), np.nan)
        texts, over = self._base[1], self._over
        nb = len(self._base_ids)
        slots = self._index.slot_of.lookup(ids)
        for j, (oid, p) in enumerate(zip(ids.tolist(), slots.tolist(), strict=True)):
            v = over.get(oid)
            if v is not None:
                c = v[1]
            else:
                if p < 0 or p >= nb or texts[p] is None or oid not in self:
                    continue
                c = texts[p]
            if c is not None:
                out[j] = c if isinstance(c, tuple) else self.colour(oid)
        return out

    def place(self, oid: int) -> str | None:
        return self._light(oid)[2]

    def retrieved(self, oid: int) -> int:
        return self._light(oid)[3]

    def record(self, oid: int) -> ObjectRecord:
        """The public record, from the resident columns (no points read)."""
        ix, cfg = self._index, self._cfg
        slot = ix.slot_of[oid]
        labels = self.labels(oid)
        n_obs = int(ix.n_obs[slot])
        return ObjectRecord(
            object_id=oid,
            label=ix.vocab[int(ix.lab_idx[slot])],
            labels=dict(labels),
            centroid=tuple(float(v) for v in ix.cents[slot]),  # type: ignore[arg-type]
            bbox_min=tuple(float(v) for v in ix.mins[slot]),  # type: ignore[arg-type]
            bbox_max=tuple(float(v) for v in ix.maxs[slot]),  # type: ignore[arg-type]
            n_obs=n_obs,
            first_seen=float(ix.first_seen[slot]),
            last_seen=float(ix.last_seen[slot]),
            place=self.place(oid),
            status="absent" if ix.absent[slot] else "present",
            colour=self.colour(oid),
            confirmed=n_obs >= cfg.confirm_observations and float(sum(labels.values())) >= cfg.confirm_evidence,
            name_evidence=cfg.confirm_evidence,
        )

    # -- full states ---------------------------------------------------------------------------
    def full(self, oid: int) -> ObjectState | None:
        """The object's full state (points and all), from the LRU or the store; None: no such object (or its
        row was set aside just now, see the class docstring)."""
        st = self._lru.get(oid)
        if st is not None:
            self._lru.move_to_end(oid)
            self.hits += 1
            return st
        if oid not in self:
            return None
        return self.many([oid]).get(oid)

    def many(self, oids: Iterable[int]) -> dict[int, ObjectState]:
        """Full states of these objects (one SELECT for those not resident); missing ids are left out."""
        out: dict[int, ObjectState] = {}
        miss = []
        for oid in oids:
            st = self._lru.get(oid)
            if st is not None:
                self._lru.move_to_end(oid)
                self.hits += 1
                out[oid] = st
            elif oid in self:
                miss.append(oid)
        for a in range(0, len(miss), 500):
            chunk = miss[a : a + 500]
            q = f"SELECT {OBJECT_COLUMNS} FROM objects WHERE id IN ({','.join('?' * len(chunk))})"
            for row in self._read().execute(q, chunk):
                st = self._from_row(row)
                if st is not None:
                    out[st.id] = st
                    self._keep(st)
        return out

    def _from_row(self, row: Any) -> ObjectState | None:
        self.page_ins += 1
        st, problem = ObjectState.from_checked_row(row, self._cfg)
        if problem is not None:
            self._on_problem(int(row[0]), problem, st is None)
        if st is None:
            return None
        slot = self._index.slot_of.get(st.id)
        if slot is not None:  # the index holds what open decided (a repaired box); absence is memory's
            st.status = "absent" if self._index.absent[slot] else "present"
        return st

    def _keep(self, st: ObjectState) -> None:
        self._lru[st.id] = st
        self._lru.move_to_end(st.id)
        while len(self._lru) > self.capacity:
            self._lru.popitem(last=False)

    def put(self, st: ObjectState) -> None:
        """A committed state (update, merge): its small columns and the LRU."""
        colour = tuple(float(c) for c in st.colour) if st.colour is not None else None
        if st.id not in self:
            self._n += 1
        self._gone.discard(st.id)
        self._over[st.id] = (st.labels, colour, st.place, st.retrieved)
        self._keep(st)

    def pop(self, oid: int) -> None:
        if oid in self:
            self._n -= 1
            self._over.pop(oid, None)
            self._gone.add(oid)
        self._lru.pop(oid, None)

    def set_absent(self, oid: int) -> None:
        st = self._lru.get(oid)
        if st is not None:
            st.status = "absent"

    def add_retrieved(self, oid: int) -> None:
        lj, c, p, r = self._light(oid)
        self._over[oid] = (lj, c, p, r + 1)
        st = self._lru.get(oid)
        if st is not None:
            st.retrieved += 1

    def stats(self) -> dict[str, int]:
        return {"resident": len(self._lru), "capacity": self.capacity, "page_ins": self.page_ins, "hits": self.hits}
