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

import io
import json
import math
import threading
from dataclasses import dataclass, field

import numpy as np

from robomem.ingest.association import Match, ObjectView, associate, coarse_keys, overlap_fraction
from robomem.ingest.frame import Absence, Detection, Frame
from robomem.ingest.geometry import subsample, voxel_downsample
from robomem.ingest.perception import Segment
from robomem.ingest.visibility import frustum_candidates, projected_size_px, visible_fraction
from robomem.observation import Observation, Pose
from robomem.retrieval.query import Entry, Query, proximity, recency, text_relevance
from robomem.submodules.base import Changes, Submodule
from robomem.submodules.spatial.scene_graph import SceneGraph, build_scene_graph

SAMPLE_POINTS = 48  # per object, for the absence test


@dataclass(frozen=True)
class ObjectRecord:
    """A remembered object, as the public API returns it."""

    object_id: int
    label: str
    labels: dict[str, float]
    centroid: tuple[float, float, float]
    bbox_min: tuple[float, float, float]
    bbox_max: tuple[float, float, float]
    n_obs: int
    first_seen: float
    last_seen: float
    place: str | None
    status: str  # "present" | "absent" (observed absent since last seen)
    colour: tuple[float, float, float] | None = None

    @property
    def name(self) -> str:
        return f"{self.label} #{self.object_id}"

    def to_dict(self) -> dict[str, object]:
        return {
            "id": self.object_id,
            "label": self.label,
            "labels": {k: round(v, 3) for k, v in self.labels.items()},
            "centroid": [round(v, 3) for v in self.centroid],
            "bbox_min": [round(v, 3) for v in self.bbox_min],
            "bbox_max": [round(v, 3) for v in self.bbox_max],
            "n_obs": self.n_obs,
            "first_seen": self.first_seen,
            "last_seen": self.last_seen,
            "place": self.place,
            "status": self.status,
        }


@dataclass(frozen=True)
class Snapshot:
    snapshot_id: int
    stamp: float
    pose: Pose
    image_key: str | None
    place: str | None
    objects: dict[int, int]  # object id -> pixels of it in this view


@dataclass
class _Obj:
    id: int
    labels: dict[str, float]
    points: np.ndarray
    keys: np.ndarray
    centroid: np.ndarray
    bbox_min: np.ndarray
    bbox_max: np.ndarray
    n_obs: int
    first_seen: float
    last_seen: float
    colour: np.ndarray | None
    embedding: np.ndarray | None
    place: str | None
    status: str = "present"
    retrieved: int = 0
    sample: np.ndarray = field(default_factory=lambda: np.zeros((0, 3), np.float32))

    @property
    def label(self) -> str:
        return max(self.labels.items(), key=lambda kv: (kv[1], kv[0]))[0]

    def record(self) -> ObjectRecord:
        return ObjectRecord(
            object_id=self.id,
            label=self.label,
            labels=dict(self.labels),
            centroid=tuple(float(v) for v in self.centroid),  # type: ignore[arg-type]
            bbox_min=tuple(float(v) for v in self.bbox_min),  # type: ignore[arg-type]
            bbox_max=tuple(float(v) for v in self.bbox_max),  # type: ignore[arg-type]
            n_obs=self.n_obs,
            first_seen=self.first_seen,
            last_seen=self.last_seen,
            place=self.place,
            status=self.status,
            colour=tuple(float(v) for v in self.colour) if self.colour is not None else None,  # type: ignore[arg-type]
        )

    def view(self) -> ObjectView:
        return ObjectView(
            self.id,
            self.label,
            self.labels,
            self.keys,
            self.bbox_min,
            self.bbox_max,
            self.colour,
            self.embedding,
            self.status == "absent",
        )


