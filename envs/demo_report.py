"""The demo's report: the top-down picture, the results table, ``summary.md`` and why memory lost a task."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from robomem.memory import Memory

from .demo_tasks import Outcome
from .household.sim import Change, HouseholdSim
from .navigation import MIN_PIXELS

__all__ = ["START", "draw_report_png", "format_table", "losses", "summary_markdown"]

START = (1.0, 4.0, 0.0)  # the agent wakes in the hallway, facing east


def losses(rows: list[dict[str, Any]]) -> list[str]:
    """Fetches memory solved in more steps than exploration (or not at all): each with its decision log and why."""
    out = []
    for k, r in enumerate(rows, 1):
        m, n = r["memory"], r["no_memory"]
        if r["kind"] != "fetch" or (m["success"] and (not n["success"] or m["steps"] <= n["steps"])):
            continue
        # ``tried`` is the search's candidates in the order of the "go:" lines of its decision log (the policy keeps
        # both from the same list), so the explanation names the places the log shows, in its order
        tried = m["search"]["tried"] if m["search"] else []
        log = m["search"]["log"] if m["search"] else []
        why = []
        stale = [place for kind, place in tried if kind == "object" and place != r["truth"]]
        if stale:
            why.append(f"memory's remembered place ({', '.join(dict.fromkeys(stale))}) no longer held the {r['label']}")
        looked = [place for kind, place in tried if kind != "object" and place != r["truth"]]
        if looked:
            why.append(
                "memory had no evidence of where it went; it then went to "
                + " -> ".join(dict.fromkeys(looked))
                + f" before the {r['truth']}"
            )
        if n["success"] and n["search"] and n["search"]["tried"]:
            first = n["search"]["tried"][0][1]
            why.append(f"exploration's nearest room ({first}) {'held it' if first == r['truth'] else 'was on the way'}")
        if not m["success"]:
            why.append(f"memory did not find it within the step limit ({m['detail']})")
        out.append(
            f"T{k} {r['task']}: memory {m['steps']} steps vs exploration {n['steps']}; why: "
            + ("; ".join(why) or "-")
            + ". Decisions: "
            + " -> ".join(log)
        )
    return out


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
    lines += ["", "## Where memory lost", ""]
    lines += [f"- {line}" for line in res.get("losses", [])] or [
        "- nowhere: memory solved every fetch in no more steps than exploration"
    ]
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
