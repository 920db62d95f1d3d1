"""One remembered object: its working state, its stored row, and the merge of two.

``ObjectState`` is spatial memory's in-memory record (points, coarse voxel
keys, box, label distribution, colour, embedding, counts); ``ObjectRecord``
is the frozen copy the public API returns.  The label of an object is the
argmax of its label distribution: the one label rule, which temporal and
semantic memory read through ``SpatialMemory.label_of``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from robomem.config import SpatialConfig
from robomem.ingest.association import ObjectView, coarse_keys
from robomem.ingest.geometry import subsample
from robomem.store.checksums import geometry_checksum, points_checksum

SAMPLE_POINTS = 48  # per object, for the absence test

OBJECT_COLUMNS = (
    "id, label, labels, cx, cy, cz, minx, miny, minz, maxx, maxy, maxz, n_obs, first_seen, last_seen,"
    " colour, embedding, points, place, status, retrieved, geom_crc, points_crc"
)
OBJECT_PLACEHOLDERS = ",".join("?" * 23)


def colour_json(colour: np.ndarray) -> str:
    """The stored text of a colour signature: each float32 in its shortest exact decimal, so a state read back
    from the store (geometry paging) blends exactly as the one memory held (4-decimal rounding did not)."""
    return json.dumps([float(np.format_float_positional(v, unique=True)) for v in np.asarray(colour, np.float32)])


def top_label(labels: dict[str, float]) -> str:
    """The argmax of a label distribution (ties: the alphabetically last, as always)."""
    return max(labels.items(), key=lambda kv: (kv[1], kv[0]))[0]


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
    # Believed: seen in enough frames with enough score-weighted evidence (``SpatialConfig.confirm_*``).
    # An unconfirmed object is a candidate (a single false positive, say): kept, so that more evidence can
    # confirm it, but no question is answered with it (``qa.labels.match_label`` skips it).
    confirmed: bool = True
    # The votes a name must hold in ``labels`` to name this object on a share (``qa.labels``' share tier): the
    # confirmation evidence, so one doubtful detection of a look-alike name ("orange juice carton" once, on a
    # milk carton) names nothing, as it would have confirmed nothing on its own.  0: any share counts.
    name_evidence: float = 0.0

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
            "confirmed": self.confirmed,
        }


@dataclass
class ObjectState:
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
    _label_of: tuple[dict[str, float], str] | None = field(default=None, init=False, repr=False, compare=False)

    @property
    def label(self) -> str:
        """The top label, computed once per label distribution (a new dict on every change)."""
        c = self._label_of
        if c is None or c[0] is not self.labels:
            c = (self.labels, top_label(self.labels))
            self._label_of = c
        return c[1]

    @classmethod
    def from_checked_row(cls, row: Any, cfg: SpatialConfig) -> tuple[ObjectState | None, str | None]:
        """A row of ``SELECT {OBJECT_COLUMNS} FROM objects``, checked against its checksums.

        Returns ``(state, problem)``: ``problem`` is None for a sound row (or one written before version 6
        had checksums).  The points are the object's geometry; centroid and box are derived from them
        (mean, min, max), so:

        - box and centroid damaged, points sound: they are recomputed from the points;
        - points damaged, box and centroid sound: points outside the box (or not finite) are dropped;
        - both damaged: no state (None): the object answers nothing; its row stays on disk as it was.
        """
        geom_crc, points_crc = row[21], row[22]
        geom_ok = geom_crc is None or geometry_checksum(row[3:6], row[6:9], row[9:12]) == geom_crc
        points_ok = points_crc is None or points_checksum(row[17]) == points_crc
        if geom_ok and points_ok:
            return cls.from_row(row, cfg), None
        what = f"object #{row[0]} ({row[1]!r})"
        if not geom_ok and not points_ok:
            return None, f"{what}: centroid/box and points both fail their checksums; set aside, row kept as stored"
        o = cls.from_row(row, cfg)
        if not geom_ok:
            o.centroid = o.points.mean(axis=0, dtype=np.float64)
            o.bbox_min = o.points.min(axis=0).astype(np.float64)
            o.bbox_max = o.points.max(axis=0).astype(np.float64)
            return o, f"{what}: centroid/box failed its checksum; recomputed from the object's points"
        inside = np.all(np.isfinite(o.points), axis=1)
        inside &= np.all((o.points >= o.bbox_min - 1e-4) & (o.points <= o.bbox_max + 1e-4), axis=1)
        if not inside.any():
            return None, f"{what}: points fail their checksum and none lies in the stored box; set aside"
        o.points = o.points[inside]
        o.keys = coarse_keys(o.points, cfg)
        o.sample = subsample(o.points, SAMPLE_POINTS, seed=o.id)
        return o, f"{what}: points failed their checksum; {int((~inside).sum())} outside the stored box dropped"

    @classmethod
    def from_row(cls, row: Any, cfg: SpatialConfig) -> ObjectState:
        """From a row of ``SELECT {OBJECT_COLUMNS} FROM objects`` (checksums not checked)."""
        pts = np.frombuffer(row[17], dtype=np.float32).reshape(-1, 3).copy()
        emb = np.frombuffer(row[16], dtype=np.float32).copy() if row[16] is not None else None
        o = cls(
            id=row[0],
            labels=json.loads(row[2]),
            points=pts,
            keys=coarse_keys(pts, cfg),
            centroid=np.array(row[3:6], dtype=np.float64),
            bbox_min=np.array(row[6:9], dtype=np.float64),
            bbox_max=np.array(row[9:12], dtype=np.float64),
            n_obs=row[12],
            first_seen=row[13],
            last_seen=row[14],
            colour=np.array(json.loads(row[15]), dtype=np.float32) if row[15] else None,
            embedding=emb,
            place=row[18],
            status=row[19],
            retrieved=row[20],
        )
        o.sample = subsample(pts, SAMPLE_POINTS, seed=o.id)
        return o

    def row(self) -> tuple[Any, ...]:
        """The values of ``INSERT OR REPLACE INTO objects({OBJECT_COLUMNS}) VALUES ({OBJECT_PLACEHOLDERS})``."""
        points = self.points.astype(np.float32).tobytes()
        return (
            self.id,
            self.label,
            json.dumps(self.labels),
            *map(float, self.centroid),
            *map(float, self.bbox_min),
            *map(float, self.bbox_max),
            self.n_obs,
            self.first_seen,
            self.last_seen,
            colour_json(self.colour) if self.colour is not None else None,
            self.embedding.astype(np.float32).tobytes() if self.embedding is not None else None,
            points,
            self.place,
            self.status,
            self.retrieved,
            geometry_checksum(self.centroid, self.bbox_min, self.bbox_max),
            points_checksum(points),
        )

    def evidence(self) -> float:
        """Score-weighted evidence: the sum of the detector scores of every detection (the label votes)."""
        return float(sum(self.labels.values()))

    def is_confirmed(self, cfg: SpatialConfig) -> bool:
        return self.n_obs >= cfg.confirm_observations and self.evidence() >= cfg.confirm_evidence

    def record(self, cfg: SpatialConfig | None = None) -> ObjectRecord:
        """The public record; ``cfg`` decides ``confirmed`` (without it, every object counts as confirmed)."""
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
            confirmed=cfg is None or self.is_confirmed(cfg),
            name_evidence=cfg.confirm_evidence if cfg is not None else 0.0,
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


def merged_state(keep: ObjectState, drop: ObjectState, moved: bool) -> ObjectState:
    """One object from a duplicate pair: ``keep``'s id, both label distributions and counts.

    ``moved``: the survivor is where the duplicate is now, so it takes the duplicate's geometry
    and state (points, box, last sighting, colour, embedding, place, status); otherwise (an
    overlap duplicate) it keeps its own."""
    labels = dict(keep.labels)
    for lab, w in drop.labels.items():
        labels[lab] = labels.get(lab, 0.0) + w
    geo = drop if moved else keep
    out = ObjectState(
        id=keep.id,
        labels=labels,
        points=geo.points,
        keys=geo.keys,
        centroid=geo.centroid,
        bbox_min=geo.bbox_min,
        bbox_max=geo.bbox_max,
        n_obs=keep.n_obs + drop.n_obs,
        first_seen=min(keep.first_seen, drop.first_seen),
        last_seen=geo.last_seen,
        colour=geo.colour,
        embedding=geo.embedding,
        place=geo.place,
        status=geo.status,
        retrieved=keep.retrieved + drop.retrieved,
    )
    out.sample = subsample(out.points, SAMPLE_POINTS, seed=out.id)
    return out
