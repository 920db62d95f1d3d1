"""The fleet memory's PostgreSQL schema (``robomem_fleet``), its roles and row-level security.

Tables (docs/architecture.md "Fleet memory"):

- ``robots``: one row per robot: its id, its LOGIN role, the last outbox ``seq`` applied (the sync cursor);
- ``frames``, ``robot_objects``, ``sightings``, ``absences``: each robot's own evidence, keyed by
  ``(robot_id, seq)`` / ``(robot_id, local_id)`` so applying a batch twice changes nothing;
- ``fleet_objects``: the current belief, one row per physical object across robots (``fleet_id``);
- ``fleet_history``: every robot's evidence per fleet object, with valid time (``stamp``, sensor time) and
  transaction time (``recorded_at``): bi-temporal, never rewritten.

Roles: the owner (who runs :func:`install`) owns everything.  ``robomem_robot`` is the group of robot
roles: USAGE on the schema, SELECT on every table, INSERT/UPDATE where row-level security lets it, and only
its own ``robot_id``'s rows (``robomem_fleet.robot_of(current_user)`` maps the role to it).  ``fleet_objects`` is
shared: any robot updates it, through the apply path, under an advisory lock.  ``robomem_reader`` can only
read (the query side).  No robot role can CREATE, DROP or ALTER anything in the schema.
"""

from __future__ import annotations

import re
from typing import Any

from robomem.errors import FleetError
from robomem.fleet.url import connect

__all__ = ["READER_GROUP", "ROBOT_GROUP", "SCHEMA", "SCHEMA_VERSION", "add_reader", "add_robot", "install"]

SCHEMA = "robomem_fleet"
SCHEMA_VERSION = 1
ROBOT_GROUP = "robomem_robot"
READER_GROUP = "robomem_reader"
IDENTITY_LOCK = 0x726F626F6D656D  # pg_advisory_xact_lock key taken while fleet ids are assigned ("robomem")

_ROLE = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")

_BOX = "bmin_x double precision, bmin_y double precision, bmin_z double precision, " + (
    "bmax_x double precision, bmax_y double precision, bmax_z double precision"
)

