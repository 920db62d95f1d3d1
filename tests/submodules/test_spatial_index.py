"""The object index against brute force: random boxes, inserts, moves, merges, deletes."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from robomem import Memory
from robomem.ingest.perception import Segment
from robomem.submodules.spatial.index import IndexedObject, ObjectIndex
from robomem.testing.synthetic import BoxScene, demo_boxes, look_at


def random_object(rng: np.random.Generator, oid: int, labels: list[str], span: float = 30.0) -> IndexedObject:
    c = rng.uniform(-span, span, 3)
    c[2] = rng.uniform(0.0, 2.0)
    half = rng.uniform(0.02, 0.6, 3) if rng.random() > 0.05 else rng.uniform(2.0, 12.0, 3)  # a few huge ones
    lab = str(rng.choice(labels))
    extra = tuple(str(x) for x in rng.choice(labels, size=int(rng.integers(0, 3))))
    return IndexedObject(
        oid, c - half, c + half, c, float(rng.uniform(0, 10)), float(rng.uniform(10, 20)), int(rng.integers(1, 9)),
        lab, tuple(dict.fromkeys((lab, *extra))), bool(rng.random() < 0.2),
    )  # fmt: skip


def brute_box(objs: dict[int, IndexedObject], lo: np.ndarray, hi: np.ndarray, pad: float) -> set[int]:
    return {
        oid for oid, o in objs.items() if np.all(o.bbox_min <= hi + pad) and np.all(o.bbox_max >= lo - pad)
    }  # fmt: skip


def check(index: ObjectIndex, objs: dict[int, IndexedObject], rng: np.random.Generator) -> None:
    assert len(index) == len(objs)
    assert sorted(index.ids[index.slots()].tolist()) == sorted(objs)
    for _ in range(25):
        c = rng.uniform(-35, 35, 3)
        half = rng.uniform(0.0, 8.0, 3) if rng.random() < 0.7 else rng.uniform(20.0, 60.0, 3)
        pad = float(rng.choice([0.0, 0.08, 0.5]))
        got = index.ids[index.box(c - half, c + half, pad)].tolist()
        assert len(got) == len(set(got))
        assert set(got) == brute_box(objs, c - half, c + half, pad)
        r = float(rng.uniform(0.0, 15.0))
        got = set(index.ids[index.around(c, r)].tolist())
        assert got == {oid for oid, o in objs.items() if np.linalg.norm(o.centroid - c) <= r}
    for lab in {o.label for o in objs.values()} | {"never seen"}:
        got = index.of_label(lab)
        assert list(got) == sorted(set(got.tolist()))  # ascending, each slot once
        assert set(index.ids[got].tolist()) == {i for i, o in objs.items() if o.label == lab}
        absent = index.absent_of(lab)
        want = {i for i, o in objs.items() if o.label == lab and o.absent}
        assert list(absent) == sorted(set(absent.tolist()))
        assert set(index.ids[absent].tolist()) == want
    every = {lab for o in objs.values() for lab in (o.label, *o.labels)}
    assert index.member_labels() == sorted(every)
    for lab in every:
        got = index.members_of(lab)
        assert list(got) == sorted(set(got.tolist()))
        want = {i for i, o in objs.items() if lab in o.labels or lab == o.label}
        assert set(index.ids[got].tolist()) == want
    for oid, o in objs.items():  # the per-object rows are the object's
        s = index.slot_of[oid]
        assert np.array_equal(index.cents[s], o.centroid) and index.last_seen[s] == o.last_seen
        assert index.vocab[index.lab_idx[s]] == o.label and bool(index.absent[s]) == o.absent


LABELS = ["mug", "cup", "book", "chair", "plant", "red mug"]


def test_index_matches_brute_force_through_inserts_moves_merges_deletes():
    rng = np.random.default_rng(7)
    index = ObjectIndex(cell=1.0, max_cells=64, capacity=16)  # small: the arrays must grow
    objs: dict[int, IndexedObject] = {}
    for oid in range(1, 401):
        o = random_object(rng, oid, LABELS)
        index.upsert(o)
        objs[oid] = o
    _mutate_and_check(index, objs, rng, 401)


def _bulk(objs: dict[int, IndexedObject], index: ObjectIndex) -> None:
    ids = sorted(objs)
    os_ = [objs[i] for i in ids]
    index.bulk_load(
        np.asarray(ids, dtype=np.int64),
        np.array([o.bbox_min for o in os_]),
        np.array([o.bbox_max for o in os_]),
        np.array([o.centroid for o in os_]),
        np.array([[o.first_seen, o.last_seen] for o in os_]),
        np.array([float(o.n_obs) for o in os_]),
        [o.label for o in os_],
        {i: o.labels for i, o in enumerate(os_) if len(o.labels) > 1},
        np.array([o.absent for o in os_]),
    )


def test_a_bulk_loaded_index_matches_brute_force_through_the_same_changes():
    """The compact base sets read at open (compact.py) and the sets of what changed since answer together."""
    rng = np.random.default_rng(11)
    objs = {oid: random_object(rng, oid, LABELS) for oid in range(1, 401)}
    far = np.array([3e9, -3e9, 0.5])  # past the grid's cell limit: kept with the big boxes
    objs[401] = IndexedObject(401, far - 0.1, far + 0.1, far, 1.0, 2.0, 1, "mug", ("mug",), False)
    index = ObjectIndex(cell=1.0, max_cells=64, capacity=16)
    _bulk(objs, index)
    check(index, objs, rng)
    assert set(index.ids[index.box(far - 1, far + 1)].tolist()) == {401}
    _mutate_and_check(index, objs, rng, 402)


def test_ids_far_apart_and_huge_keep_their_slots():
    rng = np.random.default_rng(2)
    index = ObjectIndex()
    objs = {oid: random_object(rng, oid, LABELS) for oid in (1, 5, 10**7, 2**40, 2**62)}
    _bulk(objs, index)
    check(index, objs, rng)
    for oid in (3, 10**9, 2**50):
        objs[oid] = random_object(rng, oid, LABELS)
        index.upsert(objs[oid])
    index.remove(2**40)
    del objs[2**40]
    check(index, objs, rng)
    assert index.slot_of.get("a") is None and 2**40 not in index.slot_of and list(index.slot_of) == sorted(objs)


def _mutate_and_check(index: ObjectIndex, objs: dict[int, IndexedObject], rng: np.random.Generator, next_id: int):
    labels = LABELS
    check(index, objs, rng)
    for _round in range(6):
        ids = sorted(objs)
        for oid in rng.choice(ids, 60, replace=False).tolist():  # moves (and relabels, absences)
            o = random_object(rng, oid, labels)
            index.upsert(o)
            objs[oid] = o
        for oid in rng.choice(sorted(objs), 15, replace=False).tolist():  # absence flips
            o = objs[oid]
            o2 = replace(o, absent=not o.absent)
            index.set_absent(oid, o2.absent)
            objs[oid] = o2
        pairs = rng.choice(sorted(objs), (10, 2), replace=False).tolist()
        for keep, drop in pairs:  # merges: the survivor takes the duplicate's geometry, the duplicate goes
            d = objs[drop]
            merged = IndexedObject(
                keep, d.bbox_min, d.bbox_max, d.centroid, 0.0, d.last_seen, 2, d.label, d.labels, False
            )
            index.upsert(merged)
            index.remove(drop)
            objs[keep] = merged
            del objs[drop]
        for oid in rng.choice(sorted(objs), 20, replace=False).tolist():  # deletes
            index.remove(oid)
            del objs[oid]
        for _ in range(30):  # inserts reuse the freed slots
            o = random_object(rng, next_id, labels)
            index.upsert(o)
            objs[next_id] = o
            next_id += 1
        check(index, objs, rng)
    index.remove(10**9)  # an unknown id is a no-op
    check(index, objs, rng)


def test_index_rejects_bad_boxes_and_settings():
    index = ObjectIndex()
    bad = IndexedObject(1, np.array([0.0, np.nan, 0.0]), np.ones(3), np.zeros(3), 0.0, 0.0, 1, "mug", ("mug",), False)
    with pytest.raises(ValueError, match="object 1 needs a finite 3D box"):
        index.upsert(bad)
    with pytest.raises(ValueError, match="ObjectIndex.cell"):
        ObjectIndex(cell=0.0)
    with pytest.raises(ValueError, match="ObjectIndex.max_cells"):
        ObjectIndex(max_cells=0)


def test_spatial_memory_queries_match_brute_force_after_updates_and_merges(tmp_path, embedder):
    """within / overlapping / label index of a live memory agree with a scan over every object."""
    scene = BoxScene(demo_boxes())
    rng = np.random.default_rng(3)
    with Memory.open(tmp_path / "m", embedder=embedder) as mem:
        for t in range(4):
            segs = []
            for k in range(5):  # scattered objects, some on top of each other (overlap merges)
                c = rng.uniform(-6, 6, 3) if k < 3 else np.array([5.0, 5.0, 0.5]) + rng.normal(0, 0.01, 3)
                pts = (rng.uniform(-0.1, 0.1, (150, 3)) + c).astype(np.float32)
                segs.append(
                    Segment(k + 1, "box" if k >= 3 else str(rng.choice(["mug", "book"])), 1.0, pts,
                            pts.mean(0).astype(float), pts.min(0).astype(float), pts.max(0).astype(float),
                            400, None, None)
                )  # fmt: skip
            mem.update(scene.observe(look_at((0.0, 0.0, 1.5), (2.3, -0.3, 0.7)), float(t)), segments=segs)
        objs = mem.objects()
        assert len(objs) > 5
        for _ in range(20):
            p = tuple(float(v) for v in rng.uniform(-7, 7, 3))
            r = float(rng.uniform(0.5, 6.0))
            got = [o.object_id for o in mem.spatial.within(p, r)]
            d = {o.object_id: float(np.linalg.norm(np.asarray(o.centroid) - p)) for o in objs}
            want = sorted((i for i in d if d[i] <= r), key=lambda i: (d[i], i))
            assert got == want
        for x in objs:
            got = {oid for oid, _ in mem.spatial.overlapping(x.object_id, set())}
            want = {
                y.object_id for y in objs
                if y.object_id != x.object_id and y.label == x.label and y.status != "absent"
                and np.all(np.asarray(y.bbox_min) <= x.bbox_max) and np.all(np.asarray(y.bbox_max) >= x.bbox_min)
            }  # fmt: skip
            assert got == want
        li = mem.spatial.label_index()
        assert {int(i): li.uniq[j] for i, j in zip(li.ids.tolist(), li.lab_idx.tolist(), strict=True)} == {
            o.object_id: o.label for o in objs
        }


def test_batched_absence_bound_never_under_the_exact_test():
    """The batched pre-test counts the points the exact test counts and never bounds its fraction too low,
    so skipping an object on the bound never loses an absence."""
    from robomem.config import TemporalConfig
    from robomem.ingest.visibility import visible_fraction
    from robomem.submodules.spatial.absences import seen_through_bounds

    cfg = TemporalConfig()
    scene = BoxScene(demo_boxes())
    obs = scene.observe(look_at((0.0, 0.0, 1.5), (2.3, -0.3, 0.7)), 0.0)
    rng = np.random.default_rng(5)
    samples, labels = [], []
    for j in range(60):  # points on real boxes (seen, not seen through), in free space (seen through), behind
        b = scene.boxes[j % len(scene.boxes)]
        c = b.lo + rng.uniform(0, 1, 3) * (b.hi - b.lo) if j % 3 else rng.uniform(-1, 5, 3)
        samples.append((c + rng.normal(0, 0.05, (int(rng.integers(0, 48)), 3))).astype(np.float32))
        labels.append(b.label if j % 2 else "ghost")
    n_in, bound = seen_through_bounds(samples, obs, cfg, 8.0)
    exact = [visible_fraction(p, obs, cfg, 8.0, lab) for p, lab in zip(samples, labels, strict=True)]
    assert n_in.tolist() == [e[0] for e in exact]
    assert all(b >= e[1] for b, e in zip(bound.tolist(), exact, strict=True))
    assert any(e[1] > 0.5 for e in exact) and any(e[0] > 0 and b < 0.5 for b, e in zip(bound, exact, strict=True))
    n0, b0 = seen_through_bounds([], obs, cfg, 8.0)
    assert len(n0) == 0 and len(b0) == 0
