"""``xy_overlap_pairs``: the sweep finds exactly the ordered pairs a test of every box against every other finds
(touching edges, equal starts, boxes inside boxes, many overlaps); the relations pass builds on it."""

from __future__ import annotations

import numpy as np
import pytest

from robomem.submodules.spatial.scene_graph import xy_overlap_pairs


def brute(mins: np.ndarray, maxs: np.ndarray) -> set[tuple[int, int]]:
    n = len(mins)
    return {
        (i, j)
        for i in range(n)
        for j in range(n)
        if i != j and (mins[j, :2] <= maxs[i, :2]).all() and (maxs[j, :2] >= mins[i, :2]).all()
    }


@pytest.mark.parametrize("seed", range(6))
def test_sweep_pairs_equal_all_against_all(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(0, 300))
    lo = np.round(rng.uniform(0, 10, (n, 3)), 1)  # coarse: equal starts and touching edges happen
    size = np.round(rng.exponential(0.6 if seed % 2 else 3.0, (n, 3)), 1)
    hi = lo + size
    a, b = xy_overlap_pairs(lo, hi)
    got = list(zip(a.tolist(), b.tolist(), strict=True))
    assert len(got) == len(set(got))
    assert set(got) == brute(lo, hi)
