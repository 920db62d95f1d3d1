"""habitat-sim observations and agent states -> ``robomem.observation.Observation``.

Two entry points:

- :func:`observation_from_habitat` translates one observation dict plus the
  matching agent (or sensor) state; it needs no simulator;
- :class:`HabitatAdapter` wraps a live ``habitat_sim.Simulator`` (or anything
  shaped like one) and reads the sensor layout, intrinsics and the semantic
  label map from it once.

Adapters only translate (see docs/architecture.md); the conventions are in
:mod:`robomem.envs.habitat.conversions`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from robomem.observation import Intrinsics, Observation, Pose

from .conversions import (
    HabitatLabDepth,
    depth_to_metres,
    hfov_degrees,
    instances_from_semantic,
    intrinsics_from_hfov,
    rgba_to_rgb,
    semantic_label_map,
    sensor_pose_from_habitat,
)

__all__ = [
    "HabitatAdapter",
    "SensorKeys",
    "find_sensor_keys",
    "observation_from_habitat",
    "sensor_pose",
]

# Keys tried in order when the caller names none: habitat-sim examples, then habitat-lab.
_RGB_KEYS = ("color_sensor", "rgb", "color", "rgba_camera", "head_rgb")
_DEPTH_KEYS = ("depth_sensor", "depth", "depth_camera", "head_depth")
_SEMANTIC_KEYS = ("semantic_sensor", "semantic", "semantic_camera", "head_semantic")


@dataclass(frozen=True)
class SensorKeys:
    """Which entries of a habitat observation dict hold colour, depth and semantics (sensor uuids).

    ``depth`` is required; the pose is that of the depth sensor (robomem's
    intrinsics and instance ids are those of the depth image). habitat-sim
    renders all sensors of an agent from their own poses; robomem assumes the
    colour and semantic sensors are co-located with the depth sensor (same
    position, orientation, resolution and hfov), which is how every habitat
    example configures them.
    """

    depth: str
    rgb: str | None = None
    semantic: str | None = None
    state: str | None = None

    @property
    def pose_key(self) -> str:
        """The ``AgentState.sensor_states`` key whose pose is used: ``state`` if set, else ``depth``."""
        return self.state or self.depth


def find_sensor_keys(obs: Mapping[str, Any]) -> SensorKeys:
    """Guess :class:`SensorKeys` from the names habitat-sim's examples and habitat-lab use."""

    def first(names: Sequence[str]) -> str | None:
        return next((k for k in names if k in obs), None)

    depth = first(_DEPTH_KEYS)
    if depth is None:
        raise KeyError(f"no depth sensor among the observation keys {sorted(obs)}; name it with SensorKeys(depth=...)")
    return SensorKeys(depth=depth, rgb=first(_RGB_KEYS), semantic=first(_SEMANTIC_KEYS))


def sensor_pose(state: Any, sensor_uuid: str) -> Pose:
    """robomem ``Pose`` of a sensor from an habitat ``AgentState`` or the sensor's own ``SixDOFPose``.

    An ``AgentState`` (anything with ``sensor_states``) must hold ``sensor_uuid``:
    the agent's own position is at floor level and would put the camera
    ``sensor_height`` too low. A state without ``sensor_states`` is taken to be
    the sensor's pose already (``agent_state.sensor_states[uuid]``). A 2-tuple
    ``(position, rotation)`` is also accepted, the rotation in any
    :func:`~robomem.envs.habitat.conversions.quaternion_to_wxyz` object format.
    """
    if isinstance(state, tuple) and len(state) == 2:
        position, rotation = state
        return sensor_pose_from_habitat(position, rotation)
    sensor_states = getattr(state, "sensor_states", None)
    if sensor_states is not None:
        if sensor_uuid not in sensor_states:
            raise KeyError(
                f"agent state has no sensor state {sensor_uuid!r} (has {sorted(sensor_states)}); pass "
                "agent.get_state() from a simulator that has that sensor, or the sensor state itself"
            )
        state = sensor_states[sensor_uuid]
    if not (hasattr(state, "position") and hasattr(state, "rotation")):
        raise TypeError(f"expected an AgentState or SixDOFPose with position and rotation, got {type(state).__name__}")
    return sensor_pose_from_habitat(state.position, state.rotation)


