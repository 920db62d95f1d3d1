"""Planner: retrieval for a goal among distractors, packing, goal proposals (real Memory, SQLite, ray-cast scenes)."""

from __future__ import annotations

import math

import pytest

from robomem import Event, Memory, Place
from robomem.planning.context import Goal, RobotState, estimate_tokens
from robomem.planning.planner import Planner, _location_words
from robomem.planning.search import usually_place as _usually_place
from robomem.retrieval.query import Entry, total_score
from robomem.testing.synthetic import Box, BoxScene, look_at

W, H = 320, 240
PLACES = [Place("kitchen", (-1, -3), (3.0, 3)), Place("living room", (3.0, -3), (8, 3)), Place("hall", (-1, 3), (8, 6))]
A = (1.8, 0.1)  # the red mug's first place (kitchen table)
B = (5.2, 1.4)  # where it is moved to (living-room side table)


def furniture() -> list[Box]:
    """A kitchen table and a living-room side table plus many distractor objects."""
    boxes = [
        Box(1, "table", (2.0, 0.0, 0.375), (1.2, 0.8, 0.75), (140, 90, 40)),
        Box(2, "side table", (5.2, 1.4, 0.3), (0.6, 0.6, 0.6), (120, 80, 60)),
        Box(3, "book", (2.3, -0.2, 0.77), (0.25, 0.18, 0.04), (30, 60, 200)),
        Box(4, "chair", (2.0, 1.0, 0.45), (0.5, 0.5, 0.9), (90, 160, 90)),
        Box(5, "plant", (1.0, -1.5, 0.4), (0.3, 0.3, 0.8), (20, 140, 30)),
        Box(6, "lamp", (5.8, -1.0, 0.7), (0.25, 0.25, 1.4), (250, 230, 120)),
        Box(7, "sofa", (6.0, 0.2, 0.4), (0.8, 1.8, 0.8), (80, 80, 160)),
        Box(8, "cardboard box", (4.6, -1.8, 0.25), (0.5, 0.5, 0.5), (170, 140, 100)),
        Box(9, "bottle", (2.5, 0.25, 0.85), (0.07, 0.07, 0.2), (30, 160, 160)),
        Box(10, "bowl", (1.6, -0.25, 0.78), (0.15, 0.15, 0.06), (200, 200, 60)),
        Box(11, "remote control", (5.1, 1.25, 0.62), (0.15, 0.05, 0.03), (20, 20, 20)),
        Box(12, "vase", (4.7, 0.8, 0.2), (0.2, 0.2, 0.4), (200, 60, 200)),
    ]
    return boxes


RED = (220, 30, 30)


def mug_at(xy: tuple[float, float], z: float, iid: int = 20) -> Box:
    return Box(iid, "red mug", (xy[0], xy[1], z), (0.10, 0.10, 0.10), RED)


# Views that look at the kitchen table (A) and the side table (B).
VIEW_A = [((0.0, 0.0, 1.5), (2.0, 0.0, 0.7)), ((0.3, -0.8, 1.4), (2.0, 0.1, 0.75))]
VIEW_B = [((3.2, 1.4, 1.3), (5.2, 1.4, 0.5)), ((3.5, 0.3, 1.3), (5.2, 1.4, 0.5))]
VIEW_ROOM = [((0.0, -2.5, 1.6), (3.0, 0.0, 0.5)), ((3.0, -2.5, 1.6), (6.0, 0.0, 0.5))]


def tour(mem: Memory, scene: BoxScene, t: float, views) -> float:
    for eye, target in views:
        mem.update(scene.observe(look_at(eye, target), t))
        t += 1.0
    return t


@pytest.fixture()
def mem(tmp_path, embedder):
    with Memory.open(tmp_path / "mem", embedder=embedder) as m:
        m.set_places(PLACES)
        yield m


def red_mug_ids(mem: Memory) -> set[int]:
    return {o.object_id for o in mem.objects() if o.label == "red mug"}


