"""The engine's count: an object observed absent from its last place still counts in the house (issue 15).

A real rendered scene (robomem.testing.synthetic) through Memory.update: two mugs on a table, then the table
seen again with one mug gone. Memory knows the mug is not at its place; it does not know the mug left the
house, so "how many mugs" is 2 (one where last seen, one not), while "how many mugs on the table" is 1.
"""

from __future__ import annotations

import pytest

from robomem import Memory
from robomem.places import Place
from robomem.qa.engine import QuestionEngine
from robomem.testing.synthetic import Box, BoxScene, look_at

TABLE = Box(1, "table", (0.0, 0.0, 0.375), (1.0, 0.6, 0.75), (140, 90, 40))
RED = Box(2, "red mug", (0.1, -0.2, 0.80), (0.09, 0.09, 0.10), (200, 30, 30))
WHITE = Box(3, "white mug", (0.1, 0.2, 0.80), (0.09, 0.09, 0.10), (235, 235, 235))
VIEWS = [look_at((-1.2, y, 1.3), (0.1, 0.0, 0.75)) for y in (-0.2, -0.1, 0.0, 0.1, 0.2)]
BOTH = BoxScene([TABLE, RED, WHITE], 640, 480, hfov_deg=70)
RED_ONLY = BoxScene([TABLE, RED], 640, 480, hfov_deg=70)


def _memory_with_one_mug_gone(path) -> Memory:
    mem = Memory.open(path)
    mem.set_places([Place("kitchen", (-5.0, -5.0), (5.0, 5.0))])
    for i, pose in enumerate(VIEWS[:3]):
        mem.update(BOTH.observe(pose, float(i)))
    mem.update(RED_ONLY.observe(VIEWS[3], 3.0))  # the table looked at again: the white mug is not there
    return mem


def test_an_object_not_where_last_seen_still_counts_in_the_house(tmp_path) -> None:
    with _memory_with_one_mug_gone(tmp_path / "store") as mem:
        engine = QuestionEngine(mem)
        white = mem.spatial.objects("white mug")
        assert len(white) == 1 and white[0].confirmed and not engine.is_present(white[0].object_id)
        red = mem.spatial.objects("red mug")[0]

        n = engine.count("mugs")
        assert n.count == 2, n.text
        assert list(n.args["where_last_seen"]) == [red.object_id]
        assert list(n.args["not_where_last_seen"]) == [white[0].object_id]
        assert "1 where last seen, 1 not where last seen" in n.text[0]
        d = n.to_dict()
        assert {r["object_id"]: r["status"] for r in d["results"]} == {
            red.object_id: "present",
            white[0].object_id: "absent",
        }
        assert any(e["kind"] == "absence" and e["object_id"] == white[0].object_id for e in d["evidence"])

        assert engine.count("white mug").count == 1  # whereabouts unknown, still one white mug
        # in one place only those there now: the white mug is known not to be on the kitchen table
        in_kitchen = engine.count("mugs", place="kitchen")
        assert in_kitchen.count == 1 and "1 more observed absent" in in_kitchen.text[0]


@pytest.mark.parametrize(("apart", "counted"), [(0.22, 1), (0.6, 2)])
def test_an_absent_record_next_to_a_same_label_object_seen_since_is_not_counted_again(tmp_path, apart, counted) -> None:
    # a pose-drift duplicate is a second record 0.2 m from its object (measured: 0.21 and 0.24 m at robot); here
    # two red mugs that far apart, one taken away: the engine cannot tell them from a duplicate, and counts one
    a = Box(2, "red mug", (-0.25, 0.0, 0.80), (0.09, 0.09, 0.10), (200, 30, 30))
    b = Box(3, "red mug", (-0.25 + apart, 0.0, 0.80), (0.09, 0.09, 0.10), (200, 30, 30))
    two, one = BoxScene([TABLE, a, b], 640, 480, hfov_deg=70), BoxScene([TABLE, a], 640, 480, hfov_deg=70)
    with Memory.open(tmp_path / "store") as mem:
        for i, pose in enumerate(VIEWS[:3]):
            mem.update(two.observe(pose, float(i)))
        mem.update(one.observe(VIEWS[3], 3.0))
        engine = QuestionEngine(mem)
        mugs = mem.spatial.objects("red mug")
        gone = [o.object_id for o in mugs if not engine.is_present(o.object_id)]
        assert len(mugs) == 2 and len(gone) == 1
        n = engine.count("red mugs")
        assert n.count == counted, n.text
        assert list(n.args["duplicates"]) == (gone if counted == 1 else [])
        assert list(n.args["not_where_last_seen"]) == ([] if counted == 1 else gone)


FAR = Box(4, "table", (0.0, 3.0, 0.375), (1.0, 0.6, 0.75), (140, 90, 40))
FAR_VIEWS = [look_at((-1.2, 3.0 + y, 1.3), (0.1, 3.0, 0.75)) for y in (-0.2, -0.1, 0.0)]


@pytest.mark.parametrize(("looked_before", "counted"), [(True, 1), (False, 2)])
def test_an_object_that_appeared_where_memory_had_looked_may_be_the_older_one_moved(
    tmp_path, looked_before, counted
) -> None:
    # the book seen on the near table, then (its old place not looked at again) a book on the far table: if the
    # far table had been looked at without it, it appeared there, and may be the first one moved (one book)
    book = Box(2, "black book", (0.1, 0.0, 0.77), (0.2, 0.15, 0.04), (20, 20, 20))
    moved = Box(2, "black book", (0.1, 3.0, 0.77), (0.2, 0.15, 0.04), (20, 20, 20))
    before = BoxScene([TABLE, FAR, book], 640, 480, hfov_deg=70)
    after = BoxScene([TABLE, FAR, moved], 640, 480, hfov_deg=70)
    with Memory.open(tmp_path / "store") as mem:
        t = 0.0
        for pose in VIEWS[:3]:
            mem.update(before.observe(pose, t))
            t += 1.0
        if looked_before:
            mem.update(before.observe(FAR_VIEWS[0], t))  # the far table, no book on it
            t += 1.0
        for pose in FAR_VIEWS[1:]:
            mem.update(after.observe(pose, t + 100.0))
            t += 1.0
        books = mem.spatial.objects("black book")
        assert len(books) == 2 and all(o.confirmed for o in books)
        n = QuestionEngine(mem).count("black book")
        assert n.count == counted, n.text
        assert len(n.args["maybe_moved"]) == 2 - counted
