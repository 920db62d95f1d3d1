"""Build the MuJoCo model of the house from :mod:`layout` (MJCF text + in-memory assets).

Nothing here simulates physics: every movable thing (objects, doors, the camera agent)
is a mocap body whose pose the simulator sets, followed by ``mj_kinematics``.  All geoms
have ``contype=conaffinity=0``.

Geom groups: 0 structure (walls, floors, doors), 1 furniture, 2 objects, 3 ceiling and
lintels (hidden in the top-down view).
"""

from __future__ import annotations

import gzip
import math
import os
from dataclasses import dataclass
from importlib import resources

os.environ.setdefault("MUJOCO_GL", "egl")

import mujoco  # noqa: E402
import numpy as np  # noqa: E402

from .layout import (  # noqa: E402
    DOORS,
    FURNITURE,
    HOUSE_HI,
    HOUSE_LO,
    OBJECTS,
    ROOMS,
    WALL_HEIGHT,
    WALL_THICKNESS,
    WALLS,
    DoorSpec,
)

__all__ = ["DOOR_HEIGHT", "HouseModel", "build_model", "door_panel_rect"]

DOOR_HEIGHT = 2.1
HIDDEN_Z = -30.0  # where absent objects are parked (under the floor, never visible)

# texture name -> (texrepeat per metre on uniform-mapped geoms, specular)
_SURFACE_MATERIALS: dict[str, tuple[float, float]] = {
    "floor_tile": (1.2, 0.3),
    "floor_wood": (0.6, 0.2),
    "floor_light": (0.6, 0.1),
    "floor_gray": (0.6, 0.1),
    "floor_marble": (0.8, 0.4),
    "wall_plaster": (0.5, 0.05),
    "wood_table": (1.0, 0.3),
    "wood_light": (1.0, 0.2),
    "wood_dark": (1.5, 0.2),
    "fabric_blue": (2.0, 0.0),
    "fabric_linen": (2.0, 0.0),
    "fabric_navy": (2.0, 0.0),
    "metal": (1.0, 0.5),
    "ceramic": (1.0, 0.3),
}


@dataclass(frozen=True)
class HouseModel:
    """The compiled model plus the lookups the simulator needs."""

    model: mujoco.MjModel
    geom_instance: np.ndarray  # (ngeom,) int32: instance id of each geom, 0 = none
    instance_labels: dict[int, str]  # every instance id -> label
    instance_keys: dict[int, str]  # every instance id -> furniture/object key
    object_mocap: dict[str, int]  # object key -> mocap index
    door_mocap: dict[str, int]  # door name -> mocap index
    agent_mocap: int
    agent_camera: int
    topdown_camera: int


def _f(*v: float) -> str:
    return " ".join(f"{x:.5g}" for x in v)


def door_panel_rect(d: DoorSpec, is_open: bool) -> tuple[tuple[float, float], tuple[float, float]]:
    """World xy rect the door panel occupies (for collision)."""
    h0 = d.g0 + WALL_THICKNESS / 2
    w = (d.g1 - d.g0) - WALL_THICKNESS
    t = 0.02
    if d.axis == "x":
        if not is_open:
            return (h0, d.at - t), (h0 + w, d.at + t)
        return ((h0 - t, d.at), (h0 + t, d.at + w)) if d.swing > 0 else ((h0 - t, d.at - w), (h0 + t, d.at))
    if not is_open:
        return (d.at - t, h0), (d.at + t, h0 + w)
    return ((d.at, h0 - t), (d.at + w, h0 + t)) if d.swing > 0 else ((d.at - w, h0 - t), (d.at, h0 + t))


def door_mocap_pose(d: DoorSpec, is_open: bool) -> tuple[np.ndarray, np.ndarray]:
    """Mocap position (the hinge) and quaternion (w, x, y, z) of a door body."""
    h0 = d.g0 + WALL_THICKNESS / 2
    pos = np.array([h0, d.at, 0.0]) if d.axis == "x" else np.array([d.at, h0, 0.0])
    base = 0.0 if d.axis == "x" else math.pi / 2
    yaw = base + (d.swing * math.pi / 2 if is_open else 0.0)
    if d.axis == "y" and is_open:
        yaw = base - d.swing * math.pi / 2
    return pos, np.array([math.cos(yaw / 2), 0.0, 0.0, math.sin(yaw / 2)])


def _asset_bytes(name: str) -> bytes:
    return (resources.files(__package__) / "assets" / name).read_bytes()


