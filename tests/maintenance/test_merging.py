"""Merging duplicates: the overlap rule and the "was this spot looked at before?" test, directly."""

from __future__ import annotations

import numpy as np
import pytest

from robomem.config import BudgetConfig
from robomem.maintenance.merging import Merge, MoveSearch, overlap_duplicate, place_seen_before
from robomem.store.database import Store
from robomem.store.frames import SCHEMA, FrameLog
from robomem.submodules.base import ForgetLimits
from robomem.testing.synthetic import look_at


def test_overlap_duplicate_keeps_the_older_id():
    assert overlap_duplicate(9, [(4, 0.7)], frozenset({9}), 0.6) == Merge(4, 9, "overlap")
    assert overlap_duplicate(4, [(9, 0.7)], frozenset({4}), 0.6) == Merge(4, 9, "overlap")


def test_overlap_below_the_threshold_or_seen_in_the_same_frame_is_two_objects():
    assert overlap_duplicate(9, [(4, 0.59)], frozenset({9}), 0.6) is None
    assert overlap_duplicate(9, [(4, 0.9)], frozenset({9, 4}), 0.6) is None  # a stack of plates
    assert overlap_duplicate(9, [(4, 0.9), (5, 0.8)], frozenset({9, 4}), 0.6) == Merge(5, 9, "overlap")


@pytest.fixture
def frames(tmp_path):
    store = Store(tmp_path / "s", SCHEMA)
    log = FrameLog(store)
    pose = look_at((0.0, 0.0, 1.5), (2.0, 0.0, 0.5))  # at t=5, looking along +x
    with store.transaction() as conn:
        conn.execute(*log.insert(1, 5.0, "robot", None, pose.position, pose.quat_xyzw(), None, 0))
    yield log
    store.close()


def test_place_seen_before_needs_a_camera_pointed_at_it_earlier(frames):
    ahead = np.array([2.0, 0.0, 0.5])
    assert place_seen_before(frames, ahead, before=6.0)
    assert not place_seen_before(frames, ahead, before=5.0)  # only frames strictly before
    assert not place_seen_before(frames, np.array([-2.0, 0.0, 0.5]), before=6.0)  # behind the camera
    assert not place_seen_before(frames, np.array([2.0, 3.0, 0.5]), before=6.0)  # outside the view cone
    assert not place_seen_before(frames, np.array([9.0, 0.0, 0.5]), before=6.0)  # out of range


def test_frame_log_forget_thins_old_frames_and_keeps_the_newest(tmp_path):
    store = Store(tmp_path / "f", SCHEMA)
    log = FrameLog(store)
    pose = look_at((0.0, 0.0, 1.5), (2.0, 0.0, 0.5))
    with store.transaction() as conn:
        for i in range(1, 41):
            conn.execute(*log.insert(i, float(i), "robot", None, pose.position, pose.quat_xyzw(), None, 0))
    statements, report = log.forget(max_rows=20, now=40.0, keep_recent_s=5.0, target_fraction=0.8)
    with store.transaction() as conn:
        for s in statements:
            conn.execute(*s)
    assert report["frames_dropped"] == 24 and log.count() == 16
    kept = [r[0] for r in log.trajectory()]
    assert kept[-6:] == [35.0, 36.0, 37.0, 38.0, 39.0, 40.0]  # the recent ones all stay
    store.close()


def test_forget_limits_refuse_nonsense_and_scale_row_limits():
    lim = ForgetLimits(BudgetConfig(), 0.5, 10.0, 0.8)
    assert lim.limit(1000) == 500
    with pytest.raises(ValueError, match="ForgetLimits.scale"):
        ForgetLimits(BudgetConfig(), 0.0, 10.0, 0.8)
    with pytest.raises(ValueError, match="ForgetLimits.target_fraction"):
        ForgetLimits(BudgetConfig(), 1.0, 10.0, 1.5)
    with pytest.raises(ValueError, match="ForgetLimits.keep_recent_s"):
        ForgetLimits(BudgetConfig(), 1.0, -1.0, 0.8)


def test_move_search_answers_as_place_seen_before_for_every_point_at_once(frames):
    """The pose grid gives place_seen_before's answer (range, cone, strictly earlier frames) for many points
    in one call, with the frame log read once; frames noted afterwards count from then on."""
    rng = np.random.default_rng(3)
    pts = np.column_stack([rng.uniform(-2, 6, 400), rng.uniform(-3, 3, 400), rng.uniform(0, 1.5, 400)])
    times = rng.uniform(4.0, 12.0, 400)
    search = MoveSearch()
    got = search.seen_before(frames, pts, times)
    want = np.array([place_seen_before(frames, p, t) for p, t in zip(pts, times, strict=True)])
    assert want.sum() >= 20 and (~want).sum() >= 20  # both answers occur
    assert np.array_equal(got, want) and search.reads == 1
    pose = look_at((4.0, 0.0, 1.5), (4.0, 4.0, 0.5))  # a second frame at t=8, looking along +y
    with frames.store.transaction() as conn:
        conn.execute(*frames.insert(2, 8.0, "robot", None, pose.position, pose.quat_xyzw(), None, 0))
    search.note_frame(8.0, pose.position, pose.quat_xyzw())
    got = search.seen_before(frames, pts, times)
    want = np.array([place_seen_before(frames, p, t) for p, t in zip(pts, times, strict=True)])
    assert np.array_equal(got, want) and search.reads == 1


