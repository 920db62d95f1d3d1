"""Hostile and malformed input: every failure is a typed error, nothing stored is lost.

Property-based (hypothesis) over the public entry points — Observation
construction, Memory.update, retrieval queries — plus corrupt and truncated
stores, huge and empty images, odd Unicode, and a source scan that no
user-stored data can reach pickle/eval/exec.  (Config loading: test_config.py.)
"""

from __future__ import annotations

import io
import math
import random
import resource
import shutil
import sqlite3
import time
import tokenize
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from robomem import Event, InstanceInfo, Intrinsics, Memory, Observation, Pose, Query
from robomem.memory import UpdateResult
from robomem.retrieval.query import ENTRY_KINDS, Entry
from robomem.store.database import StoreError
from robomem.testing.synthetic import BoxScene, demo_boxes, look_at

ROOT = Path(__file__).resolve().parents[2]

# Sizes are capped so no example is slow; no deadline because the first examples
# warm caches (embedder, numpy) and the 2-core CI machines are noisy.
FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
MEMORY_SETTINGS = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)

SQL_NASTIES = [
    "'; DROP TABLE objects; --",
    '"; DELETE FROM frames; --',
    "mug' OR '1'='1",
    "%",
    "_",
    "\\",
    "*",
    "?",
    "mug); PRAGMA writable_schema=1; --",
    "′ ″ ‘ ’ “ ”",
]
ODD_LABELS = [
    "mug \U0001f600",  # emoji
    "\U0001f468\u200d\U0001f469\u200d\U0001f467",  # ZWJ family
    "\u05e1\u05e4\u05dc \u05d0\u05d3\u05d5\u05dd",  # Hebrew (RTL)
    "\u0643\u0648\u0628 \u202e\u202dreversed",  # Arabic + bidi overrides
    "e\u0301\u0301\u0301\u0323",  # combining marks
    "\u200bzero width",
    "\ufeffbom",
    "日本の湯呑み",
    "tab\tand\nnewline",
]


def _label_ok(s: str) -> bool:
    try:
        InstanceInfo(s)
    except ValueError:
        return False
    return True


labels = st.one_of(st.sampled_from(ODD_LABELS + SQL_NASTIES), st.text(min_size=1, max_size=40)).filter(_label_ok)


# -- Observation construction ------------------------------------------------------------------------
def _any_array(max_side: int = 6) -> st.SearchStrategy[np.ndarray]:
    dtypes = st.one_of(
        hnp.floating_dtypes(),
        hnp.integer_dtypes(),
        hnp.unsigned_integer_dtypes(),
        hnp.boolean_dtypes(),
        hnp.complex_number_dtypes(),
        hnp.datetime64_dtypes(),
        st.just(np.dtype(object)),
    )
    shapes = hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=max_side)
    return dtypes.flatmap(lambda dt: hnp.arrays(dt, shapes, elements=None if dt != np.dtype(object) else st.none()))


def _float32_images(h: int, w: int) -> st.SearchStrategy[np.ndarray]:
    return hnp.arrays(np.float32, (h, w), elements=st.floats(width=32, allow_nan=True, allow_infinity=True))


@st.composite
def observation_kwargs(draw: st.DrawFn) -> dict[str, Any]:
    h = draw(st.integers(1, 6))
    w = draw(st.integers(1, 6))
    intr = draw(
        st.one_of(
            st.just((100.0, 100.0, w / 2, h / 2, w, h)),
            st.tuples(st.floats(), st.floats(), st.floats(), st.floats(), st.integers(-2, 8), st.integers(-2, 8)),
        )
    )
    depth = draw(st.one_of(_float32_images(h, w), _any_array()))
    rgb = draw(st.one_of(st.none(), hnp.arrays(np.uint8, (h, w, 3)), _any_array()))
    ids = draw(st.one_of(st.none(), hnp.arrays(np.int32, (h, w), elements=st.integers(-1, 4)), _any_array()))
    keys = st.one_of(st.integers(-2, 5), st.booleans(), st.text(max_size=2), st.floats())
    infos = draw(st.dictionaries(keys, st.builds(InstanceInfo, labels), max_size=4))
    pose = draw(st.one_of(st.just(Pose.identity()), st.builds(lambda m: m, hnp.arrays(np.float64, (4, 4)))))
    stamp = draw(st.one_of(st.floats(), st.integers(-5, 10), st.text(max_size=3)))
    return dict(stamp=stamp, pose=pose, intrinsics=intr, depth=depth, rgb=rgb, instance_ids=ids, instances=infos)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(observation_kwargs())
