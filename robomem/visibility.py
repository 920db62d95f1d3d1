"""Observed absence: a remembered object should be visible here but is not.

For every remembered object not seen in this frame, project a sample of its
points into the camera.  If enough of them fall inside the image, and the
observed depth there is not clearly *in front* of them (nothing occludes the
spot) but *behind* them (the camera sees through where the object was), the
object's place was in view and empty: an observed absence.  Depth at or near
the remembered surface means something is still there (perhaps too small or
missed by the detector), which is not evidence of absence.
"""

from __future__ import annotations

import numpy as np

from robomem.config import TemporalConfig
from robomem.geometry import project
from robomem.observation import Observation


def visible_fraction(
    sample_points: np.ndarray, obs: Observation, cfg: TemporalConfig, max_depth: float
) -> tuple[int, float]:
    """(points projecting into the image, fraction of those the camera sees *through*)."""
    k = obs.intrinsics
    u, v, z = project(sample_points, obs.pose, k)
    m = cfg.image_margin_px
    inside = (z > 0.1) & (z < max_depth) & (u >= m) & (u < k.width - m) & (v >= m) & (v < k.height - m)
    n_in = int(inside.sum())
    if n_in == 0:
        return 0, 0.0
    ui = u[inside].astype(np.int64)
    vi = v[inside].astype(np.int64)
    d = obs.depth[vi, ui]
    with np.errstate(invalid="ignore"):
        valid = np.isfinite(d) & (d > 0)
        see_through = valid & (d > z[inside] + cfg.see_through_margin)
    return n_in, float(see_through.sum()) / n_in


def frustum_candidates(centroids: np.ndarray, obs: Observation, max_depth: float) -> np.ndarray:
    """Indices of objects whose centroid is roughly in front of the camera (cheap pre-filter)."""
    if len(centroids) == 0:
        return np.zeros(0, dtype=np.int64)
    k = obs.intrinsics
    u, v, z = project(centroids, obs.pose, k)
    pad = 0.5 * max(k.width, k.height)
    ok = (z > 0.1) & (z < max_depth + 1.0) & (u > -pad) & (u < k.width + pad) & (v > -pad) & (v < k.height + pad)
    return np.flatnonzero(ok)
