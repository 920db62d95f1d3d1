"""associate(): which remembered object is each segment? Pure function over segments and object views."""

from __future__ import annotations

import numpy as np

from robomem.config import SpatialConfig
from robomem.ingest.association import ObjectView, associate, coarse_keys, overlap_fraction
from robomem.ingest.perception import Segment

CFG = SpatialConfig()


def cube(centre, size=0.2, step=0.02) -> np.ndarray:
    axis = np.arange(-size / 2, size / 2 + 1e-9, step)
    g = np.stack(np.meshgrid(axis, axis, axis, indexing="ij"), axis=-1).reshape(-1, 3)
    return (g + np.asarray(centre)).astype(np.float32)


def segment(label: str, centre, colour=(0.8, 0.1, 0.1), instance_id: int = 1) -> Segment:
    pts = cube(centre)
    return Segment(
        instance_id=instance_id,
        label=label,
        score=1.0,
        points=pts,
        centroid=pts.mean(axis=0).astype(np.float64),
        bbox_min=pts.min(axis=0).astype(np.float64),
        bbox_max=pts.max(axis=0).astype(np.float64),
        pixel_count=400,
        colour=np.asarray(colour, dtype=np.float32),
        embedding=None,
    )


def view(object_id: int, label: str, centre, colour=(0.8, 0.1, 0.1), absent: bool = False) -> ObjectView:
    pts = cube(centre)
    return ObjectView(
        object_id,
        label,
        {label: 1.0},
        coarse_keys(pts, CFG),
        pts.min(axis=0).astype(np.float64),
        pts.max(axis=0).astype(np.float64),
        np.asarray(colour, dtype=np.float32),
        None,
        absent,
    )


def same_or_nothing(a: str, b: str) -> float:
    return 1.0 if a == b else 0.0


def run(segments, objects):
    mins = np.array([o.bbox_min for o in objects], dtype=np.float64).reshape(-1, 3)
    maxs = np.array([o.bbox_max for o in objects], dtype=np.float64).reshape(-1, 3)
    return associate(segments, objects, mins, maxs, same_or_nothing, CFG)


def test_overlapping_segment_of_the_same_label_matches_its_object():
    objs = [view(10, "mug", (0, 0, 0)), view(11, "mug", (2, 0, 0))]
    (m,) = run([segment("mug", (2.01, 0, 0))], objs)
    assert (m.segment_index, m.object_id, m.reidentified) == (0, 11, False)
    assert m.score >= CFG.match_threshold


def test_a_different_label_in_the_same_place_is_a_new_object():
    (m,) = run([segment("book", (0, 0, 0))], [view(10, "mug", (0, 0, 0))])
    assert m.object_id is None and not m.reidentified


def test_two_segments_never_share_one_object_best_pair_first():
    objs = [view(10, "mug", (0, 0, 0))]
    far, near = segment("mug", (0.09, 0, 0), instance_id=1), segment("mug", (0.0, 0, 0), instance_id=2)
    m_far, m_near = run([far, near], objs)
    assert m_near.object_id == 10 and m_far.object_id is None


def test_unmatched_segment_is_reidentified_with_an_absent_object_of_the_same_colour():
    objs = [view(10, "mug", (0, 0, 0), absent=True), view(11, "mug", (5, 0, 0), colour=(0.1, 0.1, 0.9), absent=True)]
    (m,) = run([segment("mug", (3, 3, 0))], objs)
    assert m.object_id == 10 and m.reidentified
    (m2,) = run([segment("mug", (3, 3, 0), colour=(0.1, 0.9, 0.1))], objs[:1])
    assert m2.object_id is None  # colours disagree: a different mug


def test_no_objects_yet_every_segment_is_new():
    assert [m.object_id for m in run([segment("mug", (0, 0, 0)), segment("cup", (1, 0, 0))], [])] == [None, None]


def test_overlap_fraction_is_the_share_of_the_first_keys_found_in_the_second():
    a = np.array([1, 2, 3, 4], dtype=np.int64)
    assert overlap_fraction(a, np.array([2, 4, 9], dtype=np.int64)) == 0.5
    assert overlap_fraction(a, np.zeros(0, dtype=np.int64)) == 0.0
