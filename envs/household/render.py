"""Headless rendering: RGB + metric depth in one pass, instance ids in a second.

MuJoCo's camera looks along its -z axis with y up (OpenGL); robomem wants the optical
frame (x right, y down, z forward).  ``optical_pose`` converts: R_opt = R_mj @ diag(1, -1, -1).
Depth is read from the same pass as RGB and linearised to metres along the optical axis
(the camera's z), not the ray length.
"""

from __future__ import annotations

import math
import os

os.environ.setdefault("MUJOCO_GL", "egl")

import contextlib

import mujoco  # noqa: E402
import numpy as np  # noqa: E402

__all__ = ["FrameRenderer", "intrinsics_for", "optical_pose"]

_FLIP = np.diag([1.0, -1.0, -1.0])


def intrinsics_for(width: int, height: int, hfov_rad: float) -> tuple[float, float, float, float]:
    """(fx, fy, cx, cy) of a square-pixel pinhole with the given horizontal field of view.

    Pixel centres are at integer coordinates, so the principal point is ((W-1)/2, (H-1)/2).
    """
    f = (width / 2.0) / math.tan(hfov_rad / 2.0)
    return f, f, (width - 1) / 2.0, (height - 1) / 2.0


def optical_pose(data: mujoco.MjData, camera_id: int) -> np.ndarray:
    """T_world_camera (4x4) in the optical frame, from MuJoCo's camera pose."""
    m = np.eye(4)
    m[:3, :3] = data.cam_xmat[camera_id].reshape(3, 3) @ _FLIP
    m[:3, 3] = data.cam_xpos[camera_id]
    return m


class FrameRenderer:
    """Offscreen renderer for one image size.  Not thread-safe (one GL context)."""

    def __init__(self, model: mujoco.MjModel, width: int, height: int, max_geom: int = 3000) -> None:
        if width > model.vis.global_.offwidth or height > model.vis.global_.offheight:
            raise ValueError(
                f"FrameRenderer: {width}x{height} exceeds the framebuffer "
                f"{model.vis.global_.offwidth}x{model.vis.global_.offheight}"
            )
        self.model = model
        self.width, self.height = int(width), int(height)
        self._gl = mujoco.GLContext(self.width, self.height)
        self._gl.make_current()
        self._con = mujoco.MjrContext(model, mujoco.mjtFontScale.mjFONTSCALE_100.value)
        mujoco.mjr_setBuffer(mujoco.mjtFramebuffer.mjFB_OFFSCREEN.value, self._con)
        self._con.readDepthMap = mujoco.mjtDepthMap.mjDEPTH_ZEROFAR
        self._scene = mujoco.MjvScene(model, maxgeom=max_geom)
        self._rect = mujoco.MjrRect(0, 0, self.width, self.height)
        self._cam = mujoco.MjvCamera()
        self._cam.type = mujoco.mjtCamera.mjCAMERA_FIXED
        self.option = mujoco.MjvOption()
        self._rgb = np.empty((self.height, self.width, 3), dtype=np.uint8)
        self._zbuf = np.empty((self.height, self.width), dtype=np.float32)
        extent = model.stat.extent
        self.znear = float(model.vis.map.znear * extent)
        self.zfar = float(model.vis.map.zfar * extent)

    def close(self) -> None:
        if self._gl is not None:
            self._gl.make_current()
            self._con.free()
            self._gl.free()
            self._gl = None

    def __del__(self) -> None:  # pragma: no cover - best effort
        with contextlib.suppress(Exception):
            self.close()

    def _update(self, data: mujoco.MjData, camera_id: int) -> None:
        if self._gl is None:
            raise RuntimeError("FrameRenderer: used after close()")
        self._gl.make_current()
        self._cam.fixedcamid = camera_id
        mujoco.mjv_updateScene(
            self.model, data, self.option, None, self._cam, mujoco.mjtCatBit.mjCAT_ALL.value, self._scene
        )

    def render(
        self, data: mujoco.MjData, camera_id: int, geom_instance: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """RGB (H,W,3 uint8), depth (H,W float32 metres, 0 = nothing) and, when
        ``geom_instance`` (geom id -> instance id) is given, the instance image (H,W int32)."""
        self._update(data, camera_id)
        mujoco.mjr_render(self._rect, self._scene, self._con)
        mujoco.mjr_readPixels(self._rgb, self._zbuf, self._rect, self._con)
        rgb = np.flipud(self._rgb).copy()
        depth = self._linear_depth(np.flipud(self._zbuf), bool(self._scene.camera[0].orthographic))
        inst = None
        if geom_instance is not None:
            inst = self._instances(geom_instance)
        return rgb, depth, inst

    def _linear_depth(self, zbuf: np.ndarray, orthographic: bool) -> np.ndarray:
        # readDepthMap = ZEROFAR: the buffer holds 1 at the near plane and 0 at the far plane.
        n, f = self.znear, self.zfar
        z = zbuf.astype(np.float64)
        if orthographic:
            d = f - z * (f - n)
        else:
            c = 0.5 * (f + n) / (f - n) - 0.5
            dd = f * n / (f - n)
            d = dd / (z + c)
        out = d.astype(np.float32)
        out[(zbuf <= 0.0) | (out >= f * 0.999)] = 0.0  # nothing hit: invalid
        return out

    def _instances(self, geom_instance: np.ndarray) -> np.ndarray:
        flags = self._scene.flags
        old_seg = flags[mujoco.mjtRndFlag.mjRND_SEGMENT]
        old_id = flags[mujoco.mjtRndFlag.mjRND_IDCOLOR]
        flags[mujoco.mjtRndFlag.mjRND_SEGMENT] = True
        flags[mujoco.mjtRndFlag.mjRND_IDCOLOR] = True
        try:
            mujoco.mjr_render(self._rect, self._scene, self._con)
            mujoco.mjr_readPixels(self._rgb, None, self._rect, self._con)
        finally:
            flags[mujoco.mjtRndFlag.mjRND_SEGMENT] = old_seg
            flags[mujoco.mjtRndFlag.mjRND_IDCOLOR] = old_id
        px = np.flipud(self._rgb).astype(np.int32)
        segid = px[..., 0] + (px[..., 1] << 8) + (px[..., 2] << 16)  # scene geom index + 1, 0 = background
        n = self._scene.ngeom
        lut = np.zeros(n + 1, dtype=np.int32)
        geom_type = int(mujoco.mjtObj.mjOBJ_GEOM)
        for i in range(n):
            g = self._scene.geoms[i]
            if g.objtype == geom_type and g.segid >= 0:
                lut[g.segid + 1] = geom_instance[g.objid]
        segid[segid > n] = 0
        return lut[segid]

    def render_rgb(self, data: mujoco.MjData, camera_id: int) -> np.ndarray:
        self._update(data, camera_id)
        mujoco.mjr_render(self._rect, self._scene, self._con)
        mujoco.mjr_readPixels(self._rgb, None, self._rect, self._con)
        return np.flipud(self._rgb).copy()
