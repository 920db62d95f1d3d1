"""Bad numbers on the command line, stored text with escape bytes, and a closed pipe (issue 16).

Every subcommand's numeric options go through robomem/cli/args.py: a bad value is exit status 2
with the option named, before the command runs (no ZeroDivisionError from ``record --rate 0``,
no IndexError from ``--frames -5``, no "no object matches" for ``-k 0``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from robomem import Memory, MemoryConfig
from robomem.cli.main import main as cli
from robomem.cli.terminal import PIPE_CLOSED, safe
from robomem.testing.synthetic import Box, BoxScene, look_at


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real store holding a mug and an object whose label carries a terminal escape sequence."""
    p = tmp_path_factory.mktemp("args") / "store"
    boxes = [
        Box(1, "red mug", (1.8, 0.1, 0.8), (0.1, 0.1, 0.1), (220, 30, 30)),
        Box(2, "evil\x1b[2Jlabel", (2.2, -0.15, 0.77), (0.25, 0.18, 0.1), (30, 60, 200)),
    ]
    scene = BoxScene(boxes)
    with Memory.open(p, MemoryConfig.from_dict({"embedder": "hash"})) as mem:
        for i in range(4):
            mem.update(scene.observe(look_at((0.0, 0.05 * i, 1.2), (2.0, 0.0, 0.8)), stamp=float(i)))
        assert len(mem.objects()) == 2
    return p


@pytest.mark.parametrize(
    ("args", "option", "why"),
    [
        (["query", "STORE", "locate", "mug", "-k", "0"], "-k/--k", "must be an integer >= 1, got 0"),
        (["query", "STORE", "locate", "mug", "-k", "-1"], "-k/--k", "must be an integer >= 1, got -1"),
        (["query", "STORE", "changes", "--since", "nan"], "--since", "must be a finite number"),
        (["query", "STORE", "where-at", "mug", "--at", "inf"], "--at", "must be a finite number"),
        (["record", "OUT.mcap", "--frames", "0"], "--frames", "must be an integer >= 1, got 0"),
        (["record", "OUT.mcap", "--frames", "-5"], "--frames", "must be an integer >= 1, got -5"),
        (["record", "OUT.mcap", "--rate", "0"], "--rate", "must be a number > 0, got 0"),
        (["record", "OUT.mcap", "--width", "3"], "--width", "must be an integer in [16, 8192], got 3"),
        (["eval", "--days", "0"], "--days", "must be an integer >= 1, got 0"),
        (["eval", "--max-steps", "x"], "--max-steps", "expected an integer, got 'x'"),
        (["demo", "--seed", "-1"], "--seed", "must be an integer in [0, 4294967295], got -1"),
        (["replay", "BAG", "--rate", "-2"], "--rate", "must be a number >= 0, got -2"),
        (["replay", "BAG", "--slop", "0"], "--slop", "must be a number > 0, got 0"),
    ],
)
def test_bad_numbers_are_refused_with_the_option_named(
    args: list[str], option: str, why: str, store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = [str(store) if a == "STORE" else str(tmp_path / a) if a.isupper() or "." in a else a for a in args]
    assert cli(argv) == 2
    err = capsys.readouterr().err
    assert f"argument {option}: {why}" in err, err
    assert not (tmp_path / "OUT.mcap").exists()  # refused before anything was written


def test_good_numbers_still_work(store: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(["query", str(store), "locate", "red mug", "-k", "1", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert len(out["results"]) == 1 and out["results"][0]["label"] == "red mug"


def test_escape_bytes_in_stored_labels_are_printed_escaped(store: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(["query", str(store), "objects"]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out
    assert "evil\\x1b[2Jlabel" in out  # shown, not executed by the terminal
    # --json keeps the label exact (JSON escapes it), so tools get the stored value back
    assert cli(["query", str(store), "objects", "--json"]) == 0
    labels = {r["label"] for r in json.loads(capsys.readouterr().out)["results"]}
    assert "evil\x1b[2Jlabel" in labels


def test_safe_keeps_printable_text_and_escapes_controls() -> None:
    assert safe("tasse à café\tmug") == "tasse à café\tmug"
    assert safe("a\nb\rc\x07d\u202ee") == "a\\nb\\rc\\x07d\\u202ee"


def test_a_closed_pipe_is_a_quiet_exit(store: Path) -> None:
    # `robomem query STORE objects --json | head -c 10`: the reader goes away after 10 bytes
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    cmd = f"{sys.executable} -m robomem.cli.main query {store} objects --json | head -c 10"
    r = subprocess.run(["bash", "-o", "pipefail", "-c", cmd], capture_output=True, text=True, env=env, timeout=120)
    assert len(r.stdout) == 10
    assert "Traceback" not in r.stderr and "BrokenPipeError" not in r.stderr, r.stderr
    assert r.returncode in (0, PIPE_CLOSED), (r.returncode, r.stderr)
