"""The ``robomem`` command line.

Each subcommand lives in the module that owns its idea; this file only maps a
name to that module and imports it when the subcommand runs, so ``robomem
query`` never imports a simulator and the core never imports an adapter at
import time.  A command module provides ``add_arguments(parser)`` and
``run(args) -> int``.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from robomem.cli.terminal import pipe_closed

# name -> (module, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "demo": ("robomem.envs.demo", "household story: tour, overnight changes, tasks with and without memory"),
    "eval": ("robomem.envs.evaluation", "memory QA and object-search evaluation against simulator ground truth"),
    "record": ("robomem.envs.record", "record a built-in simulator run to an MCAP bag plus ground truth"),
    "replay": ("robomem.io.replay", "build memory from a rosbag2 directory or .mcap file"),
    "query": ("robomem.cli.query", "ask a store questions (locate, last-seen, changes, facts)"),
    "export": ("robomem.report.export", "export scene graph JSON, point clouds, snapshots and a top-down map"),
    "import": ("robomem.cli.import_map", "seed a store from a spark_dsg (Hydra) scene graph file"),
    "mcp": ("robomem.cli.mcp", "serve a store read-only to language-model agents over MCP (stdio)"),
    "ros": ("robomem.nodes.launcher", "start the ROS 2 memory and planner nodes with a params file"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="robomem", description="Memory for robots and embodied agents.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (_module, help_text) in COMMANDS.items():
        sub.add_parser(name, help=help_text, add_help=False)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    if not argv or argv[0] in ("-h", "--help") or argv[0] not in COMMANDS:
        if argv and argv[0] not in ("-h", "--help"):
            parser.print_usage(sys.stderr)
            print(f"robomem: unknown command {argv[0]!r}; choose from {', '.join(COMMANDS)}", file=sys.stderr)
            return 2
        parser.print_help()
        return 0
    name = argv[0]
    module_name, help_text = COMMANDS[name]
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        print(f"robomem {name}: cannot import {module_name}: {exc}", file=sys.stderr)
        print("hint: run `make setup` (scripts/bootstrap.sh) to install every extra", file=sys.stderr)
        return 2
    sub = argparse.ArgumentParser(prog=f"robomem {name}", description=help_text)
    module.add_arguments(sub)
    try:
        args = sub.parse_args(argv[1:])
    except SystemExit as exc:  # argparse has printed why; give the status to the caller of main()
        return exc.code if isinstance(exc.code, int) else 2
    try:
        return int(module.run(args) or 0)
    except BrokenPipeError:  # the reader went away (`robomem ... | head`): quiet, as cat would be
        return pipe_closed()


if __name__ == "__main__":
    raise SystemExit(main())
