"""Configuration as frozen dataclasses, loaded from YAML or a dict: the one config loader.

One file (config/robomem.yaml) configures the core (``memory:``), ROS I/O and the nodes
(``ros:``) and replay (``replay:``).  :func:`load_config` reads and checks all of it into a
:class:`ConfigFile`; :class:`MemoryConfig`, ``robomem.io.ros_io.RosIoConfig`` and
``robomem.nodes.settings.NodeSettings`` are built from that.  In every section an unknown key,
a wrong type or an out-of-range value is a :class:`~robomem.errors.ConfigError` naming the full
dotted key (``memory.episodic.write_every: must be >= 1, got 0``): a typo in a config file must
not silently fall back to a default, and a value that type-checks but breaks or silently
disables memory is refused at load time.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from robomem.bounded_yaml import parse_bounded, show
from robomem.config_rules import GE0, GE1, GT0, UNIT, UNIT_OPEN, Checked, RangeError, Rule, _num  # noqa: F401
from robomem.errors import ConfigError
from robomem.fleet.config import FleetConfig

T = TypeVar("T")


@dataclass(frozen=True)
class SpatialConfig(Checked):
    voxel_size: float = 0.03  # m, object point clouds are downsampled to this
    pixel_stride: int = 0  # back-project every n-th pixel in each direction; 0 = auto from max_pixels
    max_pixels: int = 20_000  # auto stride keeps the sampled pixels per frame under this (same angular density)
    max_depth: float = 8.0  # m, farther depth is ignored
    min_points: int = 15  # segments with fewer 3D points are ignored (fewer if the mask's surface cannot hold them)
    min_instance_samples: int = 100  # an instance the coarse grid samples fewer times is re-sampled densely
    min_mask_pixels: int = 20  # instance masks with fewer pixels with valid depth are ignored
    max_points_per_object: int = 3000
    overlap_voxel: float = 0.08  # m, cell size for the 3D-overlap test in association
    geometric_weight: float = 1.0
    semantic_weight: float = 1.0
    match_threshold: float = 1.0  # geometric overlap + semantic similarity must exceed this
    min_label_similarity: float = 0.5  # below this a label is a different thing
    # m: a segment sharing no voxel with an object this close (centre to centre) may still be it (pose drift).
    # Measured: robot-grade noise (envs/household/noise.py) puts a point at 3 m 4.4 cm off (median), 11 cm (p90)
    association_radius: float = 0.12
    reid_colour_threshold: float = 0.85  # colour-signature cosine to re-identify a moved object
    near_distance: float = 1.0  # m, "near" relation in the scene graph
    snapshot_gain: float = 1.3  # a new view must show an object this much larger to become a snapshot
    snapshot_image_width: int = 320  # keyframe images are stored at this width (PNG)
    # An object is believed (answers questions) once seen in this many frames with this much evidence (the sum
    # of its detections' scores); a single false positive never is.  confirm_evidence = 1.25 (a mean score of
    # 0.625 over two detections) from measurement (robot-grade noise, 4 seeds x 3 days, docs/architecture.md):
    # the believed objects matching no true object had 0.99-1.27 from 2 detections, true ones 1.24-1.88
    confirm_observations: int = 2
    confirm_evidence: float = 1.25
    # Objects whose geometry (points, voxel keys, embedding) is held in memory: an LRU of the last associated,
    # updated or read; the rest is read from the store when needed (spatial/table.py).  Every object's box,
    # labels and counts stay resident.  Worst case 4096 x 3000 points ~ 300 MB; the scale benchmark's live
    # scene touches a few hundred objects (docs/architecture.md, issue 14).
    resident_objects: int = 4096

    RANGES: ClassVar[Mapping[str, Rule]] = {
        "voxel_size": GT0,
        "pixel_stride": GE0,
        "max_pixels": GE1,
        "max_depth": GT0,
        "min_points": GE0,
        "min_instance_samples": GE1,
        "min_mask_pixels": GE0,
        "max_points_per_object": GE1,
        "overlap_voxel": GT0,
        "geometric_weight": GE0,
        "semantic_weight": GE0,
        "match_threshold": GE0,
        "min_label_similarity": UNIT,
        "association_radius": GE0,
        "reid_colour_threshold": Rule(-1, 1),
        "near_distance": GT0,
        "snapshot_gain": GT0,
        "snapshot_image_width": GE1,
        "confirm_observations": GE1,
        "confirm_evidence": GE0,
        "resident_objects": GE1,
    }


@dataclass(frozen=True)
class TemporalConfig(Checked):
    moved_distance: float = 0.3  # m, farther than this counts as moved
    absence_min_points: int = 8  # object points that must project into view to judge absence
    absence_visible_fraction: float = 0.6  # of those, the fraction the camera must see through
    see_through_margin: float = 0.04  # m, observed depth this much behind a remembered point = it is gone
    see_through_per_metre: float = 0.02  # m of extra margin per metre of distance (depth noise grows)
    absence_min_size_px: float = 8.0  # objects smaller than this on screen (px) are too small to judge absence
    image_margin_px: int = 8
    # A remembered point counts as seen through only if the depth all around its pixel, within this angle, is
    # behind it: a pose error of up to this much (drift, a late TF stamp) cannot make an object next to its own
    # projection look gone.  Measured in docs/architecture.md (robot-grade noise: false absences at range).
    absence_window_deg: float = 1.0

    RANGES: ClassVar[Mapping[str, Rule]] = {
        "moved_distance": GT0,
        "absence_window_deg": Rule(0, 10),
        "absence_min_points": GE1,
        "absence_visible_fraction": UNIT_OPEN,  # 0 would call anything out of view "gone"
        "see_through_margin": GE0,
        "see_through_per_metre": GE0,
        "absence_min_size_px": GE0,
        "image_margin_px": GE0,
    }


@dataclass(frozen=True)
class EpisodicConfig(Checked):
    surprise_threshold: float = 0.7  # share of objects in view not seen lately that cuts an automatic episode
    neighbours: int = 1  # episodes before/after returned with a search hit
    min_episode_frames: int = 3  # an automatic episode lasts at least this many frames before a surprise cut
    step_surprise: float = 0.5  # a frame this surprising becomes an observation step (inside any episode)
    max_gap_s: float = 300.0  # s without activity that cuts an automatic episode
    write_every: int = 10  # frames between rewrites of the open episode's row (steps always write it)
    embed_batch: int = 16  # step embeddings are computed in batches of this many (and when the episode ends)

    RANGES: ClassVar[Mapping[str, Rule]] = {
        "surprise_threshold": UNIT,
        "neighbours": GE0,
        "min_episode_frames": GE1,
        "step_surprise": UNIT,
        "max_gap_s": GT0,
        "write_every": GE1,
        "embed_batch": GE1,
    }


@dataclass(frozen=True)
class SemanticConfig(Checked):
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

    RANGES: ClassVar[Mapping[str, Rule]] = {
        "usually_min_count": GE1,
        "visit_window_s": GT0,
        "usually_min_share": UNIT_OPEN,
        "often_fails_min_count": GE1,
        "often_fails_min_share": UNIT_OPEN,
        "consolidate_every": GE0,  # 0: only when asked (Memory.consolidate)
        "asserted_confidence": UNIT,
        "parsed_confidence": UNIT,
        "confidence_half_life": GT0,
        "update_margin": UNIT,
    }

    def __post_init__(self) -> None:
        super().__post_init__()
        for i, p in enumerate(self.functional_predicates):
            if not isinstance(p, str) or not p.strip():
                raise RangeError(
                    type(self).__name__, f"functional_predicates[{i}]", f"must be a non-empty string, got {show(p)}"
                )


@dataclass(frozen=True)
class RetrievalConfig(Checked):
    w_relevance: float = 1.0
    w_recency: float = 0.3
    w_importance: float = 0.2
    w_confidence: float = 0.2
    w_distance: float = 0.3
    recency_tau: float = 3600.0  # s
    distance_scale: float = 5.0  # m
    min_relevance: float = 0.35  # candidates less relevant than this to a text query are dropped

    RANGES: ClassVar[Mapping[str, Rule]] = {
        "w_relevance": GE0,
        "w_recency": GE0,
        "w_importance": GE0,
        "w_confidence": GE0,
        "w_distance": GE0,
        "recency_tau": GT0,
        "distance_scale": GT0,
        "min_relevance": UNIT,
    }


@dataclass(frozen=True)
class BudgetConfig(Checked):
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

    RANGES: ClassVar[Mapping[str, Rule]] = {
        "max_sighting_rows": GE1,
        "max_absence_rows": GE1,
        "max_snapshots": GE1,
        "max_episode_steps": GE1,
        "max_fact_rows": GE1,
        "max_store_bytes": GE1,
        "max_episodes": GE1,
        "max_frame_rows": GE1,
        "max_spatial_bytes": GE0,  # 0 = no separate limit
        "max_temporal_bytes": GE0,
        "max_episodic_bytes": GE0,
        "max_semantic_bytes": GE0,
        "keep_recent_s": GE0,
        "target_fraction": UNIT_OPEN,
        "vacuum_free_fraction": UNIT,
        "check_every": GE1,
    }


@dataclass(frozen=True)
class MemoryConfig(Checked):
    spatial: SpatialConfig = field(default_factory=SpatialConfig)
    temporal: TemporalConfig = field(default_factory=TemporalConfig)
    episodic: EpisodicConfig = field(default_factory=EpisodicConfig)
    semantic: SemanticConfig = field(default_factory=SemanticConfig)
    retrieval: RetrievalConfig = field(default_factory=RetrievalConfig)
    budget: BudgetConfig = field(default_factory=BudgetConfig)
    fleet: FleetConfig = field(default_factory=FleetConfig)
    embedder: str = "auto"  # "auto" (MiniLM if installed, else hashing fallback), "minilm", "hash"
    workers: int = 4  # threads for Memory.open(parallel=True); sequential is the default (ingest.py: 0.79-0.96x)

    RANGES: ClassVar[Mapping[str, Rule]] = {"embedder": Rule(choices=("auto", "minilm", "hash")), "workers": GE1}

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None, where: str = "memory") -> MemoryConfig:
        return from_dict(cls, data or {}, where)

    @classmethod
    def from_yaml(cls, path: str | Path, section: str | None = "memory") -> MemoryConfig:
        """Load from a YAML file; with ``section`` the memory settings live under that key."""
        data = load_yaml(path)
        if section is not None:
            data = data.get(section, {}) or {}
        return from_dict(cls, data, section or "config")


# MemoryConfig fields an open Memory takes new values of (Memory.reconfigure): each is read where it is used,
# per frame, query or budget pass.  The others shape what is already stored (voxel_size and overlap_voxel make the
# stored points and their keys, snapshot_* the keyframes, max_points_per_object the clouds), hold threads
# (workers) or a model (embedder), or are kept in loaded state: those need the store reopened.
LIVE_CONFIG: frozenset[str] = frozenset(
    {
        *(
            f"spatial.{n}"
            for n in (
                "match_threshold",
                "min_label_similarity",
                "association_radius",
                "geometric_weight",
                "semantic_weight",
                "reid_colour_threshold",
                "near_distance",
                "max_depth",
                "min_points",
                "min_mask_pixels",
            )
        ),
        *(f"temporal.{f.name}" for f in dataclasses.fields(TemporalConfig)),
        *(
            f"episodic.{n}"
            for n in ("surprise_threshold", "neighbours", "min_episode_frames", "step_surprise", "max_gap_s")
        ),
        *(f"semantic.{f.name}" for f in dataclasses.fields(SemanticConfig) if f.name != "functional_predicates"),
        *(f"retrieval.{f.name}" for f in dataclasses.fields(RetrievalConfig)),
        *(f"budget.{f.name}" for f in dataclasses.fields(BudgetConfig)),
    }
)


def config_diff(old: Any, new: Any, prefix: str = "") -> tuple[str, ...]:
    """Dotted names of the fields where two config dataclasses differ."""
    out: list[str] = []
    for f in dataclasses.fields(old):
        a, b = getattr(old, f.name), getattr(new, f.name)
        if dataclasses.is_dataclass(a):
            out.extend(config_diff(a, b, f"{prefix}{f.name}."))
        elif a != b:
            out.append(f"{prefix}{f.name}")
    return tuple(out)


# -- the ros: and replay: sections (read by robomem.io and robomem.nodes) ---------------------------
@dataclass(frozen=True)
class TopicMap:
    """``ros.topics``: which topic plays which role ("" = not used).

    Names without a leading ``/`` are relative, as ROS resolves them: a node in namespace ``/robot1``
    subscribes to ``/robot1/camera/color/image_raw``; in a bag (recorded from the root namespace) they
    are ``/camera/...`` (:meth:`absolute`).  /tf and /tf_static are global, as in ROS.
    """

    color: str = "camera/color/image_raw"
    depth: str = "camera/depth/image_raw"
    camera_info: str = "camera/color/camera_info"
    instances: str = "camera/instances"
    labels: str = "camera/instance_labels"
    events: str = "robomem/events"
    detections: str = ""  # vision_msgs/msg/Detection2DArray, instead of instances + labels
    tf: str = "/tf"
    tf_static: str = "/tf_static"
    pose: str = ""  # PoseStamped / Odometry / PoseWithCovarianceStamped when pose source is "topic"

    def used(self) -> dict[str, str]:
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if getattr(self, f.name)}

    def absolute(self, namespace: str = "/") -> TopicMap:
        """Relative names resolved in ``namespace`` (default the root, as bags record them)."""
        ns = "/" + namespace.strip("/") + "/" if namespace.strip("/") else "/"
        names = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        return TopicMap(**{k: v if not v or v.startswith("/") else ns + v.lstrip("~/") for k, v in names.items()})


@dataclass(frozen=True)
class RosFrames:
    """``ros.frames``."""

    map_frame: str = "map"
    # "" = the depth image's own header.frame_id (what the camera driver names it, e.g. oak_rgb_camera_optical_frame);
    # set it only to override a driver that stamps a wrong frame
    camera_frame: str = ""


@dataclass(frozen=True)
class RosPose(Checked):
    """``ros.pose``: where camera poses come from."""

    source: str = "tf"  # "tf" | "topic"
    child_frame: str = ""  # frame a pose topic gives ("" = child_frame_id of Odometry, else camera_frame)

    RANGES: ClassVar[Mapping[str, Rule]] = {"source": Rule(choices=("tf", "topic"))}


@dataclass(frozen=True)
class RosSync(Checked):
    """``ros.sync``: approximate-time grouping of the camera streams."""

    slop: float = 0.05  # s
    queue_size: int = 30

    RANGES: ClassVar[Mapping[str, Rule]] = {"slop": GE0, "queue_size": GE1}


@dataclass(frozen=True)
class NodeOptions(Checked):
    """``ros.node``: what only the live nodes need (not replay)."""

    markers_topic: str = "robomem/scene_graph"  # relative: follows the node's namespace
    diagnostics_topic: str = "/diagnostics"  # global, as in ROS (one aggregator for the robot)
    goal_topic: str = "robomem/goal"
    goal_pose_topic: str = "goal_pose"
    context_topic: str = "robomem/context"
    query_service: str = "robomem/query"
    max_stamp_age: float = 30.0  # s; older frames (vs. the node clock) are rejected as stale
    update_queue: int = 4  # frames waiting for Memory.update; the oldest is dropped past this
    sensor_qos: str = "sensor_data"  # "sensor_data" (best effort, like camera drivers) or "reliable"
    # s a frame may wait for /tf to cover its stamp before it is rejected: /tf was measured arriving up to
    # 2.4 s late on a loaded 2-core machine (2 s rejected 12 of 60 frames), so 5 s (2x that, with margin)
    tf_wait: float = 5.0
    max_pending: int = 32  # frames waiting for /tf or camera info (~3.4 MB each at 640x480); then the oldest goes
    marker_period: float = 1.0  # s between MarkerArray publications
    diagnostics_period: float = 1.0
    k: int = 12  # entries returned by a query by default
    pose_type: str = "pose_stamped"  # message type on topics.pose: "pose_stamped" or "odometry"
    # nav_msgs/OccupancyGrid the planner ranks places by path length on (the map server's, latched);
    # "" or no map received: straight-line distance
    map_topic: str = "map"
    robot_radius: float = 0.25  # m, obstacles in the map are grown by this (the robot's centre stays clear)

    RANGES: ClassVar[Mapping[str, Rule]] = {
        "max_stamp_age": GT0,
        "update_queue": GE1,
        "sensor_qos": Rule(choices=("sensor_data", "reliable")),
        "tf_wait": GE0,
        "max_pending": GE1,
        "marker_period": GT0,
        "diagnostics_period": GT0,
        "k": GE1,
        "pose_type": Rule(choices=("pose_stamped", "odometry")),
        "robot_radius": GE0,
    }


@dataclass(frozen=True)
class RosSection:
    """``ros:``: topics, frames, pose source, sync and node options, shared by the nodes and replay."""

    robot_id: str = "robot"
    topics: TopicMap = field(default_factory=TopicMap)
    frames: RosFrames = field(default_factory=RosFrames)
    pose: RosPose = field(default_factory=RosPose)
    sync: RosSync = field(default_factory=RosSync)
    node: NodeOptions = field(default_factory=NodeOptions)


@dataclass(frozen=True)
class ReplaySection(Checked):
    """``replay:``: what only log replay reads; ``slop``, ``queue_size``, ``robot_id`` override ``ros:``."""

    rate: float = 0.0  # 0: as fast as memory allows; 1.0: recorded rate
    max_frame_rate: float = 0.0  # Hz of sensor time; 0: every synced frame enters memory
    tf_tolerance: float = 0.1  # s, hold the nearest transform this far outside the stamped range
    use_header_stamps: bool = True
    # "process" (default): a forked child reads and decodes the bag while this process updates memory
    # (benchmarks/replay.py, idle 2-core machine: 13.4x real time against 8.0x in one process); it needs a
    # free second core to pay.  "inline": one process (also where fork or a second core is missing)
    decoder: str = "process"
    slop: float | None = None
    queue_size: int | None = None
    robot_id: str | None = None

    RANGES: ClassVar[Mapping[str, Rule]] = {"rate": GE0, "max_frame_rate": GE0, "tf_tolerance": GE0}

    def __post_init__(self) -> None:
        super().__post_init__()
        for key, rule in (("slop", GE0), ("queue_size", GE1)):
            v = getattr(self, key)
            why = None if v is None else rule.violation(v)
            if why is not None:
                raise RangeError(type(self).__name__, key, why)


@dataclass(frozen=True)
class ConfigFile:
    """The whole config file, every section checked. ``explicit_topics``: roles the file names a topic for."""

    memory: MemoryConfig = field(default_factory=MemoryConfig)
    ros: RosSection = field(default_factory=RosSection)
    replay: ReplaySection = field(default_factory=ReplaySection)
    store_path: str = ""
    source: str = ""  # the file it came from ("" = defaults or a dict)
    explicit_topics: frozenset[str] = frozenset()


_FILE_SECTIONS = ("memory", "ros", "replay", "store_path")


def load_config(path: str | Path | None) -> ConfigFile:
    """Read and check the whole config file (all sections); ``None`` gives the defaults."""
    if path is None or str(path) == "":
        return ConfigFile()
    return config_from_dict(load_yaml(path), str(path))


def config_from_dict(data: Mapping[str, Any], source: str = "") -> ConfigFile:
    """A :class:`ConfigFile` from the parsed file; errors name the file (if any) and the dotted key."""
    try:
        return _config_from_dict(data, source)
    except ConfigError as exc:  # the checks below never name the file: add it once here
        if source:
            raise ConfigError(f"{source}: {exc}") from None
        raise


def _config_from_dict(data: Mapping[str, Any], source: str) -> ConfigFile:
    if not isinstance(data, Mapping):
        raise ConfigError(f"top level must be a mapping, got {type(data).__name__}")
    unknown = sorted(set(map(str, data)) - set(_FILE_SECTIONS))
    if unknown:
        raise ConfigError(f"unknown top-level key {unknown[0]!r} (known: {', '.join(_FILE_SECTIONS)})")
    ros = data.get("ros")
    ros = {} if ros is None else ros
    if not isinstance(ros, Mapping):
        raise ConfigError(f"ros: expected a mapping, got {type(ros).__name__}")
    topics = ros.get("topics")
    topics = {} if topics is None else topics
    if not isinstance(topics, Mapping):
        raise ConfigError(f"ros.topics: expected a mapping of role -> topic, got {type(topics).__name__}")
    ros_clean: dict[str, Any] = {k: ({} if v is None else v) for k, v in ros.items()}
    if topics:  # an empty topic (``detections:``) means "not used"
        ros_clean["topics"] = {k: ("" if v is None else v) for k, v in topics.items()}
    store_path = data.get("store_path")
    if store_path is not None and not isinstance(store_path, str):
        raise ConfigError(f"store_path: expected a string, got {show(store_path)}")
    replay = data.get("replay")
    return ConfigFile(
        memory=from_dict(MemoryConfig, {} if data.get("memory") is None else data["memory"], "memory"),
        ros=from_dict(RosSection, ros_clean, "ros"),
        replay=from_dict(ReplaySection, {} if replay is None else replay, "replay"),
        store_path=store_path or "",
        source=source,
        explicit_topics=frozenset(str(k) for k, v in topics.items() if v),
    )


def load_yaml(path: str | Path) -> dict[str, Any]:
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"config {p}: cannot read: {exc}") from exc
    data = parse_bounded(text, f"config {p}")
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"config {p}: top level must be a mapping, got {type(data).__name__}")
    return data


def from_dict(cls: type[T], data: Any, where: str) -> T:
    """Build dataclass ``cls`` from ``data``, checking keys and types recursively."""
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a mapping, got {type(data).__name__}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(map(str, data)) - set(fields))
    if unknown:
        raise ConfigError(f"{where}: unknown key {unknown[0]!r} (known: {', '.join(sorted(fields))})")
    kwargs: dict[str, Any] = {}
    for name, value in data.items():
        kwargs[name] = _coerce(hints[name], value, f"{where}.{name}")
    try:
        return cls(**kwargs)
    except RangeError as exc:  # name the full dotted key, not the class
        raise RangeError(where, exc.key, exc.reason) from None


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
            except ConfigError as exc:
                errors.append(str(exc))
        raise ConfigError(errors[0] if errors else f"{where}: invalid value {show(value)}")
    if origin in (tuple, list):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where}: expected a list, got {type(value).__name__}")
        (inner, *_rest) = typing.get_args(tp) or (Any,)
        items = [_coerce(inner, v, f"{where}[{i}]") for i, v in enumerate(value)]
        return tuple(items) if origin is tuple else items
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a mapping, got {type(value).__name__}")
        return dict(value)
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{where}: expected true/false, got {show(value)}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{where}: expected an integer, got {show(value)}")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{where}: expected a number, got {show(value)}")
        try:
            v = float(value)
        except OverflowError:
            raise ConfigError(f"{where}: out of range, got {show(value)}") from None
        if v != v or v in (float("inf"), float("-inf")):
            raise ConfigError(f"{where}: must be finite, got {show(value)}")
        return v
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"{where}: expected a string, got {show(value)}")
        return value
    return value
