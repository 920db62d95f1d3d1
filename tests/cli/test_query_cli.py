"""robomem query: free text and structured verbs over a store built from the fixture bag."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from robomem import Memory, MemoryConfig
from robomem.cli.main import main as cli
from robomem.io.replay import replay

FIXTURE = Path(__file__).parents[1] / "data" / "tour.mcap"


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    p = tmp_path_factory.mktemp("q") / "store"
    with Memory.open(p, MemoryConfig.from_dict({"embedder": "hash"})) as mem:
        replay(FIXTURE, mem)
    return p


def _json(capsys: pytest.CaptureFixture[str], *args: str) -> dict:
    assert cli(["query", *args, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_free_text_question(store: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(["query", str(store), "where is the red mug?"]) == 0
    out = capsys.readouterr().out
    assert "red mug" in out.splitlines()[0]
    res = _json(capsys, str(store), "where is the red mug?")
    assert res["verb"] == "retrieve" and res["results"]
    assert any("red mug" in r["text"] for r in res["results"][:3])


def test_locate_and_last_seen(store: Path, capsys: pytest.CaptureFixture[str]) -> None:
    res = _json(capsys, str(store), "locate", "book")
    assert [r["label"] for r in res["results"]] == ["book"]
    res = _json(capsys, str(store), "last-seen", "red", "mug")
    rows = res["results"]
    assert len(rows) == 1 and rows[0]["absent_since"] is None  # moved, merged, present at its new place
    assert np.allclose(rows[0]["position"][:2], [2.35, 0.2], atol=0.1)
    assert cli(["query", str(store), "last-seen", "red mug"]) == 0
    assert "red mug" in capsys.readouterr().out


def test_changes_since(store: Path, capsys: pytest.CaptureFixture[str]) -> None:
    res = _json(capsys, str(store), "changes", "--since", "-1.0")
    kinds = {(r["label"], r["kind"]) for r in res["results"]}
    assert ("red mug", "moved") in kinds  # seen at its new place, then its old place empty: one mug, moved
    assert cli(["query", str(store), "changes"]) == 2
    assert "--since" in capsys.readouterr().err


def test_objects_and_facts(store: Path, capsys: pytest.CaptureFixture[str]) -> None:
    res = _json(capsys, str(store), "objects")
    assert len(res["results"]) == 6
    res = _json(capsys, str(store), "facts")
    assert res["verb"] == "facts" and isinstance(res["results"], list)


def test_missing_store_is_an_error_and_creates_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(["query", str(tmp_path / "nope"), "objects"]) == 2
    assert "no robomem store" in capsys.readouterr().err
    assert not (tmp_path / "nope").exists()
