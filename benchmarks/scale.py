"""Scale benchmark: update and query cost against how much memory holds (10^3 .. 10^6 objects).

Bulk-load path (documented, not ``Memory.update``): ``retrieve.populate``, in a process of its own, writes
``N`` object rows (household labels, random places, 8 points each) and ``--sightings`` sighting rows per
object straight into a fresh store in one transaction; the store is then opened with ``Memory.open``
(timed: *open*, from SQL: a bulk-loaded store has no index cache).  ``--area fixed`` puts every size on a
60 m x 60 m map (10^6 objects are then 10x as dense as 10^5 and the camera sees 10x as many of them);
``--area density`` grows the map with the count, at the density of 10^5 on 60 m x 60 m (10^6: 190 m x 190 m).
A live robot then runs on top of it, as on a robot: 320x240 synthetic frames of a table with a few boxes
at the map's corner (the origin, at the edge of the populated area), one ``Memory.update`` every 0.1 s of
sensor time, and one ``Memory.retrieve(text)`` every 10 updates (once a second).  Every such query is the
*first query after an update*; a second, identical query right after it is reported as *repeat* to show
whether the first one pays for an index rebuild.  Then the memory is closed (timed: *close*, which writes
the index cache, ``store/index_cache.py``) and opened again (timed: *reopen*, a restart after a clean
shutdown) and asked 5 questions.  Each size runs in its own process, so RSS is that size's alone.

Reported per size: update median/p99/max, query (first after an update) median/p99, repeat query
median/p99, open, close and reopen time, RSS after open, at the end of the run and after the reopen,
store bytes per object.  Prints a table; ``--json-out`` writes JSON.  It measures, it does not assert.

    .venv/bin/python benchmarks/scale.py --sizes 1000 10000 100000 --json-out benchmarks/results/scale.json
    .venv/bin/python benchmarks/scale.py --sizes 1000000 --tmp /tmp --json-out benchmarks/results/scale_1e6.json

At 10^6 objects the bulk load takes about half a minute, the first ``Memory.open`` about 7.5 s (10.8 s before the chunked numeric reads) and the process
about 2 GB on this 2-core machine (object geometry is paged from the store; ``paging`` in the JSON says how
many objects the live run read back): leave that much memory free.
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
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import print_table, summary_ms, write_json  # noqa: E402
from retrieve import GOALS, MAP, populate  # noqa: E402

from robomem import Memory, Query  # noqa: E402
from robomem.retrieval.embedding import make_embedder  # noqa: E402
from robomem.testing.synthetic import Box, BoxScene, look_at  # noqa: E402


def rss_mb() -> float:
    """Resident set size of this process now, MiB (Linux /proc)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024.0
    return float("nan")


def dir_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def map_side(n: int, area: str) -> float:
    """The populated map's side: ``MAP`` at every size, or grown so the density stays that of 10^5 objects."""
    return MAP if area == "fixed" or n <= 100_000 else MAP * math.sqrt(n / 100_000)


def live_scene() -> BoxScene:
    rng = np.random.default_rng(0)
    labels = ["mug", "book", "bowl", "bottle", "plant"]
    boxes = [Box(1, "table", (0.0, 0.0, 0.375), (2.0, 1.2, 0.75), (140, 90, 40))]
    for i, lab in enumerate(labels, start=2):
        x, y = rng.uniform(-0.8, 0.8), rng.uniform(-0.45, 0.45)
        s = rng.uniform(0.1, 0.2)
        colour = tuple(int(c) for c in rng.integers(30, 230, 3))
        boxes.append(Box(i, lab, (x, y, 0.75 + s / 2), (s, s, s), colour))
    return BoxScene(boxes, 320, 240, hfov_deg=70)


