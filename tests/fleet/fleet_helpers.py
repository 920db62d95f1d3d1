"""Shared pieces of the fleet tests: small synthetic robots in one shared map frame, and fleet row counts."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import psycopg

from robomem import Memory
from robomem.config import FleetConfig, MemoryConfig
from robomem.fleet.schema import SCHEMA
from robomem.testing.synthetic import BoxScene, demo_boxes, look_at

TARGET = (2.3, -0.3, 0.7)
VIEWS = [(0.0, 0.0, 1.5), (0.2, -0.5, 1.5), (0.3, 0.5, 1.4), (1.0, -2.0, 1.6)]


def robot_config(url: str, robot_id: str, **fleet: object) -> MemoryConfig:
    return MemoryConfig(fleet=FleetConfig(url=url, robot_id=robot_id, **fleet), embedder="hash")  # type: ignore[arg-type]


def small_scene() -> BoxScene:
    return BoxScene(demo_boxes(), width=160, height=120)


def tour(mem: Memory, scene: BoxScene, t0: float, views=VIEWS, step: float = 1.0) -> float:
    t = t0
    for eye in views:
        mem.update(scene.observe(look_at(eye, TARGET), t))
        t += step
    return t


_FLOOR = BoxScene(demo_boxes(), width=16, height=12).observe(look_at((-1.0, 0.0, 1.5), (-3.0, 0.0, 0.0)), 0.0)


def floor_frame(mem: Memory, scene: BoxScene | None, t: float) -> None:
    """A cheap frame (a few ms): a tiny camera looks at empty floor, nothing seen or absent; rendered once."""
    mem.update(dataclasses.replace(_FLOOR, stamp=t))


def fleet_counts(owner_url: str, robot_id: str) -> dict[str, int]:
    with psycopg.connect(owner_url) as c:
        out = {}
        for t in ("frames", "sightings", "absences", "fleet_history", "robot_objects"):
            out[t] = c.execute(f"SELECT count(*) FROM {SCHEMA}.{t} WHERE robot_id = %s", (robot_id,)).fetchone()[0]
        out["distinct_seq"] = c.execute(
            f"SELECT count(DISTINCT seq) FROM {SCHEMA}.frames WHERE robot_id = %s", (robot_id,)
        ).fetchone()[0]
        out["last_seq"] = c.execute(
            f"SELECT last_seq FROM {SCHEMA}.robots WHERE robot_id = %s", (robot_id,)
        ).fetchone()[0]
        return out


def local_payloads(store_path: Path) -> list[dict]:
    """Every outbox payload still in a (closed) store, oldest first."""
    import sqlite3

    conn = sqlite3.connect(store_path / "memory.db")
    try:
        return [json.loads(p) for (p,) in conn.execute("SELECT payload FROM outbox ORDER BY seq")]
    finally:
        conn.close()


def expected_counts(payloads: list[dict]) -> dict[str, int]:
    return {
        "frames": len(payloads),
        "sightings": sum(len(p["sightings"]) for p in payloads),
        "absences": sum(len(p["absences"]) for p in payloads),
    }
