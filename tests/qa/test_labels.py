"""The one label rule: exact, then share, then head noun, then synonyms above the threshold."""

from __future__ import annotations

import pytest

from robomem.errors import QueryError
from robomem.qa.labels import SYNONYM_THRESHOLD, match_label, name_forms, normalize_label
from robomem.retrieval.embedding import HashEmbedder, MiniLMEmbedder
from robomem.submodules.spatial.memory import ObjectRecord


def _obj(oid: int, labels: dict[str, float], last: float = 1.0) -> ObjectRecord:
    label = max(labels.items(), key=lambda kv: (kv[1], kv[0]))[0]
    z = (0.0, 0.0, 0.0)
    return ObjectRecord(oid, label, labels, z, z, z, 3, 0.0, last, "kitchen", "present")


OBJS = [
    _obj(1, {"red mug": 5.0}),
    _obj(2, {"white mug": 4.0, "cup": 2.0}, last=5.0),
    _obj(3, {"sofa": 6.0}),
    _obj(4, {"toy duck": 3.0}),
    _obj(5, {"bed": 9.0}),
]


def test_normalise_and_plural() -> None:
    assert normalize_label("  The Red  Mug's ") == "red mug"
    assert name_forms("the mugs") == ("mugs", "mug")
    assert name_forms("boxes") == ("boxes", "box")
    assert name_forms("glass") == ("glass",)


def test_tiers_in_order() -> None:
    exact = match_label("red mug", OBJS)
    assert [(m.object_id, m.how, m.score) for m in exact] == [(1, "exact", 1.0)]
    share = match_label("cups", OBJS)
    assert [(m.object_id, m.how, m.matched) for m in share] == [(2, "share", "cup")]
    assert share[0].score == pytest.approx(2 / 6)
    head = match_label("mugs", OBJS)
    assert [m.object_id for m in head] == [2, 1]  # the more recently seen first among equals
    assert {m.how for m in head} == {"head"}


def test_unknown_names_match_nothing() -> None:
    emb = HashEmbedder()  # not semantic: the synonym tier is skipped
    assert match_label("unicorn", OBJS, emb) == ()
    assert match_label("couch", OBJS, emb) == ()
    with pytest.raises(QueryError, match="empty name"):
        match_label("  the ", OBJS)


@pytest.fixture(scope="module")
def minilm() -> MiniLMEmbedder:
    return MiniLMEmbedder()


def test_synonyms_above_the_threshold(minilm: MiniLMEmbedder) -> None:
    couch = match_label("couch", OBJS, minilm)
    assert [(m.object_id, m.how) for m in couch] == [(3, "synonym")]
    assert couch[0].score >= SYNONYM_THRESHOLD
    assert [m.object_id for m in match_label("rubber duck", OBJS, minilm)] == [4]
    for never in ("unicorn", "umbrella", "giraffe"):
        assert match_label(never, OBJS, minilm) == (), never
    assert match_label("blue mug", [OBJS[0]], minilm) == ()  # another colour of the same noun is not a synonym
