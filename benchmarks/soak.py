"""Soak: many simulated hours at 10 Hz through the full pipeline, looking for drift and growth.

A robot patrols two rooms of ray-cast boxes (robomem.testing.synthetic) at 10 Hz and
160x120; every 10 simulated minutes objects move, and every 30 one is taken
away and a new one appears.  Every frame goes through ``Memory.update``
(forgetting runs inside it every ``budget.check_every`` updates, as
configured); every 5 simulated seconds a query is retrieved; every simulated
minute an instruction/action/outcome is added as events.

Measured over time (per simulated minute): update latency, retrieval latency,
process RSS (psutil) and store size on disk.  Drift is the ratio of the
median in the last 10% of the run to the first 10%.  The soak uses a budget
tighter than the defaults (``SOAK_BUDGET``) so forgetting must act within a
two-hour run; ``--config`` takes a robomem YAML instead.

Frames of a patrol loop are rendered once per scene layout (rendering is not
memory's cost) and re-stamped, so the frame cache is a constant part of RSS.

    .venv/bin/python benchmarks/soak.py [--hours 2] [--width 160 --height 120]
        [--out benchmarks/results/soak.png] [--json-out benchmarks/results/soak.json] [--store DIR]
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import sys
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import print_table, summary_ms, write_json  # noqa: E402

from robomem import Event, Memory, MemoryConfig, Observation, Place, Query  # noqa: E402
from robomem.config import BudgetConfig  # noqa: E402
from robomem.retrieval.embedding import make_embedder  # noqa: E402
from robomem.testing.synthetic import Box, BoxScene, look_at  # noqa: E402

RATE_HZ = 10.0
PATROL_FRAMES = 120  # poses in one patrol loop (12 s at 10 Hz), rendered once per layout
CHANGE_EVERY_S = 600.0  # objects move
SWAP_EVERY_S = 1800.0  # one object leaves, a new one appears
RETRIEVE_EVERY_S = 5.0
EVENT_EVERY_S = 60.0
SAMPLE_EVERY_S = 60.0

# Tighter than the defaults so that a two-hour run reaches every limit that matters.
SOAK_BUDGET = BudgetConfig(
    max_sighting_rows=20_000,
    max_absence_rows=5_000,
    max_snapshots=100,
    max_episode_steps=5_000,
    max_episodes=500,
    max_fact_rows=5_000,
    max_frame_rows=10_000,
    max_store_bytes=200_000_000,
    check_every=500,
)

PLACES = [Place("kitchen", (-5.0, -4.0), (0.0, 4.0)), Place("living room", (0.0, -4.0), (5.0, 4.0))]
FURNITURE = [
    Box(1, "dining table", (-2.5, 1.5, 0.375), (1.2, 0.8, 0.75), (140, 90, 40)),
    Box(2, "kitchen counter", (-3.8, -2.0, 0.45), (1.6, 0.6, 0.9), (180, 180, 170)),
    Box(3, "sofa", (2.5, 2.3, 0.4), (2.0, 0.9, 0.8), (60, 60, 160)),
    Box(4, "coffee table", (2.5, 0.5, 0.2), (1.0, 0.6, 0.4), (120, 80, 50)),
    Box(5, "shelf", (4.0, -2.5, 0.6), (0.4, 1.0, 1.2), (160, 160, 160)),
]
SMALL = [
    "red mug",
    "blue mug",
    "book",
    "bowl",
    "water bottle",
    "plant",
    "laptop",
    "remote",
    "apple",
    "vase",
    "keys",
    "glasses",
    "phone",
    "tea box",
    "candle",
    "toy car",
]
QUERIES = [
    "where is the red mug?",
    "laptop",
    "what is on the dining table",
    "keys",
    "something to drink from",
    "where did I leave my phone",
    "plant in the living room",
]


@dataclass
class World:
    rng: np.random.Generator
    small: list[Box]
    next_id: int
    next_label: int

    def surface_spot(self) -> tuple[float, float, float]:
        """A random spot on top of a piece of furniture, or on the floor."""
        if self.rng.random() < 0.75:
            f = FURNITURE[int(self.rng.integers(len(FURNITURE)))]
            x = f.center[0] + self.rng.uniform(-0.35, 0.35) * f.size[0]
            y = f.center[1] + self.rng.uniform(-0.35, 0.35) * f.size[1]
            return float(x), float(y), float(f.center[2] + f.size[2] / 2)
        return float(self.rng.uniform(-4.0, 4.5)), float(self.rng.uniform(-3.0, 3.0)), 0.0

    def new_box(self) -> Box:
        x, y, z = self.surface_spot()
        s = float(self.rng.uniform(0.12, 0.25))
        label = SMALL[self.next_label % len(SMALL)]
        self.next_label += 1
        colour = tuple(int(c) for c in self.rng.integers(30, 230, 3))
        b = Box(self.next_id, label, (x, y, z + s / 2), (s, s, s), colour)  # type: ignore[arg-type]
        self.next_id += 1
        return b

    def move_some(self, n: int) -> None:
        for i in self.rng.choice(len(self.small), size=min(n, len(self.small)), replace=False):
            b = self.small[int(i)]
            x, y, z = self.surface_spot()
            self.small[int(i)] = replace(b, center=(x, y, z + b.size[2] / 2))

    def swap_one(self) -> None:
        self.small.pop(int(self.rng.integers(len(self.small))))
        self.small.append(self.new_box())

    def scene(self, width: int, height: int) -> BoxScene:
        return BoxScene(FURNITURE + self.small, width, height, hfov_deg=80)


def patrol_pose(i: int) -> Any:
    """A loop through both rooms, looking ahead and slightly outwards."""
    a = 2 * math.pi * i / PATROL_FRAMES
    eye = (2.6 * math.cos(a), 1.4 * math.sin(a), 1.3)
    target = (4.5 * math.cos(a + 0.7), 3.0 * math.sin(a + 0.7), 0.4)
    return look_at(eye, target)


def render_loop(world: World, width: int, height: int) -> list[Observation]:
    scene = world.scene(width, height)
    return [scene.observe(patrol_pose(i), 0.0) for i in range(PATROL_FRAMES)]


class Latencies:
    """(sim time, latency) pairs in two preallocated, pre-touched float64 arrays."""

    def __init__(self, capacity: int) -> None:
        self.t = np.full(capacity, np.nan)
        self.dt = np.full(capacity, np.nan)
        self.n = 0

    def __len__(self) -> int:
        return self.n

    def add(self, t: float, dt: float) -> None:
        self.t[self.n] = t
        self.dt[self.n] = dt
        self.n += 1

    def values(self) -> list[float]:
        return self.dt[: self.n].tolist()

    def times(self) -> np.ndarray:
        return self.t[: self.n]

    def since(self, lo: float) -> np.ndarray:
        """Latencies after sim time ``lo`` (the arrays are in time order)."""
        i = int(np.searchsorted(self.t[: self.n], lo, side="right"))
        return self.dt[i : self.n]

    def window_median_ms(self, lo: float, hi: float) -> float:
        t = self.t[: self.n]
        v = self.dt[: self.n][(t >= lo) & (t < hi)]
        return float(np.median(v)) * 1e3 if v.size else float("nan")


def malloc_trim() -> None:
    import ctypes

    ctypes.CDLL("libc.so.6").malloc_trim(0)


def sqlite_memory_mb() -> float | None:
    """Heap that SQLite holds now (page caches of every connection, statements, schema):
    ``sqlite3_memory_used()`` of the libsqlite3 the sqlite3 module is linked against."""
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("sqlite3")
    if name is None:
        return None
    lib = ctypes.CDLL(name)
    lib.sqlite3_memory_used.restype = ctypes.c_int64
    return lib.sqlite3_memory_used() / 2**20


def rss_split_mb() -> dict[str, float]:
    """Resident memory split into anonymous (heap, arrays) and file-backed (libraries, mapped files)
    pages, from /proc/self/smaps_rollup where the kernel has it (Linux)."""
    try:
        text = Path("/proc/self/smaps_rollup").read_text()
    except OSError:
        return {}
    kb = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0].endswith(":") and parts[1].isdigit():
            kb[parts[0][:-1]] = int(parts[1])
    anon = kb.get("Anonymous", 0)
    return {"rss_anon_mb": anon / 1024, "rss_file_mb": (kb.get("Rss", 0) - anon) / 1024}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--hours", type=float, default=2.0, help="simulated hours at 10 Hz")
    ap.add_argument("--width", type=int, default=160)
    ap.add_argument("--height", type=int, default=120)
    ap.add_argument("--config", help="robomem YAML (memory: section); default: SOAK_BUDGET, defaults otherwise")
    ap.add_argument("--embedder", default="auto", choices=["auto", "minilm", "hash"])
    ap.add_argument("--store", help="store directory (default: a temporary one, removed afterwards)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default="benchmarks/results/soak.png")
    ap.add_argument("--json-out", default="benchmarks/results/soak.json")
    ap.add_argument(
        "--trim",
        action="store_true",
        help="diagnostic: before each sample, return free heap pages to the OS (glibc malloc_trim) and also "
        "record RSS after it, to tell memory still in use from memory the allocator kept",
    )
    ap.add_argument(
        "--swap-every",
        type=float,
        default=SWAP_EVERY_S,
        help="simulated seconds between one object leaving and a new one appearing (0 = a fixed set of objects, "
        "moves only: what memory must hold then stops growing)",
    )
    ap.add_argument(
        "--tracemalloc",
        type=float,
        default=None,
        metavar="HOURS",
        help="diagnostic: trace Python and numpy allocations from this simulated hour on and print what grew "
        "most by source line at the end (slows the run)",
    )
    args = ap.parse_args(argv)

    config = MemoryConfig.from_yaml(args.config) if args.config else MemoryConfig(budget=SOAK_BUDGET)
    n_frames = int(round(args.hours * 3600 * RATE_HZ))
    proc = psutil.Process()
    tmp = None if args.store else tempfile.TemporaryDirectory()
    store_dir = Path(args.store) if args.store else Path(tmp.name) / "store"  # type: ignore[union-attr]
    world = World(np.random.default_rng(args.seed), [], next_id=len(FURNITURE) + 1, next_label=0)
    world.small = [world.new_box() for _ in range(10)]

    # Latencies go into arrays sized and touched up front, so that the benchmark's own bookkeeping is a
    # constant part of RSS (lists of float tuples grew ~4 MB per simulated hour and were counted as
    # memory's growth in the first 2-hour run).
    upd = Latencies(n_frames)  # (sim time s, latency s)
    budget_runs = Latencies(n_frames // max(1, config.budget.check_every) + 1)  # updates that ran forgetting
    ret = Latencies(int(n_frames / (RETRIEVE_EVERY_S * RATE_HZ)) + 1)
    samples: list[dict[str, Any]] = []
    t_render = 0.0
    wall0 = time.perf_counter()
    print(
        f"soak: {args.hours:g} simulated hours = {n_frames} frames at {RATE_HZ:g} Hz, "
        f"{args.width}x{args.height}, store {store_dir}",
        flush=True,
    )
    with Memory.open(store_dir, config=config, embedder=make_embedder(args.embedder)) as mem:
        mem.set_places(PLACES)
        mem.retrieve(Query(text=QUERIES[0]))  # warm the embedder (model load) outside the timings
        r0 = time.perf_counter()
        frames = render_loop(world, args.width, args.height)
        t_render += time.perf_counter() - r0
        check_every = config.budget.check_every
        next_sample = 0.0
        q_i = 0
        trace_from = None
        for i in range(n_frames):
            t = i / RATE_HZ
            if i and i % int(CHANGE_EVERY_S * RATE_HZ) == 0:
                world.move_some(3)
                if args.swap_every > 0 and i % int(args.swap_every * RATE_HZ) == 0:
                    world.swap_one()
                r0 = time.perf_counter()
                frames = []  # let the old loop go first: two loops at once were RSS spikes of the benchmark's own
                frames = render_loop(world, args.width, args.height)
                t_render += time.perf_counter() - r0
            o = frames[i % PATROL_FRAMES]
            obs = Observation(t, o.pose, o.intrinsics, o.depth, o.rgb, o.instance_ids, o.instances, source="soak")
            t0 = time.perf_counter()
            mem.update(obs)
            dt = time.perf_counter() - t0
            (budget_runs if (i + 1) % check_every == 0 else upd).add(t, dt)
            if i % int(EVENT_EVERY_S * RATE_HZ) == 0:
                label = world.small[(i // 600) % len(world.small)].label
                mem.add_event(Event(t + 0.01, "instruction", f"bring me the {label}"))
                mem.add_event(Event(t + 0.02, "action", f"pick up the {label}"))
                mem.add_event(Event(t + 0.03, "outcome", "success" if (i // 600) % 3 else "failed: it slipped"))
            if i % int(RETRIEVE_EVERY_S * RATE_HZ) == 0:
                pos = tuple(float(v) for v in o.pose.position)
                q = Query(text=QUERIES[q_i % len(QUERIES)], position=pos, k=10)  # type: ignore[arg-type]
                q_i += 1
                t0 = time.perf_counter()
                mem.retrieve(q)
                ret.add(t, time.perf_counter() - t0)
            if args.tracemalloc is not None and trace_from is None and t >= args.tracemalloc * 3600:
                import tracemalloc

                tracemalloc.start(1)
                trace_from = tracemalloc.take_snapshot()
            if t >= next_sample or i == n_frames - 1:
                next_sample += SAMPLE_EVERY_S
                st = mem.stats()
                rss_before_trim = proc.memory_info().rss / 2**20
                if args.trim:
                    malloc_trim()
                win = upd.since(t - SAMPLE_EVERY_S)
                rwin = ret.since(t - SAMPLE_EVERY_S)
                samples.append(
                    {
                        "sim_s": t,
                        "wall_s": time.perf_counter() - wall0,
                        "update_median_ms": float(np.median(win)) * 1e3 if win.size else None,
                        "update_p99_ms": float(np.percentile(win, 99)) * 1e3 if win.size else None,
                        "retrieve_median_ms": float(np.median(rwin)) * 1e3 if rwin.size else None,
                        "rss_mb": rss_before_trim,
                        "rss_after_trim_mb": proc.memory_info().rss / 2**20 if args.trim else None,
                        **rss_split_mb(),
                        "python_blocks": sys.getallocatedblocks(),
                        "sqlite_mb": sqlite_memory_mb(),
                        "store_mb": st["bytes"] / 2**20,
                        "objects": st["objects"],
                        "rows": st["rows"],
                    }
                )
                if len(samples) % 10 == 1 or i == n_frames - 1:
                    s = samples[-1]
                    h, m = divmod(int(t) // 60, 60)
                    print(
                        f"  sim {h}:{m:02d}  wall {s['wall_s']:6.0f}s  frame {i + 1}/{n_frames}  "
                        f"update {s['update_median_ms'] or 0:.1f} ms (p99 {s['update_p99_ms'] or 0:.1f})  "
                        f"retrieve {s['retrieve_median_ms'] or 0:.1f} ms  RSS {s['rss_mb']:.0f} MB  "
                        f"store {s['store_mb']:.1f} MB  objects {s['objects']}",
                        flush=True,
                    )
        final_stats = mem.stats()
        if trace_from is not None:
            import tracemalloc

            grown = tracemalloc.take_snapshot().compare_to(trace_from, "lineno")
            print(f"\nallocations grown since {args.tracemalloc:g} h (tracemalloc, top 15 by size):")
            for st in grown[:15]:
                print(f"  {st.size_diff / 2**20:+8.3f} MB  {st.count_diff:+7d} blocks  {st.traceback}")
            tracemalloc.stop()
        budget_now = mem.enforce_budget()
    wall = time.perf_counter() - wall0
    if tmp is not None:
        tmp.cleanup()

    span = n_frames / RATE_HZ
    first, last = (0.0, 0.1 * span), (0.9 * span, span + 1)
    rss = [s["rss_mb"] for s in samples]
    store = [s["store_mb"] for s in samples]
    n10 = max(1, len(samples) // 10)
    result: dict[str, Any] = {
        "benchmark": "soak",
        "simulated_hours": args.hours,
        "frames": n_frames,
        "rate_hz": RATE_HZ,
        "resolution": f"{args.width}x{args.height}",
        "embedder": args.embedder,
        "wall_s": round(wall, 1),
        "render_s": round(t_render, 1),
        "update": summary_ms(upd.values()),
        "update_with_budget_check": summary_ms(budget_runs.values()) if len(budget_runs) else None,
        "retrieve": summary_ms(ret.values()),
        "drift": {
            "update_median_first10_ms": upd.window_median_ms(*first),
            "update_median_last10_ms": upd.window_median_ms(*last),
            "retrieve_median_first10_ms": ret.window_median_ms(*first),
            "retrieve_median_last10_ms": ret.window_median_ms(*last),
        },
        "rss_mb": {"first10_max": max(rss[:n10]), "last10_max": max(rss[-n10:]), "max": max(rss)},
        "store_mb": {
            "first10_max": max(store[:n10]),
            "last10_max": max(store[-n10:]),
            "max": max(store),
            "final": store[-1],
            "budget_max_store_mb": config.budget.max_store_bytes / 2**20,
        },
        "final_rows": final_stats["rows"],
        "final_objects": final_stats["objects"],
        "budget": {f.name: getattr(config.budget, f.name) for f in dataclasses.fields(config.budget)},
        "last_enforce_budget": {k: v for k, v in (budget_now or {}).items() if isinstance(v, (int, float, str, dict))},
        "samples": samples,
    }
    d = result["drift"]
    d["update_ratio"] = d["update_median_last10_ms"] / d["update_median_first10_ms"]
    d["retrieve_ratio"] = d["retrieve_median_last10_ms"] / d["retrieve_median_first10_ms"]

    print_table(
        f"Soak: {args.hours:g} simulated h, {n_frames} frames in {wall:.0f} s wall ({n_frames / wall:.0f} frames/s)",
        ["metric", "first 10%", "last 10%", "ratio / max"],
        [
            ["update median ms", d["update_median_first10_ms"], d["update_median_last10_ms"], d["update_ratio"]],
            [
                "retrieve median ms",
                d["retrieve_median_first10_ms"],
                d["retrieve_median_last10_ms"],
                d["retrieve_ratio"],
            ],
            ["RSS MB (max)", result["rss_mb"]["first10_max"], result["rss_mb"]["last10_max"], result["rss_mb"]["max"]],
            [
                "store MB (max)",
                result["store_mb"]["first10_max"],
                result["store_mb"]["last10_max"],
                result["store_mb"]["max"],
            ],
        ],
    )
    u, r = result["update"], result["retrieve"]
    print(
        f"  update: median {u['median_ms']:.2f} ms, p99 {u['p99_ms']:.2f} ms over {u['n']}; "
        f"retrieve: median {r['median_ms']:.2f} ms, p99 {r['p99_ms']:.2f} ms over {r['n']}"
    )
    if len(budget_runs):
        b = result["update_with_budget_check"]
        print(
            f"  updates that ran forgetting (every {config.budget.check_every}): median {b['median_ms']:.1f} ms, "
            f"p99 {b['p99_ms']:.1f} ms over {b['n']}"
        )
    print(f"  final rows: {final_stats['rows']}")

    plot(samples, upd, ret, budget_runs, result, args.out)
    slim = {k: v for k, v in result.items() if k != "samples"}
    slim["samples"] = samples
    write_json(slim, args.json_out)
    return result


def plot(
    samples: list[dict[str, Any]],
    upd: Latencies,
    ret: Latencies,
    budget_runs: Latencies,
    result: dict[str, Any],
    out: str,
) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    hours = np.array([s["sim_s"] for s in samples]) / 3600
    fig, ax = plt.subplots(3, 2, figsize=(12, 10), sharex=True)
    a = ax[0, 0]
    a.plot(hours, [s["update_median_ms"] for s in samples], label="median per minute")
    a.plot(hours, [s["update_p99_ms"] for s in samples], label="p99 per minute", alpha=0.6)
    if len(budget_runs):
        a.scatter(
            budget_runs.times() / 3600,
            np.asarray(budget_runs.values()) * 1e3,
            s=6,
            c="red",
            label="update that ran forgetting",
        )
    a.set_yscale("log")
    a.set_ylabel("update latency (ms)")
    a.legend(fontsize=8)
    a = ax[0, 1]
    a.plot(hours, [s["retrieve_median_ms"] for s in samples], label="median per minute")
    a.set_yscale("log")  # the first minute includes model warm-up
    a.set_ylabel("retrieve latency (ms)")
    a.legend(fontsize=8)
    a = ax[1, 0]
    a.plot(hours, [s["rss_mb"] for s in samples], label="RSS")
    if samples[-1].get("rss_after_trim_mb") is not None:
        a.plot(hours, [s["rss_after_trim_mb"] for s in samples], label="RSS after malloc_trim")
    if "rss_anon_mb" in samples[-1]:
        a.plot(hours, [s["rss_anon_mb"] for s in samples], "--", label="anonymous (heap, arrays)")
        a.plot(hours, [s["rss_file_mb"] for s in samples], ":", label="file-backed (libraries, mapped files)")
    a.set_ylabel("process memory (MB)")
    a.legend(fontsize=8)
    a = ax[1, 1]
    a.plot(hours, np.array([s["python_blocks"] for s in samples]) / 1e3)
    a.set_ylabel("Python objects allocated (thousands of blocks)")
    if samples[-1].get("sqlite_mb") is not None:
        a2 = a.twinx()
        a2.plot(hours, [s["sqlite_mb"] for s in samples], color="purple", alpha=0.7)
        a2.set_ylabel("SQLite heap (MB, purple)")
    a = ax[2, 0]
    a.plot(hours, [s["store_mb"] for s in samples], label="store size")
    a.set_ylim(0, max(s["store_mb"] for s in samples) * 1.3)
    a.set_ylabel("store on disk (MB)")
    a.set_xlabel("simulated hours")
    a.legend(fontsize=8)
    a = ax[2, 1]
    for key in sorted(samples[-1]["rows"]):
        a.plot(hours, [max(1, s["rows"].get(key, 0)) for s in samples], label=key)
    a.set_yscale("log")
    a.set_ylabel("rows per table")
    a.set_xlabel("simulated hours")
    a.legend(fontsize=6, ncol=3)
    d = result["drift"]
    fig.suptitle(
        f"robomem soak: {result['simulated_hours']:g} h at {result['rate_hz']:g} Hz, {result['resolution']} — "
        f"update drift x{d['update_ratio']:.2f}, retrieve drift x{d['retrieve_ratio']:.2f}"
    )
    fig.tight_layout()
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    print(f"\nplot: {out}")


if __name__ == "__main__":
    main()