DDL = (
    f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}",
    f"CREATE TABLE IF NOT EXISTS {SCHEMA}.meta(key text PRIMARY KEY, value text NOT NULL)",
    f"""CREATE TABLE IF NOT EXISTS {SCHEMA}.robots(
        robot_id text PRIMARY KEY, db_role text UNIQUE NOT NULL, last_seq bigint NOT NULL DEFAULT 0,
        last_stamp double precision, synced_at timestamptz)""",
    f"""CREATE TABLE IF NOT EXISTS {SCHEMA}.frames(
        robot_id text NOT NULL REFERENCES {SCHEMA}.robots, seq bigint NOT NULL, stamp double precision NOT NULL,
        kind text NOT NULL DEFAULT 'frame', x double precision, y double precision, z double precision, place text,
        received_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY(robot_id, seq))""",
    f"""CREATE TABLE IF NOT EXISTS {SCHEMA}.fleet_objects(
        fleet_id bigserial PRIMARY KEY, label text NOT NULL, labels jsonb NOT NULL,
        cx double precision, cy double precision, cz double precision, {_BOX},
        n_obs int NOT NULL DEFAULT 0, first_seen double precision, last_seen double precision,
        last_robot text, place text,
        status text NOT NULL DEFAULT 'present' CHECK (status IN ('present', 'absent')),
        status_since double precision, status_robot text)""",
    f"CREATE INDEX IF NOT EXISTS fleet_objects_label ON {SCHEMA}.fleet_objects(label)",
    f"CREATE INDEX IF NOT EXISTS fleet_objects_xy ON {SCHEMA}.fleet_objects(cx, cy)",
    # the fleet view finds a name's candidates with `label = ANY(..) OR labels ?| ..` (robomem/fleet/view.py)
    f"CREATE INDEX IF NOT EXISTS fleet_objects_labels ON {SCHEMA}.fleet_objects USING gin (labels)",
    f"""CREATE TABLE IF NOT EXISTS {SCHEMA}.robot_objects(
        robot_id text NOT NULL REFERENCES {SCHEMA}.robots, local_id bigint NOT NULL,
        fleet_id bigint REFERENCES {SCHEMA}.fleet_objects, label text NOT NULL, labels jsonb NOT NULL,
        cx double precision, cy double precision, cz double precision, {_BOX},
        n_obs int NOT NULL DEFAULT 0, first_seen double precision, last_seen double precision, place text,
        merged_into bigint, forgotten boolean NOT NULL DEFAULT false, PRIMARY KEY(robot_id, local_id))""",
    f"CREATE INDEX IF NOT EXISTS robot_objects_fleet ON {SCHEMA}.robot_objects(fleet_id)",
    f"""CREATE TABLE IF NOT EXISTS {SCHEMA}.sightings(
        robot_id text NOT NULL REFERENCES {SCHEMA}.robots, seq bigint NOT NULL, local_id bigint NOT NULL,
        stamp double precision NOT NULL, cx double precision, cy double precision, cz double precision, place text,
        PRIMARY KEY(robot_id, seq, local_id))""",
    f"""CREATE TABLE IF NOT EXISTS {SCHEMA}.absences(
        robot_id text NOT NULL REFERENCES {SCHEMA}.robots, seq bigint NOT NULL, local_id bigint NOT NULL,
        stamp double precision NOT NULL, place text, PRIMARY KEY(robot_id, seq, local_id))""",
    f"""CREATE TABLE IF NOT EXISTS {SCHEMA}.fleet_history(
        fleet_id bigint NOT NULL REFERENCES {SCHEMA}.fleet_objects, robot_id text NOT NULL REFERENCES {SCHEMA}.robots,
        seq bigint NOT NULL, kind text NOT NULL CHECK (kind IN ('seen', 'absent')),
        stamp double precision NOT NULL, recorded_at timestamptz NOT NULL DEFAULT now(),
        cx double precision, cy double precision, cz double precision, place text,
        PRIMARY KEY(robot_id, seq, fleet_id, kind))""",
    f"CREATE INDEX IF NOT EXISTS fleet_history_object ON {SCHEMA}.fleet_history(fleet_id, stamp)",
    f"CREATE INDEX IF NOT EXISTS fleet_history_stamp ON {SCHEMA}.fleet_history(stamp)",  # changes between t1, t2
    # the robot id a role may write as (policies pass current_user: inside a SECURITY DEFINER function
    # current_user is the owner); SECURITY DEFINER so it reads robots without recursing into robots' policy
    f"""CREATE OR REPLACE FUNCTION {SCHEMA}.robot_of(role_name name) RETURNS text LANGUAGE sql STABLE
        SECURITY DEFINER SET search_path = pg_catalog, pg_temp
        AS $$ SELECT robot_id FROM {SCHEMA}.robots WHERE db_role = role_name $$""",
)

OWN_TABLES = ("robots", "frames", "robot_objects", "sightings", "absences", "fleet_history")
SHARED_TABLES = ("fleet_objects",)


def _policies() -> list[str]:
    out = []
    for t in OWN_TABLES:
        own = "db_role = current_user" if t == "robots" else f"robot_id = {SCHEMA}.robot_of(current_user)"
        out += [
            f"ALTER TABLE {SCHEMA}.{t} ENABLE ROW LEVEL SECURITY",
            f"DROP POLICY IF EXISTS read_all ON {SCHEMA}.{t}",
            f"DROP POLICY IF EXISTS insert_own ON {SCHEMA}.{t}",
            f"DROP POLICY IF EXISTS update_own ON {SCHEMA}.{t}",
            f"CREATE POLICY read_all ON {SCHEMA}.{t} FOR SELECT USING (true)",
            f"CREATE POLICY insert_own ON {SCHEMA}.{t} FOR INSERT WITH CHECK ({own})",
            f"CREATE POLICY update_own ON {SCHEMA}.{t} FOR UPDATE USING ({own}) WITH CHECK ({own})",
        ]
    return out


