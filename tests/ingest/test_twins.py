"""Identical twins stay apart (issue 15): a look-alike first seen where the robot never looked is a new
object, not the absent twin re-identified; a look-alike appearing where the robot did look is the moved one.

Real rendered frames (robomem.testing.synthetic) through Memory.update.
"""

from __future__ import annotations

import numpy as np

from robomem import Memory
from robomem.testing.synthetic import Box, BoxScene, look_at

TABLE_1 = Box(1, "table", (0.0, 0.0, 0.375), (0.8, 0.6, 0.75), (140, 90, 40))
TABLE_2 = Box(4, "table", (0.0, 3.0, 0.375), (0.8, 0.6, 0.75), (140, 90, 40))
DUCK_1 = Box(2, "duck", (0.0, 0.0, 0.80), (0.1, 0.08, 0.1), (230, 200, 30))
DUCK_2 = Box(3, "duck", (0.0, 3.0, 0.80), (0.1, 0.08, 0.1), (230, 200, 30))  # identical
AT_1 = [look_at((-1.2, y, 1.3), (0.0, 0.0, 0.8)) for y in (0.0, -0.2)]
AT_2 = [look_at((-1.2, y, 1.3), (0.0, 3.0, 0.8)) for y in (3.0, 3.2)]


def scene(*boxes: Box) -> BoxScene:
    return BoxScene([TABLE_1, TABLE_2, *boxes], 640, 480, hfov_deg=60)


def run(mem: Memory, steps: list[tuple[BoxScene, list]]) -> list:
    out, t = [], 0.0
    for sc, poses in steps:
        for pose in poses:
            out.append(mem.update(sc.observe(pose, t)))
            t += 1.0
    return out


def test_a_twin_first_seen_where_the_robot_never_looked_is_not_the_absent_one(tmp_path) -> None:
    with Memory.open(tmp_path / "store") as mem:
        # duck 1 seen, then taken away (its place seen empty), then duck 2 seen where the robot had never looked
        results = run(mem, [(scene(DUCK_1, DUCK_2), AT_1), (scene(DUCK_2), AT_1), (scene(DUCK_2), AT_2)])
        ducks = sorted(mem.objects("duck"), key=lambda o: o.object_id)
    assert any(results[i].absences for i in (2, 3))  # duck 1 observed absent
    assert not any(r.reidentified for r in results)
    assert len(ducks) == 2
    gone, other = ducks
    assert gone.status == "absent" and gone.n_obs == 2
    assert other.status == "present" and other.n_obs == 2
    assert np.linalg.norm(np.asarray(gone.centroid) - np.asarray(DUCK_1.center)) < 0.05
    assert np.linalg.norm(np.asarray(other.centroid) - np.asarray(DUCK_2.center)) < 0.05


def test_a_look_alike_appearing_where_the_robot_looked_is_the_moved_one(tmp_path) -> None:
    moved = DUCK_1.moved_to(0.0, 3.0)
    with Memory.open(tmp_path / "store") as mem:
        # both tables seen with one duck; the duck moves to the second table; its old place seen empty
        run(mem, [(scene(DUCK_1), AT_1 + AT_2), (scene(moved), AT_1), (scene(moved), AT_2)])
        ducks = mem.objects("duck")
    assert len(ducks) == 1
    assert ducks[0].status == "present"
    assert np.linalg.norm(np.asarray(ducks[0].centroid) - np.asarray(moved.center)) < 0.05
