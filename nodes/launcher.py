"""``robomem ros``: start the memory and planner nodes with one params file.

launch_ros is not installable from PyPI, so this command is how the deployment
starts on a machine with only the pip wheels; on a full ROS install,
``ros2 launch robomem robomem_launch.py`` does the same.  Each node runs as its own
process (the same console entry points ``ros2 run`` uses); Ctrl-C stops both.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

NODES = {"memory": "robomem.nodes.memory_node", "planner": "robomem.nodes.planner_node"}
NODE_NAMES = {"memory": "robomem_memory", "planner": "robomem_planner"}
PLANNER_PARAMS = ("node.goal_topic", "node.goal_pose_topic", "node.context_topic", "node.query_service", "node.k")
PARAMS_HEADER = """\
# ROS 2 parameters of the robomem nodes (ros2 run ... --ros-args --params-file, or the launch file's
# params_file).  Generated from config/robomem.yaml, the one source of truth shared with the core and
# replay: regenerate with `robomem ros --print-params > config/robomem_ros.yaml`
# (tests/nodes/test_parameters.py fails when the two differ).  /**/ matches any namespace.
"""


def ros_parameters(config: str | Path | None) -> dict[str, dict[str, object]]:
    """The ``ros__parameters`` document for both nodes: every parameter each declares, valued from ``config``."""
    from robomem.nodes.settings import NodeSettings, flatten

    flat = flatten(NodeSettings.load(config))
    flat.pop("config_file")

    def nested(items: dict[str, object]) -> dict[str, object]:
        out: dict[str, object] = {}
        for name, value in items.items():
            *parents, leaf = name.split(".")
            d = out
            for part in parents:
                d = d.setdefault(part, {})  # type: ignore[assignment]
            d[leaf] = list(value) if isinstance(value, tuple) else value  # type: ignore[index]
        return out

    planner = {k: flat[k] for k in PLANNER_PARAMS}
    return {
        f"/**/{NODE_NAMES['memory']}": {"ros__parameters": nested(flat)},
        f"/**/{NODE_NAMES['planner']}": {"ros__parameters": nested(planner)},
    }


def ros_parameters_yaml(config: str | Path | None) -> str:
    import yaml

    return PARAMS_HEADER + yaml.safe_dump(ros_parameters(config), sort_keys=False, default_flow_style=False)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", default="config/robomem.yaml", help="YAML config (memory:, ros:, replay: sections)")
    p.add_argument("--store", default=None, help="store directory (overrides store_path in the config)")
    p.add_argument("--only", choices=sorted(NODES), default=None, help="start just one node")
    p.add_argument("--use-sim-time", action="store_true", help="take time from /clock")
    p.add_argument("--namespace", default="", help="ROS namespace of both nodes (e.g. robot1); topics follow it")
    p.add_argument("--print-params", action="store_true", help="print the ros__parameters file for --config and exit")
    p.add_argument("--ros-args", nargs=argparse.REMAINDER, default=[], help="passed to both nodes after --ros-args")


def node_command(name: str, args: argparse.Namespace) -> list[str]:
    cmd = [sys.executable, "-m", NODES[name], "--ros-args"]
    if args.config:
        cmd += ["-p", f"config_file:={Path(args.config).resolve()}"]
    if args.store and name == "memory":
        cmd += ["-p", f"store_path:={args.store}"]
    if args.use_sim_time:
        cmd += ["-p", "use_sim_time:=true"]
    if args.namespace:
        cmd += ["-r", f"__ns:=/{args.namespace.strip('/')}"]
    return cmd + list(args.ros_args or [])


def find_config(name: str) -> Path | None:
    """``name`` as given; else, for a bare file name, the installed share/robomem/config (ament index)
    or the source tree's config/ next to the package."""
    p = Path(name)
    if p.exists():
        return p
    if p.is_absolute() or len(p.parts) > 2:
        return None
    dirs = []
    try:
        from ament_index_python.packages import PackageNotFoundError, get_package_share_directory

        with contextlib.suppress(PackageNotFoundError, OSError):  # OSError: no AMENT_PREFIX_PATH
            dirs.append(Path(get_package_share_directory("robomem")) / "config")
    except ImportError:
        pass
    dirs.append(Path(__file__).resolve().parents[1] / "config")  # source tree / editable install
    return next((d / p.name for d in dirs if (d / p.name).exists()), None)


def run(args: argparse.Namespace) -> int:
    if args.config:
        found = find_config(args.config)
        if found is None:
            print(f"robomem ros: config file {args.config} not found (nor in share/robomem/config)", file=sys.stderr)
            return 2
        args.config = str(found)
    if args.print_params:
        sys.stdout.write(ros_parameters_yaml(args.config))
        return 0
    names = [args.only] if args.only else ["memory", "planner"]
    # Own sessions: a terminal's Ctrl-C reaches only this launcher, which asks each node once to stop.
    procs = {n: subprocess.Popen(node_command(n, args), env=dict(os.environ), start_new_session=True) for n in names}
    print(f"robomem ros: started {', '.join(f'{n} (pid {p.pid})' for n, p in procs.items())}", flush=True)
    asked: dict[str, float] = {}

    def stop(*_a: object) -> None:
        for n, p in procs.items():
            if p.poll() is None and n not in asked:
                p.send_signal(signal.SIGINT)
                asked[n] = time.monotonic()

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    rc = 0
    running = dict(procs)
    while running:
        for n, p in list(running.items()):
            code = p.poll()
            if code is not None:
                print(f"robomem ros: {n} node exited with {code}", flush=True)
                rc = rc or code
                del running[n]
                stop()  # one node gone: stop the deployment
            elif n in asked and time.monotonic() - asked[n] > 15.0:
                p.kill()  # did not stop in time
        time.sleep(0.2)
    return rc
