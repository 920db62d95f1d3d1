"""Which remembered objects may be observed absent in this frame: a batched, conservative pre-test.

``ingest.visibility.visible_fraction`` decides, one object at a time, whether the camera sees
through where an object was.  With many objects in view that per-object call is the cost of a
frame, so every candidate's sample points are projected at once here and each object gets the
number of its points in the image (the same count ``visible_fraction`` takes) and an *upper
bound* of its seen-through fraction: a point counts when the depth there is behind it, or when
the depth is not in front of it and the pixel belongs to a detected instance (which the label
rules may count either way).  Only objects whose bound passes go on to the exact test, so the
result is the one the per-object test gives.
"""

from __future__ import annotations

import numpy as np

from robomem.config import TemporalConfig
from robomem.ingest.visibility import depth_behind_points
from robomem.observation import Observation


def seen_through_bounds(
    samples: list[np.ndarray], obs: Observation, cfg: TemporalConfig, max_depth: float
) -> tuple[np.ndarray, np.ndarray]:
    """(points projecting into the image, upper bound of the seen-through fraction) per object."""
    n = len(samples)
    counts = np.fromiter((len(p) for p in samples), dtype=np.int64, count=n)
    if n == 0 or counts.sum() == 0:
        return np.zeros(n, dtype=np.int64), np.zeros(n)
    owner = np.repeat(np.arange(n), counts)
    inside, ui, vi, zi, d, tol = depth_behind_points(np.concatenate(samples), obs, cfg, max_depth)
    own = owner[inside]
    n_in = np.bincount(own, minlength=n)
    with np.errstate(invalid="ignore"):
        valid = np.isfinite(d) & (d > 0)
        bound = valid & (d > zi + tol)
        if obs.instance_ids is not None and obs.instances:
            on_instance = np.isin(obs.instance_ids[vi, ui], list(obs.instances))
            bound |= valid & (d >= zi - tol) & on_instance
    hits = np.bincount(own[bound], minlength=n)
    # a hair above the exact quotient: the bound must never fall below it by rounding
    return n_in, np.where(n_in > 0, hits / np.maximum(n_in, 1), 0.0) + 1e-12
