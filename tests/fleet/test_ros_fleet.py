"""Two namespaced ROS memory nodes share one fleet memory (`memory.fleet.url`), over real DDS.

robot1's room has the red mug but no book, robot2's the book but no red mug (tests/nodes/test_namespaces.py
streams them).  Each node keeps its own store and answers only about its own camera; with
``memory.fleet.url`` set, both deliver their frames to one PostgreSQL fleet, and a fleet query answers
about what either saw, naming the robot.
"""

from __future__ import annotations

import json
import os
import random
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest
from test_query import new_fleet_database

from robomem.fleet.schema import add_reader, add_robot

STREAM = Path(__file__).resolve().parents[1] / "nodes" / "test_namespaces.py"  # `stream NS`: one robot's camera
ROBOTS = ("robot1", "robot2")


def _rclpy_ok() -> tuple[bool, str]:
    r = subprocess.run([sys.executable, "-c", "import rclpy, robomem_interfaces.srv"], capture_output=True, text=True)
    return r.returncode == 0, (r.stderr.strip().splitlines() or [""])[-1]


@pytest.mark.ros
@pytest.mark.slow
def test_two_namespaced_nodes_share_one_fleet(pg, tmp_path):
    ok, why = _rclpy_ok()
    if not ok:
        pytest.skip(f"rclpy/robomem_interfaces not importable ({why}); run scripts/bootstrap.sh")
    if not pg.running():
        pg.start()
    name, owner = new_fleet_database(pg, "f2ros")
    tag = secrets.token_hex(2)
    urls = {}
    for ns in ROBOTS:
        role, pw = f"{ns}_ros_{tag}", secrets.token_urlsafe(10)
        add_robot(owner, ns, role, pw)
        urls[ns] = pg.url(role, None, name), pw  # the password travels in PGPASSWORD, not in the URL
    reader, rpw = f"reader_ros_{tag}", secrets.token_urlsafe(10)
    add_reader(owner, reader, rpw)
    env = {k: v for k, v in os.environ.items() if k not in ("ROS_LOCALHOST_ONLY", "ROS_STATIC_PEERS")}
    env.update(
        ROS_DOMAIN_ID=str(random.randint(223, 230)),
        ROS_AUTOMATIC_DISCOVERY_RANGE="LOCALHOST",
        RMW_IMPLEMENTATION="rmw_fastrtps_cpp",
        ROS_LOG_DIR=str(tmp_path / "ros_log"),
        PYTHONUNBUFFERED="1",
    )
    procs: dict[str, subprocess.Popen] = {}
    logs: dict[str, Path] = {}
    for ns in ROBOTS:
        logs[ns] = tmp_path / f"{ns}.log"
        cmd = [sys.executable, "-m", "robomem.cli.main", "ros", "--namespace", ns, "--only", "memory"]
        cmd += ["--store", str(tmp_path / f"{ns}_store"), "--ros-args"]
        params = [f"frames.camera_frame:={ns}/camera_color_optical_frame", "node.sensor_qos:=reliable"]
        params += ["node.tf_wait:=5.0", "node.update_queue:=64"]
        params += [f"memory.fleet.url:={urls[ns][0]}", f"memory.fleet.robot_id:={ns}"]
        for p in params:
            cmd += ["-p", p]
        procs[ns] = subprocess.Popen(
            cmd,
            env={**env, "PGPASSWORD": urls[ns][1]},
            stdout=logs[ns].open("w"),
            stderr=subprocess.STDOUT,
            cwd=tmp_path,
            start_new_session=True,
        )
    try:
        t0 = time.monotonic()
        while not all("memory node ready" in logs[ns].read_text(errors="replace") for ns in ROBOTS):
            for ns, p in procs.items():
                assert p.poll() is None, logs[ns].read_text(errors="replace")[-3000:]
            assert time.monotonic() - t0 < 120, {ns: logs[ns].read_text(errors="replace")[-1500:] for ns in ROBOTS}
            time.sleep(0.2)
        streams = [
            subprocess.Popen(
                [sys.executable, str(STREAM), "stream", ns], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
            )
            for ns in ROBOTS
        ]
        for s in streams:
            _, se = s.communicate(timeout=180)
            assert s.returncode == 0, se.decode()[-3000:]
        # the nodes sync in the background: wait until the fleet holds frames of both robots
        t0 = time.monotonic()
        while True:
            with psycopg.connect(owner) as c:
                n = dict(c.execute("SELECT robot_id, count(*) FROM robomem_fleet.frames GROUP BY robot_id").fetchall())
            if all(n.get(ns, 0) >= 3 for ns in ROBOTS):
                break
            assert time.monotonic() - t0 < 60, (n, {ns: logs[ns].read_text(errors="replace")[-1500:] for ns in ROBOTS})
            time.sleep(0.5)
        time.sleep(3.0)  # the update queues drain, the last frames are delivered
        reader_url = pg.url(reader, rpw, name)
        answers = {}
        for target in ("red mug", "book"):
            cmd = [sys.executable, "-m", "robomem.cli.main", "query", reader_url, "locate", target, "--json"]
            r = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
            assert r.returncode == 0, r.stdout + r.stderr
            answers[target] = json.loads(r.stdout)
    finally:
        for p in procs.values():
            if p.poll() is None:
                p.send_signal(signal.SIGINT)
        for ns, p in procs.items():
            try:
                assert p.wait(timeout=60) == 0, logs[ns].read_text(errors="replace")[-3000:]
            except subprocess.TimeoutExpired:
                p.kill()
                raise
    mug, book = answers["red mug"]["results"][0], answers["book"]["results"][0]
    assert mug["label"] == "red mug" and mug["seen_by"] == "robot1" and mug["status"] == "present", mug
    assert book["label"] == "book" and book["seen_by"] == "robot2" and book["status"] == "present", book
    for ns in ROBOTS:
        text = logs[ns].read_text(errors="replace")
        assert urls[ns][1] not in text  # the password never reaches the node's log
        assert f"as {ns}" in text  # the node said which fleet robot it syncs as
