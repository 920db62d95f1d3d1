"""Replay reports where its wall time goes (issue 14): read, deserialize, assemble, update; and the
decoder process (robomem.io.replay_decode) builds the same store as one process."""

from __future__ import annotations

import multiprocessing
import os
import signal
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from robomem import Memory, MemoryConfig
from robomem.errors import ReplayError
from robomem.io import replay_decode
from robomem.io.replay import STAGES, ReplayConfig, replay
from robomem.io.replay_decode import SLOTS

FIXTURE = Path(__file__).parents[1] / "data" / "tour.mcap"
HASH = {"embedder": "hash"}


@pytest.mark.parametrize("decoder", ["inline", "process"])
def test_stage_split_covers_every_stage_and_fits_in_the_wall_time(tmp_path: Path, decoder: str) -> None:
    with Memory.open(tmp_path / "m", MemoryConfig.from_dict(HASH)) as mem:
        stats = replay(FIXTURE, mem, replace(ReplayConfig(), decoder=decoder))
    assert stats.frames > 0 and stats.decoder == decoder
    assert tuple(stats.stage_s) == STAGES
    assert all(v > 0.0 for v in stats.stage_s.values()), stats.stage_s
    decode = stats.stage_s["read"] + stats.stage_s["deserialize"] + stats.stage_s["assemble"]
    if decoder == "inline":  # one process: the stages take turns
        assert decode + stats.stage_s["update"] <= stats.wall_s
    else:  # the decoder's stages ran in the child, beside the updates
        assert decode <= stats.wall_s and stats.stage_s["update"] <= stats.wall_s
    assert stats.stage_s["update"] > stats.stage_s["read"]  # memory, not the bag, is the cost of a frame
    assert stats.to_dict()["stage_s"].keys() == set(STAGES)


def _contents(store: Path) -> tuple:
    with Memory.open(store, MemoryConfig.from_dict(HASH)) as mem:
        objs = sorted(
            (o.object_id, o.label, tuple(np.round(o.centroid, 6)), o.n_obs, o.last_seen) for o in mem.objects()
        )
        return objs, mem.frames.count(), mem.last_stamp("robot")


@pytest.mark.parametrize("slot_bytes", [None, 1024])
def test_the_decoder_process_builds_the_same_store_as_one_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, slot_bytes: int | None
) -> None:
    """Frames cross in shared-memory slots; one larger than a slot (all of them with 1 KB slots) is pickled."""
    if slot_bytes is not None:
        monkeypatch.setattr(replay_decode, "SLOT_BYTES", slot_bytes)
    runs = {}
    for decoder in ("inline", "process"):
        with Memory.open(tmp_path / decoder, MemoryConfig.from_dict(HASH)) as mem:
            stats = replay(FIXTURE, mem, replace(ReplayConfig(), decoder=decoder))
        d = stats.to_dict()
        runs[decoder] = (
            {k: d[k] for k in ("messages", "frames", "events", "skipped", "objects")},
            _contents(tmp_path / decoder),
        )
    assert runs["inline"] == runs["process"]
    assert runs["process"][0]["frames"] > 0


def test_a_decoder_process_that_dies_is_a_clear_error_and_keeps_the_frames_before(tmp_path: Path) -> None:
    if "fork" not in multiprocessing.get_all_start_methods():
        pytest.skip("no fork on this platform: replay decodes in one process")
    seen: list[int] = []

    def kill_decoder(_result: object) -> None:
        seen.append(1)
        if len(seen) == 2:
            for child in multiprocessing.active_children():
                if child.name == "robomem-replay-decoder":
                    os.kill(child.pid, signal.SIGKILL)

    with Memory.open(tmp_path / "m", MemoryConfig.from_dict(HASH)) as mem:
        with pytest.raises(ReplayError, match="decoder process .* ended without a result"):
            replay(FIXTURE, mem, replace(ReplayConfig(), decoder="process"), on_frame=kill_decoder)
        kept = mem.frames.count()
    # the frames ingested before the kill stay, and those the decoder had already handed over (at most
    # one per shared-memory slot, plus one pickled in the pipe)
    assert 2 <= kept <= 2 + SLOTS + 1
    assert not [c for c in multiprocessing.active_children() if c.name == "robomem-replay-decoder"]