def test_observation_construction_returns_or_raises_value_error(kw: dict[str, Any]) -> None:
    try:
        pose = kw["pose"] if isinstance(kw["pose"], Pose) else Pose(kw["pose"])
        o = Observation(
            kw["stamp"],
            pose,
            Intrinsics(*kw["intrinsics"]),
            kw["depth"],
            kw["rgb"],
            kw["instance_ids"],
            kw["instances"],
        )
    except ValueError as exc:
        assert str(exc), "a ValueError must say what is wrong"
        return
    # What was accepted honours the documented contract.
    assert o.depth.dtype == np.float32 and o.depth.ndim == 2 and not o.depth.flags.writeable
    assert not np.isinf(o.depth).any()
    assert math.isfinite(o.stamp) and o.stamp >= 0
    if o.instance_ids is not None:
        present = {int(i) for i in np.unique(o.instance_ids)} - {0}
        assert present <= set(o.instances)
    if o.rgb is not None:
        assert o.rgb.dtype == np.uint8 and o.rgb.shape == (*o.depth.shape, 3)


@FAST
@given(st.text(max_size=30), st.text(max_size=30), st.one_of(st.floats(), st.text(max_size=3)))
def test_event_construction_returns_or_raises_value_error(kind: str, text: str, stamp: Any) -> None:
    try:
        e = Event(stamp, kind, text)
    except ValueError:
        return
    assert e.kind.strip() and "\x00" not in e.text and math.isfinite(e.stamp)


# -- Memory.update with valid but random observations ------------------------------------------------
H, W = 12, 16


@st.composite
def valid_frames(draw: st.DrawFn) -> tuple[Pose, Intrinsics, np.ndarray, np.ndarray, dict[int, InstanceInfo]]:
    xyz = draw(st.tuples(*[st.floats(-50, 50)] * 3))
    q = np.array(draw(st.tuples(*[st.floats(-1, 1)] * 4)))
    if np.linalg.norm(q) < 1e-3:
        q = np.array([0.0, 0.0, 0.0, 1.0])
    pose = Pose.from_xyz_quat(xyz, q / np.linalg.norm(q))
    f = draw(st.floats(1.0, 2000.0))
    intr = Intrinsics(f, draw(st.floats(1.0, 2000.0)), draw(st.floats(-10, W + 10)), draw(st.floats(-10, H + 10)), W, H)
    # Valid depth: finite, >= 0 metres, with 0/NaN holes; one depth plane or noise.
    base = draw(st.floats(0.05, 20.0))
    noise = draw(hnp.arrays(np.float32, (H, W), elements=st.floats(0, 2, width=32)))
    depth = (base + noise).astype(np.float32)
    holes = draw(hnp.arrays(np.uint8, (H, W), elements=st.integers(0, 3)))
    depth[holes == 1] = 0.0
    depth[holes == 2] = np.nan
    ids = draw(hnp.arrays(np.int32, (H, W), elements=st.integers(0, 4)))
    names = draw(st.lists(labels, min_size=4, max_size=4))
    infos = {i: InstanceInfo(names[i - 1], draw(st.floats(0, 1))) for i in {int(v) for v in np.unique(ids)} - {0}}
    return pose, intr, depth, ids, infos


def _small_config():
    from robomem import MemoryConfig
    from robomem.config import SpatialConfig

    # min_points=1 so that tiny random frames do create objects and exercise association.
    return MemoryConfig(spatial=SpatialConfig(pixel_stride=1, min_points=1))


@pytest.mark.slow
def test_random_valid_updates_never_crash_and_lose_nothing(tmp_path: Path, embedder: Any) -> None:
    path = tmp_path / "m"
    mem = Memory.open(path, config=_small_config(), embedder=embedder)
    scene = BoxScene(demo_boxes(), 64, 48)
    mem.update(scene.observe(look_at((0.0, 0.0, 1.5), (2.3, -0.3, 0.7)), 0.0))  # something to lose
    state = {"t": 1.0, "frames": 1}

    @MEMORY_SETTINGS
    @given(valid_frames(), st.floats(0.0, 100.0))
    def one_update(frame: tuple[Any, ...], dt: float) -> None:
        pose, intr, depth, ids, infos = frame
        obs = Observation(state["t"], pose, intr, depth, None, ids, infos)
        before = {o.object_id: o.label for o in mem.objects()}
        r = mem.update(obs)
        assert isinstance(r, UpdateResult) and r.frame_index == state["frames"] + 1
        state["frames"] += 1
        state["t"] += dt
        after = {o.object_id: o.label for o in mem.objects()}
        # An object's majority label may change by label voting; its identity must not vanish.
        assert set(before) <= set(after), "an update lost a stored object"
        assert set(r.object_ids.values()) <= set(after)
        assert mem.stats()["rows"]["frames"] == state["frames"]

    try:
        one_update()
        objects = {o.object_id: o.label for o in mem.objects()}
    finally:
        mem.close()
    with Memory.open(path, config=_small_config(), embedder=embedder) as mem:
        assert mem.store.read().execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert {o.object_id: o.label for o in mem.objects()} == objects
        assert mem.stats()["rows"]["frames"] == state["frames"]