def _grants() -> list[str]:
    own = ", ".join(f"{SCHEMA}.{t}" for t in OWN_TABLES if t != "robots")
    return [
        f"REVOKE ALL ON SCHEMA {SCHEMA} FROM PUBLIC",
        f"REVOKE ALL ON ALL TABLES IN SCHEMA {SCHEMA} FROM PUBLIC",
        f"REVOKE ALL ON FUNCTION {SCHEMA}.robot_of(name) FROM PUBLIC",
        f"GRANT USAGE ON SCHEMA {SCHEMA} TO {ROBOT_GROUP}, {READER_GROUP}",
        f"GRANT SELECT ON ALL TABLES IN SCHEMA {SCHEMA} TO {ROBOT_GROUP}, {READER_GROUP}",
        f"GRANT EXECUTE ON FUNCTION {SCHEMA}.robot_of(name) TO {ROBOT_GROUP}, {READER_GROUP}",
        f"GRANT INSERT, UPDATE ON {own}, {SCHEMA}.fleet_objects TO {ROBOT_GROUP}",
        f"GRANT UPDATE (last_seq, last_stamp, synced_at) ON {SCHEMA}.robots TO {ROBOT_GROUP}",
        f"GRANT USAGE ON SEQUENCE {SCHEMA}.fleet_objects_fleet_id_seq TO {ROBOT_GROUP}",
    ]


def _ensure_group(conn: Any, name: str) -> None:
    from psycopg import sql

    if conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (name,)).fetchone() is None:
        conn.execute(sql.SQL("CREATE ROLE {} NOLOGIN").format(sql.Identifier(name)))


def install(owner_conninfo: str) -> None:
    """Create (or bring up to date) the schema, its group roles, grants and row-level security; idempotent."""
    import psycopg

    conn = connect(owner_conninfo)
    try:
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (IDENTITY_LOCK,))
            _ensure_group(conn, ROBOT_GROUP)
            _ensure_group(conn, READER_GROUP)
            for statement in (*DDL, *_policies(), *_grants()):
                conn.execute(statement)
            conn.execute(
                f"INSERT INTO {SCHEMA}.meta(key, value) VALUES ('schema_version', %s) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (str(SCHEMA_VERSION),),
            )
    except psycopg.Error as exc:
        raise FleetError(f"fleet schema install failed: {str(exc).strip()}") from None
    finally:
        conn.close()


def _check_role(role: str) -> None:
    if not isinstance(role, str) or not _ROLE.match(role):
        raise FleetError(
            f"fleet role {role!r}: must be 1-63 lower-case letters, digits or '_', not starting with a digit"
        )


def _create_login(conn: Any, role: str, password: str | None, group: str) -> None:
    from psycopg import sql

    exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone() is not None
    verb = "ALTER" if exists else "CREATE"
    stmt = sql.SQL(verb + " ROLE {} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS INHERIT").format(
        sql.Identifier(role)
    )
    if password is not None:
        stmt = stmt + sql.SQL(" PASSWORD {}").format(sql.Literal(password))
    conn.execute(stmt)
    conn.execute(sql.SQL("GRANT {} TO {}").format(sql.Identifier(group), sql.Identifier(role)))


def add_robot(owner_conninfo: str, robot_id: str, role: str, password: str | None = None) -> None:
    """A robot: its LOGIN role (member of ``robomem_robot``) and its ``robots`` row; idempotent.

    ``password=None`` leaves an existing password alone (or, for a new role, sets none: use a client
    certificate or peer auth)."""
    import psycopg

    _check_role(role)
    if not robot_id or len(robot_id) > 64:
        raise FleetError(f"fleet robot id {robot_id!r}: must be 1-64 characters")
    conn = connect(owner_conninfo)
    try:
        with conn.transaction():
            _create_login(conn, role, password, ROBOT_GROUP)
            row = conn.execute(f"SELECT db_role FROM {SCHEMA}.robots WHERE robot_id = %s", (robot_id,)).fetchone()
            if row is not None and row[0] != role:
                raise FleetError(f"fleet robot {robot_id!r} already belongs to role {row[0]!r}, not {role!r}")
            if row is None:
                conn.execute(f"INSERT INTO {SCHEMA}.robots(robot_id, db_role) VALUES (%s, %s)", (robot_id, role))
    except psycopg.Error as exc:
        # never echo the statement: it holds the password
        raise FleetError(f"adding fleet robot {robot_id!r} (role {role}) failed: {type(exc).__name__}") from None
    finally:
        conn.close()


def add_reader(owner_conninfo: str, role: str, password: str | None = None) -> None:
    """A read-only LOGIN role (member of ``robomem_reader``), for the query side; idempotent."""
    import psycopg

    _check_role(role)
    conn = connect(owner_conninfo)
    try:
        with conn.transaction():
            _create_login(conn, role, password, READER_GROUP)
    except psycopg.Error as exc:
        raise FleetError(f"adding fleet reader role {role} failed: {type(exc).__name__}") from None
    finally:
        conn.close()
