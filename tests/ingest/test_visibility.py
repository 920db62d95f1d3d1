"""visible_fraction(): is a remembered object's place in view and seen *through* (gone), or still occupied?"""

from __future__ import annotations

import numpy as np

from robomem.config import MemoryConfig
from robomem.ingest.visibility import frustum_candidates, frustum_floor_box, projected_size_px, visible_fraction
from robomem.testing.synthetic import Box, BoxScene, look_at

CFG = MemoryConfig()
EYE, TARGET = (0.0, 0.0, 1.2), (2.0, 0.0, 0.5)
MUG = Box(1, "mug", (2.0, 0.0, 0.5), (0.2, 0.2, 0.2), (200, 30, 30))
WALL = Box(2, "cabinet", (1.0, 0.0, 0.6), (0.1, 1.5, 1.2), (100, 100, 100))


def sample(box: Box, n: int = 64) -> np.ndarray:
    rng = np.random.default_rng(0)
    return (box.lo + rng.random((n, 3)) * (box.hi - box.lo)).astype(np.float32)


def frac(boxes: list[Box], points: np.ndarray, label: str | None = None) -> tuple[int, float]:
    obs = BoxScene(boxes).observe(look_at(EYE, TARGET), 1.0)
    return visible_fraction(points, obs, CFG.temporal, CFG.spatial.max_depth, label)


def test_an_object_still_there_is_not_seen_through():
    n_in, f = frac([MUG], sample(MUG))
    assert n_in == 64 and f < 0.2


def test_a_removed_object_is_seen_through():
    n_in, f = frac([], sample(MUG))
    assert n_in == 64 and f > 0.9


def test_an_occluder_in_front_is_not_evidence_of_absence():
    n_in, f = frac([WALL], sample(MUG))
    assert n_in == 64 and f == 0.0


def test_points_behind_the_camera_do_not_count():
    behind = sample(Box(9, "mug", (-2.0, 0.0, 0.5), (0.2, 0.2, 0.2)))
    assert frac([], behind) == (0, 0.0)


def test_an_instance_of_the_same_label_there_is_not_seen_through():
    moved = Box(1, "mug", (2.6, 0.0, 0.5), (0.2, 0.2, 0.2))  # behind where it was, the same kind of thing
    _n, f_other = frac([moved], sample(MUG))
    _n, f_same = frac([moved], sample(MUG), label="mug")
    assert f_other > 0.5 and f_same < f_other


def test_projected_size_shrinks_with_distance():
    obs = BoxScene([]).observe(look_at(EYE, TARGET), 1.0)
    near = projected_size_px(0.2, np.array([1.0, 0.0, 0.85]), obs)
    far = projected_size_px(0.2, np.array([4.0, 0.0, -0.2]), obs)
    assert near > far > 0
    assert projected_size_px(0.2, np.array([-2.0, 0.0, 1.2]), obs) == 0.0


def test_another_kind_of_object_now_occupying_the_place_is_evidence_of_absence():
    bowl = Box(3, "bowl", (2.0, 0.0, 0.5), (0.24, 0.24, 0.2), (30, 30, 200))  # where the mug was
    # What memory keeps of the mug is its surface as the camera saw it: here its front face.
    rng = np.random.default_rng(0)
    lo, hi = MUG.lo, MUG.hi
    surface = np.column_stack([np.full(64, lo[0]), rng.uniform(lo[1], hi[1], 64), rng.uniform(lo[2], hi[2], 64)])
    surface = surface.astype(np.float32)
    _n, f_mug = frac([bowl], surface, label="mug")
    _n, f_unlabelled = frac([bowl], surface)
    assert f_mug >= CFG.temporal.absence_visible_fraction
    assert f_unlabelled < 0.2  # without knowing the object's label, an occupied spot is not seen through
    _n, f_same = frac([MUG], surface, label="mug")
    assert f_same < 0.2  # the mug itself still there


def test_another_kind_of_object_in_front_is_an_occluder_not_an_occupant():
    _n, f = frac([WALL], sample(MUG), label="mug")
    assert f == 0.0


def test_the_frustum_floor_box_holds_every_centroid_the_frustum_passes_and_not_what_is_behind():
    rng = np.random.default_rng(2)
    scene = BoxScene([MUG])
    for _ in range(40):
        eye = (*rng.uniform(-5, 5, 2), rng.uniform(0.3, 2.0))
        target = (*rng.uniform(-5, 5, 2), rng.uniform(0.0, 1.5))
        obs = scene.observe(look_at(eye, target), 1.0)
        pts = np.column_stack([rng.uniform(-20, 20, (20000, 2)), rng.uniform(-0.5, 2.5, 20000)]) + [*eye[:2], 0]
        lo, hi = frustum_floor_box(obs, 8.0)
        passed = pts[frustum_candidates(pts, obs, 8.0)]
        assert len(passed) > 0
        assert (passed[:, :2] >= lo).all() and (passed[:, :2] <= hi).all()
        behind = pts[(pts[:, :2] - eye[:2]) @ (np.asarray(target[:2]) - eye[:2]) < 0]  # behind the camera's heading
        inside = (behind[:, :2] >= lo).all(axis=1) & (behind[:, :2] <= hi).all(axis=1)
        assert inside.mean() < 0.9  # the box does not hold everything behind the camera (the square did)
