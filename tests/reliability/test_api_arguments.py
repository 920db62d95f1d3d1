"""Wrong arguments to the public API are ValueErrors naming the argument (issue 16).

Before: ``KeyError``/``AttributeError``/``TypeError`` from deep inside, or a silently wrong answer
(``Query(radius=-1)`` accepted, ``where_at(id, nan)`` answering "unknown", ``changes(nan, nan)`` []).
"""

from __future__ import annotations

import pytest

from robomem import Memory, MemoryConfig, Place
from robomem.errors import QueryError, UnknownObjectError
from robomem.retrieval.query import Query
from robomem.testing.synthetic import BoxScene, demo_boxes, look_at


@pytest.fixture(scope="module")
def mem(tmp_path_factory: pytest.TempPathFactory):
    m = Memory.open(tmp_path_factory.mktemp("api") / "s", MemoryConfig.from_dict({"embedder": "hash"}))
    scene = BoxScene(demo_boxes())
    for i in range(3):
        m.update(scene.observe(look_at((0.0, 0.1 * i, 1.3), (2.0, 0.0, 0.8)), stamp=float(i)))
    yield m
    m.close()


def test_points_of_an_unknown_or_non_integer_id(mem: Memory) -> None:
    with pytest.raises(UnknownObjectError, match="points: no object -5 in memory"):
        mem.spatial.points(-5)
    with pytest.raises(KeyError):  # still a KeyError for code written against the old behaviour
        mem.spatial.points(10**9)
    with pytest.raises(ValueError, match="points: object_id must be an integer, got str"):
        mem.spatial.points("a")
    oid = mem.objects()[0].object_id
    assert mem.spatial.points(oid).shape[1] == 3


@pytest.mark.parametrize(
    ("places", "message"),
    [
        ([("kitchen", (0, 0), (1, 1))], r"places\[0\]: expected a robomem.Place"),
        ("kitchen", "expected an iterable of Place, got str"),
        ([Place("a", (0, 0), (1, 1)), {"name": "b"}], r"places\[1\]: expected a robomem.Place"),
    ],
)
def test_set_places_names_what_is_not_a_place(mem: Memory, places: object, message: str) -> None:
    before = mem.places.names() if hasattr(mem.places, "names") else None
    with pytest.raises(ValueError, match=message):
        mem.set_places(places)  # type: ignore[arg-type]
    assert (mem.places.names() if hasattr(mem.places, "names") else None) == before  # nothing replaced


@pytest.mark.parametrize("radius", [-1.0, 0.0])
def test_query_radius_must_be_positive(radius: float) -> None:
    with pytest.raises(ValueError, match="Query.radius: must be > 0"):
        Query(text="mug", position=(0.0, 0.0, 0.0), radius=radius)


def test_times_must_be_finite(mem: Memory) -> None:
    oid = mem.objects()[0].object_id
    for bad in (float("nan"), float("inf"), "12", None):
        with pytest.raises(QueryError, match="where_at: t must be a finite time"):
            mem.temporal.where_at(oid, bad)  # type: ignore[arg-type]
    with pytest.raises(QueryError, match="changes: t1 must be a finite time"):
        mem.temporal.changes(float("nan"), float("nan"))
    with pytest.raises(QueryError, match="changes: t2 must be a finite time"):
        mem.temporal.changes(0.0, float("nan"))
    assert mem.temporal.where_at(oid, 2.0).status == "seen"
    assert isinstance(mem.temporal.changes(0.0, 2.0), list)
