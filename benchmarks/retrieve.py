"""Retrieval latency at 10^3, 10^4, 10^5 stored objects (and their sightings).

The store is populated directly (rows inserted into ``objects`` and
``sightings`` in one transaction, then the store is reopened), so the numbers
measure retrieval, not perception.  Objects get labels from a household
vocabulary (colours x nouns), random places in a 60 m x 60 m map, and
``--sightings`` sighting rows each.  Queries cycle through a fixed set of goal
texts (their embeddings are cached after the first pass, as they are in a
running robot that repeats goals; a fresh text costs one embedding, ~12 ms
with MiniLM on CPU, reported separately) and random robot positions.

Measured: ``Memory.retrieve`` (the four submodules in parallel, merged) and
``Planner.context`` (retrieve + rescoring, packing, goal proposals).
Prints a table; ``--json-out PATH`` writes the numbers as JSON.  It measures,
it does not assert.

    python benchmarks/retrieve.py --sizes 1000 10000 100000 --queries 200 --json-out retrieve.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from robomem import Memory, Place, Query
from robomem.planning.context import Goal, RobotState
from robomem.planning.planner import Planner
from robomem.retrieval.embedding import make_embedder

COLOURS = ["red", "blue", "green", "white", "black", "yellow", "grey", "brown", "pink", "orange"]
NOUNS = [
    "mug",
    "cup",
    "bowl",
    "plate",
    "bottle",
    "book",
    "chair",
    "table",
    "lamp",
    "plant",
    "vase",
    "box",
    "towel",
    "pillow",
    "remote control",
    "phone",
    "laptop",
    "keyboard",
    "backpack",
    "shoe",
    "jacket",
    "umbrella",
    "pan",
    "pot",
    "knife",
    "spoon",
    "fork",
    "apple",
    "banana",
    "orange",
    "can",
    "jar",
    "basket",
    "bin",
    "toy",
    "ball",
    "clock",
    "picture frame",
    "candle",
    "kettle",
]
GOALS = [
    "where is the red mug",
    "bring me the blue bottle",
    "find a book",
    "get the green apple from the kitchen",
    "where did I leave my black phone",
    "fetch the white towel",
    "find the yellow ball",
    "where is the laptop",
    "bring the grey kettle",
    "find my brown backpack",
    "where are the keys",
    "pick up the pink cup",
]
MAP = 60.0


def populate(
    path: Path,
    n_objects: int,
    sightings_per_object: int,
    embedder: Any,
    seed: int = 0,
    frames_per_sighting: int = 2,
    map_m: float = MAP,
) -> dict[str, int]:
    """Create a store with ``n_objects`` objects and their sightings, written directly in one transaction.

    Each sighting spans ``frames_per_sighting`` consecutive frames (0.1 s apart, detector score 1), so an
    object has ``n_obs = sightings_per_object * frames_per_sighting``: with the default 2 every object is
    *believed* (``SpatialConfig.confirm_observations`` / ``confirm_evidence``), as a robot's remembered
    objects are; with 1 and one sighting each they are unconfirmed candidates that questions skip."""
    room = map_m / 4  # 4 x 4 rooms over the map
    with Memory.open(path, embedder=embedder) as mem:  # creates the schema
        mem.set_places(
            [
                Place(f"room{i}{j}", (i * room, j * room), (i * room + room, j * room + room))
                for i in range(4)
                for j in range(4)
            ]
        )
    rng = np.random.default_rng(seed)
    labels = [f"{c} {n}" for c in COLOURS for n in NOUNS]
    lab_idx = rng.integers(0, len(labels), n_objects)
    cents = np.column_stack(
        [rng.uniform(0, map_m, n_objects), rng.uniform(0, map_m, n_objects), rng.uniform(0.0, 1.5, n_objects)]
    )
    offsets = rng.normal(0, 0.03, (8, 3)).astype(np.float32)
    t_end = 10_000.0
    n_obs = sightings_per_object * frames_per_sighting
    span = 0.1 * (frames_per_sighting - 1)
    conn = sqlite3.connect(path / "memory.db")
    try:
        with conn:
            obj_rows = []
            sig_rows = []
            for i in range(n_objects):
                oid = i + 1
                c = cents[i]
                lab = labels[lab_idx[i]]
                pts = (c.astype(np.float32) + offsets).astype(np.float32)
                mn, mx = pts.min(axis=0), pts.max(axis=0)
                ts = np.sort(rng.uniform(0, t_end - 1.0, sightings_per_object))
                place = f"room{min(int(c[0] // room), 3)}{min(int(c[1] // room), 3)}"
                obj_rows.append(
                    (
                        oid,
                        lab,
                        json.dumps({lab: float(n_obs)}),
                        *map(float, c),
                        *map(float, mn),
                        *map(float, mx),
                        n_obs,
                        float(ts[0]),
                        float(ts[-1]) + span,
                        None,
                        None,
                        pts.tobytes(),
                        place,
                        "present",
                        0,
                    )
                )
                for t in ts:
                    sig_rows.append(
                        (oid, float(t), float(t) + span, frames_per_sighting, *map(float, c), place, "robot", 0.1, 0)
                    )
            conn.executemany(
                "INSERT INTO objects(id, label, labels, cx, cy, cz, minx, miny, minz, maxx, maxy, maxz, n_obs,"
                " first_seen, last_seen, colour, embedding, points, place, status, retrieved)"
                " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                obj_rows,
            )
            conn.executemany(
                "INSERT INTO sightings(object_id, t_start, t_end, n, x, y, z, place, robot_id, extent, reid)"
                " VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                sig_rows,
            )
            conn.execute(
                "INSERT INTO frames(idx, stamp, robot_id, source, x, y, z, qx, qy, qz, qw, place, n_detections)"
                " VALUES (1, ?, 'robot', 'bench', 0, 0, 1, 0, 0, 0, 1, NULL, 0)",
                (t_end,),
            )
    finally:
        conn.close()
    return {"objects": n_objects, "sightings": n_objects * sightings_per_object}


def percentile(xs: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(xs), q)) if xs else float("nan")


def measure(fn: Any, args_list: list[Any]) -> dict[str, float]:
    times = []
    for a in args_list:
        t0 = time.perf_counter()
        fn(*a)
        times.append((time.perf_counter() - t0) * 1e3)
    return {
        "median_ms": statistics.median(times),
        "p99_ms": percentile(times, 99),
        "max_ms": max(times),
        "n": len(times),
    }


def bench_size(n: int, args: argparse.Namespace, embedder: Any, root: Path) -> dict[str, Any]:
    path = root / f"store_{n}"
    t0 = time.perf_counter()
    counts = populate(path, n, args.sightings, embedder)
    t_pop = time.perf_counter() - t0
    t0 = time.perf_counter()
    mem = Memory.open(path, embedder=embedder)
    t_open = time.perf_counter() - t0
    try:
        rng = np.random.default_rng(1)
        planner = Planner(mem, k=args.k)
        positions = [(float(rng.uniform(0, MAP)), float(rng.uniform(0, MAP)), 0.0) for _ in range(args.queries)]
        now = mem.newest_stamp
        queries = [
            (Query(text=GOALS[i % len(GOALS)], position=positions[i], time=now, k=args.k),) for i in range(args.queries)
        ]
        label_queries = [
            (Query(label=f"{COLOURS[i % 10]} {NOUNS[i % len(NOUNS)]}", position=positions[i], time=now, k=args.k),)
            for i in range(args.queries)
        ]
        contexts = [(GOALS[i % len(GOALS)], RobotState(positions[i], 0.0, now)) for i in range(args.queries)]
        # Warm-up: embed every goal text once (a running robot repeats its goals).
        for q in queries[: len(GOALS)] + label_queries[: len(NOUNS)]:
            mem.retrieve(q[0])
        for g, s in contexts[: len(GOALS)]:
            planner.context(g, s)
        t0 = time.perf_counter()
        mem.retrieve(Query(text=f"find the thing number {n}", k=args.k))
        fresh_ms = (time.perf_counter() - t0) * 1e3
        out = {
            **counts,
            "populate_s": round(t_pop, 2),
            "open_s": round(t_open, 2),
            "retrieve_text": measure(mem.retrieve, queries),
            "retrieve_label": measure(mem.retrieve, label_queries),
            "planner_context": measure(lambda g, s: planner.context(g, s), contexts),
            "planner_context_label": measure(lambda g, s: planner.context(Goal(label="red mug"), s), contexts),
            "retrieve_fresh_text_ms": round(fresh_ms, 2),
        }
    finally:
        mem.close()
        shutil.rmtree(path, ignore_errors=True)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[1_000, 10_000, 100_000])
    ap.add_argument("--sightings", type=int, default=2, help="sighting rows per object")
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--embedder", default="auto", choices=["auto", "minilm", "hash"])
    ap.add_argument("--json-out", type=Path, default=None)
    ap.add_argument("--workdir", type=Path, default=None, help="where the temporary stores go")
    args = ap.parse_args(argv)
    if any(n < 1 for n in args.sizes) or args.queries < 1 or args.sightings < 1:
        ap.error("sizes, queries and sightings must be positive")
    embedder = make_embedder(args.embedder)
    root = Path(tempfile.mkdtemp(prefix="robomem_bench_", dir=args.workdir))
    results: dict[str, Any] = {
        "machine": {"python": sys.version.split()[0], "platform": platform.platform(), "cpus": os.cpu_count()},
        "embedder": embedder.name,
        "k": args.k,
        "queries": args.queries,
        "sizes": {},
    }
    try:
        for n in args.sizes:
            r = bench_size(n, args, embedder, root)
            results["sizes"][str(n)] = r
            print(f"... {n} objects done (populate {r['populate_s']} s, open {r['open_s']} s)", file=sys.stderr)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    cols = [
        ("retrieve_text", "retrieve(text)"),
        ("retrieve_label", "retrieve(label)"),
        ("planner_context", "Planner.context(text)"),
        ("planner_context_label", "Planner.context(label)"),
    ]
    print(f"{'objects':>8} {'sightings':>9}  " + "  ".join(f"{name:>24}" for _, name in cols) + "  fresh text")
    print(f"{'':>8} {'':>9}  " + "  ".join(f"{'median / p99 ms':>24}" for _ in cols))
    for n, r in results["sizes"].items():
        cells = "  ".join(f"{r[key]['median_ms']:>11.2f} / {r[key]['p99_ms']:>9.2f}" for key, _ in cols)
        print(f"{n:>8} {r['sightings']:>9}  {cells}  {r['retrieve_fresh_text_ms']:>7.1f} ms")
    if args.json_out is not None:
        args.json_out.write_text(json.dumps(results, indent=2))
        print(f"wrote {args.json_out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
