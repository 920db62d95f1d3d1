"""Fleet memory: N robot processes at 10 Hz into one PostgreSQL fleet, and fleet query latency at scale.

    python benchmarks/fleet.py [--robots 1,2,4,8] [--seconds 20] [--rate 10] [--objects 10000,100000]
                               [--json benchmarks/results/fleet.json]

Part 1 (sync): a throwaway PostgreSQL 15 cluster (robomem.testing.postgres); for each N, a fresh fleet
database and N robot processes. Each robot owns a local store (hash embedder) with ``memory.fleet`` set and
a FleetSync thread, and feeds synthetic RGB-D frames (96x72, the exact ray-caster's boxes, its own room 20 m
from the others) at ``--rate`` Hz, the sensor stamp being the wall clock at capture. Reported per N:
sustained updates/s (all robots), the slowest robot's rate, update p50/p99, and sync lag p50/p99 = the
fleet's ``frames.received_at`` (the applying transaction's start) minus the wall time the robot's local
commit returned, over every frame; frames committed but never applied are counted (must be 0).

Part 2 (queries): synthetic fleet objects bulk-inserted by SQL (50 labels, 1 m grid), ANALYZEd; then the
one question engine over FleetMemory answers ``locate`` / ``where-now`` for a present label and a name no
robot saw (abstention), timed in process over one connection (the CLI adds its start-up on top).

Target: 8 robots at 10 Hz sustained with sync lag p99 <= 2 s on the 2-core machine.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from common import print_table, write_json  # noqa: E402

LABELS = [
    *("red mug", "white mug", "blue mug", "book", "chair", "table", "shelf", "bowl", "plate", "bottle"),
    *("lamp", "plant", "laptop", "phone", "remote", "pillow", "towel", "kettle", "toaster", "pan"),
    *("pot", "spoon", "fork", "knife", "cup", "glass", "vase", "clock", "box", "bag"),
    *("shoe", "hat", "umbrella", "keys", "wallet", "pen", "notebook", "scissors", "tape", "toy duck"),
    *("ball", "basket", "bin", "sofa", "rug", "mirror", "fan", "heater", "monitor", "printer"),
]


# -- one robot (a subprocess) ------------------------------------------------------------------------
def robot(url: str, robot_id: str, seconds: float, rate: float, offset: float, out: str) -> int:
    from robomem import Memory, MemoryConfig
    from robomem.config import FleetConfig
    from robomem.fleet.sync import FleetSync
    from robomem.retrieval.embedding import make_embedder
    from robomem.testing.synthetic import Box, BoxScene, demo_boxes, look_at

    boxes = [Box(b.instance_id, b.label, (b.center[0] + offset, *b.center[1:]), b.size, b.colour) for b in demo_boxes()]
    scene = BoxScene(boxes, 96, 72)
    target = (2.3 + offset, -0.3, 0.7)
    views = []
    for i in range(20):
        a = -0.6 + 1.2 * i / 19
        views.append(scene.observe(look_at((target[0] - 1.8 * math.cos(a), -0.3 - 1.8 * math.sin(a), 1.4), target), 0))
    cfg = MemoryConfig(embedder="hash", fleet=FleetConfig(url=url, robot_id=robot_id))
    commits: list[tuple[float, float]] = []
    upd: list[float] = []
    with (
        tempfile.TemporaryDirectory(prefix=f"fleet-{robot_id}-") as d,
        Memory.open(Path(d) / "store", cfg, embedder=make_embedder("hash")) as mem,
    ):
        sync = FleetSync(mem, cfg.fleet)
        sync.start()
        t_start = time.time()
        k = 0
        while True:
            due = t_start + k / rate
            if due - t_start >= seconds:
                break
            now = time.time()
            if due > now:
                time.sleep(due - now)
            stamp = time.time()
            t0 = time.perf_counter()
            mem.update(replace(views[k % len(views)], stamp=stamp, robot_id=robot_id))
            upd.append(time.perf_counter() - t0)
            commits.append((stamp, time.time()))
            k += 1
        elapsed = max(seconds, time.time() - t_start)  # longer when the robot fell behind its rate
        t_drain = time.time()
        while sync.status().backlog > 0 and time.time() - t_drain < 60:
            time.sleep(0.05)
        drain = time.time() - t_drain
        st = sync.status()
        sync.stop()
    Path(out).write_text(
        json.dumps(
            {
                "robot": robot_id,
                "frames": len(commits),
                "elapsed_s": elapsed,
                "rate_hz": len(commits) / elapsed,
                "update_ms": [1e3 * u for u in upd],
                "commits": commits,
                "drain_s": drain,
                "backlog_left": st.backlog,
                "last_error": st.last_error,
            }
        )
    )
    return 0


# -- the driver ----------------------------------------------------------------------------------------
def _new_db(pg: Any, name: str) -> str:
    import psycopg

    from robomem.fleet.schema import install

    with psycopg.connect(pg.owner_url(), autocommit=True) as c:
        c.execute(f"DROP DATABASE IF EXISTS {name}")
        c.execute(f"CREATE DATABASE {name}")
    url = pg.url(pg.owner, pg.password, name)
    install(url)
    return url


def sync_run(pg: Any, n: int, seconds: float, rate: float, work: Path) -> dict[str, Any]:
    import psycopg

    from robomem.fleet.schema import add_robot

    owner = _new_db(pg, f"bench_sync_{n}")
    procs, outs = [], []
    for i in range(n):
        rid, role, pw = f"robot{i + 1}", f"bench_r{i + 1}", f"pw-{i + 1}-bench"
        add_robot(owner, rid, role, pw)
        out = work / f"n{n}_{rid}.json"
        outs.append(out)
        cmd = [sys.executable, __file__, "_robot", pg.url(role, pw, f"bench_sync_{n}"), rid]
        cmd += [str(seconds), str(rate), str(20.0 * i), str(out)]
        procs.append(subprocess.Popen(cmd, cwd=ROOT, env={**os.environ, "OMP_NUM_THREADS": "1"}))
    for p in procs:
        if p.wait(timeout=seconds + 240) != 0:
            raise SystemExit(f"a robot process failed (exit {p.returncode})")
    res = [json.loads(o.read_text()) for o in outs]
    with psycopg.connect(owner) as c:
        got = c.execute(
            "SELECT robot_id, stamp, extract(epoch FROM received_at) FROM robomem_fleet.frames WHERE kind = 'frame'"
        ).fetchall()
    applied = {(r[0], float(r[1])): float(r[2]) for r in got}
    lags, missing = [], 0
    for r in res:
        for stamp, committed in r["commits"]:
            t = applied.get((r["robot"], float(stamp)))
            if t is None:
                missing += 1
            else:
                lags.append(max(0.0, t - committed))
    upd = np.concatenate([np.asarray(r["update_ms"]) for r in res])
    frames = sum(r["frames"] for r in res)
    lag = np.asarray(lags) if lags else np.asarray([math.nan])
    return {
        "robots": n,
        "seconds": seconds,
        "rate_hz": rate,
        "frames": frames,
        "updates_per_s": frames / max(r["elapsed_s"] for r in res),
        "slowest_robot_hz": min(r["rate_hz"] for r in res),
        "update_p50_ms": float(np.percentile(upd, 50)),
        "update_p99_ms": float(np.percentile(upd, 99)),
        "lag_p50_s": float(np.percentile(lag, 50)),
        "lag_p99_s": float(np.percentile(lag, 99)),
        "lag_max_s": float(lag.max()),
        "missing_frames": missing,
        "drain_s_max": max(r["drain_s"] for r in res),
        "errors": sorted({r["last_error"] for r in res if r["last_error"]}),
    }


def fill_objects(url: str, start: int, n: int) -> None:
    """n more synthetic fleet objects (50 labels on a 1 m grid, every 10th one observed absent), one statement."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as c:
        c.execute("INSERT INTO robomem_fleet.robots(robot_id, db_role) VALUES ('bulk', 'bulk') ON CONFLICT DO NOTHING")
        c.execute(
            """INSERT INTO robomem_fleet.fleet_objects(label, labels, cx, cy, cz, bmin_x, bmin_y, bmin_z,
                   bmax_x, bmax_y, bmax_z, n_obs, first_seen, last_seen, last_robot, place, status, status_since,
                   status_robot)
               SELECT l, jsonb_build_object(l, 3), x, y, 0.5, x - 0.1, y - 0.1, 0.4, x + 0.1, y + 0.1, 0.6, 3,
                   g, g + 1.0, 'robot' || (g %% 8 + 1), 'room' || (g %% 40),
                   CASE WHEN g %% 10 = 0 THEN 'absent' ELSE 'present' END,
                   CASE WHEN g %% 10 = 0 THEN g + 2.0 END, CASE WHEN g %% 10 = 0 THEN 'robot' || (g %% 7 + 1) END
               FROM (SELECT g, (%s::text[])[g %% %s + 1] AS l, (g %% 316)::float8 AS x, (g / 316)::float8 AS y
                     FROM generate_series(%s::int, %s::int) AS g) AS s""",
            (LABELS, len(LABELS), start + 1, start + n),
        )
        c.execute("UPDATE robomem_fleet.robots SET last_stamp = %s WHERE robot_id = 'bulk'", (float(start + n) + 2.0,))
        c.execute("ANALYZE robomem_fleet.fleet_objects")


