"""Spatial memory's pure parts: the scene graph, the merge of a duplicate pair, the label index."""

from __future__ import annotations

import numpy as np

from robomem import Memory
from robomem.ingest.perception import Segment
from robomem.places import Place, Places
from robomem.submodules.spatial.objects import ObjectRecord, ObjectState, merged_state, top_label
from robomem.submodules.spatial.scene_graph import Relation, build_scene_graph
from robomem.testing.synthetic import BoxScene, demo_boxes, look_at


def rec(oid: int, label: str, lo, hi, place: str | None = None, status: str = "present") -> ObjectRecord:
    lo, hi = np.asarray(lo, float), np.asarray(hi, float)
    c = tuple(float(v) for v in (lo + hi) / 2)
    return ObjectRecord(oid, label, {label: 1.0}, c, tuple(lo), tuple(hi), 3, 0.0, 1.0, place, status)  # type: ignore[arg-type]


def test_scene_graph_on_in_near_and_in_room():
    table = rec(1, "table", (0, 0, 0), (1.2, 0.8, 0.75), "kitchen")
    mug = rec(2, "mug", (0.5, 0.3, 0.76), (0.6, 0.4, 0.86), "kitchen")
    box = rec(3, "box", (3, 0, 0), (3.6, 0.6, 0.6), "hall")
    toy = rec(4, "toy", (3.2, 0.2, 0.1), (3.3, 0.3, 0.2), "hall")
    chair = rec(5, "chair", (1.3, 0.0, 0.0), (1.8, 0.5, 0.9), "kitchen")
    gone = rec(6, "cup", (0.8, 0.3, 0.76), (0.9, 0.4, 0.86), "kitchen", status="absent")
    places = Places([Place("kitchen", (-1, -1), (2, 2)), Place("hall", (2, -1), (5, 2))])
    g = build_scene_graph([table, mug, box, toy, chair, gone], places, near_distance=1.0)
    rels = set(g.relations)
    assert Relation(2, "on", 1) in rels
    assert Relation(4, "in", 3) in rels
    assert Relation(1, "near", 5) in rels and Relation(5, "near", 1) not in rels  # one direction only
    assert Relation(2, "in_room", "kitchen") in rels and Relation(4, "in_room", "hall") in rels
    assert not any(6 in (r.subject, r.object) for r in rels)  # absent objects have no relations
    assert g.places == ("kitchen", "hall") and len(g.objects) == 6
    assert {r.predicate for r in g.relations_of(2)} == {"on", "in_room", "near"}


def test_scene_graph_of_nothing_is_empty():
    g = build_scene_graph([], Places([]), 1.0)
    assert g.relations == () and g.objects == ()


def state(oid: int, labels: dict[str, float], centre, n_obs: int, first: float, last: float) -> ObjectState:
    pts = (np.random.default_rng(oid).random((50, 3)) * 0.1 + np.asarray(centre)).astype(np.float32)
    return ObjectState(
        id=oid,
        labels=labels,
        points=pts,
        keys=np.arange(5, dtype=np.int64),
        centroid=pts.mean(axis=0).astype(np.float64),
        bbox_min=pts.min(axis=0).astype(np.float64),
        bbox_max=pts.max(axis=0).astype(np.float64),
        n_obs=n_obs,
        first_seen=first,
        last_seen=last,
        colour=None,
        embedding=None,
        place="kitchen" if centre[0] < 2 else "hall",
        status="absent" if centre[0] < 2 else "present",
        retrieved=1,
    )


def test_merged_state_moved_takes_the_duplicates_geometry_and_both_histories():
    old = state(3, {"mug": 2.0}, (0, 0, 0), n_obs=5, first=1.0, last=10.0)
    dup = state(9, {"mug": 1.0, "cup": 1.5}, (4, 0, 0), n_obs=2, first=20.0, last=30.0)
    m = merged_state(old, dup, moved=True)
    assert m.id == 3 and m.labels == {"mug": 3.0, "cup": 1.5} and m.label == "mug"
    assert (m.n_obs, m.first_seen, m.last_seen, m.retrieved) == (7, 1.0, 30.0, 2)
    assert m.points is dup.points and m.place == "hall" and m.status == "present"
    assert len(m.sample) == min(48, len(m.points))


def test_merged_state_overlap_keeps_its_own_geometry():
    a = state(3, {"mug": 2.0}, (0, 0, 0), n_obs=5, first=1.0, last=10.0)
    b = state(4, {"mug": 1.0}, (0.02, 0, 0), n_obs=1, first=9.0, last=11.0)
    m = merged_state(a, b, moved=False)
    assert m.points is a.points and m.last_seen == 10.0 and m.n_obs == 6 and m.first_seen == 1.0


def test_top_label_is_the_argmax_ties_alphabetically_last():
    assert top_label({"book": 2.0, "notebook": 1.0}) == "book"
    assert top_label({"a": 1.0, "b": 1.0}) == "b"


def test_label_index_follows_every_change_of_the_map(tmp_path, embedder):
    scene = BoxScene(demo_boxes())
    with Memory.open(tmp_path / "m", embedder=embedder) as mem:
        mem.update(scene.observe(look_at((0.0, 0.0, 1.5), (2.3, -0.3, 0.7)), 0.0))
        li = mem.spatial.label_index()
        assert mem.spatial.label_index() is li  # unchanged map: the same index
        labels = {int(i): li.uniq[j] for i, j in zip(li.ids.tolist(), li.lab_idx.tolist(), strict=True)}
        assert labels == {o.object_id: o.label for o in mem.objects()}
        mem.update(scene.observe(look_at((0.2, -0.5, 1.5), (2.3, -0.3, 0.7)), 1.0))
        li2 = mem.spatial.label_index()
        labels2 = {int(i): li2.uniq[j] for i, j in zip(li2.ids.tolist(), li2.lab_idx.tolist(), strict=True)}
        assert labels2 == {o.object_id: o.label for o in mem.objects()}
        assert (li2 is li) == (labels2 == labels)  # a new instance exactly when an id or a label changed
        pts = (np.random.default_rng(0).uniform(-0.1, 0.1, (200, 3)) + (40.0, 40.0, 0.5)).astype(np.float32)
        far = Segment(
            1,
            "zebra",
            1.0,
            pts,
            pts.mean(0).astype(float),
            pts.min(0).astype(float),
            pts.max(0).astype(float),
            400,
            None,
            None,
        )  # a new object far from the rest: a new id, a new label
        mem.update(scene.observe(look_at((0.2, -0.5, 1.5), (2.3, -0.3, 0.7)), 2.0), segments=[far])
        li3 = mem.spatial.label_index()
        assert li3 is not li2 and "zebra" in li3.uniq and len(li3.ids) == len(li2.ids) + 1
        assert mem.spatial.label_of(10_000) is None
