"""Memory.reconfigure: the thresholds read per frame or query change on an open store; what shapes stored
data (voxel size, the embedder, workers) is refused naming the field, and nothing is applied."""

from __future__ import annotations

import dataclasses
import threading

import pytest

from robomem import Memory, MemoryConfig
from robomem.errors import ConfigError
from robomem.memory import LIVE_CONFIG
from robomem.testing.synthetic import BoxScene, demo_boxes, look_at

TARGET = (2.3, -0.3, 0.7)
VIEW_A, VIEW_B = (0.5, -0.3, 1.4), (0.6, 0.1, 1.4)


def _cfg(**spatial: float) -> MemoryConfig:
    base = MemoryConfig.from_dict({"embedder": "hash"})
    return dataclasses.replace(base, spatial=dataclasses.replace(base.spatial, **spatial))


def test_a_live_threshold_changes_what_the_next_frame_does(tmp_path):
    scene = BoxScene(demo_boxes())
    with Memory.open(tmp_path / "m", _cfg()) as mem:
        first = mem.update(scene.observe(look_at(VIEW_A, TARGET), 1.0))
        again = mem.update(scene.observe(look_at(VIEW_B, TARGET), 2.0))
        # the default threshold: the same objects again, associated directly
        assert first.new_objects and not again.new_objects and not again.merged
        n = len(mem.objects())
        # no detection reaches an unreachable threshold: each becomes a new object, found to be a duplicate of
        # the one it overlaps and merged back right after the frame
        changed = mem.reconfigure(_cfg(match_threshold=1e6))
        assert changed == ("spatial.match_threshold",) and mem.config.spatial.match_threshold == 1e6
        assert mem.spatial.config.spatial.match_threshold == 1e6  # the submodules read the same config
        third = mem.update(scene.observe(look_at(VIEW_A, TARGET), 3.0))
        assert len(third.merged) == n and {keep for keep, _drop in third.merged} == set(third.object_ids.values())
        assert len(mem.objects()) == n
        assert mem.reconfigure(mem.config) == ()  # no change: nothing to do


def test_fields_that_shape_stored_data_are_refused_and_nothing_is_applied(tmp_path):
    with Memory.open(tmp_path / "m", _cfg()) as mem:
        before = mem.config
        with pytest.raises(ConfigError, match=r"memory\.spatial\.voxel_size: cannot change while the store is open"):
            mem.reconfigure(_cfg(voxel_size=0.05, match_threshold=2.0))
        assert mem.config is before and mem.config.spatial.match_threshold == before.spatial.match_threshold
        with pytest.raises(ConfigError, match=r"memory\.workers"):
            mem.reconfigure(dataclasses.replace(before, workers=2))
        with pytest.raises(ConfigError, match="expected a MemoryConfig, got dict"):
            mem.reconfigure({"spatial": {"match_threshold": 2.0}})  # type: ignore[arg-type]
        with pytest.raises(ConfigError, match="match_threshold: must be >= 0"):  # the dataclass checks values
            _cfg(match_threshold=-1.0)
    assert "spatial.voxel_size" not in LIVE_CONFIG and "embedder" not in LIVE_CONFIG
    assert {"spatial.match_threshold", "temporal.absence_visible_fraction", "retrieval.min_relevance"} <= LIVE_CONFIG


def test_reconfigure_waits_for_readers(tmp_path):
    with Memory.open(tmp_path / "m", _cfg()) as mem:
        done = threading.Event()
        with mem.reading():
            t = threading.Thread(target=lambda: (mem.reconfigure(_cfg(match_threshold=3.0)), done.set()))
            t.start()
            assert not done.wait(0.3) and mem.config.spatial.match_threshold != 3.0  # a reader sees one config
        t.join(timeout=10)
        assert done.is_set() and mem.config.spatial.match_threshold == 3.0


def test_one_list_of_live_fields() -> None:
    # memory.py once kept its own copy of the list, which missed association_radius: the node said
    # "applied live" and Memory.reconfigure refused it
    import robomem.config

    assert LIVE_CONFIG is robomem.config.LIVE_CONFIG
    assert "spatial.association_radius" in LIVE_CONFIG