class SpatialMemory(Submodule):
    name = "spatial"
    schema = (
        """CREATE TABLE IF NOT EXISTS objects(
            id INTEGER PRIMARY KEY, label TEXT NOT NULL, labels TEXT NOT NULL,
            cx REAL, cy REAL, cz REAL, minx REAL, miny REAL, minz REAL, maxx REAL, maxy REAL, maxz REAL,
            n_obs INTEGER NOT NULL, first_seen REAL NOT NULL, last_seen REAL NOT NULL,
            colour TEXT, embedding BLOB, points BLOB NOT NULL, place TEXT,
            status TEXT NOT NULL DEFAULT 'present', retrieved INTEGER NOT NULL DEFAULT 0)""",
        "CREATE INDEX IF NOT EXISTS objects_label ON objects(label)",
        """CREATE TABLE IF NOT EXISTS snapshots(
            id INTEGER PRIMARY KEY, stamp REAL NOT NULL, pose TEXT NOT NULL, image TEXT,
            place TEXT, robot_id TEXT)""",
        """CREATE TABLE IF NOT EXISTS snapshot_objects(
            snapshot_id INTEGER NOT NULL REFERENCES snapshots(id) ON DELETE CASCADE,
            object_id INTEGER NOT NULL, pixels INTEGER NOT NULL, PRIMARY KEY(snapshot_id, object_id))""",
    )

    def load(self) -> None:
        self._lock = threading.RLock()
        self._objs: dict[int, _Obj] = {}
        self._snapshots: dict[int, Snapshot] = {}
        self._best_view: dict[int, tuple[int, int]] = {}  # object id -> (snapshot id, pixels)
        self._arrays: tuple[np.ndarray, np.ndarray, np.ndarray, list[int]] | None = None
        self._label_sim_cache: dict[tuple[str, str], float] = {}
        conn = self.store.read()
        for row in conn.execute(
            "SELECT id, labels, cx, cy, cz, minx, miny, minz, maxx, maxy, maxz, n_obs, first_seen, last_seen,"
            " colour, embedding, points, place, status, retrieved FROM objects"
        ):
            pts = np.frombuffer(row[16], dtype=np.float32).reshape(-1, 3).copy()
            emb = np.frombuffer(row[15], dtype=np.float32).copy() if row[15] is not None else None
            o = _Obj(
                id=row[0],
                labels=json.loads(row[1]),
                points=pts,
                keys=coarse_keys(pts, self.config.spatial),
                centroid=np.array(row[2:5], dtype=np.float64),
                bbox_min=np.array(row[5:8], dtype=np.float64),
                bbox_max=np.array(row[8:11], dtype=np.float64),
                n_obs=row[11],
                first_seen=row[12],
                last_seen=row[13],
                colour=np.array(json.loads(row[14]), dtype=np.float32) if row[14] else None,
                embedding=emb,
                place=row[17],
                status=row[18],
                retrieved=row[19],
            )
            o.sample = subsample(pts, SAMPLE_POINTS, seed=o.id)
            self._objs[o.id] = o
        self._next_id = int(conn.execute("SELECT COALESCE(MAX(id), 0) FROM objects").fetchone()[0]) + 1
        for sid, stamp, pose, image, place in conn.execute("SELECT id, stamp, pose, image, place FROM snapshots"):
            self._snapshots[sid] = Snapshot(
                sid, stamp, Pose(np.array(json.loads(pose)).reshape(4, 4)), image, place, {}
            )
        for sid, oid, px in conn.execute("SELECT snapshot_id, object_id, pixels FROM snapshot_objects"):
            self._snapshots[sid].objects[oid] = px
            if oid not in self._best_view or px > self._best_view[oid][1]:
                self._best_view[oid] = (sid, px)
        self._next_snapshot = max(self._snapshots, default=0) + 1

    # -- association (called by the facade before the parallel update) --------------
    def label_similarity(self, a: str, b: str) -> float:
        if a == b:
            return 1.0
        key = (a, b) if a < b else (b, a)
        sim = self._label_sim_cache.get(key)
        if sim is None:
            va, vb = self.ctx.embedder.embed([a, b])
            sim = float(max(0.0, min(1.0, float(np.dot(va, vb)))))
            self._label_sim_cache[key] = sim
        return sim

    def _object_arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[int]]:
        if self._arrays is None:
            ids = list(self._objs)
            mins = np.array([self._objs[i].bbox_min for i in ids], dtype=np.float64).reshape(-1, 3)
            maxs = np.array([self._objs[i].bbox_max for i in ids], dtype=np.float64).reshape(-1, 3)
            cents = np.array([self._objs[i].centroid for i in ids], dtype=np.float64).reshape(-1, 3)
            self._arrays = (mins, maxs, cents, ids)
        return self._arrays

    def associate(self, segments: list[Segment]) -> list[Detection]:
        """Give every segment a persistent object id (new ids are reserved, not yet stored)."""
        with self._lock:
            mins, maxs, _cents, ids = self._object_arrays()
            views = [self._objs[i].view() for i in ids]
            matches: list[Match] = associate(segments, views, mins, maxs, self.label_similarity, self.config.spatial)
            out = []
            for m in matches:
                seg = segments[m.segment_index]
                oid = m.object_id
                is_new = oid is None
                if oid is None:
                    oid = self._next_id
                    self._next_id += 1
                out.append(Detection(seg, oid, is_new, m.reidentified, m.score, self.ctx.places.locate(seg.centroid)))
            return out

    def observed_absences(self, obs: Observation, seen: set[int]) -> list[Absence]:
        cfg = self.config.temporal
        with self._lock:
            _mins, _maxs, cents, ids = self._object_arrays()
            out = []
            for idx in frustum_candidates(cents, obs, self.config.spatial.max_depth).tolist():
                o = self._objs[ids[idx]]
                if o.id in seen or o.status == "absent":
                    continue
                extent = float(np.linalg.norm(o.bbox_max - o.bbox_min))
                if projected_size_px(extent, o.centroid, obs) < cfg.absence_min_size_px:
                    continue  # too small on screen to tell "gone" from "missed"
                n_in, frac = visible_fraction(o.sample, obs, cfg, self.config.spatial.max_depth, o.label)
                if n_in >= min(cfg.absence_min_points, len(o.sample)) and frac >= cfg.absence_visible_fraction:
                    pos = (float(o.centroid[0]), float(o.centroid[1]), float(o.centroid[2]))
                    out.append(Absence(o.id, o.label, pos, o.place, frac))
            return out

    # -- update ---------------------------------------------------------------------
    def update(self, frame: Frame) -> Changes:
        cfg = self.config.spatial
        ch = Changes()
        new_states: list[_Obj] = []
        stamp = frame.stamp
        for det in frame.detections:
            seg = det.segment
            old = self._objs.get(det.object_id)
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
            centroid = old.centroid if unchanged else pts.mean(axis=0).astype(np.float64)
            st = _Obj(
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
            ch.sql(
                "INSERT OR REPLACE INTO objects(id, label, labels, cx, cy, cz, minx, miny, minz, maxx, maxy, maxz,"
                " n_obs, first_seen, last_seen, colour, embedding, points, place, status, retrieved)"
                " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    st.id,
                    st.label,
                    json.dumps(st.labels),
                    *map(float, st.centroid),
                    *map(float, st.bbox_min),
                    *map(float, st.bbox_max),
                    st.n_obs,
                    st.first_seen,
                    st.last_seen,
                    json.dumps([round(float(c), 4) for c in colour]) if colour is not None else None,
                    emb.astype(np.float32).tobytes() if emb is not None else None,
                    pts.astype(np.float32).tobytes(),
                    st.place,
                    st.status,
                    st.retrieved,
                ),
            )
        absent_ids = [a.object_id for a in frame.absences]
        for oid in absent_ids:
            ch.sql("UPDATE objects SET status='absent' WHERE id=?", (oid,))
        snap = self._snapshot_changes(frame, ch)

        def apply() -> None:
            with self._lock:
                for st in new_states:
                    self._objs[st.id] = st
                for oid in absent_ids:
                    if oid in self._objs:
                        self._objs[oid].status = "absent"
                self._arrays = None
                if snap is not None:
                    snap()

        ch.then(apply)
        return ch

    def _snapshot_changes(self, frame: Frame, ch: Changes):  # type: ignore[no-untyped-def]
        cfg = self.config.spatial
        obs = frame.observation
        pixels = {d.object_id: d.segment.pixel_count for d in frame.detections}
        if not pixels:
            return None
        improves = [
            oid
            for oid, px in pixels.items()
            if oid not in self._best_view or px > cfg.snapshot_gain * self._best_view[oid][1]
        ]
        if not improves:
            return None
        sid = self._next_snapshot
        self._next_snapshot += 1
        image_key = None
        if obs.rgb is not None:
            image_key = self.store.put_blob(_png(obs.rgb, cfg.snapshot_image_width))
        snap = Snapshot(sid, obs.stamp, obs.pose, image_key, frame.camera_place, dict(pixels))
        new_best = dict(self._best_view)
        for oid, px in pixels.items():
            if oid not in new_best or px > new_best[oid][1]:
                new_best[oid] = (sid, px)
        keep = {s for s, _ in new_best.values()}
        dropped = [s for s in self._snapshots if s not in keep]
        ch.sql(
            "INSERT INTO snapshots(id, stamp, pose, image, place, robot_id) VALUES (?,?,?,?,?,?)",
            (
                sid,
                obs.stamp,
                json.dumps([round(float(v), 6) for v in obs.pose.matrix.ravel()]),
                image_key,
                frame.camera_place,
                obs.robot_id,
            ),
        )
        for oid, px in pixels.items():
            ch.sql("INSERT INTO snapshot_objects(snapshot_id, object_id, pixels) VALUES (?,?,?)", (sid, oid, px))
        for s in dropped:
            ch.sql("DELETE FROM snapshots WHERE id=?", (s,))

        def apply() -> None:
            self._snapshots[sid] = snap
            for s in dropped:
                self._snapshots.pop(s, None)
            self._best_view.clear()
            self._best_view.update(new_best)

        return apply

    # -- queries --------------------------------------------------------------------
    def objects(self, label: str | None = None, include_absent: bool = True) -> list[ObjectRecord]:
        with self._lock:
            objs = list(self._objs.values())
        out = [
            o.record()
            for o in objs
            if (label is None or label in o.labels) and (include_absent or o.status != "absent")
        ]
        return sorted(out, key=lambda r: r.object_id)

    def get(self, object_id: int) -> ObjectRecord | None:
        with self._lock:
            o = self._objs.get(int(object_id))
            return o.record() if o else None

    def points(self, object_id: int) -> np.ndarray:
        with self._lock:
            o = self._objs.get(int(object_id))
            if o is None:
                raise KeyError(f"no object {object_id}")
            return o.points.copy()

    def within(self, point: tuple[float, float, float], radius: float) -> list[ObjectRecord]:
        with self._lock:
            _m, _x, cents, ids = self._object_arrays()
            if not ids:
                return []
            d = np.linalg.norm(cents - np.asarray(point, dtype=np.float64), axis=1)
            idx = np.flatnonzero(d <= radius)
            return [self._objs[ids[i]].record() for i in idx[np.argsort(d[idx])]]

    def snapshots(self) -> list[Snapshot]:
        with self._lock:
            return sorted(self._snapshots.values(), key=lambda s: s.snapshot_id)

    def best_snapshots(self, object_id: int, k: int = 1) -> list[Snapshot]:
        """The kept keyframes that show this object, largest view first."""
        with self._lock:
            snaps = [s for s in self._snapshots.values() if object_id in s.objects]
        return sorted(snaps, key=lambda s: -s.objects[object_id])[:k]

    def snapshot_image(self, snapshot: Snapshot) -> np.ndarray | None:
        if snapshot.image_key is None:
            return None
        from PIL import Image

        return np.asarray(Image.open(io.BytesIO(self.store.get_blob(snapshot.image_key))).convert("RGB"))

    def scene_graph(self) -> SceneGraph:
        return build_scene_graph(self.objects(), self.ctx.places, self.config.spatial.near_distance)

    def referenced_blobs(self) -> set[str]:
        with self._lock:
            return {s.image_key for s in self._snapshots.values() if s.image_key}

    # -- search ---------------------------------------------------------------------
    def _search_index(
        self,
    ) -> tuple[
        object,
        list[_Obj],
        np.ndarray,
        list[str],
        np.ndarray,
        np.ndarray,
        np.ndarray,
        np.ndarray,
        dict[str, np.ndarray],
        dict[str, np.ndarray],
    ]:
        """Per-object arrays for search, rebuilt only when the object arrays are (after an update)."""
        with self._lock:
            arrays = self._object_arrays()
            cached = getattr(self, "_search_cache", None)
            if cached is not None and cached[0] is arrays:
                return cached
            _m, _x, cents, ids = arrays
            objs = [self._objs[i] for i in ids]
            labels = [o.label for o in objs]
            uniq = sorted(set(labels))
            pos = {lab: j for j, lab in enumerate(uniq)}
            lab_idx = np.fromiter((pos[lab] for lab in labels), dtype=np.int64, count=len(labels))
            last_seen = np.fromiter((o.last_seen for o in objs), dtype=np.float64, count=len(objs))
            first_seen = np.fromiter((o.first_seen for o in objs), dtype=np.float64, count=len(objs))
            n_obs = np.fromiter((o.n_obs for o in objs), dtype=np.float64, count=len(objs))
            members: dict[str, list[int]] = {}
            for j, o in enumerate(objs):
                for lab in o.labels:
                    members.setdefault(lab, []).append(j)
            cached = (
                arrays,
                objs,
                cents,
                uniq,
                lab_idx,
                last_seen,
                first_seen,
                n_obs,
                {lab: np.asarray(v, dtype=np.int64) for lab, v in members.items()},
                {},
            )
            self._search_cache = cached
            return cached

    def search(self, query: Query, now: float) -> list[Entry]:
        if not (query.wants("object") or query.wants("snapshot")):
            return []
        rcfg = self.config.retrieval
        _arr, objs, cents, uniq, lab_idx, last_seen, first_seen, n_obs, members, rel_cache = self._search_index()
        if not objs:
            return []
        n = len(objs)
        mask = np.ones(n, dtype=bool)
        if query.object_ids:
            mask &= np.isin(np.fromiter((o.id for o in objs), dtype=np.int64, count=n), list(query.object_ids))
        if query.label is not None:
            sel = np.zeros(n, dtype=bool)
            sel[members.get(query.label, np.zeros(0, dtype=np.int64))] = True
            mask &= sel
        if query.position is not None and query.radius is not None:
            mask &= np.linalg.norm(cents - np.asarray(query.position), axis=1) <= query.radius
        if query.since is not None:
            mask &= last_seen >= query.since
        if query.until is not None:
            mask &= first_seen <= query.until
        text = query.search_text
        if text:
            r_lab = rel_cache.get(text)  # relevance of every known label, per text, until the labels change
            if r_lab is None:
                r_lab = text_relevance(self.ctx.embedder, text, uniq)
                if len(rel_cache) > 256:
                    rel_cache.clear()
                rel_cache[text] = r_lab
            relevance = r_lab[lab_idx]
            if query.label is None and not query.object_ids:
                mask &= relevance >= rcfg.min_relevance
        else:
            relevance = np.ones(n)
        idx = np.flatnonzero(mask)
        if len(idx) == 0:
            return []
        rec = np.exp(-np.maximum(0.0, now - last_seen[idx]) / rcfg.recency_tau)
        imp = np.minimum(1.0, np.log1p(n_obs[idx]) / math.log(50.0))
        pre = rcfg.w_relevance * relevance[idx] + rcfg.w_recency * rec + rcfg.w_importance * imp
        if query.position is not None:  # the near one before the far one when there are many alike
            d = np.linalg.norm(cents[idx] - np.asarray(query.position), axis=1)
            pre = pre + rcfg.w_distance * np.exp(-d / max(rcfg.distance_scale, 1e-9))
        m = max(query.k * 3, 10)
        if len(pre) > 4 * m:  # only the best m are needed: partition first, then sort those
            keep = np.argpartition(-pre, m - 1)[:m]
            keep = keep[np.lexsort((keep, -pre[keep]))]
            top = idx[keep]
        else:
            top = idx[np.argsort(-pre, kind="stable")[:m]]
        out: list[Entry] = []
        for i in top.tolist():
            o = objs[i]
            total = sum(o.labels.values()) or 1.0
            conf = o.labels[o.label] / total * (0.5 if o.status == "absent" else 1.0)
            pos = (float(o.centroid[0]), float(o.centroid[1]), float(o.centroid[2]))
            where = f" in the {o.place}" if o.place else ""
            status = "; observed ABSENT since" if o.status == "absent" else ""
            text_line = (
                f"{o.label} #{o.id} at ({pos[0]:.2f}, {pos[1]:.2f}, {pos[2]:.2f}){where}, "
                f"last seen t={o.last_seen:.1f}s{status} ({o.n_obs} sightings)"
            )
            parts = {
                "relevance": float(relevance[i]),
                "recency": recency(o.last_seen, now, rcfg.recency_tau),
                "importance": float(min(1.0, math.log1p(o.n_obs) / math.log(50.0))),
                "confidence": float(conf),
                "distance": proximity(pos, query.position, rcfg.distance_scale),
            }
            if query.wants("object"):
                out.append(
                    Entry(
                        key=f"object:{o.id}",
                        kind="object",
                        source=self.name,
                        text=text_line,
                        stamp=o.last_seen,
                        position=pos,
                        place=o.place,
                        object_ids=(o.id,),
                        provenance=(f"object:{o.id}",),
                        parts=parts,
                        data={"label": o.label, "status": o.status, "n_obs": o.n_obs},
                    )
                )
            if query.wants("snapshot") and len(out) < 3 * query.k:
                for s in self.best_snapshots(o.id, 1):
                    p = s.pose.position
                    out.append(
                        Entry(
                            key=f"snapshot:{s.snapshot_id}",
                            kind="snapshot",
                            source=self.name,
                            text=f"keyframe #{s.snapshot_id} at t={s.stamp:.1f}s shows {o.label} #{o.id}"
                            + (f" from the {s.place}" if s.place else ""),
                            stamp=s.stamp,
                            position=(float(p[0]), float(p[1]), float(p[2])),
                            place=s.place,
                            object_ids=tuple(sorted(s.objects)),
                            provenance=(f"object:{o.id}",),
                            parts={**parts, "relevance": parts["relevance"] * 0.9},
                            data={"pose": s.pose.matrix.tolist(), "image": s.image_key, "target": o.id},
                        )
                    )
        return out

    def mark_retrieved(self, object_ids: list[int]) -> Changes:
        ch = Changes()
        for oid in object_ids:
            ch.sql("UPDATE objects SET retrieved = retrieved + 1 WHERE id=?", (oid,))

        def apply() -> None:
            with self._lock:
                for oid in object_ids:
                    if oid in self._objs:
                        self._objs[oid].retrieved += 1

        ch.then(apply)
        return ch


def _png(rgb: np.ndarray, width: int) -> bytes:
    from PIL import Image

    img = Image.fromarray(np.ascontiguousarray(rgb))
    if img.width > width:
        img = img.resize((width, max(1, round(img.height * width / img.width))), Image.BILINEAR)
    buf = io.BytesIO()
    img.save(buf, format="PNG", compress_level=1)
    return buf.getvalue()
