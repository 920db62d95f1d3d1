"""`robomem eval` at its smallest: one seed, one day, no search episodes; JSON with per-type accuracy."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

os.environ.setdefault("MUJOCO_GL", "egl")
pytest.importorskip("mujoco")

from robomem.cli.main import main  # noqa: E402
from robomem.envs.evaluation import QA_TYPES  # noqa: E402


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> dict:
    out = tmp_path_factory.mktemp("eval") / "eval.json"
    rc = main(
        [
            "eval",
            "--seeds",
            "3",
            "--days",
            "2",
            "--episodes",
            "1",
            "--max-steps",
            "60",
            "--json-out",
            str(out),
            "--quiet",
        ]
    )
    assert rc == 0
    return json.loads(Path(out).read_text())


def test_per_type_accuracy(results: dict) -> None:
    qa = results["qa"]
    for qtype in ("where_now", "where_at", "last_seen", "count", "never_seen", "changes"):
        assert qtype in qa, qtype
    for qtype, row in qa.items():
        assert qtype in QA_TYPES
        assert row["n"] > 0
        assert 0.0 <= row["accuracy"] <= 1.0
    assert 0.0 <= qa["changes"]["f1"] <= 1.0
    assert len(results["questions"]) == sum(row["n"] for row in qa.values())


def test_never_seen_objects_are_abstained(results: dict) -> None:
    never = [q for q in results["questions"] if q["type"] == "never_seen"]
    assert never and all(q["truth"] == "abstain" for q in never)
    assert results["qa"]["never_seen"]["accuracy"] == 1.0
    assert all(q["answer"] is None for q in never)


def test_search_summary(results: dict) -> None:
    s = results["search"]
    assert s["episodes"] == 1
    for mode in ("memory", "no_memory"):
        assert 0.0 <= s[mode]["success_rate"] <= 1.0
        assert s[mode]["mean_steps"] <= results["config"]["max_steps"]


def test_bad_arguments() -> None:
    assert main(["eval", "--days", "0", "--quiet"]) == 2
