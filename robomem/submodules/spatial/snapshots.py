"""3D memory snapshots (3D-Mem): a few keyframes that together show every object well.

A frame becomes a keyframe when it shows some object clearly better
(``snapshot_gain``) than any kept keyframe; a keyframe that is no longer the
best view of any object is dropped.  Each keyframe keeps its pose, place, a
small PNG (a blob) and the pixels of every object in it.  ``Snapshots`` is
spatial memory's index of them; the caller (``SpatialMemory``) holds its lock
around every call.  Like a submodule, it returns :class:`Changes` and edits
its index only after the commit, and a keyframe id is taken at commit.
"""

from __future__ import annotations

import io
import json
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np

from robomem.config import SpatialConfig
from robomem.ingest.frame import Frame
from robomem.observation import Pose
from robomem.store.database import Store
from robomem.submodules.base import Changes

SCHEMA = (
    """CREATE TABLE IF NOT EXISTS snapshots(
        id INTEGER PRIMARY KEY, stamp REAL NOT NULL, pose TEXT NOT NULL, image TEXT,
        place TEXT, robot_id TEXT)""",
    """CREATE TABLE IF NOT EXISTS snapshot_objects(
        snapshot_id INTEGER NOT NULL REFERENCES snapshots(id) ON DELETE CASCADE,
        object_id INTEGER NOT NULL, pixels INTEGER NOT NULL, PRIMARY KEY(snapshot_id, object_id))""",
)
TABLES = ("snapshots", "snapshot_objects")


@dataclass(frozen=True)
class Snapshot:
    snapshot_id: int
    stamp: float
    pose: Pose
    image_key: str | None
    place: str | None
    objects: dict[int, int]  # object id -> pixels of it in this view


def best_views(snapshots: Iterable[Snapshot]) -> dict[int, tuple[int, int]]:
    """Object id -> (snapshot id, pixels) of its largest view among ``snapshots``."""
    best: dict[int, tuple[int, int]] = {}
    for s in snapshots:
        for oid, px in s.objects.items():
            if oid not in best or px > best[oid][1]:
                best[oid] = (s.snapshot_id, px)
    return best


