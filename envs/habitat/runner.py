"""Run navigation episodes in habitat-sim and feed a memory at every step.

- :class:`SimSettings` / :func:`make_configuration` / :func:`make_simulator`
  build a ``habitat_sim.Configuration`` with co-located colour, depth and
  semantic pinhole sensors (needs habitat-sim);
- :class:`NavEpisode` is one start pose + goal (+ optionally a fixed action
  sequence); :meth:`NavEpisode.from_habitat_lab` reads a habitat-lab
  ``NavigationEpisode``;
- :func:`run_episode` / :func:`run_episodes` step an action sequence or a
  policy, translate every frame with :class:`~robomem.envs.habitat.adapter.HabitatAdapter`
  and hand it to ``memory.update(observation)`` (a :class:`robomem.Memory`);
  each episode is recorded as an episode in episodic memory (``begin_episode``,
  one step per action, ``end_episode`` with the outcome), as the household
  search runner (:mod:`robomem.envs.search`) records its searches;
- :func:`results_table` / :func:`results_json` / :func:`write_results` report
  episode id, steps, success, distance to goal (geodesic where the simulator
  has a loaded navmesh, else straight-line), SPL, path length and collisions.

Positions and rotations of an :class:`NavEpisode` are in habitat's frame (y up),
as in habitat-lab's episode files; only the memory sees robomem's frame.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from robomem.cli.args import PIXELS, number
from robomem.observation import Observation

from ._compat import require_habitat_sim
from .adapter import HabitatAdapter
from .conversions import robomem_from_habitat_points

if TYPE_CHECKING:
    from robomem.memory import Memory

__all__ = [
    "NavEpisode",
    "EpisodeResult",
    "StepPolicy",
    "SimSettings",
    "make_configuration",
    "make_simulator",
    "results_json",
    "results_table",
    "run_episode",
    "run_episodes",
    "write_results",
]

#: A policy: ``policy(observation, step) -> action name``; ``"stop"`` or None ends the episode.
StepPolicy = Callable[[Observation, int], "str | None"]

STOP = "stop"


# ---------------------------------------------------------------------------
# simulator configuration (needs habitat_sim)
# ---------------------------------------------------------------------------


@dataclass
class SimSettings:
    """What :func:`make_configuration` builds: one agent with co-located pinhole sensors."""

    scene: str
    scene_dataset_config: str | None = None
    width: int = 320
    height: int = 240
    hfov_deg: float = 90.0
    sensor_height: float = 1.25
    color: bool = True
    depth: bool = True
    semantic: bool = True
    agent_height: float = 1.5
    agent_radius: float = 0.1
    forward_step: float = 0.25
    turn_angle_deg: float = 10.0
    tilt_angle_deg: float = 15.0
    gpu_device_id: int = 0
    seed: int = 0
    enable_physics: bool = False
    color_uuid: str = "color_sensor"
    depth_uuid: str = "depth_sensor"
    semantic_uuid: str = "semantic_sensor"


def make_configuration(settings: SimSettings) -> Any:
    """A ``habitat_sim.Configuration`` for ``settings`` (raises ImportError naming the conda command without habitat-sim)."""
    habitat_sim = require_habitat_sim()
    sim_cfg = habitat_sim.SimulatorConfiguration()
    sim_cfg.scene_id = settings.scene
    if settings.scene_dataset_config:
        sim_cfg.scene_dataset_config_file = settings.scene_dataset_config
    sim_cfg.gpu_device_id = settings.gpu_device_id
    sim_cfg.random_seed = settings.seed
    sim_cfg.enable_physics = settings.enable_physics

    specs = []
    wanted = (
        (settings.color, settings.color_uuid, habitat_sim.SensorType.COLOR),
        (settings.depth, settings.depth_uuid, habitat_sim.SensorType.DEPTH),
        (settings.semantic, settings.semantic_uuid, habitat_sim.SensorType.SEMANTIC),
    )
    for enabled, uuid, sensor_type in wanted:
        if not enabled:
            continue
        spec = habitat_sim.CameraSensorSpec()
        spec.uuid = uuid
        spec.sensor_type = sensor_type
        spec.sensor_subtype = habitat_sim.SensorSubType.PINHOLE
        spec.resolution = [settings.height, settings.width]  # habitat: [H, W]
        spec.position = [0.0, settings.sensor_height, 0.0]
        spec.hfov = settings.hfov_deg  # degrees
        specs.append(spec)

    agent_cfg = habitat_sim.agent.AgentConfiguration()
    agent_cfg.height = settings.agent_height
    agent_cfg.radius = settings.agent_radius
    agent_cfg.sensor_specifications = specs
    agent_cfg.action_space = {
        "move_forward": habitat_sim.agent.ActionSpec(
            "move_forward", habitat_sim.agent.ActuationSpec(amount=settings.forward_step)
        ),
        "turn_left": habitat_sim.agent.ActionSpec(
            "turn_left", habitat_sim.agent.ActuationSpec(amount=settings.turn_angle_deg)
        ),
        "turn_right": habitat_sim.agent.ActionSpec(
            "turn_right", habitat_sim.agent.ActuationSpec(amount=settings.turn_angle_deg)
        ),
        "look_up": habitat_sim.agent.ActionSpec(
            "look_up", habitat_sim.agent.ActuationSpec(amount=settings.tilt_angle_deg)
        ),
        "look_down": habitat_sim.agent.ActionSpec(
            "look_down", habitat_sim.agent.ActuationSpec(amount=settings.tilt_angle_deg)
        ),
    }
    return habitat_sim.Configuration(sim_cfg, [agent_cfg])


def make_simulator(settings: SimSettings) -> Any:
    """``habitat_sim.Simulator(make_configuration(settings))``."""
    habitat_sim = require_habitat_sim()
    return habitat_sim.Simulator(make_configuration(settings))


# ---------------------------------------------------------------------------
# episodes
# ---------------------------------------------------------------------------


@dataclass
class NavEpisode:
    """One episode, in habitat's frame (y up).

    ``start_rotation`` is ``[x, y, z, w]`` (habitat's ``quat_to_coeffs`` order,
    as in habitat-lab episode files). ``actions``, when given, is played in
    order (a ``"stop"`` in it ends the episode); otherwise a policy decides.
    ``require_stop``: success also needs the agent to call stop (habitat-lab
    PointNav); off by default so fixed action sequences can succeed.
    """

    episode_id: str
    start_position: Sequence[float]
    start_rotation: Sequence[float] = (0.0, 0.0, 0.0, 1.0)
    goal_position: Sequence[float] | None = None
    success_distance: float = 0.2
    max_steps: int = 500
    actions: Sequence[str] | None = None
    instruction: str = ""
    require_stop: bool = False

    @classmethod
    def from_habitat_lab(cls, ep: Any, **overrides: Any) -> NavEpisode:
        """From a habitat-lab ``NavigationEpisode`` (``episode_id``, ``start_position``, ``start_rotation``, ``goals``)."""
        goals = getattr(ep, "goals", None) or []
        goal = getattr(goals[0], "position", None) if goals else None
        radius = getattr(goals[0], "radius", None) if goals else None
        kwargs: dict[str, Any] = {
            "episode_id": str(ep.episode_id),
            "start_position": [float(v) for v in ep.start_position],
            "start_rotation": [float(v) for v in ep.start_rotation],
            "goal_position": None if goal is None else [float(v) for v in goal],
            "require_stop": True,
        }
        if radius:
            kwargs["success_distance"] = float(radius)
        kwargs.update(overrides)
        return cls(**kwargs)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> NavEpisode:
        return cls(**d)


@dataclass
class EpisodeResult:
    episode_id: str
    steps: int
    success: bool
    distance_to_goal: float | None
    start_distance: float | None
    spl: float | None
    path_length: float
    collisions: int
    stopped: bool
    distance_kind: str
    memory_updates: int
    wall_seconds: float
    goal_robomem: list[float] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class _PlainAgentState:
    """Used for ``agent.set_state`` only where habitat_sim is absent (a stand-in simulator)."""

    position: np.ndarray
    rotation: list[float]
    sensor_states: dict[str, Any] = field(default_factory=dict)


def _agent_state(position: Sequence[float], rotation_xyzw: Sequence[float]) -> Any:
    try:
        habitat_sim = require_habitat_sim()
    except ImportError:
        return _PlainAgentState(np.asarray(position, dtype=np.float32), [float(v) for v in rotation_xyzw])
    # AgentState accepts a coefficient list; Agent.set_state converts it with quat_from_coeffs ([x, y, z, w]).
    return habitat_sim.AgentState(np.asarray(position, dtype=np.float32), [float(v) for v in rotation_xyzw])


def _distance(sim: Any, a: np.ndarray, b: np.ndarray) -> tuple[float, str]:
    """Geodesic distance where the simulator has a loaded navmesh, else straight-line (metres)."""
    pf = getattr(sim, "pathfinder", None)
    if pf is not None and getattr(pf, "is_loaded", False):
        habitat_sim = require_habitat_sim()
        path = habitat_sim.ShortestPath()
        path.requested_start = np.asarray(a, dtype=np.float32)
        path.requested_end = np.asarray(b, dtype=np.float32)
        if pf.find_path(path) and math.isfinite(path.geodesic_distance):
            return float(path.geodesic_distance), "geodesic"
    return float(np.linalg.norm(np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64))), "euclidean"


def _choose(policy: Any, observation: Observation, step: int) -> str | None:
    if hasattr(policy, "act"):
        return policy.act(observation, step)
    return policy(observation, step)


def run_episode(
    sim: Any,
    episode: NavEpisode,
    memory: Memory | None = None,
    *,
    policy: StepPolicy | Any = None,
    adapter: HabitatAdapter | None = None,
    record_events: bool = True,
) -> EpisodeResult:
    """Play one episode and feed ``memory.update(observation)`` with every frame (the start frame too).

    The agent is placed at the episode's start; then, until ``max_steps``,
    a stop, or the end of ``episode.actions``: choose an action (from the
    sequence, else ``policy(observation, step)``), ``sim.step`` it, translate
    the frame, update the memory.  With ``record_events`` the episode is recorded in
    episodic memory: begun with its instruction (or its id), one step per action
    (with the distance to the goal after it), ended with the outcome.
    """
    if episode.actions is None and policy is None:
        raise ValueError(f"episode {episode.episode_id!r}: give it an action sequence or pass a policy")
    t0 = time.perf_counter()
    adapter = adapter or HabitatAdapter(sim)
    agent = sim.get_agent(adapter.agent_id)
    agent.set_state(_agent_state(episode.start_position, episode.start_rotation))
    events = record_events and memory is not None
    updates = 0

    def feed(o: Observation) -> None:
        nonlocal updates
        if memory is not None:
            memory.update(o)
            updates += 1

    def position() -> np.ndarray:
        return np.asarray(agent.get_state().position, dtype=np.float64)

    goal = None if episode.goal_position is None else np.asarray(episode.goal_position, dtype=np.float64)
    start_distance, kind = (None, "none") if goal is None else _distance(sim, position(), goal)

    obs = adapter.observe()
    feed(obs)
    if events:
        memory.begin_episode(episode.instruction or f"habitat episode {episode.episode_id}", stamp=obs.stamp)
    steps = collisions = 0
    stopped = False
    path_length = 0.0
    prev = position()
    for i in range(episode.max_steps):
        action: str | None
        if episode.actions is not None:
            if i >= len(episode.actions):
                break
            action = episode.actions[i]
        else:
            action = _choose(policy, obs, i)
        if action is None or action == STOP:
            stopped = True
            if events:
                memory.add_step(f"step {i}", STOP, "stopped", stamp=obs.stamp)
            break
        raw = sim.step(action)
        collisions += int(bool(raw.get("collided", False))) if hasattr(raw, "get") else 0
        obs = adapter.observe(raw)
        feed(obs)
        steps += 1
        now = position()
        path_length += float(np.linalg.norm(now - prev))
        prev = now
        if events:
            collided = bool(raw.get("collided", False)) if hasattr(raw, "get") else False
            to_goal = "" if goal is None else f"{float(np.linalg.norm(now - goal)):.2f} m from the goal"
            memory.add_step(f"step {i}", str(action), "collided" if collided else to_goal, stamp=obs.stamp)

    distance = None
    success = False
    spl = None
    if goal is not None:
        distance, kind = _distance(sim, position(), goal)
        success = distance <= episode.success_distance and (stopped or not episode.require_stop)
        if start_distance is not None:
            spl = float(success) * start_distance / max(path_length, start_distance, 1e-9)
    if events:
        text = "success" if success else "failure"
        if distance is not None:
            text += f": {distance:.2f} m from the goal after {steps} steps"
        memory.end_episode(text, stamp=obs.stamp, success=success)
    return EpisodeResult(
        episode_id=episode.episode_id,
        steps=steps,
        success=bool(success),
        distance_to_goal=distance,
        start_distance=start_distance,
        spl=spl,
        path_length=path_length,
        collisions=collisions,
        stopped=stopped,
        distance_kind=kind,
        memory_updates=updates,
        wall_seconds=time.perf_counter() - t0,
        goal_robomem=None if goal is None else robomem_from_habitat_points(goal).tolist(),
    )


def run_episodes(
    sim: Any,
    episodes: Iterable[NavEpisode],
    memory: Memory | None = None,
    *,
    policy: StepPolicy | Any = None,
    adapter: HabitatAdapter | None = None,
    record_events: bool = True,
) -> list[EpisodeResult]:
    """:func:`run_episode` for each episode, one adapter (so stamps keep increasing) and one memory."""
    adapter = adapter or HabitatAdapter(sim)
    return [
        run_episode(sim, ep, memory, policy=policy, adapter=adapter, record_events=record_events) for ep in episodes
    ]


# ---------------------------------------------------------------------------
# reporting
# ---------------------------------------------------------------------------


def _summary(results: Sequence[EpisodeResult]) -> dict[str, Any]:
    n = len(results)
    dists = [r.distance_to_goal for r in results if r.distance_to_goal is not None]
    spls = [r.spl for r in results if r.spl is not None]
    return {
        "episodes": n,
        "success_rate": (sum(r.success for r in results) / n) if n else None,
        "mean_distance_to_goal": (sum(dists) / len(dists)) if dists else None,
        "mean_spl": (sum(spls) / len(spls)) if spls else None,
        "mean_steps": (sum(r.steps for r in results) / n) if n else None,
    }


def results_json(results: Sequence[EpisodeResult]) -> str:
    """``{"episodes": [...], "summary": {...}}`` as JSON text."""
    return json.dumps({"episodes": [r.to_dict() for r in results], "summary": _summary(results)}, indent=2)


def write_results(results: Sequence[EpisodeResult], path: str | Path) -> Path:
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(results_json(results) + "\n")
    return p


def _fmt(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        return f"{v:.2f}"
    return str(v)


def results_table(results: Sequence[EpisodeResult]) -> str:
    """A plain-text table, one row per episode and a summary line."""
    cols = [
        ("episode", "episode_id"),
        ("steps", "steps"),
        ("success", "success"),
        ("dist_to_goal_m", "distance_to_goal"),
        ("spl", "spl"),
        ("path_m", "path_length"),
        ("collisions", "collisions"),
        ("updates", "memory_updates"),
    ]
    rows = [[h for h, _ in cols]] + [[_fmt(getattr(r, a)) for _, a in cols] for r in results]
    widths = [max(len(row[i]) for row in rows) for i in range(len(cols))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    s = _summary(results)
    lines.append(
        f"{s['episodes']} episodes, success rate {_fmt(s['success_rate'])}, "
        f"mean distance to goal {_fmt(s['mean_distance_to_goal'])} m, mean SPL {_fmt(s['mean_spl'])}"
    )
    return "\n".join(lines)


# ---------------------------------------------------------------------------
# command line
# ---------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m robomem.envs.habitat.runner --scene S --episodes E.json [--store DIR] [--out R.json]``."""
    ap = argparse.ArgumentParser(prog="python -m robomem.envs.habitat.runner", description=__doc__.split("\n\n")[0])
    ap.add_argument("--scene", required=True, help="scene file or scene id (habitat SimulatorConfiguration.scene_id)")
    ap.add_argument("--scene-dataset-config", default=None)
    ap.add_argument(
        "--episodes", required=True, help="JSON list of NavEpisode fields (habitat frame, actions required)"
    )
    ap.add_argument("--store", default=None, help="robomem store directory to feed (default: no memory)")
    ap.add_argument("--out", default=None, help="write the results JSON here")
    ap.add_argument("--width", type=PIXELS, default=320)
    ap.add_argument("--height", type=PIXELS, default=240)
    ap.add_argument("--hfov", type=number(lo=1.0, hi=179.0), default=90.0, help="degrees")
    args = ap.parse_args(argv)

    episodes = [NavEpisode.from_dict(d) for d in json.loads(Path(args.episodes).read_text())]
    settings = SimSettings(
        scene=args.scene,
        scene_dataset_config=args.scene_dataset_config,
        width=args.width,
        height=args.height,
        hfov_deg=args.hfov,
    )
    sim = make_simulator(settings)
    try:
        if args.store:
            from robomem import Memory

            with Memory.open(args.store) as mem:
                results = run_episodes(sim, episodes, mem)
        else:
            results = run_episodes(sim, episodes)
    finally:
        sim.close()
    print(results_table(results))
    if args.out:
        write_results(results, args.out)
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
