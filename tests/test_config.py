"""Configuration: YAML and dict loading, unknown keys, types and ranges; anything else is a ValueError."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from robomem import MemoryConfig
from robomem.config import (
    BudgetConfig,
    ConfigFile,
    EpisodicConfig,
    RetrievalConfig,
    SemanticConfig,
    SpatialConfig,
    TemporalConfig,
    load_config,
)
from robomem.errors import ConfigError
from robomem.io.ros_io import RosIoConfig
from robomem.nodes.settings import NodeSettings

ROOT = Path(__file__).resolve().parents[1]


def _write(tmp_path: Path, text: str | bytes, name: str = "c.yaml") -> Path:
    p = tmp_path / name
    if isinstance(text, bytes):
        p.write_bytes(text)
    else:
        p.write_text(text, encoding="utf-8")
    return p


def test_shipped_config_file_loads() -> None:
    cfg = MemoryConfig.from_yaml(ROOT / "config" / "robomem.yaml")
    assert cfg.spatial.voxel_size == 0.03 and cfg.spatial.pixel_stride == 0 and cfg.workers == 4
    assert cfg.budget.check_every == 500 and cfg.retrieval.min_relevance == 0.35


def test_valid_yaml_sets_every_section_and_keeps_defaults(tmp_path: Path) -> None:
    p = _write(
        tmp_path,
        """
memory:
  embedder: hash
  workers: 2
  spatial: {voxel_size: 0.05, pixel_stride: 3, max_depth: 6}   # an int where a float is expected is fine
  temporal: {moved_distance: 0.5}
  episodic: {neighbours: 2}
  semantic: {usually_min_count: 4}
  retrieval: {w_distance: 0.0, recency_tau: 60}
  budget: {max_sighting_rows: 1000, check_every: 10}
