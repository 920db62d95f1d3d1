"""``robomem demo``: the household story, end to end, on the embedded store.

Day 1 the agent tours the house (MuJoCo household simulator, real rendered RGB-D and instance
frames) and every frame goes through the adapter into ``Memory.update``.  Overnight the simulator
moves objects (seeded; ground truth recorded).  Day 2 the agent gets tasks derived from that ground
truth - fetch an object that moved, fetch one that did not, and yes/no questions ("is the blue book
still in the study?") - and solves each twice from the same start pose: with memory (the core
planner's search: remembered place and view pose, then places memory has evidence for, then the
least recently seen rooms, nearest first by path length on the navigable map; every frame keeps
updating memory and every search is recorded as an episode) and without (the same runner touring
the rooms in the same path-length order).  Answers are
checked against the simulator's ground truth; a fetch memory solves in more steps than exploration
is printed with its decision log and why (:func:`robomem.envs.demo_report.losses`).

Writes a report folder: ``topdown.png`` (memory's map: objects coloured by room, moved/absent
marked, the day-1 tour path and keyframe poses, the day-2 paths with and without memory, the
ground-truth overnight moves), ``scene_graph.json``, ``results.json`` and ``summary.md``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("MUJOCO_GL", "egl")

import numpy as np  # noqa: E402

from robomem.cli.args import COUNT, PIXELS, SEED
from robomem.memory import Memory  # noqa: E402
from robomem.places import Place  # noqa: E402
from robomem.planning.planner import Planner  # noqa: E402

from .demo_report import START, draw_report_png, format_table, losses, summary_markdown  # noqa: E402
from .demo_tasks import Outcome, Task, choose_tasks, solve_with_memory, solve_without_memory, truth_of  # noqa: E402
from .household.adapter import to_observation  # noqa: E402
from .household.sim import DAY, MORNING, Change, HouseholdSim  # noqa: E402
from .household.tour import VIEWPOINTS, scripted_tour  # noqa: E402
from .navigation import MIN_PIXELS, PathDistance, visible_instances  # noqa: E402

__all__ = ["Task", "add_arguments", "choose_tasks", "run", "run_demo"]

PITCH = math.radians(-15.0)  # the camera looks a little down, as on the tour


def _say(msg: str) -> None:
    print(msg, flush=True)


def _open_store(store: Path, keep: bool) -> Memory:
    if store.exists() and not keep:
        if not (store / "memory.db").exists() and any(store.iterdir()):
            raise ValueError(f"--store {store} exists and is not a robomem store; refusing to delete it")
        shutil.rmtree(store)
    return Memory.open(store)


def _tour(
    sim: HouseholdSim, mem: Memory, quick: bool, say: Any, feed: Any = None
) -> tuple[dict[int, int], int, list[Any]]:
    """Day 1: every room; returns (instance id -> frames it was visible in, frames, trajectory).  ``feed``
    (household.realism.RealismFeed) puts the perception-noise model between the simulator and memory."""
    object_ids = set(sim.object_ids.values())
    seen: dict[int, int] = {}
    n_frames = 0
    t_tour = time.perf_counter()
    traj: list[tuple[float, float, float, float]] = []
    rooms = list(VIEWPOINTS)
    for i, room in enumerate(rooms, 1):
        frames = scripted_tour(sim, rooms=[room], capture_walk=not quick)
        for f in frames:
            for iid in visible_instances(f, MIN_PIXELS):
                if iid in object_ids:
                    seen[iid] = seen.get(iid, 0) + 1
            if feed is None:
                mem.update(to_observation(f))
            else:
                feed.update(mem, f)
            traj.append((f.stamp, f.agent.x, f.agent.y, 1.2))
        n_frames += len(frames)
        say(
            f"      {i}/{len(rooms)} {room:<12} {len(frames):>3} frames -> memory: {len(mem.objects())} objects "
            f"({time.perf_counter() - t_tour:.0f} s)"
        )
    return seen, n_frames, traj


def describe_change(c: Change) -> str:
    if c.kind == "move":
        return f"{c.label}: moved from the {c.from_room} ({c.from_support}) to the {c.to_room} ({c.to_support})"
    if c.kind == "remove":
        return f"{c.label}: removed from the {c.from_room}"
    if c.kind == "add":
        return f"{c.label}: appeared in the {c.to_room} ({c.to_support})"
    return f"{c.subject}: {'opened' if c.kind == 'door_open' else 'closed'}"


def _day2(
    sim: HouseholdSim, mem: Memory, tasks: list[Task], max_steps: int, say: Any
) -> tuple[list[dict[str, Any]], list[tuple[Outcome, Outcome]]]:
    """Every task with memory, then without, from the same start pose; scored against ground truth."""
    distance = PathDistance(sim)  # both agents tour rooms by path length on the navigable map
    planner = Planner(mem, viewpoints=VIEWPOINTS, distance=distance)
    morning = sim.time
    rows: list[dict[str, Any]] = []
    outcomes: list[tuple[Outcome, Outcome]] = []
    for k, task in enumerate(tasks, 1):
        truth = truth_of(sim, task)
        t0 = time.perf_counter()
        sim.teleport(*START, pitch=PITCH)
        with_m = solve_with_memory(sim, mem, planner, task, max_steps, morning)
        sim.teleport(*START, pitch=PITCH)
        without_m = solve_without_memory(sim, task, max_steps, distance)
        for o in (with_m, without_m):
            if task.kind == "question":
                o.correct = o.answer == truth
                o.success = o.correct
            elif o.success:
                o.correct = o.answer == f"found in the {truth}"
        rows.append(
            {
                "task": task.text,
                "kind": task.kind,
                "label": task.label,
                "room": task.room,
                "why": task.why,
                "truth": truth,
                "memory": with_m.to_dict(),
                "no_memory": without_m.to_dict(),
            }
        )
        outcomes.append((with_m, without_m))
        say(
            f"      T{k} {task.text!r}: memory {with_m.steps} steps -> {with_m.answer}; "
            f"no memory {without_m.steps} steps -> {without_m.answer}; truth: {truth} "
            f"({time.perf_counter() - t0:.0f} s)"
        )
    return rows, outcomes


def _totals(rows: list[dict[str, Any]], mode: str) -> dict[str, int]:
    qs = [r[mode] for r in rows if r["kind"] == "question"]
    return {
        "success": sum(r[mode]["success"] for r in rows),
        "steps": sum(r[mode]["steps"] for r in rows),
        "answers": len(qs),
        "right": sum(bool(q["correct"]) for q in qs),
    }


def run_demo(
    store: str | Path = "robomem_store",
    report: str | Path = "robomem_report",
    seed: int = 0,
    keep: bool = False,
    quick: bool = False,
    max_steps: int = 200,
    width: int = 320,
    height: int = 240,
    say: Any = _say,
    realism: str = "clean",
) -> dict[str, Any]:
    t_begin = time.perf_counter()
    store, report = Path(store), Path(report)
    mem = _open_store(store, keep)
    report.mkdir(parents=True, exist_ok=True)
    say(
        f"[1/5] house: MuJoCo household simulator, seed {seed}, {width}x{height} frames; store {store}"
        + (" (kept)" if keep else " (fresh)")
    )
    sim = HouseholdSim(width=width, height=height, seed=seed)
    try:
        mem.set_places([Place(n, lo, hi) for n, lo, hi in sim.places()])
        if mem.newest_stamp >= sim.time:  # --keep: memory is built in time order, so the house wakes up later
            sim.day = int((mem.newest_stamp - MORNING) // DAY) + 1
            sim.time = sim.day * DAY + MORNING
            say(f"      kept store ends at t={mem.newest_stamp:.0f}s: this run starts on day {sim.day}")
        say("[2/5] day 1: touring the house and building memory")
        from .household.realism import RealismFeed

        feed = RealismFeed(realism, seed)
        if realism != "clean":
            say(f"      perception: realism {realism} (envs/household/noise.py) between the simulator and memory")
        seen, n_frames, traj = _tour(sim, mem, quick, say, feed)
        day1_end = sim.time
        changes = sim.next_day()
        say(f"[3/5] night: the simulator made {len(changes)} changes (ground truth)")
        changes_text = [describe_change(c) for c in changes]
        for txt in changes_text:
            say(f"      {txt}")
        tasks = choose_tasks(sim, changes, seen, np.random.default_rng(seed), quick)
        if not tasks:
            raise RuntimeError("no task could be derived from the night's changes; try another --seed")
        say(f"[4/5] day 2: {len(tasks)} tasks, each with memory and then without (max {max_steps} steps each)")
        rows, outcomes = _day2(sim, mem, tasks, max_steps, say)
        say(f"[5/5] report: {report}")
        table = format_table(rows)
        png = report / "topdown.png"
        draw_report_png(png, sim, mem, traj, changes, rows, outcomes, day1_end)
        (report / "scene_graph.json").write_text(mem.spatial.scene_graph().to_json())
        lost = losses(rows)
        res: dict[str, Any] = {
            "seed": seed,
            "width": width,
            "height": height,
            "store": str(store),
            "quick": quick,
            "realism": realism,
            "perception": feed.false_objects(mem),
            "max_steps": max_steps,
            "tour": {"rooms": list(VIEWPOINTS), "frames": n_frames, "end": day1_end},
            "memory": {"objects": len(mem.objects()), "stats": mem.stats()},
            "changes": [c.__dict__ for c in changes],
            "changes_text": changes_text,
            "tasks": [t.__dict__ for t in tasks],
            "rows": rows,
            "losses": lost,
            "totals": {"n": len(rows), "memory": _totals(rows, "memory"), "no_memory": _totals(rows, "no_memory")},
            "files": {
                "topdown": str(png),
                "scene_graph": str(report / "scene_graph.json"),
                "summary": str(report / "summary.md"),
                "results": str(report / "results.json"),
            },
        }
        res["seconds"] = round(time.perf_counter() - t_begin, 1)
        (report / "results.json").write_text(json.dumps(res, indent=2, default=str))
        (report / "summary.md").write_text(summary_markdown(res, table))
        say("")
        say(table)
        for line in lost:
            say(f"memory lost {line}")
        t = res["totals"]
        say(
            f"\nwith memory: {t['memory']['success']}/{t['n']} solved in {t['memory']['steps']} steps; "
            f"without: {t['no_memory']['success']}/{t['n']} in {t['no_memory']['steps']} steps "
            f"({res['seconds']:.0f} s). Report: {report}/summary.md, {png}"
        )
        return res
    finally:
        mem.close()
        sim.close()


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--store", default="robomem_store", help="memory store directory (default ./robomem_store)")
    parser.add_argument("--keep", action="store_true", help="keep the existing store instead of starting fresh")
    parser.add_argument("--report", default="robomem_report", help="report folder (default ./robomem_report)")
    parser.add_argument("--seed", type=SEED, default=0, help="simulator seed (layout and overnight changes)")
    parser.add_argument("--quick", action="store_true", help="a shorter run: no frames while walking, 3 tasks")
    parser.add_argument(
        "--max-steps",
        type=COUNT,
        default=400,
        help="actions per task and agent (a full exploration of the house takes about 180; a search that first checks a stale remembered place needs more)",
    )
    parser.add_argument("--width", type=PIXELS, default=320)
    parser.add_argument("--height", type=PIXELS, default=240)
    parser.add_argument(
        "--realism",
        choices=("clean", "robot", "hard"),
        default="clean",
        help="perception noise on the day-1 tour that builds memory (envs/household/noise.py; default clean)",
    )


def run(args: argparse.Namespace) -> int:
    try:
        run_demo(
            args.store,
            args.report,
            args.seed,
            args.keep,
            args.quick,
            args.max_steps,
            args.width,
            args.height,
            realism=getattr(args, "realism", "clean"),
        )
    except (ValueError, RuntimeError) as exc:
        print(f"robomem demo: {exc}", file=sys.stderr)
        return 1
    return 0