def observation_from_habitat(
    obs: Mapping[str, Any],
    state: Any,
    semantic_map: Mapping[int, str] | None,
    intrinsics: Intrinsics,
    stamp: float,
    *,
    keys: SensorKeys | None = None,
    depth_config: HabitatLabDepth | None = None,
    unknown_label: str | None = "unknown",
    ignore_labels: Sequence[str] = (),
    robot_id: str = "habitat",
    source: str = "habitat",
) -> Observation:
    """One habitat observation dict + agent/sensor state -> ``Observation``.

    ``obs``: ``sim.get_sensor_observations()`` / ``sim.step()`` output (or a
    habitat-lab observation dict; then pass ``depth_config``).
    ``state``: ``agent.get_state()`` (its ``sensor_states[keys.depth]`` is used)
    or that sensor state itself, see :func:`sensor_pose`.
    ``semantic_map``: ``{semantic id: label}``, see
    :func:`~robomem.envs.habitat.conversions.semantic_label_map`; ``None`` drops
    the semantic image even if present.
    ``intrinsics``: of the depth sensor, see
    :func:`~robomem.envs.habitat.conversions.intrinsics_from_hfov`.
    ``stamp``: seconds (habitat has no sensor clock; the caller decides).
    """
    keys = keys or find_sensor_keys(obs)
    if keys.depth not in obs:
        raise KeyError(f"observation has no depth entry {keys.depth!r} (keys: {sorted(obs)})")
    depth = depth_to_metres(obs[keys.depth], depth_config)
    rgb = None
    if keys.rgb is not None and keys.rgb in obs:
        rgb = rgba_to_rgb(obs[keys.rgb])
    ids = None
    infos: dict = {}
    if semantic_map is not None and keys.semantic is not None and keys.semantic in obs:
        ids, infos = instances_from_semantic(
            obs[keys.semantic], semantic_map, unknown_label=unknown_label, ignore_labels=ignore_labels
        )
    return Observation(
        stamp=float(stamp),
        pose=sensor_pose(state, keys.pose_key),
        intrinsics=intrinsics,
        depth=depth,
        rgb=rgb,
        instance_ids=ids,
        instances=infos,
        robot_id=robot_id,
        source=source,
        frame_id=keys.depth,
    )


def _sensor_type_name(spec: Any) -> str:
    t = getattr(spec, "sensor_type", None)
    name = getattr(t, "name", None)
    if not isinstance(name, str):
        name = str(t)
    return name.rsplit(".", 1)[-1].upper()


def _resolution(spec: Any) -> tuple[int, int]:
    """habitat's ``resolution`` is ``[height, width]``."""
    r = spec.resolution  # a list or a magnum Vector2i: index, don't convert
    return int(r[0]), int(r[1])


