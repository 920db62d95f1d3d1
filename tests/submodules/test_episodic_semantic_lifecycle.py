"""Episodic and semantic memory own their state: the Submodule lifecycle, one label rule, typed fields.

Real Memory instances (SQLite on tmp_path) driven by ray-cast BoxScene frames.  Each lifecycle step is
committed in a real transaction, and the in-memory index it leaves must equal what a reopen builds.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest

from robomem import Event, Memory, MemoryConfig, Place, Query
from robomem.config import BudgetConfig
from robomem.store.database import SCHEMA_VERSION, StoreError
from robomem.submodules.base import Changes, ForgetLimits
from robomem.testing.synthetic import Box, BoxScene, look_at

PLACES = [Place("kitchen", (0, -3), (4, 3)), Place("living_room", (4, -3), (8, 3))]
KITCHEN_VIEW = look_at((2, -2.0, 1.8), (2, 0, 0.7))
LIVING_VIEW = look_at((6, -2.0, 1.8), (6, 0.2, 0.6))
FIXTURE = Path(__file__).resolve().parents[1] / "data" / "store_v2"


def boxes(mug_room: str) -> list[Box]:
    mug = (1.7, 0.1, 0.85) if mug_room == "kitchen" else (6.2, 0.2, 0.9)
    return [
        Box(1, "kitchen table", (2, 0, 0.375), (1.2, 0.8, 0.75), (140, 90, 40)),
        Box(2, "sofa", (6, 0.2, 0.4), (1.6, 0.8, 0.8), (60, 60, 160)),
        Box(3, "red mug", mug, (0.2, 0.2, 0.2), (220, 30, 30)),
        Box(4, "book", (2.3, -0.1, 0.8), (0.3, 0.25, 0.1), (30, 160, 60)),
    ]


def look(mem: Memory, mug_room: str, views: list, t: float) -> float:
    scene = BoxScene(boxes(mug_room), 160, 120, hfov_deg=60)
    for v in views:
        mem.update(scene.observe(v, t))
        t += 1.0
    return t


def open_memory(path: Path, embedder) -> Memory:
    # write_every=1: the open episode's row is rewritten on every frame (by default every 10th, so after a
    # reopen an open episode's t_end and frame count can lag the live ones by up to 9 frames, by design)
    cfg = MemoryConfig.from_dict({"episodic": {"write_every": 1}})
    mem = Memory.open(path, config=cfg, embedder=embedder)
    mem.set_places(PLACES)
    return mem


def tour(mem: Memory) -> float:
    """The mug in the kitchen, then moved to the living room (its old place seen empty first)."""
    t = look(mem, "kitchen", [KITCHEN_VIEW, KITCHEN_VIEW, LIVING_VIEW], 0.0)
    return look(mem, "living_room", [KITCHEN_VIEW, LIVING_VIEW, LIVING_VIEW], t + 100.0)


def snapshot(mem: Memory) -> dict:
    """What the episodic and semantic query verbs answer, as plain data."""
    eps = mem.episodic.episodes()
    return {
        "episodes": [e.to_dict() for e in eps],
        "steps": {e.episode_id: [s.to_dict() for s in mem.episodic.steps(e.episode_id)] for e in eps},
        "open_facts": [f.to_dict() for f in mem.semantic.open_facts()],
        "all_facts": [f.to_dict() for f in mem.semantic.facts(include_closed=True)],
        "where_mug": mem.semantic.where_is("red mug").to_dict(),
        "newest": (mem.episodic.newest_stamp(), mem.semantic.newest_stamp()),
    }


def test_same_answers_before_and_after_reopen(tmp_path, embedder):
    path = tmp_path / "m"
    with open_memory(path, embedder) as mem:
        t = tour(mem)
        mem.add_event(Event(t, "fact", "red mug | belongs_to | Anna"))
        mem.begin_episode("bring the red mug to the sofa", stamp=t + 1)
        mem.add_event(Event(t + 2, "action", "pick up the red mug"))
        before = snapshot(mem)
        similar = [(h.episode.episode_id, round(h.relevance, 5)) for h in mem.episodic.similar("fetch the mug")]
    with Memory.open(path, embedder=embedder) as mem:
        assert snapshot(mem) == before
        assert [(h.episode.episode_id, round(h.relevance, 5)) for h in mem.episodic.similar("fetch the mug")] == similar


def test_object_names_come_from_spatial_labels(tmp_path, embedder):
    """Semantic keeps no copy of an object's label: its names are spatial's argmax, live and after a reopen."""
    path = tmp_path / "m"
    with open_memory(path, embedder) as mem:
        look(mem, "kitchen", [KITCHEN_VIEW, KITCHEN_VIEW], 0.0)
        facts = mem.semantic.facts(predicate="located_in")
        assert facts
        for f in facts:
            oid = int(f.subject.split(":")[1])
            label = mem.spatial.label_of(oid)
            assert (f.subject_label, f.subject_name) == (label, f"{label} #{oid}")
            assert f.object_label == "kitchen"
        rows = mem.store.read().execute("SELECT COUNT(*) FROM entities WHERE kind='object'").fetchone()[0]
        assert rows == 0  # no stored names to go stale
        hits = mem.retrieve(Query(label="book", kinds=("fact",)))
        assert hits and all("book" in (e.data["subject_label"], e.data["object_label"]) for e in hits)
        keys = [e.key for e in hits]
    with Memory.open(path, embedder=embedder) as mem:
        assert [e.key for e in mem.retrieve(Query(label="book", kinds=("fact",)))] == keys


def test_supersession_is_a_typed_field(tmp_path, embedder):
    with open_memory(tmp_path / "m", embedder) as mem:
        t = look(mem, "kitchen", [KITCHEN_VIEW], 0.0)
        mem.add_event(Event(t, "fact", "red mug | belongs_to | Anna"))
        mem.add_event(Event(t + 5, "fact", "red mug | belongs_to | Bob"))
        old, new = mem.semantic.history("red mug", "belongs_to")
        assert (old.object_label, new.object_label) == ("Anna", "Bob")
        assert old.superseded_by == new.fact_id and new.superseded_by is None and new.is_valid
        assert mem.semantic.why(old.fact_id).superseded_by == new.fact_id
        assert mem.semantic.history("red mug", "belongs_to") == [old, new]


def test_remap_object_in_episodic_and_semantic_equals_a_reopen(tmp_path, embedder):
    path = tmp_path / "m"
    with open_memory(path, embedder) as mem:
        tour(mem)
        ids = {o.label: o.object_id for o in mem.objects()}
        keep, drop = ids["kitchen table"], ids["book"]
        assert any(drop in e.object_ids for e in mem.episodic.episodes())
        assert mem.semantic.facts(drop)
        n_facts = len(mem.semantic.facts(include_closed=True))
        mem._commit([mem.episodic.remap_object(drop, keep), mem.semantic.remap_object(drop, keep)])  # noqa: SLF001
        assert not any(drop in e.object_ids for e in mem.episodic.episodes())
        steps = [s for e in mem.episodic.episodes() for s in mem.episodic.steps(e.episode_id)]
        assert any(keep in s.object_ids for s in steps) and not any(drop in s.object_ids for s in steps)
        assert mem.semantic.facts(f"object:{drop}", include_closed=True) == []
        assert len(mem.semantic.facts(include_closed=True)) == n_facts  # re-pointed, not dropped
        assert not any(f"object:{drop}" in (f.subject, f.object) for f in mem.semantic.open_facts())
        live = snapshot(mem)
    with Memory.open(path, embedder=embedder) as mem:
        assert snapshot(mem) == live


def test_a_failed_commit_burns_no_fact_or_episode_id(tmp_path, embedder):
    with open_memory(tmp_path / "m", embedder) as mem:
        look(mem, "kitchen", [KITCHEN_VIEW], 0.0)
        broken = Changes()
        broken.sql("INSERT INTO no_such_table VALUES (1)")
        ev = Event(5.0, "fact", "red mug | belongs_to | Anna")
        planned = mem.semantic.on_event(ev)
        fact_ids = [p[0] for s, p in planned.statements if s.startswith("INSERT INTO facts")]
        episode_id, ch = mem.episodic.begin("water the plants", stamp=6.0)
        with pytest.raises(StoreError):
            mem._commit([planned, ch], broken)  # noqa: SLF001 - a real transaction that rolls back
        assert mem.semantic.facts("red mug", "belongs_to") == []  # nothing of the failed plan is believed
        cur = mem.episodic.current()
        assert cur is None or cur.kind == "auto"
        mem.add_event(ev)
        assert [f.fact_id for f in mem.semantic.facts("red mug", "belongs_to")] == fact_ids
        assert mem.begin_episode("water the plants", stamp=6.0) == episode_id


def test_forget_under_limits_keeps_open_facts_and_summarises_steps(tmp_path, embedder):
    path = tmp_path / "m"
    with open_memory(path, embedder) as mem:
        t = tour(mem)
        mem.begin_episode("tidy up", stamp=t)  # closes the automatic episodes the tour made
        n_open = len(mem.semantic.open_facts())
        n_closed = len([f for f in mem.semantic.facts(include_closed=True) if not f.is_valid])
        assert n_closed > 0
        budget = BudgetConfig(max_episode_steps=1, max_fact_rows=1)
        limits = ForgetLimits(budget, scale=1.0, keep_recent_s=0.0, target_fraction=0.8)
        ch_e, rep_e = mem.episodic.forget(limits, now=t + 1000.0)
        ch_s, rep_s = mem.semantic.forget(limits, now=t + 1000.0)
        mem._commit([ch_e, ch_s])  # noqa: SLF001 - one budget pass, one transaction
        assert rep_s["facts_dropped"] == n_closed
        assert len(mem.semantic.open_facts()) == n_open  # a still-valid fact is never forgotten
        assert rep_e["steps_summarised"] > 0
        closed = [e for e in mem.episodic.episodes() if not e.is_open]
        summaries = [s for e in closed for s in mem.episodic.steps(e.episode_id) if s.kind == "summary"]
        assert summaries and all(s.object_ids for s in summaries)
        for s in summaries:  # the summary names what it saw with spatial's labels, from typed ids
            for oid in s.object_ids:
                assert f"{mem.spatial.label_of(oid)} #{oid}" in s.observation
        # the ids the summaries took are taken: the next step gets a fresh one
        sid = mem.add_step(action="wipe the table", stamp=t + 2)
        assert sid > max(s.step_id for s in summaries)
        live = snapshot(mem)
    with Memory.open(path, embedder=embedder) as mem:
        assert snapshot(mem) == live


def test_mark_retrieved_counts_its_own_entries(tmp_path, embedder):
    with open_memory(tmp_path / "m", embedder) as mem:
        t = look(mem, "kitchen", [KITCHEN_VIEW, KITCHEN_VIEW], 0.0)
        eid = mem.begin_episode("find the red mug", stamp=t)
        mem.end_episode("success", stamp=t + 1)
        entries = mem.retrieve(Query(text="find the red mug", kinds=("episode", "fact"), k=5))
        got_ep = [e for e in entries if e.kind == "episode" and e.data["episode_id"] == eid]
        got_facts = [int(e.data["fact_id"]) for e in entries if e.kind == "fact"]
        assert got_ep and got_facts
        ch_e = mem.episodic.mark_retrieved(entries, t + 2)
        ch_s = mem.semantic.mark_retrieved(entries, t + 2)
        mem._commit([ch_e, ch_s])  # noqa: SLF001
        assert mem.episodic.episode(eid).retrieved >= 1
        counts = dict(mem.store.read().execute("SELECT id, retrieved FROM facts").fetchall())
        assert all(counts[f] >= 1 for f in got_facts)


def _v2_store_with_facts(dst: Path) -> None:
    """The committed version-2 fixture plus semantic tables in their version-2 shape (fact rows whose
    supersession was only in the reason text, object names in entities)."""
    shutil.copytree(FIXTURE, dst)
    conn = sqlite3.connect(dst / "memory.db")
    conn.executescript(
        """
        CREATE TABLE entities(id TEXT PRIMARY KEY, kind TEXT NOT NULL, name TEXT NOT NULL, label TEXT);
        CREATE TABLE facts(
            id INTEGER PRIMARY KEY, subject TEXT NOT NULL, predicate TEXT NOT NULL, object TEXT NOT NULL,
            confidence REAL NOT NULL, source TEXT NOT NULL, valid_from REAL NOT NULL, valid_to REAL,
            recorded_at REAL NOT NULL, expired_at REAL, count INTEGER NOT NULL DEFAULT 1,
            last_evidence REAL NOT NULL, reason TEXT, retrieved INTEGER NOT NULL DEFAULT 0);
        CREATE TABLE fact_evidence(
            id INTEGER PRIMARY KEY, fact_id INTEGER NOT NULL REFERENCES facts(id) ON DELETE CASCADE,
            role TEXT NOT NULL, kind TEXT NOT NULL, ref TEXT NOT NULL, stamp REAL NOT NULL, detail TEXT NOT NULL);
        INSERT INTO entities VALUES ('object:2', 'object', 'red mug #2', 'red mug');
        INSERT INTO entities VALUES ('place:kitchen', 'place', 'kitchen', '');
        INSERT INTO facts VALUES (1, 'object:2', 'located_in', 'place:kitchen', 0.9, 'perception', 1, 5, 1, 5, 3, 4,
            'superseded by fact #2 (perception: living room)', 0);
        INSERT INTO facts VALUES (2, 'object:2', 'located_in', 'place:living room', 0.8, 'perception', 5, NULL, 5,
            NULL, 1, 5, NULL, 0);
        """
    )
    conn.commit()
    conn.close()


def test_a_version_2_store_migrates_to_typed_fields(tmp_path, embedder):
    path = tmp_path / "v2"
    _v2_store_with_facts(path)
    with Memory.open(path, embedder=embedder) as mem:
        assert mem.store.schema_version == SCHEMA_VERSION >= 4
        old, new = mem.semantic.fact(1), mem.semantic.fact(2)
        assert old.superseded_by == 2 and new.superseded_by is None
        assert old.subject_name == f"{mem.spatial.label_of(2)} #2"  # named by spatial, not the stored copy
        conn = mem.store.read()
        assert conn.execute("SELECT COUNT(*) FROM entities WHERE kind='object'").fetchone()[0] == 0
        seen = {
            s.step_id: s.object_ids
            for e in mem.episodic.episodes()
            for s in mem.episodic.steps(e.episode_id)
            if s.kind == "observe"
        }
        assert seen[2] == (1, 2, 3, 4, 5)  # parsed once by the migration from "saw table #1 (new), …"
        assert seen[6] == (1, 3, 4, 5)  # "; gone: red mug #2" is not something it saw
        assert json.loads(conn.execute("SELECT seen FROM steps WHERE id=7").fetchone()[0]) == [2]
