"""Replay speed: write a 10 Hz 640x480 synthetic bag (~10 s) and replay it into a fresh store.

Prints a table and a JSON line.  Speed-up = seconds of log / seconds of wall time; the split says where
a frame's wall time goes (ms per frame: read the bag, deserialize CDR, assemble = decode + sync + TF,
Memory.update).
Runs: every frame (as fast as memory allows) with the bag decoded in this process ("inline") and in a
forked decoder process beside the updates ("process", the default; robomem.io.replay_decode), and
throttled to 2 frames per sensor second (``--max-frame-rate 2``: what a robot that only needs a keyframe
every half second gets).  ``--repeat N`` interleaves the three N times and reports medians: a loaded
machine moves each run, and the decoder process needs a second free core to pay.

    .venv/bin/python benchmarks/replay.py [--seconds 10] [--repeat 3] [--width 640 --height 480] [--storage mcap]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from statistics import median

from robomem import Memory, MemoryConfig
from robomem.envs.record import synthetic_recording, write_bag
from robomem.io.replay import STAGES, ReplayConfig, replay


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--rate", type=float, default=10.0)
    ap.add_argument("--width", type=int, default=640)
    ap.add_argument("--height", type=int, default=480)
    ap.add_argument("--storage", choices=("mcap", "sqlite3"), default="mcap")
    ap.add_argument("--embedder", default="hash", help="hash (default, isolates replay cost) or auto")
    ap.add_argument("--repeat", type=int, default=1, help="run the three configurations this many times, interleaved")
    ap.add_argument("--json-out", default=None, help="also write the JSON here")
    args = ap.parse_args()
    n = int(round(args.seconds * args.rate))
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        rec = synthetic_recording(n_frames=n, width=args.width, height=args.height, rate_hz=args.rate, arc_deg=300.0)
        bag = write_bag(rec, Path(tmp) / ("bench.mcap" if args.storage == "mcap" else "bench"), storage=args.storage)
        t_write = time.perf_counter() - t0
        size = sum(p.stat().st_size for p in bag.rglob("*")) if bag.is_dir() else bag.stat().st_size
        rows = []
        runs = [
            ("all frames, inline", replace(ReplayConfig(), decoder="inline")),
            ("all frames, process", replace(ReplayConfig(), decoder="process")),
            ("max 2 frames/s", ReplayConfig(max_frame_rate=2.0)),
        ]
        for name, cfg in runs * args.repeat:
            store = Path(tmp) / f"store_{len(rows)}"
            with Memory.open(store, MemoryConfig.from_dict({"embedder": args.embedder})) as mem:
                mem.embedder.embed(["warm up"])
                stats = replay(bag, mem, cfg)
            rows.append(
                {
                    "run": name,
                    "decoder": stats.decoder,
                    "frames": stats.frames,
                    "log_s": round(stats.bag_duration_s, 2),
                    "wall_s": round(stats.wall_s, 2),
                    "speedup": round(stats.speedup, 2),
                    "ms_per_frame": round(stats.wall_s / max(1, stats.frames) * 1e3, 1),
                    "objects": stats.objects,
                    # ms per frame by stage (robomem.io.replay.STAGES): where a frame's wall time goes
                    **{f"{k}_ms": round(v / max(1, stats.frames) * 1e3, 2) for k, v in stats.stage_s.items()},
                }
            )
    print(
        f"replay benchmark: {n} frames {args.width}x{args.height} @ {args.rate:g} Hz, {args.storage} "
        f"{size / 1e6:.1f} MB (written in {t_write:.1f} s), {platform.processor() or platform.machine()}"
    )
    split = "  ".join(f"{k:>11}" for k in STAGES)
    print(
        f"{'run':<16} {'frames':>6} {'log s':>6} {'wall s':>7} {'speed-up':>9} {'ms/frame':>9} {'objects':>7}  {split}"
    )
    for r in rows:
        per = "  ".join(f"{r[k + '_ms']:>11}" for k in STAGES)
        print(
            f"{r['run']:<16} {r['frames']:>6} {r['log_s']:>6} {r['wall_s']:>7} {r['speedup']:>8}x "
            f"{r['ms_per_frame']:>9} {r['objects']:>7}  {per}"
        )
    med = {name: median(r["speedup"] for r in rows if r["run"] == name) for name, _ in runs}
    ratio = med["all frames, process"] / med["all frames, inline"]
    print(
        f"median speed-up (of {args.repeat}): inline {med['all frames, inline']:.2f}x, "
        f"process {med['all frames, process']:.2f}x (process / inline {ratio:.2f}); "
        f"max 2 frames/s {med['max 2 frames/s']:.2f}x; load average {os.getloadavg()[0]:.1f}"
    )
    out = {
        "benchmark": "replay",
        "frames": n,
        "width": args.width,
        "height": args.height,
        "rate_hz": args.rate,
        "storage": args.storage,
        "bag_mb": round(size / 1e6, 2),
        "median_speedup": med,
        "process_over_inline": round(ratio, 3),
        "load_average": round(os.getloadavg()[0], 2),
        "runs": rows,
    }
    print(json.dumps(out))
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
