"""``robomem import STORE FILE``: seed a store from a scene graph another mapper built.

Today one format: a spark_dsg (Hydra / Khronos) DynamicSceneGraph file, read by
:func:`robomem.report.dsg.import_dsg`. Objects keep their first/last-seen stamps; rooms
become places. The store is opened for writing (it takes the writer lock).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("store", help="memory store directory (created if missing)")
    parser.add_argument("file", help="scene graph file (spark_dsg .json or binary)")
    parser.add_argument("--format", choices=("dsg",), default="dsg", help="file format (default: dsg)")
    parser.add_argument("--robot", default="dsg", help="robot id of the frames the import writes (default: dsg)")
    parser.add_argument("--config", help="memory config YAML for a new store")
    parser.add_argument("--json", action="store_true", help="print what was imported as JSON")


def run(args: argparse.Namespace) -> int:
    from robomem import Memory, MemoryConfig
    from robomem.report.dsg import import_dsg, load_dsg

    try:
        graph = load_dsg(args.file)
    except (FileNotFoundError, ValueError, ImportError) as exc:
        print(f"robomem import: {exc}", file=sys.stderr)
        return 2
    try:
        config = MemoryConfig.from_yaml(args.config) if args.config else None
        mem = Memory.open(args.store, config)
    except Exception as exc:  # noqa: BLE001 - a locked, damaged or unwritable store: one line, exit 2
        print(f"robomem import: {exc}", file=sys.stderr)
        return 2
    try:
        result = import_dsg(mem, graph, robot_id=args.robot, source=f"dsg:{Path(args.file).name}")
    except ValueError as exc:
        print(f"robomem import: {exc}", file=sys.stderr)
        return 1
    finally:
        mem.close()
    if args.json:
        print(json.dumps(result.to_dict(), indent=2))
    else:
        print(
            f"imported {len(result.objects)} objects and {len(result.places_added)} new rooms from {args.file} "
            f"into {args.store} ({result.frames} frames)"
        )
        for why in result.skipped:
            print(f"skipped {why}")
    return 0
