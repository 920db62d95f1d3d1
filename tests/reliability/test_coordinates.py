"""Large map coordinates (UTM/ENU-like offsets): the map is right, or the update is refused — never damaged.

The same scene and camera path are shifted by offsets up to 10^7 m.  Within the representable range
(store/coordinates.py) every object is found once with the centroid it has at the origin; beyond it the
first update fails with an ObservationError that says what to do, and nothing is stored.
"""

from __future__ import annotations

import numpy as np
import pytest

from robomem import Memory, MemoryConfig
from robomem.errors import ObservationError
from robomem.ingest.geometry import voxel_keys
from robomem.store.coordinates import check_coordinates, coordinate_limit
from robomem.testing.synthetic import Box, BoxScene, demo_boxes, look_at

TARGET = (2.3, -0.3, 0.7)
VIEWS = [(0.0, 0.0, 1.5), (0.2, -0.5, 1.5), (0.3, 0.5, 1.4), (1.0, -2.0, 1.6), (4.5, 1.0, 1.6)]
OFFSETS = [1e3, 2e4, 6e4, 1e5, 5e5, 4.2e6, 1e7]


def _map_at(path, embedder, offset: float) -> dict[str, list[np.ndarray]]:
    o = np.array([offset, 0.5 * offset, 0.0])
    scene = BoxScene([Box(b.instance_id, b.label, tuple(np.add(b.center, o)), b.size, b.colour) for b in demo_boxes()])
    with Memory.open(path, embedder=embedder) as mem:
        for i, eye in enumerate(VIEWS):
            mem.update(scene.observe(look_at(tuple(np.add(eye, o)), tuple(np.add(TARGET, o))), float(i)))
        out: dict[str, list[np.ndarray]] = {}
        for rec in mem.objects():
            out.setdefault(rec.label, []).append(np.asarray(rec.centroid, dtype=np.float64) - o)
        return out


def test_offsets_up_to_1e7_m_are_mapped_exactly_or_refused(tmp_path, embedder):
    base = _map_at(tmp_path / "origin", embedder, 0.0)
    assert sorted(base) == sorted(b.label for b in demo_boxes())
    limit = coordinate_limit(MemoryConfig().spatial.voxel_size)
    accepted = 0
    for offset in OFFSETS:
        path = tmp_path / f"off{offset:.0f}"
        if offset + 5.0 + MemoryConfig().spatial.max_depth <= limit:
            got = _map_at(path, embedder, offset)
            assert sorted(got) == sorted(base), f"offset {offset}: objects lost or added"
            for label, cents in got.items():
                assert len(cents) == 1, f"offset {offset}: {label} split into {len(cents)}"
                # the voxel grid falls differently on the shifted scene: a few cm, never metres
                err = float(np.linalg.norm(cents[0] - base[label][0]))
                assert err < 0.1, f"offset {offset}: {label} moved {err:.3f} m"
            accepted += 1
        else:
            with pytest.raises(ObservationError, match="local map frame"):
                _map_at(path, embedder, offset)
            with Memory.open(path, embedder=embedder, readonly=True) as ro:
                assert ro.stats()["rows"]["frames"] == 0 and ro.objects() == []
    assert accepted >= 3  # 1 km, 20 km and 60 km are mapped


def test_limit_matches_float32_spacing():
    for voxel in (0.01, 0.03, 0.05, 0.2):
        limit = coordinate_limit(voxel)
        assert np.spacing(np.float32(limit * 0.999)) <= voxel / 4
        assert np.spacing(np.float32(limit * 1.001)) > voxel / 4
    assert coordinate_limit(0.03) == 65536.0
    with pytest.raises(ValueError, match="voxel_size"):
        coordinate_limit(0.0)


def test_check_coordinates_names_the_field_and_refuses_nan():
    with pytest.raises(ObservationError, match="Observation.pose.position.*too far"):
        check_coordinates("Observation.pose.position", (5e5, 0.0, 0.0), 65536.0)
    with pytest.raises(ObservationError, match="finite"):
        check_coordinates("segment 3 bounding box", (float("nan"), 0.0, 0.0), 65536.0)
    check_coordinates("Observation.pose.position", (60000.0, -100.0, 2.0), 65536.0)


def test_voxel_keys_stay_distinct_far_from_the_origin():
    pts = np.array([[0.0, 0.0, 0.0], [0.1, 0.0, 0.0], [0.0, 0.1, 0.0], [0.0, 0.0, 0.1]])
    for offset in (0.0, 4e4, 1e5, 1e7):
        keys = voxel_keys(pts + offset, 0.03)
        assert len(np.unique(keys)) == 4, f"voxels merged at offset {offset}"