ros: {anything: goes}   # other sections belong to other readers
""",
    )
    cfg = MemoryConfig.from_yaml(p)
    assert cfg.embedder == "hash" and cfg.workers == 2
    assert cfg.spatial == SpatialConfig(voxel_size=0.05, pixel_stride=3, max_depth=6.0)
    assert isinstance(cfg.spatial.max_depth, float)
    assert cfg.temporal == TemporalConfig(moved_distance=0.5)
    assert cfg.episodic.neighbours == 2 and cfg.semantic.usually_min_count == 4
    assert cfg.retrieval == RetrievalConfig(w_distance=0.0, recency_tau=60.0)
    assert cfg.budget == BudgetConfig(max_sighting_rows=1000, check_every=10)
    assert cfg.spatial.min_points == SpatialConfig().min_points  # untouched keys keep defaults
    # The whole file with section=None is not a memory config: its top-level keys are unknown.
    with pytest.raises(ValueError, match="unknown key 'memory'"):
        MemoryConfig.from_yaml(p, section=None)


@pytest.mark.parametrize("text", ["", "# only a comment\n", "memory:\n", "memory: null\n", "other: {a: 1}\n"])
def test_empty_config_gives_defaults(tmp_path: Path, text: str) -> None:
    assert MemoryConfig.from_yaml(_write(tmp_path, text)) == MemoryConfig()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("memory: {wokers: 2}", "memory: unknown key 'wokers'"),
        ("memory: {spatial: {voxel: 0.1}}", "memory.spatial: unknown key 'voxel'"),
        ("memory: {budget: {max_rows: 1}}", "memory.budget: unknown key 'max_rows'"),
        ("memory: {1: 2}", "unknown key '1'"),
    ],
)
def test_unknown_keys_are_rejected_with_the_key_named(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        MemoryConfig.from_yaml(_write(tmp_path, text))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("memory: {workers: 2.5}", "memory.workers: expected an integer, got 2.5"),
        ("memory: {workers: true}", "memory.workers: expected an integer, got True"),
        ("memory: {workers: '4'}", "memory.workers: expected an integer"),
        ("memory: {spatial: {voxel_size: fine}}", "memory.spatial.voxel_size: expected a number, got 'fine'"),
        ("memory: {spatial: {voxel_size: .nan}}", "memory.spatial.voxel_size: must be finite"),
        ("memory: {spatial: {max_depth: .inf}}", "memory.spatial.max_depth: must be finite"),
        ("memory: {spatial: {voxel_size: 1" + "0" * 400 + "}}", "memory.spatial.voxel_size: out of range"),
        ("memory: {spatial: [1, 2]}", "memory.spatial: expected a mapping, got list"),
        ("memory: {spatial: null}", "memory.spatial: expected a mapping, got NoneType"),
        ("memory: {embedder: 3}", "memory.embedder: expected a string, got 3"),
        ("memory: [1, 2]", "memory: expected a mapping, got list"),
        ("memory: {spatial: {voxel_size: 0}}", "voxel_size: must be > 0"),
        ("memory: {spatial: {pixel_stride: -1}}", "pixel_stride: must be >= 0"),
        ("memory: {spatial: {min_points: -3}}", "min_points: must be >= 0"),
        ("memory: {retrieval: {recency_tau: 0}}", "recency_tau: must be > 0"),
    ],
)
def test_type_and_range_errors_name_the_field(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message.replace(".", r"\.").replace("[", r"\[")):
        MemoryConfig.from_yaml(_write(tmp_path, text))


def test_file_problems_are_value_errors_naming_the_file(tmp_path: Path) -> None:
    cases = {
        "missing": (tmp_path / "nope.yaml", "cannot read"),
        "directory": (tmp_path, "cannot read"),
        "not yaml": (_write(tmp_path, "memory: {spatial: [unclosed", "a.yaml"), "not valid YAML"),
        "list": (_write(tmp_path, "- 1\n- 2\n", "b.yaml"), "top level must be a mapping"),
        "scalar": (_write(tmp_path, "42\n", "c.yaml"), "top level must be a mapping"),
        "latin-1": (_write(tmp_path, "memory: {embedder: caf\xe9}".encode("latin-1"), "d.yaml"), "cannot read"),
        # safe_load refuses object construction: no code runs from a config file.
        "python tag": (
            _write(tmp_path, "memory: !!python/object/apply:os.system ['echo pwned']\n", "e.yaml"),
            "not valid YAML",
        ),
    }
    for name, (path, message) in cases.items():
        with pytest.raises(ValueError, match=message) as info:
            MemoryConfig.from_yaml(path)
        assert str(path) in str(info.value), name


def test_yaml_alias_bomb_is_rejected_quickly(tmp_path: Path) -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 9)]
    lines.append("memory: {spatial: *a8}")  # 10^9 leaves if expanded
    import time

    t0 = time.perf_counter()
    with pytest.raises(ValueError, match="expands to more than 100000 values"):
        MemoryConfig.from_yaml(_write(tmp_path, "\n".join(lines)))
    assert time.perf_counter() - t0 < 5


@pytest.mark.parametrize("where", ["memory: {embedder: *a7}", "ros: {topics: {depth: *a7}}", "store_path: *a7"])
def test_alias_bombs_anywhere_are_refused_with_a_short_message(tmp_path: Path, where: str) -> None:
    # 10^8 strings if expanded: the old loader built them (about 60 s, GBs) and then quoted the whole
    # value in the error; now the node graph is measured before anything is constructed.
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 8)]
    with pytest.raises(ConfigError) as info:
        load_config(_write(tmp_path, "\n".join([*lines, where])))
    assert "expands to more than" in str(info.value)
    assert len(str(info.value)) < 300


def test_a_small_alias_is_still_allowed(tmp_path: Path) -> None:
    text = "x: &t /cam/depth\nros: {topics: {depth: *t}}\n"
    with pytest.raises(ConfigError, match="unknown top-level key 'x'"):  # aliases resolve; the anchor key is checked
        load_config(_write(tmp_path, text))
    cfg = load_config(_write(tmp_path, "memory: {spatial: &s {voxel_size: 0.04}}\n"))
    assert cfg.memory.spatial.voxel_size == 0.04


@pytest.mark.parametrize(
    "text",
    ["memory: " + "[" * 5000 + "]" * 5000, "memory:\n" + "".join(f"{' ' * (2 * i)}k{i}:\n" for i in range(1, 90))],
)
def test_deep_nesting_is_a_config_error_not_a_recursion_error(tmp_path: Path, text: str) -> None:
    with pytest.raises(ConfigError, match="nested too deeply"):
        load_config(_write(tmp_path, text))


def test_oversized_values_are_quoted_short_in_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(_write(tmp_path, "memory: {embedder: [" + ", ".join(["word"] * 20000) + "]}\n"))
    assert "memory.embedder: expected a string" in str(info.value)
    assert len(str(info.value)) < 300


def test_from_dict_none_and_non_mappings() -> None:
    assert MemoryConfig.from_dict(None) == MemoryConfig() == MemoryConfig.from_dict({})
    for bad in ([1], "spatial", 3, {"spatial": "x"}):
        with pytest.raises(ValueError):
            MemoryConfig.from_dict(bad)  # type: ignore[arg-type]


# -- random dicts: a MemoryConfig or a ValueError, never another exception ---------------------------
FIELDS = sorted(
    {f.name for f in dataclasses.fields(MemoryConfig)}
    | {f.name for c in (SpatialConfig, TemporalConfig, BudgetConfig, RetrievalConfig) for f in dataclasses.fields(c)}
)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(-(10**400), 10**400),
    st.floats(),
    st.text(max_size=8),
    st.binary(max_size=4),
    st.sampled_from(["auto", "hash", "minilm"]),
)
keys = st.one_of(st.sampled_from(FIELDS), st.text(max_size=6), st.integers(), st.none(), st.booleans())
values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(keys, inner, max_size=4)),
    max_leaves=12,
)


@st.composite
def config_dicts(draw: st.DrawFn) -> dict[Any, Any]:
    out: dict[Any, Any] = draw(st.dictionaries(keys, values, max_size=4))
    for section, cls in (("spatial", SpatialConfig), ("retrieval", RetrievalConfig), ("budget", BudgetConfig)):
        if draw(st.booleans()):  # mostly-valid sections with one hostile value, so typing is reached
            names = [f.name for f in dataclasses.fields(cls)]
            out[section] = {draw(st.sampled_from(names)): draw(scalars)}
    return out


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(config_dicts())
def test_random_dicts_give_a_config_or_a_value_error(data: dict[Any, Any]) -> None:
    try:
        cfg = MemoryConfig.from_dict(data)
    except ValueError as exc:
        assert isinstance(exc, ConfigError), repr(exc)
        assert str(exc).startswith("memory"), str(exc)  # the full dotted key, from the section down
        return
    assert isinstance(cfg, MemoryConfig)
    # What was accepted is well typed: it survives a round trip through a plain dict.
    assert MemoryConfig.from_dict(dataclasses.asdict(cfg)) == cfg
    assert isinstance(cfg.workers, int) and not isinstance(cfg.workers, bool)
    assert all(isinstance(getattr(cfg.spatial, f.name), (int, float)) for f in dataclasses.fields(SpatialConfig))


# -- ranges in every section, and the whole file (memory:, ros:, replay:) through one loader -------------
@pytest.mark.parametrize(
    ("section", "key", "value", "message"),
    [
        ("spatial", "min_label_similarity", 1.5, "must be in [0, 1]"),
        ("spatial", "near_distance", 0, "must be > 0"),
        ("temporal", "moved_distance", 0, "must be > 0"),
        ("temporal", "absence_visible_fraction", -0.1, "must be in (0, 1]"),
        ("temporal", "absence_visible_fraction", 0, "must be in (0, 1]"),  # 0 made false absences
        ("episodic", "write_every", 0, "must be >= 1"),  # was a ZeroDivisionError inside update()
        ("episodic", "embed_batch", 0, "must be >= 1"),
        ("episodic", "max_gap_s", -5, "must be > 0"),
        ("semantic", "visit_window_s", 0, "must be > 0"),  # silently disabled usually-in before
        ("semantic", "usually_min_share", 0, "must be in (0, 1]"),
        ("semantic", "confidence_half_life", 0, "must be > 0"),
        ("retrieval", "min_relevance", 2, "must be in [0, 1]"),
        ("retrieval", "w_recency", -1, "must be >= 0"),
        ("budget", "check_every", 0, "must be >= 1"),
        ("budget", "target_fraction", 1.5, "must be in (0, 1]"),
        ("budget", "max_fact_rows", 0, "must be >= 1"),
    ],
)
def test_out_of_range_values_are_refused_in_every_memory_section(
    section: str, key: str, value: object, message: str
) -> None:
    with pytest.raises(ConfigError) as info:
        MemoryConfig.from_dict({section: {key: value}})
    assert str(info.value).startswith(f"memory.{section}.{key}: {message}"), str(info.value)


def test_range_errors_from_direct_construction_name_the_class_and_field() -> None:
    with pytest.raises(ConfigError, match=r"^EpisodicConfig\.write_every: must be >= 1, got 0$"):
        EpisodicConfig(write_every=0)
    with pytest.raises(ConfigError, match=r"^SemanticConfig\.functional_predicates\[1\]: must be a non-empty"):
        SemanticConfig(functional_predicates=("on", " "))
    with pytest.raises(ConfigError, match="memory.embedder: must be one of auto, minilm, hash"):
        MemoryConfig.from_dict({"embedder": "word2vec"})
    with pytest.raises(ConfigError, match="memory.workers: must be >= 1"):
        MemoryConfig.from_dict({"workers": 0})


def test_the_shipped_file_loads_through_the_one_loader() -> None:
    cf = load_config(ROOT / "config" / "robomem.yaml")
    assert cf.memory == MemoryConfig.from_yaml(ROOT / "config" / "robomem.yaml")
    assert cf.ros.sync.slop == 0.05 and cf.ros.sync.queue_size == 30 and cf.replay.tf_tolerance == 0.1
    assert cf.ros.topics.detections == "" and "depth" in cf.explicit_topics and "detections" not in cf.explicit_topics
    assert load_config(None) == ConfigFile()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("ros: {sync: {slopp: 0.1}}", "ros.sync: unknown key 'slopp'"),  # accepted silently before
        ("ros: {frames: {map: world}}", "ros.frames: unknown key 'map'"),
        ("ros: {pose: {sorce: tf}}", "ros.pose: unknown key 'sorce'"),
        ("ros: {topic: {color: /c}}", "ros: unknown key 'topic'"),
        ("ros: {topics: {colour: /c}}", "ros.topics: unknown key 'colour'"),
        ("ros: {node: {k: 0}}", "ros.node.k: must be >= 1"),
        ("ros: {node: {sensor_qos: fast}}", "ros.node.sensor_qos: must be one of sensor_data, reliable"),
        ("ros: {sync: {queue_size: 0}}", "ros.sync.queue_size: must be >= 1"),
        ("ros: {sync: {slop: -0.1}}", "ros.sync.slop: must be >= 0"),
        ("ros: {pose: {source: gps}}", "ros.pose.source: must be one of tf, topic"),
        ("ros: {topics: {depth: 3}}", "ros.topics.depth: expected a string"),
        ("replay: {rat: 1}", "replay: unknown key 'rat'"),
        ("replay: {max_frame_rate: -1}", "replay.max_frame_rate: must be >= 0"),
        ("replay: {queue_size: 0}", "replay.queue_size: must be >= 1"),
        ("memory: {episodic: {write_every: 0}}", "memory.episodic.write_every: must be >= 1"),
        ("rosbag: {}", "unknown top-level key 'rosbag'"),
        ("store_path: 3", "store_path: expected a string"),
    ],
)
def test_the_one_loader_refuses_bad_keys_and_values_in_every_section(tmp_path: Path, text: str, message: str) -> None:
    p = _write(tmp_path, text)
    for load in (load_config, RosIoConfig.from_yaml, NodeSettings.load):
        with pytest.raises(ConfigError) as info:
            load(p)
        assert str(info.value).startswith(f"{p}: "), str(info.value)  # the file, then the dotted key
        assert message in str(info.value), (load, str(info.value))


def test_ros_io_config_is_built_from_the_checked_sections(tmp_path: Path) -> None:
    p = _write(
        tmp_path,
        """
ros:
  robot_id: r2
  topics: {detections: /det, instances: "", labels: ~, pose: /odom}
  frames: {map_frame: world}
  pose: {source: topic, child_frame: base}
  sync: {slop: 0.02}
replay: {rate: 1.0, slop: 0.04}
""",
    )
    io = RosIoConfig.from_yaml(p)
    assert (io.robot_id, io.map_frame, io.pose_source, io.pose_child_frame) == ("r2", "world", "topic", "base")
    assert io.slop == 0.04 and io.rate == 1.0  # replay: overrides ros.sync for replay
    assert io.topics.detections == "/det" and io.topics.instances == "" and io.topics.labels == ""
    assert io.explicit == frozenset({"detections", "pose"})
    assert NodeSettings.load(p).io.slop == 0.02  # the live nodes do not read replay:
    no_pose = _write(tmp_path, "ros: {pose: {source: topic}}", "n.yaml")
    with pytest.raises(ConfigError, match="ros.pose.source: 'topic' needs a pose topic"):
        RosIoConfig.from_yaml(no_pose)
