"""Replay reports where its wall time goes (issue 14): read, deserialize, assemble, update."""

from __future__ import annotations

from pathlib import Path

from robomem import Memory, MemoryConfig
from robomem.io.replay import STAGES, replay

FIXTURE = Path(__file__).parents[1] / "data" / "tour.mcap"


def test_stage_split_covers_every_stage_and_fits_in_the_wall_time(tmp_path: Path) -> None:
    with Memory.open(tmp_path / "m", MemoryConfig.from_dict({"embedder": "hash"})) as mem:
        stats = replay(FIXTURE, mem)
    assert stats.frames > 0
    assert tuple(stats.stage_s) == STAGES
    assert all(v > 0.0 for v in stats.stage_s.values()), stats.stage_s
    assert sum(stats.stage_s.values()) <= stats.wall_s
    assert stats.stage_s["update"] > stats.stage_s["read"]  # memory, not the bag, is the cost of a frame
    assert stats.to_dict()["stage_s"].keys() == set(STAGES)
