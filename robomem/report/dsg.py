"""robomem's scene graph as a MIT SPARK ``spark_dsg`` DynamicSceneGraph, and back.

Export (:func:`to_dsg`, :func:`save_dsg`, ``robomem export STORE --format dsg``):

- layer ``OBJECTS`` (2): one ``ObjectNodeAttributes`` node ``O(<object id>)`` per object: position
  (centroid), axis-aligned bounding box, ``semantic_label`` (an index into the layer's labelspace,
  which names it), ``name`` ("red mug #12"), colour, ``last_update_time_ns`` = last seen, and
  metadata ``{"robomem": {id, label, labels, first_seen, last_seen, n_obs, status, absent_since,
  place}}`` (seconds). The object's voxel points are vertices of the graph's mesh, linked from the
  node's ``mesh_connections`` the way Hydra links objects to its mesh.
- layer ``ROOMS`` (4): one ``RoomNodeAttributes`` node ``R(<i>)`` per place, named, with its 2D box
  (z from the floor to the top of the highest object in it, at least 2.5 m) and metadata
  ``{"robomem": {"name", "min_xy", "max_xy"}}``. robomem's places are rooms; it has no free-space
  places graph, so layer ``PLACES`` (3) stays empty.
- edges: ``on``, ``in``, ``near`` between object nodes, ``in_room`` object -> room. spark_dsg edges
  are undirected, so each edge's metadata says ``{"relations": [{"subject", "predicate",
  "object"}]}`` with node symbols as strings ("O(3)", "R(0)").

Import (:func:`read_dsg`, :func:`import_dsg`): object nodes of layer 2 become detections that are
written through :meth:`robomem.Memory.update` (with ``segments=``), so all four submodules learn them
in their usual way: an object appears at its first-seen stamp, is seen again at its last-seen stamp,
and an object exported as observed absent is declared absent at ``absent_since``. Rooms become
places. Hydra graphs without robomem metadata work too: labels come from the labelspace (else the
node name), stamps from Khronos' first/last observed times or ``last_update_time_ns``, points from
the mesh vertices the node is connected to (else a grid filling its bounding box).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from robomem.ingest.perception import Segment
from robomem.observation import Intrinsics, Observation, Pose
from robomem.places import Place

if TYPE_CHECKING:
    import spark_dsg

    from robomem.memory import Memory

__all__ = [
    "DsgImport",
    "DsgObject",
    "DsgRoom",
    "import_dsg",
    "load_dsg",
    "read_dsg",
    "save_dsg",
    "to_dsg",
]

OBJECTS_LAYER = 2
ROOMS_LAYER = 4
MIN_ROOM_HEIGHT = 2.5  # m: rooms' boxes reach at least this high
SEED_ROBOT = "dsg"  # robot id of the frames an import writes (time order is kept per robot)
_NS = 1e9
_MAX_GRID_POINTS = 2000


def _spark() -> Any:
    try:
        import spark_dsg
    except ImportError as exc:  # pragma: no cover - the interop extra is part of the standard install
        raise ImportError("spark_dsg is not installed: pip install 'robomem[interop]'") from exc
    return spark_dsg


def _ns(stamp: float) -> int:
    return max(0, round(float(stamp) * _NS))


def _sym(category: str, index: int) -> str:
    return f"{category}({index})"


# --- export ------------------------------------------------------------------------------------


def to_dsg(memory: Memory) -> spark_dsg.DynamicSceneGraph:
    """Build a spark_dsg DynamicSceneGraph of memory's scene graph (see the module docstring)."""
    sd = _spark()
    sg = memory.spatial.scene_graph()
    g = sd.DynamicSceneGraph()
    labels = sorted({o.label for o in sg.objects})
    label_ids = {name: i for i, name in enumerate(labels)}
    mesh = sd.Mesh(True, True, True, True)
    chunks: list[tuple[int, np.ndarray, np.ndarray | None, float, float]] = []
    for o in sg.objects:
        pts = np.asarray(memory.spatial.points(o.object_id), dtype=np.float64).reshape(-1, 3)
        chunks.append((o.object_id, pts, None if o.colour is None else np.asarray(o.colour), o.first_seen, o.last_seen))
    total = sum(len(c[1]) for c in chunks)
    mesh.resize_vertices(total)
    connections: dict[int, list[int]] = {}
    start = 0
    for oid, pts, colour, first, last in chunks:
        rgb = np.clip((colour if colour is not None else np.full(3, 0.5)) * 255.0, 0, 255).astype(np.uint8)
        colour4 = sd.Color()
        colour4.r, colour4.g, colour4.b, colour4.a = int(rgb[0]), int(rgb[1]), int(rgb[2]), 255
        for i, p in enumerate(pts):
            mesh.set_pos(start + i, p)
            mesh.set_color(start + i, colour4)
            mesh.set_first_seen_timestamp(start + i, _ns(first))
            mesh.set_timestamp(start + i, _ns(last))
            mesh.set_label(start + i, 0)
        connections[oid] = list(range(start, start + len(pts)))
        start += len(pts)
    for o in sg.objects:
        a = sd.ObjectNodeAttributes()
        a.position = np.asarray(o.centroid, dtype=np.float64)
        lo = np.asarray(o.bbox_min, dtype=np.float32)
        hi = np.asarray(o.bbox_max, dtype=np.float32)
        a.bounding_box = sd.BoundingBox(hi - lo, (lo + hi) / 2)  # (dimensions, centre)
        a.semantic_label = label_ids[o.label]
        a.name = o.name
        if o.colour is not None:
            a.color = np.clip(np.asarray(o.colour) * 255.0, 0, 255).astype(np.uint8)
        a.last_update_time_ns = _ns(o.last_seen)
        a.mesh_connections = connections[o.object_id]
        absence = memory.temporal.last_absence(o.object_id) if o.status == "absent" else None
        a.metadata.set(
            {
                "robomem": {
                    "id": o.object_id,
                    "label": o.label,
                    "labels": {k: round(float(v), 4) for k, v in o.labels.items()},
                    "first_seen": o.first_seen,
                    "last_seen": o.last_seen,
                    "n_obs": o.n_obs,
                    "status": o.status,
                    "absent_since": absence.stamp if absence is not None else None,
                    "place": o.place,
                }
            }
        )
        g.add_node(OBJECTS_LAYER, sd.NodeSymbol("O", o.object_id), a)
    room_syms: dict[str, Any] = {}
    for i, p in enumerate(memory.places):
        tops = [o.bbox_max[2] for o in sg.objects if o.place == p.name]
        top = max([MIN_ROOM_HEIGHT, *tops])
        r = sd.RoomNodeAttributes()
        r.name = p.name
        r.position = np.array([p.centre[0], p.centre[1], 0.0])
        lo = np.array([p.min_xy[0], p.min_xy[1], 0.0], dtype=np.float32)
        hi = np.array([p.max_xy[0], p.max_xy[1], top], dtype=np.float32)
        r.bounding_box = sd.BoundingBox(hi - lo, (lo + hi) / 2)
        r.semantic_label = i
        r.metadata.set({"robomem": {"name": p.name, "min_xy": list(p.min_xy), "max_xy": list(p.max_xy)}})
        sym = sd.NodeSymbol("R", i)
        g.add_node(ROOMS_LAYER, sym, r)
        room_syms[p.name] = sym
    edges: dict[tuple[int, int], list[dict[str, str]]] = {}
    ends: dict[tuple[int, int], tuple[Any, Any]] = {}
    for rel in sg.relations:
        src = sd.NodeSymbol("O", rel.subject)
        if rel.predicate == "in_room":
            if rel.object not in room_syms:
                continue  # a place dropped since the object was placed
            dst = room_syms[rel.object]
        else:
            dst = sd.NodeSymbol("O", int(rel.object))
        key = tuple(sorted((src.value, dst.value)))
        edges.setdefault(key, []).append({"subject": str(src), "predicate": rel.predicate, "object": str(dst)})  # type: ignore[arg-type]
        ends.setdefault(key, (src, dst))  # type: ignore[arg-type]
    for key, rels in edges.items():
        info = sd.EdgeAttributes()
        info.metadata.set({"relations": rels})
        g.insert_edge(*ends[key], info)
    g.mesh = mesh
    g.set_labelspace(sd.Labelspace(dict(enumerate(labels))), OBJECTS_LAYER, 0)
    g.set_labelspace(sd.Labelspace({i: p.name for i, p in enumerate(memory.places)}), ROOMS_LAYER, 0)
    g.metadata.add({"robomem": {"store": str(memory.path), "units": "m, s", "frame": "map (z up)"}})
    return g


