"""Where a frame enters: one Observation -> per-instance 3D segments in the world frame.

This is the "preprocess once" step of ``Memory.update``: the instance image's
masked depth is back-projected, moved to the world frame with the camera pose,
voxel-downsampled, and summarised (centroid, bounding box, colour signature).
Everything downstream works on these segments, never on pixels.

Sampling is per instance.  The frame is first sampled on a coarse grid
(``pixel_stride``: at most ``max_pixels`` pixels per frame); an instance whose
mask got fewer than ``min_instance_samples`` coarse samples is re-sampled
densely inside its own image window (down to every pixel), so a small or
sliver-shaped object still yields its surface.  The entry threshold follows
what the mask can support: a segment needs ``min_points`` voxels, or, when its
surface (the sampled pixels' footprint at their depth) covers fewer voxels
than that, ``SUPPORT_FRACTION`` of the voxels it covers, and always at least
``min_mask_pixels`` mask pixels with valid depth.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from robomem.config import SpatialConfig
from robomem.ingest.geometry import backproject, voxel_downsample
from robomem.observation import Observation

# Share of the voxels a mask's surface covers (area / voxel^2) that its points must fill to enter.
# Measured on the synthetic box scene (tests/ingest/test_perception.py::test_support_fraction_is_measured):
# a segment's voxel count is at least 1.4x its face-on area in voxels (median ~2.2x) for 3-20 cm boxes
# at 0.5-4 m and three bearings, so half the area admits every real small object with a 2.9x margin
# for thinner, more oblique or noisier surfaces.
SUPPORT_FRACTION = 0.5


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
    pixel_count: int  # mask pixels (full resolution, estimated from the sampling stride)
    colour: np.ndarray | None  # (3,) mean RGB in [0, 1]
    embedding: np.ndarray | None  # detector's embedding, if it gave one


def pixel_stride(shape: tuple[int, int], cfg: SpatialConfig) -> int:
    """The configured stride, or (0 = auto) the smallest one sampling at most ``max_pixels`` pixels."""
    if cfg.pixel_stride > 0:
        return int(cfg.pixel_stride)
    return max(1, int(math.ceil(math.sqrt(shape[0] * shape[1] / max(1, cfg.max_pixels)))))


def dense_stride(coarse_samples: int, stride: int, min_samples: int) -> int:
    """Stride for re-sampling an instance that got ``coarse_samples`` pixels at ``stride``:
    the largest one (at most ``stride``) still giving about ``min_samples`` pixels, 1 at least."""
    est_pixels = coarse_samples * stride * stride
    return max(1, min(stride, int(math.floor(math.sqrt(est_pixels / max(1, min_samples))))))


def entry_threshold(z: np.ndarray, stride: int, obs: Observation, cfg: SpatialConfig) -> int:
    """Voxels a segment needs: ``min_points``, or fewer when its surface cannot hold that many."""
    k = obs.intrinsics
    area = float(np.sum((z.astype(np.float64) * stride) ** 2)) / (k.fx * k.fy)  # m^2 seen face-on
    supported = area / (cfg.voxel_size * cfg.voxel_size)
    return max(1, min(cfg.min_points, int(math.ceil(SUPPORT_FRACTION * supported))))


@dataclass(frozen=True)
class _Samples:
    """One instance's sampled pixels: image coordinates, depth, colour, and the stride used."""

    u: np.ndarray
    v: np.ndarray
    z: np.ndarray
    rgb: np.ndarray | None
    stride: int


def _valid(ids: np.ndarray, depth: np.ndarray, cfg: SpatialConfig) -> np.ndarray:
    with np.errstate(invalid="ignore"):
        return (ids > 0) & (depth > 0) & (depth < cfg.max_depth)  # NaN compares False


def _dense_samples(obs: Observation, iid: int, u: np.ndarray, v: np.ndarray, s: int, ds: int, cfg: SpatialConfig):
    """Re-sample instance ``iid`` at stride ``ds`` inside the window around its coarse samples (u, v)."""
    ids_full = obs.instance_ids
    assert ids_full is not None
    h, w = ids_full.shape
    v0, v1 = max(0, int(v.min()) - s + 1), min(h, int(v.max()) + s)
    u0, u1 = max(0, int(u.min()) - s + 1), min(w, int(u.max()) + s)
    win_ids = ids_full[v0:v1:ds, u0:u1:ds]
    win_depth = obs.depth[v0:v1:ds, u0:u1:ds]
    vv, uu = np.nonzero((win_ids == iid) & _valid(win_ids, win_depth, cfg))
    rgb = obs.rgb[v0:v1:ds, u0:u1:ds][vv, uu] if obs.rgb is not None else None
    return _Samples(uu * ds + u0, vv * ds + v0, win_depth[vv, uu], rgb, ds)


