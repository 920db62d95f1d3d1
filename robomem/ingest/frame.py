"""The preprocessed frame every submodule consumes.

``Memory.update`` turns an Observation into a Frame once (segments with
persistent object ids, observed absences, the place the camera is in); the
four submodules then update from the same Frame in parallel.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from robomem.ingest.perception import Segment
from robomem.observation import Observation


@dataclass(frozen=True)
class Detection:
    """A segment with the persistent object id association gave it."""

    segment: Segment
    object_id: int
    is_new: bool  # first time this object is in memory
    reidentified: bool  # matched an object previously observed absent (it moved)
    match_score: float
    place: str | None  # room / place containing the segment's centroid

    @property
    def label(self) -> str:
        return self.segment.label

    @property
    def centroid(self) -> np.ndarray:
        return self.segment.centroid


@dataclass(frozen=True)
class Absence:
    """A remembered object whose place was in view and seen through: it is gone from there."""

    object_id: int
    label: str
    position: tuple[float, float, float]  # where it was remembered
    place: str | None
    visible_fraction: float  # of its in-view remembered points the camera saw through


@dataclass(frozen=True)
class Frame:
    observation: Observation
    index: int  # running frame counter of this store
    detections: tuple[Detection, ...]
    absences: tuple[Absence, ...]
    camera_place: str | None

    @property
    def stamp(self) -> float:
        return self.observation.stamp

    @property
    def seen_ids(self) -> frozenset[int]:
        return frozenset(d.object_id for d in self.detections)
