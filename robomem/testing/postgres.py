"""A throwaway PostgreSQL cluster for tests and benchmarks: initdb + pg_ctl on a free loopback port.

PostgreSQL refuses to run as root, so when the caller is root every server command runs as the
unprivileged ``postgres`` user (``setpriv``), in a temporary directory that user owns.  The owner role
(a superuser of this cluster only) logs in with a password over TCP (scram-sha-256), so a wrong password is
refused like on a real server.  ``kill()`` is a crash (SIGKILL to the postmaster and its backends);
``start()`` after it runs crash recovery.

    with PostgresCluster() as pg:
        url = pg.owner_url()          # postgresql://robomem_owner:...@127.0.0.1:PORT/fleet
"""

from __future__ import annotations

import contextlib
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

__all__ = ["PG_BIN", "PostgresCluster", "PostgresUnavailable", "free_port"]

PG_BIN = Path(os.environ.get("ROBOMEM_PG_BIN", "/usr/lib/postgresql/15/bin"))
OWNER = "robomem_owner"
DATABASE = "fleet"


class PostgresUnavailable(RuntimeError):
    """The test cluster could not be created or started (binaries missing, initdb or pg_ctl failed)."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PostgresCluster:
    """One PostgreSQL 15 cluster in a temporary directory; ``start``/``stop``/``kill``/``restart``."""

    def __init__(self, base_dir: str | os.PathLike[str] | None = None, port: int | None = None) -> None:
        for tool in ("initdb", "pg_ctl", "postgres"):
            if not (PG_BIN / tool).exists():
                raise PostgresUnavailable(
                    f"{PG_BIN / tool} not found: install the Debian package postgresql (PostgreSQL 15) "
                    "or set ROBOMEM_PG_BIN"
                )
        self._as_root = os.geteuid() == 0
        self._user = pwd.getpwnam("postgres") if self._as_root else None
        self.root = Path(tempfile.mkdtemp(prefix="robomem-pg-", dir=base_dir))
        self.data = self.root / "data"
        self.socket_dir = self.root / "sock"
        self.log_path = self.root / "server.log"
        self.port = port or free_port()
        self.password = secrets.token_urlsafe(16)
        self.database = DATABASE
        self.owner = OWNER
        self._initdb()

    # -- commands as the server user -------------------------------------------------
    def _cmd(self, *args: str) -> list[str]:
        if self._user is None:
            return list(args)
        return ["setpriv", f"--reuid={self._user.pw_uid}", f"--regid={self._user.pw_gid}", "--init-groups", *args]

    def _run(self, *args: str, timeout: float = 120.0) -> subprocess.CompletedProcess[str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        env["LC_ALL"] = "C"
        try:
            return subprocess.run(
                self._cmd(*args), capture_output=True, text=True, timeout=timeout, env=env, cwd=self.root, check=False
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise PostgresUnavailable(f"{args[0]}: {exc}") from exc

    def _initdb(self) -> None:
        self.socket_dir.mkdir()
        pwfile = self.root / "pw"
        pwfile.write_text(self.password + "\n")
        pwfile.chmod(0o600)
        if self._user is not None:
            for p in (self.root, self.socket_dir, pwfile):
                os.chown(p, self._user.pw_uid, self._user.pw_gid)
        r = self._run(
            str(PG_BIN / "initdb"),
            "-D",
            str(self.data),
            "-U",
            self.owner,
            "--auth=scram-sha-256",
            f"--pwfile={pwfile}",
            "-E",
            "UTF8",
            "--no-instructions",
            "--no-sync",
        )
        pwfile.unlink()
        if r.returncode != 0:
            raise PostgresUnavailable(f"initdb failed ({r.returncode}): {r.stderr.strip()[-2000:]}")
        with (self.data / "postgresql.conf").open("a") as f:
            f.write(
                f"\nlisten_addresses = '127.0.0.1'\nport = {self.port}\nunix_socket_directories = '{self.socket_dir}'\n"
                "fsync = on\nmax_connections = 100\nshared_buffers = 64MB\n"
            )
        self.start()
        self._psql_owner(f"CREATE DATABASE {self.database}", db="postgres")

    def _psql_owner(self, sql: str, db: str | None = None) -> None:
        import psycopg  # the fleet extra; imported here so robomem.testing itself needs no PostgreSQL client

        try:
            with psycopg.connect(self.url(self.owner, self.password, db or self.database), autocommit=True) as conn:
                conn.execute(sql)  # type: ignore[arg-type]
        except psycopg.Error as exc:
            raise PostgresUnavailable(f"owner statement failed: {exc}") from exc

    # -- lifecycle -------------------------------------------------------------------
    def start(self, timeout: float = 60.0) -> None:
        r = self._run(
            str(PG_BIN / "pg_ctl"),
            "-D",
            str(self.data),
            "-l",
            str(self.log_path),
            "-w",
            "-t",
            str(int(timeout)),
            "start",
        )
        if r.returncode != 0:
            tail = ""
            with contextlib.suppress(OSError):
                tail = self.log_path.read_text(errors="replace")[-2000:]
            raise PostgresUnavailable(f"pg_ctl start failed ({r.returncode}): {r.stderr.strip()} {tail}")

    def stop(self) -> None:
        """A clean shutdown (``pg_ctl stop -m fast``: open sessions are ended)."""
        if self.running():
            self._run(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop")

    def kill(self) -> None:
        """A crash: SIGKILL to the postmaster and every backend; the next ``start()`` runs recovery."""
        pid = self.pid()
        if pid is None:
            return
        victims = [pid, *self._children(pid)]
        for p in victims:
            with contextlib.suppress(ProcessLookupError):
                os.kill(p, signal.SIGKILL)
        deadline = time.monotonic() + 10.0
        while time.monotonic() < deadline and any(_alive(p) for p in victims):
            time.sleep(0.05)
        # the dead postmaster may linger as a zombie until its (re)parent reaps it; postgres would take that pid
        # for a live server, so the lock file of the dead one goes (what an operator does after a crash)
        for stale in (self.data / "postmaster.pid", *self.socket_dir.glob(".s.PGSQL.*")):
            with contextlib.suppress(OSError):
                stale.unlink()

    def restart(self) -> None:
        self.stop()
        self.start()

    def pid(self) -> int | None:
        """The postmaster's pid while it runs, else None."""
        try:
            pid = int((self.data / "postmaster.pid").read_text().split("\n", 1)[0])
        except (OSError, ValueError):
            return None
        return pid if _alive(pid) else None

    def running(self) -> bool:
        return self.pid() is not None

    @staticmethod
    def _children(pid: int) -> list[int]:
        out = []
        for d in Path("/proc").iterdir():
            if not d.name.isdigit():
                continue
            try:
                stat = (d / "stat").read_text()
            except OSError:
                continue
            # pid (comm) state ppid ...: comm may hold spaces, so split after the last ")"
            fields = stat.rsplit(")", 1)[-1].split()
            if len(fields) > 1 and int(fields[1]) == pid:
                out.append(int(d.name))
        return out

    # -- connecting ------------------------------------------------------------------
    def url(self, user: str, password: str | None = None, database: str | None = None) -> str:
        auth = user if password is None else f"{user}:{password}"
        return f"postgresql://{auth}@127.0.0.1:{self.port}/{database or self.database}"

    def owner_url(self) -> str:
        """The owner (superuser of this cluster) URL, password included."""
        return self.url(self.owner, self.password)

    def close(self) -> None:
        """Stop the server and delete its directory."""
        with contextlib.suppress(PostgresUnavailable):
            self.stop()
        if self.running():
            self.kill()
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> PostgresCluster:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie (dead, not yet reaped) does not count
    with contextlib.suppress(OSError):
        if (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[-1].split()[0] == "Z":
            return False
    return True
