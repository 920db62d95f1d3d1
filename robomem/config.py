"""Configuration as frozen dataclasses, loaded from YAML or a dict.

Unknown keys are rejected with the key named (a typo in a config file must
not silently fall back to a default).  The same file configures the core, the
ROS nodes (under a ``ros:`` section they read themselves) and replay.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import yaml

T = TypeVar("T")


def _require(obj: Any, positive: tuple[str, ...] = (), nonnegative: tuple[str, ...] = ()) -> None:
    """Range checks: a value that type-checks but makes memory silently useless is refused here."""
    name = type(obj).__name__
    for f in positive:
        if not getattr(obj, f) > 0:
            raise ValueError(f"{name}.{f}: must be > 0, got {getattr(obj, f)!r}")
    for f in nonnegative:
        if not getattr(obj, f) >= 0:
            raise ValueError(f"{name}.{f}: must be >= 0, got {getattr(obj, f)!r}")


@dataclass(frozen=True)
class SpatialConfig:
    voxel_size: float = 0.03  # m, object point clouds are downsampled to this
    pixel_stride: int = 0  # back-project every n-th pixel in each direction; 0 = auto from max_pixels
    max_pixels: int = 20_000  # auto stride keeps the sampled pixels per frame under this (same angular density)
    max_depth: float = 8.0  # m, farther depth is ignored
    min_points: int = 15  # segments with fewer 3D points are ignored
    max_points_per_object: int = 3000
    overlap_voxel: float = 0.08  # m, cell size for the 3D-overlap test in association
    geometric_weight: float = 1.0
    semantic_weight: float = 1.0
    match_threshold: float = 1.0  # geometric overlap + semantic similarity must exceed this
    min_label_similarity: float = 0.5  # below this a label is a different thing
    reid_colour_threshold: float = 0.85  # colour-signature cosine to re-identify a moved object
    near_distance: float = 1.0  # m, "near" relation in the scene graph
    snapshot_gain: float = 1.3  # a new view must show an object this much larger to become a snapshot
    snapshot_image_width: int = 320  # keyframe images are stored at this width (PNG)

    def __post_init__(self) -> None:
        positive = (
            "voxel_size",
            "max_depth",
            "max_points_per_object",
            "overlap_voxel",
            "snapshot_image_width",
            "max_pixels",
        )
        _require(self, positive=positive, nonnegative=("min_points", "pixel_stride"))


@dataclass(frozen=True)
class TemporalConfig:
    moved_distance: float = 0.3  # m, farther than this counts as moved
    absence_min_points: int = 8  # object points that must project into view to judge absence
    absence_visible_fraction: float = 0.6  # of those, the fraction the camera must see through
    see_through_margin: float = 0.04  # m, observed depth this much behind a remembered point = it is gone
    see_through_per_metre: float = 0.02  # m of extra margin per metre of distance (depth noise grows)
    absence_min_size_px: float = 8.0  # objects smaller than this on screen (px) are too small to judge absence
    image_margin_px: int = 8


@dataclass(frozen=True)
class EpisodicConfig:
    surprise_threshold: float = 0.7  # share of objects in view not seen lately that cuts an automatic episode
    neighbours: int = 1  # episodes before/after returned with a search hit
    min_episode_frames: int = 3  # an automatic episode lasts at least this many frames before a surprise cut
    step_surprise: float = 0.5  # a frame this surprising becomes an observation step (inside any episode)
    max_gap_s: float = 300.0  # s without activity that cuts an automatic episode
    write_every: int = 10  # frames between rewrites of the open episode's row (steps always write it)
    embed_batch: int = 16  # step embeddings are computed in batches of this many (and when the episode ends)


@dataclass(frozen=True)
class SemanticConfig:
    usually_min_count: int = 3  # sightings behind a consolidated "usually_in" fact
    visit_window_s: float = 1800.0  # sightings within one window count as one visit for "usually_in"
    usually_min_share: float = 0.6
    often_fails_min_count: int = 2
    often_fails_min_share: float = 0.5  # of the attempts of an action on a thing that failed
    consolidate_every: int = 50  # frames between consolidation passes (usually_in, often_fails, on/in)
    scene_relations: bool = True  # derive "on"/"in" facts from the scene graph during consolidation
    asserted_confidence: float = 0.9  # an Event(kind="fact")
    parsed_confidence: float = 0.7  # a fact parsed from an instruction ("the red mug is Anna's")
    confidence_half_life: float = 3600.0  # s; a fact's confidence counts half this long after its last evidence
    update_margin: float = 0.25  # newer evidence this much weaker than the believed value still replaces it
    functional_predicates: tuple[str, ...] = (
        "located_in",
        "usually_in",
        "belongs_to",
        "on",
        "in",
        "state",
        "is_a",
        "colour",
        "color",
    )  # one object at a time per subject: a new one closes the old


@dataclass(frozen=True)
class RetrievalConfig:
    w_relevance: float = 1.0
    w_recency: float = 0.3
    w_importance: float = 0.2
    w_confidence: float = 0.2
    w_distance: float = 0.3
    recency_tau: float = 3600.0  # s
    distance_scale: float = 5.0  # m
    min_relevance: float = 0.35  # candidates less relevant than this to a text query are dropped

    def __post_init__(self) -> None:
        _require(self, positive=("recency_tau", "distance_scale"))


@dataclass(frozen=True)
class BudgetConfig:
    """Growth limits. Past them, forgetting compresses or drops low-value detail."""

    max_sighting_rows: int = 200_000
    max_absence_rows: int = 50_000
    max_snapshots: int = 500
    max_episode_steps: int = 100_000
    max_fact_rows: int = 100_000
    max_store_bytes: int = 2_000_000_000
    max_episodes: int = 20_000
    max_frame_rows: int = 500_000  # the camera trajectory; old frames are thinned past this
    max_spatial_bytes: int = 0  # per-submodule table bytes (SQLite dbstat); 0 = no separate limit
    max_temporal_bytes: int = 0
    max_episodic_bytes: int = 0
    max_semantic_bytes: int = 0
    keep_recent_s: float = 600.0  # detail younger than this is never compressed
    target_fraction: float = 0.8  # past a limit, compress down to this share of it
    vacuum_free_fraction: float = 0.25  # VACUUM when this share of the database file is free pages
    check_every: int = 500  # updates between budget checks


@dataclass(frozen=True)
class MemoryConfig:
    spatial: SpatialConfig = field(default_factory=SpatialConfig)
    temporal: TemporalConfig = field(default_factory=TemporalConfig)
    episodic: EpisodicConfig = field(default_factory=EpisodicConfig)
    semantic: SemanticConfig = field(default_factory=SemanticConfig)
    retrieval: RetrievalConfig = field(default_factory=RetrievalConfig)
    budget: BudgetConfig = field(default_factory=BudgetConfig)
    embedder: str = "auto"  # "auto" (MiniLM if installed, else hashing fallback), "minilm", "hash"
    workers: int = 4  # threads for the parallel submodule update / retrieval fan-out

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> MemoryConfig:
        return from_dict(cls, data or {}, "config")

    @classmethod
    def from_yaml(cls, path: str | Path, section: str | None = "memory") -> MemoryConfig:
        """Load from a YAML file; with ``section`` the memory settings live under that key."""
        data = load_yaml(path)
        if section is not None:
            data = data.get(section, {}) or {}
        return from_dict(cls, data, section or "config")


def load_yaml(path: str | Path) -> dict[str, Any]:
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"config {p}: cannot read: {exc}") from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ValueError(f"config {p}: not valid YAML: {exc}") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ValueError(f"config {p}: top level must be a mapping, got {type(data).__name__}")
    return data


def from_dict(cls: type[T], data: Any, where: str) -> T:
    """Build dataclass ``cls`` from ``data``, checking keys and types recursively."""
    if not isinstance(data, dict):
        raise ValueError(f"{where}: expected a mapping, got {type(data).__name__}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(map(str, data)) - set(fields))
    if unknown:
        raise ValueError(f"{where}: unknown key {unknown[0]!r} (known: {', '.join(sorted(fields))})")
    kwargs: dict[str, Any] = {}
    for name, value in data.items():
        kwargs[name] = _coerce(hints[name], value, f"{where}.{name}")
    return cls(**kwargs)


def _coerce(tp: Any, value: Any, where: str) -> Any:
    if dataclasses.is_dataclass(tp):
        return from_dict(tp, value, where)
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        errors = []
        for a in args:
            if a is type(None):
                continue
            try:
                return _coerce(a, value, where)
            except ValueError as exc:
                errors.append(str(exc))
        raise ValueError(errors[0] if errors else f"{where}: invalid value {value!r}")
    if origin in (tuple, list):
        if not isinstance(value, (list, tuple)):
            raise ValueError(f"{where}: expected a list, got {type(value).__name__}")
        (inner, *_rest) = typing.get_args(tp) or (Any,)
        items = [_coerce(inner, v, f"{where}[{i}]") for i, v in enumerate(value)]
        return tuple(items) if origin is tuple else items
    if origin is dict:
        if not isinstance(value, dict):
            raise ValueError(f"{where}: expected a mapping, got {type(value).__name__}")
        return dict(value)
    if tp is bool:
        if not isinstance(value, bool):
            raise ValueError(f"{where}: expected true/false, got {value!r}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"{where}: expected an integer, got {value!r}")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"{where}: expected a number, got {value!r}")
        try:
            v = float(value)
        except OverflowError:
            raise ValueError(f"{where}: out of range, got {value!r}") from None
        if v != v or v in (float("inf"), float("-inf")):
            raise ValueError(f"{where}: must be finite, got {value!r}")
        return v
    if tp is str:
        if not isinstance(value, str):
            raise ValueError(f"{where}: expected a string, got {value!r}")
        return value
    return value
