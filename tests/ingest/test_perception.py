"""segments_from_observation(): small and sliver objects enter memory; the entry threshold follows the mask.

Real rendered frames from the synthetic box scene (robomem.testing.synthetic), 640x480 like a robot camera,
so the automatic stride is 4 and the whole frame is sampled at most ``max_pixels`` times.
"""

from __future__ import annotations

import numpy as np
import pytest

from robomem import Memory
from robomem.config import MemoryConfig, SpatialConfig
from robomem.ingest.perception import SUPPORT_FRACTION, dense_stride, pixel_stride, segments_from_observation
from robomem.testing.synthetic import Box, BoxScene, look_at

CFG = SpatialConfig()
TABLE = Box(1, "table", (0.0, 0.0, 0.375), (1.0, 0.6, 0.75), (140, 90, 40))
DOMINO = Box(2, "domino", (0.1, 0.0, 0.755), (0.05, 0.025, 0.01), (240, 240, 230))
MUG = Box(3, "mug", (0.3, 0.2, 0.80), (0.09, 0.09, 0.10), (200, 30, 30))


def scene(*boxes: Box) -> BoxScene:
    return BoxScene([TABLE, *boxes], 640, 480, hfov_deg=70)


def coarse_samples(obs, iid: int) -> int:
    """What the whole-frame stride alone gives the instance (the old sampling)."""
    s = pixel_stride(obs.shape, CFG)
    ids, depth = obs.instance_ids[::s, ::s], obs.depth[::s, ::s]
    return int(((ids == iid) & (depth > 0)).sum())


def domino_views() -> list:
    """The domino from 1.2-1.5 m at a few bearings: 60-90 px in every frame."""
    sc = scene(DOMINO)
    out = []
    for i, (d, a) in enumerate([(1.2, 0.0), (1.3, 0.2), (1.4, -0.2), (1.5, 0.2)]):
        eye = (0.1 - d * np.cos(a), d * np.sin(a), 1.3)
        out.append(sc.observe(look_at(eye, (0.1, 0.0, 0.75)), float(i)))
    return out


def test_domino_seen_at_60_to_90_px_enters_memory(tmp_path) -> None:
    views = domino_views()
    for obs in views:
        px = int((obs.instance_ids == DOMINO.instance_id).sum())
        assert 60 <= px <= 90, px
        assert coarse_samples(obs, DOMINO.instance_id) < CFG.min_points  # the whole-frame stride alone drops it
    with Memory.open(tmp_path / "store") as mem:
        for obs in views:
            mem.update(obs)
        dominoes = mem.objects("domino")
    assert len(dominoes) == 1
    d = dominoes[0]
    assert d.n_obs == len(views)
    assert np.linalg.norm(np.asarray(d.centroid) - np.asarray(DOMINO.center)) < 0.04


def test_sliver_of_a_mug_at_the_image_edge_is_a_segment() -> None:
    obs = scene(MUG).observe(look_at((-1.2, 0.2, 1.3), (0.3, -1.0, 0.75)), 0.0)
    mask = obs.instance_ids == MUG.instance_id
    _vv, uu = np.nonzero(mask)
    assert 70 <= mask.sum() <= 90 and uu.min() == 0 and uu.max() < 8  # a thin sliver at the left edge
    segs = [s for s in segments_from_observation(obs, CFG) if s.label == "mug"]
    assert len(segs) == 1
    seg = segs[0]
    assert seg.pixel_count == pytest.approx(int(mask.sum()), rel=0.1)
    # Its points are on the mug (the sliver is the mug's far-left side, so not at its centre).
    lo, hi = np.asarray(MUG.lo) - 0.03, np.asarray(MUG.hi) + 0.03
    assert np.all((seg.points >= lo) & (seg.points <= hi))


def test_tiny_mask_below_min_mask_pixels_is_ignored() -> None:
    speck = Box(4, "speck", (0.0, 0.0, 0.76), (0.015, 0.015, 0.015), (10, 10, 10))
    obs = scene(speck).observe(look_at((-2.5, 0.0, 1.6), (0.0, 0.0, 0.75)), 0.0)
    px = int((obs.instance_ids == speck.instance_id).sum())
    assert 0 < px < CFG.min_mask_pixels
    assert "speck" not in {s.label for s in segments_from_observation(obs, CFG)}
    loose = SpatialConfig(min_mask_pixels=1)
    assert "speck" in {s.label for s in segments_from_observation(obs, loose)}


def test_support_fraction_is_measured() -> None:
    """SUPPORT_FRACTION's measurement: voxels per face-on voxel area, 3-20 cm boxes, 0.5-4 m, three bearings.

    Every box whose mask has min_mask_pixels enters, and the smallest measured ratio keeps a margin
    of at least 2x over SUPPORT_FRACTION (thin, oblique or noisy surfaces fill fewer voxels)."""
    ratios = []
    for size in (0.03, 0.05, 0.1, 0.2):
        thing = Box(2, "thing", (0.0, 0.0, 0.75 + size / 2), (size, size * 0.7, size), (240, 240, 230))
        sc = scene(thing)
        for d in (0.5, 1.0, 2.0, 4.0):
            for a in (0.0, 0.6, 1.2):
                obs = sc.observe(look_at((-d * np.cos(a), d * np.sin(a), 0.75 + 0.5 * d), (0.0, 0.0, 0.75)), 0.0)
                m = (obs.instance_ids == 2) & (obs.depth > 0)
                if m.sum() < CFG.min_mask_pixels:
                    continue
                z = obs.depth[m].astype(np.float64)
                supported = float(np.sum(z * z)) / (obs.intrinsics.fx * obs.intrinsics.fy) / CFG.voxel_size**2
                segs = [s for s in segments_from_observation(obs, CFG) if s.label == "thing"]
                assert len(segs) == 1, (size, d, a)
                ratios.append(len(segs[0].points) / supported)
    assert len(ratios) >= 40
    assert min(ratios) >= 2 * SUPPORT_FRACTION


def test_large_objects_keep_the_coarse_stride() -> None:
    """Densifying is only for instances the coarse grid barely hits, so ingest cost stays bounded."""
    assert dense_stride(CFG.min_instance_samples, 4, CFG.min_instance_samples) == 4
    assert dense_stride(10, 4, CFG.min_instance_samples) == 1
    obs = scene(MUG).observe(look_at((-1.0, 0.0, 1.3), (0.0, 0.0, 0.75)), 0.0)
    coarse = SpatialConfig(min_instance_samples=1)  # never densify: the old whole-frame sampling
    a = {s.label: s for s in segments_from_observation(obs, CFG)}
    b = {s.label: s for s in segments_from_observation(obs, coarse)}
    assert a["table"].pixel_count == b["table"].pixel_count
    np.testing.assert_array_equal(a["table"].points, b["table"].points)


def test_entry_threshold_is_configurable_and_checked() -> None:
    with pytest.raises(ValueError, match="min_instance_samples"):
        MemoryConfig(spatial=SpatialConfig(min_instance_samples=0))
