"""The memory node's shape: one update worker (with merges and budget passes) beside Query-service threads.

Readers run ``retrieve``, ``Planner.context`` and ``spatial.points`` for ids they were just given, while the
writer keeps moving the red mug so that every second frame merges a duplicate away and the forgetting pass
drops episodes.  No reader may raise, and every answer must describe one state of memory.
"""

from __future__ import annotations

import threading
import time

from robomem import Memory, MemoryConfig, Place, Query
from robomem.planning.context import RobotState
from robomem.planning.planner import Planner
from robomem.store.rwlock import ReadWriteLock
from robomem.testing.synthetic import Box, BoxScene, demo_boxes, look_at

TARGET = (2.3, -0.3, 0.7)
VIEWS = [(0.0, 0.0, 1.5), (0.2, -0.5, 1.5), (0.3, 0.5, 1.4), (1.0, -2.0, 1.6), (4.5, 1.0, 1.6)]
PLACES = [Place("kitchen", (-1, -3), (2.0, 3)), Place("living room", (2.0, -3), (6, 3))]
TABLE_SPOT, TABLE_VIEW = (1.8, 0.1, 0.8), (0.3, 0.2, 1.4)
FLOOR_SPOT, FLOOR_VIEW = (4.0, 0.8, 0.05), (3.0, 0.0, 1.2)


def _config() -> MemoryConfig:
    cfg = MemoryConfig.from_dict({"budget": {"check_every": 2, "max_episodes": 3, "keep_recent_s": 0.0}})
    return cfg


def test_update_merge_and_forget_beside_retrieve_and_planner_threads(tmp_path, embedder):
    scene = BoxScene(demo_boxes())
    mem = Memory.open(tmp_path / "m", _config(), embedder=embedder)
    mem.set_places(PLACES)
    t = 0.0
    for eye in VIEWS:
        mem.update(scene.observe(look_at(eye, TARGET), t))
        t += 1.0
    planner = Planner(mem, k=8)
    errors: list[BaseException] = []
    calls = [0]
    merges: list[tuple[int, int]] = []
    stop = threading.Event()

    def writer() -> None:
        nonlocal t
        try:
            spots = [(FLOOR_SPOT, FLOOR_VIEW, TABLE_VIEW, TABLE_SPOT), (TABLE_SPOT, TABLE_VIEW, FLOOR_VIEW, FLOOR_SPOT)]
            for cycle in range(6):
                spot, new_view, old_view, old_spot = spots[cycle % 2]
                t += 3600.0
                mem.begin_episode(f"fetch the red mug, round {cycle}", stamp=t)
                scene.boxes[1] = Box(2, "red mug", spot, (0.1, 0.1, 0.1), (220, 30, 30))
                mem.update(scene.observe(look_at(new_view, spot), t))  # the mug at its new spot: a new id
                mem.add_step(observation="looked for the mug", action="look", stamp=t + 0.5)
                r = mem.update(scene.observe(look_at(old_view, old_spot), t + 1))  # its old spot, empty: merged
                merges.extend(r.merged)
                mem.end_episode("success", stamp=t + 2)
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)
        finally:
            stop.set()

    def reader(kind: str) -> None:
        try:
            while not stop.is_set():
                if kind == "retrieve":
                    entries = mem.retrieve(Query(text="red mug", k=10))
                    for e in entries:
                        if e.kind == "object":
                            for oid in e.object_ids[:1]:
                                assert mem.spatial.points(oid).shape[1] == 3
                else:
                    ctx = planner.context("bring me the red mug", RobotState((0.0, 0.0, 0.0)))
                    assert ctx.budget["tokens"] > 0
                with mem.reading():  # one state: at most the mug and the duplicate it is about to lose
                    assert 1 <= len(mem.objects("red mug")) <= 2
                calls[0] += 1
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)
            stop.set()

    threads = [threading.Thread(target=writer)]
    threads += [threading.Thread(target=reader, args=(k,)) for k in ("retrieve", "retrieve", "planner")]
    t0 = time.monotonic()
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=300)
    try:
        assert not any(th.is_alive() for th in threads), "a thread hung (deadlock?)"
        assert not errors, f"{len(errors)} failures, first: {errors[0]!r}"
        assert len(merges) >= 4, f"the scene should merge the mug's duplicate each round, merged {merges}"
        assert calls[0] > 0
        # every merged-away id still answers, as the object it became
        for keep, drop in merges[-1:]:
            assert mem.spatial.get(drop) is None and mem.spatial.resolve(drop) == keep
            assert mem.spatial.points(drop).shape == mem.spatial.points(keep).shape
        assert time.monotonic() - t0 < 300
    finally:
        mem.close()


def test_rwlock_writer_waits_for_readers_and_blocks_new_ones():
    lock = ReadWriteLock()
    order: list[str] = []
    in_read, release = threading.Event(), threading.Event()

    def long_reader() -> None:
        with lock.reading(), lock.reading():  # re-entrant in one thread
            in_read.set()
            release.wait(5)
            order.append("reader done")

    def writer() -> None:
        with lock.writing():
            order.append("writer")

    r = threading.Thread(target=long_reader)
    r.start()
    in_read.wait(5)
    w = threading.Thread(target=writer)
    w.start()
    time.sleep(0.1)
    assert order == []  # the writer waits for the reader
    release.set()
    r.join(5)
    w.join(5)
    assert order == ["reader done", "writer"]


def test_rwlock_refuses_a_write_inside_a_read():
    lock = ReadWriteLock()
    with lock.reading():
        try:
            with lock.writing():
                pass
        except RuntimeError as exc:
            assert "read side" in str(exc)
        else:
            raise AssertionError("a write inside a read must be refused, it would deadlock")
