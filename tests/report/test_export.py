"""robomem export: scene graph JSON, PLY clouds, snapshot PNGs and the top-down map."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from robomem import Memory, MemoryConfig
from robomem.cli.main import main as cli
from robomem.io.replay import replay
from robomem.report.export import read_ply, write_ply
from robomem.report.topdown import topdown_data

FIXTURE = Path(__file__).parents[1] / "data" / "tour.mcap"


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    p = tmp_path_factory.mktemp("e") / "store"
    with Memory.open(p, MemoryConfig.from_dict({"embedder": "hash"})) as mem:
        replay(FIXTURE, mem)
    return p


def test_ply_round_trip(tmp_path: Path) -> None:
    pts = np.random.default_rng(1).normal(size=(50, 3)).astype(np.float32)
    cols = np.full((50, 3), 200, np.uint8)
    for binary in (True, False):
        p = write_ply(tmp_path / f"x{binary}.ply", pts, cols, binary=binary)
        assert np.allclose(read_ply(p), pts, atol=1e-4)
    o3d = pytest.importorskip("open3d")
    pc = o3d.io.read_point_cloud(str(tmp_path / "xTrue.ply"))
    assert np.allclose(np.asarray(pc.points), pts, atol=1e-5)
    assert np.allclose(np.asarray(pc.colors), 200 / 255, atol=1e-3)


def test_export_writes_everything(store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    assert cli(["export", str(store), "--out", str(out)]) == 0
    assert "exported 6 objects" in capsys.readouterr().out  # the moved mug is one object
    sg = json.loads((out / "scene_graph.json").read_text())
    assert len(sg["objects"]) == 6
    by_id = {o["id"]: o["label"] for o in sg["objects"]}
    on = {(by_id[r["subject"]], by_id[r["object"]]) for r in sg["relations"] if r["predicate"] == "on"}
    assert ("book", "table") in on
    plys = sorted((out / "objects").glob("*.ply"))
    assert len(plys) == 6
    mug = read_ply(next(p for p in plys if "red_mug" in p.name))
    assert len(mug) > 10 and 0.7 < float(np.median(mug[:, 2])) < 1.0
    snaps = json.loads((out / "snapshots.json").read_text())
    assert snaps and all((out / s["image"]).exists() for s in snaps)
    img = Image.open(out / "topdown.png")
    assert img.size[0] > 500 and img.size[1] > 400
    assert len(np.unique(np.asarray(img.convert("L")))) > 20  # a drawn map, not a blank canvas


def test_topdown_marks_moved_and_absent(store: Path) -> None:
    with Memory.open(store, MemoryConfig.from_dict({"embedder": "hash"})) as mem:
        d = topdown_data(mem)
        # the mug was seen at its new place before its old place was seen empty: one identity, moved
        assert not [o for o in d.objects if o.status == "absent"]
        (mug,) = [o for o in d.objects if o.label == "red mug"]
        assert len(d.moves) == 1 and d.moves[0].object_id == mug.object_id
        assert np.linalg.norm(np.subtract(d.moves[0].after[:2], (2.35, 0.2))) < 0.1
        assert len(d.trajectory) == 20 and len(d.snapshots) >= 1


def test_export_missing_store(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(["export", str(tmp_path / "none")]) == 2
    assert "no robomem store" in capsys.readouterr().err


def test_a_damaged_keyframe_is_skipped_and_reported(
    store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import shutil

    copy = tmp_path / "store"
    shutil.copytree(store, copy)
    blobs = sorted(p for p in (copy / "blobs").rglob("*") if p.is_file())
    assert len(blobs) >= 2
    data = bytearray(blobs[0].read_bytes())
    data[-10] ^= 0x55  # one damaged keyframe (a flipped byte: the PNG may even still decode)
    blobs[0].write_bytes(bytes(data))
    out = tmp_path / "export"
    assert cli(["export", str(copy), "--out", str(out), "--json"]) == 0
    captured = capsys.readouterr()
    manifest = json.loads(captured.out)
    assert len(manifest["skipped"]) == 1 and "is damaged" in manifest["skipped"][0]
    assert "skipped snapshot" in captured.err
    pngs = list((out / "snapshots").glob("*.png"))
    assert len(pngs) == manifest["snapshots"] - 1  # every other keyframe is exported
