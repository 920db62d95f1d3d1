"""Bags that robomem writes carry the QoS rosbag2 records, and one schema per message type.

``ros2 bag play`` offers each topic with its recorded ``offered_qos_profiles``; without them
/tf_static would be replayed volatile and a late subscriber (RViz) would never get it.  Checked on
the written files with independent readers: the ``mcap`` library for MCAP, rosbags' rosbag2 reader
(metadata.yaml) for sqlite3.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

from robomem.io.bag_writer import BagWriter
from robomem.observation import Pose

TOPICS = {
    "/tf_static": "tf2_msgs/msg/TFMessage",
    "/tf": "tf2_msgs/msg/TFMessage",
    "/camera/color/image_raw": "sensor_msgs/msg/Image",
    "/camera/depth/image_raw": "sensor_msgs/msg/Image",
    "/robomem/events": "std_msgs/msg/String",
}


def _write(path: Path, storage: str) -> None:
    with BagWriter(path, storage=storage) as bag:
        for i in range(3):
            t = 1.0 + i
            if i == 0:
                bag.write("/tf_static", TOPICS["/tf_static"], bag.tf([("base_link", "cam", Pose(np.eye(4)))], t), t)
            bag.write("/tf", TOPICS["/tf"], bag.tf([("map", "base_link", Pose(np.eye(4)))], t), t)
            img = np.zeros((4, 6, 3), np.uint8)
            bag.write("/camera/color/image_raw", TOPICS["/camera/color/image_raw"], bag.image(img, "rgb8", t, "cam"), t)
            dep = np.ones((4, 6), np.float32)
            bag.write(
                "/camera/depth/image_raw", TOPICS["/camera/depth/image_raw"], bag.image(dep, "32FC1", t, "cam"), t
            )
            bag.write("/robomem/events", TOPICS["/robomem/events"], bag.string("note: hello"), t)


def _check(qos: dict[str, dict]) -> None:
    assert set(qos) == set(TOPICS)
    assert qos["/tf_static"]["durability"] == "transient_local" and qos["/tf_static"]["reliability"] == "reliable"
    assert qos["/tf"]["durability"] == "volatile" and qos["/tf"]["reliability"] == "reliable"
    assert qos["/camera/color/image_raw"]["reliability"] == "best_effort"
    assert qos["/robomem/events"]["reliability"] == "reliable" and qos["/robomem/events"]["history"] == "keep_last"


def test_mcap_channels_carry_qos_and_schemas_are_per_type(tmp_path):
    from mcap.reader import make_reader

    path = tmp_path / "t.mcap"
    _write(path, "mcap")
    with path.open("rb") as f:
        summary = make_reader(f).get_summary()
    assert summary is not None
    assert sorted(s.name for s in summary.schemas.values()) == sorted(set(TOPICS.values()))  # 3 types, 5 channels
    qos = {}
    for ch in summary.channels.values():
        profiles = yaml.safe_load(ch.metadata["offered_qos_profiles"])
        assert isinstance(profiles, list) and len(profiles) == 1, ch.metadata
        qos[ch.topic] = profiles[0]
    _check(qos)


def test_sqlite3_metadata_carries_qos(tmp_path):
    from rosbags.rosbag2 import Reader

    path = tmp_path / "bag"
    _write(path, "sqlite3")
    with Reader(path) as r:
        qos = {
            c.topic: {
                "durability": c.ext.offered_qos_profiles[0].durability.name.lower(),
                "reliability": c.ext.offered_qos_profiles[0].reliability.name.lower(),
                "history": c.ext.offered_qos_profiles[0].history.name.lower(),
            }
            for c in r.connections
        }
    _check(qos)
    meta = yaml.safe_load((path / "metadata.yaml").read_text())
    tf_static = next(
        t
        for t in meta["rosbag2_bagfile_information"]["topics_with_message_count"]
        if t["topic_metadata"]["name"] == "/tf_static"
    )
    assert "transient_local" in str(tf_static["topic_metadata"]["offered_qos_profiles"])


@pytest.mark.parametrize("storage", ["mcap", "sqlite3"])
def test_robomem_reads_back_what_it_wrote(tmp_path, storage):
    from robomem.io.bag import BagReader

    path = tmp_path / ("t.mcap" if storage == "mcap" else "bag")
    _write(path, storage)
    with BagReader(path) as reader:
        assert reader.topics == TOPICS
        assert sum(1 for _ in reader.messages(set(TOPICS))) == 13


def test_recording_publishes_map_odom_base_link_and_replays(tmp_path):
    """REP 105: robomem record publishes map -> odom -> base_link, and replay resolves the chain."""
    from robomem.envs.record import synthetic_recording, write_bag
    from robomem.io.bag import BagReader
    from robomem.io.replay import replay
    from robomem.memory import Memory

    rec = synthetic_recording(n_frames=6, width=96, height=72, rate_hz=10.0)
    path = write_bag(rec, tmp_path / "r.mcap", truth_file=False)
    with BagReader(path) as reader:
        tf = next(m for m in reader.messages({"/tf"}))
        msg = reader.deserialize(tf)
    pairs = {(t.header.frame_id, t.child_frame_id) for t in msg.transforms}
    assert {("map", "odom"), ("odom", "base_link")} <= pairs and ("map", "base_link") not in pairs
    with Memory.open(tmp_path / "store") as mem:
        stats = replay(path, mem)
        assert stats.frames == 6 and not stats.skipped, stats
        assert mem.objects()
