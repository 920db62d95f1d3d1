"""Growth under a budget: days of simulated time in a house whose objects keep moving.

A ray-cast BoxScene (robomem.testing.synthetic) with three rooms, furniture and small objects.  Every
pass (default: every 30 simulated minutes) one or two objects move to another piece of furniture;
the robot then tours the rooms (the moved objects' old rooms first, so it sees them gone), runs one
explicit task episode ("open drawer_2", which fails now and then), and memory keeps updating.
Forgetting runs every ``check_every`` updates under a small budget.

At each checkpoint the benchmark records rows per table, bytes on disk, how many raw sightings
the merged rows stand for, and whether memory answers "where is X now?" correctly for every
object (semantic ``where_is`` and spatial/temporal last-seen place, against ground truth).  It
prints a table and JSON and saves a plot.

    python benchmarks/growth.py                      # ~3 simulated days, a few minutes on 2 cores
    python benchmarks/growth.py --days 1 --out /tmp/growth.png
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from robomem import Event, Memory, MemoryConfig, Place
from robomem.retrieval.embedding import make_embedder
from robomem.testing.synthetic import Box, BoxScene, look_at

ROOMS = {"kitchen": (0.0, 4.0), "living_room": (4.0, 8.0), "bedroom": (8.0, 12.0)}
FURNITURE = [  # (instance id, label, centre, size, colour, room)
    (1, "kitchen table", (2.0, 0.0, 0.375), (1.4, 0.9, 0.75), (140, 90, 40), "kitchen"),
    (2, "sofa", (6.0, 0.2, 0.4), (1.8, 0.8, 0.8), (60, 60, 160), "living_room"),
    (3, "bed", (10.0, 0.0, 0.25), (1.8, 1.2, 0.5), (200, 200, 170), "bedroom"),
]
MOVABLE = [  # (instance id, label, colour); labels far apart in embedding space, so association keeps them apart
    (10, "red mug", (220, 30, 30)),
    (11, "blue book", (30, 60, 220)),
    (12, "green bottle", (30, 190, 60)),
    (13, "yellow toy", (235, 210, 30)),
    (14, "black phone", (20, 20, 20)),
    (15, "house keys", (250, 140, 20)),
]
# Three slots on top of each piece of furniture (nine for six objects: there is always room to move).
SLOTS = {
    "kitchen": [(1.5, 0.1, 0.85), (2.0, -0.15, 0.85), (2.5, 0.1, 0.85)],
    "living_room": [(5.4, 0.25, 0.9), (6.0, 0.1, 0.9), (6.6, 0.25, 0.9)],
    "bedroom": [(9.4, 0.1, 0.6), (10.0, -0.2, 0.6), (10.6, 0.1, 0.6)],
}
VIEWS = {
    room: [look_at((cx, -2.2, 1.9), (cx, 0.0, 0.6)), look_at((cx + 0.5, -2.0, 1.7), (cx - 0.1, 0.1, 0.6))]
    for room, cx in (("kitchen", 2.0), ("living_room", 6.0), ("bedroom", 10.0))
}

BUDGET = {
    "max_sighting_rows": 1500,
    "max_absence_rows": 200,
    "max_snapshots": 12,
    "max_episode_steps": 400,
    "max_episodes": 120,
    "max_fact_rows": 250,
    "max_frame_rows": 400,
    "keep_recent_s": 3600.0,
    "check_every": 200,
}


class House:
    def __init__(self, width: int, height: int, seed: int) -> None:
        self.rng = random.Random(seed)
        self.width, self.height = width, height
        free = [(room, i) for room in SLOTS for i in range(len(SLOTS[room]))]
        self.rng.shuffle(free)
        self.where: dict[int, tuple[str, int]] = {}
        for (iid, _, _), slot in zip(MOVABLE, free, strict=False):
            self.where[iid] = slot

    def scene(self) -> BoxScene:
        boxes = [Box(i, lab, c, s, col) for i, lab, c, s, col, _ in FURNITURE]
        for iid, label, colour in MOVABLE:
            room, k = self.where[iid]
            boxes.append(Box(iid, label, SLOTS[room][k], (0.2, 0.2, 0.2), colour))
        return BoxScene(boxes, self.width, self.height, hfov_deg=60)

    def move_some(self) -> list[str]:
        """Move one or two objects to free slots in other rooms; returns the rooms they left."""
        left = []
        for _ in range(self.rng.choice((1, 1, 2))):
            iid = self.rng.choice([m[0] for m in MOVABLE])
            room, _ = self.where[iid]
            taken = set(self.where.values())
            free = [(r, k) for r in SLOTS for k in range(len(SLOTS[r])) if r != room and (r, k) not in taken]
            if not free:
                continue
            self.where[iid] = self.rng.choice(free)
            left.append(room)
        return left

    def truth(self) -> dict[str, str]:
        return {label: self.where[iid][0] for iid, label, _ in MOVABLE}


def check_answers(mem: Memory, truth: dict[str, str]) -> dict[str, float]:
    """Share of objects whose current place memory answers correctly (semantic, spatial, temporal)."""
    ok = {"semantic": 0, "spatial": 0, "temporal": 0}
    for label, room in truth.items():
        present = [o for o in mem.objects(label) if o.status != "absent" and o.label == label]
        if not present:
            continue
        obj = max(present, key=lambda o: (o.last_seen, o.object_id))
        f = mem.semantic.where_is(obj.object_id)
        ok["semantic"] += int(f is not None and f.object == f"place:{room}")
        ok["spatial"] += int(obj.place == room)
        s = mem.temporal.last_seen(obj.object_id)
        ok["temporal"] += int(s is not None and s.place == room)
    return {k: v / len(truth) for k, v in ok.items()}


def run(args: argparse.Namespace) -> dict[str, Any]:
    house = House(args.width, args.height, args.seed)
    rng = random.Random(args.seed + 1)
    store = Path(args.store) if args.store else Path(tempfile.mkdtemp(prefix="robomem-growth-")) / "store"
    budget = {} if args.no_budget else dict(BUDGET)
    cfg = MemoryConfig.from_dict({"budget": budget, "semantic": {"consolidate_every": 100}})
    embedder = make_embedder(args.embedder)
    n_passes = int(args.days * 86400 / args.pass_every)
    checkpoints = max(1, n_passes // args.points)
    rows_log: list[dict[str, Any]] = []
    t = 0.0
    frames = 0
    t0 = time.perf_counter()
    try:
        from tqdm import tqdm

        bar = tqdm(total=n_passes, desc="passes", unit="pass", file=sys.stderr, disable=args.quiet)
    except ImportError:  # pragma: no cover
        bar = None
    with Memory.open(store, config=cfg, embedder=embedder) as mem:
        mem.set_places([Place(r, (x0, -3.0), (x1, 3.0)) for r, (x0, x1) in ROOMS.items()])
        for p in range(n_passes):
            left = house.move_some() if p > 0 else []
            scene = house.scene()
            order = list(dict.fromkeys(left + list(ROOMS)))  # the old rooms first: the robot sees things gone
            for room in order:
                for view in VIEWS[room]:
                    mem.update(scene.observe(view, t))
                    frames += 1
                    t += 5.0
            # One explicit task per pass; the drawer sticks now and then.
            mem.begin_episode(f"check drawer_2 on pass {p % 10}", stamp=t)
            mem.add_event(Event(t + 1, "action", "open drawer_2"))
            ok = rng.random() < 0.6
            mem.add_event(Event(t + 2, "outcome", "opened" if ok else "failed: drawer stuck"))
            mem.end_episode("success" if ok else "failed", stamp=t + 3)
            t = (p + 1) * args.pass_every
            if bar is not None:
                bar.update(1)
            if (p + 1) % checkpoints == 0 or p == n_passes - 1:
                st = mem.stats()
                conn = mem.store.read()
                represented = int(conn.execute("SELECT COALESCE(SUM(n), 0) FROM sightings").fetchone()[0])
                acc = check_answers(mem, house.truth())
                rows_log.append(
                    {
                        "day": round(t / 86400, 3),
                        "frames": frames,
                        "rows": st["rows"],
                        "total_rows": sum(st["rows"].values()),
                        "bytes": st["bytes"],
                        "sightings_represented": represented,
                        "accuracy": acc,
                        "seconds": round(time.perf_counter() - t0, 1),
                    }
                )
        if bar is not None:
            bar.close()
        final_report = mem.enforce_budget() if not args.no_budget else {}
        truth = house.truth()
        final_acc = check_answers(mem, truth)
        answers = {}
        for label in truth:
            present = [o for o in mem.objects(label) if o.status != "absent" and o.label == label]
            obj = max(present, key=lambda o: (o.last_seen, o.object_id)) if present else None
            f = mem.semantic.where_is(obj.object_id) if obj else None
            answers[label] = {"truth": truth[label], "memory": f.object.split(":", 1)[1] if f else None}
        final_stats = mem.stats()
    elapsed = time.perf_counter() - t0
    return {
        "config": {
            "days": args.days,
            "pass_every_s": args.pass_every,
            "resolution": [args.width, args.height],
            "budget": budget,
            "embedder": embedder.name,
            "seed": args.seed,
        },
        "frames": frames,
        "passes": n_passes,
        "seconds": round(elapsed, 1),
        "ms_per_frame": round(1000 * elapsed / max(1, frames), 1),
        "log": rows_log,
        "final": {
            "rows": final_stats["rows"],
            "bytes": final_stats["bytes"],
            "accuracy": final_acc,
            "answers": answers,
        },
        "last_forgetting": {k: v for k, v in final_report.items() if not k.startswith("rows_")},
        "store": str(store),
    }


def print_table(res: dict[str, Any]) -> None:
    tables = ["sightings", "absences", "snapshots", "episodes", "steps", "facts", "fact_evidence", "frames"]
    head = (
        f"{'day':>6} {'frames':>7} "
        + " ".join(f"{t[:9]:>9}" for t in tables)
        + f" {'total':>7} {'MB':>6} {'sight.n':>8} {'acc':>5}"
    )
    print(head)
    print("-" * len(head))
    for r in res["log"]:
        print(
            f"{r['day']:>6.2f} {r['frames']:>7} "
            + " ".join(f"{r['rows'].get(t, 0):>9}" for t in tables)
            + f" {r['total_rows']:>7} {r['bytes'] / 1e6:>6.2f} {r['sightings_represented']:>8}"
            + f" {r['accuracy']['semantic']:>5.2f}"
        )


def plot(res: dict[str, Any], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    log = res["log"]
    days = [r["day"] for r in log]
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
    ax = axes[0]
    for table in ("sightings", "absences", "steps", "facts", "fact_evidence", "frames", "episodes", "snapshots"):
        ax.plot(days, [r["rows"].get(table, 0) for r in log], label=table)
    ax.plot(days, [r["sightings_represented"] for r in log], "k--", label="sightings represented (sum n)")
    ax.set_xlabel("simulated days")
    ax.set_ylabel("rows")
    ax.set_title("rows per table")
    ax.legend(fontsize=7)
    ax = axes[1]
    ax.plot(days, [r["bytes"] / 1e6 for r in log], "b-")
    ax.set_xlabel("simulated days")
    ax.set_ylabel("MB on disk (db + WAL + blobs)")
    ax.set_title("store size")
    ax = axes[2]
    for k, style in (("semantic", "g-"), ("spatial", "b--"), ("temporal", "r:")):
        ax.plot(days, [r["accuracy"][k] for r in log], style, label=k)
    ax.set_ylim(-0.05, 1.05)
    ax.set_xlabel("simulated days")
    ax.set_ylabel("share of objects placed right")
    ax.set_title("current location vs ground truth")
    ax.legend(fontsize=8)
    fig.suptitle(
        f"robomem growth: {res['frames']} frames, {res['config']['days']} days, budget "
        + ("off" if not res["config"]["budget"] else "on")
    )
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--days", type=float, default=3.0, help="simulated days (default 3)")
    ap.add_argument("--pass-every", type=float, default=1800.0, help="seconds between passes (default 1800)")
    ap.add_argument("--width", type=int, default=160)
    ap.add_argument("--height", type=int, default=120)
    ap.add_argument("--points", type=int, default=24, help="checkpoints in the table and plot")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--embedder", default="auto", choices=("auto", "minilm", "hash"))
    ap.add_argument("--no-budget", action="store_true", help="run without forgetting, for comparison")
    ap.add_argument("--store", default=None, help="store directory (default: a temporary one)")
    ap.add_argument("--out", default="benchmarks/results/growth.png", help="where to save the plot")
    ap.add_argument("--json", default=None, help="also write the JSON result here")
    ap.add_argument("--quiet", action="store_true")
    args = ap.parse_args(argv)
    if args.days <= 0 or args.pass_every <= 0:
        ap.error("--days and --pass-every must be positive")
    res = run(args)
    print_table(res)
    out = Path(args.out)
    plot(res, out)
    text = json.dumps(res, indent=2)
    print(text)
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(text)
    print(f"plot saved to {out}", file=sys.stderr)
    final = res["final"]["accuracy"]
    return 0 if min(final.values()) >= 0.99 else 1


if __name__ == "__main__":
    sys.exit(main())
