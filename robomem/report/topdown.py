"""A top-down map of what memory holds (matplotlib, Agg; no display needed).

Objects are drawn as their xy footprint (bounding box) coloured by place, with labels;
objects observed absent are dashed and marked with a cross; objects that moved get an
arrow from where they were to where they are; the camera path is a line and the kept
keyframes (3D snapshots) are arrows showing where the camera looked.

:func:`draw_topdown` works on plain data and an existing axes (the demo composes it with
other panels); :func:`topdown_figure` / :func:`save_topdown` build it from a ``Memory``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from robomem.memory import Memory
    from robomem.places import Place
    from robomem.submodules.spatial.memory import ObjectRecord

__all__ = ["Move", "TopdownData", "draw_topdown", "save_topdown", "topdown_data", "topdown_figure"]

_PALETTE = (
    "#4e79a7",
    "#f28e2b",
    "#59a14f",
    "#e15759",
    "#76b7b2",
    "#edc948",
    "#b07aa1",
    "#ff9da7",
    "#9c755f",
    "#bab0ac",
)
_NO_PLACE = "#7f7f7f"


@dataclass(frozen=True)
class Move:
    object_id: int
    before: tuple[float, float, float]
    after: tuple[float, float, float]
    new_id: int | None = None  # when association gave the object a new id at its new place


@dataclass(frozen=True)
class TopdownData:
    objects: Sequence[ObjectRecord]
    places: Sequence[Place] = ()
    trajectory: Sequence[tuple[float, float, float, float]] = ()  # (stamp, x, y, z)
    snapshots: Sequence[tuple[np.ndarray, np.ndarray]] = ()  # (position xyz, forward xyz)
    moves: Sequence[Move] = ()


def place_colours(places: Iterable[Place], objects: Iterable[ObjectRecord] = ()) -> dict[str | None, str]:
    names = [p.name for p in places]
    for o in objects:
        if o.place and o.place not in names:
            names.append(o.place)
    out: dict[str | None, str] = {n: _PALETTE[i % len(_PALETTE)] for i, n in enumerate(names)}
    out[None] = _NO_PLACE
    return out


def topdown_data(memory: Memory, moves_since: float | None = None) -> TopdownData:
    """Collect what the map shows from an open memory (moves: since ``moves_since``, default the first frame)."""
    traj = memory.trajectory()
    objs = memory.objects()
    snaps = [(s.pose.position, s.pose.forward) for s in memory.spatial.snapshots()]
    moves: list[Move] = []
    if traj:
        t1 = traj[0][0] if moves_since is None else moves_since
        t2 = max(traj[-1][0], memory.newest_stamp)
        for c in memory.temporal.changes(t1, t2):
            if c.kind == "moved" and c.before is not None and c.after is not None:
                moves.append(Move(c.object_id, c.before, c.after))
        # an object observed absent whose label reappeared elsewhere as a new object: a likely move
        seen = {m.object_id for m in moves}
        for o in objs:
            if o.status != "absent" or o.object_id in seen:
                continue
            later = [n for n in objs if n.label == o.label and n.status != "absent" and n.first_seen > o.last_seen]
            if later:
                n = min(later, key=lambda r: float(np.linalg.norm(np.subtract(r.centroid, o.centroid))))
                moves.append(Move(o.object_id, o.centroid, n.centroid, n.object_id))
    return TopdownData(objs, list(memory.places), traj, snaps, moves)


def draw_topdown(ax: Any, data: TopdownData, title: str | None = None, legend: bool = True) -> None:
    """Draw the map on a matplotlib axes (x east, y north, metres, equal aspect)."""
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch, Rectangle

    colours = place_colours(data.places, data.objects)
    xs: list[float] = []
    ys: list[float] = []
    for p in data.places:
        c = colours[p.name]
        ax.add_patch(
            Rectangle(
                p.min_xy,
                p.max_xy[0] - p.min_xy[0],
                p.max_xy[1] - p.min_xy[1],
                facecolor=c,
                alpha=0.08,
                edgecolor=c,
                linewidth=1.0,
                zorder=0,
            )
        )
        ax.text(
            p.min_xy[0] + 0.1,
            p.max_xy[1] - 0.1,
            p.name,
            fontsize=9,
            color=c,
            va="top",
            ha="left",
            fontweight="bold",
            zorder=1,
        )
        xs += [p.min_xy[0], p.max_xy[0]]
        ys += [p.min_xy[1], p.max_xy[1]]
    if len(data.trajectory):
        t = np.asarray(data.trajectory, dtype=np.float64)
        ax.plot(t[:, 1], t[:, 2], "-", color="#333333", linewidth=1.0, alpha=0.6, zorder=2)
        ax.plot(t[0, 1], t[0, 2], "o", color="#333333", markersize=4, zorder=2)
        xs += t[:, 1].tolist()
        ys += t[:, 2].tolist()
    if len(data.snapshots):
        p = np.array([s[0] for s in data.snapshots], dtype=np.float64)
        f = np.array([s[1] for s in data.snapshots], dtype=np.float64)
        n = np.linalg.norm(f[:, :2], axis=1, keepdims=True)
        f2 = np.where(n > 1e-6, f[:, :2] / np.maximum(n, 1e-6), 0.0) * 0.35
        ax.quiver(
            p[:, 0],
            p[:, 1],
            f2[:, 0],
            f2[:, 1],
            angles="xy",
            scale_units="xy",
            scale=1.0,
            color="#1f1f9f",
            width=0.004,
            zorder=3,
        )
    moved_ids = {m.object_id for m in data.moves} | {m.new_id for m in data.moves if m.new_id is not None}
    for o in data.objects:
        lo, hi = np.asarray(o.bbox_min), np.asarray(o.bbox_max)
        w, h = max(hi[0] - lo[0], 0.04), max(hi[1] - lo[1], 0.04)
        c = colours.get(o.place, _NO_PLACE)
        absent = o.status == "absent"
        ax.add_patch(
            Rectangle(
                (lo[0], lo[1]),
                w,
                h,
                facecolor="none" if absent else c,
                alpha=0.9 if absent else 0.45,
                edgecolor="#999999" if absent else c,
                linewidth=1.2,
                linestyle="--" if absent else "-",
                zorder=4,
            )
        )
        cx, cy = o.centroid[0], o.centroid[1]
        if absent:
            ax.plot(cx, cy, "x", color="#d62728", markersize=7, mew=2, zorder=6)
        else:
            ax.plot(cx, cy, ".", color=c, markersize=5, zorder=5)
        tag = " (absent)" if absent else (" (moved)" if o.object_id in moved_ids else "")
        ax.annotate(
            f"{o.label} #{o.object_id}{tag}",
            (cx, cy),
            xytext=(3, 3),
            textcoords="offset points",
            fontsize=7,
            color="#d62728" if absent else "#111111",
            zorder=7,
        )
        xs += [lo[0], lo[0] + w]
        ys += [lo[1], lo[1] + h]
    for m in data.moves:
        ax.annotate(
            "",
            xy=(m.after[0], m.after[1]),
            xytext=(m.before[0], m.before[1]),
            arrowprops={"arrowstyle": "->", "color": "#d62728", "lw": 1.5, "linestyle": "-"},
            zorder=8,
        )
    if xs:
        pad = 0.5
        ax.set_xlim(min(xs) - pad, max(xs) + pad)
        ax.set_ylim(min(ys) - pad, max(ys) + pad)
    ax.set_aspect("equal")
    ax.set_xlabel("x (m)")
    ax.set_ylabel("y (m)")
    ax.grid(True, linewidth=0.3, alpha=0.5)
    if title:
        ax.set_title(title)
    if legend:
        handles = [Patch(facecolor=colours[p.name], alpha=0.45, label=p.name) for p in data.places]
        handles += [
            Line2D([], [], color="#333333", label="camera path"),
            Line2D([], [], color="#1f1f9f", marker=">", linestyle="", label="keyframe (snapshot) view"),
            Line2D([], [], color="#d62728", marker="x", linestyle="", label="observed absent"),
            Line2D([], [], color="#d62728", marker=r"$\rightarrow$", linestyle="", label="moved"),
        ]
        ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=7, frameon=False)


def topdown_figure(memory: Memory, title: str | None = None, size: tuple[float, float] = (9.0, 7.0)) -> Any:
    """A matplotlib Figure (Agg) with the map of ``memory``."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=size)
    ax = fig.add_subplot(1, 1, 1)
    data = topdown_data(memory)
    n_abs = sum(1 for o in data.objects if o.status == "absent")
    draw_topdown(
        ax, data, title or f"robomem: {len(data.objects)} objects ({n_abs} absent), {len(data.trajectory)} frames"
    )
    fig.tight_layout()
    return fig


def save_topdown(memory: Memory, path: str | Path, dpi: int = 120, title: str | None = None) -> Path:
    """Write the top-down map PNG; returns the path."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    fig = topdown_figure(memory, title)
    FigureCanvasAgg(fig)
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=dpi)
    return out
