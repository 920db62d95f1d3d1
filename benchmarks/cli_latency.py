"""Wall time of `robomem query STORE locate X --json`, cold (a fresh process per run), on a store of N objects.

    python benchmarks/cli_latency.py [--objects 1000] [--runs 5]

Builds the store with the real ingest path (synthetic boxes seen by the exact ray-caster, hash embedder),
then runs the CLI as a subprocess; prints a table and one JSON line. Target: median < 1.5 s.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from robomem import Memory, MemoryConfig
from robomem.testing.synthetic import Box, BoxScene, look_at


def build_store(path: Path, n_objects: int, tile: int = 8, spacing: float = 0.6) -> float:
    """A grid of n boxes with 20 labels and colours, seen from above, one frame per tile of
    ``tile`` x ``tile`` boxes; returns the number of objects memory ends with."""
    t0 = time.perf_counter()
    side = int(math.ceil(n_objects**0.5))
    labels = [f"thing{i}" for i in range(19)] + ["red mug"]
    boxes = [
        Box(
            i + 1,
            labels[i % len(labels)],
            (spacing * (i % side), spacing * (i // side), 0.1),
            (0.2, 0.2, 0.2),
            ((37 * (i % 20)) % 256, (91 * (i % 20)) % 256, (53 * (i % 20) + 40) % 256),
        )
        for i in range(n_objects)
    ]
    with Memory.open(path, MemoryConfig.from_dict({"embedder": "hash"}), parallel=False) as mem:
        t = 0.0
        for r0 in range(0, side, tile):
            for c0 in range(0, side, tile):
                x, y = spacing * (c0 + (tile - 1) / 2), spacing * (r0 + (tile - 1) / 2)
                # render every box the camera can see (a half-rendered view would look like absences)
                here = [b for b in boxes if abs(b.center[0] - x) < 4.5 and abs(b.center[1] - y) < 3.5]
                if here:
                    mem.update(BoxScene(here).observe(look_at((x, y - 0.01, 4.0), (x, y, 0.0)), t))
                    t += 1.0
        n = len(mem.objects())
    print(f"store: {n} objects in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    return float(n)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--objects", type=int, default=1000)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--target", default="red mug")
    ap.add_argument("--store", type=Path, help="keep the store here and reuse it when it exists")
    a = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        store = a.store or Path(tmp) / "store"
        if a.store is not None and (store / "memory.db").exists():
            with Memory.open(store, MemoryConfig.from_dict({"embedder": "hash"}), readonly=True) as mem:
                n = float(len(mem.objects()))
        else:
            n = build_store(store, a.objects)
        cmd = [sys.executable, "-m", "robomem.cli.main", "query", str(store), "locate", a.target, "--json"]
        walls, rss = [], []
        for _ in range(a.runs):
            t0 = time.perf_counter()
            p = subprocess.run(["/usr/bin/time", "-f", "%M", *cmd], capture_output=True, text=True, check=False)
            walls.append(time.perf_counter() - t0)
            if p.returncode != 0:
                print(p.stderr[-2000:], file=sys.stderr)
                return 1
            rss.append(int(p.stderr.strip().splitlines()[-1]) / 1024.0)
            found = len(json.loads(p.stdout)["results"])
    med = statistics.median(walls)
    print(f"{'objects':>8} {'runs':>5} {'median s':>9} {'min s':>7} {'max s':>7} {'max RSS MB':>11} {'found':>6}")
    print(f"{int(n):>8} {a.runs:>5} {med:>9.2f} {min(walls):>7.2f} {max(walls):>7.2f} {max(rss):>11.0f} {found:>6}")
    print(
        json.dumps(
            {
                "objects": int(n),
                "runs": a.runs,
                "median_s": round(med, 3),
                "min_s": round(min(walls), 3),
                "max_s": round(max(walls), 3),
                "max_rss_mb": round(max(rss), 1),
                "found": found,
                "target_s": 1.5,
                "met": med < 1.5,
            }
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
