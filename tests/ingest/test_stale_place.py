"""A remembered object whose place another kind of object came to occupy is observed absent (issue 15).

Real rendered frames (robomem.testing.synthetic) through Memory.update: a mug on a table, then the mug
taken away and a bowl put in its place.
"""

from __future__ import annotations

from robomem import Memory
from robomem.testing.synthetic import Box, BoxScene, look_at

TABLE = Box(1, "table", (0.0, 0.0, 0.375), (1.0, 0.6, 0.75), (140, 90, 40))
MUG = Box(2, "mug", (0.1, 0.0, 0.80), (0.09, 0.09, 0.10), (200, 30, 30))
BOWL = Box(3, "bowl", (0.1, 0.0, 0.80), (0.16, 0.16, 0.10), (30, 30, 200))
VIEWS = [look_at((-1.2, y, 1.3), (0.1, 0.0, 0.75)) for y in (-0.2, 0.0, 0.2)]


def test_a_mug_replaced_by_a_bowl_is_not_kept_at_its_old_place(tmp_path) -> None:
    before = BoxScene([TABLE, MUG], 640, 480, hfov_deg=70)
    after = BoxScene([TABLE, BOWL], 640, 480, hfov_deg=70)
    with Memory.open(tmp_path / "store") as mem:
        for i, pose in enumerate(VIEWS):
            mem.update(before.observe(pose, float(i)))
        assert [o.status for o in mem.objects("mug")] == ["present"]
        for i, pose in enumerate(VIEWS):
            mem.update(after.observe(pose, 10.0 + i))
        mugs = mem.objects("mug")
        bowls = mem.objects("bowl")
        present = sorted(o.label for o in mem.objects() if o.status == "present")
    assert len(bowls) == 1 and bowls[0].status == "present"
    assert [o.status for o in mugs] == ["absent"]
    assert present == ["bowl", "table"]  # the count of things on the table is one, not two