def test_latest_location_beats_stale_one_among_distractors(mem):
    scene = BoxScene([*furniture(), mug_at(A, 0.80)], W, H)
    t = tour(mem, scene, 0.0, VIEW_A + VIEW_ROOM + VIEW_B)
    assert red_mug_ids(mem), "the mug was seen"
    moved = BoxScene([*furniture(), mug_at(B, 0.65)], W, H)
    t = tour(mem, moved, t + 100.0, VIEW_A + VIEW_B)  # the old place is seen empty, then the new one
    planner = Planner(mem, k=8)
    ctx = planner.context("where is the red mug?", RobotState((0.0, 0.0, 0.0), 0.0, t))

    best = ctx.best
    assert best.kind == "object" and best.label == "red mug"
    assert math.dist(best.target[:2], B) < 0.3, best
    assert best.confidence >= 0.5
    # The first entry is about the red mug, at its new place.
    first = ctx.entries[0]
    assert "red mug" in first.text and first.position is not None and math.dist(first.position[:2], B) < 0.3
    # Every entry that still puts a red mug at A is flagged as history or reports it gone.
    for e in ctx.entries:
        if (
            e.position is not None
            and math.dist(e.position[:2], A) < 0.3
            and set(e.object_ids) & red_mug_ids(mem)
            and e.kind in ("object", "sighting")
        ):
            assert e.key in ctx.superseded or e.data.get("status") == "absent", e
    # Distractors are not proposed.
    assert all(p.label in (None, "red mug") for p in ctx.proposals)
    text = ctx.text()
    assert "red mug" in text.split("MEMORY")[1].split("\n")[1]


def test_near_object_is_ranked_over_the_far_one(mem):
    near, far = (1.8, 0.1), (5.2, 1.4)
    scene = BoxScene([*furniture(), mug_at(near, 0.80, 20), mug_at(far, 0.65, 21)], W, H)
    t = tour(mem, scene, 0.0, VIEW_A + VIEW_B)  # each mug in two frames: confirmed (issue 15)
    ids = red_mug_ids(mem)
    assert len(ids) == 2
    planner = Planner(mem)
    for robot, want in (((0.0, 0.0, 0.0), near), ((6.5, 2.0, 0.0), far)):
        ctx = planner.context(Goal(label="red mug"), RobotState(robot, 0.0, t))
        mugs = [e for e in ctx.entries if e.kind == "object" and set(e.object_ids) & ids]
        assert len(mugs) == 2
        assert math.dist(mugs[0].position[:2], want) < 0.3
        assert mugs[0].parts["distance"] > mugs[1].parts["distance"]
        assert math.dist(ctx.best.target[:2], want) < 0.3
        # both mugs, then every place to explore (no evidence for any other place)
        assert [p.kind for p in ctx.proposals] == ["object", "object", "explore", "explore", "explore"]


def test_entries_keep_score_parts_and_label_match(mem):
    scene = BoxScene([*furniture(), mug_at(A, 0.80)], W, H)
    t = tour(mem, scene, 0.0, VIEW_A)
    planner = Planner(mem)
    ctx = planner.context(Goal(text="get me something to drink from", label="red mug"), RobotState((0, 0, 0), 0.0, t))
    assert ctx.entries
    cfg = mem.config.retrieval
    for e in ctx.entries:
        assert {"relevance", "recency", "confidence"} <= set(e.parts)
        assert all(0.0 <= v <= 1.0 for v in e.parts.values())
        assert e.score == pytest.approx(total_score(e.parts, cfg))
    mug = next(e for e in ctx.entries if e.kind == "object")
    assert mug.parts["label_match"] == 1.0 and mug.parts["relevance"] == 1.0


def test_packing_respects_k_tokens_dedup_and_one_per_submodule(mem):
    scene = BoxScene([*furniture(), mug_at(A, 0.80)], W, H)
    t = tour(mem, scene, 0.0, VIEW_A + VIEW_ROOM)
    mem.add_event(Event(t, "instruction", "bring the red mug to the sofa"))
    mem.add_event(Event(t + 1, "outcome", "failed: could not reach the red mug"))
    t += 2
    planner = Planner(mem)
    state = RobotState((0, 0, 0), 0.0, t)
    goal = "red mug on the kitchen table"
    full = planner.context(goal, state, k=50, max_tokens=5000)
    # Entries that say the same thing are folded into one: the map's object entry keeps the temporal
    # "last seen" with the same evidence and the semantic "located_in" of the same place.
    folded = {k for v in full.merged.values() for k in v}
    assert any(k.startswith("lastseen:") for k in folded), dict(full.merged)
    keys = [e.key for e in full.entries]
    assert len(keys) == len(set(keys)) and not folded & set(keys)
    claims = [
        (e.object_ids, e.place)
        for e in full.entries
        if e.kind in ("object", "sighting") and e.key not in full.superseded
    ]
    assert len(claims) == len(set(claims)), claims
    # Every submodule with something relevant is represented (directly, or by the entry its duplicate was folded into).
    represented = {e.source for e in full.entries} | {
        {"lastseen": "temporal", "absence": "temporal", "fact": "semantic", "object": "spatial"}.get(
            k.split(":")[0], ""
        )
        for k in folded
    }
    assert {"spatial", "temporal", "episodic"} <= represented, (represented, full.text())
    by_score = sorted(full.entries, key=lambda e: -e.score)
    assert by_score[0].source == "spatial"

    small = planner.context(goal, state, k=2, max_tokens=5000)
    assert len(small.entries) == 2
    # The best spatial entry and the best episodic one, although spatial has many better-scored entries.
    assert {e.source for e in small.entries} == {"spatial", "episodic"}, small.text()
    assert small.entries[0].key == full.entries[0].key

    tight = planner.context(goal, state, k=50, max_tokens=260)
    assert estimate_tokens(tight.text()) <= 260
    assert 0 < len(tight.entries) < len(full.entries)
    assert tight.budget["tokens"] <= 260


