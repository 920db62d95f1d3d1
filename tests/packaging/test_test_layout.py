"""The suite's own layout: test folders have no __init__.py, so two test modules may not share a basename
(pytest's rootdir import mode would refuse to collect the second, and `make test` would stop at collection)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]


def test_no_two_test_modules_share_a_basename() -> None:
    names = Counter(p.name for p in TESTS.rglob("*.py") if p.name != "conftest.py" and "data" not in p.parts)
    assert [n for n, c in names.items() if c > 1] == []
