"""Free text to verbs: the questions people ask, routed offline by rules; anything else is not routed."""

from __future__ import annotations

import pytest

from robomem.errors import QueryError
from robomem.qa.router import goal_target, route

DAY = 86_400.0


@pytest.mark.parametrize(
    ("text", "verb", "args"),
    [
        ("where is the red mug?", "where_now", {"target": "red mug"}),
        ("Where are my keys", "where_now", {"target": "keys"}),
        ("is the red mug still there?", "where_now", {"target": "red mug"}),
        ("Where was the blue book yesterday?", "where_at", {"target": "blue book", "t": -DAY}),
        ("where was the mug at t=120", "where_at", {"target": "mug", "t": 120.0}),
        ("where were the keys 2 hours ago", "where_at", {"target": "keys", "t": -7200.0}),
        ("when did you last see the ball?", "last_seen", {"target": "ball"}),
        ("when was the book last seen", "last_seen", {"target": "book"}),
        ("how many mugs are there?", "count", {"target": "mugs", "place": None}),
        ("how many books in the bedroom", "count", {"target": "books", "place": "bedroom"}),
        ("what changed in the kitchen since yesterday?", "changes", {"since": -DAY, "place": "kitchen"}),
        ("what changed in the last 2 hours", "changes", {"since": -7200.0, "place": None}),
        ("what changed in the kitchen since t=100?", "changes", {"since": 100.0, "place": "kitchen"}),
        ("is the red mug still in the kitchen?", "still_in", {"target": "red mug", "place": "kitchen"}),
        ("why do you think so?", "why", {}),
        ("what do you know about the red mug", "facts", {"subject": "red mug"}),
    ],
)
def test_questions_route_to_verbs(text: str, verb: str, args: dict) -> None:
    r = route(text)
    assert r is not None and r.verb == verb and dict(r.args) == args


@pytest.mark.parametrize("text", ["bring me the red mug", "describe the kitchen", "hello", "what is a mug made of?"])
def test_other_text_is_not_routed(text: str) -> None:
    assert route(text) is None


def test_bad_time_is_a_clear_error() -> None:
    with pytest.raises(QueryError, match="cannot read the time"):
        route("what changed since the dawn of time?")


def test_goal_target() -> None:
    assert goal_target("bring me the red mug") == "red mug"
    assert goal_target("Find the blue book please") == "blue book"
    assert goal_target("where is the ball?") == "ball"
    assert goal_target("the giraffe") == "giraffe"
