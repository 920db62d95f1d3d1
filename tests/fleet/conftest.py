"""The fleet tests' PostgreSQL 15: one throwaway cluster per session (robomem.testing.postgres).

A test that needs the server FAILS when it cannot start (never skips): CI installs PostgreSQL from Debian.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from robomem.testing.postgres import PostgresCluster, PostgresUnavailable


@pytest.fixture(scope="session")
def pg() -> Iterator[PostgresCluster]:
    """A running cluster with the fleet schema installed; ``pg.owner_url()`` is its superuser URL."""
    try:
        cluster = PostgresCluster()
    except PostgresUnavailable as exc:
        pytest.fail(f"the fleet tests need PostgreSQL 15 and it could not start: {exc}", pytrace=False)
    from robomem.fleet.schema import install

    try:
        install(cluster.owner_url())
        yield cluster
    finally:
        cluster.close()


@pytest.fixture()
def pg_up(pg: PostgresCluster) -> PostgresCluster:
    """The session cluster, started again if an earlier test stopped or killed it."""
    if not pg.running():
        pg.start()
    return pg


@dataclass(frozen=True)
class FleetDb:
    name: str
    owner_url: str


@pytest.fixture()
def fleet_db(pg_up: PostgresCluster) -> FleetDb:
    """A fresh database with the fleet schema, for one test (robots of other tests are not in its map)."""
    import psycopg

    from robomem.fleet.schema import install

    name = f"t_{secrets.token_hex(4)}"
    with psycopg.connect(pg_up.owner_url(), autocommit=True) as c:
        c.execute(f"CREATE DATABASE {name}")
    owner = pg_up.url(pg_up.owner, pg_up.password, name)
    install(owner)
    return FleetDb(name, owner)


@dataclass(frozen=True)
class RobotLogin:
    robot_id: str
    role: str
    password: str
    url: str


@pytest.fixture()
def new_robot(pg_up: PostgresCluster, fleet_db: FleetDb):
    """``new_robot(prefix)`` -> a fresh robot id with its own LOGIN role (unique per call), in ``fleet_db``."""
    from robomem.fleet.schema import add_robot

    def make(prefix: str = "r") -> RobotLogin:
        tag = secrets.token_hex(3)
        robot_id, role, password = f"{prefix}-{tag}", f"{prefix}_{tag}", secrets.token_urlsafe(12)
        add_robot(fleet_db.owner_url, robot_id, role, password)
        return RobotLogin(robot_id, role, password, pg_up.url(role, password, fleet_db.name))

    return make
