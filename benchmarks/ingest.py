"""Ingest benchmark: Memory.update latency at 640x480 with ~10 instances.

Frames are rendered first (rendering is not memory's cost), then fed to a
fresh store twice: with the parallel submodule update and sequentially.
Prints a table and JSON: median/p99 ms per update, updates/s, and the
parallel/sequential ratio.  Target to measure against: >= 30 updates/s.

    .venv/bin/python benchmarks/ingest.py [--frames 150] [--json-out benchmarks/results/ingest.json]
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import print_table, summary_ms, write_json  # noqa: E402

from robomem import Memory  # noqa: E402
from robomem.retrieval.embedding import make_embedder  # noqa: E402
from robomem.testing.synthetic import Box, BoxScene, look_at  # noqa: E402


def scene(width: int, height: int) -> BoxScene:
    rng = np.random.default_rng(0)
    labels = ["mug", "book", "bowl", "bottle", "plant", "laptop", "box", "shoe", "lamp", "vase", "apple", "cup"]
    boxes = [Box(1, "table", (0.0, 0.0, 0.375), (2.0, 1.2, 0.75), (140, 90, 40))]
    for i, lab in enumerate(labels[:10], start=2):
        x, y = rng.uniform(-0.8, 0.8), rng.uniform(-0.45, 0.45)
        s = rng.uniform(0.08, 0.2)
        colour = tuple(int(c) for c in rng.integers(30, 230, 3))
        boxes.append(Box(i, lab, (x, y, 0.75 + s / 2), (s, s, s), colour))
    return BoxScene(boxes, width, height, hfov_deg=70)


def run(frames: list, parallel: bool, embedder) -> tuple[list[float], dict]:
    with (
        tempfile.TemporaryDirectory() as d,
        Memory.open(Path(d) / "store", embedder=embedder, parallel=parallel) as mem,
    ):
        times = []
        parts: dict[str, list[float]] = {}
        for obs in frames:
            t0 = time.perf_counter()
            r = mem.update(obs)
            times.append(time.perf_counter() - t0)
            for k, v in r.timings_ms.items():
                parts.setdefault(k, []).append(v)
        n_obj = len(mem.objects())
    return times[5:], {"objects": n_obj, **{k: float(np.median(v)) for k, v in parts.items()}}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=150)
    ap.add_argument("--width", type=int, default=640)
    ap.add_argument("--height", type=int, default=480)
    ap.add_argument("--json-out", default=None)
    args = ap.parse_args()
    sc = scene(args.width, args.height)
    print(f"rendering {args.frames} frames at {args.width}x{args.height} ...", flush=True)
    frames = []
    for i in range(args.frames):
        a = 2 * math.pi * i / 60
        eye = (2.2 * math.cos(a), 2.2 * math.sin(a), 1.5)
        frames.append(sc.observe(look_at(eye, (0, 0, 0.75)), i * 0.1))
    n_inst = float(np.mean([len(f.instances) for f in frames]))
    embedder = make_embedder("auto")
    results = {}
    rows = []
    for parallel in (True, False):
        name = "parallel" if parallel else "sequential"
        print(f"ingesting ({name}) ...", flush=True)
        times, parts = run(frames, parallel, embedder)
        s = summary_ms(times)
        s["updates_per_s"] = 1000.0 / s["mean_ms"]
        s["median_stage_ms"] = {k: v for k, v in parts.items() if k != "objects"}
        s["objects"] = parts["objects"]
        results[name] = s
        rows.append([name, s["median_ms"], s["p99_ms"], s["updates_per_s"], parts["objects"]])
    ratio = results["sequential"]["median_ms"] / results["parallel"]["median_ms"]
    print_table(
        f"Memory.update at {args.width}x{args.height}, {n_inst:.1f} instances/frame, {args.frames} frames",
        ["mode", "median ms", "p99 ms", "updates/s", "objects"],
        rows,
    )
    print(f"  sequential/parallel median ratio: {ratio:.2f}x (target >= 30 updates/s)")
    print("  median stage ms (parallel):", {k: round(v, 2) for k, v in results["parallel"]["median_stage_ms"].items()})
    write_json(
        {
            "benchmark": "ingest",
            "resolution": [args.width, args.height],
            "instances_per_frame": n_inst,
            "results": results,
            "speedup_parallel_over_sequential": ratio,
        },
        args.json_out,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
