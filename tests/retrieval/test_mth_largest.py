"""``mth_largest``: the m-th largest value, walked by levels for few distinct values, partitioned otherwise."""

from __future__ import annotations

import numpy as np
import pytest

from robomem.retrieval.query import mth_largest


@pytest.mark.parametrize("levels", [1, 2, 5, 9, 40, None])
def test_mth_largest_equals_a_sort(levels: int | None) -> None:
    rng = np.random.default_rng(0 if levels is None else levels)
    for _ in range(50):
        n = int(rng.integers(1, 3000))
        v = rng.uniform(0, 1, n) if levels is None else rng.choice(rng.uniform(0, 1, levels), n)
        for m in {1, n, int(rng.integers(1, n + 1))}:
            assert mth_largest(v, m) == np.sort(v)[::-1][m - 1]


def test_mth_largest_with_nan_agrees_with_the_partition() -> None:
    v = np.array([0.8, np.nan, 0.8, 1.0, 0.2])
    assert mth_largest(v, 2) == 0.8 and mth_largest(v, 4) == 0.2  # a NaN counts last, as in np.partition