class Snapshots:
    def __init__(self, store: Store, cfg: SpatialConfig) -> None:
        self.store = store
        self.cfg = cfg
        self.by_id: dict[int, Snapshot] = {}
        self.best_view: dict[int, tuple[int, int]] = {}  # object id -> (snapshot id, pixels)
        self._next = 1

    def load(self) -> None:
        conn = self.store.read()
        for sid, stamp, pose, image, place in conn.execute("SELECT id, stamp, pose, image, place FROM snapshots"):
            self.by_id[sid] = Snapshot(sid, stamp, Pose(np.array(json.loads(pose)).reshape(4, 4)), image, place, {})
        for sid, oid, px in conn.execute("SELECT snapshot_id, object_id, pixels FROM snapshot_objects"):
            self.by_id[sid].objects[oid] = px
        self.best_view = best_views(self.by_id.values())
        self._next = max(self.by_id, default=0) + 1

    # -- update ---------------------------------------------------------------------
    def plan(self, frame: Frame, ch: Changes) -> Callable[[], None] | None:
        """Keep this frame as a keyframe when it shows an object clearly better; the index edit to apply."""
        obs = frame.observation
        pixels = {d.object_id: d.segment.pixel_count for d in frame.detections}
        if not pixels:
            return None
        improves = [
            oid
            for oid, px in pixels.items()
            if oid not in self.best_view or px > self.cfg.snapshot_gain * self.best_view[oid][1]
        ]
        if not improves:
            return None
        sid = self._next
        image_key = None
        if obs.rgb is not None:  # an unreferenced blob (a failed commit) is collected later
            image_key = self.store.put_blob(png(obs.rgb, self.cfg.snapshot_image_width))
        snap = Snapshot(sid, obs.stamp, obs.pose, image_key, frame.camera_place, dict(pixels))
        new_best = dict(self.best_view)
        for oid, px in pixels.items():
            if oid not in new_best or px > new_best[oid][1]:
                new_best[oid] = (sid, px)
        keep = {s for s, _ in new_best.values()}
        dropped = [s for s in self.by_id if s not in keep]
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
            self._next = max(self._next, sid + 1)
            self.by_id[sid] = snap
            for s in dropped:
                self.by_id.pop(s, None)
            self.best_view = new_best

        return apply

    # -- lifecycle ------------------------------------------------------------------
    def remap(self, drop: int, keep: int, ch: Changes) -> Callable[[], None]:
        """Links to object ``drop`` become links to ``keep`` (where a keyframe shows both, keep's stays)."""
        ch.sql("UPDATE OR IGNORE snapshot_objects SET object_id=? WHERE object_id=?", (keep, drop))
        ch.sql("DELETE FROM snapshot_objects WHERE object_id=?", (drop,))

        def apply() -> None:
            for s in self.by_id.values():
                px = s.objects.pop(drop, None)
                if px is not None and keep not in s.objects:
                    s.objects[keep] = px
            self.best_view.pop(drop, None)
            views = [(s.snapshot_id, s.objects[keep]) for s in self.by_id.values() if keep in s.objects]
            if views:
                self.best_view[keep] = max(views, key=lambda v: (v[1], -v[0]))
            else:
                self.best_view.pop(keep, None)

        return apply

    def forget(
        self, max_rows: int, target_fraction: float, objects: dict[int, tuple[str, int, int]]
    ) -> tuple[Changes, dict[str, int]]:
        """Thin the keyframes past ``max_rows``: those showing only absent or rarely seen objects, oldest first.

        ``objects``: object id -> (status, n_obs, retrieved)."""
        ch = Changes()
        report = {"snapshots_dropped": 0}
        if len(self.by_id) <= max_rows:
            return ch, report
        target = int(max_rows * target_fraction)

        def value(s: Snapshot) -> tuple[float, float]:
            v = 0.0
            for oid in s.objects:
                status, n_obs, retrieved = objects.get(oid, ("absent", 0, 0))
                if status != "absent":
                    v = max(v, 1.0 + math.log1p(n_obs) + math.log1p(retrieved))
            return (v, s.stamp)

        order = sorted(self.by_id.values(), key=value)
        drop = [s.snapshot_id for s in order[: len(self.by_id) - target]]
        ch.delete("snapshot_objects", drop, "snapshot_id")
        ch.delete("snapshots", drop)
        report["snapshots_dropped"] = len(drop)

        def apply() -> None:
            for sid in drop:
                self.by_id.pop(sid, None)
            self.best_view = best_views(self.by_id.values())

        ch.then(apply)
        return ch, report

    # -- queries --------------------------------------------------------------------
    def all(self) -> list[Snapshot]:
        return sorted(self.by_id.values(), key=lambda s: s.snapshot_id)

    def best(self, object_id: int, k: int) -> list[Snapshot]:
        snaps = [s for s in self.by_id.values() if object_id in s.objects]
        return sorted(snaps, key=lambda s: -s.objects[object_id])[:k]

    def referenced_blobs(self) -> set[str]:
        return {s.image_key for s in self.by_id.values() if s.image_key}

    def image(self, snapshot: Snapshot) -> np.ndarray | None:
        if snapshot.image_key is None:
            return None
        from PIL import Image

        return np.asarray(Image.open(io.BytesIO(self.store.get_blob(snapshot.image_key))).convert("RGB"))


def png(rgb: np.ndarray, width: int) -> bytes:
    from PIL import Image

    img = Image.fromarray(np.ascontiguousarray(rgb))
    if img.width > width:
        img = img.resize((width, max(1, round(img.height * width / img.width))), Image.BILINEAR)
    buf = io.BytesIO()
    img.save(buf, format="PNG", compress_level=1)
    return buf.getvalue()
