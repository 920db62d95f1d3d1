"""spark_dsg (Hydra) scene graphs: export a replayed store, load it with spark_dsg, import it back."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from robomem import Memory, MemoryConfig, Place
from robomem.cli.main import main as cli
from robomem.io.replay import replay
from robomem.report.dsg import import_dsg, load_dsg, read_dsg, save_dsg, to_dsg

sd = pytest.importorskip("spark_dsg")
from spark_dsg.networkx import graph_to_networkx  # noqa: E402

FIXTURE = Path(__file__).parents[1] / "data" / "tour.mcap"
CONFIG = MemoryConfig.from_dict({"embedder": "hash"})
ROOMS = [Place("living room", (0.0, -0.8), (3.0, 2.0)), Place("study", (3.0, -2.5), (5.0, -0.8))]


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    p = tmp_path_factory.mktemp("dsg") / "store"
    with Memory.open(p, CONFIG) as mem:
        mem.set_places(ROOMS)
        replay(FIXTURE, mem)
    return p


@pytest.fixture(scope="module")
def exported(store: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dsg_out") / "map.json"
    assert cli(["export", str(store), "--format", "dsg", "--out", str(out)]) == 0
    return out


def _relations(mem: Memory) -> set[tuple[str, str, str]]:
    labels = {o.object_id: o.label for o in mem.objects()}
    return {
        (labels[r.subject], r.predicate, labels.get(r.object, r.object))  # type: ignore[arg-type]
        for r in mem.spatial.scene_graph().relations
    }


def test_export_loads_with_spark_dsg_and_networkx(store: Path, exported: Path) -> None:
    g = sd.DynamicSceneGraph.load(str(exported))
    objects = g.get_layer(sd.DsgLayers.OBJECTS)
    rooms = g.get_layer(sd.DsgLayers.ROOMS)
    assert objects.num_nodes() == 6 and rooms.num_nodes() == 2
    labelspace = g.get_labelspace(2, 0)
    with Memory.open(store, CONFIG, readonly=True) as mem:
        for rec in mem.objects():
            node = g.get_node(sd.NodeSymbol("O", rec.object_id))
            a = node.attributes
            assert labelspace.get_category(a.semantic_label) == rec.label
            assert a.name == rec.name
            assert np.allclose(a.position, rec.centroid, atol=1e-6)
            assert np.allclose(a.bounding_box.min, rec.bbox_min, atol=1e-4)
            assert np.allclose(a.bounding_box.max, rec.bbox_max, atol=1e-4)
            meta = a.metadata.get()["robomem"]
            assert meta["first_seen"] == rec.first_seen and meta["last_seen"] == rec.last_seen
            assert meta["status"] == "present" and meta["place"] == rec.place
            assert a.last_update_time_ns == round(rec.last_seen * 1e9)
            assert len(a.mesh_connections) == len(mem.spatial.points(rec.object_id))
        by_name = {n.attributes.name: n for n in rooms.nodes}
        assert set(by_name) == {"living room", "study"}
        # every relation of the scene graph is on exactly one edge, direction kept in the metadata
        rels = set()
        for e in [*objects.edges, *g.interlayer_edges]:
            for r in e.info.metadata.get()["relations"]:
                rels.add((r["subject"], r["predicate"], r["object"]))
        room_sym = {n.attributes.name: str(n.id) for n in rooms.nodes}
        expect = {
            (f"O({r.subject})", r.predicate, room_sym[r.object] if r.predicate == "in_room" else f"O({r.object})")
            for r in mem.spatial.scene_graph().relations
        }
        assert rels == expect
        assert {"on", "near", "in_room"} <= {p for _s, p, _o in rels}
    with Memory.open(store, CONFIG, readonly=True) as mem:  # spark_dsg's binary format for other suffixes
        binary = save_dsg(mem, exported.with_suffix(".sparkdsg"))
    assert binary.read_bytes()[:1] != b"{"
    assert sd.DynamicSceneGraph.load(str(binary)).num_nodes() == g.num_nodes()
    nxg = graph_to_networkx(g)
    assert nxg.number_of_nodes() == 8
    mug = next(n for n, d in nxg.nodes(data=True) if d.get("name", "").startswith("red mug"))
    assert nxg.degree(mug) >= 2  # on the table, in the living room


def test_round_trip_into_a_fresh_store(store: Path, exported: Path, tmp_path: Path) -> None:
    seeded = tmp_path / "seeded"
    assert cli(["import", str(seeded), str(exported), "--config", str(_hash_config(tmp_path))]) == 0
    with Memory.open(store, CONFIG, readonly=True) as a, Memory.open(seeded, CONFIG, readonly=True) as b:
        assert b.places.names() == a.places.names()
        ra = sorted(a.objects(), key=lambda o: o.label)
        rb = sorted(b.objects(), key=lambda o: o.label)
        assert [o.label for o in rb] == [o.label for o in ra]
        for x, y in zip(ra, rb, strict=True):
            assert np.allclose(x.centroid, y.centroid, atol=1e-5)
            assert np.allclose(x.bbox_min, y.bbox_min, atol=1e-5) and np.allclose(x.bbox_max, y.bbox_max, atol=1e-5)
            assert (x.first_seen, x.last_seen, x.place, x.status) == (y.first_seen, y.last_seen, y.place, y.status)
            last = b.temporal.last_seen(y.object_id)
            assert last is not None and last.t_end == x.last_seen and last.place == x.place
            assert len(b.spatial.points(y.object_id)) == len(a.spatial.points(x.object_id))
        assert _relations(b) == _relations(a)
        mug = next(o for o in rb if o.label == "red mug")
        assert b.semantic.where_is(f"object:{mug.object_id}") is not None
    # the seeded store answers questions like the original
    assert cli(["query", str(seeded), "last-seen", "red", "mug", "--json"]) == 0


def _hash_config(tmp_path: Path) -> Path:
    p = tmp_path / "memory.yaml"
    p.write_text("memory:\n  embedder: hash\n")
    return p


def test_absence_survives_the_round_trip(exported: Path, tmp_path: Path) -> None:
    g = load_dsg(exported)
    labelspace = g.get_labelspace(2, 0)
    node = next(n for n in g.get_layer(2).nodes if labelspace.get_category(n.attributes.semantic_label) == "book")
    meta = dict(node.attributes.metadata.get()["robomem"])
    meta.update(status="absent", absent_since=meta["last_seen"] + 5.0)
    node.attributes.metadata.set({"robomem": meta})
    edited = tmp_path / "edited.json"
    g.save(str(edited))
    with Memory.open(tmp_path / "s", CONFIG) as mem:
        result = import_dsg(mem, edited)
        book = result.objects[str(node.id)]
        assert mem.spatial.get(book).status == "absent" and mem.temporal.is_absent(book)
        assert mem.temporal.last_absence(book).stamp == pytest.approx(meta["absent_since"])
        again = to_dsg(mem).get_node(sd.NodeSymbol("O", book)).attributes.metadata.get()["robomem"]
        assert again["status"] == "absent" and again["absent_since"] == pytest.approx(meta["absent_since"])


def _hydra_graph() -> object:
    """A graph the way Hydra writes one: labelspace, object and room nodes, no robomem metadata, no mesh."""
    g = sd.DynamicSceneGraph()
    for i, (pos, dims, label, t) in enumerate(
        [((1.0, 1.0, 0.4), (1.0, 0.6, 0.8), 3, 10.0), ((1.0, 1.1, 0.85), (0.1, 0.1, 0.1), 7, 12.5)]
    ):
        a = sd.ObjectNodeAttributes()
        a.position = np.array(pos)
        a.bounding_box = sd.BoundingBox(np.array(dims, np.float32), np.array(pos, np.float32))
        a.semantic_label = label
        a.name = ""
        a.last_update_time_ns = int(t * 1e9)
        g.add_node(2, sd.NodeSymbol("O", i), a)
    r = sd.RoomNodeAttributes()
    r.name = "kitchen"
    r.position = np.array([1.0, 1.0, 1.0])
    r.bounding_box = sd.BoundingBox(np.array([4.0, 3.0, 2.0], np.float32), np.array([1.0, 1.0, 1.0], np.float32))
    g.add_node(4, sd.NodeSymbol("R", 0), r)
    g.insert_edge(sd.NodeSymbol("O", 0), sd.NodeSymbol("R", 0))
    g.set_labelspace(sd.Labelspace({3: "table", 7: "cup"}), 2, 0)
    return g


def test_hydra_graph_seeds_object_memory(tmp_path: Path) -> None:
    objects, rooms, skipped = read_dsg(_hydra_graph())
    assert [o.label for o in objects] == ["table", "cup"] and not skipped
    assert rooms[0].name == "kitchen" and rooms[0].min_xy == (-1.0, -0.5)
    with Memory.open(tmp_path / "s", CONFIG) as mem:
        result = import_dsg(mem, _hydra_graph())
        assert result.places_added == ("kitchen",)
        cup = mem.spatial.get(result.objects["O(1)"])
        assert cup.label == "cup" and cup.first_seen == cup.last_seen == 12.5 and cup.place == "kitchen"
        assert np.allclose(cup.bbox_min, (0.95, 1.05, 0.8), atol=1e-5)
        assert np.allclose(cup.bbox_max, (1.05, 1.15, 0.9), atol=1e-5)
        assert ("cup", "on", "table") in _relations(mem)
        # memory goes on in time order: the same robot id cannot write older frames now
        with pytest.raises(ValueError, match="older than memory's last frame"):
            import_dsg(mem, _hydra_graph())


def test_bad_files_get_clear_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(FileNotFoundError, match="scene graph file not found"):
        load_dsg(tmp_path / "missing.json")
    junk = tmp_path / "junk.json"
    junk.write_text(json.dumps({"hello": 1}))
    with pytest.raises(ValueError, match="not a spark_dsg scene graph"):
        load_dsg(junk)
    assert cli(["import", str(tmp_path / "s"), str(junk)]) == 2
    assert "not a spark_dsg scene graph" in capsys.readouterr().err
    with pytest.raises(ValueError, match="expected a spark_dsg DynamicSceneGraph"):
        read_dsg({"nodes": []})  # type: ignore[arg-type]
