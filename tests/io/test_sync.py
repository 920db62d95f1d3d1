from __future__ import annotations

import random

import pytest

from robomem.io.sync import ApproximateTimeSynchronizer, SyncedSet, synchronize


def test_two_streams_pair_within_slop() -> None:
    sync: ApproximateTimeSynchronizer[str] = ApproximateTimeSynchronizer(2, queue_size=10, slop=0.02)
    assert sync.add(0, 1.000, "d1") == []
    out = sync.add(1, 1.010, "c1")
    assert len(out) == 1
    assert out[0].payloads == ("d1", "c1")
    assert out[0].stamps == (1.000, 1.010)
    assert out[0].stamp == 1.000
    assert out[0].spread == pytest.approx(0.010)
    assert sync.pending() == [0, 0]


def test_outside_slop_does_not_match() -> None:
    sync: ApproximateTimeSynchronizer[str] = ApproximateTimeSynchronizer(2, slop=0.01)
    sync.add(0, 1.0, "a")
    assert sync.add(1, 1.05, "b") == []
    assert sync.pending() == [1, 1]


def test_picks_closest_and_drops_older() -> None:
    sync: ApproximateTimeSynchronizer[str] = ApproximateTimeSynchronizer(2, slop=0.05)
    sync.add(0, 1.00, "d0")
    sync.add(0, 1.03, "d1")  # no partner yet
    out = sync.add(1, 1.031, "c")
    assert [s.payloads for s in out] == [("d1", "c")]
    # d0 is older than the emitted d1 and can never be matched: dropped
    assert sync.pending() == [0, 0]
    assert sync.dropped == 1
    # a late entry older than the last emitted one on its stream is dropped too
    assert sync.add(0, 1.02, "late") == []
    assert sync.dropped == 2


def test_three_streams_all_within_slop() -> None:
    sync: ApproximateTimeSynchronizer[str] = ApproximateTimeSynchronizer(3, slop=0.03, names=["depth", "rgb", "labels"])
    assert sync.add("depth", 2.00, "D") == []
    assert sync.add("rgb", 2.02, "C") == []
    # 1.99 is within slop of 2.00 but 2.02 - 1.99 = 0.03 ok; choose smallest spread
    out = sync.add("labels", 2.01, "L")
    assert len(out) == 1
    assert out[0].payloads == ("D", "C", "L")
    assert out[0].spread <= 0.03 + 1e-12


def test_set_spread_never_exceeds_slop() -> None:
    # 0 at 0.00, 1 at 0.04, 2 at 0.08: each pair within 0.05 of its neighbour, but not all three
    sync: ApproximateTimeSynchronizer[int] = ApproximateTimeSynchronizer(3, slop=0.05)
    sync.add(0, 0.00, 0)
    sync.add(1, 0.04, 1)
    assert sync.add(2, 0.08, 2) == []


def test_queue_overflow_drops_oldest() -> None:
    sync: ApproximateTimeSynchronizer[int] = ApproximateTimeSynchronizer(2, queue_size=3, slop=0.001)
    for k in range(5):
        sync.add(0, float(k), k)
    assert sync.pending() == [3, 0]
    assert sync.dropped == 2
    assert sync.add(1, 0.0, -1) == []  # its partner was evicted
    out = sync.add(1, 4.0, 99)
    assert out[0].payloads == (4, 99)


def test_callbacks_and_reset() -> None:
    got: list[SyncedSet[str]] = []
    sync: ApproximateTimeSynchronizer[str] = ApproximateTimeSynchronizer(2, slop=0.1)
    sync.register_callback(got.append)
    sync.add(0, 5.0, "a")
    sync.add(1, 5.0, "b")
    assert len(got) == 1 and sync.emitted == 1
    sync.reset()
    # after a reset (bag loop) earlier stamps are accepted again
    sync.add(0, 1.0, "a")
    assert [s.payloads for s in sync.add(1, 1.0, "b")] == [("a", "b")]


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="n_streams"):
        ApproximateTimeSynchronizer(0)
    with pytest.raises(ValueError, match="queue_size"):
        ApproximateTimeSynchronizer(2, queue_size=0)
    with pytest.raises(ValueError, match="slop"):
        ApproximateTimeSynchronizer(2, slop=-1)
    with pytest.raises(ValueError, match="names"):
        ApproximateTimeSynchronizer(2, names=["a"])
    sync: ApproximateTimeSynchronizer[int] = ApproximateTimeSynchronizer(2, names=["a", "b"])
    with pytest.raises(KeyError, match="unknown stream"):
        sync.add("c", 0.0, 1)
    with pytest.raises(IndexError):
        sync.add(2, 0.0, 1)
    with pytest.raises(ValueError, match="finite"):
        sync.add(0, float("nan"), 1)


def test_synchronize_offline_with_jitter_pairs_every_frame() -> None:
    rng = random.Random(0)
    depth = [(k / 30.0, ("d", k)) for k in range(300)]
    rgb = [(k / 30.0 + rng.uniform(-0.004, 0.004), ("c", k)) for k in range(300)]
    rgb.sort()
    sets = list(synchronize([depth, rgb], slop=0.01))
    assert len(sets) == 300
    for s in sets:
        assert s.payloads[0][1] == s.payloads[1][1]
        assert s.spread <= 0.01


def test_invariants_random_streams() -> None:
    rng = random.Random(1)
    for _ in range(20):
        n = rng.randint(2, 4)
        slop = rng.uniform(0.005, 0.05)
        sync: ApproximateTimeSynchronizer[tuple[int, float]] = ApproximateTimeSynchronizer(
            n, queue_size=rng.randint(1, 8), slop=slop
        )
        used: set[tuple[int, float]] = set()
        last = [-1.0] * n
        t = 0.0
        for _ in range(300):
            t += rng.uniform(0.0, 0.02)
            j = rng.randrange(n)
            for s in sync.add(j, t, (j, t)):
                assert s.spread <= slop + 1e-12
                for k, (p, st) in enumerate(zip(s.payloads, s.stamps, strict=True)):
                    assert p[0] == k and p[1] == st
                    assert p not in used
                    used.add(p)
                    assert st > last[k]
                    last[k] = st
