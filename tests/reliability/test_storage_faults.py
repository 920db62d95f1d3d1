"""Storage faults beside a running writer: a reader holding a read transaction, a full disk, a deleted
blobs/ directory, read-only views (older schemas, a store that changes under them)."""

from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from robomem import Memory, MemoryConfig
from robomem.errors import StoreError, StoreVersionError
from robomem.store.database import Store
from robomem.testing.synthetic import Box, BoxScene, demo_boxes, look_at

TARGET = (2.3, -0.3, 0.7)
VIEWS = [(0.0, 0.0, 1.5), (0.2, -0.5, 1.5), (0.3, 0.5, 1.4), (1.0, -2.0, 1.6), (4.5, 1.0, 1.6)]
V2_FIXTURE = Path(__file__).resolve().parents[1] / "data" / "store_v2"


def _tour(mem: Memory, scene: BoxScene, t0: float, n: int = len(VIEWS)) -> float:
    t = t0
    for i in range(n):
        mem.update(scene.observe(look_at(VIEWS[i % len(VIEWS)], TARGET), t))
        t += 1.0
    return t


def test_a_reader_holding_a_read_transaction_does_not_stall_the_budget_pass(tmp_path, embedder):
    with Memory.open(tmp_path / "m", embedder=embedder) as mem:
        scene = BoxScene(demo_boxes())
        t = _tour(mem, scene, 0.0)
        shell = sqlite3.connect(tmp_path / "m" / "memory.db", isolation_level=None)  # e.g. a sqlite3 shell
        shell.execute("BEGIN")
        assert shell.execute("SELECT COUNT(*) FROM objects").fetchone()[0] > 0  # holds a read snapshot now
        done = threading.Event()
        took: list[float] = []

        def budget_and_update() -> None:
            t0 = time.monotonic()
            mem.maintain()
            mem.update(scene.observe(look_at(VIEWS[0], TARGET), t))
            took.append(time.monotonic() - t0)
            done.set()

        th = threading.Thread(target=budget_and_update)
        th.start()
        finished = done.wait(10)
        shell.execute("COMMIT")  # let a stalled writer go before failing, so the test does not hang
        th.join(60)
        shell.close()
        assert finished, "the budget pass waited for the reader (busy_timeout)"
        assert took[0] < 10
        mem.maintain()  # the reader is gone: the checkpoint now empties the WAL
        wal = tmp_path / "m" / "memory.db-wal"
        assert not wal.exists() or wal.stat().st_size == 0


def test_blobs_directory_deleted_under_a_running_writer(tmp_path, embedder):
    with Memory.open(tmp_path / "m", embedder=embedder) as mem:
        scene = BoxScene(demo_boxes())
        t = _tour(mem, scene, 0.0, n=2)
        shutil.rmtree(tmp_path / "m" / "blobs")
        t = _tour(mem, scene, t, n=3)  # keyframes are written again, into a re-made blobs/
        assert any((tmp_path / "m" / "blobs").rglob("*"))
        assert mem.stats()["rows"]["frames"] == 5


def test_blob_write_failure_is_a_store_error_and_leaves_no_temp_file(tmp_path):
    store = Store(tmp_path / "s")
    try:
        blobs = tmp_path / "s" / "blobs"
        data = b"x" * 1000
        # a plain file where the blob's fan-out directory must go: the write fails with a real OSError
        (blobs / hashlib.sha256(data).hexdigest()[:2]).write_bytes(b"not a directory")
        with pytest.raises(StoreError, match="cannot write blob"):
            store.put_blob(data)
        assert not [p for p in blobs.rglob("*.tmp")]
    finally:
        store.close()


DISK_FULL_SCRIPT = textwrap.dedent(
    """
    import json, subprocess, sys, pathlib
    mnt = pathlib.Path(sys.argv[1])
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=%s" % sys.argv[2], "tmpfs", str(mnt)], check=True)
    from robomem import Memory
    from robomem.errors import RobomemError
    from robomem.retrieval.embedding import make_embedder
    from robomem.testing.synthetic import Box, BoxScene, demo_boxes, look_at
    VIEWS = [(0.0, 0.0, 1.5), (0.2, -0.5, 1.5), (0.3, 0.5, 1.4), (1.0, -2.0, 1.6), (4.5, 1.0, 1.6)]
    scene = BoxScene(demo_boxes())
    acked, errors, raw = 0, [], []
    mem = Memory.open(mnt / "m", embedder=make_embedder("hash"))
    for i in range(400):
        eye = VIEWS[i % 5]
        obs = scene.observe(look_at((eye[0] + 0.01 * i, eye[1], eye[2]), (2.3, -0.3, 0.7)), float(i))
        try:
            mem.update(obs)
            acked += 1
        except RobomemError as exc:
            errors.append(type(exc).__name__)
        except Exception as exc:
            raw.append(repr(exc))
        if len(errors) + len(raw) >= 12:
            break
    frames = mem.stats()["rows"]["frames"]
    tmp = [str(p) for p in (mnt / "m" / "blobs").rglob("*.tmp")]
    mem.close()
    print(json.dumps({"acked": acked, "errors": errors, "raw": raw, "frames": frames, "tmp": tmp}))
    """
)