# -- retrieval queries ----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def stocked(tmp_path_factory: pytest.TempPathFactory, embedder: Any) -> Any:
    path = tmp_path_factory.mktemp("stocked") / "m"
    scene = BoxScene(demo_boxes(), 320, 240)
    mem = Memory.open(path, embedder=embedder)
    for i, eye in enumerate([(0.0, 0.0, 1.5), (0.2, -0.5, 1.5), (1.0, -2.0, 1.6), (4.5, 1.0, 1.6)]):
        mem.update(scene.observe(look_at(eye, (2.3, -0.3, 0.7)), float(i)))
    mem.add_event(Event(5.0, "instruction", "bring me the red mug"))
    yield mem
    mem.close()


def _row_counts(mem: Memory) -> dict[str, int]:
    conn = mem.store.read()
    names = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
    return {n: conn.execute(f'SELECT COUNT(*) FROM "{n}"').fetchone()[0] for n in names}


finite_or_not = st.floats(allow_nan=True, allow_infinity=True)


@st.composite
def query_kwargs(draw: st.DrawFn) -> dict[str, Any]:
    kw: dict[str, Any] = {}
    text = st.one_of(st.sampled_from(SQL_NASTIES + ODD_LABELS), st.text(max_size=60), st.just("red mug"))
    if draw(st.booleans()):
        kw["text"] = draw(st.one_of(text, st.text(min_size=1990, max_size=2010), st.integers()))
    if draw(st.booleans()):
        kw["label"] = draw(text)
    if draw(st.booleans()):
        kw["k"] = draw(st.one_of(st.integers(-5, 20), st.integers(9_990, 10**12), st.booleans(), st.floats()))
    if draw(st.booleans()):
        kw["position"] = draw(
            st.one_of(
                st.tuples(finite_or_not, finite_or_not, finite_or_not),
                st.lists(st.floats(-10, 10), max_size=4),
                st.text(max_size=3),
            )
        )
    if draw(st.booleans()):
        kw["object_ids"] = draw(st.lists(st.one_of(st.integers(), st.text(max_size=2)), max_size=3))
    for name in ("radius", "time", "since", "until"):
        if draw(st.booleans()):
            kw[name] = draw(st.one_of(finite_or_not, st.floats(-10, 100), st.text(max_size=2)))
    if draw(st.booleans()):
        kw["kinds"] = draw(
            st.one_of(st.lists(st.sampled_from([*ENTRY_KINDS, "nope", "'; --"]), max_size=3), st.text(max_size=6))
        )
    return kw


@FAST
@given(kw=query_kwargs())
def test_any_query_is_answered_or_refused_and_changes_nothing(stocked: Memory, kw: dict[str, Any]) -> None:
    before = _row_counts(stocked)
    try:
        q = Query(**kw)
    except ValueError as exc:
        assert str(exc)
        return
    entries = stocked.retrieve(q)
    assert isinstance(entries, list) and len(entries) <= q.k
    for e in entries:
        assert isinstance(e, Entry) and e.kind in ENTRY_KINDS and math.isfinite(e.score)
        assert q.wants(e.kind)
    assert _row_counts(stocked) == before, "a query changed the store"


def test_sql_metacharacters_are_data_not_sql(stocked: Memory) -> None:
    before = _row_counts(stocked)
    for nasty in SQL_NASTIES:
        stocked.retrieve(Query(text=nasty, label=nasty, k=10_000))
    assert _row_counts(stocked) == before and before["objects"] >= 4
    assert stocked.retrieve(Query(text="red mug", k=3))[0].text.startswith("red mug")


def test_retrieve_rejects_what_is_not_a_query(stocked: Memory) -> None:
    for bad in (None, 3, {"text": "mug"}, b"mug"):
        with pytest.raises(ValueError, match="expected a Query"):
            stocked.retrieve(bad)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="expected an Observation"):
        stocked.update("frame")  # type: ignore[arg-type]


