"""window_min_depth (a gather from the frame's min-filtered depth image) == the per-pixel window scan."""

from __future__ import annotations

import numpy as np

from robomem.ingest.visibility import window_min_depth


def _scan(depth: np.ndarray, ui: np.ndarray, vi: np.ndarray, r: int) -> np.ndarray:
    """The definition: nearest valid depth in the (2r+1)^2 window clipped at the border, NaN where none."""
    h, w = depth.shape
    out = np.full(len(ui), np.nan)
    for j, (u, v) in enumerate(zip(ui.tolist(), vi.tolist(), strict=True)):
        win = depth[max(0, v - r) : min(h, v + r + 1), max(0, u - r) : min(w, u + r + 1)].astype(np.float64)
        ok = win[np.isfinite(win) & (win > 0)]
        if len(ok):
            out[j] = ok.min()
    return out


def test_window_min_depth_equals_the_window_scan():
    rng = np.random.default_rng(3)
    for trial in range(30):
        h, w = int(rng.integers(3, 120)), int(rng.integers(3, 160))
        depth = rng.uniform(0.2, 6.0, (h, w)).astype(np.float32)
        m = rng.random((h, w))
        depth[m < 0.25] = np.nan
        depth[m > 0.9] = 0.0
        depth[(m > 0.85) & (m <= 0.9)] = np.inf
        if trial % 7 == 0:
            depth[: h // 2] = np.nan  # whole windows without a valid depth
        r = int(rng.integers(0, 10))
        ui, vi = rng.integers(0, w, 300), rng.integers(0, h, 300)
        got = window_min_depth(depth, ui, vi, r)
        assert np.array_equal(got, _scan(depth, ui, vi, r), equal_nan=True), (trial, h, w, r)
        # a second frame with the same shape (the result is cached per depth array): its own answer
        other = depth.copy()
        other[np.isfinite(other)] += 1.0
        assert np.array_equal(window_min_depth(other, ui, vi, r), _scan(other, ui, vi, r), equal_nan=True)
