"""The ROS 2 deployment across real processes and real DDS (rclpy + rmw_fastrtps_cpp).

memory node + planner node + a publisher streaming a rendered RGB-D sequence with TF and
instance masks + a probe: memory is built, the planner answers a goal with the right object's
place and publishes the goal pose, the MarkerArray carries the right objects, bad messages are
counted (not fatal), and a restarted memory node resumes from the same store.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
DRIVER = HERE / "ros_driver.py"


def _rclpy_importable() -> tuple[bool, str]:
    r = subprocess.run(
        [sys.executable, "-c", "import rclpy, robomem_interfaces.srv"], capture_output=True, text=True, timeout=60
    )
    return r.returncode == 0, (r.stderr.strip().splitlines() or [""])[-1]


_OK, _WHY = _rclpy_importable()
pytestmark = [
    pytest.mark.ros,
    pytest.mark.slow,
    pytest.mark.skipif(not _OK, reason=f"rclpy/robomem_interfaces not importable ({_WHY}); run scripts/bootstrap.sh"),
]


@pytest.fixture()
def ros_env(tmp_path):
    env = dict(os.environ)
    for k in ("ROS_LOCALHOST_ONLY", "ROS_STATIC_PEERS", "FASTRTPS_DEFAULT_PROFILES_FILE"):
        env.pop(k, None)
    env.update(
        ROS_DOMAIN_ID=str(random.randint(1, 200)),
        ROS_AUTOMATIC_DISCOVERY_RANGE="LOCALHOST",
        RMW_IMPLEMENTATION="rmw_fastrtps_cpp",
        ROS_LOG_DIR=str(tmp_path / "ros_log"),
        PYTHONUNBUFFERED="1",
    )
    return env


def start_node(module: str, env: dict, store: Path, log: Path) -> subprocess.Popen:
    cmd = [sys.executable, "-m", module, "--ros-args", "-p", f"config_file:={ROOT / 'config' / 'robomem.yaml'}"]
    if module.endswith("memory_node"):
        # Reliable sensor QoS: on a loaded 2-core CI machine, best-effort 300 kB images get dropped
        # and the test would measure DDS, not memory. The default stays sensor_data.
        cmd += [
            "-p",
            f"store_path:={store}",
            "-p",
            "node.marker_period:=0.5",
            "-p",
            "node.sensor_qos:=reliable",
            "-p",
            "node.tf_wait:=5.0",
            # deep enough for the burst of frames released when /tf catches up: this test checks what memory
            # builds; dropping the oldest under back-pressure is the live default, counted as dropped_queue_full
            "-p",
            "node.update_queue:=64",
        ]
    return subprocess.Popen(cmd, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT, cwd=ROOT)


def run_driver(args: list[str], env: dict, timeout: float = 120) -> list[dict]:
    r = subprocess.run([sys.executable, str(DRIVER), *args], env=env, capture_output=True, text=True, timeout=timeout)
    assert r.returncode == 0, r.stderr[-3000:]
    return [json.loads(line) for line in r.stdout.splitlines() if line.startswith("{")]


def stop(p: subprocess.Popen) -> int:
    if p.poll() is None:
        p.send_signal(signal.SIGINT)
        try:
            return p.wait(timeout=20)
        except subprocess.TimeoutExpired:
            p.kill()
            return p.wait()
    return p.returncode


def wait_ready(log: Path, timeout: float = 90) -> None:
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if "node ready" in log.read_text(errors="replace"):
            return
        time.sleep(0.2)
    raise AssertionError(f"node did not start:\n{log.read_text(errors='replace')[-3000:]}")


def test_memory_and_planner_nodes_end_to_end(tmp_path, ros_env):
    store = tmp_path / "store"
    mem_log, plan_log = tmp_path / "memory.log", tmp_path / "planner.log"
    mem = start_node("robomem.nodes.memory_node", ros_env, store, mem_log)
    plan = start_node("robomem.nodes.planner_node", ros_env, store, plan_log)
    try:
        wait_ready(mem_log)
        wait_ready(plan_log)
        events = run_driver(["stream", "16", "--reliable"], ros_env)
        assert {"event": "frames_sent", "n": 16} in events
        time.sleep(2.0)  # let the update queue drain
        probe = run_driver(["probe", "red mug"], ros_env)
        assert mem.poll() is None, f"memory node died:\n{mem_log.read_text()[-3000:]}"
    finally:
        # crash, not shutdown: the restarted node must find everything it had acknowledged
        mem.kill()
        mem.wait(timeout=20)
        rc_plan = stop(plan)
    assert rc_plan == 0, plan_log.read_text()[-2000:]
    by = {}
    for e in probe:
        by.setdefault(e["event"], []).append(e)
    # MarkerArray with the right objects
    labels = {t.split(" #")[0] for t in by["markers"][-1]["labels"]}
    assert {"table", "red mug", "book", "chair"} <= labels, labels
    # the planner published a goal pose next to the red mug (1.8, 0.1)
    assert "goal_pose" in by, plan_log.read_text()[-2000:]
    gp = by["goal_pose"][0]
    assert gp["frame"] == "map"
    assert abs(gp["x"] - 1.8) < 2.5 and abs(gp["y"] - 0.1) < 2.5
    locate = next(q for q in by["query"] if q["mode"] == "locate" and q["goal"] == "red mug")
    assert locate["ok"] and locate["has_goal_pose"]
    ctx = json.loads(locate["json"])  # the question engine's where-now answer
    assert ctx["verb"] == "where-now" and ctx["results"][0]["label"] == "red mug"
    target = ctx["results"][0]["position"]
    assert abs(target[0] - 1.8) < 0.15 and abs(target[1] - 0.1) < 0.15
    last = next(q for q in by["query"] if q["mode"] == "last_seen" and q["goal"] == "red mug")
    assert last["ok"] and abs(last["x"] - 1.8) < 0.15
    # never seen: the service abstains in every mode (ok, no goal pose, confidence 0, status not_seen)
    for q in (q for q in by["query"] if "unicorn" in q["goal"]):
        assert q["ok"] and not q["has_goal_pose"] and q["confidence"] == 0.0, q
        assert json.loads(q["json"])["status"] == "not_seen"
    assert len([q for q in by["query"] if "unicorn" in q["goal"]]) == 2
    bogus = next(q for q in by["query"] if q["mode"] == "bogus")
    assert not bogus["ok"] and "unknown mode" in bogus["error"]
    # every bad message was counted under its reason; the node kept running
    diag = by["diagnostics"][0]["values"]
    assert int(diag["updates"]) >= 12, json.dumps(diag)
    # the latched /map reached the memory node over DDS: its planner ranks places by path length on it
    assert diag["map"] == "60x40" and int(diag["received_map"]) == 1, diag
    # ids without a label: the frame is kept, those pixels become "no instance", and they are counted
    assert int(diag["unlabeled_instances"]) >= 1, diag
    for reason in ("bad_image", "missing_transform", "stale_stamp"):
        assert int(diag.get(f"rejected_{reason}", 0)) >= 1, (reason, diag)

    # restart after SIGKILL: the memory node resumes from the same store with the same ids
    mem_log2 = tmp_path / "memory2.log"
    mem2 = start_node("robomem.nodes.memory_node", ros_env, store, mem_log2)
    plan2 = start_node("robomem.nodes.planner_node", ros_env, store, tmp_path / "planner2.log")
    try:
        wait_ready(mem_log2)
        probe2 = run_driver(["probe", "red mug"], ros_env)
    finally:
        stop(mem2)
        stop(plan2)
    locate2 = next(e for e in probe2 if e["event"] == "query" and e["mode"] == "locate" and e["goal"] == "red mug")
    ctx2 = json.loads(locate2["json"])
    assert ctx2["results"][0]["object_id"] == ctx["results"][0]["object_id"]
    assert ctx2["results"][0]["position"] == pytest.approx(target, abs=1e-6)


def test_robomem_ros_runs_the_node_graph_and_stops_it_cleanly(tmp_path, ros_env):
    """`robomem ros` (the launch_ros stand-in: the launch file's node graph) starts memory and planner
    with the config; frames streamed over DDS build memory, a goal sent to the planner comes back as a
    goal pose next to the object, the Query service answers; one SIGINT to it stops both nodes with
    exit code 0 and the store is closed cleanly."""
    log = tmp_path / "ros.log"
    cmd = [sys.executable, "-m", "robomem.cli.main", "ros", "--config", str(ROOT / "config" / "robomem.yaml")]
    cmd += ["--store", str(tmp_path / "store"), "--ros-args"]
    # as in test_memory_and_planner_nodes_end_to_end: reliable sensor QoS and a deep update queue on a loaded box
    cmd += ["-p", "node.sensor_qos:=reliable", "-p", "node.update_queue:=64"]
    p = subprocess.Popen(cmd, env=ros_env, stdout=log.open("w"), stderr=subprocess.STDOUT, cwd=ROOT)
    try:
        t0 = time.monotonic()
        while time.monotonic() - t0 < 120:
            text = log.read_text(errors="replace")
            if "memory node ready" in text and "planner node ready" in text:
                break
            assert p.poll() is None, text[-3000:]
            time.sleep(0.2)
        else:
            raise AssertionError(log.read_text(errors="replace")[-3000:])
        events = run_driver(["stream", "10", "--reliable"], ros_env)
        assert {"event": "frames_sent", "n": 10} in events
        time.sleep(2.0)  # let the update queue drain
        probe = run_driver(["probe", "red mug"], ros_env)
        assert p.poll() is None, log.read_text(errors="replace")[-3000:]
        p.send_signal(signal.SIGINT)
        assert p.wait(timeout=60) == 0, log.read_text()[-3000:]
    finally:
        if p.poll() is None:
            p.kill()
    text = log.read_text()
    by: dict[str, list[dict]] = {}
    for e in probe:
        by.setdefault(e["event"], []).append(e)
    assert "goal_pose" in by, text[-3000:]  # the planner node asked the memory node and published a pose
    gp = by["goal_pose"][0]
    assert gp["frame"] == "map" and abs(gp["x"] - 1.8) < 2.5 and abs(gp["y"] - 0.1) < 2.5, gp
    locate = next(q for q in by["query"] if q["mode"] == "locate" and q["goal"] == "red mug")
    target = json.loads(locate["json"])["results"][0]
    assert locate["ok"] and target["label"] == "red mug", locate
    assert abs(target["position"][0] - 1.8) < 0.15 and abs(target["position"][1] - 0.1) < 0.15, target
    assert "memory node exited with 0" in text and "planner node exited with 0" in text, text[-2000:]
    assert "Traceback" not in text, text[-3000:]
    wal = tmp_path / "store" / "memory.db-wal"
    assert (tmp_path / "store" / "memory.db").exists() and (not wal.exists() or wal.stat().st_size == 0)
