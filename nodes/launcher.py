"""``robomem ros``: start the memory and planner nodes with one params file.

launch_ros is not installable from PyPI, so this command is how the deployment
starts on a machine with only the pip wheels; on a full ROS install,
``ros2 launch robomem robomem_launch.py`` does the same.  Each node runs as its own
process (the same console entry points ``ros2 run`` uses); Ctrl-C stops both.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

NODES = {"memory": "robomem.nodes.memory_node", "planner": "robomem.nodes.planner_node"}


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", default="config/robomem.yaml", help="YAML config (memory:, ros:, replay: sections)")
    p.add_argument("--store", default=None, help="store directory (overrides store_path in the config)")
    p.add_argument("--only", choices=sorted(NODES), default=None, help="start just one node")
    p.add_argument("--use-sim-time", action="store_true", help="take time from /clock")
    p.add_argument("--ros-args", nargs=argparse.REMAINDER, default=[], help="passed to both nodes after --ros-args")


def node_command(name: str, args: argparse.Namespace) -> list[str]:
    cmd = [sys.executable, "-m", NODES[name], "--ros-args"]
    if args.config:
        cmd += ["-p", f"config_file:={Path(args.config).resolve()}"]
    if args.store and name == "memory":
        cmd += ["-p", f"store_path:={args.store}"]
    if args.use_sim_time:
        cmd += ["-p", "use_sim_time:=true"]
    return cmd + list(args.ros_args or [])


def run(args: argparse.Namespace) -> int:
    if args.config and not Path(args.config).exists():
        print(f"robomem ros: config file {args.config} not found", file=sys.stderr)
        return 2
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