class HabitatAdapter:
    """Reads a live ``habitat_sim.Simulator`` and produces ``Observation``s.

    ``sim`` is used duck-typed: ``sim.config.agents[agent_id].sensor_specifications``
    (uuid, sensor_type, resolution ``[H, W]``, hfov), ``sim.get_agent(i).get_state()``,
    ``sim.get_sensor_observations(i)``, ``sim.step(action)``, ``sim.semantic_scene``.
    Nothing here imports habitat_sim, so the adapter also runs over a stand-in.

    Stamps: ``stamp`` given to :meth:`observe` wins; otherwise ``clock()`` if
    given; otherwise ``start_time + n * period`` for the n-th observation
    (habitat has no sensor clock, and memory needs increasing stamps).
    """

    def __init__(
        self,
        sim: Any,
        *,
        agent_id: int = 0,
        keys: SensorKeys | None = None,
        depth_config: HabitatLabDepth | None = None,
        unknown_label: str | None = "unknown",
        ignore_labels: Sequence[str] = (),
        period: float = 0.1,
        start_time: float = 0.0,
        clock: Callable[[], float] | None = None,
        robot_id: str = "habitat",
    ) -> None:
        self.sim = sim
        self.agent_id = int(agent_id)
        self.depth_config = depth_config
        self.unknown_label = unknown_label
        self.ignore_labels = tuple(ignore_labels)
        self.period = float(period)
        self.start_time = float(start_time)
        self.clock = clock
        self.robot_id = robot_id
        self._count = 0
        specs = self._sensor_specs()
        self.keys = keys or self._keys_from_specs(specs)
        depth_spec = specs.get(self.keys.depth)
        if depth_spec is None:
            raise KeyError(f"the simulator's agent {agent_id} has no sensor {self.keys.depth!r} (has {sorted(specs)})")
        h, w = _resolution(depth_spec)
        self.intrinsics = intrinsics_from_hfov(w, h, hfov_degrees(getattr(depth_spec, "hfov", 90.0)), unit="deg")
        for uuid in (self.keys.rgb, self.keys.semantic):
            if uuid is not None and uuid in specs and _resolution(specs[uuid]) != (h, w):
                raise ValueError(
                    f"sensor {uuid!r} has resolution {_resolution(specs[uuid])} but depth has {(h, w)}; "
                    "robomem needs co-registered images of one size"
                )
        self.semantic_map: dict[int, str] = {}
        self.refresh_semantics()

    # -- set-up ---------------------------------------------------------------
    def _sensor_specs(self) -> dict[str, Any]:
        cfg = getattr(self.sim, "config", None)
        agents = getattr(cfg, "agents", None)
        if not agents or self.agent_id >= len(agents):
            raise ValueError("simulator has no agent configuration at sim.config.agents[agent_id]")
        return {spec.uuid: spec for spec in agents[self.agent_id].sensor_specifications}

    @staticmethod
    def _keys_from_specs(specs: Mapping[str, Any]) -> SensorKeys:
        by_type: dict[str, str] = {}
        for uuid, spec in specs.items():
            if getattr(spec, "sensor_subtype", None) is not None:
                sub = getattr(spec.sensor_subtype, "name", str(spec.sensor_subtype)).rsplit(".", 1)[-1].upper()
                if sub not in ("PINHOLE", "NONE"):
                    continue  # fisheye / equirectangular / orthographic are not pinhole cameras
            by_type.setdefault(_sensor_type_name(spec), uuid)
        if "DEPTH" not in by_type:
            raise ValueError(f"the simulator has no pinhole DEPTH sensor (sensors: {sorted(specs)})")
        return SensorKeys(depth=by_type["DEPTH"], rgb=by_type.get("COLOR"), semantic=by_type.get("SEMANTIC"))

    def refresh_semantics(self) -> dict[int, str]:
        """Rebuild the ``{semantic id: label}`` map from ``sim.semantic_scene`` (after a scene change)."""
        scene = getattr(self.sim, "semantic_scene", None)
        self.semantic_map = semantic_label_map(scene, unknown_label=self.unknown_label)
        return self.semantic_map

    # -- reading --------------------------------------------------------------
    def next_stamp(self) -> float:
        if self.clock is not None:
            return float(self.clock())
        return self.start_time + self._count * self.period

    def agent_state(self) -> Any:
        return self.sim.get_agent(self.agent_id).get_state()

    def observe(self, obs: Mapping[str, Any] | None = None, *, stamp: float | None = None) -> Observation:
        """Translate ``obs`` (default: ``sim.get_sensor_observations(agent_id)``) with the agent's current state."""
        if obs is None:
            obs = self.sim.get_sensor_observations(self.agent_id)
        t = self.next_stamp() if stamp is None else float(stamp)
        out = observation_from_habitat(
            obs,
            self.agent_state(),
            self.semantic_map if self.keys.semantic else None,
            self.intrinsics,
            t,
            keys=self.keys,
            depth_config=self.depth_config,
            unknown_label=self.unknown_label,
            ignore_labels=self.ignore_labels,
            robot_id=self.robot_id,
        )
        self._count += 1
        return out

    def step(self, action: Any, *, stamp: float | None = None) -> Observation:
        """``sim.step(action)`` and translate what it returns."""
        return self.observe(self.sim.step(action), stamp=stamp)

    def labels(self, observation: Observation) -> dict[int, str]:
        """``{instance id: label}`` of one observation (handy for logging)."""
        return {i: info.label for i, info in observation.instances.items()}