def _instance_samples(obs: Observation, cfg: SpatialConfig) -> dict[int, _Samples]:
    """Coarse grid samples per instance, densified for instances the coarse grid barely hits."""
    ids_full = obs.instance_ids
    assert ids_full is not None
    s = pixel_stride(obs.shape, cfg)
    ids = ids_full[::s, ::s]
    depth = obs.depth[::s, ::s]
    # Instance pixels, with or without depth: a mask whose coarse samples all lack depth may still have some.
    vv, uu = np.nonzero(ids > 0)
    inst = ids[vv, uu].astype(np.int64)
    ok = _valid(ids[vv, uu], depth[vv, uu], cfg)
    rgb = obs.rgb[::s, ::s][vv, uu] if obs.rgb is not None else None
    order = np.argsort(inst, kind="stable")
    uniq, starts, counts = np.unique(inst[order], return_index=True, return_counts=True)
    out: dict[int, _Samples] = {}
    for iid, start, count in zip(uniq.tolist(), starts.tolist(), counts.tolist(), strict=True):
        if int(iid) not in obs.instances:  # validated in Observation; defensive
            continue
        sel = order[start : start + count]
        if s > 1 and count < cfg.min_instance_samples:
            ds = dense_stride(count, s, cfg.min_instance_samples)
            if ds < s:
                out[int(iid)] = _dense_samples(obs, int(iid), uu[sel] * s, vv[sel] * s, s, ds, cfg)
                continue
        sel = sel[ok[sel]]
        out[int(iid)] = _Samples(
            uu[sel] * s, vv[sel] * s, depth[vv[sel], uu[sel]], None if rgb is None else rgb[sel], s
        )
    missed = [i for i in obs.instances if i not in out] if s > 1 else []
    if missed:  # labelled instances the coarse grid never hit (tiny, or a thin line between grid rows)
        fv, fu = np.nonzero(np.isin(ids_full, missed))
        for iid in missed:
            here = ids_full[fv, fu] == iid
            if here.any():
                out[iid] = _dense_samples(obs, iid, fu[here], fv[here], 1, 1, cfg)
    return dict(sorted(out.items()))


def segments_from_observation(obs: Observation, cfg: SpatialConfig) -> list[Segment]:
    if obs.instance_ids is None or not obs.instances:
        return []
    samples = {
        iid: smp
        for iid, smp in _instance_samples(obs, cfg).items()
        if len(smp.z) > 0 and len(smp.z) * smp.stride * smp.stride >= cfg.min_mask_pixels
    }
    if not samples:
        return []
    # One back-projection and one world transform for all instances, split afterwards.
    parts = list(samples.values())
    cat = [np.concatenate([getattr(smp, f) for smp in parts]) for f in ("u", "v", "z")]
    pts_all = obs.pose.transform_points(backproject(cat[0], cat[1], cat[2], obs.intrinsics))
    bounds = np.cumsum([0] + [len(smp.z) for smp in parts]).tolist()
    segments: list[Segment] = []
    for i, (iid, smp) in enumerate(samples.items()):
        info = obs.instances[iid]
        z = smp.z
        p = pts_all[bounds[i] : bounds[i + 1]]
        c = smp.rgb.astype(np.float32) / 255.0 if smp.rgb is not None else None
        # Drop depth-edge bleeding (mask pixels that hit the background): depth far from the segment's median.
        zmed = float(np.median(z))
        mad = float(np.median(np.abs(z - zmed)))
        keep = np.abs(z - zmed) <= 3.0 * mad + 4 * cfg.voxel_size
        if not keep.all():
            p, z = p[keep], z[keep]
            c = c[keep] if c is not None else None
        vox, vcol = voxel_downsample(p, cfg.voxel_size, c)
        if len(vox) < entry_threshold(z, smp.stride, obs, cfg):
            continue
        colour = vcol.mean(axis=0).astype(np.float32) if vcol is not None else None
        segments.append(
            Segment(
                instance_id=iid,
                label=info.label,
                score=info.score,
                points=vox,
                centroid=vox.mean(axis=0, dtype=np.float64),
                bbox_min=vox.min(axis=0).astype(np.float64),
                bbox_max=vox.max(axis=0).astype(np.float64),
                pixel_count=len(smp.z) * smp.stride * smp.stride,
                colour=colour,
                embedding=info.embedding,
            )
        )
    return segments
