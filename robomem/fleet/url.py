"""Fleet connection URLs: connect with libpq's rules, and never let a password reach a log or an error.

A URL is libpq's (``postgresql://role[:password]@host[:port]/db?sslmode=verify-full&sslrootcert=...``).  The
password may also come from ``PGPASSWORD`` or ``~/.pgpass`` (libpq reads both; prefer pgpass, mode 0600).
Everything robomem prints or raises about a connection goes through :func:`redact` / :func:`describe`.
"""

from __future__ import annotations

import re
import urllib.parse
from typing import Any

from robomem.errors import FleetError

__all__ = ["FleetError", "connect", "describe", "redact"]

_SCHEMES = ("postgresql://", "postgres://")
_PASSWORD_KV = re.compile(r"(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)", re.IGNORECASE)


def _check(url: str) -> urllib.parse.SplitResult:
    if not isinstance(url, str) or not url.startswith(_SCHEMES):
        raise FleetError("fleet url: expected postgresql://[role@]host[:port]/database, got a value of another form")
    try:
        return urllib.parse.urlsplit(url)
    except ValueError as exc:
        raise FleetError(f"fleet url {redact(url)}: not a valid URL ({exc})") from None


def redact(url: str) -> str:
    """The URL with any password (in the userinfo or a ``password=`` parameter) replaced by ``***``."""
    if not isinstance(url, str):
        return "<not a string>"
    if not url.startswith(_SCHEMES):
        return _PASSWORD_KV.sub(r"\1***", url)
    try:
        parts = urllib.parse.urlsplit(url)
    except ValueError:
        return url.split("://", 1)[0] + "://***"
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, hostinfo = netloc.rsplit("@", 1)
        user = userinfo.split(":", 1)[0]
        netloc = f"{user}:***@{hostinfo}" if ":" in userinfo else f"{user}@{hostinfo}"
    query = urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
    query = [(k, "***" if k.lower() == "password" else v) for k, v in query]
    return urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, urllib.parse.urlencode(query, safe="*"), ""))


def _password(url: str) -> str | None:
    try:
        parts = urllib.parse.urlsplit(url)
    except ValueError:
        return None
    if parts.password:
        return urllib.parse.unquote(parts.password)
    for k, v in urllib.parse.parse_qsl(parts.query):
        if k.lower() == "password":
            return v
    return None


def describe(url: str) -> str:
    """``host H port P database D as role R`` for messages (libpq defaults shown as such)."""
    parts = _check(url)
    host = parts.hostname or "localhost (PGHOST or socket)"
    try:
        port = str(parts.port or 5432)
    except ValueError:
        port = "?"
    db = parts.path.lstrip("/") or "(default database)"
    user = urllib.parse.unquote(parts.username) if parts.username else "(PGUSER or login name)"
    return f"host {host} port {port} database {db} as role {user}"


def scrub(text: str, url: str) -> str:
    """``text`` with the URL's password (and any ``password=...``) removed: for messages from the driver."""
    pw = _password(url)
    if pw:
        text = text.replace(pw, "***")
        quoted = urllib.parse.quote(pw, safe="")
        if quoted != pw:
            text = text.replace(quoted, "***")
    return _PASSWORD_KV.sub(r"\1***", text)


def connect(url: str, connect_timeout_s: float = 3.0, **kwargs: Any) -> Any:
    """A psycopg connection, or :class:`FleetError` naming host, port, database and role (never the password)."""
    where = describe(url)
    try:
        import psycopg
    except ImportError:
        raise FleetError("fleet memory needs psycopg 3: pip install 'robomem[fleet]'") from None
    try:
        return psycopg.connect(url, connect_timeout=max(1, round(connect_timeout_s)), **kwargs)
    except psycopg.Error as exc:
        reason = scrub(str(exc).strip().replace("\n", " "), url)
        raise FleetError(f"cannot connect to the fleet memory at {where}: {reason}") from None