# -- odd Unicode labels ---------------------------------------------------------------------------
def test_odd_unicode_labels_round_trip_and_bad_ones_are_refused(tmp_path: Path, embedder: Any) -> None:
    for bad, why in (
        ("mug\x00", "NUL"),
        ("\ud800mug", "surrogate"),
        ("x" * 257, "longer than 256"),
        (" \t", "non-empty"),
    ):
        with pytest.raises(ValueError, match=why):
            InstanceInfo(bad)
    with pytest.raises(ValueError, match="surrogate"):
        Query(text="where is \udcff")
    with pytest.raises(ValueError, match="surrogate"):
        Event(1.0, "instruction", "go \ud800")
    boxes = demo_boxes()
    names = {b.instance_id: ODD_LABELS[i] for i, b in enumerate(boxes)}
    scene = BoxScene(boxes, 320, 240)
    path = tmp_path / "m"
    with Memory.open(path, embedder=embedder) as mem:
        for i, eye in enumerate([(0.0, 0.0, 1.5), (1.0, -2.0, 1.6), (4.5, 1.0, 1.6)]):
            o = scene.observe(look_at(eye, (2.3, -0.3, 0.7)), float(i))
            infos = {k: InstanceInfo(names[k]) for k in o.instances}
            mem.update(Observation(o.stamp, o.pose, o.intrinsics, o.depth, o.rgb, o.instance_ids, infos))
        stored = sorted(o.label for o in mem.objects())
    # Association may merge two boxes whose odd labels embed alike; what is stored is stored exactly.
    assert set(stored) <= set(names.values()) and len(set(stored)) >= 4, stored
    with Memory.open(path, embedder=embedder) as mem:
        assert sorted(o.label for o in mem.objects()) == stored
        for name in names.values():
            hits = mem.retrieve(Query(label=name, k=3))
            assert hits and hits[0].text.startswith(name), name


# -- images: huge, empty, all invalid -------------------------------------------------------------
@pytest.mark.slow
def test_huge_image_is_validated_and_stored_in_bounded_time_and_memory(tmp_path: Path, embedder: Any) -> None:
    h = w = 4000
    k = Intrinsics.from_fov(w, h, 1.5)
    depth = np.full((h, w), 2.0, np.float32)
    ids = np.zeros((h, w), np.int32)
    ids[1500:2500, 1500:2500] = 1
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0 = time.perf_counter()
    o = Observation(1.0, Pose.identity(), k, depth, np.zeros((h, w, 3), np.uint8), ids, {1: InstanceInfo("crate")})
    t_validate = time.perf_counter() - t0
    with Memory.open(tmp_path / "m", embedder=embedder) as mem:
        r = mem.update(o)
        t_total = time.perf_counter() - t0
        assert set(r.object_ids) == {1}
        (obj,) = mem.objects()
        assert (
            obj.label == "crate" and len(mem.spatial.points(obj.object_id)) <= mem.config.spatial.max_points_per_object
        )
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss0) / 1024
    assert t_validate < 10 and t_total < 30, (t_validate, t_total)
    assert grown_mb < 1500, f"peak RSS grew {grown_mb:.0f} MB for one 16-megapixel frame"


def test_empty_and_all_invalid_images(tmp_path: Path, embedder: Any) -> None:
    with pytest.raises(ValueError, match="positive integer"):
        Intrinsics(100.0, 100.0, 0.0, 0.0, 0, 0)
    k = Intrinsics(100.0, 100.0, 7.5, 5.5, 16, 12)
    with pytest.raises(ValueError, match="empty"):
        Observation(0.0, Pose.identity(), k, np.zeros((0, 16), np.float32))
    ids = np.ones((12, 16), np.int32)
    with Memory.open(tmp_path / "m", embedder=embedder) as mem:
        mem.update(BoxScene(demo_boxes(), 64, 48).observe(look_at((0.0, 0.0, 1.5), (2.3, -0.3, 0.7)), 0.0))
        before = {o.object_id for o in mem.objects()}
        for t, fill in ((1.0, np.nan), (2.0, 0.0)):  # no valid depth anywhere: nothing seen, nothing lost
            depth = np.full((12, 16), fill, np.float32)
            r = mem.update(Observation(t, Pose.identity(), k, depth, None, ids, {1: InstanceInfo("ghost")}))
            assert dict(r.object_ids) == {} and r.new_objects == ()
        assert {o.object_id for o in mem.objects()} == before


