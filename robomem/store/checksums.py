"""Per-row checksums for the values that answer questions.

SQLite's ``integrity_check`` sees pages, not values: one flipped bit in a stored centroid moved an
object by 1.8 m with the check still "ok".  Each objects row (schema version 6) carries a CRC-32 of its
centroid and box and one of its points; spatial memory checks them on load
(``ObjectState.from_checked_row``) and repairs or sets aside a row that fails.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterable

__all__ = ["geometry_checksum", "points_checksum"]


def geometry_checksum(centroid: Iterable[float], bbox_min: Iterable[float], bbox_max: Iterable[float]) -> int:
    """CRC-32 of centroid and box, packed as the nine float64 values the row holds."""
    vals = [float(v) for v in (*centroid, *bbox_min, *bbox_max)]
    if len(vals) != 9:
        raise ValueError(f"geometry_checksum: expected 3 + 3 + 3 coordinates, got {len(vals)}")
    return zlib.crc32(struct.pack("<9d", *vals))


def points_checksum(blob: bytes) -> int:
    """CRC-32 of an object's stored points (the float32 bytes of the ``points`` column)."""
    return zlib.crc32(blob)
