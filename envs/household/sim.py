"""The household simulator: a camera agent walking a changing house, with ground truth.

Simulated time (seconds) starts at 08:00 of day 0; every action advances the clock by
``step_seconds``; :meth:`HouseholdSim.next_day` jumps to 08:00 of the next day after
applying that night's seeded changes (objects moved, removed, added; doors opened or
closed).  Every change the simulator makes is recorded in :attr:`HouseholdSim.changes`
and :meth:`HouseholdSim.ground_truth_state` replays them to give the state at any time.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import replace
from types import MappingProxyType

os.environ.setdefault("MUJOCO_GL", "egl")

import mujoco  # noqa: E402
import numpy as np  # noqa: E402

from robomem.planning.grid import OccupancyGrid, Rect  # noqa: E402

from .layout import (  # noqa: E402
    CAMERA_HEIGHT,
    DOORS,
    FURNITURE,
    HOUSE_HI,
    HOUSE_LO,
    OBJECTS,
    ROOMS,
    WALL_THICKNESS,
    WALLS,
    ObjectSpec,
    Room,
    Surface,
    all_surfaces,
    room_at,
    rooms_as_places,
)
from .model import HIDDEN_Z, HouseModel, build_model, door_mocap_pose, door_panel_rect  # noqa: E402
from .render import FrameRenderer, intrinsics_for, optical_pose  # noqa: E402
from .state import (  # noqa: E402
    DAY,
    MORNING,
    NAV_ACTIONS,
    NIGHT,
    AgentState,
    Change,
    HouseholdFrame,
    ObjectState,
    StepResult,
)

__all__ = [
    "DAY",
    "MORNING",
    "NAV_ACTIONS",
    "AgentState",
    "Change",
    "HouseholdFrame",
    "HouseholdSim",
    "ObjectState",
    "StepResult",
]


def _yaw_quat(yaw: float) -> np.ndarray:
    return np.array([math.cos(yaw / 2), 0.0, 0.0, math.sin(yaw / 2)])


def camera_rotation(yaw: float, pitch: float) -> np.ndarray:
    """World rotation of the optical frame (columns x right, y down, z forward)."""
    z = np.array([math.cos(yaw) * math.cos(pitch), math.sin(yaw) * math.cos(pitch), math.sin(pitch)])
    x = np.array([math.sin(yaw), -math.cos(yaw), 0.0])
    y = np.cross(z, x)
    return np.stack([x, y, z], axis=1)


class HouseholdSim:
    """A multi-room house in MuJoCo with a Habitat-like camera agent.

    >>> sim = HouseholdSim(seed=0)
    >>> frame = sim.observe()
    >>> sim.step("move_forward")
    """

    def __init__(
        self,
        width: int = 320,
        height: int = 240,
        hfov_deg: float = 90.0,
        seed: int = 0,
        step_seconds: float = 0.5,
        robot_radius: float = 0.2,
        forward_step: float = 0.25,
        turn_deg: float = 30.0,
        tilt_deg: float = 15.0,
        max_pitch_deg: float = 60.0,
        grid_resolution: float = 0.05,
    ) -> None:
        self.width, self.height = int(width), int(height)
        self.hfov = math.radians(hfov_deg)
        self.step_seconds = float(step_seconds)
        self.robot_radius = float(robot_radius)
        self.forward_step = float(forward_step)
        self.turn = math.radians(turn_deg)
        self.tilt = math.radians(tilt_deg)
        self.max_pitch = math.radians(max_pitch_deg)
        self.grid_resolution = float(grid_resolution)
        self.house: HouseModel = build_model(max(640, self.width), max(512, self.height))
        self.model = self.house.model
        self.data = mujoco.MjData(self.model)
        self.intrinsics = intrinsics_for(self.width, self.height, self.hfov)
        fy = self.intrinsics[1]
        self.model.cam_fovy[self.house.agent_camera] = math.degrees(2 * math.atan((self.height / 2) / fy))
        self._renderer = FrameRenderer(self.model, self.width, self.height)
        self._renderer.option.geomgroup[3] = 1  # ceiling and lintels are seen from inside
        self._top_renderer: FrameRenderer | None = None
        self._specs: dict[str, ObjectSpec] = {o.key: o for o in OBJECTS}
        self._key_to_id = {k: i for i, k in self.house.instance_keys.items()}
        self._surfaces: dict[str, tuple[Surface, str]] = all_surfaces()
        self._static_rects: list[Rect] = self._structure_rects()
        self.reset(seed)

    # ------------------------------------------------------------------ setup / state
    @property
    def rooms(self) -> tuple[Room, ...]:
        return ROOMS

    @staticmethod
    def places() -> list[tuple[str, tuple[float, float], tuple[float, float]]]:
        """Rooms as (name, (xmin, ymin), (xmax, ymax)) in the world frame."""
        return rooms_as_places()

    @property
    def instance_labels(self) -> Mapping[int, str]:
        """Every instance id (furniture and objects) -> label."""
        return MappingProxyType(self.house.instance_labels)

    @property
    def object_ids(self) -> dict[str, int]:
        """Movable object key -> instance id."""
        return {o.key: self._key_to_id[o.key] for o in OBJECTS}

    @property
    def furniture_ids(self) -> dict[str, int]:
        return {f.key: self._key_to_id[f.key] for f in FURNITURE}

    def reset(self, seed: int | None = None) -> None:
        """Lay the house out for day 0 (seeded), open every door, put the agent in the hallway."""
        self.seed = 0 if seed is None else int(seed)
        self._rng = np.random.default_rng(self.seed)
        self.day = 0
        self.time = MORNING
        self.changes: list[Change] = []
        self._change_states: list[ObjectState | None] = []  # the object's state after each change
        self.agent = AgentState(1.0, 4.0, 0.0, 0.0)
        self._doors: dict[str, bool] = {d.name: d.open_at_start for d in DOORS}
        self._objects: dict[str, ObjectState] = {}
        for o in OBJECTS:
            self._objects[o.key] = self._absent_state(o)
        for o in OBJECTS:
            if o.start:
                placed = self._sample_placement(o, o.start)
                if placed is None:
                    raise RuntimeError(f"cannot place {o.key!r} on {o.start!r}")
                self._objects[o.key] = placed
        self._initial_objects = dict(self._objects)
        self._initial_doors = dict(self._doors)
        self._rebuild_grid()
        self._sync()
        return None

    def _absent_state(self, o: ObjectSpec) -> ObjectState:
        return ObjectState(self._key_to_id[o.key], o.key, o.label, o.category, False, None, 0.0, None, None)

    # ------------------------------------------------------------------ geometry / collision
    def _structure_rects(self) -> list[Rect]:
        rects: list[Rect] = []
        t = WALL_THICKNESS / 2
        for w in WALLS:
            if w.axis == "x":
                rects.append(((w.a - t, w.at - t), (w.b + t, w.at + t)))
            else:
                rects.append(((w.at - t, w.a - t), (w.at + t, w.b + t)))
        rects += [f.footprint() for f in FURNITURE]
        return rects

    def _obstacle_rects(self) -> list[Rect]:
        rects = list(self._static_rects)
        rects += [door_panel_rect(d, self._doors[d.name]) for d in DOORS]
        for st in self._objects.values():
            spec = self._specs[st.key]
            if st.present and spec.floor and st.position is not None:
                x, y, _ = st.position
                r = spec.radius
                rects.append(((x - r, y - r), (x + r, y + r)))
        return rects

    def _rebuild_grid(self) -> None:
        rects = self._obstacle_rects()
        self._rect_array = np.array([[x0, y0, x1, y1] for (x0, y0), (x1, y1) in rects], dtype=np.float64)
        self.grid = OccupancyGrid.from_rects(HOUSE_LO, HOUSE_HI, rects, self.robot_radius, self.grid_resolution)
        # the planner keeps a little extra clearance so that discrete moves along its path do not collide
        self.plan_grid = OccupancyGrid.from_rects(
            HOUSE_LO, HOUSE_HI, rects, self.robot_radius + 0.06, self.grid_resolution
        )

    def is_free(self, x: float, y: float) -> bool:
        """Can the agent (a disc of ``robot_radius``) stand at (x, y)?  Exact, not grid-based."""
        if not (HOUSE_LO[0] <= x <= HOUSE_HI[0] and HOUSE_LO[1] <= y <= HOUSE_HI[1]):
            return False
        r = self._rect_array
        dx = np.maximum(np.maximum(r[:, 0] - x, x - r[:, 2]), 0.0)
        dy = np.maximum(np.maximum(r[:, 1] - y, y - r[:, 3]), 0.0)
        return bool(np.all(dx * dx + dy * dy >= self.robot_radius**2))

    def segment_free(self, a: tuple[float, float], b: tuple[float, float], spacing: float = 0.02) -> bool:
        """Can the agent slide along the straight segment a-b without touching anything?"""
        n = max(1, int(math.ceil(math.hypot(b[0] - a[0], b[1] - a[1]) / spacing)))
        return all(self.is_free(a[0] + (b[0] - a[0]) * k / n, a[1] + (b[1] - a[1]) * k / n) for k in range(n + 1))

    # ------------------------------------------------------------------ agent
    def step(self, action: str | int) -> StepResult:
        """Apply one discrete action (name or Habitat index) and advance the clock."""
        name = NAV_ACTIONS[action] if isinstance(action, (int, np.integer)) else str(action)
        collided = False
        a = self.agent
        if name == "move_forward":
            nx = a.x + self.forward_step * math.cos(a.yaw)
            ny = a.y + self.forward_step * math.sin(a.yaw)
            if self.segment_free((a.x, a.y), (nx, ny)):
                self.agent = replace(a, x=nx, y=ny)
            else:
                collided = True
        elif name == "turn_left":
            self.agent = replace(a, yaw=_wrap(a.yaw + self.turn))
        elif name == "turn_right":
            self.agent = replace(a, yaw=_wrap(a.yaw - self.turn))
        elif name == "look_up":
            self.agent = replace(a, pitch=min(self.max_pitch, a.pitch + self.tilt))
        elif name == "look_down":
            self.agent = replace(a, pitch=max(-self.max_pitch, a.pitch - self.tilt))
        elif name != "stop":
            raise ValueError(f"unknown action {action!r}; expected one of {NAV_ACTIONS}")
        self.time += self.step_seconds
        self._sync_agent()
        return StepResult(name, collided, self.time)

    def teleport(self, x: float, y: float, yaw: float | None = None, pitch: float | None = None) -> None:
        """Put the agent at (x, y) with heading ``yaw`` (rad).  Raises ValueError where it
        cannot stand (inside a wall or furniture).  Advances the clock by one step."""
        if not self.is_free(x, y):
            raise ValueError(f"teleport: ({x:.2f}, {y:.2f}) is not free for the agent")
        a = self.agent
        self.agent = AgentState(
            float(x),
            float(y),
            _wrap(a.yaw if yaw is None else float(yaw)),
            a.pitch if pitch is None else float(np.clip(pitch, -self.max_pitch, self.max_pitch)),
        )
        self.time += self.step_seconds
        self._sync_agent()

    goto = teleport

    def path_to(self, x: float, y: float) -> list[tuple[float, float]] | None:
        """Shortest collision-free path (waypoints, world xy) from the agent to (x, y); None if unreachable."""
        goal = (x, y)
        if not self.plan_grid.is_free(x, y):
            g = self.plan_grid.nearest_free(x, y, 0.6)
            if g is None:
                return None
            goal = g
        return self.plan_grid.astar((self.agent.x, self.agent.y), goal)

    def next_action_towards(self, x: float, y: float, tolerance: float = 0.2) -> str | None:
        """A greedy path follower: the discrete action that makes progress towards (x, y)
        along the shortest path; "stop" when within ``tolerance``; None if unreachable."""
        a = self.agent
        if math.hypot(x - a.x, y - a.y) <= tolerance:
            return "stop"
        path = self.path_to(x, y)
        if path is None:
            return None
        tx, ty = path[1] if len(path) > 1 else path[0]
        if math.hypot(tx - a.x, ty - a.y) < 1e-6:
            return "stop"
        err = _wrap(math.atan2(ty - a.y, tx - a.x) - a.yaw)
        if abs(err) > self.turn / 2 + 1e-6:
            return "turn_left" if err > 0 else "turn_right"
        return "move_forward"

    def _sync_agent(self) -> None:
        a = self.agent
        r_opt = camera_rotation(a.yaw, a.pitch)
        r_mj = r_opt @ np.diag([1.0, -1.0, -1.0])
        q = np.zeros(4)
        mujoco.mju_mat2Quat(q, r_mj.flatten())
        m = self.house.agent_mocap
        self.data.mocap_pos[m] = [a.x, a.y, CAMERA_HEIGHT]
        self.data.mocap_quat[m] = q
        mujoco.mj_kinematics(self.model, self.data)
        mujoco.mj_camlight(self.model, self.data)

    def _sync(self) -> None:
        for d in DOORS:
            pos, quat = door_mocap_pose(d, self._doors[d.name])
            k = self.house.door_mocap[d.name]
            self.data.mocap_pos[k] = pos
            self.data.mocap_quat[k] = quat
        for idx, o in enumerate(OBJECTS):
            st = self._objects[o.key]
            k = self.house.object_mocap[o.key]
            if st.present and st.position is not None:
                self.data.mocap_pos[k] = st.position
                self.data.mocap_quat[k] = _yaw_quat(st.yaw)
            else:
                self.data.mocap_pos[k] = [100.0 + idx, 100.0, HIDDEN_Z]
        self._sync_agent()

    # ------------------------------------------------------------------ rendering
    def camera_pose(self) -> np.ndarray:
        """T_world_camera (4x4, optical frame) of the agent's camera, read back from MuJoCo."""
        return optical_pose(self.data, self.house.agent_camera)

    def observe(self) -> HouseholdFrame:
        """Render the agent's view: RGB, metric depth, instance ids and labels, pose, intrinsics."""
        rgb, depth, inst = self._renderer.render(self.data, self.house.agent_camera, self.house.geom_instance)
        if inst is None:  # the renderer was given geom_instance, so this is a broken renderer
            raise RuntimeError("HouseholdSim.observe: the renderer returned no instance image")
        labels = {int(i): self.house.instance_labels[int(i)] for i in np.unique(inst) if i != 0}
        return HouseholdFrame(
            rgb,
            depth,
            inst,
            labels,
            self.camera_pose(),
            self.intrinsics,
            self.time,
            self.agent,
            room_at(self.agent.x, self.agent.y),
        )

    def render_topdown(self, width: int = 640, height: int = 512) -> np.ndarray:
        """An orthographic view of the whole house from above (no ceiling), RGB uint8."""
        if self._top_renderer is None or (self._top_renderer.width, self._top_renderer.height) != (width, height):
            if self._top_renderer is not None:
                self._top_renderer.close()
            self._top_renderer = FrameRenderer(self.model, width, height)
            self._top_renderer.option.geomgroup[3] = 0
        return self._top_renderer.render_rgb(self.data, self.house.topdown_camera)

    def topdown_pixel(self, x: float, y: float, width: int = 640, height: int = 512) -> tuple[int, int]:
        """Pixel (u, v) of world (x, y) in :meth:`render_topdown`'s image."""
        span = float(self.model.cam_fovy[self.house.topdown_camera])  # orthographic: vertical extent in metres
        scale = height / span
        cx, cy = self.model.cam_pos[self.house.topdown_camera][:2]
        return int(round(width / 2 + (x - cx) * scale - 0.5)), int(round(height / 2 - (y - cy) * scale - 0.5))

    def close(self) -> None:
        self._renderer.close()
        if self._top_renderer is not None:
            self._top_renderer.close()

    # ------------------------------------------------------------------ world changes
    def _sample_placement(
        self, o: ObjectSpec, support: str, rng: np.random.Generator | None = None, tries: int = 40
    ) -> ObjectState | None:
        rng = self._rng if rng is None else rng
        surf, room = self._surfaces[support]
        if o.height > surf.max_height:
            return None
        if o.floor != (surf.z == 0.0):
            return None
        x0, y0 = surf.lo[0] + o.radius, surf.lo[1] + o.radius
        x1, y1 = surf.hi[0] - o.radius, surf.hi[1] - o.radius
        if o.floor:  # floor spots are small: the centre must lie in the spot
            x0, y0, x1, y1 = surf.lo[0], surf.lo[1], surf.hi[0], surf.hi[1]
        if x1 < x0 or y1 < y0:
            return None
        others = [
            (s.position, self._specs[s.key].radius)
            for s in self._objects.values()
            if s.present and s.support == support and s.key != o.key and s.position is not None
        ]
        for _ in range(tries):
            x, y = float(rng.uniform(x0, x1)), float(rng.uniform(y0, y1))
            if all(math.hypot(x - p[0], y - p[1]) >= r + o.radius + 0.01 for p, r in others):
                if o.floor and math.hypot(x - self.agent.x, y - self.agent.y) < o.radius + self.robot_radius + 0.05:
                    continue
                yaw = float(rng.uniform(-math.pi, math.pi))
                return ObjectState(
                    self._key_to_id[o.key],
                    o.key,
                    o.label,
                    o.category,
                    True,
                    (round(x, 4), round(y, 4), surf.z),
                    yaw,
                    room,
                    support,
                )
        return None

    def _record(self, kind: str, key: str, before: ObjectState, after: ObjectState) -> Change:
        ch = Change(
            self.time,
            kind,
            key,
            before.instance_id,
            before.label,
            before.room,
            after.room,
            before.support,
            after.support,
            before.position,
            after.position,
        )
        self.changes.append(ch)
        self._change_states.append(after)
        return ch

    def _resolve(self, obj: str | int) -> str:
        if isinstance(obj, (int, np.integer)):
            key = self.house.instance_keys.get(int(obj))
            if key is None or key not in self._specs:
                raise KeyError(f"no movable object with instance id {obj}")
            return key
        if obj not in self._specs:
            raise KeyError(f"no movable object {obj!r}")
        return obj

    def move_object(self, obj: str | int, support: str | None = None) -> Change | None:
        """Move a present object to ``support`` (a surface name; random other one if None), now."""
        key = self._resolve(obj)
        before = self._objects[key]
        if not before.present:
            raise ValueError(f"move_object: {key!r} is absent; use add_object")
        spec = self._specs[key]
        candidates = [support] if support else self._candidate_supports(spec, exclude=before.support)
        for s in candidates:
            after = self._sample_placement(spec, s)
            if after is not None:
                self._objects[key] = after
                ch = self._record("move", key, before, after)
                self._after_change(spec)
                return ch
        return None

    def remove_object(self, obj: str | int) -> Change:
        key = self._resolve(obj)
        before = self._objects[key]
        if not before.present:
            raise ValueError(f"remove_object: {key!r} is already absent")
        after = self._absent_state(self._specs[key])
        self._objects[key] = after
        ch = self._record("remove", key, before, after)
        self._after_change(self._specs[key])
        return ch

    def add_object(self, obj: str | int, support: str | None = None) -> Change | None:
        key = self._resolve(obj)
        before = self._objects[key]
        if before.present:
            raise ValueError(f"add_object: {key!r} is already present")
        spec = self._specs[key]
        for s in [support] if support else self._candidate_supports(spec, exclude=None):
            after = self._sample_placement(spec, s)
            if after is not None:
                self._objects[key] = after
                ch = self._record("add", key, before, after)
                self._after_change(spec)
                return ch
        return None

    def set_door(self, name: str, is_open: bool) -> Change | None:
        """Open or close a door now; None if it already was.  Refuses to close a door on the agent."""
        if name not in self._doors:
            raise KeyError(f"no door {name!r}; doors: {sorted(self._doors)}")
        if self._doors[name] == bool(is_open):
            return None
        d = next(d for d in DOORS if d.name == name)
        (x0, y0), (x1, y1) = door_panel_rect(d, bool(is_open))
        a = self.agent
        dx, dy = max(x0 - a.x, 0, a.x - x1), max(y0 - a.y, 0, a.y - y1)
        if math.hypot(dx, dy) < self.robot_radius:
            return None
        self._doors[name] = bool(is_open)
        ch = Change(self.time, "door_open" if is_open else "door_close", name, 0, name, d.rooms[0], d.rooms[1])
        self.changes.append(ch)
        self._change_states.append(None)
        self._rebuild_grid()
        self._sync()
        return ch

    def door_states(self) -> dict[str, bool]:
        """Door name -> open, now."""
        return dict(self._doors)

    def _after_change(self, spec: ObjectSpec) -> None:
        if spec.floor:
            self._rebuild_grid()
        self._sync()

    def _candidate_supports(self, spec: ObjectSpec, exclude: str | None) -> list[str]:
        names = [n for n, (s, _) in self._surfaces.items() if n != exclude and (s.z == 0.0) == spec.floor]
        order = self._rng.permutation(len(names))
        return [names[i] for i in order]

    def next_day(self, n_moves: int | None = None) -> list[Change]:
        """Sleep: at 03:00 of the next day apply seeded random changes, then wake at 08:00.

        Moves 2-4 objects (usually to another room), sometimes removes one, sometimes adds
        an absent one, toggles doors now and then.  Returns that night's changes."""
        self.day += 1
        self.time = self.day * DAY + NIGHT
        rng = self._rng
        out: list[Change] = []
        movable = [k for k, s in self._objects.items() if s.present and not self._specs[k].floor]
        n = int(rng.integers(2, 5)) if n_moves is None else int(n_moves)
        for k in rng.permutation(movable)[:n]:
            ch = self.move_object(str(k))
            if ch is not None:
                out.append(ch)
        floor_objs = [k for k, s in self._objects.items() if s.present and self._specs[k].floor]
        if floor_objs and rng.random() < 0.25:
            ch = self.move_object(floor_objs[0])
            if ch is not None:
                out.append(ch)
        present = [k for k, s in self._objects.items() if s.present and not self._specs[k].floor]
        if present and rng.random() < 0.35:
            out.append(self.remove_object(str(rng.choice(present))))
        absent = [k for k, s in self._objects.items() if not s.present]
        if absent and rng.random() < 0.6:
            ch = self.add_object(str(rng.choice(absent)))
            if ch is not None:
                out.append(ch)
        for d in DOORS:
            if rng.random() < 0.25:
                ch = self.set_door(d.name, not self._doors[d.name])
                if ch is not None:
                    out.append(ch)
        self.time = self.day * DAY + MORNING
        self._sync()
        return out

    # ------------------------------------------------------------------ ground truth
    def object_states(self) -> dict[int, ObjectState]:
        """Current ground truth: instance id -> ObjectState (absent objects included)."""
        return {s.instance_id: s for s in self._objects.values()}

    def ground_truth_state(self, t: float | None = None) -> dict[int, ObjectState]:
        """Ground truth at time ``t`` (default: now), replayed from the recorded changes."""
        if t is None:
            return self.object_states()
        state = {s.key: s for s in self._initial_objects.values()}
        for ch, after in zip(self.changes, self._change_states, strict=False):
            if ch.time > t:
                break
            if after is not None:
                state[ch.subject] = after
        return {s.instance_id: s for s in state.values()}

    def door_state_at(self, t: float) -> dict[str, bool]:
        state = dict(self._initial_doors)
        for ch in self.changes:
            if ch.time > t:
                break
            if ch.kind in ("door_open", "door_close"):
                state[ch.subject] = ch.kind == "door_open"
        return state

    def changes_between(self, t0: float, t1: float) -> list[Change]:
        return [c for c in self.changes if t0 < c.time <= t1]


def _wrap(a: float) -> float:
    return (a + math.pi) % (2 * math.pi) - math.pi
