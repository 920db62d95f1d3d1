"""Episodic memory: explicit and automatic episodes, steps, similar-experience search."""

from __future__ import annotations

import numpy as np
import pytest

from robomem import Event, Memory, MemoryConfig, Place, Query
from robomem.submodules.episodic.memory import infer_success
from robomem.testing.synthetic import Box, BoxScene, look_at

PLACES = [Place("kitchen", (0, -3), (4, 3)), Place("living_room", (4, -3), (8, 3))]
KITCHEN_VIEW = look_at((2, -2.0, 1.8), (2, 0, 0.7))
LIVING_VIEW = look_at((6, -2.0, 1.8), (6, 0.2, 0.6))
SCENE = [
    Box(1, "kitchen table", (2, 0, 0.375), (1.2, 0.8, 0.75), (140, 90, 40)),
    Box(2, "sofa", (6, 0.2, 0.4), (1.6, 0.8, 0.8), (60, 60, 160)),
    Box(3, "red mug", (1.7, 0.1, 0.85), (0.2, 0.2, 0.2), (220, 30, 30)),
]

DISTRACTORS = [
    "water the plants on the balcony",
    "vacuum the hallway carpet",
    "fold the laundry in the bedroom",
    "take the trash out to the bin",
    "charge at the docking station",
    "close the living room curtains",
    "find the TV remote",
    "put the books back on the shelf",
    "wipe the dining table",
    "feed the cat",
    "turn off the bedroom lights",
    "bring the newspaper from the door",
    "load the dishwasher",
    "tidy the toys in the playroom",
    "open the window in the study",
    "check the front door is locked",
    "sort the mail on the desk",
    "set the table for dinner",
    "empty the washing machine",
    "dust the bookshelf",
    "move the chair to the corner",
    "pick up the socks from the floor",
    "clean the bathroom mirror",
    "bring slippers to the bedroom",
    "put the shoes in the closet",
    "wash the cups in the sink",
]


def memory(path, embedder, **episodic) -> Memory:
    cfg = MemoryConfig.from_dict({"episodic": episodic}) if episodic else None
    mem = Memory.open(path, config=cfg, embedder=embedder)
    mem.set_places(PLACES)
    return mem


def test_explicit_episode_with_steps_events_and_outcome(tmp_path, embedder):
    with memory(tmp_path / "m", embedder) as mem:
        eid = mem.begin_episode("bring the red mug to the sofa", stamp=10.0)
        sid = mem.add_step(
            observation="red mug on the kitchen table", action="pick up red mug", result="grasped", stamp=11.0
        )
        mem.add_event(Event(12.0, "action", "place red mug on sofa"))
        mem.add_event(Event(13.0, "outcome", "failed: mug slipped"))
        assert mem.end_episode("failed: dropped the mug", stamp=14.0) == eid
        ep = mem.episodic.episode(eid)
        assert ep.kind == "task" and not ep.is_open and ep.success is False
        assert ep.t_start == 10.0 and ep.t_end == 14.0 and ep.outcome == "failed: dropped the mug"
        steps = mem.episodic.steps(eid)
        assert [s.kind for s in steps] == ["action", "action"]
        assert steps[0].step_id == sid and steps[0].success is True
        # The outcome event completed the action step before it instead of adding a row.
        assert steps[1].action == "place red mug on sofa" and steps[1].result == "failed: mug slipped"
        assert steps[1].success is False
        emb = mem.store.read().execute("SELECT embedding FROM episodes WHERE id=?", (eid,)).fetchone()[0]
        assert np.frombuffer(emb, np.float32).shape == (embedder.dim,)
        assert mem.episodic.current() is None


def test_bad_input_raises_clear_errors(tmp_path, embedder):
    with memory(tmp_path / "m", embedder) as mem:
        with pytest.raises(ValueError, match="no episode begun"):
            mem.end_episode("success")
        with pytest.raises(ValueError, match="non-empty"):
            mem.begin_episode("  ")
        mem.begin_episode("tidy up", stamp=1.0)
        with pytest.raises(ValueError, match="still open"):
            mem.begin_episode("something else", stamp=2.0)
        with pytest.raises(ValueError, match="at least one"):
            mem.add_step()
        with pytest.raises(ValueError, match="before the episode began"):
            mem.end_episode("success", stamp=0.5)
        with pytest.raises(ValueError, match="stamp"):
            mem.add_step(action="x", stamp=float("nan"))
        assert mem.end_episode("done", stamp=3.0) > 0
        with pytest.raises(ValueError):
            mem.episodic.similar("")
    assert infer_success("failed: drawer stuck") is False
    assert infer_success("Success!") is True
    assert infer_success("the robot went home") is None


