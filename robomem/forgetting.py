"""Forgetting under a budget (placeholder until issue 3 lands)."""

from __future__ import annotations

from typing import Any


def enforce_budget(memory: Any) -> dict[str, Any]:
    return {}
