"""The built-in household simulator (MuJoCo, headless): a multi-room house with movable,
labelled objects, a Habitat-like camera agent, seeded day-to-day changes with ground truth,
a gymnasium environment ``robomem/Household-v0`` and an adapter to robomem Observations.

Importing this package is cheap; MuJoCo loads when a simulator class is first used.
"""

from __future__ import annotations

from typing import Any

from .layout import ROOMS, room_at, rooms_as_places

__all__ = [
    "NAV_ACTIONS",
    "ROOMS",
    "AgentState",
    "Change",
    "HouseholdFrame",
    "HouseholdEnv",
    "HouseholdSim",
    "ObjectState",
    "room_at",
    "rooms_as_places",
    "scripted_tour",
    "to_observation",
    "tour_observations",
]

_LAZY = {
    "NAV_ACTIONS": "state",
    "AgentState": "state",
    "Change": "state",
    "HouseholdFrame": "state",
    "HouseholdSim": "sim",
    "ObjectState": "state",
    "HouseholdEnv": "gym_env",
    "to_observation": "adapter",
    "scripted_tour": "tour",
    "tour_observations": "tour",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