def test_the_relevant_past_failure_is_retrieved(mem):
    scene = BoxScene([*furniture(), mug_at(A, 0.80)], W, H)
    t = tour(mem, scene, 0.0, VIEW_A)
    distractors = [
        ("water the plant", "watered the plant, success"),
        ("open the fridge", "fridge opened, success"),
        ("turn on the lamp", "lamp is on, done"),
        ("bring the book to the sofa", "book placed on the sofa, success"),
        ("close the window", "window closed, done"),
        ("fetch the remote control", "remote delivered, success"),
    ]
    for task, outcome in distractors[:3]:
        mem.add_event(Event(t, "instruction", task))
        mem.add_event(Event(t + 1, "outcome", outcome))
        t += 5
    mem.add_event(Event(t, "instruction", "pick up the red mug from the table"))
    mem.add_event(Event(t + 1, "action", "grasp red mug"))
    mem.add_event(Event(t + 2, "outcome", "failed: the red mug slipped out of the gripper"))
    t += 5
    for task, outcome in distractors[3:]:
        mem.add_event(Event(t, "instruction", task))
        mem.add_event(Event(t + 1, "outcome", outcome))
        t += 5
    ctx = Planner(mem, k=8).context("pick up the red mug", RobotState((0, 0, 0), 0.0, t))
    episodic = [e for e in ctx.entries if e.source == "episodic"]
    assert episodic, ctx.text()
    # The failed attempt at this very task is in the context; no distractor episode is.
    assert any("slipped" in e.text for e in episodic), [e.text for e in episodic]
    assert all("'pick up the red mug from the table'" in e.text for e in episodic), [e.text for e in episodic]


def test_absent_object_is_not_proposed_next_candidate_then_explore(mem):
    other = (5.2, 1.4)
    scene = BoxScene([*furniture(), mug_at(A, 0.80, 20), mug_at(other, 0.65, 21)], W, H)
    t = tour(mem, scene, 0.0, VIEW_A + VIEW_B)  # each mug in two frames: confirmed (issue 15)
    ids = red_mug_ids(mem)
    assert len(ids) == 2
    # The mug on the kitchen table disappears; looking there again records the absence.
    gone = BoxScene([*furniture(), mug_at(other, 0.65, 21)], W, H)
    t = tour(mem, gone, t + 10, VIEW_A[:1])
    at_a = next(o for o in mem.objects() if o.label == "red mug" and math.dist(o.centroid[:2], A) < 0.3)
    assert mem.temporal.is_absent(at_a.object_id) and at_a.status == "absent"
    planner = Planner(mem)
    ctx = planner.context(Goal(label="red mug"), RobotState((0.0, 0.0, 0.0), 0.0, t))  # A is the nearer one
    assert ctx.best.kind == "object" and ctx.best.object_id != at_a.object_id
    assert math.dist(ctx.best.target[:2], other) < 0.3
    assert all(p.object_id != at_a.object_id for p in ctx.proposals)
    assert ctx.best.view_pose is not None  # the keyframe that shows it
    # The absence is in the context and the stale "it is at A" is flagged.
    assert any(e.kind == "absence" and at_a.object_id in e.object_ids for e in ctx.entries)
    # Now the other one is gone too: nothing valid is known -> explore, saying why.
    gone2 = BoxScene(furniture(), W, H)
    t = tour(mem, gone2, t + 10, VIEW_B[:1])
    ctx = planner.context(Goal(label="red mug"), RobotState((0.0, 0.0, 0.0), 0.0, t))
    assert [p.kind for p in ctx.proposals] == ["explore", "explore", "explore"]
    assert not ctx.knows_goal and ctx.best.confidence == 0.0
    assert "observed absent" in ctx.best.reason
    assert ctx.best.place == "hall"  # the place never observed first; the two where a mug was observed absent last
    assert all("ruled out" in p.reason for p in ctx.proposals[1:])
    # Re-planning can also exclude candidates that were tried.
    ctx = planner.context(Goal(label="red mug"), RobotState((0, 0, 0), 0.0, t), exclude_objects=ids)
    assert ctx.best.kind == "explore"


