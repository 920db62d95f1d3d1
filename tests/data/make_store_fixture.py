"""Write tests/data/store_v2: a tiny store made by the current robomem (schema version 2).

Run from the repository root when the fixture must be regenerated:

    .venv/bin/python tests/data/make_store_fixture.py

It is committed so that future schema versions can test their migration from a
real version-2 store.  Do not regenerate it after SCHEMA_VERSION changes: write
a store_v<N> fixture next to it instead.  tests/test_crash_safety.py checks what
it holds (six objects, eight frames, the red mug moved into the living room).
"""

from __future__ import annotations

import shutil
import sqlite3
import sys
from pathlib import Path

from robomem import Event, Memory, MemoryConfig, Place
from robomem.config import SpatialConfig
from robomem.retrieval.embedding import make_embedder
from robomem.store.database import SCHEMA_VERSION
from robomem.testing.synthetic import Box, BoxScene, demo_boxes, look_at

HERE = Path(__file__).parent
TARGET = (2.3, -0.3, 0.7)
VIEWS = [(0.0, 0.0, 1.5), (0.2, -0.5, 1.5), (0.3, 0.5, 1.4), (1.0, -2.0, 1.6), (4.5, 1.0, 1.6)]
PLACES = [Place("kitchen", (-1, -3), (2.0, 3)), Place("living room", (2.0, -3), (6, 3))]


def make(out: Path) -> None:
    if SCHEMA_VERSION != 2:
        sys.exit(f"this fixture is schema version 2; robomem is at {SCHEMA_VERSION}: add a new fixture instead")
    if out.exists():
        shutil.rmtree(out)
    # Small keyframe images and few points per object keep the fixture small.
    config = MemoryConfig(spatial=SpatialConfig(snapshot_image_width=64, max_points_per_object=300))
    boxes = demo_boxes()
    scene = BoxScene(boxes, 320, 240)
    with Memory.open(out, config=config, embedder=make_embedder("auto")) as mem:
        mem.set_places(PLACES)
        mem.add_event(Event(99.5, "instruction", "bring me the red mug"))
        t = 100.0
        for eye in VIEWS:
            mem.update(scene.observe(look_at(eye, TARGET), t))
            t += 1.0
        mem.add_event(Event(104.5, "action", "pick up the red mug"))
        mem.add_event(Event(104.6, "outcome", "failed: the mug slipped"))
        # The mug falls to the living-room floor: absent from the table, then re-identified.
        scene.boxes[1] = Box(2, "red mug", (4.0, 0.8, 0.05), (0.1, 0.1, 0.1), (220, 30, 30))
        mem.update(scene.observe(look_at((0.3, 0.2, 1.4), (1.8, 0.1, 0.8)), 105.0))
        mem.update(scene.observe(look_at((3.0, 0.0, 1.2), (4.0, 0.8, 0.05)), 106.0))
        mem.update(scene.observe(look_at((2.8, 0.6, 1.3), (4.0, 0.8, 0.05)), 107.0))
        stats = mem.stats()
    conn = sqlite3.connect(out / "memory.db")
    conn.execute("VACUUM")
    conn.close()
    for name in ("LOCK", "memory.db-wal", "memory.db-shm"):
        (out / name).unlink(missing_ok=True)
    size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    print(f"wrote {out}: {size} bytes, {stats['rows']}")


if __name__ == "__main__":
    make(HERE / "store_v2")
