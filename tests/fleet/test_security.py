"""Least privilege and row-level security on the fleet schema (a real PostgreSQL 15, no mocks)."""

from __future__ import annotations

import logging

import psycopg
import pytest

from robomem.errors import FleetError
from robomem.fleet.schema import SCHEMA, add_reader, install
from robomem.fleet.url import connect, describe, redact
from robomem.testing.postgres import free_port


def test_install_is_idempotent(pg_up) -> None:
    install(pg_up.owner_url())
    install(pg_up.owner_url())
    with psycopg.connect(pg_up.owner_url()) as c:
        tables = {r[0] for r in c.execute("SELECT tablename FROM pg_tables WHERE schemaname = %s", (SCHEMA,))}
        assert {
            "robots",
            "frames",
            "robot_objects",
            "sightings",
            "absences",
            "fleet_objects",
            "fleet_history",
        } <= tables
        rls = dict(
            c.execute(
                "SELECT relname, relrowsecurity FROM pg_class WHERE relnamespace = %s::regnamespace", (SCHEMA,)
            ).fetchall()
        )
        assert all(rls[t] for t in ("robots", "frames", "robot_objects", "sightings", "absences", "fleet_history"))


def test_a_robot_cannot_write_rows_of_another_robot(new_robot) -> None:
    a, b = new_robot("a"), new_robot("b")
    with psycopg.connect(a.url) as c:
        c.execute(f"INSERT INTO {SCHEMA}.frames(robot_id, seq, stamp) VALUES (%s, 1, 0.0)", (a.robot_id,))
        c.commit()
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="row-level security"):
            c.execute(f"INSERT INTO {SCHEMA}.frames(robot_id, seq, stamp) VALUES (%s, 1, 0.0)", (b.robot_id,))
        c.rollback()
    with psycopg.connect(b.url) as c:
        c.execute(f"INSERT INTO {SCHEMA}.frames(robot_id, seq, stamp) VALUES (%s, 1, 5.0)", (b.robot_id,))
        c.commit()
    with psycopg.connect(a.url) as c:
        # UPDATE of B's rows: RLS hides them from A's UPDATE (0 rows), B's cursor is untouched
        n = c.execute(f"UPDATE {SCHEMA}.frames SET stamp = 99 WHERE robot_id = %s", (b.robot_id,)).rowcount
        assert n == 0
        n = c.execute(f"UPDATE {SCHEMA}.robots SET last_seq = 999 WHERE robot_id = %s", (b.robot_id,)).rowcount
        assert n == 0
        with pytest.raises(psycopg.errors.InsufficientPrivilege):  # moving its own row to B's id
            c.execute(f"UPDATE {SCHEMA}.frames SET robot_id = %s WHERE robot_id = %s", (b.robot_id, a.robot_id))
        c.rollback()
        # everyone may read everything (the fleet answers from all robots)
        assert c.execute(f"SELECT stamp FROM {SCHEMA}.frames WHERE robot_id = %s", (b.robot_id,)).fetchone() == (5.0,)
    with psycopg.connect(b.url) as c:
        assert c.execute(f"SELECT last_seq FROM {SCHEMA}.robots WHERE robot_id = %s", (b.robot_id,)).fetchone() == (0,)


@pytest.mark.parametrize(
    "statement",
    [
        f"DROP TABLE {SCHEMA}.frames",
        f"CREATE TABLE {SCHEMA}.evil(x int)",
        f"ALTER TABLE {SCHEMA}.frames DISABLE ROW LEVEL SECURITY",
        f"DELETE FROM {SCHEMA}.frames",
        f"INSERT INTO {SCHEMA}.robots(robot_id, db_role) VALUES ('x', 'x')",
        "CREATE SCHEMA evil",
        f"TRUNCATE {SCHEMA}.fleet_history",
    ],
)
def test_a_robot_role_has_least_privilege(new_robot, statement: str) -> None:
    r = new_robot("lp")
    with psycopg.connect(r.url) as c, pytest.raises(psycopg.errors.InsufficientPrivilege):
        c.execute(statement)


def test_a_reader_role_can_only_read(pg_up) -> None:
    add_reader(pg_up.owner_url(), "fleet_reader_t", "pw-reader-1")
    with psycopg.connect(pg_up.url("fleet_reader_t", "pw-reader-1")) as c:
        c.execute(f"SELECT count(*) FROM {SCHEMA}.fleet_objects").fetchone()
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            c.execute(f"INSERT INTO {SCHEMA}.fleet_objects(label, labels) VALUES ('x', '{{}}')")


def test_wrong_password_is_a_clear_error_without_the_password(pg_up, new_robot, caplog) -> None:
    r = new_robot("pw")
    secret = "Sup3r-Secret-pw"
    db = r.url.rsplit("/", 1)[1]
    url = pg_up.url(r.role, secret, db)
    caplog.set_level(logging.DEBUG)
    with pytest.raises(FleetError) as got:
        connect(url)
    msg = str(got.value)
    assert "127.0.0.1" in msg and f"database {db}" in msg and f"role {r.role}" in msg
    assert "password authentication failed" in msg
    assert secret not in msg and secret not in caplog.text and got.value.__cause__ is None
    assert secret not in redact(url) and "***" in redact(url)
    assert secret not in redact(url + "?password=" + secret)


def test_unreachable_host_is_a_clear_error(pg_up) -> None:
    url = f"postgresql://someone:hunter2hunter2@127.0.0.1:{free_port()}/fleet"
    with pytest.raises(FleetError) as got:
        connect(url, connect_timeout_s=1.0)
    msg = str(got.value)
    assert "host 127.0.0.1" in msg and "database fleet" in msg and "hunter2hunter2" not in msg
    assert describe(url).startswith("host 127.0.0.1 port ")