def test_disk_full_on_a_small_tmpfs(tmp_path):
    """A store on a 1 MB tmpfs: writes fail with StoreError, the acknowledged frames are exactly the stored
    ones (no frame stored twice or lost), and no temp file is left in blobs/."""
    unshare = shutil.which("unshare")
    if unshare is None:
        pytest.skip("unshare(1) is not installed: cannot make a private tmpfs mount")
    probe = subprocess.run([unshare, "-rm", "true"], capture_output=True, timeout=30)
    if probe.returncode != 0:
        pytest.skip(f"mounting is not permitted here (unshare -rm: {probe.stderr.decode().strip()})")
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    proc = subprocess.run(
        # 1 MB: with the WAL checkpointed in the background every 0.5 s (store/database.py) 400 frames fit in
        # 2 MB (the WAL no longer grows to the 4 MB auto-checkpoint bound); 1 MB fills after ~170 frames.
        [unshare, "-rm", sys.executable, "-c", DISK_FULL_SCRIPT, str(mnt), "1m"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["errors"], f"the disk never filled: {out}"
    assert out["raw"] == [], f"raw errors escaped: {out['raw']}"
    assert set(out["errors"]) == {"StoreError"}
    assert out["frames"] == out["acked"], out
    assert out["tmp"] == []


def test_read_only_open_of_an_older_schema_says_what_to_do(tmp_path, embedder):
    path = tmp_path / "store_v2"
    shutil.copytree(V2_FIXTURE, path)  # never open the committed fixture itself
    with pytest.raises(StoreVersionError, match="schema version 2.*open it once writable"):
        Memory.open(path, embedder=embedder, readonly=True)
    with Memory.open(path, embedder=embedder):  # writable once: migrated in place
        pass
    with Memory.open(path, embedder=embedder, readonly=True) as ro:
        assert len(ro.objects()) == 6


def test_a_long_lived_read_only_view_follows_the_writer(tmp_path, embedder):
    cfg = MemoryConfig()
    with Memory.open(tmp_path / "m", cfg, embedder=embedder) as mem:
        scene = BoxScene(demo_boxes())
        t = _tour(mem, scene, 0.0, n=1)
        with Memory.open(tmp_path / "m", cfg, embedder=embedder, readonly=True) as ro:
            seen_at_open = len(ro.objects())
            assert seen_at_open == len(mem.objects())
            scene.boxes.append(Box(9, "green bowl", (4.2, -0.6, 0.05), (0.2, 0.2, 0.1), (30, 200, 40)))
            mem.update(scene.observe(look_at((3.0, 0.0, 1.2), (4.2, -0.6, 0.05)), t + 10))  # one more object
            assert len(mem.objects()) > seen_at_open
            assert len(ro.objects()) == len(mem.objects())
            assert ro.retrieve("red mug")  # retrieval sees the refreshed view too


READ_ONLY_MEDIA_SCRIPT = textwrap.dedent(
    """
    import json, subprocess, sys
    store = sys.argv[1]
    subprocess.run(["mount", "--bind", store, store], check=True)
    subprocess.run(["mount", "-o", "remount,bind,ro", store, store], check=True)
    from robomem import Memory
    from robomem.retrieval.embedding import make_embedder
    with Memory.open(store, embedder=make_embedder("hash"), readonly=True) as ro:
        labels = sorted(o.label for o in ro.objects())
        hits = len(ro.retrieve("red mug"))
        frames = ro.stats()["rows"]["frames"]
    print(json.dumps({"labels": labels, "hits": hits, "frames": frames}))
    """
)


def test_read_only_media_opens_read_only(tmp_path, embedder):
    unshare = shutil.which("unshare")
    if unshare is None:
        pytest.skip("unshare(1) is not installed: cannot make a private read-only mount")
    probe = subprocess.run([unshare, "-rm", "true"], capture_output=True, timeout=30)
    if probe.returncode != 0:
        pytest.skip(f"mounting is not permitted here (unshare -rm: {probe.stderr.decode().strip()})")
    with Memory.open(tmp_path / "m", embedder=embedder) as mem:
        _tour(mem, BoxScene(demo_boxes()), 0.0, n=3)
        labels = sorted(o.label for o in mem.objects())
    proc = subprocess.run(
        [unshare, "-rm", sys.executable, "-c", READ_ONLY_MEDIA_SCRIPT, str(tmp_path / "m")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["labels"] == labels and out["frames"] == 3 and out["hits"] > 0


def test_database_deleted_under_a_running_writer_stops_acknowledging(tmp_path, embedder):
    # SQLite keeps writing into an unlinked file: before this check, 15 more updates were acknowledged
    # after `rm memory.db` and all of them were gone at close.
    store = tmp_path / "m"
    with Memory.open(store, embedder=embedder) as mem:
        scene = BoxScene(demo_boxes())
        t = _tour(mem, scene, 0.0, n=2)
        (store / "memory.db").unlink()
        with pytest.raises(StoreError, match="deleted or replaced while this writer had it open"):
            _tour(mem, scene, t, n=1)
        with pytest.raises(StoreError, match="deleted or replaced"):
            _tour(mem, scene, t, n=1)  # every later update too: nothing is acknowledged and then lost


def test_damaged_blob_is_a_store_error_naming_it(tmp_path, embedder):
    store = tmp_path / "m"
    with Memory.open(store, embedder=embedder) as mem:
        _tour(mem, BoxScene(demo_boxes()), 0.0, n=2)
    files = [p for p in (store / "blobs").rglob("*") if p.is_file()]
    assert files, "the tour wrote keyframe blobs"
    victim = files[0]
    key = victim.parent.name + victim.name
    data = bytearray(victim.read_bytes())
    data[len(data) // 2] ^= 0xFF  # one flipped byte, as a bad sector or a torn copy would leave
    victim.write_bytes(bytes(data))
    s = Store(store, readonly=True)
    try:
        with pytest.raises(StoreError, match=f"blob {key} is damaged"):
            s.get_blob(key)
        good = [p for p in files[1:]]
        for p in good:  # the others still read back exactly
            assert hashlib.sha256(s.get_blob(p.parent.name + p.name)).hexdigest() == p.parent.name + p.name
    finally:
        s.close()


def test_an_existing_folder_that_is_not_a_store_is_never_made_one(tmp_path, embedder):
    docs = tmp_path / "my_docs"
    docs.mkdir()
    (docs / "thesis.tex").write_text("precious")
    with pytest.raises(StoreError, match="exists and is not a robomem store .*thesis.tex"):
        Memory.open(docs, embedder=embedder)
    assert sorted(p.name for p in docs.iterdir()) == ["thesis.tex"]  # nothing written into it
    empty = tmp_path / "empty"
    empty.mkdir()
    with Memory.open(empty, embedder=embedder) as mem:  # an empty folder is fine
        _tour(mem, BoxScene(demo_boxes()), 0.0, n=1)
    with Memory.open(empty, embedder=embedder) as mem:  # and so is reopening a store
        assert mem.stats()["rows"]["frames"] == 1


@pytest.mark.parametrize(("path", "message"), [("", "empty"), ("   ", "empty"), (5, "got int"), (b"x", "got bytes")])
def test_store_path_must_name_a_directory(tmp_path, monkeypatch, embedder, path, message):
    monkeypatch.chdir(tmp_path)  # "" used to open a store in the current directory
    with pytest.raises(ValueError, match=f"store path: .*{message}"):
        Memory.open(path, embedder=embedder)
    assert list(tmp_path.iterdir()) == []


def test_config_may_be_a_dict_and_anything_else_is_named(tmp_path, embedder):
    with Memory.open(tmp_path / "a", config={"embedder": "hash", "spatial": {"voxel_size": 0.04}}) as mem:
        assert mem.config.spatial.voxel_size == 0.04
    with pytest.raises(ValueError, match="memory.spatial.voxel_size: must be > 0"):
        Memory.open(tmp_path / "b", config={"spatial": {"voxel_size": -1}})
    with pytest.raises(ValueError, match="config: expected a MemoryConfig or a mapping, got str"):
        Memory.open(tmp_path / "c", config="config/robomem.yaml")
