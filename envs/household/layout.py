"""The house: rooms, walls, doors, furniture, support surfaces and the object catalogue.

Pure data, no MuJoCo.  World frame: x east, y north, z up, metres.  The house is
10 m x 8 m: a hallway runs east-west through the middle; bedroom and study lie south
of it, kitchen and living room north.  Room boxes are split at the wall centre lines,
so together they tile the house.

```
 y=8 +-----------------+------------------------------+
     |  kitchen        |  living room                 |
     |  fridge counter ==  sofa, coffee table, tv      |
     |  table, shelf   |  armchair, bookshelf         |
y=4.6+--door-----------+------------------opening-----+
     |  hallway            console table              |
y=3.4+------door-------+---------door-----------------+
     |  bedroom        |  study                       |
     |  bed, wardrobe  |  desk, bookshelf             |
 y=0 +-----------------+------------------------------+
    x=0              x=4.4/5                         x=10
```
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "CAMERA_HEIGHT",
    "DOORS",
    "FURNITURE",
    "HOUSE_HI",
    "HOUSE_LO",
    "OBJECTS",
    "ROOMS",
    "WALL_HEIGHT",
    "WALL_THICKNESS",
    "WALLS",
    "Box",
    "DoorSpec",
    "FurnitureSpec",
    "ObjectSpec",
    "Room",
    "Surface",
    "WallSpec",
    "room_at",
    "rooms_as_places",
]

HOUSE_LO = (0.0, 0.0)
HOUSE_HI = (10.0, 8.0)
WALL_THICKNESS = 0.12
WALL_HEIGHT = 2.6
CAMERA_HEIGHT = 1.2


@dataclass(frozen=True)
class Room:
    """An axis-aligned 2D box in the world frame (split at wall centre lines)."""

    name: str
    lo: tuple[float, float]
    hi: tuple[float, float]
    floor: str  # texture name

    def contains(self, x: float, y: float) -> bool:
        return self.lo[0] <= x < self.hi[0] and self.lo[1] <= y < self.hi[1]

    @property
    def centre(self) -> tuple[float, float]:
        return ((self.lo[0] + self.hi[0]) / 2, (self.lo[1] + self.hi[1]) / 2)


ROOMS: tuple[Room, ...] = (
    Room("bedroom", (0.0, 0.0), (5.0, 3.4), "floor_light"),
    Room("study", (5.0, 0.0), (10.0, 3.4), "floor_gray"),
    Room("hallway", (0.0, 3.4), (10.0, 4.6), "floor_marble"),
    Room("kitchen", (0.0, 4.6), (4.4, 8.0), "floor_tile"),
    Room("living room", (4.4, 4.6), (10.0, 8.0), "floor_wood"),
)


def room_at(x: float, y: float) -> str | None:
    """Name of the room containing (x, y), or None outside the house."""
    for r in ROOMS:
        if r.contains(x, y):
            return r.name
    return None


def rooms_as_places() -> list[tuple[str, tuple[float, float], tuple[float, float]]]:
    """Rooms as (name, (xmin, ymin), (xmax, ymax)), ready for ``Memory.set_places``."""
    return [(r.name, r.lo, r.hi) for r in ROOMS]


@dataclass(frozen=True)
class WallSpec:
    """A straight wall along x (``axis='x'``, at y=``at``) or along y, from ``a`` to ``b``."""

    axis: str
    at: float
    a: float
    b: float


def _wall_with_gaps(axis: str, at: float, a: float, b: float, gaps: list[tuple[float, float]]) -> list[WallSpec]:
    out, cur = [], a
    for g0, g1 in sorted(gaps):
        if g0 > cur:
            out.append(WallSpec(axis, at, cur, g0))
        cur = g1
    if cur < b:
        out.append(WallSpec(axis, at, cur, b))
    return out


@dataclass(frozen=True)
class DoorSpec:
    """A hinged door filling a gap in a wall.  Closed: in the wall line; open: swung 90
    degrees into ``swing_room`` (``swing`` = +1 towards +y/+x, -1 towards -y/-x)."""

    name: str
    axis: str  # the wall it sits in runs along this axis
    at: float  # wall coordinate
    g0: float  # gap from g0 to g1 along the wall; the hinge is at g0
    g1: float
    swing: int
    rooms: tuple[str, str]
    open_at_start: bool = True


DOORS: tuple[DoorSpec, ...] = (
    DoorSpec("bedroom door", "x", 3.4, 2.0, 3.0, -1, ("hallway", "bedroom")),
    DoorSpec("study door", "x", 3.4, 7.0, 8.0, -1, ("hallway", "study")),
    DoorSpec("kitchen door", "x", 4.6, 1.6, 2.6, +1, ("hallway", "kitchen")),
)

# Doorless openings: living room from the hallway and from the kitchen.
_OPEN_GAPS = {("x", 4.6): [(8.4, 9.6)], ("y", 4.4): [(6.0, 7.0)]}

WALLS: tuple[WallSpec, ...] = tuple(
    [
        WallSpec("x", 0.0, 0.0, 10.0),
        WallSpec("x", 8.0, 0.0, 10.0),
        WallSpec("y", 0.0, 0.0, 8.0),
        WallSpec("y", 10.0, 0.0, 8.0),
        WallSpec("y", 5.0, 0.0, 3.4),
    ]
    + _wall_with_gaps("x", 3.4, 0.0, 10.0, [(d.g0, d.g1) for d in DOORS if d.at == 3.4])
    + _wall_with_gaps("x", 4.6, 0.0, 10.0, [(d.g0, d.g1) for d in DOORS if d.at == 4.6] + _OPEN_GAPS[("x", 4.6)])
    + _wall_with_gaps("y", 4.4, 4.6, 8.0, _OPEN_GAPS[("y", 4.4)])
)


@dataclass(frozen=True)
class Box:
    """An axis-aligned box in world coordinates: centre and half sizes (metres)."""

    centre: tuple[float, float, float]
    half: tuple[float, float, float]
    material: str

    @property
    def zmin(self) -> float:
        return self.centre[2] - self.half[2]

    @property
    def zmax(self) -> float:
        return self.centre[2] + self.half[2]


@dataclass(frozen=True)
class Surface:
    """A horizontal rectangle objects can stand on (world frame), at height ``z``."""

    name: str
    lo: tuple[float, float]
    hi: tuple[float, float]
    z: float
    max_height: float = 1.0  # clearance above the surface


@dataclass(frozen=True)
class MeshPlacement:
    mesh: str  # asset stem
    texture: str
    pos: tuple[float, float, float]
    yaw_deg: float
    footprint: tuple[tuple[float, float], tuple[float, float]]  # world xy rect for collision


@dataclass(frozen=True)
class FurnitureSpec:
    """Furniture that memory should know about (it gets an instance id)."""

    key: str
    label: str
    room: str
    boxes: tuple[Box, ...]
    surfaces: tuple[Surface, ...] = ()
    mesh: MeshPlacement | None = None

    def footprint(self) -> tuple[tuple[float, float], tuple[float, float]]:
        """World xy bounding rect of the parts lower than the robot (for collision)."""
        rects = [
            ((b.centre[0] - b.half[0], b.centre[1] - b.half[1]), (b.centre[0] + b.half[0], b.centre[1] + b.half[1]))
            for b in self.boxes
            if b.zmin < CAMERA_HEIGHT + 0.1
        ]
        if self.mesh is not None:
            rects.append(self.mesh.footprint)
        return (
            (min(r[0][0] for r in rects), min(r[0][1] for r in rects)),
            (max(r[1][0] for r in rects), max(r[1][1] for r in rects)),
        )


def _box(x0: float, y0: float, z0: float, x1: float, y1: float, z1: float, mat: str) -> Box:
    return Box(((x0 + x1) / 2, (y0 + y1) / 2, (z0 + z1) / 2), ((x1 - x0) / 2, (y1 - y0) / 2, (z1 - z0) / 2), mat)


def _table(
    key: str,
    label: str,
    room: str,
    x0: float,
    y0: float,
    x1: float,
    y1: float,
    h: float,
    top: str = "wood_table",
    legs: str = "wood_dark",
    inset: float = 0.05,
) -> FurnitureSpec:
    t = 0.04
    boxes = [_box(x0, y0, h - t, x1, y1, h, top)]
    lw = 0.05
    for lx in (x0 + inset, x1 - inset - lw):
        for ly in (y0 + inset, y1 - inset - lw):
            boxes.append(_box(lx, ly, 0.0, lx + lw, ly + lw, h - t, legs))
    m = 0.04
    return FurnitureSpec(key, label, room, tuple(boxes), (Surface(key, (x0 + m, y0 + m), (x1 - m, y1 - m), h),))


def _cabinet(
    key: str,
    label: str,
    room: str,
    x0: float,
    y0: float,
    x1: float,
    y1: float,
    h: float,
    body: str = "ceramic",
    top: str = "wood_light",
) -> FurnitureSpec:
    boxes = (_box(x0, y0, 0.0, x1, y1, h - 0.04, body), _box(x0, y0, h - 0.04, x1, y1, h, top))
    m = 0.05
    return FurnitureSpec(key, label, room, boxes, (Surface(key, (x0 + m, y0 + m), (x1 - m, y1 - m), h),))


def _shelf(
    key: str,
    label: str,
    room: str,
    x0: float,
    y0: float,
    x1: float,
    y1: float,
    h: float,
    levels: tuple[float, ...],
    mat: str = "wood_light",
) -> FurnitureSpec:
    """An open shelf unit; its long side runs along x if wider in x, else along y."""
    along_x = (x1 - x0) >= (y1 - y0)
    t = 0.03
    boxes = []
    if along_x:
        boxes += [_box(x0, y0, 0, x0 + t, y1, h, mat), _box(x1 - t, y0, 0, x1, y1, h, mat)]
    else:
        boxes += [_box(x0, y0, 0, x1, y0 + t, h, mat), _box(x0, y1 - t, 0, x1, y1, h, mat)]
    surfaces = []
    all_levels = (0.05, *levels, h)
    for i, z in enumerate(all_levels):
        boxes.append(_box(x0, y0, z - t, x1, y1, z, mat))
        if i < len(all_levels) - 1:
            clear = all_levels[i + 1] - z - t
            if z > 0.3:  # the bottom shelf is too low to be looked at
                m = 0.05
                surfaces.append(Surface(f"{key} level {i}", (x0 + m, y0 + m), (x1 - m, y1 - m), z, clear))
    return FurnitureSpec(key, label, room, tuple(boxes), tuple(surfaces))


def _chair(key: str, label: str, room: str, cx: float, cy: float, back: str, mat: str = "wood_dark") -> FurnitureSpec:
    s = 0.22
    boxes = [_box(cx - s, cy - s, 0.42, cx + s, cy + s, 0.46, mat)]
    for dx in (-s + 0.02, s - 0.06):
        for dy in (-s + 0.02, s - 0.06):
            boxes.append(_box(cx + dx, cy + dy, 0.0, cx + dx + 0.04, cy + dy + 0.04, 0.42, mat))
    bx = {
        "+x": (cx + s - 0.04, cy - s, cx + s, cy + s),
        "-x": (cx - s, cy - s, cx - s + 0.04, cy + s),
        "+y": (cx - s, cy + s - 0.04, cx + s, cy + s),
        "-y": (cx - s, cy - s, cx + s, cy - s + 0.04),
    }[back]
    boxes.append(_box(bx[0], bx[1], 0.46, bx[2], bx[3], 0.95, mat))
    return FurnitureSpec(key, label, room, tuple(boxes))


def _furniture() -> tuple[FurnitureSpec, ...]:
    f: list[FurnitureSpec] = []
    # --- kitchen (0..4.4, 4.6..8) ---------------------------------------------------------
    f.append(
        FurnitureSpec(
            "fridge",
            "fridge",
            "kitchen",
            (),
            (),
            MeshPlacement("fridge", "fridge", (0.30, 7.35, 0.0), 0.0, ((0.06, 6.9), (0.54, 7.8))),
        )
    )
    f.append(_cabinet("kitchen counter", "kitchen counter", "kitchen", 0.75, 7.3, 3.4, 7.94, 0.9))
    f.append(_table("kitchen table", "dining table", "kitchen", 1.5, 5.5, 2.7, 6.3, 0.75))
    f.append(_chair("kitchen chair 1", "chair", "kitchen", 3.15, 5.9, "+x"))
    f.append(_chair("kitchen chair 2", "chair", "kitchen", 1.05, 5.9, "-x"))
    f.append(_shelf("kitchen shelf", "kitchen shelf", "kitchen", 3.95, 4.75, 4.34, 5.75, 1.6, (0.55, 1.05)))
    # --- living room (4.4..10, 4.6..8) -----------------------------------------------------
    sofa = (
        _box(6.2, 7.1, 0.0, 8.2, 7.94, 0.45, "fabric_blue"),
        _box(6.2, 7.7, 0.45, 8.2, 7.94, 0.9, "fabric_blue"),
        _box(6.2, 7.1, 0.45, 6.4, 7.94, 0.62, "fabric_blue"),
        _box(8.0, 7.1, 0.45, 8.2, 7.94, 0.62, "fabric_blue"),
    )
    f.append(
        FurnitureSpec("sofa", "sofa", "living room", sofa, (Surface("sofa", (6.45, 7.2), (7.95, 7.6), 0.45, 0.4),))
    )
    f.append(
        _table("coffee table", "coffee table", "living room", 6.65, 6.1, 7.75, 6.65, 0.42, "wood_table", "wood_table")
    )
    f.append(_cabinet("tv stand", "tv stand", "living room", 6.3, 4.68, 7.9, 5.08, 0.5, "wood_dark", "wood_dark"))
    f.append(
        FurnitureSpec(
            "tv",
            "television",
            "living room",
            (
                _box(6.6, 4.75, 0.5, 7.6, 4.81, 0.52, "tv_black"),
                _box(6.55, 4.75, 0.56, 7.65, 4.8, 1.18, "tv_black"),
                _box(7.05, 4.76, 0.5, 7.15, 4.8, 0.56, "tv_black"),
            ),
        )
    )
    f.append(_chair("armchair", "armchair", "living room", 5.35, 7.45, "+y", "fabric_navy"))
    f.append(_shelf("living bookshelf", "bookshelf", "living room", 9.6, 6.4, 9.94, 7.6, 1.8, (0.6, 1.15)))
    # --- hallway (0..10, 3.4..4.6) ---------------------------------------------------------
    f.append(
        _cabinet("console table", "console table", "hallway", 4.3, 4.25, 5.3, 4.54, 0.8, "wood_dark", "wood_table")
    )
    # --- bedroom (0..5, 0..3.4) ------------------------------------------------------------
    bed = (
        _box(0.06, 0.4, 0.0, 2.1, 2.0, 0.3, "wood_dark"),
        _box(0.08, 0.42, 0.3, 2.06, 1.98, 0.5, "fabric_linen"),
        _box(0.06, 0.4, 0.0, 0.12, 2.0, 1.0, "wood_dark"),
        _box(0.2, 0.55, 0.5, 0.55, 1.85, 0.6, "ceramic"),
    )
    f.append(FurnitureSpec("bed", "bed", "bedroom", bed, (Surface("bed", (0.7, 0.6), (1.9, 1.8), 0.5, 0.5),)))
    f.append(_cabinet("nightstand", "nightstand", "bedroom", 0.08, 2.1, 0.63, 2.65, 0.55, "wood_light", "wood_light"))
    f.append(FurnitureSpec("wardrobe", "wardrobe", "bedroom", (_box(3.2, 0.06, 0.0, 4.4, 0.66, 2.0, "wood_light"),)))
    f.append(_cabinet("dresser", "dresser", "bedroom", 4.45, 1.6, 4.94, 2.6, 0.8, "wood_light", "wood_table"))
    # --- study (5..10, 0..3.4) -------------------------------------------------------------
    f.append(_table("desk", "desk", "study", 5.5, 0.06, 6.9, 0.76, 0.75, "wood_light", "wood_light"))
    f.append(_chair("office chair", "office chair", "study", 6.2, 1.1, "+y", "fabric_navy"))
    f.append(_shelf("study bookshelf", "bookshelf", "study", 9.6, 0.8, 9.94, 2.2, 1.8, (0.6, 1.15)))
    f.append(_cabinet("filing cabinet", "filing cabinet", "study", 8.3, 0.06, 8.8, 0.56, 0.7, "metal", "metal"))
    return tuple(f)


FURNITURE: tuple[FurnitureSpec, ...] = _furniture()


@dataclass(frozen=True)
class ObjectSpec:
    """A movable object: an asset mesh (or a primitive box) with a label."""

    key: str
    label: str
    category: str
    mesh: str | None  # asset stem, None for a primitive box
    texture: str
    rgba: tuple[float, float, float, float] = (1.0, 1.0, 1.0, 1.0)
    radius: float = 0.06  # xy clearance radius for placement
    height: float = 0.1
    start: str = ""  # support surface name at the start (day 0); "" = absent at the start
    floor: bool = False  # stands on the floor (only moved between floor spots)
    box_half: tuple[float, float, float] | None = None  # primitive size


OBJECTS: tuple[ObjectSpec, ...] = (
    ObjectSpec("red mug", "red mug", "mug", "red_mug", "red_mug", radius=0.06, height=0.1, start="kitchen counter"),
    ObjectSpec(
        "white mug 1", "white mug", "mug", "white_mug", "white_mug", radius=0.068, height=0.1, start="kitchen table"
    ),
    ObjectSpec("white mug 2", "white mug", "mug", "white_mug", "white_mug", radius=0.068, height=0.1, start="desk"),
    ObjectSpec(
        "yellow mug", "yellow mug", "mug", "yellow_mug", "yellow_mug", radius=0.075, height=0.09, start="coffee table"
    ),
    ObjectSpec(
        "floral mug", "floral mug", "mug", "white_mug", "patterned_mug", radius=0.068, height=0.1, start="dresser"
    ),
    ObjectSpec("white bowl", "white bowl", "bowl", "bowl", "bowl", radius=0.082, height=0.07, start="kitchen counter"),
    ObjectSpec(
        "blue bowl",
        "blue bowl",
        "bowl",
        "bowl",
        "bowl",
        (0.35, 0.5, 1.0, 1.0),
        radius=0.082,
        height=0.07,
        start="kitchen table",
    ),
    ObjectSpec("plate", "plate", "plate", "plate", "plate", radius=0.126, height=0.03, start="kitchen table"),
    ObjectSpec(
        "yellow book",
        "yellow book",
        "book",
        "book",
        "book",
        (1.0, 0.85, 0.3, 1.0),
        radius=0.19,
        height=0.07,
        start="coffee table",
    ),
    ObjectSpec(
        "black book", "black book", "book", "black_book", "black_book", radius=0.2, height=0.07, start="nightstand"
    ),
    ObjectSpec(
        "blue book",
        "blue book",
        "book",
        "book",
        "book",
        (0.35, 0.45, 0.95, 1.0),
        radius=0.19,
        height=0.07,
        start="desk",
    ),
    ObjectSpec(
        "frying pan",
        "frying pan",
        "pan",
        "frying_pan",
        "frying_pan",
        radius=0.24,
        height=0.065,
        start="kitchen counter",
    ),
    ObjectSpec(
        "ketchup bottle",
        "ketchup bottle",
        "bottle",
        "ketchup",
        "ketchup",
        radius=0.053,
        height=0.2,
        start="kitchen counter",
    ),
    ObjectSpec(
        "milk carton", "milk carton", "carton", "milk", "milk", radius=0.055, height=0.2, start="kitchen shelf level 2"
    ),
    ObjectSpec(
        "soup can", "soup can", "can", "soup_can", "soup_can", radius=0.05, height=0.11, start="kitchen shelf level 1"
    ),
    ObjectSpec("butter", "butter", "butter", "butter", "butter", radius=0.08, height=0.035, start="kitchen table"),
    ObjectSpec(
        "orange juice",
        "orange juice carton",
        "carton",
        "orange_juice",
        "orange_juice",
        radius=0.06,
        height=0.22,
        start="",
    ),
    ObjectSpec("popcorn", "popcorn box", "box", "popcorn", "popcorn", radius=0.12, height=0.06, start=""),
    ObjectSpec(
        "potted plant",
        "potted plant",
        "plant",
        "plant",
        "plant",
        radius=0.3,
        height=0.9,
        start="living room floor 1",
        floor=True,
    ),
    ObjectSpec("moka pot", "moka pot", "pot", "moka_pot", "moka_pot", radius=0.1, height=0.2, start="kitchen counter"),
    ObjectSpec("apple 1", "apple", "apple", "apple", "apple", radius=0.042, height=0.08, start="kitchen table"),
    ObjectSpec("apple 2", "apple", "apple", "apple", "apple", radius=0.042, height=0.08, start="coffee table"),
    ObjectSpec(
        "remote control",
        "remote control",
        "remote",
        None,
        "metal",
        (0.15, 0.15, 0.17, 1.0),
        radius=0.095,
        height=0.025,
        start="sofa",
        box_half=(0.09, 0.025, 0.012),
    ),
)

# Spots on the floor for floor-standing objects (the plant).
FLOOR_SPOTS: tuple[Surface, ...] = (
    Surface("living room floor 1", (4.75, 4.95), (5.05, 5.25), 0.0, 2.0),
    Surface("living room floor 2", (9.55, 7.65), (9.75, 7.8), 0.0, 2.0),
    Surface("hallway floor", (0.3, 3.85), (0.45, 4.15), 0.0, 2.0),
    Surface("bedroom floor", (4.5, 0.3), (4.7, 0.5), 0.0, 2.0),
    Surface("study floor", (9.4, 2.7), (9.6, 3.0), 0.0, 2.0),
)


def all_surfaces() -> dict[str, tuple[Surface, str]]:
    """Every support surface by name -> (surface, room name)."""
    out: dict[str, tuple[Surface, str]] = {}
    for f in FURNITURE:
        for s in f.surfaces:
            out[s.name] = (s, f.room)
    for s in FLOOR_SPOTS:
        room = room_at((s.lo[0] + s.hi[0]) / 2, (s.lo[1] + s.hi[1]) / 2)
        if room is None:
            raise ValueError(f"layout: floor spot {s.name!r} lies in no room")
        out[s.name] = (s, room)
    return out
