"""One identity across robots, and conflicts resolved by valid time with the bi-temporal history kept."""

from __future__ import annotations

import psycopg
from fleet_helpers import VIEWS, robot_config, small_scene, tour

from robomem import Memory
from robomem.fleet.identity import names_same_thing
from robomem.fleet.schema import SCHEMA
from robomem.fleet.sync import FleetSync
from robomem.testing.synthetic import look_at


def _mug_rows(owner_url: str, robots: tuple[str, ...]) -> list[tuple]:
    with psycopg.connect(owner_url) as c:
        return c.execute(
            f"SELECT DISTINCT f.fleet_id, f.status, f.status_since, f.status_robot, f.last_robot FROM {SCHEMA}.fleet_objects f "
            f"JOIN {SCHEMA}.robot_objects r ON r.fleet_id = f.fleet_id "
            "WHERE f.label = 'red mug' AND r.robot_id = ANY(%s)",
            (list(robots),),
        ).fetchall()


def test_two_robots_seeing_one_mug_make_one_fleet_object_and_a_later_absence_wins(
    tmp_path, fleet_db, new_robot
) -> None:
    a, b = new_robot("a"), new_robot("b")
    scene_a, scene_b = small_scene(), small_scene()  # one room, one shared map frame
    with (
        Memory.open(tmp_path / "a", robot_config(a.url, a.robot_id)) as ma,
        Memory.open(tmp_path / "b", robot_config(b.url, b.robot_id)) as mb,
    ):
        # B tours at t = 0..3; A tours later, at t = 50..53 (its own ids, its own store)
        tour(mb, scene_b, 0.0)
        tour(ma, scene_a, 50.0, views=list(reversed(VIEWS)))
        sa, sb = FleetSync(ma), FleetSync(mb)
        sb.sync_once()
        sa.sync_once()
        mugs = _mug_rows(fleet_db.owner_url, (a.robot_id, b.robot_id))
        assert len(mugs) == 1, mugs  # one mug, seen by both robots
        fid = mugs[0][0]
        assert mugs[0][1] == "present" and mugs[0][4] == a.robot_id  # A saw it last (t = 53)
        with psycopg.connect(fleet_db.owner_url) as c:
            seen_by = {
                r[0]
                for r in c.execute(
                    f"SELECT robot_id FROM {SCHEMA}.fleet_history WHERE fleet_id = %s AND kind = 'seen'", (fid,)
                )
            }
            assert seen_by == {a.robot_id, b.robot_id}
            n_objects = {
                rid: c.execute(
                    f"SELECT count(DISTINCT fleet_id) FROM {SCHEMA}.robot_objects WHERE robot_id = %s", (rid,)
                ).fetchone()[0]
                for rid in (a.robot_id, b.robot_id)
            }
            shared = c.execute(
                f"SELECT count(*) FROM (SELECT fleet_id FROM {SCHEMA}.robot_objects WHERE robot_id = ANY(%s) "
                "GROUP BY fleet_id HAVING count(DISTINCT robot_id) = 2) s",
                ([a.robot_id, b.robot_id],),
            ).fetchone()[0]
        assert shared == min(n_objects.values())  # every object both saw is one fleet object

        # t2 = 100 > t1 = 53: the mug is gone and B looks at the table
        scene_b.boxes = [x for x in scene_b.boxes if x.label != "red mug"]
        r = mb.update(scene_b.observe(look_at((3.0, 0.1, 1.4), (1.8, 0.1, 0.8)), 100.0))
        assert r.absences, "B should observe the mug absent"
        sb.sync_once()
        (row,) = _mug_rows(fleet_db.owner_url, (a.robot_id, b.robot_id))
        assert row[1:4] == ("absent", 100.0, b.robot_id)
        # older evidence arriving late (A offline, catching up with a sighting at t = 60 < 100) never overrides
        ma.update(scene_a.observe(look_at(VIEWS[0], (2.3, -0.3, 0.7)), 60.0))
        sa.sync_once()
        (row,) = _mug_rows(fleet_db.owner_url, (a.robot_id, b.robot_id))
        assert row[1:4] == ("absent", 100.0, b.robot_id)
        with psycopg.connect(fleet_db.owner_url) as c:
            hist = c.execute(
                f"SELECT robot_id, kind, stamp, recorded_at FROM {SCHEMA}.fleet_history WHERE fleet_id = %s ORDER BY stamp",
                (fid,),
            ).fetchall()
        kinds = {(rid, kind) for rid, kind, _, _ in hist}
        assert {(a.robot_id, "seen"), (b.robot_id, "seen"), (b.robot_id, "absent")} <= kinds
        assert any(rid == a.robot_id and kind == "seen" and stamp == 60.0 for rid, kind, stamp, _ in hist)
        assert all(rec is not None for *_, rec in hist)  # transaction time kept beside valid time


def test_the_label_rule_is_the_single_robot_one() -> None:
    assert names_same_thing({"red mug": 3}, {"red mug": 1, "cup": 1})
    assert names_same_thing({"mug": 2}, {"red mug": 5})  # head noun
    assert names_same_thing({"The Mugs": 1}, {"mug": 1})  # normalised
    assert names_same_thing({"cup": 3, "mug": 1}, {"mug": 4})  # share >= MIN_SHARE
    assert not names_same_thing({"red mug": 1}, {"white mug": 1})
    assert not names_same_thing({"book": 1}, {"table": 1})
