"""The pure helpers the node and replay share: parse_event (String events) and frame_instances
(the instance policy: labels, unlabeled ids, detections)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from robomem.io.ros_io import frame_instances, parse_event
from robomem.observation import InstanceInfo


# -- parse_event -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "kind", "body"),
    [
        ("instruction: fetch the red mug", "instruction", "fetch the red mug"),
        ("  fact:   the mug is Anna's  ", "fact", "the mug is Anna's"),
        ('{"kind": "action", "text": "open drawer"}', "action", "open drawer"),
        ('{"text": "no kind given"}', "event", "no kind given"),
        ('{"kind": "", "text": "empty kind"}', "event", "empty kind"),
        ('{"kind": "x"}', "event", '{"kind": "x"}'),  # JSON without text: the whole string is the text
        ("{not json", "event", "{not json"),
        ("the time is 10:30", "event", "the time is 10:30"),  # a head with spaces is not a kind
        ("a" * 33 + ": too long a kind", "event", "a" * 33 + ": too long a kind"),
        (": no head", "event", ": no head"),
        ("plain text", "event", "plain text"),
        ("url: http://x", "url", "http://x"),  # split at the first colon only
    ],
)
def test_parse_event_kinds_and_text(text: str, kind: str, body: str) -> None:
    ev = parse_event(text, 12.5, "r1")
    assert (ev.kind, ev.text, ev.stamp, ev.robot_id) == (kind, body, 12.5, "r1")


def test_parse_event_refuses_what_an_event_cannot_hold() -> None:
    with pytest.raises(ValueError, match="Event.stamp"):
        parse_event("event: x", -1.0, "r")
    with pytest.raises(ValueError, match="NUL"):
        parse_event("note: a\x00b", 1.0, "r")


# -- frame_instances ---------------------------------------------------------------------------
def _ids() -> np.ndarray:
    ids = np.zeros((4, 5), np.int32)
    ids[0, :2] = 2
    ids[2:, 3:] = 7
    ids[3, 0] = 11
    return ids


def test_no_instance_image_gives_no_instances() -> None:
    assert frame_instances((4, 5), None, None) == (None, {}, [])
    assert frame_instances((4, 5), None, {1: InstanceInfo("mug")}) == (None, {}, [])


def test_ids_without_a_labels_message_are_all_objects() -> None:
    ids = _ids()
    out, infos, unlabeled = frame_instances(ids.shape, ids, None)
    assert out is ids and unlabeled == []
    assert {k: v.label for k, v in infos.items()} == {2: "object", 7: "object", 11: "object"}


def test_unlabeled_ids_are_cleared_and_returned_and_absent_labels_dropped() -> None:
    ids = _ids()
    labels = {2: InstanceInfo("mug", 0.9), 11: InstanceInfo("book"), 40: InstanceInfo("ghost")}
    out, infos, unlabeled = frame_instances(ids.shape, ids, labels)
    assert unlabeled == [7]
    assert out is not None and set(np.unique(out).tolist()) == {0, 2, 11} and out.dtype == np.int32
    assert (out[2:, 3:] == 0).all() and (ids[2:, 3:] == 7).all()  # the input is not modified
    assert infos == {2: labels[2], 11: labels[11]}  # 40 labels nothing in this image


def test_an_empty_labels_message_clears_every_id_but_keeps_the_frame() -> None:
    ids = _ids()
    out, infos, unlabeled = frame_instances(ids.shape, ids, {})
    assert unlabeled == [2, 7, 11] and infos == {} and out is not None and not out.any()


def test_large_ids_take_the_unique_path() -> None:
    ids = np.zeros((2, 2), np.int64)
    ids[0, 0] = 1 << 40
    out, infos, unlabeled = frame_instances(ids.shape, ids, {1 << 40: InstanceInfo("crate")})
    assert unlabeled == [] and list(infos) == [1 << 40] and out is ids


def _det(label: str, score: float, cx: float, cy: float, sx: float, sy: float) -> SimpleNamespace:
    hyp = SimpleNamespace(hypothesis=SimpleNamespace(class_id=label, score=score))
    centre = SimpleNamespace(position=SimpleNamespace(x=cx, y=cy))
    return SimpleNamespace(results=[hyp], bbox=SimpleNamespace(center=centre, size_x=sx, size_y=sy))


def test_detections_rasterise_larger_boxes_first_so_small_ones_stay_visible() -> None:
    msg = SimpleNamespace(
        detections=[
            _det("cup", 0.8, 2.0, 2.0, 2.0, 2.0),  # small, inside the table box
            _det("table", 1.5, 4.0, 3.0, 8.0, 6.0),  # score clipped to 1
            _det("", 0.9, 1.0, 1.0, 2.0, 2.0),  # no label: skipped
            _det("wall", 0.9, 50.0, 50.0, 2.0, 2.0),  # off the image: rasterises to nothing
        ]
    )
    ids, infos, unlabeled = frame_instances((6, 8), np.ones((6, 8), np.int32), None, msg)
    assert unlabeled == [] and ids is not None and ids.shape == (6, 8)
    assert {v.label for v in infos.values()} == {"table", "cup"}
    table = next(k for k, v in infos.items() if v.label == "table")
    cup = next(k for k, v in infos.items() if v.label == "cup")
    assert infos[table].score == 1.0 and infos[cup].score == pytest.approx(0.8)
    assert ids[2, 2] == cup and ids[5, 7] == table  # the cup is drawn over the table
    assert set(np.unique(ids).tolist()) == {table, cup}