def test_usually_in_from_semantic_memory_is_the_next_candidate(mem, monkeypatch):
    scene = BoxScene([*furniture(), mug_at(A, 0.80)], W, H)
    t = tour(mem, scene, 0.0, VIEW_A)  # two frames: confirmed (issue 15)
    gone = BoxScene(furniture(), W, H)
    t = tour(mem, gone, t + 10, VIEW_A[:1])
    fact = Entry(
        key="fact:1",
        kind="fact",
        source="semantic",
        text="red mug | usually_in | living room",
        stamp=t,
        parts={"relevance": 1.0, "confidence": 0.9},
        data={"subject": "red mug", "predicate": "usually_in", "object": "living room"},
    )
    original = mem.semantic.search

    def search(query, now):
        out = original(query, now)
        if query.wants("fact"):
            out = [*out, fact]
        return out

    monkeypatch.setattr(mem.semantic, "search", search)
    ctx = Planner(mem).context(Goal(label="red mug"), RobotState((0, 0, 0), 0.0, t))
    assert [p.kind for p in ctx.proposals] == ["usually_in", "explore", "explore"]  # not the living room again
    # the kitchen, where the mug was observed absent, is explored last
    assert ctx.proposals[-1].place == "kitchen" and "ruled out" in ctx.proposals[-1].reason
    p = ctx.best
    assert p.place == "living room" and p.target[:2] == pytest.approx((5.5, 0.0))
    assert 0.0 < p.confidence <= 0.5 and "fact:1" in p.evidence


def test_usually_place_parsing_and_location_words():
    e = Entry(key="fact:2", kind="fact", source="semantic", text="mugs usually_in kitchen")
    assert _usually_place(e, "red mug") == "kitchen"
    assert _usually_place(e, "book") is None
    e2 = Entry(
        key="fact:3",
        kind="fact",
        source="semantic",
        text="x",
        data={"subject": "books", "predicate": "usually in", "object": "study"},
    )
    assert _usually_place(e2, "book") == "study"
    # another kind of the same noun is not the searched thing: "white mug" habits do not send a "floral mug" search
    e3 = Entry(key="fact:4", kind="fact", source="semantic", text="white mug | usually_in | kitchen")
    assert _usually_place(e3, "floral mug") is None and _usually_place(e3, "white mug") == "kitchen"
    assert {"table"} <= _location_words("bring me the red mug from the table")
    assert "mug" not in _location_words("go to the red mug")


def test_target_named_in_a_sentence_with_a_place(mem):
    scene = BoxScene([*furniture(), mug_at(A, 0.80)], W, H)
    t = tour(mem, scene, 0.0, VIEW_A)
    ctx = Planner(mem).context("bring me the red mug from the table", RobotState((0, 0, 0), 0.0, t))
    assert ctx.best.label == "red mug"
    assert "red mug" in ctx.entries[0].text


def test_empty_memory_says_so_and_explores(mem):
    ctx = Planner(mem).context("find the keys", RobotState((0, 0, 0), 0.0, 1.0))
    assert ctx.entries == () and [p.kind for p in ctx.proposals] == ["explore"] * len(PLACES)
    assert "nothing" in ctx.text()


def test_bad_input_is_refused(mem):
    with pytest.raises(ValueError, match="Goal"):
        Goal()
    with pytest.raises(ValueError, match="k must be"):
        Planner(mem, k=0)
    with pytest.raises(ValueError, match="max_tokens"):
        Planner(mem, max_tokens=3)
    with pytest.raises(ValueError, match="Memory"):
        Planner("not a memory")  # type: ignore[arg-type]
    p = Planner(mem)
    with pytest.raises(ValueError, match="RobotState"):
        p.context("mug", (0, 0, 0))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="goal"):
        p.context(42, RobotState((0, 0, 0)))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="position"):
        RobotState((float("nan"), 0, 0))


