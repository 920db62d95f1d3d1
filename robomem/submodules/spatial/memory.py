"""Spatial memory: the object-level 3D map, its scene graph and 3D snapshots.

Each object keeps voxel-downsampled world points, centroid, bounding box,
a label distribution, a colour signature, how often it was observed, and
whether it was last *observed absent*.  Objects, snapshots and their links
are rows in SQLite; the working set lives in memory for association and
search.  Snapshot selection (3D-Mem): a frame becomes a keyframe when it
shows some object clearly better than any kept keyframe; a keyframe that is
no longer the best view of any object is dropped.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping, Sequence

import numpy as np

from robomem.errors import QueryError, UnknownObjectError
from robomem.ingest.association import Match, associate, coarse_keys, overlap_fraction
from robomem.ingest.frame import Absence, Detection, Frame
from robomem.ingest.geometry import project, subsample, voxel_downsample
from robomem.ingest.perception import Segment
from robomem.ingest.visibility import frustum_candidates, frustum_floor_box, visible_fraction
from robomem.observation import Observation
from robomem.retrieval.query import Entry, Query
from robomem.store.ids import next_id
from robomem.submodules.base import Changes, ForgetLimits, LabelIndex, Submodule, SubmoduleContext
from robomem.submodules.spatial.absences import seen_through_bounds
from robomem.submodules.spatial.index import IndexedObject, MovedCandidates, ObjectIndex
from robomem.submodules.spatial.label_patch import changes_since, patched
from robomem.submodules.spatial.label_similarity import LabelSimilarity
from robomem.submodules.spatial.moved import MovedCache, Where
from robomem.submodules.spatial.objects import (
    OBJECT_COLUMNS,
    OBJECT_PLACEHOLDERS,
    SAMPLE_POINTS,
    ObjectRecord,
    ObjectState,
    merged_state,
)
from robomem.submodules.spatial.scene_graph import SceneGraph, build_scene_graph
from robomem.submodules.spatial.search import RelevanceCache, labelled, search_objects
from robomem.submodules.spatial.snapshots import SCHEMA as SNAPSHOT_SCHEMA
from robomem.submodules.spatial.snapshots import TABLES as SNAPSHOT_TABLES
from robomem.submodules.spatial.snapshots import Snapshot, Snapshots
from robomem.submodules.spatial.table import ObjectTable

__all__ = ["ObjectRecord", "Snapshot", "SpatialMemory"]

log = logging.getLogger(__name__)

INDEX_CELL_M = 1.0  # floor-plane cell of the object grid (objects are mostly smaller)


def _indexed(o: ObjectState) -> IndexedObject:
    absent = o.status == "absent"
    return IndexedObject(
        o.id, o.bbox_min, o.bbox_max, o.centroid, o.first_seen, o.last_seen, o.n_obs, o.label, tuple(o.labels), absent
    )


class SpatialMemory(Submodule):
    name = "spatial"
    tables = ("objects", *SNAPSHOT_TABLES)
    schema = (
        """CREATE TABLE IF NOT EXISTS objects(
            id INTEGER PRIMARY KEY, label TEXT NOT NULL, labels TEXT NOT NULL,
            cx REAL, cy REAL, cz REAL, minx REAL, miny REAL, minz REAL, maxx REAL, maxy REAL, maxz REAL,
            n_obs INTEGER NOT NULL, first_seen REAL NOT NULL, last_seen REAL NOT NULL,
            colour TEXT, embedding BLOB, points BLOB NOT NULL, place TEXT,
            status TEXT NOT NULL DEFAULT 'present', retrieved INTEGER NOT NULL DEFAULT 0,
            geom_crc INTEGER, points_crc INTEGER)""",
        "CREATE INDEX IF NOT EXISTS objects_label ON objects(label)",
        *SNAPSHOT_SCHEMA,
    )

    def __init__(self, ctx: SubmoduleContext) -> None:
        super().__init__(ctx)
        self._lock = threading.RLock()
        self._snaps = Snapshots(self.store, self.config.spatial)
        self._index = ObjectIndex(cell=INDEX_CELL_M)  # kept row by row: never rebuilt per frame
        # every object's small columns; its points paged from the store through an LRU (table.py)
        self._objs = ObjectTable(self.store.read, self.config.spatial, self._index, self._problem)
        self._reported: set[int] = set()
        self._relevance = RelevanceCache(ctx.embedder)
        self._label_index: tuple[int, LabelIndex] | None = None  # (index.label_version, index)
        self.label_similarity = LabelSimilarity(ctx.embedder)  # cached per pair
        self._moved = MovedCache()  # the moved rule's candidate arrays per label (spatial/moved.py)
        self._next_id = 1  # advanced only after a commit that stored the new objects
        self._aliases: dict[int, int] = {}  # merged-away id -> the id it was merged into (this session)
        self._newest: float | None = None
        self.damaged: list[str] = []  # rows that failed their checksums at load, and what was done (stats())

    def load(self, cached: Mapping[str, np.ndarray] | None = None) -> None:
        conn = self.store.read()

        def repair(oid: int) -> ObjectState | None:  # a row whose centroid/box fails its checksum
            row = conn.execute(f"SELECT {OBJECT_COLUMNS} FROM objects WHERE id=?", (oid,)).fetchone()
            o, problem = ObjectState.from_checked_row(row, self.config.spatial)
            if problem is not None:
                self._problem(oid, problem, o is None)
            return o

        with self._lock:
            self._moved = MovedCache()  # its arrays and generations belong to the index being replaced
            if cached is not None:
                self._objs.restore(cached)
            else:
                self._objs.load(conn, repair)
            self._next_id = next_id(conn, "objects")
            ix = self._index
            self._newest = float(ix.last_seen[ix.slots()].max()) if len(ix) else None
            self._snaps.load()
            prefetch = getattr(self.ctx.embedder, "prefetch", None)  # a user's embedder may lack it
            if prefetch is not None:  # the labels' vectors, for the first absence tests and queries, off the frame path
                prefetch(list(ix.vocab))

    def cache_arrays(self) -> dict[str, np.ndarray] | None:
        """The objects' small columns and the index, as an open from the store would build them now (in id
        order, one slot each); None after a row failed its checksums (the open from the store reports it)."""
        with self._lock:
            return None if self.damaged else self._objs.export()

    def _problem(self, oid: int, problem: str, set_aside: bool) -> None:
        """A row failed its checksums (at open, or its points when paged in): logged once, in stats()["damaged"];
        a row set aside leaves memory (it stays on disk as it was)."""
        if oid not in self._reported:
            self._reported.add(oid)
            self.damaged.append(problem)
            log.warning("%s: %s", self.store.path, problem)
        if set_aside:
            self._objs.pop(oid)
            self._moved.colour_changed(oid)
            self._index.remove(oid)

    def _full(self, ids: Sequence[int]) -> list[ObjectState]:
        """Full states (points paged in) of these ids, in their order; ids no longer in memory are left out."""
        got = self._objs.many(ids)
        return [got[i] for i in ids if i in got]

    # -- association (called by the facade before the parallel update) --------------
    def _same_kind(self, o: ObjectState) -> Callable[[str], bool]:
        """Names a noisy detector gives the same thing: labels ``o`` was already called, or similar ones."""
        floor = self.config.spatial.min_label_similarity
        return lambda lab: lab in o.labels or self.label_similarity(lab, o.label) >= floor

    def _ids(self, slots: np.ndarray) -> list[int]:
        return sorted(self._index.ids[slots].tolist())

    def _association_candidates(self, segments: list[Segment]) -> list[int]:
        """Objects whose box meets a segment's (grown by the overlap voxel), and the absent objects
        of a segment's label (re-identification): from the index, in id order."""
        index, pad = self._index, max(self.config.spatial.overlap_voxel, self.config.spatial.association_radius)
        found: set[int] = set()
        for seg in segments:
            found.update(index.ids[index.box(seg.bbox_min, seg.bbox_max, pad)].tolist())
            absent = index.absent_of(seg.label)
            if len(absent):
                found.update(index.ids[absent].tolist())
        return sorted(found)

    def associate(self, segments: list[Segment], appeared: Callable[[Segment], bool] | None = None) -> list[Detection]:
        """Give every segment a persistent object id (new ids are taken by the commit of this frame's update);
        ``appeared`` gates re-identification of moved objects (see ``ingest.association.associate``)."""
        with self._lock:
            views = [o.view() for o in self._full(self._association_candidates(segments))]
            mins = np.array([v.bbox_min for v in views], dtype=np.float64).reshape(-1, 3)
            maxs = np.array([v.bbox_max for v in views], dtype=np.float64).reshape(-1, 3)
            matches: list[Match] = associate(
                segments, views, mins, maxs, self.label_similarity, self.config.spatial, appeared
            )
            out = []
            next_id = self._next_id  # reserved for this frame only: taken when its update commits
            for m in matches:
                seg = segments[m.segment_index]
                oid = m.object_id
                is_new = oid is None
                if oid is None:
                    oid = next_id
                    next_id += 1
                out.append(Detection(seg, oid, is_new, m.reidentified, m.score, self.ctx.places.locate(seg.centroid)))
            return out

    def observed_absences(self, obs: Observation, seen: set[int]) -> list[Absence]:
        cfg = self.config.temporal
        with self._lock:
            index, max_depth = self._index, self.config.spatial.max_depth
            p, reach = np.asarray(obs.pose.position, dtype=np.float64)[:2], max_depth + 1.0
            lo, hi = frustum_floor_box(obs, max_depth)  # the part of the square around the camera it faces
            near = index.in_floor_box(np.maximum(lo, p - reach), np.minimum(hi, p + reach))
            near = near[~index.absent[near]]
            slots = near[frustum_candidates(index.cents[near], obs, max_depth)]
            if len(slots):  # too small on screen to tell "gone" from "missed": out, all at once
                _u, _v, z = project(index.cents[slots], obs.pose, obs.intrinsics)
                extent = np.linalg.norm(index.maxs[slots] - index.mins[slots], axis=1)
                size = np.where(z > 0.1, extent * obs.intrinsics.fx / np.maximum(z, 0.1), 0.0)
                slots = slots[size >= cfg.absence_min_size_px]
            cand = [o for o in self._full([i for i in self._ids(slots) if i not in seen]) if o.status != "absent"]
            n_in, bound = seen_through_bounds([o.sample for o in cand], obs, cfg, max_depth)  # all at once
            cand = [  # those that can pass the exact test below
                o
                for o, n, b in zip(cand, n_in.tolist(), bound.tolist(), strict=True)
                if n >= min(cfg.absence_min_points, len(o.sample)) and b >= cfg.absence_visible_fraction
            ]
            if obs.instances and cand:
                self.label_similarity.warm({i.label for i in obs.instances.values()}, {o.label for o in cand})
            out = []
            for o in cand:
                n_exact, frac = visible_fraction(o.sample, obs, cfg, max_depth, o.label, self._same_kind(o))
                if n_exact >= min(cfg.absence_min_points, len(o.sample)) and frac >= cfg.absence_visible_fraction:
                    pos = (float(o.centroid[0]), float(o.centroid[1]), float(o.centroid[2]))
                    out.append(Absence(o.id, o.label, pos, o.place, frac))
            return out

    # -- update ---------------------------------------------------------------------
    def update(self, frame: Frame) -> Changes:
        cfg = self.config.spatial
        ch = Changes()
        new_states: list[ObjectState] = []
        stamp = frame.stamp
        with self._lock:
            olds = self._objs.many([d.object_id for d in frame.detections])
        for det in frame.detections:
            seg = det.segment
            old = olds.get(det.object_id)
            if old is None or det.reidentified:
                pts = seg.points
                labels = dict(old.labels) if old is not None else {}
                labels[seg.label] = labels.get(seg.label, 0.0) + seg.score
                colour, emb = seg.colour, seg.embedding
                n_obs = (old.n_obs if old else 0) + 1
                first = old.first_seen if old else stamp
            else:
                seg_keys = coarse_keys(seg.points, cfg)
                if len(old.points) >= 256 and overlap_fraction(seg_keys, old.keys) >= 0.95:
                    pts = old.points  # a view of what is already mapped: skip the re-voxelisation
                else:
                    pts, _ = voxel_downsample(np.concatenate([old.points, seg.points]), cfg.voxel_size)
                    if len(pts) > cfg.max_points_per_object:
                        pts = subsample(pts, cfg.max_points_per_object, seed=old.id)
                labels = dict(old.labels)
                labels[seg.label] = labels.get(seg.label, 0.0) + seg.score
                n_obs = old.n_obs + 1
                first = old.first_seen
                colour = (
                    seg.colour
                    if old.colour is None
                    else (
                        old.colour if seg.colour is None else (old.colour * 0.8 + seg.colour * 0.2).astype(np.float32)
                    )
                )
                emb = (
                    seg.embedding
                    if old.embedding is None
                    else (
                        old.embedding
                        if seg.embedding is None
                        else ((old.embedding * (n_obs - 1) + seg.embedding) / n_obs).astype(np.float32)
                    )
                )
            unchanged = old is not None and pts is old.points
            centroid = old.centroid if unchanged else pts.mean(axis=0, dtype=np.float64)
            st = ObjectState(
                id=det.object_id,
                labels=labels,
                points=pts,
                keys=old.keys if unchanged else coarse_keys(pts, cfg),
                centroid=centroid,
                bbox_min=old.bbox_min if unchanged else pts.min(axis=0).astype(np.float64),
                bbox_max=old.bbox_max if unchanged else pts.max(axis=0).astype(np.float64),
                n_obs=n_obs,
                first_seen=first,
                last_seen=stamp,
                colour=colour,
                embedding=emb,
                place=self.ctx.places.locate(centroid),
                status="present",
                retrieved=old.retrieved if old else 0,
            )
            st.sample = old.sample if unchanged else subsample(pts, SAMPLE_POINTS, seed=st.id)
            new_states.append(st)
            ch.sql(f"INSERT OR REPLACE INTO objects({OBJECT_COLUMNS}) VALUES ({OBJECT_PLACEHOLDERS})", st.row())
        absent_ids = [a.object_id for a in frame.absences]
        for oid in absent_ids:
            ch.sql("UPDATE objects SET status='absent' WHERE id=?", (oid,))
        snap = self._snaps.plan(frame, ch)

        def apply() -> None:
            with self._lock:
                for st in new_states:
                    self._objs.put(st)
                    self._moved.colour_changed(st.id)
                    self._index.upsert(_indexed(st))
                    self._next_id = max(self._next_id, st.id + 1)
                for oid in absent_ids:
                    if oid in self._objs:
                        self._objs.set_absent(oid)
                        self._index.set_absent(oid)
                if new_states:
                    self._newest = max(self._newest or stamp, stamp)
                if snap is not None:
                    snap()

        ch.then(apply)
        return ch

    # -- queries --------------------------------------------------------------------
    def objects(self, label: str | None = None, include_absent: bool = True) -> list[ObjectRecord]:
        with self._lock:
            ix = self._index
            slots = ix.slots() if label is None else ix.members_of(label)
            if not include_absent:
                slots = slots[~ix.absent[slots]]
            ids = np.sort(ix.ids[slots]).tolist()
            return [self._objs.record(i) for i in ids]

    def vocabulary(self) -> list[str]:
        """The distinct labels remembered, in any object's label distribution (from the index, no record built):
        a minority vote names its object too ("mugs" counts the "yellow cup" once called "yellow mug")."""
        with self._lock:
            return self._index.member_labels()

    def objects_with_labels(self, labels: Sequence[str]) -> list[ObjectRecord]:
        """Objects whose label distribution holds any of ``labels`` (through the index's label sets)."""
        with self._lock:
            index = self._index
            slots = np.unique(np.concatenate([np.zeros(0, np.int64), *(index.members_of(lab) for lab in labels)]))
            ids = np.sort(index.ids[slots]).tolist()
            return [self._objs.record(i) for i in ids]

    def resolve(self, object_id: int) -> int:
        """The id an object now has: a duplicate merged away (a moment ago, by another thread) answers as the
        object it was merged into."""
        oid = int(object_id)
        with self._lock:
            return self._aliases.get(oid, oid)

    def boxes(self, include_absent: bool = True) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(ids ascending, box mins, box maxs) of the objects, from the index (no record built)."""
        with self._lock:
            ix = self._index
            slots = ix.slots()
            slots = slots if include_absent else slots[~ix.absent[slots]]
            slots = slots[np.argsort(ix.ids[slots], kind="stable")]
            return ix.ids[slots], ix.mins[slots], ix.maxs[slots]

    def count(self, include_absent: bool = True) -> int:
        """How many objects memory holds (without building a record of each)."""
        with self._lock:
            n = len(self._index)
            return n if include_absent else n - int(self._index.absent[: self._index.top].sum())

    def get(self, object_id: int) -> ObjectRecord | None:
        """The object with this id now (None once it was merged away: ``resolve`` names the survivor)."""
        with self._lock:
            oid = int(object_id)
            return self._objs.record(oid) if oid in self._objs else None

    def points(self, object_id: int) -> np.ndarray:
        """The object's points; an id merged away a moment ago gives the points of the object it became."""
        if isinstance(object_id, bool) or not isinstance(object_id, (int, np.integer)):
            raise QueryError(f"points: object_id must be an integer, got {type(object_id).__name__}")
        with self._lock:
            o = self._objs.full(self.resolve(object_id))
            if o is None:
                raise UnknownObjectError(f"points: no object {object_id} in memory")
            return o.points.copy()

    def within(self, point: tuple[float, float, float], radius: float) -> list[ObjectRecord]:
        with self._lock:
            p = np.asarray(point, dtype=np.float64)
            slots = self._index.around(p, radius)
            d = np.linalg.norm(self._index.cents[slots] - p, axis=1)
            ids = self._index.ids[slots]
            return [self._objs.record(int(ids[i])) for i in np.lexsort((ids, d))]

    def snapshots(self) -> list[Snapshot]:
        with self._lock:
            return self._snaps.all()

    def best_snapshots(self, object_id: int, k: int = 1) -> list[Snapshot]:
        """The kept keyframes that show this object, largest view first."""
        with self._lock:
            return self._snaps.best(object_id, k)

    def snapshot_image(self, snapshot: Snapshot) -> np.ndarray | None:
        return self._snaps.image(snapshot)

    def scene_graph(self) -> SceneGraph:
        return build_scene_graph(self.objects(), self.ctx.places, self.config.spatial.near_distance)

    def referenced_blobs(self) -> set[str]:
        with self._lock:
            return self._snaps.referenced_blobs()

    # -- search ---------------------------------------------------------------------
    def search(self, query: Query, now: float) -> list[Entry]:
        if not (query.wants("object") or query.wants("snapshot")):
            return []
        with self._lock:
            return search_objects(
                self._index,
                self._objs.record,
                self._relevance,
                self.config.retrieval,
                query,
                now,
                self.name,
                self._snaps.best,
            )

    # -- the one label rule -----------------------------------------------------------
    def label_of(self, object_id: int) -> str | None:
        """The object's label: the argmax of its label distribution (None: no such object)."""
        with self._lock:
            slot = self._index.slot_of.get(int(object_id))
            return self._index.vocab[int(self._index.lab_idx[slot])] if slot is not None else None

    def label_index(self) -> LabelIndex:
        """Every object's label as arrays; a new instance after every change of the labels, patched from
        the last one by the objects the index logged as changed since (``label_patch``), else rebuilt."""
        with self._lock:
            cached = self._label_index
            version = self._index.label_version
            if cached is None or cached[0] != version:
                touched = changes_since(self._index.label_log, cached[0], version) if cached is not None else None
                if cached is not None and touched is not None:
                    index = patched(cached[1], touched, self.label_of, version)
                else:
                    ix = self._index
                    slots = ix.slots()
                    slots = slots[np.argsort(ix.ids[slots], kind="stable")]
                    vocab_idx = ix.lab_idx[slots]
                    present = np.unique(vocab_idx).tolist()
                    uniq = sorted(ix.vocab[j] for j in present)
                    remap = np.zeros(len(ix.vocab), dtype=np.int64)
                    for j, lab in enumerate(uniq):
                        remap[ix.label_id(lab)] = j
                    index = LabelIndex(
                        ids=ix.ids[slots].copy(), uniq=tuple(uniq), lab_idx=remap[vocab_idx], version=version
                    )
                cached = (version, index)
                self._label_index = cached
            return cached[1]

    def labelled(self, query: Query, enough: int | None) -> tuple[np.ndarray, np.ndarray, bool]:
        with self._lock:
            return labelled(self._index, self._relevance, self.config.retrieval, query, enough)

    def label_changes(self, since: int, until: int) -> set[int] | None:
        with self._lock:
            return changes_since(self._index.label_log, since, until)

    def usage(self) -> dict[int, tuple[int, int]]:
        """Object id -> (times observed, times retrieved): how much each object matters, for forgetting."""
        with self._lock:
            ix = self._index
            slots = ix.slots()
            return {
                oid: (int(n), self._objs.retrieved(oid))
                for oid, n in zip(ix.ids[slots].tolist(), ix.n_obs[slots].tolist(), strict=True)
            }

    # -- duplicates (for maintenance.merging) -------------------------------------------
    def moved_candidates(
        self, absent_id: int, where: Where | None = None
    ) -> tuple[tuple[object, ...] | None, MovedCandidates]:
        """Objects that may be ``absent_id`` moved: same label, not absent, first seen after its last sighting
        (and kept by ``where``: ids, centroids, first sightings -> mask; only their colours are read); and what
        they stand for (its label's generation in the index, its last sighting): while that key is the same,
        so are they.  Per label, its members are kept while it has the same ones (``spatial/moved.py``)."""
        with self._lock:
            index, a_id = self._index, int(absent_id)
            a_slot = index.slot_of.get(a_id)
            if a_slot is None:
                return None, MovedCandidates(np.zeros(0, np.int64), np.zeros((0, 3)), np.zeros(0), np.zeros((0, 3)))
            label, a_last = index.vocab[int(index.lab_idx[a_slot])], float(index.last_seen[a_slot])
            gen = index.label_gen.get(label, 0)
            c = self._moved.candidates(index, label, self._objs.colours, after=a_last, exclude=a_id, where=where)
            return (a_id, label, a_last, gen), c

    def overlapping(self, object_id: int, exclude: set[int]) -> list[tuple[int, float]]:
        """Same-label, non-absent objects whose box overlaps this one's, with the share of the smaller
        one's coarse voxels inside the other (a vectorised box test first: this runs every update)."""
        with self._lock:
            x = self._objs.full(int(object_id))
            if x is None:
                return []
            ix, out = self._index, []
            cand = [
                oid
                for oid, s in ((i, ix.slot_of[i]) for i in self._ids(ix.box(x.bbox_min, x.bbox_max, 0.0)))
                if oid != x.id and oid not in exclude and not ix.absent[s] and ix.vocab[int(ix.lab_idx[s])] == x.label
            ]
            for y in self._full(cand):
                if y.status == "absent" or y.label != x.label:
                    continue
                small, big = (x, y) if len(x.keys) <= len(y.keys) else (y, x)
                out.append((y.id, overlap_fraction(small.keys, big.keys)))
            return out

    # -- lifecycle --------------------------------------------------------------------
    def merge_object(self, keep: int, drop: int, moved: bool) -> Changes:
        """The objects row of a duplicate pair becomes one (``merged_state``); ``drop``'s row goes.

        Run before ``remap_object(drop, keep)`` of every submodule, in the same transaction."""
        ch = Changes()
        with self._lock:
            k, d = self._objs.full(keep), self._objs.full(drop)
        if k is None or d is None:
            return ch
        st = merged_state(k, d, moved)
        ch.sql(f"INSERT OR REPLACE INTO objects({OBJECT_COLUMNS}) VALUES ({OBJECT_PLACEHOLDERS})", st.row())
        ch.sql("DELETE FROM objects WHERE id=?", (drop,))

        def apply() -> None:
            with self._lock:
                self._objs.put(st)
                self._objs.pop(drop)
                self._moved.colour_changed(st.id)
                self._index.upsert(_indexed(st))
                self._index.remove(drop)
                self._aliases[drop] = keep
                for old, new in list(self._aliases.items()):  # earlier duplicates of ``drop`` follow it
                    if new == drop:
                        self._aliases[old] = keep

        ch.then(apply)
        return ch

    def remap_object(self, drop: int, keep: int) -> Changes:
        ch = Changes()
        with self._lock:
            snap = self._snaps.remap(drop, keep, ch)

        def apply() -> None:
            with self._lock:
                snap()

        ch.then(apply)
        return ch

    def forget(self, limits: ForgetLimits, now: float) -> tuple[Changes, dict[str, int]]:
        """Thin the keyframes past ``budget.max_snapshots`` (objects themselves are never forgotten)."""
        max_rows = limits.limit(limits.budget.max_snapshots)
        with self._lock:  # every object's value only when over the budget (~75 ms at 10^5 objects)
            ix = self._index
            over = len(self._snaps.by_id) > max_rows
            objects: dict[int, tuple[str, int, int]] = {}
            if over:
                slots = ix.slots()
                slots = slots[np.argsort(ix.ids[slots], kind="stable")]
                for oid, a, n in zip(
                    ix.ids[slots].tolist(), ix.absent[slots].tolist(), ix.n_obs[slots].tolist(), strict=True
                ):
                    objects[oid] = ("absent" if a else "present", int(n), self._objs.retrieved(oid))
            ch, report = self._snaps.forget(max_rows, limits.target_fraction, objects)
        out = Changes(statements=ch.statements)  # the index edit runs under the spatial lock

        def apply() -> None:
            with self._lock:
                ch.commit_memory()

        out.then(apply)
        return out, report

    def mark_retrieved(self, entries: Sequence[Entry], now: float) -> Changes:
        """Count retrievals of ``object:<id>`` entries (forgetting keeps what is asked for)."""
        ids = [int(e.key.split(":", 1)[1]) for e in entries if e.kind == "object" and e.key.startswith("object:")]
        ch = Changes()
        if not ids:
            return ch
        for oid in ids:
            ch.sql("UPDATE objects SET retrieved = retrieved + 1 WHERE id=?", (oid,))

        def apply() -> None:
            with self._lock:
                for oid in ids:
                    if oid in self._objs:
                        self._objs.add_retrieved(oid)

        ch.then(apply)
        return ch

    def paging(self) -> dict[str, int]:
        """The geometry LRU: full states held (``resident`` <= ``capacity``), page-ins from the store, hits."""
        with self._lock:
            return self._objs.stats()

    def newest_stamp(self) -> float | None:
        with self._lock:
            return self._newest
