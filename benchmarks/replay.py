"""Replay speed: write a 10 Hz 640x480 synthetic bag (~10 s) and replay it into a fresh store.

Prints a table and a JSON line.  Speed-up = seconds of log / seconds of wall time; the split says where
a frame's wall time goes (ms per frame: read the bag, deserialize CDR, assemble = decode + sync + TF,
Memory.update).
Runs: every frame (as fast as memory allows), and throttled to 2 frames per sensor second
(``--max-frame-rate 2``: what a robot that only needs a keyframe every half second gets).

    .venv/bin/python benchmarks/replay.py [--seconds 10] [--width 640 --height 480] [--storage mcap]
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from pathlib import Path

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
    args = ap.parse_args()
    n = int(round(args.seconds * args.rate))
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        rec = synthetic_recording(n_frames=n, width=args.width, height=args.height, rate_hz=args.rate, arc_deg=300.0)
        bag = write_bag(rec, Path(tmp) / ("bench.mcap" if args.storage == "mcap" else "bench"), storage=args.storage)
        t_write = time.perf_counter() - t0
        size = sum(p.stat().st_size for p in bag.rglob("*")) if bag.is_dir() else bag.stat().st_size
        rows = []
        for name, cfg in (("all frames", ReplayConfig()), ("max 2 frames/s", ReplayConfig(max_frame_rate=2.0))):
            store = Path(tmp) / f"store_{len(rows)}"
            with Memory.open(store, MemoryConfig.from_dict({"embedder": args.embedder})) as mem:
                mem.embedder.embed(["warm up"])
                stats = replay(bag, mem, cfg)
            rows.append(
                {
                    "run": name,
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
    print(
        json.dumps(
            {
                "benchmark": "replay",
                "frames": n,
                "width": args.width,
                "height": args.height,
                "rate_hz": args.rate,
                "storage": args.storage,
                "bag_mb": round(size / 1e6, 2),
                "runs": rows,
            }
        )
    )


if __name__ == "__main__":
    main()