def test_kept_answers_equal_fresh_ones_and_a_frame_from_the_past_forgets_them(frames):
    """seen_before_kept answers as seen_before over frames noted in time order (each object decided once,
    again when its centroid or first sighting changes), and after a frame older than the newest."""
    rng = np.random.default_rng(8)
    n = 300
    ids = np.arange(1, n + 1)
    pts = np.column_stack([rng.uniform(-2, 6, n), rng.uniform(-3, 3, n), rng.uniform(0, 1.5, n)])
    first = rng.uniform(3.0, 7.0, n)  # some before the log's frame at t=5: no geometry for those
    pts[10], first[10] = (30.0, 30.0, 0.5), 6.0  # never looked at: no
    pts[20], first[20] = (2.0, 0.0, 0.5), 6.0  # ahead of the log's frame: yes
    search, fresh = MoveSearch(), MoveSearch()
    t = 7.0
    for step in range(6):
        t += 0.1
        pose = look_at((rng.uniform(0, 4), rng.uniform(-2, 2), 1.4), (rng.uniform(0, 4), rng.uniform(-2, 2), 0.5))
        for s in (search, fresh):
            s.note_frame(t, pose.position, pose.quat_xyzw())
        if step == 3:  # one object moved to a spot looked at before, one was first seen earlier than we thought
            pts[10] = (2.0, 0.1, 0.5)
            first[20] = 4.9
        part = rng.random(n) < 0.7  # each absence asks about some of the label's objects
        part[[10, 20]] = True
        got = search.seen_before_kept(frames, "mug", ids[part], pts[part], first[part])
        assert np.array_equal(got, fresh.seen_before(frames, pts[part], first[part])), step
    assert 0 < search.decided <= int((first > 5.0).sum()) + 2  # once each, the two changed ones again
    # a lagging robot's frame at t=6 looking at a spot first seen at 6.5: the kept "no" would be wrong now
    spot, at = np.array([[1.0, 8.0, 0.5]]), np.array([6.5])
    assert not search.seen_before_kept(frames, "mug", np.array([999]), spot, at)[0]
    pose = look_at((1.0, 6.0, 1.4), (1.0, 8.0, 0.5))
    with frames.store.transaction() as conn:
        conn.execute(*frames.insert(9, 6.0, "robot2", None, pose.position, pose.quat_xyzw(), None, 0))
    search.note_frame(6.0, pose.position, pose.quat_xyzw())
    assert search.seen_before_kept(frames, "mug", np.array([999]), spot, at)[0]
    assert place_seen_before(frames, spot[0], 6.5)


def test_move_search_holds_views_not_frames_on_a_repeated_patrol(frames):
    """A robot on its beat passes the same spots looking the same way: the pose grid keeps one row per view
    (with its earliest stamp), so it stops growing once the beat is covered, and answers as before."""
    loop = [look_at((3.0 * np.cos(a), 2.0 * np.sin(a), 1.3), (0.0, 0.0, 0.5)) for a in np.linspace(0, 6.2, 40)]
    search = MoveSearch()
    pts = np.array([[0.0, 0.0, 0.5], [2.5, 0.0, 0.6], [-0.5, 0.0, 0.5]])
    search.seen_before(frames, pts, np.full(3, 10.0))  # reads the log (one frame at t=5)
    sizes, t = [], 10.0
    for _lap in range(5):
        for pose in loop:
            t += 0.1
            search.note_frame(t, pose.position, pose.quat_xyzw())
        sizes.append(search.views())
    assert sizes[0] == 41 and sizes[-1] == sizes[0]  # the log's frame + the 40 views of one lap
    # a spot first seen during the first lap was looked at before t=10.2 only by the log's frame
    assert search.seen_before(frames, pts, np.full(3, 10.05)).tolist() == [False, True, False]
    assert search.seen_before(frames, pts, np.full(3, 100.0)).tolist() == [True, True, True]


def test_two_absent_mugs_share_their_candidates_view_history(tmp_path, embedder):
    """Two red mugs gone from the table, a third first seen on a spot never looked at before: not the
    same object (no merge), and the frame log is read once for both searches."""
    from robomem import Memory
    from robomem.testing.synthetic import Box, BoxScene, demo_boxes

    boxes = [*demo_boxes(), Box(9, "red mug", (1.9, 0.45, 0.80), (0.1, 0.1, 0.1), (220, 30, 30))]
    scene = BoxScene(boxes)
    table_view = look_at((0.3, 0.2, 1.4), (1.8, 0.1, 0.8))
    with Memory.open(tmp_path / "m", embedder=embedder) as mem:
        for i, eye in enumerate([(0.0, 0.0, 1.5), (0.2, -0.5, 1.5), (0.3, 0.5, 1.4)]):
            mem.update(scene.observe(look_at(eye, (2.0, 0.0, 0.7)), float(i)))
        mugs = sorted(o.object_id for o in mem.objects() if o.label == "red mug")
        assert len(mugs) == 2
        far = Box(2, "red mug", (30.0, 20.0, 0.05), (0.1, 0.1, 0.1), (220, 30, 30))  # a spot never looked at
        scene.boxes = [b for b in scene.boxes if b.label != "red mug"] + [far]
        for k in range(2):  # two frames: the far mug is believed, first seen at t=100
            mem.update(scene.observe(look_at((29.0, 20.0, 1.2), (30.0, 20.0, 0.05)), 100.0 + k))
        assert len([o for o in mem.objects() if o.label == "red mug"]) == 3
        gone: set[int] = set()
        for k in range(3):
            r = mem.update(scene.observe(table_view, 200.0 + k))
            assert not r.merged
            gone |= set(r.absences)
        assert set(mugs) <= gone
        assert mem._moves.reads == 1  # the frame log is read once, not per absent mug or per candidate
