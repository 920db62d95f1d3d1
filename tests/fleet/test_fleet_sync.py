"""FleetSync delivers the outbox to PostgreSQL: every committed frame exactly once, idempotently."""

from __future__ import annotations

import json
import time

import psycopg
from fleet_helpers import expected_counts, fleet_counts, floor_frame, robot_config, small_scene, tour

from robomem import Memory
from robomem.fleet.apply import apply_batch
from robomem.fleet.schema import SCHEMA
from robomem.fleet.sync import FleetSync


def test_sync_once_applies_every_frame_and_acknowledges_it(tmp_path, fleet_db, new_robot) -> None:
    r = new_robot("s")
    scene = small_scene()
    with Memory.open(tmp_path / "m", robot_config(r.url, r.robot_id, batch_frames=3)) as mem:
        tour(mem, scene, 0.0)
        payloads = [json.loads(x.payload) for x in mem.outbox.pending(100)]
        sync = FleetSync(mem)
        assert sync.sync_once() == 4
        st = sync.status()
        assert st.backlog == 0 and st.last_applied_seq == 4 and st.last_error is None and st.lag_s == 0.0
        counts = fleet_counts(fleet_db.owner_url, r.robot_id)
        for k, v in expected_counts(payloads).items():
            assert counts[k] == v, k
        assert counts["robot_objects"] == len(mem.objects()) and counts["last_seq"] == 4
        assert sync.sync_once() == 0  # nothing pending
        sync.stop()


def test_applying_the_same_batch_twice_changes_nothing(tmp_path, fleet_db, new_robot) -> None:
    r = new_robot("idem")
    scene = small_scene()
    with Memory.open(tmp_path / "m", robot_config(r.url, r.robot_id)) as mem:
        tour(mem, scene, 0.0)
        payloads = [json.loads(x.payload) for x in mem.outbox.pending(100)]
    with psycopg.connect(r.url) as conn:
        with conn.transaction():
            assert apply_batch(conn, r.robot_id, payloads, 0.5) == (4, 4)
        before = fleet_counts(fleet_db.owner_url, r.robot_id)
        snap = conn.execute(
            f"SELECT * FROM {SCHEMA}.fleet_objects WHERE last_robot = %s ORDER BY 1", (r.robot_id,)
        ).fetchall()
        with conn.transaction():
            assert apply_batch(conn, r.robot_id, payloads, 0.5) == (0, 4)  # the cursor skips all of it
        assert fleet_counts(fleet_db.owner_url, r.robot_id) == before
        assert (
            conn.execute(
                f"SELECT * FROM {SCHEMA}.fleet_objects WHERE last_robot = %s ORDER BY 1", (r.robot_id,)
            ).fetchall()
            == snap
        )
        # even with the cursor rewound (a lost acknowledgement on the fleet side), keys keep rows single
        conn.execute(f"UPDATE {SCHEMA}.robots SET last_seq = 0 WHERE robot_id = %s", (r.robot_id,))
        with conn.transaction():
            apply_batch(conn, r.robot_id, payloads, 0.5)
        after = fleet_counts(fleet_db.owner_url, r.robot_id)
        assert {k: after[k] for k in ("frames", "sightings", "absences", "fleet_history", "robot_objects")} == {
            k: before[k] for k in ("frames", "sightings", "absences", "fleet_history", "robot_objects")
        }


def test_background_sync_keeps_up_and_never_blocks_updates(tmp_path, fleet_db, new_robot) -> None:
    r = new_robot("bg")
    scene = small_scene()
    with Memory.open(tmp_path / "m", robot_config(r.url, r.robot_id)) as mem, FleetSync(mem) as sync:
        t = tour(mem, scene, 0.0)
        for i in range(20):
            floor_frame(mem, scene, t + i)
        deadline = time.monotonic() + 30
        while sync.status().backlog and time.monotonic() < deadline:
            time.sleep(0.05)
        st = sync.status()
        assert st.backlog == 0 and st.last_error is None and st.last_applied_seq == 24
        assert fleet_counts(fleet_db.owner_url, r.robot_id)["distinct_seq"] == 24
