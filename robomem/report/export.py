"""``robomem export STORE``: get the memory out as ordinary files.

Writes into ``--out`` (default ``<store>/export``):

- ``scene_graph.json`` - objects, places and relations (``memory.spatial.scene_graph()``)
- ``objects/<id>_<label>.ply`` - each object's voxelised point cloud (binary PLY, coloured
  with the object's colour signature; ``--ascii`` for text PLY)
- ``snapshots/<id>.png`` + ``snapshots.json`` - the kept keyframes with pose and objects shown
- ``topdown.png`` - the top-down map (:mod:`robomem.report.topdown`)
- ``manifest.json`` - what was written
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

import numpy as np

from robomem.cli.terminal import safe
from robomem.errors import StoreError

__all__ = ["export", "write_ply", "read_ply"]


def write_ply(path: str | Path, points: np.ndarray, colours: np.ndarray | None = None, binary: bool = True) -> Path:
    """Write an (N, 3) point cloud (optional (N, 3) uint8 colours) as a PLY file."""
    pts = np.asarray(points, dtype=np.float32).reshape(-1, 3)
    cols = None if colours is None else np.asarray(colours, dtype=np.uint8).reshape(-1, 3)
    if cols is not None and len(cols) != len(pts):
        raise ValueError(f"write_ply: {len(pts)} points but {len(cols)} colours")
    header = [
        "ply",
        f"format {'binary_little_endian' if binary else 'ascii'} 1.0",
        "comment robomem object",
        f"element vertex {len(pts)}",
        "property float x",
        "property float y",
        "property float z",
    ]
    if cols is not None:
        header += ["property uchar red", "property uchar green", "property uchar blue"]
    header.append("end_header")
    out = Path(path)
    with open(out, "wb") as f:
        f.write(("\n".join(header) + "\n").encode("ascii"))
        if binary:
            fields = [("x", "<f4"), ("y", "<f4"), ("z", "<f4")]
            if cols is not None:
                fields += [("red", "u1"), ("green", "u1"), ("blue", "u1")]
            rec = np.empty(len(pts), dtype=fields)
            rec["x"], rec["y"], rec["z"] = pts[:, 0], pts[:, 1], pts[:, 2]
            if cols is not None:
                rec["red"], rec["green"], rec["blue"] = cols[:, 0], cols[:, 1], cols[:, 2]
            f.write(rec.tobytes())
        else:
            for i, p in enumerate(pts):
                line = f"{p[0]:.5f} {p[1]:.5f} {p[2]:.5f}"
                if cols is not None:
                    line += f" {cols[i, 0]} {cols[i, 1]} {cols[i, 2]}"
                f.write((line + "\n").encode("ascii"))
    return out


def read_ply(path: str | Path) -> np.ndarray:
    """Read the xyz of a PLY written by :func:`write_ply` (for tests and tools)."""
    data = Path(path).read_bytes()
    end = data.index(b"end_header\n") + len(b"end_header\n")
    header = data[:end].decode("ascii").splitlines()
    n = int(next(h.split()[2] for h in header if h.startswith("element vertex")))
    coloured = any("red" in h for h in header)
    if "format ascii 1.0" in header:
        rows = (
            np.loadtxt(data[end:].decode("ascii").splitlines(), ndmin=2) if n else np.zeros((0, 6 if coloured else 3))
        )
        return rows[:, :3].astype(np.float32)
    dt = [("x", "<f4"), ("y", "<f4"), ("z", "<f4")] + ([("r", "u1"), ("g", "u1"), ("b", "u1")] if coloured else [])
    rec = np.frombuffer(data[end:], dtype=dt, count=n)
    return np.stack([rec["x"], rec["y"], rec["z"]], axis=1)


def _slug(s: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", s).strip("_")[:40] or "object"


def export(
    memory: Any,
    out: str | Path,
    clouds: bool = True,
    snapshots: bool = True,
    topdown: bool = True,
    binary_ply: bool = True,
) -> dict[str, Any]:
    """Export an open memory into directory ``out``; returns the manifest."""
    from PIL import Image

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    manifest: dict[str, Any] = {"store": str(memory.path), "files": []}
    sg = memory.spatial.scene_graph()
    (out / "scene_graph.json").write_text(sg.to_json())
    manifest["files"].append("scene_graph.json")
    manifest["objects"] = len(sg.objects)
    manifest["relations"] = len(sg.relations)
    if clouds:
        d = out / "objects"
        d.mkdir(exist_ok=True)
        for o in memory.objects():
            pts = memory.spatial.points(o.object_id)
            col = None
            if o.colour is not None:
                c = np.clip(np.asarray(o.colour) * 255.0, 0, 255).astype(np.uint8)
                col = np.repeat(c[None, :], len(pts), axis=0)
            name = f"objects/{o.object_id}_{_slug(o.label)}.ply"
            write_ply(out / name, pts, col, binary=binary_ply)
            manifest["files"].append(name)
    if snapshots:
        d = out / "snapshots"
        d.mkdir(exist_ok=True)
        rows = []
        damaged: list[str] = []
        for s in memory.spatial.snapshots():
            try:
                img = memory.spatial.snapshot_image(s)
            except (StoreError, OSError, ValueError) as exc:  # a damaged keyframe: skip that file, say so
                damaged.append(f"snapshot {s.snapshot_id}: {exc}")
                img = None
            name = None
            if img is not None:
                name = f"snapshots/{s.snapshot_id}.png"
                Image.fromarray(img).save(out / name)
                manifest["files"].append(name)
            rows.append(
                {
                    "id": s.snapshot_id,
                    "stamp": s.stamp,
                    "image": name,
                    "place": s.place,
                    "pose": [[round(float(v), 6) for v in r] for r in s.pose.matrix],
                    "objects": {str(k): int(v) for k, v in sorted(s.objects.items())},
                }
            )
        (out / "snapshots.json").write_text(json.dumps(rows, indent=1))
        manifest["files"].append("snapshots.json")
        manifest["snapshots"] = len(rows)
        manifest["skipped"] = damaged
    if topdown:
        from robomem.report.topdown import save_topdown

        save_topdown(memory, out / "topdown.png")
        manifest["files"].append("topdown.png")
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1))
    return manifest


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("store", help="memory store directory")
    parser.add_argument(
        "--format",
        choices=("files", "dsg"),
        default="files",
        help="files: the directory below; dsg: one spark_dsg (Hydra) scene graph file (robomem.report.dsg)",
    )
    parser.add_argument(
        "--out",
        help="output directory (default: <store>/export); with --format dsg the file "
        "(default: <store>/export/scene_graph.dsg.json; .json is JSON, any other suffix spark_dsg's binary)",
    )
    parser.add_argument("--no-clouds", action="store_true", help="skip per-object PLY point clouds")
    parser.add_argument("--no-snapshots", action="store_true", help="skip keyframe PNGs")
    parser.add_argument("--no-topdown", action="store_true", help="skip the top-down map PNG")
    parser.add_argument("--ascii", action="store_true", help="write ASCII PLY instead of binary")
    parser.add_argument("--json", action="store_true", help="print the manifest as JSON")


def run(args: argparse.Namespace) -> int:
    from robomem.cli.query import open_store

    try:
        mem = open_store(args.store)
    except Exception as exc:
        print(f"robomem export: {exc}", file=sys.stderr)
        return 2
    if args.format == "dsg":
        return _run_dsg(mem, args)
    out = Path(args.out) if args.out else Path(args.store) / "export"
    try:
        manifest = export(
            mem,
            out,
            clouds=not args.no_clouds,
            snapshots=not args.no_snapshots,
            topdown=not args.no_topdown,
            binary_ply=not args.ascii,
        )
    except OSError as exc:
        print(f"robomem export: cannot write to {out}: {exc}", file=sys.stderr)
        return 1
    finally:
        mem.close()
    skipped = manifest.get("skipped", [])
    for why in skipped:
        print(f"robomem export: skipped {safe(why)}", file=sys.stderr)
    if args.json:
        print(json.dumps(manifest, indent=2))
    else:
        print(
            f"exported {manifest['objects']} objects, {manifest.get('snapshots', 0)} snapshots, "
            f"{manifest['relations']} relations to {out} ({len(manifest['files'])} files)"
            + (f"; {len(skipped)} damaged keyframes skipped" if skipped else "")
        )
    return 0


def _run_dsg(mem: Any, args: argparse.Namespace) -> int:
    from robomem.report.dsg import save_dsg

    out = Path(args.out) if args.out else Path(args.store) / "export" / "scene_graph.dsg.json"
    try:
        path = save_dsg(mem, out)
        n_objects, n_places = len(mem.objects()), len(mem.places)
    except ImportError as exc:
        print(f"robomem export: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"robomem export: cannot write {out}: {exc}", file=sys.stderr)
        return 1
    finally:
        mem.close()
    summary = {"format": "dsg", "file": str(path), "objects": n_objects, "rooms": n_places}
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        print(f"exported {n_objects} objects and {n_places} rooms as a spark_dsg scene graph to {path}")
    return 0
