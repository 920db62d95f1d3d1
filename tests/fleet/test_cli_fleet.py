"""`robomem query postgresql://... ` answers fleet-wide, as a shell user runs it (a subprocess per command).

The fleet is test_query's: robot1 and robot2 synced into one PostgreSQL database; the red mug seen by both
(last by robot2 at t=20), the book observed absent by robot2 at t=20.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.parse

import pytest
from test_query import build_two_robot_fleet


@pytest.fixture(scope="module")
def fleet(pg, tmp_path_factory, embedder):
    if not pg.running():
        pg.start()
    return build_two_robot_fleet(pg, tmp_path_factory.mktemp("fleetcli"), embedder)


def query(url: str, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "robomem.cli.main", "query", url, *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=env)


def test_where_is_the_red_mug_names_robot_and_time(fleet):
    r = query(fleet.reader_url, "where is the red mug?")
    assert r.returncode == 0, r.stderr
    assert "red mug" in r.stdout and "kitchen" in r.stdout and "by robot2" in r.stdout and "t=20.0s" in r.stdout


def test_every_verb_answers_fleet_wide(fleet):
    r = query(fleet.reader_url, "locate", "red mug", "--json")
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    assert d["status"] == "answered" and [x["label"] for x in d["results"]] == ["red mug"]
    assert d["results"][0]["seen_by"] == "robot2" and d["evidence"][0]["robot"] == "robot2"
    r = query(fleet.reader_url, "last-seen", "book")
    assert r.returncode == 0 and "NOT there when looked at t=20.0s by robot2" in r.stdout, r.stdout + r.stderr
    r = query(fleet.reader_url, "where-at", "red mug", "--at", "1.5")
    assert r.returncode == 0 and "by robot1" in r.stdout, r.stdout + r.stderr
    r = query(fleet.reader_url, "count", "mug")
    assert r.returncode == 0 and r.stdout.splitlines()[0] == "2 mug", r.stdout + r.stderr
    r = query(fleet.reader_url, "changes", "--since", "10")
    assert r.returncode == 0 and "book" in r.stdout and "disappeared" in r.stdout and "(robot2 saw it)" in r.stdout
    r = query(fleet.reader_url, "objects")
    assert r.returncode == 0 and "white mug" in r.stdout and "red mug" in r.stdout


def test_a_target_no_robot_saw_abstains_with_exit_1(fleet):
    r = query(fleet.reader_url, "where-now", "giraffe")
    assert r.returncode == 1 and "not seen" in r.stdout, r.stdout + r.stderr
    r = query(fleet.reader_url, "where is the unicorn?", "--json")
    assert r.returncode == 1 and json.loads(r.stdout)["abstained"] is True


def test_password_from_the_environment_and_a_wrong_one_refused_without_echo(fleet):
    parts = urllib.parse.urlsplit(fleet.reader_url)
    bare = fleet.reader_url.replace(f":{parts.password}@", "@", 1)  # postgresql://role@host:port/db
    env = {**os.environ, "PGPASSWORD": parts.password}
    r = query(bare, "where-now", "red mug", env=env)
    assert r.returncode == 0 and "robot2" in r.stdout, r.stderr
    wrong = "not-the-password-" + parts.password
    r = query(bare, "where-now", "red mug", env={**os.environ, "PGPASSWORD": wrong})
    assert r.returncode == 2, r.stdout + r.stderr
    assert "127.0.0.1" in r.stderr and fleet.database in r.stderr and wrong not in r.stderr + r.stdout
    assert "Traceback" not in r.stderr
    closed = f"postgresql://{parts.username}@127.0.0.1:1/{fleet.database}"
    r = query(closed, "where-now", "red mug", env=env)
    assert r.returncode == 2 and "cannot connect" in r.stderr and "Traceback" not in r.stderr