def test_usually_in_from_real_consolidation(mem):
    scene = BoxScene([*furniture(), mug_at(A, 0.80)], W, H)
    t = 0.0
    for _ in range(3):  # three visits, hours apart: a habit, not one long look
        t = tour(mem, scene, t + 3600.0, VIEW_A)
    mem.consolidate()
    planner = Planner(mem)
    ctx = planner.context(Goal(label="red mug"), RobotState((6, 0, 0), 0.0, t))
    kinds = [p.kind for p in ctx.proposals]
    # the mug where it was seen, then the habit (the kitchen), then the other places
    assert kinds[:2] == ["object", "usually_in"] and kinds[-1] == "explore", ctx.text()
    assert ctx.proposals[1].place == "kitchen" and ctx.proposals[1].target[:2] == pytest.approx((1.0, 0.0))
    assert ctx.proposals[1].confidence <= 0.5 and any(k.startswith("fact:") for k in ctx.proposals[1].evidence)
    # The robot went to the mug and looked around there without seeing it (the search excludes it): the habit does
    # not send it back to the kitchen it just looked around in; the kitchen is explored again only last.
    ctx = planner.context(Goal(label="red mug"), RobotState((6, 0, 0), 0.0, t), exclude_objects=red_mug_ids(mem))
    assert [p.kind for p in ctx.proposals] == ["explore", "explore", "explore"], ctx.text()
    assert ctx.proposals[-1].place == "kitchen" and "already covered" in ctx.proposals[-1].reason
    # Observed absent at its place in the kitchen: the kitchen is ruled out as evidence and explored last.
    gone = BoxScene(furniture(), W, H)
    t = tour(mem, gone, t + 10, VIEW_A[:1])
    assert all(o.status == "absent" for o in mem.objects("red mug"))
    ctx = planner.context(Goal(label="red mug"), RobotState((6, 0, 0), 0.0, t))
    assert [p.kind for p in ctx.proposals] == ["explore", "explore", "explore"], ctx.text()
    assert ctx.proposals[-1].place == "kitchen" and "observed absent" in ctx.proposals[-1].reason


def test_a_past_search_that_found_it_sends_the_next_search_there(mem):
    """Episodic memory feeds the search: "last time I looked for it, it was in the living room"."""
    from robomem.planning.search import found_outcome

    scene = BoxScene([*furniture(), mug_at(A, 0.80)], W, H)
    t = tour(mem, scene, 0.0, VIEW_A[:1])
    gone = BoxScene(furniture(), W, H)
    t = tour(mem, gone, t + 10, VIEW_A[:1])  # the mug is gone from the kitchen table
    mem.begin_episode("find the red mug", stamp=t)
    mem.add_step("looked around", "go to explore living room", "found red mug in the living room", True, stamp=t + 1)
    mem.end_episode(
        found_outcome("red mug", "living room"), stamp=t + 2, success=True, target="red mug", found_in="living room"
    )
    mem.begin_episode("find the book", stamp=t + 3)
    mem.end_episode(found_outcome("book", "hall"), stamp=t + 4, success=True, target="book", found_in="hall")
    # an outcome text alone is for people: without the typed fields it is no evidence
    mem.begin_episode("find the red mug", stamp=t + 4.5)
    mem.end_episode(found_outcome("red mug", "hall"), stamp=t + 4.6, success=True)
    ctx = Planner(mem).context(Goal(label="red mug"), RobotState((0, 0, 0), 0.0, t + 5))
    first = ctx.proposals[0]
    assert first.kind == "place" and first.place == "living room", ctx.text()
    assert "last time I looked for the red mug" in first.reason and first.evidence[0].startswith("episode:")
    assert all(p.place != "hall" or p.kind == "explore" for p in ctx.proposals)  # the book's episode is not evidence
    assert [p.kind for p in ctx.proposals[1:]] == ["explore", "explore"]


