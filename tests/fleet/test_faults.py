"""Faults on a real PostgreSQL 15: the server SIGKILLed mid-sync, the robot SIGKILLed mid-sync, an hour
offline, a wrong password and an unreachable host.  After each: nothing lost, nothing applied twice."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest
from fleet_helpers import expected_counts, fleet_counts, floor_frame, robot_config, small_scene, tour

from robomem import Memory
from robomem.fleet.schema import SCHEMA
from robomem.fleet.sync import FleetSync
from robomem.testing.postgres import free_port


def _wait(cond, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)


def _last_seq(owner_url: str, robot_id: str) -> int:
    try:
        with psycopg.connect(owner_url, connect_timeout=2) as c:
            return int(c.execute(f"SELECT last_seq FROM {SCHEMA}.robots WHERE robot_id=%s", (robot_id,)).fetchone()[0])
    except psycopg.OperationalError:
        return -1


def _assert_exactly_once(owner_url: str, robot_id: str, payloads: list[dict], n_frames: int) -> None:
    counts = fleet_counts(owner_url, robot_id)
    assert counts["frames"] == counts["distinct_seq"] == n_frames == len(payloads)
    with psycopg.connect(owner_url) as c:
        seqs = [r[0] for r in c.execute(f"SELECT seq FROM {SCHEMA}.frames WHERE robot_id=%s ORDER BY seq", (robot_id,))]
    assert seqs == [p["seq"] for p in payloads]  # every committed frame, once, in order
    for k, v in expected_counts(payloads).items():
        assert counts[k] == v, k


def test_server_sigkilled_mid_sync_loses_nothing_and_applies_nothing_twice(tmp_path, pg_up, fleet_db, new_robot):
    r = new_robot("kill")
    scene = small_scene()
    # enough small batches that the kill lands while some are still pending: with 60 frames in batches of 4 an
    # idle machine had applied them all between the poll seeing 8 and the kill
    n = 600
    with Memory.open(tmp_path / "m", robot_config(r.url, r.robot_id, batch_frames=2, retry_s=0.2)) as mem:
        t = tour(mem, scene, 0.0)
        while mem.frames.count() < n:
            floor_frame(mem, scene, t)
            t += 1.0
        payloads = [p for p in local_payloads_open(mem)]
        sync = FleetSync(mem).start()
        try:
            _wait(lambda: _last_seq(fleet_db.owner_url, r.robot_id) >= 8, 60, "the first batches")
            pg_up.kill()  # mid-sync: batches are still pending
            assert mem.outbox.backlog() > 0
            _wait(lambda: sync.status().last_error is not None, 30, "the sync to notice")
            # the robot keeps working while the server is down
            floor_frame(mem, scene, t)
            payloads.append(local_payloads_open(mem)[-1])
            pg_up.start()  # crash recovery
            _wait(lambda: sync.status().backlog == 0, 90, "the backlog to drain")
        finally:
            sync.stop()
        assert sync.status().last_error is None
        _assert_exactly_once(fleet_db.owner_url, r.robot_id, payloads, n + 1)


def local_payloads_open(mem: Memory) -> list[dict]:
    import json

    rows = mem.store.read().execute("SELECT payload FROM outbox ORDER BY seq").fetchall()
    return [json.loads(p) for (p,) in rows]


def test_robot_sigkilled_mid_sync_resumes_with_every_committed_frame_once(tmp_path, fleet_db, new_robot):
    r = new_robot("crash")
    store = tmp_path / "m"
    script = Path(__file__).with_name("robot_process.py")
    proc = subprocess.Popen(
        [sys.executable, str(script), str(store), r.url, r.robot_id, "3000"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    committed = 0
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            committed = int(line.split()[1])
            if committed >= 30 and _last_seq(fleet_db.owner_url, r.robot_id) > 0:
                break
        else:
            pytest.fail(f"robot process ended early: {proc.wait()} {proc.stderr.read() if proc.stderr else ''}")
        os.kill(proc.pid, signal.SIGKILL)  # mid-update and mid-sync
    finally:
        proc.kill()
        proc.wait()
    applied_before = _last_seq(fleet_db.owner_url, r.robot_id)
    assert applied_before > 0
    # reopen the store (the lock went with the process) and resume
    with Memory.open(store, robot_config(r.url, r.robot_id, batch_frames=5)) as mem:
        n_frames = mem.frames.count()
        assert n_frames >= committed  # everything the process reported committed is there
        assert mem.outbox.last_seq() == n_frames  # and each has its outbox row
        FleetSync(mem).sync_once()
        assert mem.outbox.backlog() == 0
        payloads = local_payloads_open(mem)
    # acknowledged rows beyond keep_sent may be pruned locally; the store keeps all of them here (n < 1000)
    _assert_exactly_once(fleet_db.owner_url, r.robot_id, payloads, n_frames)


@pytest.mark.slow
def test_an_hour_offline_catches_up_when_the_server_returns(tmp_path, pg_up, fleet_db, new_robot, caplog):
    r = new_robot("away")
    scene = small_scene()
    caplog.set_level(logging.WARNING, logger="robomem.fleet.sync")
    with Memory.open(tmp_path / "m", robot_config(r.url, r.robot_id, retry_s=0.2, batch_frames=200)) as mem:
        t = tour(mem, scene, 0.0)
        sync = FleetSync(mem).start()
        try:
            _wait(lambda: sync.status().backlog == 0, 30, "the first sync")
            pg_up.stop()
            t0 = t
            while t < t0 + 3600.0:  # one hour of sensor time at 1 Hz, server down
                floor_frame(mem, scene, t)
                t += 1.0
            st = sync.status()
            assert st.backlog == 3600 and st.lag_s >= 3599.0
            assert st.last_error is not None and "127.0.0.1" in st.last_error
            pg_up.start()
            _wait(lambda: sync.status().backlog == 0, 180, "the hour's backlog to drain")
        finally:
            sync.stop()
        assert sync.status().lag_s == 0.0 and sync.status().last_error is None
        payloads = local_payloads_open(mem)
        assert len(payloads) == 1000  # keep_sent: acknowledged rows beyond it are pruned locally
    counts = fleet_counts(fleet_db.owner_url, r.robot_id)
    assert counts["frames"] == counts["distinct_seq"] == 3604 and counts["last_seq"] == 3604
    assert "retrying" in caplog.text


@pytest.mark.parametrize("fault", ["wrong password", "unreachable host"])
def test_a_bad_server_is_a_clear_error_and_the_robot_keeps_its_memory(tmp_path, pg_up, new_robot, caplog, fault):
    r = new_robot("bad")
    secret = "N0t-The-Password-42"
    db = r.url.rsplit("/", 1)[1]
    if fault == "wrong password":
        url = pg_up.url(r.role, secret, db)
    else:
        url = f"postgresql://{r.role}:{secret}@127.0.0.1:{free_port()}/{db}"
    caplog.set_level(logging.DEBUG)
    scene = small_scene()
    with Memory.open(tmp_path / "m", robot_config(url, r.robot_id, retry_s=0.1, connect_timeout_s=1.0)) as mem:
        sync = FleetSync(mem).start()
        try:
            t = tour(mem, scene, 0.0)  # updates succeed while the fleet is unusable
            for i in range(5):
                floor_frame(mem, scene, t + i)
            _wait(lambda: sync.status().last_error is not None, 20, "the error")
            err = sync.status().last_error
        finally:
            sync.stop()
        assert mem.frames.count() == 9 and mem.outbox.backlog() == 9 and len(mem.objects()) >= 5
    assert err is not None and "host 127.0.0.1" in err and f"database {db}" in err and f"role {r.role}" in err
    assert (
        ("password authentication failed" in err)
        if fault == "wrong password"
        else ("refused" in err or "connect" in err)
    )
    assert secret not in err and secret not in caplog.text and secret not in repr(sync)