def query_run(pg: Any, sizes: list[int], runs: int) -> list[dict[str, Any]]:
    from robomem.fleet.view import FleetMemory
    from robomem.qa.engine import QuestionEngine
    from robomem.retrieval.embedding import make_embedder

    url = _new_db(pg, "bench_query")
    out, have = [], 0
    emb = make_embedder("auto")
    for n in sorted(sizes):
        if n > have:
            fill_objects(url, have, n - have)
            have = n
        with FleetMemory.open(url, embedder=emb) as fm:
            eng = QuestionEngine(fm)
            row: dict[str, Any] = {"objects": fm.spatial.count()}
            for name, verb, target in (
                ("locate", eng.locate, "red mug"),
                ("where_now", eng.where_now, "red mug"),
                ("locate_head", eng.locate, "mug"),
                ("not_seen", eng.where_now, "giraffe"),
            ):
                verb(target)  # warm: the text model and the plan cache
                ts = []
                for _ in range(runs):
                    t0 = time.perf_counter()
                    a = verb(target)
                    ts.append(time.perf_counter() - t0)
                row[f"{name}_ms"] = 1e3 * float(np.median(ts))
                row[f"{name}_p90_ms"] = 1e3 * float(np.percentile(ts, 90))
                row[f"{name}_status"] = a.status
            out.append(row)
    return out


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["_robot"]:
        u, rid, s, r, off, o = argv[1:7]
        return robot(u, rid, float(s), float(r), float(off), o)
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--robots", default="1,2,4,8")
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--rate", type=float, default=10.0)
    ap.add_argument("--objects", default="10000,100000")
    ap.add_argument("--runs", type=int, default=15)
    ap.add_argument("--json", default="benchmarks/results/fleet.json")
    a = ap.parse_args(argv)
    from robomem.testing.postgres import PostgresCluster

    robots = [int(x) for x in a.robots.split(",") if x]
    sizes = [int(x) for x in a.objects.split(",") if x]
    with PostgresCluster() as pg, tempfile.TemporaryDirectory(prefix="fleet-bench-") as work:
        syncs = [sync_run(pg, n, a.seconds, a.rate, Path(work)) for n in robots]
        queries = query_run(pg, sizes, a.runs) if sizes else []
    print_table(
        f"fleet sync: N robots at {a.rate:g} Hz for {a.seconds:g} s each into one PostgreSQL",
        ["robots", "updates/s", "slowest Hz", "upd p50 ms", "upd p99 ms", "lag p50 s", "lag p99 s", "missing"],
        [
            [s["robots"], s["updates_per_s"], s["slowest_robot_hz"], s["update_p50_ms"], s["update_p99_ms"],
             s["lag_p50_s"], s["lag_p99_s"], s["missing_frames"]]
            for s in syncs
        ],
    )  # fmt: skip
    if queries:
        print_table(
            "fleet query latency (one question engine over FleetMemory, median ms over runs)",
            ["objects", "locate", "where-now", "locate 'mug'", "not seen"],
            [[q["objects"], q["locate_ms"], q["where_now_ms"], q["locate_head_ms"], q["not_seen_ms"]] for q in queries],
        )
    ok = any(s["robots"] == 8 for s in syncs) and all(
        s["lag_p99_s"] <= 2.0 and s["missing_frames"] == 0 and s["slowest_robot_hz"] >= 0.95 * a.rate for s in syncs
    )
    write_json({"sync": syncs, "queries": queries, "target_met": ok, "command": " ".join(sys.argv)}, a.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
