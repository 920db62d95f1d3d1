"""Association: which persistent object is this segment? (the ConceptGraphs recipe)

Score of a (segment, object) pair = geometric overlap (fraction of the
segment's coarse voxels already occupied by the object) x weight + label (or
detector-embedding) similarity x weight; pairs whose labels are too
dissimilar never match.  A segment that overlaps nothing but lies within
``association_radius`` of a present object (centre to centre) gets a
proximity score instead, up to ``PROXIMITY_SCORE``: under pose drift the same
small object lands a few centimetres off its remembered voxels, and without
this it is stored again (a drift duplicate).  Pairs are assigned greedily, best first.  A segment
matching nothing is re-identified with an object of the same label that was
*observed absent* (it moved) when their colour signatures agree; otherwise it
becomes a new object.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from robomem.config import SpatialConfig
from robomem.ingest.geometry import bbox_overlap_mask, voxel_keys
from robomem.ingest.perception import Segment


@dataclass(frozen=True)
class ObjectView:
    """What association needs to know about one remembered object."""

    object_id: int
    label: str
    labels: dict[str, float]
    coarse_keys: np.ndarray  # sorted unique int64 voxel keys at cfg.overlap_voxel
    bbox_min: np.ndarray
    bbox_max: np.ndarray
    colour: np.ndarray | None
    embedding: np.ndarray | None
    absent: bool


@dataclass(frozen=True)
class Match:
    segment_index: int
    object_id: int | None  # None: a new object
    score: float
    reidentified: bool


def coarse_keys(points: np.ndarray, cfg: SpatialConfig) -> np.ndarray:
    return np.unique(voxel_keys(points, cfg.overlap_voxel))


def overlap_fraction(seg_keys: np.ndarray, obj_keys: np.ndarray) -> float:
    if len(seg_keys) == 0 or len(obj_keys) == 0:
        return 0.0
    idx = np.searchsorted(obj_keys, seg_keys)
    idx = np.clip(idx, 0, len(obj_keys) - 1)
    return float(np.mean(obj_keys[idx] == seg_keys))


# The geometric score of a segment right on an object's centre that shares none of its voxels: with the
# default weights a same-label segment (similarity 1) always matches, a synonym (0.8) within ~0.6 radius.
PROXIMITY_SCORE = 0.5


def proximity(seg: Segment, obj: ObjectView, radius: float) -> float:
    """``PROXIMITY_SCORE`` falling linearly to 0 at ``radius`` (box centre to box centre); 0 for absent objects."""
    if radius <= 0 or obj.absent:
        return 0.0
    d = float(np.linalg.norm((seg.bbox_min + seg.bbox_max - obj.bbox_min - obj.bbox_max) / 2.0))
    return PROXIMITY_SCORE * max(0.0, 1.0 - d / radius)


def _cos(a: np.ndarray, b: np.ndarray) -> float:
    na, nb = float(np.linalg.norm(a)), float(np.linalg.norm(b))
    if na == 0 or nb == 0 or a.shape != b.shape:
        return 0.0
    return float(np.dot(a, b) / (na * nb))


def associate(
    segments: Sequence[Segment],
    objects: Sequence[ObjectView],
    bbox_mins: np.ndarray,
    bbox_maxs: np.ndarray,
    label_similarity: Callable[[str, str], float],
    cfg: SpatialConfig,
    appeared: Callable[[Segment], bool] | None = None,
) -> list[Match]:
    """Match segments to objects; ``bbox_mins/maxs`` are the objects' boxes stacked (N, 3).

    ``appeared(segment)``: was the segment's place looked at before (so it appeared there)?  Without
    that, an unmatched segment is never re-identified as a moved object: it may have been there all
    along, an identical twin of the absent one."""
    pairs: list[tuple[float, int, int]] = []
    seg_keys = [coarse_keys(s.points, cfg) for s in segments]
    pad = max(cfg.overlap_voxel, cfg.association_radius)
    for si, seg in enumerate(segments):
        cand = np.flatnonzero(bbox_overlap_mask(bbox_mins, bbox_maxs, seg.bbox_min, seg.bbox_max, pad))
        for oi in cand.tolist():
            obj = objects[oi]
            if seg.embedding is not None and obj.embedding is not None:
                sem = max(0.0, _cos(seg.embedding, obj.embedding))
            else:
                sem = max(label_similarity(seg.label, lab) * share for lab, share in _shares(obj.labels).items())
                sem = max(sem, label_similarity(seg.label, obj.label))
            if sem < cfg.min_label_similarity:
                continue
            geo = overlap_fraction(seg_keys[si], obj.coarse_keys)
            if geo <= 0.0:
                geo = proximity(seg, obj, cfg.association_radius)
            if geo <= 0.0:
                continue
            score = cfg.geometric_weight * geo + cfg.semantic_weight * sem
            if score >= cfg.match_threshold:
                pairs.append((score, si, oi))
    pairs.sort(key=lambda t: (-t[0], t[1], t[2]))
    seg_done: dict[int, Match] = {}
    obj_used: set[int] = set()
    for score, si, oi in pairs:
        if si in seg_done or oi in obj_used:
            continue
        seg_done[si] = Match(si, objects[oi].object_id, score, False)
        obj_used.add(oi)

    # Re-identification of moved objects among those observed absent.
    for si, seg in enumerate(segments):
        if si in seg_done:
            continue
        best: tuple[float, int] | None = None
        for oi, obj in enumerate(objects):
            if not obj.absent or oi in obj_used or obj.label != seg.label:
                continue
            if seg.colour is not None and obj.colour is not None:
                sim = _cos(seg.colour, obj.colour)
                if sim < cfg.reid_colour_threshold:
                    continue
            else:
                sim = 0.5
            if best is None or sim > best[0]:
                best = (sim, oi)
        if best is not None and (appeared is None or appeared(seg)):
            seg_done[si] = Match(si, objects[best[1]].object_id, best[0], True)
            obj_used.add(best[1])
        else:
            seg_done[si] = Match(si, None, 0.0, False)
    return [seg_done[i] for i in range(len(segments))]


def _shares(labels: dict[str, float]) -> dict[str, float]:
    total = sum(labels.values()) or 1.0
    return {k: v / total for k, v in labels.items()}
