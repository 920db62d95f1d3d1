"""Forgetting under a budget: compress and drop low-value detail, never the latest state or a valid fact."""

from __future__ import annotations

from robomem import Event, Memory, MemoryConfig, Place
from robomem.testing.synthetic import Box, BoxScene, look_at

PLACES = [Place("kitchen", (0, -3), (4, 3)), Place("living_room", (4, -3), (8, 3))]
KITCHEN_VIEW = look_at((2, -2.0, 1.8), (2, 0, 0.7))
KITCHEN_VIEW_2 = look_at((2.3, -1.9, 1.7), (2, 0, 0.7))
LIVING_VIEW = look_at((6, -2.0, 1.8), (6, 0.2, 0.6))


def scene(mug_room: str) -> BoxScene:
    mug = (1.7, 0.1, 0.85) if mug_room == "kitchen" else (6.2, 0.2, 0.9)
    return BoxScene(
        [
            Box(1, "kitchen table", (2, 0, 0.375), (1.2, 0.8, 0.75), (140, 90, 40)),
            Box(2, "sofa", (6, 0.2, 0.4), (1.6, 0.8, 0.8), (60, 60, 160)),
            Box(3, "red mug", (*mug[:2], mug[2]), (0.2, 0.2, 0.2), (220, 30, 30)),
        ],
        160,
        120,
        hfov_deg=60,
    )


def memory(path, embedder, **budget) -> Memory:
    budget.setdefault("check_every", 100_000)  # tests call enforce_budget themselves unless they say otherwise
    budget.setdefault("keep_recent_s", 0.0)
    mem = Memory.open(path, config=MemoryConfig.from_dict({"budget": budget}), embedder=embedder)
    mem.set_places(PLACES)
    return mem


def run_days(mem: Memory, passes: int, t: float = 0.0) -> float:
    """Each pass: the mug is in one room; the robot looks at the old place first, then the new one."""
    rooms = ["kitchen", "living_room"]
    for i in range(passes):
        room, old = rooms[i % 2], rooms[(i + 1) % 2]
        sc = scene(room)
        views = [KITCHEN_VIEW if old == "kitchen" else LIVING_VIEW] + [KITCHEN_VIEW, KITCHEN_VIEW_2, LIVING_VIEW] * 3
        for v in views:
            mem.update(sc.observe(v, t))
            t += 10.0
        t += 3600.0
    return t


def test_sightings_merge_into_intervals_and_latest_state_survives(tmp_path, embedder):
    with memory(tmp_path / "m", embedder, max_sighting_rows=12) as mem:
        t = run_days(mem, 4)
        ids = {o.label: o.object_id for o in mem.objects() if o.status != "absent"}
        conn = mem.store.read()
        n_before = dict(conn.execute("SELECT object_id, SUM(n) FROM sightings GROUP BY object_id").fetchall())
        rows_before = conn.execute("SELECT COUNT(*) FROM sightings").fetchone()[0]
        last = {oid: mem.temporal.last_seen(oid) for oid in ids.values()}
        where_before = {oid: mem.temporal.where_at(oid, 5.0).place for oid in ids.values()}
        mug_hist = [f.object for f in mem.semantic.history(ids["red mug"], "located_in")]
        report = mem.enforce_budget()
        rows_after = conn.execute("SELECT COUNT(*) FROM sightings").fetchone()[0]
        assert rows_before > 12 >= rows_after and report["sightings_merged"] > 0
        # Merging keeps every sighting's count: n moved into intervals.
        if not report["sightings_dropped"]:
            assert (
                dict(conn.execute("SELECT object_id, SUM(n) FROM sightings GROUP BY object_id").fetchall()) == n_before
            )
        for oid, s in last.items():
            assert mem.temporal.last_seen(oid) == s  # the in-memory latest is unchanged …
            row = conn.execute("SELECT t_end, n FROM sightings WHERE id=?", (s.row_id,)).fetchone()
            assert row == (s.t_end, 1)  # … and its row is still there
            assert mem.temporal.where_at(oid, 5.0).place == where_before[oid]
        # The current state and the fact history are intact.
        assert mem.semantic.where_is(ids["red mug"]).object == "place:living_room"
        assert [f.object for f in mem.semantic.history(ids["red mug"], "located_in")] == mug_hist
        merged = conn.execute("SELECT MAX(n) FROM sightings").fetchone()[0]
        assert merged > 1
        # Consistent after a restart.
    with Memory.open(tmp_path / "m", embedder=embedder) as mem:
        for oid, s in last.items():
            assert mem.temporal.last_seen(oid).row_id == s.row_id
        assert t > 0


