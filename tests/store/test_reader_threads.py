"""Reader connections are per thread; a thread that ends must not leave its connection open (a server that
starts a thread per request leaked one SQLite connection, with its file descriptors and page cache, per
request)."""

from __future__ import annotations

import os
import threading

from robomem import Memory
from robomem.testing.synthetic import BoxScene, demo_boxes, look_at


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def test_threads_that_read_and_end_leave_no_connection_behind(tmp_path, embedder):
    with Memory.open(tmp_path / "m", embedder=embedder) as mem:
        scene = BoxScene(demo_boxes())
        mem.update(scene.observe(look_at((0.0, 0.0, 1.5), (2.3, -0.3, 0.7)), 0.0))
        answers: list[int] = []

        def request() -> None:  # one request of a thread-per-request server
            answers.append(mem.stats()["rows"]["sightings"])
            mem.store.read()

        warm = threading.Thread(target=request)  # warm up: the first reader opens the database's -shm map
        warm.start()
        warm.join()
        fds_before = _open_fds()
        for _ in range(60):
            th = threading.Thread(target=request)
            th.start()
            th.join()
        assert len(answers) == 61 and len(set(answers)) == 1
        assert mem.store.reader_count() <= 2  # the last thread's connection waits for the next reader to prune it
        assert _open_fds() <= fds_before + 2

        # a thread still alive keeps its connection, and it still works
        hold, go = threading.Event(), threading.Event()
        seen: list[int] = []

        def long_lived() -> None:
            mem.store.read()
            hold.set()
            go.wait(30)
            seen.append(mem.stats()["rows"]["sightings"])

        th = threading.Thread(target=long_lived)
        th.start()
        hold.wait(30)
        for _ in range(5):
            t = threading.Thread(target=request)
            t.start()
            t.join()
        go.set()
        th.join(30)
        assert seen == [answers[0]]
