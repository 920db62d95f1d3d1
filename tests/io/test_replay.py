"""Replay: recorded bags (MCAP and rosbag2 sqlite3) -> the same memory as feeding the simulator directly."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from robomem import Memory, MemoryConfig
from robomem.cli.main import main as cli
from robomem.envs.record import Recording, synthetic_recording, truth_path, write_bag
from robomem.errors import ConfigError
from robomem.io.bag import BagError, BagReader, suggest_mapping, summarize
from robomem.io.bag_writer import BagWriter
from robomem.io.replay import ReplayConfig, ReplayError, TopicMap, replay

DATA = Path(__file__).parents[1] / "data"
FIXTURE = DATA / "tour.mcap"


@pytest.fixture(scope="module")
def rec() -> Recording:
    return synthetic_recording(n_frames=20, width=160, height=120, rate_hz=10.0)


def _cfg() -> MemoryConfig:
    return MemoryConfig.from_dict({"embedder": "hash"})


def _objects(mem: Memory) -> list[tuple[str, str, int, np.ndarray]]:
    return [(o.label, o.status, o.n_obs, np.array(o.centroid)) for o in mem.objects()]


@pytest.fixture(scope="module")
def direct(rec: Recording, tmp_path_factory: pytest.TempPathFactory) -> list[tuple[str, str, int, np.ndarray]]:
    with Memory.open(tmp_path_factory.mktemp("direct"), _cfg()) as mem:
        for f in rec.frames:
            mem.update(f.observation(rec.intrinsics))
        return _objects(mem)


def _assert_same(a: list, b: list, tol: float = 0.06) -> None:
    """Same objects (label, status) at the same places. The images fall between /tf stamps, so replay
    sees interpolated poses: a small object at the edge of detectability may count one sighting more
    or less, which is all n_obs may differ by."""
    assert [(x[0], x[1]) for x in a] == [(x[0], x[1]) for x in b]
    for x, y in zip(a, b, strict=True):
        assert abs(x[2] - y[2]) <= 1, (x, y)
        assert np.linalg.norm(x[3] - y[3]) < tol, (x, y)


def _replay(bag: Path, store: Path, cfg: ReplayConfig | None = None):
    with Memory.open(store, _cfg()) as mem:
        stats = replay(bag, mem, cfg)
        return stats, _objects(mem)


def test_fixture_is_small_and_matches_the_recorder(rec: Recording) -> None:
    assert FIXTURE.exists(), "run tests/data/make_fixture.py"
    assert FIXTURE.stat().st_size + truth_path(FIXTURE).stat().st_size < 2_000_000
    truth = json.loads(truth_path(FIXTURE).read_text())
    assert len(truth["frames"]) == 20
    assert {o["label"] for o in truth["objects"]} == {"table", "red mug", "book", "chair", "shelf", "white mug"}
    assert truth["changes"][0]["label"] == "red mug"


def test_mcap_fixture_round_trip_equals_direct_feed(direct: list, tmp_path: Path) -> None:
    stats, objs = _replay(FIXTURE, tmp_path / "s")
    assert stats.frames == 20 and stats.events == 2 and not stats.skipped
    _assert_same(direct, objs)
    labels = sorted(o[0] for o in objs)
    # the moved mug: seen at its new place first, then its old place empty -> merged into one identity
    assert labels.count("red mug") == 1
    assert [o[1] for o in objs if o[0] == "red mug"] == ["present"]


def test_sqlite3_and_16uc1_depth_round_trip(rec: Recording, direct: list, tmp_path: Path) -> None:
    bag = write_bag(rec, tmp_path / "bag_sqlite", storage="sqlite3", depth_encoding="16UC1")
    assert (bag / "metadata.yaml").exists() and list(bag.glob("*.db3"))
    stats, objs = _replay(bag, tmp_path / "s")
    assert stats.frames == 20
    _assert_same(direct, objs, tol=0.08)  # millimetre depth changes which points survive voxelisation


def test_replay_is_deterministic(tmp_path: Path) -> None:
    import sqlite3

    rows = []
    for name in ("a", "b"):
        _replay(FIXTURE, tmp_path / name)
        con = sqlite3.connect(tmp_path / name / "memory.db")
        rows.append(
            (
                con.execute("SELECT id, label, cx, cy, cz, n_obs, status, points FROM objects ORDER BY id").fetchall(),
                con.execute("SELECT object_id, t_start, x, y, z FROM sightings ORDER BY id").fetchall(),
                con.execute("SELECT stamp, x, y, z, qx, qy, qz, qw FROM frames ORDER BY idx").fetchall(),
            )
        )
        con.close()
    assert rows[0] == rows[1]


def test_inspect_lists_topics_rates_and_suggests_mapping(capsys: pytest.CaptureFixture[str]) -> None:
    with BagReader(FIXTURE) as r:
        s = summarize(r)
    by = {t.topic: t for t in s.topics}
    assert by["/camera/depth/image_raw"].count == 20
    assert by["/camera/depth/image_raw"].rate_hz == pytest.approx(10.0, rel=1e-3)
    assert by["/tf"].rate_hz == pytest.approx(20.0, rel=1e-3)
    assert by["/camera/instance_labels"].msgtype == "robomem_interfaces/msg/InstanceLabels"
    m = suggest_mapping(s)
    assert m["depth"] == "/camera/depth/image_raw" and m["color"] == "/camera/color/image_raw"
    assert m["instances"] == "/camera/instances" and m["labels"] == "/camera/instance_labels"
    assert cli(["replay", "--inspect", str(FIXTURE)]) == 0
    out = capsys.readouterr().out
    assert "/camera/color/camera_info" in out and "10.0 Hz" in out and "suggested mapping" in out


@pytest.mark.parametrize("decoder", ["inline", "process"])
def test_cli_replay_then_query(tmp_path: Path, capsys: pytest.CaptureFixture[str], decoder: str) -> None:
    store = tmp_path / "s"
    assert cli(["replay", str(FIXTURE), "--store", str(store), "--no-progress", "--json", "--decoder", decoder]) == 0
    stats = json.loads(capsys.readouterr().out)
    assert stats["frames"] == 20 and stats["speedup"] > 0 and stats["decoder"] == decoder
    assert cli(["query", str(store), "locate", "red mug", "--json"]) == 0
    res = json.loads(capsys.readouterr().out)["results"]
    assert [r["status"] for r in res] == ["present"]  # one mug: the duplicate seen after the move was merged
    assert np.allclose(res[0]["position"][:2], [2.35, 0.2], atol=0.1)  # where the mug was moved to


def test_pose_topic_instead_of_tf(rec: Recording, direct: list, tmp_path: Path) -> None:
    bag = tmp_path / "pose.mcap"
    k = rec.intrinsics
    with BagWriter(bag) as w:
        for f in rec.frames:
            cam = "camera_color_optical_frame"
            w.write(
                "/camera_pose", "geometry_msgs/msg/PoseStamped", w.pose_stamped(f.camera_pose, f.stamp, "map"), f.stamp
            )
            w.write("/info", "sensor_msgs/msg/CameraInfo", w.camera_info(k, f.stamp, cam), f.stamp)
            w.write("/rgb", "sensor_msgs/msg/Image", w.image(f.rgb[..., ::-1], "bgr8", f.stamp, cam), f.stamp)
            w.write("/depth", "sensor_msgs/msg/Image", w.image(f.depth, "32FC1", f.stamp, cam), f.stamp)
            w.write("/ids", "sensor_msgs/msg/Image", w.image(f.instance_ids, "32SC1", f.stamp, cam), f.stamp)
            w.write(
                "/labels",
                "robomem_interfaces/msg/InstanceLabels",
                w.instance_labels(f.instances, f.stamp, cam),
                f.stamp,
            )
    cfg = ReplayConfig(
        topics=TopicMap(
            color="/rgb",
            depth="/depth",
            camera_info="/info",
            instances="/ids",
            labels="/labels",
            events="",
            tf="",
            tf_static="",
            pose="/camera_pose",
        ),
        pose_source="topic",
    )
    stats, objs = _replay(bag, tmp_path / "s", cfg)
    assert stats.frames == 20
    _assert_same(direct, objs, tol=1e-3)  # exact poses at the frame stamps, bgr8 colour reordered


def test_unknown_topic_in_config_names_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = ReplayConfig(topics=TopicMap(depth="/camera/nope/depth"))
    with pytest.raises(ReplayError, match="/camera/nope/depth"), Memory.open(tmp_path / "s", _cfg()) as mem:
        replay(FIXTURE, mem, cfg)
    code = cli(["replay", str(FIXTURE), "--store", str(tmp_path / "t"), "--labels", "/no/labels", "--no-progress"])
    assert code == 1
    err = capsys.readouterr().err
    assert "/no/labels" in err and "not in the bag" in err


def test_garbage_bytes_and_missing_bag_give_clear_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "garbage.mcap"
    bad.write_bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    with pytest.raises(BagError, match="garbage.mcap: cannot open"):
        BagReader(bad)
    with pytest.raises(BagError, match="no such file"):
        BagReader(tmp_path / "missing.mcap")
    txt = tmp_path / "notes.txt"
    txt.write_text("hello")
    with pytest.raises(BagError, match="not a bag"):
        BagReader(txt)
    assert cli(["replay", str(bad), "--store", str(tmp_path / "s"), "--no-progress"]) == 1
    assert "cannot open" in capsys.readouterr().err


def test_truncated_mcap_keeps_frames_before_the_cut(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = FIXTURE.read_bytes()
    cut = tmp_path / "cut.mcap"
    cut.write_bytes(data[: len(data) * 6 // 10])
    store = tmp_path / "s"
    code = cli(["replay", str(cut), "--store", str(store), "--no-progress"])
    err = capsys.readouterr().err
    assert code == 1
    assert "truncated" in err and "byte offset" in err and "topic /" in err
    with Memory.open(store, _cfg()) as mem:
        n = len(mem.trajectory())
        assert 5 <= n < 20  # what was complete before the cut is in memory
        assert {o.label for o in mem.objects()} >= {"table", "chair"}


def test_wrong_encoding_mid_bag_names_topic_and_keeps_earlier_frames(rec: Recording, tmp_path: Path) -> None:
    bag = tmp_path / "bad.mcap"
    write_bag(rec, bag)
    # rewrite: frame 10's depth published as rgb8
    with BagReader(bag) as r:
        msgs = [(m, r.deserialize(m)) for m in r.messages()]
    out = tmp_path / "bad2.mcap"
    seen = 0
    with BagWriter(out) as w:
        for m, msg in msgs:
            if m.topic == "/camera/depth/image_raw":
                seen += 1
                if seen == 11:
                    msg = w.image(
                        np.zeros((msg.height, msg.width, 3), np.uint8), "rgb8", m.log_time_ns / 1e9, msg.header.frame_id
                    )
            w.write(m.topic, m.msgtype, msg, m.log_time_ns / 1e9)
    with Memory.open(tmp_path / "s", _cfg()) as mem:
        with pytest.raises(ReplayError, match=r"/camera/depth/image_raw \(depth\), message #\d+.*rgb8"):
            replay(out, mem, None)
        assert 5 <= len(mem.trajectory()) <= 10


def test_missing_tf_frame_is_a_clear_error(tmp_path: Path) -> None:
    cfg = ReplayConfig(camera_frame="no_such_camera")
    with Memory.open(tmp_path / "s", _cfg()) as mem, pytest.raises(ReplayError, match="no_such_camera"):
        replay(FIXTURE, mem, cfg)


def test_config_yaml_sections(tmp_path: Path) -> None:
    p = tmp_path / "c.yaml"
    p.write_text("ros:\n  topics:\n    depth: /d\n    colour: /c\n")
    with pytest.raises(ConfigError, match=r"ros\.topics: unknown key 'colour'"):
        ReplayConfig.from_yaml(p)
    p.write_text(
        "ros:\n  topics:\n    depth: /d\n    events: ''\n  frames:\n    camera_frame: cam\nreplay:\n  rate: 2.0\n"
    )
    c = ReplayConfig.from_yaml(p)
    assert c.topics.depth == "/d" and c.topics.events == "" and c.camera_frame == "cam" and c.rate == 2.0
    repo_cfg = Path(__file__).parents[2] / "config" / "robomem.yaml"
    if repo_cfg.exists():
        topics = ReplayConfig.from_yaml(repo_cfg).topics  # relative names: the root namespace's in a bag
        assert topics.labels == "camera/instance_labels" and topics.absolute().labels == "/camera/instance_labels"


def test_recorded_rate_paces_replay(tmp_path: Path) -> None:
    stats, _ = _replay(FIXTURE, tmp_path / "s", ReplayConfig(rate=4.0))
    assert stats.wall_s >= stats.bag_duration_s / 4.0 * 0.95


def test_household_recording_replays(tmp_path: Path) -> None:
    pytest.importorskip("mujoco")
    try:
        from robomem.envs.record import household_recording

        rec = household_recording(n_frames=6, width=96, height=72)
    except Exception as exc:  # the simulator is still being written
        pytest.skip(f"household simulator not usable: {exc}")
    bag = write_bag(rec, tmp_path / "house.mcap")
    stats, objs = _replay(bag, tmp_path / "s")
    assert stats.frames == 6
    shutil.rmtree(tmp_path / "s")


def test_rerunning_replay_applies_no_event_twice(rec: Recording, tmp_path: Path) -> None:
    # events stamped after the last camera frame used to be applied again on every re-run
    # (a fact's evidence count went 1 -> 2 -> 3)
    import dataclasses
    import sqlite3

    last = rec.frames[-1].stamp
    tail = [(last + 0.5, "fact", "red mug | is in | kitchen"), (last + 0.6, "outcome", "success")]
    bag = write_bag(dataclasses.replace(rec, events=[*rec.events, *tail]), tmp_path / "events.mcap")
    store = tmp_path / "s"

    def evidence() -> int:
        conn = sqlite3.connect(store / "memory.db")
        try:
            return int(conn.execute("SELECT COUNT(*) FROM fact_evidence").fetchone()[0])
        finally:
            conn.close()

    first, _ = _replay(bag, store)
    assert first.events == len(rec.events) + 2
    n = evidence()
    assert n >= 1
    for _ in range(2):
        again, _ = _replay(bag, store)
        assert again.frames == 0 and again.events == 0, (again.frames, again.events)
        assert again.already_stored >= first.frames and again.stored_events == first.events
        assert evidence() == n


def test_resuming_at_recorded_rate_does_not_sleep_through_the_stored_prefix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import robomem.io.replay as replay_module

    store = tmp_path / "s"
    full, _ = _replay(FIXTURE, store)
    assert full.frames > 0
    slept: list[float] = []
    real_sleep = replay_module.time.sleep
    monkeypatch.setattr(replay_module.time, "sleep", lambda s: (slept.append(s), real_sleep(s)))
    again, _ = _replay(FIXTURE, store, ReplayConfig(rate=1.0))
    assert again.frames == 0
    # the whole bag is already stored: nothing to pace (it used to sleep the bag's duration in real time).
    # Counted, not timed: the pacing asked for no sleep at all.
    assert sum(slept) < 0.1 * full.bag_duration_s, (sum(slept), full.bag_duration_s)


def test_a_camera_clock_that_jumps_back_is_reported_as_such(rec: Recording, tmp_path: Path) -> None:
    # Header stamps jump back 30 s halfway (a camera driver restart) while the bag's log time runs on.
    # Before, those frames were counted as "sync misses", which sends the user looking at slop and QoS.
    import dataclasses

    from robomem.envs.record import iter_messages

    topics = TopicMap().absolute()
    camera = {topics.color, topics.depth, topics.instances, topics.labels, topics.camera_info}
    cut = rec.frames[len(rec.frames) // 2].stamp
    bag_path = tmp_path / "jump.mcap"
    with BagWriter(bag_path, storage="mcap") as bag:
        for t, topic, msgtype, msg in iter_messages(rec, topics, "32FC1", bag, None):
            if topic in camera and t >= cut:
                msg = dataclasses.replace(msg, header=bag.header(t - 30.0, msg.header.frame_id))
            bag.write(topic, msgtype, msg, t)
    stats, _ = _replay(bag_path, tmp_path / "s")
    before = sum(1 for f in rec.frames if f.stamp < cut)
    assert stats.frames == before
    jumped = [k for k in stats.skipped if "went back in time" in k]
    assert jumped and stats.skipped[jumped[0]] >= len(rec.frames) - before
    assert not any("sync" in k for k in stats.skipped), stats.skipped
