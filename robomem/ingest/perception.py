"""Where a frame enters: one Observation -> per-instance 3D segments in the world frame.

This is the "preprocess once" step of ``Memory.update``: the instance image's
masked depth is back-projected (every ``pixel_stride``-th pixel), moved to the
world frame with the camera pose, voxel-downsampled, and summarised
(centroid, bounding box, colour signature).  Everything downstream works on
these segments, never on pixels.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from robomem.config import SpatialConfig
from robomem.ingest.geometry import backproject, voxel_downsample
from robomem.observation import Observation


@dataclass(frozen=True)
class Segment:
    """One detected instance in one frame, in world coordinates."""

    instance_id: int
    label: str
    score: float
    points: np.ndarray  # (M, 3) float32, voxel-downsampled, world frame
    centroid: np.ndarray  # (3,)
    bbox_min: np.ndarray  # (3,)
    bbox_max: np.ndarray  # (3,)
    pixel_count: int  # mask pixels (full resolution, estimated from the stride)
    colour: np.ndarray | None  # (3,) mean RGB in [0, 1]
    embedding: np.ndarray | None  # detector's embedding, if it gave one


def pixel_stride(shape: tuple[int, int], cfg: SpatialConfig) -> int:
    """The configured stride, or (0 = auto) the smallest one sampling at most ``max_pixels`` pixels."""
    if cfg.pixel_stride > 0:
        return int(cfg.pixel_stride)
    return max(1, int(math.ceil(math.sqrt(shape[0] * shape[1] / max(1, cfg.max_pixels)))))


def segments_from_observation(obs: Observation, cfg: SpatialConfig) -> list[Segment]:
    ids_full = obs.instance_ids
    if ids_full is None or not obs.instances:
        return []
    s = pixel_stride(obs.shape, cfg)
    ids = ids_full[::s, ::s]
    depth = obs.depth[::s, ::s]
    with np.errstate(invalid="ignore"):
        valid = (ids > 0) & (depth > 0) & (depth < cfg.max_depth)  # NaN compares False
    vv, uu = np.nonzero(valid)
    if len(vv) == 0:
        return []
    z = depth[vv, uu]
    inst = ids[vv, uu].astype(np.int64)
    pts = obs.pose.transform_points(backproject(uu * s, vv * s, z, obs.intrinsics))
    cols = obs.rgb[::s, ::s][vv, uu].astype(np.float32) / 255.0 if obs.rgb is not None else None

    order = np.argsort(inst, kind="stable")
    inst_sorted = inst[order]
    uniq, starts, counts = np.unique(inst_sorted, return_index=True, return_counts=True)
    segments: list[Segment] = []
    for iid, start, count in zip(uniq.tolist(), starts.tolist(), counts.tolist(), strict=True):
        info = obs.instances.get(int(iid))
        if info is None:  # validated in Observation; defensive
            continue
        sel = order[start : start + count]
        p = pts[sel]
        c = cols[sel] if cols is not None else None
        # Drop depth-edge bleeding (mask pixels that hit the background): depth far from the segment's median.
        zs = z[sel]
        zmed = float(np.median(zs))
        mad = float(np.median(np.abs(zs - zmed)))
        keep = np.abs(zs - zmed) <= 3.0 * mad + 4 * cfg.voxel_size
        if not keep.all():
            p = p[keep]
            c = c[keep] if c is not None else None
        vox, vcol = voxel_downsample(p, cfg.voxel_size, c)
        if len(vox) < cfg.min_points:
            continue
        colour = vcol.mean(axis=0).astype(np.float32) if vcol is not None else None
        segments.append(
            Segment(
                instance_id=int(iid),
                label=info.label,
                score=info.score,
                points=vox,
                centroid=vox.mean(axis=0).astype(np.float64),
                bbox_min=vox.min(axis=0).astype(np.float64),
                bbox_max=vox.max(axis=0).astype(np.float64),
                pixel_count=int(count) * s * s,
                colour=colour,
                embedding=info.embedding,
            )
        )
    return segments
