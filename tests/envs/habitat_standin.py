"""A STAND-IN for ``habitat_sim.Simulator``, for tests only. It is not habitat-sim.

habitat-sim is conda-only and cannot be installed here, so the Habitat adapter,
runner and gym env are tested against this small numpy imitation. It copies
habitat-sim's *interfaces and formats*, as read from habitat-sim's sources
(``agent/agent.py``, ``agent/controls/default_controls.py``,
``sensors/sensor_wrapper.py``, ``simulator.py``), not its code:

- world y up; an agent looks down its local -z; ``move_forward`` moves 0.25 m
  along local -z, ``turn_left``/``turn_right`` rotate +/-10 degrees about +y;
- sensors are OpenGL cameras (x right, y up, looking down -z) mounted at
  ``[0, sensor_height, 0]`` on the agent;
- ``get_sensor_observations()`` returns ``{uuid: array}``: COLOR ``uint8 (H, W, 4)``
  RGBA, DEPTH ``float32 (H, W)`` metres of z-depth (0 where nothing is hit),
  SEMANTIC ``uint32 (H, W)``; row 0 is the top of the image;
- ``get_agent(0).get_state()`` returns an ``AgentState``-like object whose
  ``position`` is float32 (3,), ``rotation`` a numpy-quaternion-like object
  (``.w .x .y .z``), and ``sensor_states[uuid]`` the sensors' world poses;
- ``config.agents[0].sensor_specifications`` with ``uuid``, ``sensor_type``,
  ``sensor_subtype``, ``resolution = [H, W]``, ``position``, ``hfov`` (a
  ``Deg``-like object whose ``float()`` is degrees);
- ``semantic_scene.objects``: objects with ``id`` ("<level>_<region>_<n>"),
  ``semantic_id``, ``category.name()``; entries may be None or have category None.

Frames are made by ray-casting axis-aligned boxes standing on a floor at y = 0
through every pixel centre, exactly as a rasteriser samples them: pixel
``(u, v)`` is sampled at NDC ``x = (2u + 1) / W - 1``, ``y = 1 - (2v + 1) / H``,
and the camera ray is ``(x tan(hfov/2), y tan(hfov/2) H / W, -1)``.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = [
    "Box",
    "StandinAgentState",
    "StandinQuaternion",
    "StandinSimulator",
    "default_boxes",
    "quat_about_y",
]


# ---------------------------------------------------------------------------
# numpy-quaternion look-alike (np.quaternion(w, x, y, z))
# ---------------------------------------------------------------------------


class StandinQuaternion:
    """Like numpy-quaternion's ``np.quaternion``: ``.w .x .y .z``, Hamilton product, ``inverse()``."""

    __slots__ = ("w", "x", "y", "z")

    def __init__(self, w: float, x: float, y: float, z: float) -> None:
        self.w, self.x, self.y, self.z = float(w), float(x), float(y), float(z)

    def __mul__(self, o: StandinQuaternion) -> StandinQuaternion:
        return StandinQuaternion(
            self.w * o.w - self.x * o.x - self.y * o.y - self.z * o.z,
            self.w * o.x + self.x * o.w + self.y * o.z - self.z * o.y,
            self.w * o.y - self.x * o.z + self.y * o.w + self.z * o.x,
            self.w * o.z + self.x * o.y - self.y * o.x + self.z * o.w,
        )

    def inverse(self) -> StandinQuaternion:
        n = self.w**2 + self.x**2 + self.y**2 + self.z**2
        return StandinQuaternion(self.w / n, -self.x / n, -self.y / n, -self.z / n)

    def normalized(self) -> StandinQuaternion:
        n = math.sqrt(self.w**2 + self.x**2 + self.y**2 + self.z**2)
        return StandinQuaternion(self.w / n, self.x / n, self.y / n, self.z / n)

    def rotate(self, v: np.ndarray) -> np.ndarray:
        """``q * v * q^-1`` for a 3-vector (habitat_sim.utils.common.quat_rotate_vector)."""
        p = self * StandinQuaternion(0.0, *np.asarray(v, dtype=np.float64)) * self.inverse()
        return np.array([p.x, p.y, p.z])

    def matrix(self) -> np.ndarray:
        return np.stack([self.rotate(e) for e in np.eye(3)], axis=1)

    def __repr__(self) -> str:
        return f"quaternion({self.w}, {self.x}, {self.y}, {self.z})"


