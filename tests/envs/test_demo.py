"""`robomem demo` end to end at a reduced size: real simulator frames, real Memory/SQLite, ground truth."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("MUJOCO_GL", "egl")
pytest.importorskip("mujoco")
pytest.importorskip("matplotlib")

from robomem.cli.main import main  # noqa: E402
from robomem.envs.household.sim import HouseholdSim  # noqa: E402


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    root = tmp_path_factory.mktemp("demo")
    store, report = root / "store", root / "report"
    rc = main(["demo", "--quick", "--store", str(store), "--report", str(report), "--max-steps", "80"])
    assert rc == 0
    return root, json.loads((report / "results.json").read_text())


def test_report_files_exist(demo_run: tuple[Path, dict]) -> None:
    root, _ = demo_run
    report = root / "report"
    for name in ("topdown.png", "scene_graph.json", "summary.md", "results.json"):
        assert (report / name).is_file() and (report / name).stat().st_size > 0, name
    assert (root / "store" / "memory.db").is_file()
    graph = json.loads((report / "scene_graph.json").read_text())
    assert graph["objects"] and set(graph["places"]) == {"bedroom", "study", "hallway", "kitchen", "living room"}
    assert any(r["predicate"] == "in_room" for r in graph["relations"])
    summary = (report / "summary.md").read_text()
    assert "with memory" in summary.lower() and "topdown.png" in summary


def test_png_is_a_valid_image(demo_run: tuple[Path, dict]) -> None:
    from PIL import Image

    root, _ = demo_run
    with Image.open(root / "report" / "topdown.png") as im:
        im.verify()
    with Image.open(root / "report" / "topdown.png") as im:
        assert im.format == "PNG" and im.size == (1300, 800)
        px = np.asarray(im.convert("RGB").resize((64, 40))).reshape(-1, 3)
        assert len({tuple(p) for p in px.tolist()}) > 50  # a drawing, not a blank canvas


def test_tasks_come_from_ground_truth(demo_run: tuple[Path, dict]) -> None:
    _, res = demo_run
    moved = {c["label"]: c for c in res["changes"] if c["kind"] == "move"}
    touched = {c["label"] for c in res["changes"]}
    fetch = [r for r in res["rows"] if r["kind"] == "fetch"]
    questions = [r for r in res["rows"] if r["kind"] == "question"]
    assert any(r["label"] in moved for r in fetch), "a fetch task targets a moved object"
    assert any(r["label"] not in touched for r in fetch), "a fetch task targets an object that did not move"
    assert questions, "a yes/no question"
    for q in questions:
        if q["label"] in moved and q["room"] == moved[q["label"]]["from_room"]:
            assert q["truth"] == "no"


def test_answers_checked_against_ground_truth(demo_run: tuple[Path, dict]) -> None:
    """Replay the same seed's night in a fresh simulator and recompute every truth independently."""
    _, res = demo_run
    sim = HouseholdSim(seed=res["seed"])
    try:
        sim.next_day()
        states = sim.object_states().values()
        for row in res["rows"]:
            rooms = {s.room for s in states if s.label == row["label"] and s.present}
            if row["kind"] == "question":
                truth = "yes" if row["room"] in rooms else "no"
                assert row["truth"] == truth
                for mode in ("memory", "no_memory"):
                    assert row[mode]["correct"] == (row[mode]["answer"] == truth)
            else:
                assert row["truth"] in " / ".join(sorted(rooms))
                for mode in ("memory", "no_memory"):
                    if row[mode]["success"]:
                        assert row[mode]["answer"].removeprefix("found in the ") in rooms
    finally:
        sim.close()


def test_memory_helps(demo_run: tuple[Path, dict]) -> None:
    _, res = demo_run
    t = res["totals"]
    mem, nomem = t["memory"], t["no_memory"]
    assert mem["success"] >= nomem["success"] or mem["steps"] < nomem["steps"]
    # memory answers questions from what it saw: at least as many right as looking without memory
    assert mem["right"] >= 1


def test_every_loss_is_explained_and_every_search_is_an_episode(demo_run: tuple[Path, dict]) -> None:
    root, res = demo_run
    lost = {line.split(" ", 1)[0] for line in res["losses"]}
    for k, r in enumerate(res["rows"], 1):
        m, n = r["memory"], r["no_memory"]
        is_loss = r["kind"] == "fetch" and (not m["success"] or (n["success"] and m["steps"] > n["steps"]))
        assert (f"T{k}" in lost) == is_loss, (k, m["steps"], n["steps"])
        if m["search"] is not None:  # memory's searches are recorded in episodic memory; exploration has none
            assert m["search"]["episode_id"] is not None
        if n["search"] is not None:
            assert n["search"]["episode_id"] is None
    for line in res["losses"]:
        assert "why:" in line and "Decisions: go:" in line
    # the candidates a search reports are the "go:" lines of its decision log, in order (the loss text is built
    # from them, so it cannot name a place the log does not show, nor in another order)
    for r in res["rows"]:
        for mode in ("memory", "no_memory"):
            s = r[mode]["search"]
            if s is None:
                continue
            gone = [line for line in s["log"] if line.startswith("go: ")]
            assert len(gone) == len(s["tried"]), (gone, s["tried"])
            for line, (kind, place) in zip(gone, s["tried"], strict=True):
                assert line.startswith(f"go: {kind} ") and (place is None or f" {place} (confidence" in line)
    summary = (root / "report" / "summary.md").read_text()
    assert "## Where memory lost" in summary
