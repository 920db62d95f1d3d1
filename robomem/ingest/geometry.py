"""Small geometry kernels on numpy arrays: back-projection, voxels, projection.

All functions are vectorised and allocation-light; they are the hot path of
``Memory.update``.
"""

from __future__ import annotations

import numpy as np

from robomem.observation import Intrinsics, Pose


def backproject(u: np.ndarray, v: np.ndarray, z: np.ndarray, k: Intrinsics) -> np.ndarray:
    """Pixels (u right, v down) with depth z (metres) -> (N, 3) points in the optical frame."""
    x = (u.astype(np.float32) - np.float32(k.cx)) * z / np.float32(k.fx)
    y = (v.astype(np.float32) - np.float32(k.cy)) * z / np.float32(k.fy)
    return np.stack([x, y, z.astype(np.float32)], axis=1)


def project(points_world: np.ndarray, pose: Pose, k: Intrinsics) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """World points -> (u, v, z) in the camera whose T_world_camera is ``pose``."""
    m = pose.matrix
    r_t = m[:3, :3]  # columns are camera axes in world
    pc = (np.asarray(points_world, dtype=np.float64) - m[:3, 3]) @ r_t
    z = pc[:, 2]
    with np.errstate(divide="ignore", invalid="ignore"):
        u = k.fx * pc[:, 0] / z + k.cx
        v = k.fy * pc[:, 1] / z + k.cy
    return u, v, z


def voxel_keys(points: np.ndarray, voxel: float) -> np.ndarray:
    """Integer voxel keys packed into int64, 21 bits per axis.

    Each axis index wraps modulo 2**21 (it is not clipped): keys are exact for any point sets less than 2**21
    voxels across (60 km at 3 cm), wherever they are, so a map far from the origin keeps its voxels apart;
    within ±2**20 voxels of the origin the keys are the plain offset indices."""
    q = (np.floor(np.asarray(points, dtype=np.float64) / voxel).astype(np.int64) + (1 << 20)) & ((1 << 21) - 1)
    return (q[:, 0] << 42) | (q[:, 1] << 21) | q[:, 2]


def voxel_downsample(
    points: np.ndarray, voxel: float, colours: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray | None]:
    """Average the points (and colours) falling into each voxel."""
    if len(points) == 0:
        return points.reshape(0, 3).astype(np.float32), None if colours is None else colours.reshape(0, 3)
    keys = voxel_keys(points, voxel)
    uniq, inv = np.unique(keys, return_inverse=True)
    n = np.bincount(inv, minlength=len(uniq)).astype(np.float64)
    out = np.empty((len(uniq), 3), dtype=np.float64)
    for d in range(3):
        out[:, d] = np.bincount(inv, weights=points[:, d], minlength=len(uniq)) / n
    col = None
    if colours is not None:
        col = np.empty((len(uniq), 3), dtype=np.float64)
        for d in range(3):
            col[:, d] = np.bincount(inv, weights=colours[:, d], minlength=len(uniq)) / n
    return out.astype(np.float32), col


def bbox_overlap_mask(mins: np.ndarray, maxs: np.ndarray, lo: np.ndarray, hi: np.ndarray, pad: float) -> np.ndarray:
    """Which of the boxes (mins[i], maxs[i]) intersect the box (lo, hi) grown by ``pad``."""
    if len(mins) == 0:
        return np.zeros(0, dtype=bool)
    return np.all(mins <= hi + pad, axis=1) & np.all(maxs >= lo - pad, axis=1)


def subsample(points: np.ndarray, n: int, seed: int = 0) -> np.ndarray:
    """At most n points, chosen deterministically."""
    if len(points) <= n:
        return points
    idx = np.random.default_rng(seed).choice(len(points), size=n, replace=False)
    idx.sort()
    return points[idx]
