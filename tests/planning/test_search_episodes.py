"""Past searches as typed episode fields: the runner's ``target`` / ``found_in`` are what the planner reads back,
and a store written before those fields existed (schema 4: only the outcome text) is migrated once."""

from __future__ import annotations

import sqlite3

import pytest

from robomem import Memory, Place
from robomem.planning.context import Goal, RobotState
from robomem.planning.planner import Planner
from robomem.planning.search import found_outcome
from robomem.store.database import SCHEMA_VERSION

PLACES = [Place("kitchen", (0, 0), (4, 4)), Place("bedroom", (4, 0), (8, 4)), Place("hall", (0, 4), (8, 6))]


def _search(mem: Memory, label: str, place: str | None, t: float, typed: bool = True) -> int:
    mem.begin_episode(f"find the {label}", stamp=t)
    mem.add_step("looked around", f"go to explore {place}", f"found {label} in the {place}", True, stamp=t + 1)
    kw = {"target": label, "found_in": place} if typed else {}
    return mem.end_episode(found_outcome(label, place), stamp=t + 2, success=place is not None, **kw)


def test_typed_fields_round_trip_and_feed_the_next_search(tmp_path, embedder):
    with Memory.open(tmp_path / "m", embedder=embedder) as mem:
        mem.set_places(PLACES)
        eid = _search(mem, "blue book", "bedroom", 10.0)
        ep = mem.episodic.episode(eid)
        assert ep is not None and (ep.target, ep.found_in) == ("blue book", "bedroom")
        with pytest.raises(ValueError, match="found_in"):
            mem.begin_episode("find the mug", stamp=20.0)
            mem.end_episode("success", stamp=21.0, found_in="   ")
    with Memory.open(tmp_path / "m", embedder=embedder) as mem:  # the fields are stored, not kept in RAM only
        ep = mem.episodic.episode(eid)
        assert ep is not None and (ep.target, ep.found_in) == ("blue book", "bedroom")
        assert ep.to_dict()["found_in"] == "bedroom"
        first = Planner(mem).context(Goal(label="blue book"), RobotState((1, 1, 0), 0.0, 30.0)).proposals[0]
        assert first.place == "bedroom" and first.evidence == (f"episode:{eid}",), first
        assert Planner(mem).context(Goal(label="red mug"), RobotState((1, 1, 0), 0.0, 30.0)).proposals[0].kind == (
            "explore"
        )


def test_a_version_4_store_gets_typed_fields_parsed_once_from_its_outcomes(tmp_path, embedder):
    path = tmp_path / "v4"
    with Memory.open(path, embedder=embedder) as mem:
        mem.set_places(PLACES)
        found = _search(mem, "blue book", "bedroom", 10.0, typed=False)
        mem.begin_episode("find the red mug", stamp=20.0)
        failed = mem.end_episode("failure: exhausted: not found", stamp=21.0, success=False)
    conn = sqlite3.connect(path / "memory.db")  # reshape it to version 4: no typed columns
    conn.execute("ALTER TABLE episodes DROP COLUMN target")
    conn.execute("ALTER TABLE episodes DROP COLUMN found_in")
    conn.execute("PRAGMA user_version=4")
    conn.commit()
    conn.close()
    with Memory.open(path, embedder=embedder) as mem:
        assert mem.store.schema_version == SCHEMA_VERSION >= 5
        ep, bad = mem.episodic.episode(found), mem.episodic.episode(failed)
        assert ep is not None and (ep.target, ep.found_in) == ("blue book", "bedroom")
        assert bad is not None and (bad.target, bad.found_in) == (None, None)
        first = Planner(mem).context(Goal(label="blue book"), RobotState((1, 1, 0), 0.0, 30.0)).proposals[0]
        assert first.place == "bedroom" and "last time I looked for the blue book" in first.reason
