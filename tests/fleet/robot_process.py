"""A robot process for the fault tests: updates its memory in a loop with FleetSync running beside it.

usage: python robot_process.py STORE URL ROBOT_ID N_FRAMES
Prints "frame <seq>" after each committed update (flushed), so the parent knows what is committed.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from fleet_helpers import floor_frame, robot_config, small_scene, tour  # noqa: E402

from robomem import Memory  # noqa: E402
from robomem.fleet.sync import FleetSync  # noqa: E402


def main() -> None:
    store, url, robot_id, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    scene = small_scene()
    with Memory.open(store, robot_config(url, robot_id, batch_frames=5, retry_s=0.2)) as mem:
        start = mem.newest_stamp + 1.0 if mem.frames.count() else 0.0
        with FleetSync(mem):
            t = tour(mem, scene, start)
            print(f"frame {mem.frames.count()}", flush=True)
            while mem.frames.count() < n:
                floor_frame(mem, scene, t)
                t += 1.0
                print(f"frame {mem.frames.count()}", flush=True)


if __name__ == "__main__":
    main()