def quat_about_y(degrees: float) -> StandinQuaternion:
    """Rotation by ``degrees`` about habitat's up axis (+y); positive turns left (counter-clockwise from above)."""
    h = math.radians(degrees) / 2
    return StandinQuaternion(math.cos(h), 0.0, math.sin(h), 0.0)


def quat_about_x(degrees: float) -> StandinQuaternion:
    """Rotation about +x; positive tilts an OpenGL camera up (habitat's ``look_up``)."""
    h = math.radians(degrees) / 2
    return StandinQuaternion(math.cos(h), math.sin(h), 0.0, 0.0)


# ---------------------------------------------------------------------------
# configuration look-alikes
# ---------------------------------------------------------------------------


class SensorType(enum.Enum):
    NONE = 0
    COLOR = 1
    DEPTH = 2
    SEMANTIC = 4


class SensorSubType(enum.Enum):
    NONE = 0
    PINHOLE = 1


class Deg:
    """Like ``magnum.Deg``: ``float()`` gives degrees."""

    def __init__(self, value: float) -> None:
        self._v = float(value)

    def __float__(self) -> float:
        return self._v


@dataclass
class CameraSensorSpec:
    uuid: str
    sensor_type: SensorType
    resolution: list[int]  # [H, W]
    position: list[float]
    hfov: Deg
    sensor_subtype: SensorSubType = SensorSubType.PINHOLE
    orientation: list[float] = field(default_factory=lambda: [0.0, 0.0, 0.0])


@dataclass
class ActuationSpec:
    amount: float


@dataclass
class ActionSpec:
    name: str
    actuation: ActuationSpec


@dataclass
class AgentConfiguration:
    height: float = 1.5
    radius: float = 0.1
    sensor_specifications: list[CameraSensorSpec] = field(default_factory=list)
    action_space: dict[str, ActionSpec] = field(default_factory=dict)


@dataclass
class Configuration:
    scene_id: str
    agents: list[AgentConfiguration]


@dataclass
class SixDOFPose:
    position: np.ndarray
    rotation: StandinQuaternion


@dataclass
class StandinAgentState:
    position: np.ndarray = field(default_factory=lambda: np.zeros(3, dtype=np.float32))
    rotation: Any = field(default_factory=lambda: StandinQuaternion(1, 0, 0, 0))
    sensor_states: dict[str, SixDOFPose] = field(default_factory=dict)


# ---------------------------------------------------------------------------
# semantic scene look-alike
# ---------------------------------------------------------------------------


class SemanticCategory:
    def __init__(self, name: str, index: int) -> None:
        self._name, self._index = name, index

    def name(self, mapping: str = "") -> str:
        return self._name

    def index(self, mapping: str = "") -> int:
        return self._index


@dataclass
class SemanticObject:
    id: str
    semantic_id: int
    category: SemanticCategory | None


@dataclass
class SemanticScene:
    objects: list[SemanticObject | None]


@dataclass(frozen=True)
class Box:
    """An axis-aligned box in the *Habitat* world frame (y up)."""

    center: tuple[float, float, float]
    half_size: tuple[float, float, float]
    category: str | None
    semantic_id: int
    color: tuple[int, int, int]


FLOOR_ID = 1


def default_boxes() -> list[Box]:
    """A table, a chair and an unlabelled crate, standing on the floor in front of the start pose."""
    return [
        Box((0.0, 0.4, -3.0), (0.5, 0.4, 0.3), "table", 5, (200, 40, 40)),
        Box((1.2, 0.25, -2.0), (0.25, 0.25, 0.25), "chair", 7, (40, 200, 40)),
        Box((-1.5, 0.3, -2.5), (0.3, 0.3, 0.3), None, 9, (40, 40, 200)),
    ]


# ---------------------------------------------------------------------------
# the simulator stand-in
# ---------------------------------------------------------------------------