def test_exploration_is_least_recently_seen_first_then_nearest(mem):
    scene = BoxScene(furniture(), W, H)
    t = tour(mem, scene, 0.0, VIEW_B[:1])  # only the living room was ever observed
    planner = Planner(mem, viewpoints={"kitchen": (1.0, 1.0), "hall": (6.0, 4.5), "living room": (5.0, 0.0)})
    ctx = planner.context(Goal(label="keys"), RobotState((7.0, 2.0, 0.0), 0.0, t))
    # never observed (kitchen, hall) before the observed living room; the hall first: nearer to the robot
    assert [p.place for p in ctx.proposals] == ["hall", "kitchen", "living room"]
    assert [p.xy for p in ctx.proposals] == [(6.0, 4.5), (1.0, 1.0), (5.0, 0.0)]  # the robot's viewpoints
    with pytest.raises(ValueError, match="view_range"):
        Planner(mem, view_range=-1.0)


def test_view_pose_is_never_farther_than_view_range(mem):
    scene = BoxScene([*furniture(), mug_at(A, 0.80)], W, H)
    t = tour(mem, scene, 0.0, VIEW_A)
    near = Planner(mem).context(Goal(label="red mug"), RobotState((0, 0, 0), 0.0, t)).best
    assert near.view_pose is not None and math.dist(near.view_pose[:2], A) <= 3.5
    tight = Planner(mem, view_range=0.5).context(Goal(label="red mug"), RobotState((0, 0, 0), 0.0, t)).best
    assert tight.kind == "object" and tight.view_pose is None  # every keyframe is farther: go to the mug itself


def test_exploration_tours_by_path_length_when_the_robot_gives_one(mem):
    """Indoors a straight line misleads: the hall is 1.2 m from the robot through the wall but 9 m by the door.
    With the robot's distance function the tour goes kitchen first; without one, the hall."""
    scene = BoxScene(furniture(), W, H)
    t = tour(mem, scene, 0.0, VIEW_B[:1])
    views = {"kitchen": (1.0, 1.0), "hall": (6.0, 4.5), "living room": (5.0, 0.0)}
    wall_detour = {"hall": 9.0}  # reaching the hall from anywhere in the south costs 9 m (the door is far east)

    def path(a: tuple[float, float], b: tuple[float, float]) -> float | None:
        name = next((n for n, xy in views.items() if math.dist(xy, b) < 1e-9), None)
        return wall_detour.get(name or "", math.dist(a, b))

    state = RobotState((6.0, 3.3, 0.0), 0.0, t)
    straight = Planner(mem, viewpoints=views).context(Goal(label="keys"), state)
    assert [p.place for p in straight.proposals[:2]] == ["hall", "kitchen"], straight.text()
    by_path = Planner(mem, viewpoints=views, distance=path).context(Goal(label="keys"), state)
    assert [p.place for p in by_path.proposals[:2]] == ["kitchen", "hall"], by_path.text()
    assert "m path from the last stop" in by_path.proposals[0].reason
    with pytest.raises(ValueError, match="distance"):
        Planner(mem, distance=3.0)  # type: ignore[arg-type]


def test_tour_order_minimises_the_mean_arrival_and_puts_unreachable_last():
    from robomem.planning.search import tour_order

    # on a line: start at 0, stops at -1, 2, 3.  Nearest-first goes -1, 2, 3 (arrivals 1, 4, 5: sum 10);
    # 2, 3, -1 has arrivals 2, 3, 7 (sum 12): the nearest-first order is also the best one here
    stops = [("a", (-1.0, 0.0)), ("b", (2.0, 0.0)), ("c", (3.0, 0.0))]
    assert tour_order(stops, (0.0, 0.0)) == [0, 1, 2]
    # a lone stop a hair nearer one way, a cluster of three the other way: nearest-neighbour takes the lone stop
    # first (arrivals 2.0, 6.1, 6.2, 6.3: sum 20.6); the cluster first reaches more places sooner
    # (2.1, 2.2, 2.3, 6.6: sum 13.2), which is the order chosen
    stops = [("lone", (-2.0, 0.0)), ("c1", (2.1, 0.0)), ("c2", (2.2, 0.0)), ("c3", (2.3, 0.0))]
    assert tour_order(stops, (0.0, 0.0)) == [1, 2, 3, 0]
    # a stop the map cannot reach goes last, whatever its straight-line distance
    blocked = {(0.5, 0.0)}

    def dist(a: tuple[float, float], b: tuple[float, float]) -> float | None:
        return None if b in blocked else math.dist(a, b)

    stops = [("near but shut", (0.5, 0.0)), ("far", (4.0, 0.0))]
    assert tour_order(stops, (0.0, 0.0), dist) == [1, 0]
    assert tour_order([], (0.0, 0.0)) == []
