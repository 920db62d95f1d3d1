"""Which world coordinates the map can hold at its precision, and a clear refusal for the others.

Object points are kept (in memory and in the store) as float32 world coordinates: 4 bytes a value, the
bulk of every object's row.  float32 spacing grows with magnitude (2**-23 of it): 0.8 mm at 10 km,
7.8 mm at 100 km, 0.5 m at 4,200 km.  Centroids, boxes and poses are float64 and voxel keys are exact at
any offset, so the limit is the points': a coordinate is representable while the float32 spacing there
is at most a quarter of ``spatial.voxel_size`` (at the default 3 cm voxels: |x| < 65,536 m).  Beyond it
an update is refused with :class:`ObservationError` rather than silently blurring or splitting objects:
outdoor robots publish UTM/ENU poses in a local ``map`` frame (REP 105) whose origin is near the robot.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

from robomem.errors import ObservationError

__all__ = ["check_coordinates", "coordinate_limit"]


def coordinate_limit(voxel_size: float) -> float:
    """The largest |coordinate| (m) whose float32 spacing is at most ``voxel_size / 4``."""
    if not (isinstance(voxel_size, int | float) and math.isfinite(voxel_size) and voxel_size > 0):
        raise ValueError(f"coordinate_limit: voxel_size must be a positive number of metres, got {voxel_size!r}")
    # spacing in [2**e, 2**(e + 1)) is 2**(e - 23): the highest e with 2**(e - 23) <= voxel / 4
    e = math.floor(math.log2(voxel_size / 4.0)) + 23
    return float(2.0 ** (e + 1))


def check_coordinates(where: str, values: Iterable[float] | np.ndarray, limit: float, margin: float = 0.0) -> None:
    """Raise ObservationError naming ``where`` if any value (plus ``margin``, e.g. the sensor range) is past
    ``limit`` or not finite."""
    arr = np.asarray(values, dtype=np.float64).reshape(-1)
    if arr.size == 0:
        return
    if not np.all(np.isfinite(arr)):
        raise ObservationError(f"{where}: coordinates must be finite, got {arr.tolist()[:6]}")
    top = float(np.max(np.abs(arr))) + margin
    if top > limit:
        raise ObservationError(
            f"{where}: coordinate {float(np.max(np.abs(arr))):.1f} m is too far from the map origin; with "
            f"{margin:.0f} m of sensor range this map holds |x|, |y|, |z| up to {limit:.0f} m at its voxel "
            "precision (float32 object points). Publish poses in a local map frame whose origin is near "
            "the robot (e.g. subtract a UTM origin; REP 105), or raise spatial.voxel_size"
        )