class _Agent:
    def __init__(self, sim: StandinSimulator, config: AgentConfiguration) -> None:
        self._sim = sim
        self.agent_config = config
        self.position = np.zeros(3)
        self.rotation = StandinQuaternion(1, 0, 0, 0)
        self.sensor_rotation = StandinQuaternion(1, 0, 0, 0)  # local, like the sensor node's rotation

    def get_state(self) -> StandinAgentState:
        states = {}
        for spec in self.agent_config.sensor_specifications:
            offset = np.asarray(spec.position, dtype=np.float64)
            states[spec.uuid] = SixDOFPose(
                position=(self.position + self.rotation.rotate(offset)).astype(np.float32),
                rotation=(self.rotation * self.sensor_rotation).normalized(),
            )
        return StandinAgentState(self.position.astype(np.float32), self.rotation, states)

    def set_state(self, state: Any, reset_sensors: bool = True) -> None:
        self.position = np.asarray(state.position, dtype=np.float64).copy()
        rot = state.rotation
        if not hasattr(rot, "w"):  # habitat's quat_from_coeffs: [x, y, z, w]
            x, y, z, w = (float(v) for v in rot)
            rot = StandinQuaternion(w, x, y, z)
        self.rotation = StandinQuaternion(rot.w, rot.x, rot.y, rot.z).normalized()
        if reset_sensors:
            self.sensor_rotation = StandinQuaternion(1, 0, 0, 0)

    def act(self, action: str) -> bool:
        spec = self.agent_config.action_space[action]
        amount = spec.actuation.amount
        if spec.name == "move_forward":
            target = self.position + self.rotation.rotate(np.array([0.0, 0.0, -amount]))
            if self._sim.blocked(target, self.agent_config.radius):
                return True
            self.position = target
        elif spec.name == "turn_left":
            self.rotation = (self.rotation * quat_about_y(amount)).normalized()
        elif spec.name == "turn_right":
            self.rotation = (self.rotation * quat_about_y(-amount)).normalized()
        elif spec.name == "look_up":
            self.sensor_rotation = (self.sensor_rotation * quat_about_x(amount)).normalized()
        elif spec.name == "look_down":
            self.sensor_rotation = (self.sensor_rotation * quat_about_x(-amount)).normalized()
        else:
            raise ValueError(f"unknown action {action!r}")
        return False