def build_model(max_width: int = 640, max_height: int = 480) -> HouseModel:
    """Compile the house.  ``max_width/height`` size the offscreen framebuffer."""
    assets: dict[str, bytes] = {}
    asset_xml: list[str] = []
    tex_needed = set(_SURFACE_MATERIALS) | {r.floor for r in ROOMS}
    for tex in sorted(tex_needed):
        rep, spec = _SURFACE_MATERIALS.get(tex, (1.0, 0.2))
        assets[f"{tex}.png"] = _asset_bytes(f"{tex}.png")
        asset_xml.append(f'<texture name="t_{tex}" type="2d" file="{tex}.png"/>')
        asset_xml.append(
            f'<material name="{tex}" texture="t_{tex}" texuniform="true" texrepeat="{_f(rep, rep)}" specular="{spec}"/>'
        )
    asset_xml.append('<material name="tv_black" rgba="0.05 0.05 0.06 1" specular="0.6" shininess="0.8"/>')
    asset_xml.append('<material name="ceiling" rgba="0.93 0.93 0.9 1"/>')

    meshes = {o.mesh for o in OBJECTS if o.mesh} | {f.mesh.mesh for f in FURNITURE if f.mesh}
    for m in sorted(meshes):
        assets[f"{m}.obj"] = gzip.decompress(_asset_bytes(f"{m}.obj.gz"))
        asset_xml.append(f'<mesh name="m_{m}" file="{m}.obj"/>')
    obj_textures = {o.texture for o in OBJECTS if o.mesh} | {f.mesh.texture for f in FURNITURE if f.mesh}
    for tex in sorted(obj_textures - tex_needed):
        assets[f"{tex}.png"] = _asset_bytes(f"{tex}.png")
        asset_xml.append(f'<texture name="t_{tex}" type="2d" file="{tex}.png"/>')
    for o in OBJECTS:
        asset_xml.append(
            f'<material name="o_{o.key}" texture="t_{o.texture}" rgba="{_f(*o.rgba)}" specular="0.3" shininess="0.5"/>'
        )
    for f in FURNITURE:
        if f.mesh:
            asset_xml.append(f'<material name="f_{f.key}" texture="t_{f.mesh.texture}" specular="0.5"/>')

    world: list[str] = []
    # floors, one per room
    for r in ROOMS:
        cx, cy = r.centre
        hx, hy = (r.hi[0] - r.lo[0]) / 2, (r.hi[1] - r.lo[1]) / 2
        world.append(
            f'<geom name="floor:{r.name}" type="box" pos="{_f(cx, cy, -0.025)}" size="{_f(hx, hy, 0.025)}" '
            f'material="{r.floor}" group="0"/>'
        )
    # walls
    t, h = WALL_THICKNESS, WALL_HEIGHT
    for i, w in enumerate(WALLS):
        half_len = (w.b - w.a) / 2 + t / 2
        mid = (w.a + w.b) / 2
        if w.axis == "x":
            pos, size = (mid, w.at, h / 2), (half_len, t / 2, h / 2)
        else:
            pos, size = (w.at, mid, h / 2), (t / 2, half_len, h / 2)
        world.append(f'<geom name="wall:{i}" type="box" pos="{_f(*pos)}" size="{_f(*size)}" material="wall_plaster"/>')
    # lintels above door gaps and openings (group 3: hidden from the top-down view)
    gaps = [(d.axis, d.at, d.g0, d.g1) for d in DOORS] + [("x", 4.6, 8.4, 9.6), ("y", 4.4, 6.0, 7.0)]
    for i, (axis, at, g0, g1) in enumerate(gaps):
        mid, half = (g0 + g1) / 2, (g1 - g0) / 2
        zc, zh = (DOOR_HEIGHT + h) / 2, (h - DOOR_HEIGHT) / 2
        pos, size = ((mid, at, zc), (half, t / 2, zh)) if axis == "x" else ((at, mid, zc), (t / 2, half, zh))
        world.append(
            f'<geom name="lintel:{i}" type="box" pos="{_f(*pos)}" size="{_f(*size)}" material="wall_plaster" group="3"/>'
        )
    # ceiling
    cx, cy = (HOUSE_LO[0] + HOUSE_HI[0]) / 2, (HOUSE_LO[1] + HOUSE_HI[1]) / 2
    world.append(
        f'<geom name="ceiling" type="box" pos="{_f(cx, cy, h + 0.02)}" size="{_f(cx + 0.2, cy + 0.2, 0.02)}" '
        f'material="ceiling" group="3"/>'
    )
    # ceiling lights, one per room
    for r in ROOMS:
        cx, cy = r.centre
        world.append(
            f'<light name="light:{r.name}" pos="{_f(cx, cy, h - 0.2)}" dir="0 0 -1" directional="false" '
            f'castshadow="false" diffuse="0.45 0.45 0.42" specular="0.1 0.1 0.1" attenuation="1 0.05 0.02" cutoff="90"/>'
        )
    # furniture
    for f in FURNITURE:
        parts = []
        for j, b in enumerate(f.boxes):
            parts.append(
                f'<geom name="furn:{f.key}:{j}" type="box" pos="{_f(*b.centre)}" size="{_f(*b.half)}" '
                f'material="{b.material}" group="1"/>'
            )
        if f.mesh:
            yaw = math.radians(f.mesh.yaw_deg)
            parts.append(
                f'<geom name="furn:{f.key}:mesh" type="mesh" mesh="m_{f.mesh.mesh}" pos="{_f(*f.mesh.pos)}" '
                f'euler="0 0 {yaw:.6g}" material="f_{f.key}" group="1"/>'
            )
        world.append(f'<body name="furn:{f.key}">{"".join(parts)}</body>')
    # doors (mocap)
    for d in DOORS:
        w = (d.g1 - d.g0) - WALL_THICKNESS
        world.append(
            f'<body name="door:{d.name}" mocap="true"><geom name="door:{d.name}" type="box" '
            f'pos="{_f(w / 2, 0, DOOR_HEIGHT / 2)}" size="{_f(w / 2, 0.02, DOOR_HEIGHT / 2)}" material="wood_light" '
            f'group="0"/></body>'
        )
    # objects (mocap), parked out of sight until placed
    for k, o in enumerate(OBJECTS):
        if o.mesh:
            g = f'<geom name="obj:{o.key}" type="mesh" mesh="m_{o.mesh}" material="o_{o.key}" group="2"/>'
        else:
            bh = o.box_half or (0.05, 0.05, 0.05)
            g = (
                f'<geom name="obj:{o.key}" type="box" pos="0 0 {bh[2]:.5g}" size="{_f(*bh)}" '
                f'material="o_{o.key}" group="2"/>'
            )
        world.append(f'<body name="obj:{o.key}" mocap="true" pos="{_f(100 + k, 100, HIDDEN_Z)}">{g}</body>')
    # the camera agent and a top-down camera
    world.append('<body name="agent" mocap="true" pos="1 4 1.2"><camera name="agent_cam" fovy="60"/></body>')
    span = max(HOUSE_HI[0] - HOUSE_LO[0], HOUSE_HI[1] - HOUSE_LO[1]) + 0.4
    world.append(
        f'<camera name="topdown" pos="{_f(cx_house(), cy_house(), 20)}" xyaxes="1 0 0 0 1 0" '
        f'projection="orthographic" fovy="{span:.4g}"/>'
    )

    xml = f"""<mujoco model="robomem_household">
  <compiler inertiafromgeom="false" angle="radian"/>
  <option gravity="0 0 0"/>
  <statistic extent="5" center="5 4 1"/>
  <visual>
    <global offwidth="{max_width}" offheight="{max_height}" fovy="60"/>
    <quality shadowsize="0" offsamples="0"/>
    <map znear="0.01" zfar="10"/>
    <headlight ambient="0.42 0.42 0.42" diffuse="0.3 0.3 0.3" specular="0.05 0.05 0.05"/>
  </visual>
  <default><geom contype="0" conaffinity="0"/></default>
  <asset>
    {chr(10).join(asset_xml)}
  </asset>
  <worldbody>
    {chr(10).join(world)}
  </worldbody>
</mujoco>"""
    model = mujoco.MjModel.from_xml_string(xml, assets)

    # instance ids: furniture first (1..F), then objects (F+1..)
    labels: dict[int, str] = {}
    keys: dict[int, str] = {}
    body_instance = np.zeros(model.nbody, dtype=np.int32)
    next_id = 1
    for f in FURNITURE:
        body_instance[model.body(f"furn:{f.key}").id] = next_id
        labels[next_id], keys[next_id] = f.label, f.key
        next_id += 1
    object_mocap: dict[str, int] = {}
    for o in OBJECTS:
        b = model.body(f"obj:{o.key}")
        body_instance[b.id] = next_id
        labels[next_id], keys[next_id] = o.label, o.key
        object_mocap[o.key] = int(model.body_mocapid[b.id])
        next_id += 1
    geom_instance = body_instance[model.geom_bodyid].astype(np.int32)
    door_mocap = {d.name: int(model.body_mocapid[model.body(f"door:{d.name}").id]) for d in DOORS}
    return HouseModel(
        model=model,
        geom_instance=geom_instance,
        instance_labels=labels,
        instance_keys=keys,
        object_mocap=object_mocap,
        door_mocap=door_mocap,
        agent_mocap=int(model.body_mocapid[model.body("agent").id]),
        agent_camera=int(model.camera("agent_cam").id),
        topdown_camera=int(model.camera("topdown").id),
    )


def cx_house() -> float:
    return (HOUSE_LO[0] + HOUSE_HI[0]) / 2


def cy_house() -> float:
    return (HOUSE_LO[1] + HOUSE_HI[1]) / 2
