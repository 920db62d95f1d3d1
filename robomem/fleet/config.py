"""The ``memory.fleet`` settings (a section of :class:`robomem.config.MemoryConfig`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar

from robomem.config_rules import GE0, GE1, GT0, Checked, RangeError, Rule

__all__ = ["FleetConfig"]


@dataclass(frozen=True)
class FleetConfig(Checked):
    """The fleet memory on PostgreSQL (docs/architecture.md "Fleet memory"): empty ``url`` = no fleet.

    ``url`` is a libpq URL (``postgresql://role@host:5432/db?sslmode=verify-full``); the password may come
    from it, from ``PGPASSWORD`` or from ``~/.pgpass`` and is never logged.  With a url set, every update
    also writes an outbox row in the same SQLite transaction, which :class:`robomem.fleet.sync.FleetSync`
    delivers."""

    url: str = ""
    robot_id: str = "robot"  # this robot's id in the fleet (the rows it may write: row-level security)
    batch_frames: int = 50  # outbox rows applied per PostgreSQL transaction
    retry_s: float = 2.0  # first retry delay after a failure; doubles up to 30 s
    connect_timeout_s: float = 3.0
    match_radius_m: float = 0.5  # fleet identity: candidates within this distance in the shared map frame
    keep_sent: int = 1000  # acknowledged outbox rows kept locally (older ones are pruned)

    RANGES: ClassVar[Mapping[str, Rule]] = {
        "batch_frames": GE1,
        "retry_s": GT0,
        "connect_timeout_s": GT0,
        "match_radius_m": GT0,
        "keep_sent": GE0,
    }

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.url and not self.url.startswith(("postgresql://", "postgres://")):
            raise RangeError("FleetConfig", "url", "must be empty or a postgresql:// URL")
        rid = self.robot_id
        if not rid or len(rid) > 64 or not all(c.isalnum() or c in "_-." for c in rid):
            raise RangeError("FleetConfig", "robot_id", f"must be 1-64 letters, digits, '_', '-' or '.', got {rid!r}")