# -- corrupt and truncated stores -----------------------------------------------------------------
@pytest.fixture(scope="module")
def good_store(tmp_path_factory: pytest.TempPathFactory, embedder: Any) -> Path:
    path = tmp_path_factory.mktemp("good") / "s"
    scene = BoxScene(demo_boxes(), 160, 120)
    with Memory.open(path, embedder=embedder) as mem:
        for i, eye in enumerate([(0.0, 0.0, 1.5), (0.2, -0.5, 1.5), (0.3, 0.5, 1.4), (1.0, -2.0, 1.6)] * 3):
            mem.update(scene.observe(look_at(eye, (2.3, -0.3, 0.7)), float(i)))
        mem.add_event(Event(20.0, "instruction", "bring me the red mug"))
    return path


def _copy(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


def _exercise(path: Path, embedder: Any) -> str:
    """Open, query, update; returns 'ok' or raises. Only StoreError may escape."""
    scene = BoxScene(demo_boxes(), 64, 48)
    with Memory.open(path, embedder=embedder) as mem:
        mem.retrieve(Query(text="red mug", position=(0.0, 0.0, 0.0)))
        mem.update(scene.observe(look_at((0.0, 0.0, 1.5), (2.3, -0.3, 0.7)), mem.newest_stamp + 1.0))
    return "ok"


@pytest.mark.parametrize("cut", ["header", "first_page", "half", "last_page"])
def test_truncated_database_is_a_store_error(tmp_path: Path, good_store: Path, embedder: Any, cut: str) -> None:
    path = _copy(good_store, tmp_path / "s")
    db = path / "memory.db"
    size = db.stat().st_size
    keep = {"header": 50, "first_page": 4096 + 100, "half": size // 2, "last_page": size - 4096}[cut]
    with open(db, "r+b") as f:
        f.truncate(keep)
    with pytest.raises(StoreError, match=r"memory\.db: not a readable SQLite database \(.+\)"):
        Memory.open(path, embedder=embedder)
    # The refused store is left as it was for forensics, and the lock is released.
    assert db.stat().st_size == keep
    with pytest.raises(StoreError):
        Memory.open(path, embedder=embedder)


def test_database_short_by_one_byte_opens_or_is_a_store_error(tmp_path: Path, good_store: Path, embedder: Any) -> None:
    # SQLite zero-fills a short read of the last page, so a missing final byte (usually page padding) can go
    # unnoticed: the contract is only that nothing but StoreError escapes.
    path = _copy(good_store, tmp_path / "s")
    db = path / "memory.db"
    with open(db, "r+b") as f:
        f.truncate(db.stat().st_size - 1)
    try:
        assert _exercise(path, embedder) == "ok"
    except StoreError as exc:
        assert "memory.db" in str(exc)


def test_flipped_header_is_a_store_error(tmp_path: Path, good_store: Path, embedder: Any) -> None:
    path = _copy(good_store, tmp_path / "s")
    data = bytearray((path / "memory.db").read_bytes())
    data[0:16] = b"Not SQLite fmt\x00\x00"
    (path / "memory.db").write_bytes(bytes(data))
    with pytest.raises(StoreError, match="not a readable SQLite database"):
        Memory.open(path, embedder=embedder)


@pytest.mark.slow
def test_random_byte_flips_give_store_error_or_a_working_store(tmp_path: Path, good_store: Path, embedder: Any) -> None:
    outcomes: dict[str, int] = {}
    size = (good_store / "memory.db").stat().st_size
    for trial in range(15):
        rng = random.Random(trial)
        path = _copy(good_store, tmp_path / f"s{trial}")
        data = bytearray((path / "memory.db").read_bytes())
        for _ in range(rng.choice([1, 5, 50])):
            p = rng.randrange(100, size)  # past the header: damage pages, schema and rows
            data[p] ^= 1 << rng.randrange(8)
        (path / "memory.db").write_bytes(bytes(data))
        try:
            outcome = _exercise(path, embedder)
        except StoreError as exc:
            assert str(path) in str(exc), "the error names the store"
            outcome = "StoreError"
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
        shutil.rmtree(path)
    assert outcomes.get("StoreError", 0) > 0, outcomes  # damage was detected, and as StoreError only


def test_garbage_wal_is_ignored_and_committed_data_kept(tmp_path: Path, good_store: Path, embedder: Any) -> None:
    path = _copy(good_store, tmp_path / "s")
    with Memory.open(path, embedder=embedder) as mem:
        objects = sorted((o.object_id, o.label) for o in mem.objects())
    (path / "memory.db-wal").write_bytes(random.Random(1).randbytes(50_000))  # a torn WAL: bad checksums
    with Memory.open(path, embedder=embedder) as mem:
        assert sorted((o.object_id, o.label) for o in mem.objects()) == objects
        assert mem.store.read().execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_missing_blob_is_a_store_error(tmp_path: Path, good_store: Path, embedder: Any) -> None:
    path = _copy(good_store, tmp_path / "s")
    with Memory.open(path, embedder=embedder) as mem:
        snaps = mem.spatial.snapshots()
        assert snaps
        for f in (path / "blobs").rglob("*"):
            if f.is_file():
                f.unlink()
        with pytest.raises(StoreError, match="missing"):
            mem.spatial.snapshot_image(snaps[0])
        assert mem.retrieve(Query(text="red mug"))  # everything else still answers


def test_store_from_a_foreign_sqlite_file_is_refused(tmp_path: Path, embedder: Any) -> None:
    path = tmp_path / "s"
    path.mkdir()
    conn = sqlite3.connect(path / "memory.db")
    conn.execute("CREATE TABLE users(name TEXT)")
    conn.commit()
    conn.close()
    with pytest.raises(StoreError, match="not a robomem store"):
        Memory.open(path, embedder=embedder)
    conn = sqlite3.connect(path / "memory.db")
    assert conn.execute("SELECT name FROM sqlite_master").fetchall() == [("users",)]  # untouched
    conn.close()


# -- nothing user-stored is loaded with pickle or eval ------------------------------------------------
FORBIDDEN_NAMES = {"pickle", "cPickle", "_pickle", "dill", "cloudpickle", "shelve", "marshal", "joblib"}


def _code_tokens(path: Path) -> list[tokenize.TokenInfo]:
    """Tokens of a Python file without comments and string literals (docstrings included)."""
    toks = tokenize.generate_tokens(io.StringIO(path.read_text(encoding="utf-8")).readline)
    skip = {tokenize.COMMENT, tokenize.STRING, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT}
    fstring = {getattr(tokenize, n) for n in ("FSTRING_START", "FSTRING_MIDDLE", "FSTRING_END") if hasattr(tokenize, n)}
    return [t for t in toks if t.type not in skip | fstring]


def _unsafe_loads(path: Path) -> list[str]:
    toks = _code_tokens(path)
    found = []
    for i, t in enumerate(toks):
        prev = toks[i - 1].string if i else ""
        nxt = toks[i + 1].string if i + 1 < len(toks) else ""
        where = f"{path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}:{t.start[0]}"
        if t.type != tokenize.NAME:
            continue
        if t.string in FORBIDDEN_NAMES:
            found.append(f"{where}: {t.string}")
        elif t.string in ("eval", "exec", "compile", "__import__") and nxt == "(" and prev != ".":
            found.append(f"{where}: {t.string}(")  # model.eval() (torch) is a method, not the builtin
        elif (
            t.string in ("load", "unsafe_load", "full_load") and prev == "." and i >= 2 and toks[i - 2].string == "yaml"
        ):
            found.append(f"{where}: yaml.{t.string}")
        elif t.string == "allow_pickle" and nxt == "=" and i + 2 < len(toks) and toks[i + 2].string != "False":
            found.append(f"{where}: allow_pickle")
    return found


def test_scanner_finds_what_it_must(tmp_path: Path) -> None:
    src = (
        '"""docstring mentioning pickle and eval(x)"""\n'
        "import pickle  # comment eval(\n"
        "x = eval('1')\n"
        "model.eval()\n"
        "y = yaml.load(s)\n"
        "z = np.load(f, allow_pickle=True)\n"
        "s = 'exec(code)'\n"
    )
    p = tmp_path / "sample.py"
    p.write_text(src, encoding="utf-8")
    found = _unsafe_loads(p)
    assert [s.split(": ", 1)[1] for s in found] == ["pickle", "eval(", "yaml.load", "allow_pickle"]


def test_no_pickle_eval_or_exec_in_robomem_nodes_envs() -> None:
    files = [p for d in ("robomem", "nodes", "envs") for p in sorted((ROOT / d).rglob("*.py"))]
    assert len(files) > 20
    found = [s for p in files for s in _unsafe_loads(p)]
    assert found == [], "unsafe deserialisation / dynamic code in the package:\n" + "\n".join(found)
