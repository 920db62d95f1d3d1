"""A tiny exact ray-caster of coloured boxes on a floor, for tests and benchmarks.

It renders RGB, depth (float32 metres along the optical axis) and an instance
image from any camera pose, so tests can check memory against geometry that
is known exactly.  It is not a simulator; see ``robomem.envs`` for that.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from robomem.observation import InstanceInfo, Intrinsics, Observation, Pose


@dataclass(frozen=True)
class Box:
    instance_id: int
    label: str
    center: tuple[float, float, float]
    size: tuple[float, float, float]
    colour: tuple[int, int, int] = (200, 50, 50)

    @property
    def lo(self) -> np.ndarray:
        return np.asarray(self.center) - np.asarray(self.size) / 2

    @property
    def hi(self) -> np.ndarray:
        return np.asarray(self.center) + np.asarray(self.size) / 2

    def moved_to(self, x: float, y: float) -> Box:
        return replace(self, center=(x, y, self.center[2]))


def look_at(eye: tuple[float, float, float], target: tuple[float, float, float]) -> Pose:
    """T_world_camera (optical frame) for a camera at ``eye`` looking at ``target``, world z up."""
    e = np.asarray(eye, dtype=np.float64)
    z = np.asarray(target, dtype=np.float64) - e
    z /= np.linalg.norm(z)
    x = np.cross(z, [0.0, 0.0, 1.0])
    if np.linalg.norm(x) < 1e-6:
        x = np.array([1.0, 0.0, 0.0])
    x /= np.linalg.norm(x)
    y = np.cross(z, x)
    m = np.eye(4)
    m[:3, 0], m[:3, 1], m[:3, 2], m[:3, 3] = x, y, z, e
    return Pose(m)


class BoxScene:
    """Boxes on a floor at z = 0 (floor and walls are instance 0)."""

    def __init__(self, boxes: list[Box], width: int = 320, height: int = 240, hfov_deg: float = 90.0) -> None:
        self.boxes = list(boxes)
        self.intrinsics = Intrinsics.from_fov(width, height, np.deg2rad(hfov_deg))
        k = self.intrinsics
        u, v = np.meshgrid(np.arange(k.width, dtype=np.float64), np.arange(k.height, dtype=np.float64))
        self._rays_cam = np.stack([(u - k.cx) / k.fx, (v - k.cy) / k.fy, np.ones_like(u)], axis=-1).reshape(-1, 3)

    def render(self, pose: Pose) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(rgb uint8 HxWx3, depth float32 HxW metres, instance ids int32 HxW)."""
        k = self.intrinsics
        r = pose.matrix[:3, :3]
        o = pose.matrix[:3, 3]
        dirs = self._rays_cam @ r.T  # not normalised: t is then the optical-axis depth
        n = len(dirs)
        best_t = np.full(n, np.inf)
        ids = np.zeros(n, dtype=np.int32)
        rgb = np.zeros((n, 3), dtype=np.uint8)
        with np.errstate(divide="ignore", invalid="ignore"):
            tf = -o[2] / dirs[:, 2]
            hit = (tf > 0) & np.isfinite(tf)
            best_t[hit] = tf[hit]
            p = o + dirs * np.where(hit, tf, 0)[:, None]
            checker = ((np.floor(p[:, 0] * 2) + np.floor(p[:, 1] * 2)) % 2).astype(np.uint8)
            rgb[hit] = (np.array([120, 120, 110]) + checker[hit, None] * 30).astype(np.uint8)
            inv = 1.0 / dirs
            for b in self.boxes:
                t1 = (b.lo - o) * inv
                t2 = (b.hi - o) * inv
                tmin = np.nanmax(np.minimum(t1, t2), axis=1)
                tmax = np.nanmin(np.maximum(t1, t2), axis=1)
                h = (tmax >= tmin) & (tmin > 0) & (tmin < best_t)
                best_t[h] = tmin[h]
                ids[h] = b.instance_id
                rgb[h] = b.colour
        depth = np.where(np.isfinite(best_t), best_t, 0.0).astype(np.float32).reshape(k.height, k.width)
        return rgb.reshape(k.height, k.width, 3), depth, ids.reshape(k.height, k.width)

    def observe(self, pose: Pose, stamp: float, robot_id: str = "robot") -> Observation:
        rgb, depth, ids = self.render(pose)
        present = {int(i) for i in np.unique(ids)} - {0}
        infos = {b.instance_id: InstanceInfo(b.label) for b in self.boxes if b.instance_id in present}
        return Observation(
            stamp=stamp,
            pose=pose,
            intrinsics=self.intrinsics,
            depth=depth,
            rgb=rgb,
            instance_ids=ids,
            instances=infos,
            robot_id=robot_id,
            source="synthetic",
        )


def demo_boxes() -> list[Box]:
    """A small room: a table with a mug and a book, a chair, a second mug on a shelf."""
    return [
        Box(1, "table", (2.0, 0.0, 0.375), (1.2, 0.8, 0.75), (140, 90, 40)),
        Box(2, "red mug", (1.8, 0.1, 0.80), (0.10, 0.10, 0.10), (220, 30, 30)),
        Box(3, "book", (2.2, -0.15, 0.77), (0.25, 0.18, 0.04), (30, 60, 200)),
        Box(4, "chair", (2.0, 1.0, 0.45), (0.5, 0.5, 0.9), (90, 160, 90)),
        Box(5, "shelf", (3.5, -1.5, 0.6), (0.4, 1.0, 1.2), (160, 160, 160)),
        Box(6, "white mug", (3.5, -1.3, 1.25), (0.10, 0.10, 0.10), (240, 240, 240)),
    ]