def test_similar_finds_relevant_attempt_among_distractors_with_neighbours(tmp_path, embedder):
    with memory(tmp_path / "m", embedder) as mem:
        t = 0.0
        ids = {}
        tasks = DISTRACTORS[:13] + ["take the milk out of the fridge"] + DISTRACTORS[13:]
        for i, task in enumerate(tasks):
            ids[task] = mem.begin_episode(task, stamp=t)
            mem.add_step(action=task.split(" ")[0] + " ...", result="ok", stamp=t + 1)
            outcome = "failed: fridge door would not open" if "milk" in task else ("success" if i % 3 else "failed")
            mem.end_episode(outcome, stamp=t + 2)
            t += 100.0
        target = ids["take the milk out of the fridge"]
        hits = mem.episodic.similar("get the milk from the refrigerator", k=3)
        assert hits[0].episode.episode_id == target
        assert hits[0].relevance > hits[1].relevance
        # Neighbours in time: the episodes just before and after.
        assert [e.task for e in hits[0].before] == [tasks[12]]
        assert [e.task for e in hits[0].after] == [tasks[14]]
        # Filters: outcome, time range.
        ok = mem.episodic.similar("get the milk from the refrigerator", k=5, outcome="success")
        assert target not in [h.episode.episode_id for h in ok] and all(h.episode.success for h in ok)
        fail = mem.episodic.similar("milk fridge", k=1, outcome="failure")
        assert fail[0].episode.episode_id == target
        assert mem.episodic.similar("milk fridge", k=1, outcome="would not open")[0].episode.episode_id == target
        late = mem.episodic.similar("get the milk from the refrigerator", k=5, since=1500.0)
        assert late and all(h.episode.t_end >= 1500.0 for h in late)
        assert target not in [h.episode.episode_id for h in late]
        # Through Memory.retrieve: Entry objects with score parts.
        entries = mem.retrieve(Query(text="get the milk from the refrigerator", kinds=("episode", "step"), k=5))
        assert entries[0].key == f"episode:{target}" and entries[0].kind == "episode"
        assert set(entries[0].parts) >= {"relevance", "recency", "confidence", "importance"}
        assert entries[0].data["before"] == [ids[tasks[12]]] and entries[0].data["after"] == [ids[tasks[14]]]
        assert any(e.kind == "step" for e in entries)


def test_automatic_cuts_on_place_change_goal_and_gap_not_inside_a_task(tmp_path, embedder):
    scene = BoxScene(SCENE, 160, 120, hfov_deg=60)
    with memory(tmp_path / "m", embedder, min_episode_frames=2) as mem:
        t = 0.0
        for view in [KITCHEN_VIEW] * 3 + [LIVING_VIEW] * 3:
            mem.update(scene.observe(view, t))
            t += 1.0
        eps = mem.episodic.episodes()
        assert [e.cut_reason for e in eps] == ["start", "place"]
        assert "kitchen" in eps[0].task and "red mug" in eps[0].task and not eps[0].is_open
        assert eps[1].places == ("living_room",) and eps[1].is_open
        # The first frame of an episode, and frames with new objects, become observation steps.
        steps = mem.episodic.steps(eps[0].episode_id)
        assert steps[0].kind == "observe" and "red mug" in steps[0].observation and steps[0].frame_index == 1
        # A new goal cuts an automatic episode, and becomes its task.
        mem.add_event(Event(t, "instruction", "go check the kitchen table"))
        cur = mem.episodic.current()
        assert cur.cut_reason == "goal" and cur.task == "go check the kitchen table"
        # A long gap cuts too.
        t += 1000.0
        mem.update(scene.observe(LIVING_VIEW, t))
        assert mem.episodic.current().cut_reason == "gap"
        # Inside an explicit episode, a place change is a step, not a cut.
        eid = mem.begin_episode("fetch the red mug", stamp=t + 1)
        for view in [LIVING_VIEW, KITCHEN_VIEW, KITCHEN_VIEW]:
            t += 1.0
            mem.update(scene.observe(view, t + 1))
        assert mem.episodic.current().episode_id == eid
        assert any("kitchen" in s.observation for s in mem.episodic.steps(eid))
        mem.end_episode("success", stamp=t + 2)
        ep = mem.episodic.episode(eid)
        assert ep.success is True and set(ep.places) == {"living_room", "kitchen"} and ep.n_frames == 3


def test_open_episode_survives_restart(tmp_path, embedder):
    with memory(tmp_path / "m", embedder) as mem:
        eid = mem.begin_episode("open drawer_2", stamp=5.0)
        mem.add_event(Event(6.0, "action", "pull drawer_2 handle"))
    with Memory.open(tmp_path / "m", embedder=embedder) as mem:
        assert mem.episodic.current().episode_id == eid
        mem.add_event(Event(7.0, "outcome", "failed: stuck"))
        assert mem.end_episode("failed: drawer stuck", stamp=8.0) == eid
        steps = mem.episodic.steps(eid)
        assert [(s.action, s.success) for s in steps] == [("pull drawer_2 handle", False)]
        hit = mem.episodic.similar("open the drawer", k=1)[0]
        assert hit.episode.episode_id == eid and hit.steps


def test_a_full_batch_of_step_embeddings_is_written_once_the_background_embedded_it(tmp_path, embedder):
    """The batch is handed to the embedder's background thread, not embedded inside the step that filled it;
    the first step after it landed writes it (from the cache), and the episode's end writes the rest."""
    with memory(tmp_path / "m", embedder, embed_batch=3) as mem:
        eid = mem.begin_episode("tidy the kitchen", stamp=1.0)

        def embedded() -> int:
            rows = mem.store.read().execute("SELECT embedding FROM steps WHERE episode_id=?", (eid,)).fetchall()
            return sum(r[0] is not None for r in rows)

        texts = [f"step {i}: moved the {w} to the shelf" for i, w in enumerate(["cup", "plate", "pan", "jar"])]
        for i, t in enumerate(texts[:3]):
            mem.add_step(observation=t, stamp=2.0 + i)
        assert embedded() == 0  # the third step filled the batch: queued, not embedded in that step
        assert embedder.settle(timeout=120.0)
        mem.add_step(observation=texts[3], stamp=6.0)
        assert embedded() == 3  # the batch landed: written from the cache by the next step
        mem.end_episode("done", stamp=7.0)
        assert embedded() == 4