def save_dsg(memory: Memory, path: str | Path) -> Path:
    """Write memory's scene graph as a spark_dsg file (``.json``, or spark_dsg's binary for other suffixes)."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    to_dsg(memory).save(str(out), include_mesh=True)
    return out


def load_dsg(path: str | Path) -> spark_dsg.DynamicSceneGraph:
    """Load a spark_dsg file, with a clear error for a missing or unreadable one."""
    sd = _spark()
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"scene graph file not found: {p}")
    try:
        return sd.DynamicSceneGraph.load(str(p))
    except Exception as exc:  # the bindings raise RuntimeError / json errors from C++
        raise ValueError(f"{p}: not a spark_dsg scene graph ({type(exc).__name__}: {exc})") from exc


# --- import ------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class DsgObject:
    """One object node read from a spark_dsg graph (times in seconds)."""

    node: str  # its symbol, e.g. "O(12)"
    label: str
    position: tuple[float, float, float]
    bbox_min: tuple[float, float, float]
    bbox_max: tuple[float, float, float]
    first_seen: float
    last_seen: float
    absent_since: float | None
    points: np.ndarray = field(repr=False)  # (N, 3) float32, world frame
    colour: tuple[float, float, float] | None = None  # RGB in [0, 1]


@dataclass(frozen=True)
class DsgRoom:
    node: str
    name: str
    min_xy: tuple[float, float]
    max_xy: tuple[float, float]


@dataclass(frozen=True)
class DsgImport:
    """What :func:`import_dsg` wrote: node symbol -> object id, places added, frames written."""

    objects: Mapping[str, int]
    places_added: tuple[str, ...]
    frames: int
    skipped: tuple[str, ...]  # nodes that could not be used, each with why

    def to_dict(self) -> dict[str, Any]:
        return {
            "objects": dict(self.objects),
            "places_added": list(self.places_added),
            "frames": self.frames,
            "skipped": list(self.skipped),
        }


def _meta(attrs: Any) -> dict[str, Any]:
    try:
        m = attrs.metadata.get()
    except Exception:  # noqa: BLE001 - metadata is optional in older files
        return {}
    r = m.get("robomem") if isinstance(m, Mapping) else None
    return dict(r) if isinstance(r, Mapping) else {}


def _box(attrs: Any, position: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    bb = attrs.bounding_box
    lo, hi = np.asarray(bb.min, dtype=np.float64), np.asarray(bb.max, dtype=np.float64)
    if bb.is_valid() and np.all(np.isfinite(lo)) and np.all(np.isfinite(hi)) and np.all(hi >= lo):
        return lo, hi
    return position - 0.05, position + 0.05


def _grid(lo: np.ndarray, hi: np.ndarray, voxel: float) -> np.ndarray:
    """Points filling a box at about the voxel size (capped), for nodes without mesh vertices."""
    dims = np.maximum(hi - lo, 1e-3)
    step = max(voxel, float(np.prod(dims) / _MAX_GRID_POINTS) ** (1 / 3))
    axes = [np.linspace(lo[k], hi[k], max(2, int(math.ceil(dims[k] / step)) + 1)) for k in range(3)]
    return np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, 3).astype(np.float32)


def _stamps(attrs: Any, meta: Mapping[str, Any]) -> tuple[float, float]:
    if isinstance(meta.get("first_seen"), (int, float)) and isinstance(meta.get("last_seen"), (int, float)):
        return float(meta["first_seen"]), float(meta["last_seen"])
    first_ns = list(getattr(attrs, "first_observed_ns", []) or [])  # Khronos objects
    last_ns = list(getattr(attrs, "last_observed_ns", []) or [])
    if first_ns and last_ns:
        return min(first_ns) / _NS, max(last_ns) / _NS
    t = float(attrs.last_update_time_ns) / _NS
    return t, t


def _label(attrs: Any, meta: Mapping[str, Any], labelspace: Any) -> str:
    if isinstance(meta.get("label"), str) and meta["label"].strip():
        return str(meta["label"])
    if labelspace is not None:
        name = labelspace.get_category(int(attrs.semantic_label))
        if name:
            return str(name)
    name = re.sub(r"\s*#\d+$", "", str(attrs.name or "")).strip()
    if name:
        return name
    return f"class {int(attrs.semantic_label)}"


def read_dsg(
    graph: spark_dsg.DynamicSceneGraph | str | Path, voxel_size: float = 0.02
) -> tuple[list[DsgObject], list[DsgRoom], list[str]]:
    """Objects and rooms of a spark_dsg graph (or file), plus the nodes skipped and why."""
    sd = _spark()
    g = load_dsg(graph) if isinstance(graph, (str, Path)) else graph
    if not isinstance(g, sd.DynamicSceneGraph):
        raise ValueError(f"read_dsg: expected a spark_dsg DynamicSceneGraph or a file path, got {type(g).__name__}")
    mesh = g.mesh if g.has_mesh() else None
    n_vertices = mesh.num_vertices() if mesh is not None else 0
    labelspace = g.get_labelspace(OBJECTS_LAYER, 0)
    if labelspace is not None and not labelspace.labels_to_names:
        labelspace = None
    objects: list[DsgObject] = []
    skipped: list[str] = []
    if g.has_layer(OBJECTS_LAYER):
        for node in g.get_layer(OBJECTS_LAYER).nodes:
            attrs = node.attributes
            sym = str(node.id)
            if not isinstance(attrs, sd.SemanticNodeAttributes):
                skipped.append(f"{sym}: {type(attrs).__name__} is not an object node")
                continue
            pos = np.asarray(attrs.position, dtype=np.float64)
            if pos.shape != (3,) or not np.all(np.isfinite(pos)):
                skipped.append(f"{sym}: position is not 3 finite numbers")
                continue
            meta = _meta(attrs)
            lo, hi = _box(attrs, pos)
            idx = [i for i in (getattr(attrs, "mesh_connections", None) or []) if 0 <= i < n_vertices]
            if idx and mesh is not None:
                pts = np.array([mesh.pos(i) for i in idx], dtype=np.float32).reshape(-1, 3)
            else:
                pts = _grid(lo, hi, voxel_size)
            first, last = _stamps(attrs, meta)
            if not (math.isfinite(first) and math.isfinite(last)) or first < 0 or last < first:
                skipped.append(f"{sym}: stamps first={first} last={last} are not 0 <= first <= last")
                continue
            absent = meta.get("absent_since") if meta.get("status") == "absent" else None
            rgb = np.asarray(attrs.color, dtype=np.float64).reshape(-1)[:3]
            colour = tuple(float(v) / 255.0 for v in rgb) if rgb.size == 3 and rgb.any() else None
            objects.append(
                DsgObject(
                    node=sym,
                    label=_label(attrs, meta, labelspace),
                    position=(float(pos[0]), float(pos[1]), float(pos[2])),
                    bbox_min=(float(lo[0]), float(lo[1]), float(lo[2])),
                    bbox_max=(float(hi[0]), float(hi[1]), float(hi[2])),
                    first_seen=first,
                    last_seen=last,
                    absent_since=float(absent) if isinstance(absent, (int, float)) and absent >= last else None,
                    points=pts,
                    colour=colour,  # type: ignore[arg-type]
                )
            )
    rooms: list[DsgRoom] = []
    if g.has_layer(ROOMS_LAYER):
        for node in g.get_layer(ROOMS_LAYER).nodes:
            attrs = node.attributes
            sym = str(node.id)
            meta = _meta(attrs)
            name = str(meta.get("name") or getattr(attrs, "name", "") or sym).strip() or sym
            if "min_xy" in meta and "max_xy" in meta:
                lo2 = tuple(float(v) for v in meta["min_xy"])
                hi2 = tuple(float(v) for v in meta["max_xy"])
            else:
                bb = getattr(attrs, "bounding_box", None)
                if bb is None or not bb.is_valid():
                    skipped.append(f"{sym}: room {name!r} has no bounding box")
                    continue
                lo2, hi2 = (float(bb.min[0]), float(bb.min[1])), (float(bb.max[0]), float(bb.max[1]))
            if len(lo2) != 2 or len(hi2) != 2 or lo2[0] >= hi2[0] or lo2[1] >= hi2[1]:
                skipped.append(f"{sym}: room {name!r} box {lo2}..{hi2} is empty")
                continue
            rooms.append(DsgRoom(sym, name, lo2, hi2))  # type: ignore[arg-type]
    return objects, rooms, skipped


def _seed_observation(stamp: float, robot_id: str, source: str) -> Observation:
    """A frame with no image content: the detections arrive as segments."""
    return Observation(
        stamp=stamp,
        pose=Pose(np.eye(4)),
        intrinsics=Intrinsics(1.0, 1.0, 0.0, 0.0, 1, 1),
        depth=np.zeros((1, 1), np.float32),
        robot_id=robot_id,
        source=source,
    )


def _segment(i: int, o: DsgObject) -> Segment:
    pts = np.asarray(o.points, dtype=np.float32)
    return Segment(
        instance_id=i,
        label=o.label,
        score=1.0,
        points=pts,
        centroid=pts.mean(axis=0, dtype=np.float64),
        bbox_min=pts.min(axis=0).astype(np.float64),
        bbox_max=pts.max(axis=0).astype(np.float64),
        pixel_count=0,  # no view: a real frame replaces the seed as best view of the object
        colour=None if o.colour is None else np.asarray(o.colour, dtype=np.float32),
        embedding=None,
    )


def import_dsg(
    memory: Memory,
    graph: spark_dsg.DynamicSceneGraph | str | Path,
    robot_id: str = SEED_ROBOT,
    source: str | None = None,
) -> DsgImport:
    """Seed memory with the objects and rooms of a spark_dsg graph, keeping their stamps.

    Rooms not yet known become places. Each object is written as a detection at its first-seen
    stamp and again at its last-seen stamp (frames of robot ``robot_id``, source
    ``dsg:<file>``), and an object exported as observed absent is declared absent at its
    ``absent_since`` stamp. Refused (ValueError) when memory already holds frames of ``robot_id``
    newer than the map's oldest stamp: memory is built in time order.
    """
    objects, rooms, skipped = read_dsg(graph, memory.config.spatial.voxel_size)
    if source is None:
        source = f"dsg:{Path(graph).name}" if isinstance(graph, (str, Path)) else "dsg"
    known = {p.name for p in memory.places}
    new_rooms = [r for r in rooms if r.name not in known]
    if len({r.name for r in new_rooms}) != len(new_rooms):
        raise ValueError(f"import_dsg: duplicate room names in {[r.name for r in new_rooms]}")
    if objects:
        oldest = min(o.first_seen for o in objects)
        last = memory.last_stamp(robot_id)
        if last is not None and oldest < last - 0.5:
            raise ValueError(
                f"import_dsg: the map's oldest stamp {oldest:.3f} is older than memory's last frame of robot "
                f"{robot_id!r} ({last:.3f}); import into a fresh store or pass another robot_id"
            )
    if new_rooms:
        memory.set_places([*memory.places, *(Place(r.name, r.min_xy, r.max_xy) for r in new_rooms)])
    # (stamp, order, index into objects, kind): first sightings, last sightings, then absences
    events: list[tuple[float, int, int, str]] = []
    for i, o in enumerate(objects):
        events.append((o.first_seen, 0, i, "seen"))
        if o.last_seen > o.first_seen:
            events.append((o.last_seen, 0, i, "seen"))
        if o.absent_since is not None:
            events.append((max(o.absent_since, o.last_seen), 1, i, "absent"))
    events.sort()
    ids: dict[str, int] = {}
    frames = 0
    groups: dict[tuple[float, int], list[tuple[int, str]]] = {}
    for stamp, order, i, kind in events:
        groups.setdefault((stamp, order), []).append((i, kind))
    for (stamp, _order), group in groups.items():
        seen = [i for i, kind in group if kind == "seen"]
        absent = [ids[objects[i].node] for i, kind in group if kind == "absent" and objects[i].node in ids]
        segments = [_segment(j + 1, objects[i]) for j, i in enumerate(seen)]
        result = memory.update(_seed_observation(stamp, robot_id, source), segments=segments, absent=absent)
        frames += 1
        for j, i in enumerate(seen):
            oid = result.object_ids.get(j + 1)
            if oid is not None:
                ids[objects[i].node] = int(oid)
    return DsgImport(ids, tuple(r.name for r in new_rooms), frames, tuple(skipped))
