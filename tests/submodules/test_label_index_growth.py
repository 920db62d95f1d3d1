"""Spatial memory's label index is extended when only new objects came: it equals what a rebuild gives,
through adds, a relabel-free stretch, and new labels."""

from __future__ import annotations

from robomem import Memory
from robomem.testing.synthetic import Box, BoxScene, demo_boxes, look_at


def rebuilt(mem: Memory) -> tuple[list[int], list[str]]:
    objs = sorted(mem.spatial.objects(), key=lambda o: o.object_id)
    return [o.object_id for o in objs], [o.label for o in objs]


def test_grown_label_index_equals_a_rebuild(tmp_path, embedder):
    boxes = demo_boxes()
    extra = [
        Box(20 + i, lab, (1.2 + 0.35 * i, 0.9, 0.80), (0.1, 0.1, 0.1), (200, 40 + 30 * i, 40))
        for i, lab in enumerate(["red mug", "red mug", "book", "book"])
    ]
    with Memory.open(tmp_path / "m", embedder=embedder) as mem:
        scene = BoxScene(list(boxes))
        t, grown = 0.0, 0
        views = [(0.0, 0.0, 1.5), (0.2, -0.5, 1.5), (0.3, 0.5, 1.4)]
        for box in [None, *extra]:
            if box is not None:
                scene = BoxScene([*scene.boxes, box])
            for eye in views:
                mem.update(scene.observe(look_at(eye, (2.0, 0.3, 0.7)), t))
                t += 1.0
                before = mem.spatial._label_index
                li = mem.spatial.label_index()
                grown += before is not None and before[1] is not li and len(li.ids) > len(before[1].ids)
                ids, labels = rebuilt(mem)
                assert li.ids.tolist() == ids and [li.uniq[j] for j in li.lab_idx.tolist()] == labels
                assert list(li.uniq) == sorted(set(labels))
        assert grown >= 1  # some of those were extensions, not rebuilds
