"""``robomem demo``: the household story, end to end, on the embedded store.

Day 1 the agent tours the house (MuJoCo household simulator, real rendered RGB-D and instance
frames) and every frame goes through the adapter into ``Memory.update``.  Overnight the simulator
moves objects (seeded; ground truth recorded).  Day 2 the agent gets tasks derived from that ground
truth - fetch an object that moved, fetch one that did not, and yes/no questions ("is the blue book
still in the study?") - and solves each twice from the same start pose: with memory (the planner's
proposals drive :class:`~robomem.planning.policy.ObjectSearchPolicy`: remembered place, look around, next
candidate, then explore; every frame keeps updating memory) and without (the same policy with
exploration only: rooms nearest first).  Answers are checked against the simulator's ground truth.

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
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

os.environ.setdefault("MUJOCO_GL", "egl")

import numpy as np  # noqa: E402

from robomem.memory import Memory  # noqa: E402
from robomem.places import Place  # noqa: E402
from robomem.planning.context import Goal  # noqa: E402

from .evaluation import MemoryQA  # noqa: E402
from .household.adapter import to_observation  # noqa: E402
from .household.layout import OBJECTS  # noqa: E402
from .household.sim import DAY, MORNING, Change, HouseholdSim  # noqa: E402
from .household.tour import VIEWPOINTS, scripted_tour  # noqa: E402
from .navigation import (  # noqa: E402
    MIN_PIXELS,
    SearchResult,
    SimNavigator,
    explore_context,
    explore_proposals,
    memory_context,
    run_search,
    visible_instances,
)

__all__ = ["Task", "add_arguments", "choose_tasks", "run", "run_demo"]

START = (1.0, 4.0, 0.0)  # the agent wakes in the hallway, facing east
PITCH = math.radians(-15.0)  # the camera looks a little down, as on the tour


@dataclass(frozen=True)
class Task:
    kind: str  # "fetch" | "question"
    text: str
    label: str
    room: str | None = None  # for questions: the room asked about
    why: str = ""  # how the task was derived from ground truth


@dataclass
class Outcome:
    mode: str  # "memory" | "no_memory"
    steps: int
    success: bool
    answer: str
    correct: bool | None
    detail: str = ""
    search: SearchResult | None = None
    path: list[tuple[float, float]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "steps": self.steps,
            "success": self.success,
            "answer": self.answer,
            "correct": self.correct,
            "detail": self.detail,
            "search": self.search.to_dict() if self.search else None,
        }


def _say(msg: str) -> None:
    print(msg, flush=True)


# -- tasks from ground truth -------------------------------------------------------------------
def choose_tasks(
    sim: HouseholdSim, changes: list[Change], seen: dict[int, int], rng: np.random.Generator, quick: bool = False
) -> list[Task]:
    """Tasks that exercise the night's changes: fetch a moved object, fetch an unmoved one, ask whether the
    moved one is still in its old room (truth: no) and whether another unmoved one is in its room (truth: yes).
    Only objects the agent saw on day 1 (``seen``: instance id -> frames it was visible in) with a label no
    other object shares are used, so "the X" is unambiguous."""
    states = sim.object_states()
    label_count: dict[str, int] = {}
    for o in OBJECTS:
        label_count[o.label] = label_count.get(o.label, 0) + 1
    floor = {o.label for o in OBJECTS if o.floor}

    def ok(iid: int) -> bool:
        s = states[iid]
        return s.present and label_count[s.label] == 1 and seen.get(iid, 0) >= 2 and s.label not in floor

    moved = [c for c in changes if c.kind == "move" and ok(c.instance_id)]
    moved.sort(key=lambda c: (-seen.get(c.instance_id, 0), c.label))
    touched = {c.instance_id for c in changes}
    unmoved = sorted((i for i in states if i not in touched and ok(i)), key=lambda i: states[i].label)
    tasks: list[Task] = []
    m = moved[0] if moved else None
    if m is not None:
        tasks.append(
            Task(
                "fetch",
                f"bring me the {m.label}",
                m.label,
                why=f"moved overnight from the {m.from_room} ({m.from_support}) to the {m.to_room}",
            )
        )
    picks = [unmoved[int(i)] for i in rng.permutation(len(unmoved))[:2]] if unmoved else []
    if picks:
        s = states[picks[0]]
        tasks.append(Task("fetch", f"bring me the {s.label}", s.label, why=f"not moved: still in the {s.room}"))
    if m is not None:
        tasks.append(
            Task(
                "question",
                f"is the {m.label} still in the {m.from_room}?",
                m.label,
                m.from_room,
                why=f"moved overnight to the {m.to_room}: the true answer is no",
            )
        )
    if len(picks) > 1 and not quick:
        s = states[picks[1]]
        tasks.append(
            Task(
                "question",
                f"is the {s.label} still in the {s.room}?",
                s.label,
                s.room,
                why="not moved: the true answer is yes",
            )
        )
    return tasks


def truth_of(sim: HouseholdSim, task: Task) -> str:
    """Ground truth now: the room(s) of the target for a fetch, yes/no for a question."""
    rooms = sorted({s.room for s in sim.object_states().values() if s.label == task.label and s.present and s.room})
    if task.kind == "question":
        return "yes" if task.room in rooms else "no"
    return " / ".join(rooms) or "nowhere"


# -- solving ------------------------------------------------------------------------------------
def solve_with_memory(
    sim: HouseholdSim, mem: Memory, planner: Any, task: Task, max_steps: int, since: float
) -> Outcome:
    nav = SimNavigator(sim, memory=mem)
    goal = Goal(text=task.text, label=task.label)
    qa = MemoryQA(mem)
    if task.kind == "fetch":
        found = run_search(nav, goal, lambda: memory_context(planner, goal, nav), max_steps, refresh_every=0)
        answer = f"found in the {found.room}" if found.success else "not found"
        return Outcome("memory", found.steps, found.success, answer, None, found.reason, found, found.path)
    # a question: answer from memory at once if memory has news of the object from today; else go and look
    objs = qa.match(task.label)
    fresh = any(
        o.last_seen >= since or ((a := mem.temporal.last_absence(o.object_id)) is not None and a.stamp >= since)
        for o in objs
    )
    res: SearchResult | None = None
    if not fresh and objs:

        def remembered_only() -> Any:
            ctx = memory_context(planner, goal, nav)
            return replace(ctx, proposals=tuple(p for p in ctx.proposals if p.kind == "object"))

        res = run_search(nav, goal, remembered_only, max_steps)
    w = qa.where_now(task.label)
    if w is None:
        answer, detail = "don't know", "never seen"
    elif w["place"] == task.room:
        answer, detail = "yes", w["text"]
    else:
        answer, detail = "no", w["text"] if w["place"] else f"observed absent where last seen ({w['text']})"
    how = "from memory, no need to look" if res is None else f"after checking the remembered place ({res.status})"
    steps = 0 if res is None else res.steps
    return Outcome("memory", steps, True, answer, None, f"{detail}; {how}", res, [] if res is None else res.path)


def solve_without_memory(sim: HouseholdSim, task: Task, max_steps: int) -> Outcome:
    nav = SimNavigator(sim)
    goal = Goal(text=task.text, label=task.label)
    if task.kind == "fetch":
        res = run_search(nav, goal, lambda: explore_context(goal, nav), max_steps)
        answer = f"found in the {res.room}" if res.success else "not found"
        return Outcome("no_memory", res.steps, res.success, answer, None, res.reason, res, res.path)
    # a question names the room: go there and look around
    assert task.room is not None
    st = nav.state()
    props = tuple(explore_proposals(sim, (st.position[0], st.position[1]), task.label, rooms=[task.room]))

    def ctx() -> Any:
        return replace(explore_context(goal, nav), proposals=props)

    res = run_search(nav, goal, ctx, max_steps)
    seen_there = res.success and res.room == task.room
    answer = "yes" if seen_there else "no"
    detail = f"looked around the {task.room}: " + ("saw it" if seen_there else "did not see it")
    return Outcome("no_memory", res.steps, True, answer, None, detail, res, res.path)


# -- the report ------------------------------------------------------------------------------
def draw_report_png(
    path: Path,
    sim: HouseholdSim,
    mem: Memory,
    tour_traj: list[tuple[float, float, float, float]],
    changes: list[Change],
    rows: list[dict[str, Any]],
    outcomes: list[tuple[Outcome, Outcome]],
    day1_end: float,
) -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D

    from robomem.report.topdown import TopdownData, draw_topdown, topdown_data

    data = topdown_data(mem)
    data = TopdownData(data.objects, data.places, tour_traj, data.snapshots, data.moves)
    fig = Figure(figsize=(13.0, 8.0))
    ax = fig.add_subplot(1, 1, 1)
    # the simulator's own top view as a faint background
    W, H = 640, 512
    bg = sim.render_topdown(W, H)
    u0, v0 = sim.topdown_pixel(0.0, 0.0, W, H)
    u1, v1 = sim.topdown_pixel(10.0, 8.0, W, H)
    sx, sy = (u1 - u0) / 10.0, (v0 - v1) / 8.0
    extent = (-u0 / sx - 0.5 / sx, (W - u0) / sx - 0.5 / sx, (v0 - H) / sy + 0.5 / sy, v0 / sy + 0.5 / sy)
    ax.imshow(bg, extent=extent, alpha=0.35, zorder=-1, interpolation="bilinear")
    n_abs = sum(1 for o in data.objects if o.status == "absent")
    draw_topdown(
        ax,
        data,
        title=f"robomem demo (seed {sim.seed}): memory after day 2 - {len(data.objects)} objects "
        f"({n_abs} observed absent); day-1 tour and day-2 searches",
        legend=False,
    )
    # ground-truth overnight moves
    for c in changes:
        if c.kind == "move" and c.from_position and c.to_position:
            ax.annotate(
                "",
                xy=c.to_position[:2],
                xytext=c.from_position[:2],
                arrowprops={"arrowstyle": "-|>", "color": "#9467bd", "lw": 1.2, "linestyle": (0, (3, 2))},
                zorder=8,
            )
            ax.plot(*c.to_position[:2], marker="*", color="#9467bd", markersize=11, zorder=9)
    # day-2 paths
    styles = {"memory": ("#2ca02c", "-"), "no_memory": ("#ff7f0e", "--")}
    for k, (with_m, without_m) in enumerate(outcomes):
        for o in (with_m, without_m):
            if len(o.path) < 2:
                continue
            colour, ls = styles[o.mode]
            p = np.asarray(o.path)
            off = 0.04 * (k - 1.5)  # keep overlapping paths apart
            ax.plot(p[:, 0] + off, p[:, 1] + off, ls, color=colour, linewidth=1.6, alpha=0.85, zorder=3)
            ax.plot(p[-1, 0] + off, p[-1, 1] + off, "o" if o.success else "X", color=colour, markersize=6, zorder=9)
            ax.annotate(
                f"T{k + 1}",
                (p[-1, 0] + off, p[-1, 1] + off),
                xytext=(4, -9),
                textcoords="offset points",
                fontsize=7,
                color=colour,
                fontweight="bold",
                zorder=9,
            )
    ax.plot(START[0], START[1], "s", color="black", markersize=7, zorder=9)
    ax.set_xlim(-0.4, 10.4)
    ax.set_ylim(-0.4, 8.4)
    handles = [
        Line2D([], [], color="#333333", label="day-1 tour path"),
        Line2D([], [], color="#1f1f9f", marker=">", linestyle="", label="keyframe (snapshot) pose"),
        Line2D([], [], color="#2ca02c", label="day 2, with memory"),
        Line2D([], [], color="#ff7f0e", linestyle="--", label="day 2, without memory"),
        Line2D([], [], color="#9467bd", linestyle=(0, (3, 2)), marker="*", label="moved overnight (ground truth)"),
        Line2D([], [], color="#d62728", marker="x", linestyle="", label="observed absent (memory)"),
        Line2D([], [], color="#d62728", marker=r"$\rightarrow$", linestyle="", label="moved (memory)"),
        Line2D([], [], color="black", marker="s", linestyle="", label="day-2 start"),
    ]
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False)
    lines = [f"T{k + 1}: {r['task']}" for k, r in enumerate(rows)]
    ax.text(1.01, 0.0, "\n".join(lines), transform=ax.transAxes, fontsize=8, va="bottom", ha="left")
    fig.tight_layout()
    FigureCanvasAgg(fig)
    fig.savefig(path, dpi=100)


def format_table(rows: list[dict[str, Any]]) -> str:
    w = 46
    head = f"{'task':<42}| {'with memory':<{w}}| {'without memory':<{w}}| truth"
    out = [head, "-" * (len(head) + 8)]
    for r in rows:
        cells = []
        for mode in ("memory", "no_memory"):
            o = r[mode]
            mark = "" if o["correct"] is None else (" (right)" if o["correct"] else " (WRONG)")
            ok = "ok" if o["success"] else "FAIL"
            cells.append(f"{o['steps']:>4} steps {ok:<4} {o['answer']}{mark}"[: w - 1])
        out.append(f"{r['task'][:41]:<42}| {cells[0]:<{w}}| {cells[1]:<{w}}| {r['truth']}")
    return "\n".join(out)


def summary_markdown(res: dict[str, Any], table: str) -> str:
    lines = [
        "# robomem demo",
        "",
        f"Seed {res['seed']}, {res['width']}x{res['height']} frames, store `{res['store']}`, "
        f"{res['seconds']:.0f} s in all.",
        "",
        f"- Day 1: toured {len(res['tour']['rooms'])} rooms, {res['tour']['frames']} frames into memory; "
        f"memory holds {res['memory']['objects']} objects.",
        "- Overnight (ground truth):",
    ]
    lines += [f"  - {c}" for c in res["changes_text"]]
    lines += ["- Day 2 tasks (derived from the ground-truth changes):"]
    lines += [f"  - {t['text']} ({t['why']})" for t in res["tasks"]]
    t = res["totals"]
    lines += [
        "",
        "## Results",
        "",
        "```",
        table,
        "```",
        "",
        f"With memory: {t['memory']['success']}/{t['n']} tasks solved, {t['memory']['steps']} steps in all, "
        f"{t['memory']['right']}/{t['memory']['answers']} answers right.  "
        f"Without memory: {t['no_memory']['success']}/{t['n']} solved, {t['no_memory']['steps']} steps, "
        f"{t['no_memory']['right']}/{t['no_memory']['answers']} answers right.",
        "",
        "Success: a fetch is solved when the target is in view (instance image, at least "
        f"{MIN_PIXELS} pixels) within reach; a question when its answer matches the simulator's ground truth.",
        "",
        "## How each task went",
        "",
    ]
    for k, r in enumerate(res["rows"], 1):
        lines.append(f"- T{k} {r['task']} (truth: {r['truth']})")
        for mode, name in (("memory", "with memory"), ("no_memory", "without memory")):
            o = r[mode]
            log = " -> ".join(o["search"]["log"]) if o["search"] else "no search"
            lines.append(f"  - {name}: {o['answer']}; {o['detail']}. Decisions: {log}")
    lines += [
        "",
        "## Files",
        "",
        "- `topdown.png`: memory's map after day 2 (objects coloured by room; absent crossed; moves arrowed), the "
        "day-1 tour path, keyframe poses, day-2 paths with (green) and without (orange dashed) memory, ground-truth "
        "overnight moves (purple).",
        "- `scene_graph.json`: `memory.spatial.scene_graph().to_json()`.",
        "- `results.json`: everything above, with each search's decision log.",
        "",
    ]
    return "\n".join(lines)


# -- the story -----------------------------------------------------------------------------------
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
) -> dict[str, Any]:
    from robomem.planning.planner import Planner

    t_begin = time.perf_counter()
    store, report = Path(store), Path(report)
    if store.exists() and not keep:
        if not (store / "memory.db").exists() and any(store.iterdir()):
            raise ValueError(f"--store {store} exists and is not a robomem store; refusing to delete it")
        shutil.rmtree(store)
    report.mkdir(parents=True, exist_ok=True)
    say(
        f"[1/5] house: MuJoCo household simulator, seed {seed}, {width}x{height} frames; store {store}"
        + (" (kept)" if keep else " (fresh)")
    )
    sim = HouseholdSim(width=width, height=height, seed=seed)
    mem = Memory.open(store)
    try:
        mem.set_places([Place(n, lo, hi) for n, lo, hi in sim.places()])
        if mem.newest_stamp >= sim.time:  # --keep: memory is built in time order, so the house wakes up later
            sim.day = int((mem.newest_stamp - MORNING) // DAY) + 1
            sim.time = sim.day * DAY + MORNING
            say(f"      kept store ends at t={mem.newest_stamp:.0f}s: this run starts on day {sim.day}")
        # ---- day 1: the tour
        say("[2/5] day 1: touring the house and building memory")
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
                mem.update(to_observation(f))
                traj.append((f.stamp, f.agent.x, f.agent.y, 1.2))
            n_frames += len(frames)
            say(
                f"      {i}/{len(rooms)} {room:<12} {len(frames):>3} frames -> memory: {len(mem.objects())} objects "
                f"({time.perf_counter() - t_tour:.0f} s)"
            )
        day1_end = sim.time
        # ---- night
        changes = sim.next_day()
        say(f"[3/5] night: the simulator made {len(changes)} changes (ground truth)")
        changes_text = []
        for c in changes:
            if c.kind == "move":
                txt = f"{c.label}: moved from the {c.from_room} ({c.from_support}) to the {c.to_room} ({c.to_support})"
            elif c.kind == "remove":
                txt = f"{c.label}: removed from the {c.from_room}"
            elif c.kind == "add":
                txt = f"{c.label}: appeared in the {c.to_room} ({c.to_support})"
            else:
                txt = f"{c.subject}: {'opened' if c.kind == 'door_open' else 'closed'}"
            changes_text.append(txt)
            say(f"      {txt}")
        tasks = choose_tasks(sim, changes, seen, np.random.default_rng(seed), quick)
        if not tasks:
            raise RuntimeError("no task could be derived from the night's changes; try another --seed")
        # ---- day 2
        say(f"[4/5] day 2: {len(tasks)} tasks, each with memory and then without (max {max_steps} steps each)")
        planner = Planner(mem)
        morning = sim.time
        rows: list[dict[str, Any]] = []
        outcomes: list[tuple[Outcome, Outcome]] = []
        for k, task in enumerate(tasks, 1):
            truth = truth_of(sim, task)
            t0 = time.perf_counter()
            sim.teleport(*START, pitch=PITCH)
            with_m = solve_with_memory(sim, mem, planner, task, max_steps, morning)
            sim.teleport(*START, pitch=PITCH)
            without_m = solve_without_memory(sim, task, max_steps)
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
        # ---- report
        say(f"[5/5] report: {report}")
        table = format_table(rows)
        png = report / "topdown.png"
        draw_report_png(png, sim, mem, traj, changes, rows, outcomes, day1_end)
        (report / "scene_graph.json").write_text(mem.spatial.scene_graph().to_json())

        def totals(mode: str) -> dict[str, int]:
            qs = [r[mode] for r in rows if r["kind"] == "question"]
            return {
                "success": sum(r[mode]["success"] for r in rows),
                "steps": sum(r[mode]["steps"] for r in rows),
                "answers": len(qs),
                "right": sum(bool(q["correct"]) for q in qs),
            }

        res: dict[str, Any] = {
            "seed": seed,
            "width": width,
            "height": height,
            "store": str(store),
            "quick": quick,
            "max_steps": max_steps,
            "tour": {"rooms": rooms, "frames": n_frames, "end": day1_end},
            "memory": {"objects": len(mem.objects()), "stats": mem.stats()},
            "changes": [c.__dict__ for c in changes],
            "changes_text": changes_text,
            "tasks": [t.__dict__ for t in tasks],
            "rows": rows,
            "totals": {"n": len(rows), "memory": totals("memory"), "no_memory": totals("no_memory")},
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
    parser.add_argument("--seed", type=int, default=0, help="simulator seed (layout and overnight changes)")
    parser.add_argument("--quick", action="store_true", help="a shorter run: no frames while walking, 3 tasks")
    parser.add_argument(
        "--max-steps",
        type=int,
        default=400,
        help="actions per task and agent (a full exploration of the house takes about 180; a search that first checks a stale remembered place needs more)",
    )
    parser.add_argument("--width", type=int, default=320)
    parser.add_argument("--height", type=int, default=240)


def run(args: argparse.Namespace) -> int:
    try:
        run_demo(args.store, args.report, args.seed, args.keep, args.quick, args.max_steps, args.width, args.height)
    except (ValueError, RuntimeError) as exc:
        print(f"robomem demo: {exc}", file=sys.stderr)
        return 1
    return 0