def run_one(n: int, args: argparse.Namespace) -> dict[str, Any]:
    load_before = os.getloadavg()[0]
    embedder = make_embedder(args.embedder)
    scene = live_scene()
    n_views = 40
    poses = []
    for j in range(n_views):  # an arc around the table, on the side facing the populated map
        a = -math.pi / 2 + 0.6 * math.sin(2 * math.pi * j / n_views)
        poses.append(look_at((2.4 * math.cos(a), 2.4 * math.sin(a), 1.4), (0.0, 0.0, 0.8)))
    with tempfile.TemporaryDirectory(dir=args.tmp) as d:
        path = Path(d) / "store"
        map_m = map_side(n, args.area)
        t0 = time.perf_counter()
        # the bulk load runs in a process of its own: its million-row lists would stay in this one's heap and
        # be counted as memory's RSS
        pop = [sys.executable, __file__, "--populate", str(n), str(path), "--sightings", str(args.sightings)]
        out = subprocess.run([*pop, "--map-m", str(map_m)], capture_output=True, text=True, check=True)
        counts = json.loads(out.stdout.strip().splitlines()[-1])
        t_pop = time.perf_counter() - t0
        store_bytes = dir_bytes(path)
        rss_before = rss_mb()
        t0 = time.perf_counter()
        mem = Memory.open(path, embedder=embedder)
        t_open = time.perf_counter() - t0
        rss_open = rss_mb()
        try:
            t_start = mem.newest_stamp + 1.0
            for g in GOALS:  # a running robot repeats its goals: their embeddings are cached
                mem.retrieve(Query(text=g, k=10))
            upd: list[float] = []
            first: list[float] = []
            repeat: list[float] = []
            parts: list[dict[str, float]] = []
            for i in range(args.updates):
                obs = scene.observe(poses[i % n_views], t_start + 0.1 * i)
                t0 = time.perf_counter()
                r = mem.update(obs)
                upd.append(time.perf_counter() - t0)
                parts.append({k: round(v, 1) for k, v in r.timings_ms.items()})
                if i % 10 == 9:
                    q = Query(text=GOALS[(i // 10) % len(GOALS)], position=(0.0, -2.4, 0.0), k=10)
                    t0 = time.perf_counter()
                    mem.retrieve(q)
                    first.append(time.perf_counter() - t0)
                    t0 = time.perf_counter()
                    mem.retrieve(q)
                    repeat.append(time.perf_counter() - t0)
            n_final = len(mem.spatial.label_index().ids)
            paging = mem.spatial.paging()  # the geometry LRU: how many full states the live run needed
        finally:
            t0 = time.perf_counter()
            mem.close()  # writes the index cache (store/index_cache.py)
            t_close = time.perf_counter() - t0
        rss_end = rss_mb()
        t0 = time.perf_counter()
        mem = Memory.open(path, embedder=embedder)  # a restart after a clean close: from the index cache
        t_reopen = time.perf_counter() - t0
        from_cache = mem.opened_from_cache
        q_reopen = []
        for g in GOALS[:5]:  # the first queries after the restart, answered from what the cache restored
            t0 = time.perf_counter()
            mem.retrieve(Query(text=g, position=(0.0, -2.4, 0.0), k=10))
            q_reopen.append(time.perf_counter() - t0)
        rss_reopen = rss_mb()
        mem.close()
        store_bytes_end = dir_bytes(path)
    warm = max(1, args.updates // 10)  # the first updates create the live scene's objects
    return {
        "objects": n,
        "objects_at_end": n_final,
        "sightings": counts["sightings"],
        "populate_s": t_pop,
        "map_m": map_m,
        "open_s": t_open,  # the first open after the bulk load: from SQL (no index cache yet)
        "close_s": t_close,
        "reopen_s": t_reopen,  # after a clean close: from the index cache when ``reopen_from_cache``
        "reopen_from_cache": from_cache,
        "query_after_reopen": summary_ms(q_reopen),
        "rss_mb_after_reopen": rss_reopen,
        "update": {**summary_ms(upd[warm:]), "max_ms": float(max(upd[warm:]) * 1e3)},
        "update_all": {**summary_ms(upd), "max_ms": float(max(upd) * 1e3)},
        "update_p90_ms": float(np.percentile(np.asarray(upd[warm:]) * 1e3, 90)),
        "slowest_updates": [  # which update, and where its time went (timings_ms of UpdateResult; "after":
            # what followed the commit inside update: duplicate merges, the budget pass)
            {
                "update": int(i),
                "ms": round(upd[i] * 1e3, 1),
                **parts[i],
                "after": round(upd[i] * 1e3 - parts[i]["total"], 1),
            }
            for i in np.argsort(upd)[::-1][:3].tolist()
        ],
        "load_average": [load_before, os.getloadavg()[0]],  # 1-min load at start and end: the machine is shared
        "query_first_after_update": summary_ms(first),
        "query_repeat": summary_ms(repeat),
        "rss_mb_before_open": rss_before,
        "rss_mb_after_open": rss_open,
        "rss_mb_end": rss_end,  # after the live run and its close
        "paging": paging,
        "store_bytes": store_bytes,
        "store_bytes_end": store_bytes_end,
        "store_bytes_per_object": store_bytes / max(n, 1),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000, 100000])
    ap.add_argument(
        "--updates",
        type=int,
        default=300,
        help="updates per size (10 Hz sensor time; a query every 10: 30 queries for the p99)",
    )
    ap.add_argument("--sightings", type=int, default=1, help="sighting rows per bulk-loaded object")
    ap.add_argument("--embedder", default="auto", choices=["auto", "minilm", "hash"])
    ap.add_argument("--tmp", default=None, help="folder for the temporary stores")
    ap.add_argument("--label", default="", help="a note stored in the JSON (e.g. before/after)")
    ap.add_argument("--json-out", default=None)
    ap.add_argument(
        "--area",
        default="fixed",
        choices=["fixed", "density"],
        help="fixed: every size on the same 60 m x 60 m map (10^6 objects are 10x as dense as 10^5, and the camera"
        " sees 10x as many); density: the map grows with the count, at the density of 10^5 on 60 m x 60 m",
    )
    ap.add_argument("--one", type=int, default=None, help=argparse.SUPPRESS)
    ap.add_argument("--populate", nargs=2, default=None, help=argparse.SUPPRESS)
    ap.add_argument("--map-m", type=float, default=MAP, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.populate is not None:  # child: the bulk load, its counts on the last stdout line
        counts = populate(
            Path(args.populate[1]),
            int(args.populate[0]),
            args.sightings,
            make_embedder(args.embedder),
            map_m=args.map_m,
        )
        print(json.dumps(counts))
        return 0
    if args.one is not None:  # child: one size, its JSON on the last stdout line
        print(json.dumps(run_one(args.one, args)))
        return 0
    results = []
    for n in args.sizes:
        cmd = [sys.executable, __file__, "--one", str(n), "--updates", str(args.updates)]
        cmd += ["--sightings", str(args.sightings), "--embedder", args.embedder, "--area", args.area]
        if args.tmp:
            cmd += ["--tmp", args.tmp]
        out = subprocess.run(cmd, capture_output=True, text=True, env=os.environ.copy())
        if out.returncode != 0:
            print(out.stderr[-3000:], file=sys.stderr)
            results.append({"objects": n, "error": out.stderr.strip().splitlines()[-1] if out.stderr else "failed"})
            continue
        results.append(json.loads(out.stdout.strip().splitlines()[-1]))
    rows = []
    for r in results:
        if "error" in r:
            rows.append([r["objects"], r["error"][:60], "", "", "", "", "", "", "", "", "", ""])
            continue
        u, q, rq = r["update"], r["query_first_after_update"], r["query_repeat"]
        rows.append(
            [
                r["objects"],
                u["median_ms"],
                u["p99_ms"],
                u["max_ms"],
                q["median_ms"],
                q["p99_ms"],
                rq["median_ms"],
                r["open_s"],
                r["reopen_s"] if r["reopen_from_cache"] else f"{r['reopen_s']:.1f} (SQL)",
                r["close_s"],
                r["rss_mb_end"],
                r["store_bytes_per_object"],
            ]
        )
    header = [
        "objects",
        "upd med",
        "upd p99",
        "upd max",
        "q1 med",
        "q1 p99",
        "q rep med",
        "open s",
        "reopen s",
        "close s",
        "RSS MB",
        "B/obj",
    ]
    title = f"scale ({args.updates} updates at 10 Hz, a query every 10; map: {args.area}; ms unless noted)"
    print_table(title, header, rows)
    out = {"benchmark": "scale", "label": args.label, "updates": args.updates, "area": args.area, "sizes": results}
    write_json(out, args.json_out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