class StandinSimulator:
    """A tiny habitat_sim.Simulator look-alike (see the module docstring). Not habitat-sim."""

    def __init__(
        self,
        width: int = 96,
        height: int = 72,
        hfov_deg: float = 90.0,
        sensor_height: float = 1.25,
        boxes: list[Box] | None = None,
        max_range: float = 20.0,
        dt: float = 1.0 / 60.0,
    ) -> None:
        self.boxes = default_boxes() if boxes is None else list(boxes)
        self.max_range = max_range
        self._dt = dt
        self._time = 0.0
        specs = [
            CameraSensorSpec(uuid, kind, [height, width], [0.0, sensor_height, 0.0], Deg(hfov_deg))
            for uuid, kind in (
                ("color_sensor", SensorType.COLOR),
                ("depth_sensor", SensorType.DEPTH),
                ("semantic_sensor", SensorType.SEMANTIC),
            )
        ]
        actions = {
            "move_forward": ActionSpec("move_forward", ActuationSpec(0.25)),
            "turn_left": ActionSpec("turn_left", ActuationSpec(10.0)),
            "turn_right": ActionSpec("turn_right", ActuationSpec(10.0)),
            "look_up": ActionSpec("look_up", ActuationSpec(15.0)),
            "look_down": ActionSpec("look_down", ActuationSpec(15.0)),
        }
        self.config = Configuration("standin://boxes", [AgentConfiguration(1.5, 0.1, specs, actions)])
        self._agents = [_Agent(self, self.config.agents[0])]
        objects: list[SemanticObject | None] = [
            SemanticObject(f"0_0_{FLOOR_ID}", FLOOR_ID, SemanticCategory("floor", 1)),
            None,  # habitat scenes can have holes in the object list
        ]
        for i, b in enumerate(self.boxes):
            cat = None if b.category is None else SemanticCategory(b.category, 10 + i)
            objects.append(SemanticObject(f"0_1_{b.semantic_id}", b.semantic_id, cat))
        self.semantic_scene = SemanticScene(objects)
        self.pathfinder = None
        self.closed = False

    # -- habitat_sim.Simulator API -------------------------------------------
    def get_agent(self, agent_id: int = 0) -> _Agent:
        return self._agents[agent_id]

    def initialize_agent(self, agent_id: int, initial_state: Any = None) -> _Agent:
        agent = self._agents[agent_id]
        agent.set_state(initial_state or StandinAgentState())
        return agent

    def get_world_time(self) -> float:
        return self._time

    def get_sensor_observations(self, agent_ids: int = 0) -> dict[str, np.ndarray]:
        agent = self._agents[agent_ids]
        state = agent.get_state()
        spec = agent.agent_config.sensor_specifications[0]
        h, w = spec.resolution
        s = state.sensor_states["depth_sensor"]
        depth, sem, rgba = self.render(s.position, s.rotation, w, h, float(spec.hfov))
        return {"color_sensor": rgba, "depth_sensor": depth, "semantic_sensor": sem}

    def step(self, action: str, dt: float = 1.0 / 60.0) -> dict[str, Any]:
        collided = self._agents[0].act(action)
        self._time += dt
        obs: dict[str, Any] = self.get_sensor_observations(0)
        obs["collided"] = collided
        return obs

    def reset(self) -> dict[str, np.ndarray]:
        self._agents[0].set_state(StandinAgentState())
        self._time = 0.0
        return self.get_sensor_observations(0)

    def close(self, destroy: bool = True) -> None:
        self.closed = True

    # -- stand-in internals ----------------------------------------------------
    def blocked(self, position: np.ndarray, radius: float) -> bool:
        for b in self.boxes:
            c, hs = np.asarray(b.center), np.asarray(b.half_size)
            if abs(position[0] - c[0]) < hs[0] + radius and abs(position[2] - c[2]) < hs[2] + radius:
                return True
        return False

    def camera_rays(self, width: int, height: int, hfov_deg: float) -> np.ndarray:
        """(H, W, 3) ray directions in the OpenGL camera frame, camera-z component -1 (so t = z-depth)."""
        tan_h = math.tan(math.radians(hfov_deg) / 2)
        u = (2 * (np.arange(width) + 0.5) / width - 1) * tan_h
        v = (1 - 2 * (np.arange(height) + 0.5) / height) * tan_h * height / width
        uu, vv = np.meshgrid(u, v)
        return np.stack([uu, vv, -np.ones_like(uu)], axis=-1)

    def render(
        self, position: Any, rotation: StandinQuaternion, width: int, height: int, hfov_deg: float
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        o = np.asarray(position, dtype=np.float64)
        d = self.camera_rays(width, height, hfov_deg) @ rotation.matrix().T  # world directions
        best = np.full((height, width), np.inf)
        sem = np.zeros((height, width), dtype=np.uint32)
        rgba = np.zeros((height, width, 4), dtype=np.uint8)
        rgba[..., 3] = 255
        # floor y = 0
        with np.errstate(divide="ignore", invalid="ignore"):
            t_floor = np.where(d[..., 1] < 0, -o[1] / d[..., 1], np.inf)
        hit = t_floor < best
        best[hit] = t_floor[hit]
        sem[hit] = FLOOR_ID
        p = o + d[hit] * t_floor[hit][:, None]
        checker = (np.floor(p[:, 0]) + np.floor(p[:, 2])) % 2 == 0
        rgba[hit, :3] = np.where(checker[:, None], 170, 110).astype(np.uint8)
        for b in self.boxes:
            lo = np.asarray(b.center) - np.asarray(b.half_size)
            hi = np.asarray(b.center) + np.asarray(b.half_size)
            with np.errstate(divide="ignore", invalid="ignore"):
                t1 = (lo - o) / d
                t2 = (hi - o) / d
            tmin = np.nanmax(np.minimum(t1, t2), axis=-1)
            tmax = np.nanmin(np.maximum(t1, t2), axis=-1)
            ok = (tmax >= tmin) & (tmin > 0) & (tmin < best)
            best[ok] = tmin[ok]
            sem[ok] = b.semantic_id
            rgba[ok, :3] = b.color
        far = ~np.isfinite(best) | (best > self.max_range)
        depth = np.where(far, 0.0, best).astype(np.float32)
        sem[far] = 0
        rgba[far, :3] = 0
        return _gl_view(depth), _gl_view(sem), _gl_view(rgba)


def _gl_view(image: np.ndarray) -> np.ndarray:
    """habitat-sim hands out ``np.flip(gl_buffer, axis=0)``: a top-row-first view with negative strides."""
    gl_buffer = np.ascontiguousarray(np.flip(image, axis=0))  # GL stores the bottom row first
    return np.flip(gl_buffer, axis=0)