def test_closed_facts_dropped_first_valid_ones_never(tmp_path, embedder):
    with memory(tmp_path / "m", embedder, max_fact_rows=6) as mem:
        for i in range(12):
            mem.add_event(Event(float(i), "fact", f"charger | belongs_to | person{i}"))
        mem.add_event(Event(20.0, "fact", "red mug | belongs_to | Anna"))
        mem.add_event(Event(21.0, "fact", "keys | located_in | hallway"))
        valid = {f.fact_id for f in mem.semantic.open_facts()}
        report = mem.enforce_budget()
        assert report["facts_dropped"] > 0
        left = mem.semantic.facts(include_closed=True)
        assert len(left) <= 6
        assert valid <= {f.fact_id for f in left}  # every still-valid fact survives
        assert [f.object_name for f in mem.semantic.facts("charger", "belongs_to")] == ["person11"]
        hist = mem.semantic.history("charger", "belongs_to")
        assert hist[-1].object_name == "person11" and all(h.fact_id > 6 for h in hist[:-1])  # the oldest went
        assert (
            mem.store.read()
            .execute("SELECT COUNT(*) FROM fact_evidence WHERE fact_id NOT IN (SELECT id FROM facts)")
            .fetchone()[0]
            == 0
        )


def test_old_episode_steps_are_summarised(tmp_path, embedder):
    with memory(tmp_path / "m", embedder, max_episode_steps=8) as mem:
        for i in range(4):
            mem.begin_episode(f"tidy room {i}", stamp=100.0 * i)
            for j in range(4):
                mem.add_step(action=f"pick up toy {j}", result="ok", stamp=100.0 * i + j + 1)
            mem.end_episode("success", stamp=100.0 * i + 10)
        open_id = mem.begin_episode("tidy room now", stamp=500.0)
        mem.add_step(action="pick up ball", stamp=501.0)
        report = mem.enforce_budget()
        assert report["steps_summarised"] > 0
        assert mem.stats()["rows"]["steps"] <= 8
        summarised = [
            e for e in mem.episodic.episodes() if [s.kind for s in mem.episodic.steps(e.episode_id)] == ["summary"]
        ]
        assert summarised
        s = mem.episodic.steps(summarised[0].episode_id)[0]
        assert s.n == 4 and "pick up toy 0" in s.observation and "4 steps" in s.observation
        assert [x.action for x in mem.episodic.steps(open_id)] == ["pick up ball"]  # the open episode is untouched
        # Summaries are still found by search.
        hit = mem.episodic.similar("tidy the room by picking up toys", k=1)[0]
        assert hit.steps


def test_snapshots_thinned_blobs_collected_and_automatic_checks(tmp_path, embedder):
    with memory(tmp_path / "m", embedder, max_snapshots=1, max_sighting_rows=30, check_every=10) as mem:
        run_days(mem, 3)
        snaps = mem.spatial.snapshots()
        assert len(snaps) <= 1  # enforced automatically every 10 updates
        blobs = {p.parent.name + p.name for p in (mem.path / "blobs").rglob("*") if p.is_file()}
        assert blobs == mem.spatial.referenced_blobs()
        for o in mem.objects():
            for s in mem.spatial.best_snapshots(o.object_id):
                assert s.snapshot_id in {x.snapshot_id for x in snaps}
        assert mem.stats()["rows"]["sightings"] <= 30 + 10 * 3
        assert mem.semantic.where_is("red mug") is not None


def test_vacuum_gives_disk_back(tmp_path, embedder):
    with memory(tmp_path / "m", embedder, max_sighting_rows=50, max_frame_rows=20) as mem:
        t = run_days(mem, 6)
        mem.add_event(Event(t, "fact", "red mug | belongs_to | Anna"))
        report = mem.enforce_budget()
        assert report["frames_dropped"] > 0
        assert report["rows_after"]["frames"] <= 20 and report["rows_after"]["sightings"] <= 50
        assert report["bytes_after"] <= report["bytes_before"]
        assert mem.trajectory()[-1][0] == mem.newest_stamp  # the newest pose is kept
