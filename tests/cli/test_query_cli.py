"""robomem query: every verb and free text through the one engine, over a store replayed from the fixture bag.

The tour moves the red mug from about (1.77, 0.07) to (2.35, 0.2); the places split the table at x = 2.05,
so the mug moved from "left" to "right".
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from robomem import Memory, MemoryConfig, Place
from robomem.cli.main import main as cli
from robomem.io.replay import replay

FIXTURE = Path(__file__).parents[1] / "data" / "tour.mcap"


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    p = tmp_path_factory.mktemp("q") / "store"
    with Memory.open(p, MemoryConfig.from_dict({"embedder": "hash"})) as mem:
        mem.set_places([Place("left", (-5.0, -5.0), (2.05, 5.0)), Place("right", (2.05, -5.0), (9.0, 5.0))])
        replay(FIXTURE, mem)
    return p


def _json(capsys: pytest.CaptureFixture[str], *args: str, rc: int = 0) -> dict:
    assert cli(["query", *args, "--json"]) == rc
    return json.loads(capsys.readouterr().out)


def test_free_text_routes_to_verbs(store: Path, capsys: pytest.CaptureFixture[str]) -> None:
    res = _json(capsys, str(store), "where is the red mug?")
    assert res["verb"] == "where-now" and res["status"] == "answered"
    assert res["results"][0]["label"] == "red mug" and res["results"][0]["place"] == "right"
    assert res["results"][0]["match"]["how"] == "exact"
    res = _json(capsys, str(store), "how many mugs are there?")
    assert res["verb"] == "count" and res["count"] == 2
    assert {r["label"] for r in res["results"]} == {"red mug", "white mug"}
    assert {r["match"]["how"] for r in res["results"]} == {"head"}
    res = _json(capsys, str(store), "what changed on the left in the last 1 second?")
    assert res["verb"] == "changes" and res["args"]["place"] == "left"
    assert [(r["label"], r["kind"]) for r in res["results"]] == [("red mug", "moved")]
    day = _json(capsys, str(store), "what changed on the left since yesterday?")  # the whole log: all appeared
    assert day["args"]["since"] < res["args"]["since"] and day["results"]
    assert all("left" in (r["place_before"], r["place_after"]) for r in day["results"])
    res = _json(capsys, str(store), "is the red mug still on the left?")
    assert res["verb"] == "still-in" and res["args"]["yes"] is False
    res = _json(capsys, str(store), "when did you last see the book?")
    assert res["verb"] == "last-seen" and res["results"][0]["label"] == "book"
    res = _json(capsys, str(store), "describe the table area")  # fits no verb: retrieval, as before
    assert res["verb"] == "retrieve" and res["results"]


def test_locate_and_last_seen(store: Path, capsys: pytest.CaptureFixture[str]) -> None:
    res = _json(capsys, str(store), "locate", "book")
    assert [r["label"] for r in res["results"]] == ["book"]
    ev = res["evidence"]
    assert ev and ev[0]["kind"] == "sighting" and ev[0]["object_id"] == res["results"][0]["object_id"]
    assert ev[0]["frame"] is not None and ev[0]["stamp"] == res["results"][0]["stamp"]
    res = _json(capsys, str(store), "last-seen", "red", "mug")
    rows = res["results"]
    assert len(rows) == 1 and rows[0]["absent_since"] is None  # moved, merged, present at its new place
    assert np.allclose(rows[0]["position"][:2], [2.35, 0.2], atol=0.1)
    assert cli(["query", str(store), "last-seen", "red mug"]) == 0
    assert "red mug" in capsys.readouterr().out


def test_where_now_where_at_and_why(store: Path, capsys: pytest.CaptureFixture[str]) -> None:
    now = _json(capsys, str(store), "where-now", "red mug")
    assert now["results"][0]["place"] == "right" and now["confidence"] == 1.0
    before = _json(capsys, str(store), "where-at", "red mug", "--at", "-1.5")
    assert before["status"] == "answered" and before["results"][0]["place"] == "left"
    assert before["args"]["time"] == pytest.approx(now["results"][0]["stamp"] - 1.5, abs=0.01)
    early = _json(capsys, str(store), "where-at", "red mug", "--at", "1.0")  # before the log began
    assert early["status"] == "unknown" and early["results"] == []
    assert cli(["query", str(store), "where-at", "red mug"]) == 2
    assert "--at" in capsys.readouterr().err
    why = _json(capsys, str(store), "why", "red mug")
    assert why["verb"] == "why" and any(e["kind"] == "sighting" for e in why["evidence"])


def test_changes_in_a_place(store: Path, capsys: pytest.CaptureFixture[str]) -> None:
    res = _json(capsys, str(store), "changes", "--since", "-1.0")
    kinds = {(r["label"], r["kind"]) for r in res["results"]}
    assert ("red mug", "moved") in kinds  # seen at its new place, then its old place empty: one mug, moved
    right = _json(capsys, str(store), "changes", "right", "--since", "-1.0")
    assert all("right" in (r["place_before"], r["place_after"]) for r in right["results"]) and right["results"]
    assert cli(["query", str(store), "changes", "attic", "--since", "-1"]) == 2
    assert "known places: left, right" in capsys.readouterr().err
    assert cli(["query", str(store), "changes"]) == 2
    assert "--since" in capsys.readouterr().err


@pytest.mark.parametrize(
    "args",
    [
        ("locate", "unicorn"),
        ("locate", "umbrella"),
        ("where-now", "unicorn"),
        ("where-at", "unicorn", "--at", "-1"),
        ("last-seen", "unicorn"),
        ("count", "unicorns"),
        ("why", "unicorn"),
        ("facts", "unicorn"),
        ("where is the unicorn?",),
        ("how many umbrellas are there?",),
        ("when did you last see the giraffe?",),
    ],
)
def test_never_seen_abstains_everywhere(store: Path, capsys: pytest.CaptureFixture[str], args: tuple[str, ...]) -> None:
    res = _json(capsys, str(store), *args, rc=1)
    assert res["abstained"] is True and res["status"] == "not_seen" and res["results"] == []
    assert cli(["query", str(store), *args]) == 1
    assert "have not seen" in capsys.readouterr().out


def test_objects_and_facts(store: Path, capsys: pytest.CaptureFixture[str]) -> None:
    res = _json(capsys, str(store), "objects")
    assert len(res["results"]) == 6
    res = _json(capsys, str(store), "facts")
    assert res["verb"] == "facts" and isinstance(res["results"], list)


def test_missing_store_is_an_error_and_creates_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(["query", str(tmp_path / "nope"), "objects"]) == 2
    assert "no robomem store" in capsys.readouterr().err
    assert not (tmp_path / "nope").exists()


def test_a_known_label_loads_no_text_model(store: Path) -> None:
    from robomem.cli.query import answer, open_store

    mem = open_store(str(store))
    try:
        for words in (["locate", "book"], ["count", "mugs"], ["where-now", "red mug"], ["objects"]):
            assert answer(mem, words)["status"] == "answered"
        res = answer(mem, ["how", "many", "mugs", "are", "there?"])
        assert res["count"] == 2
        assert not mem.embedder.loaded  # every answer came from labels, sightings and absences
    finally:
        mem.close()
