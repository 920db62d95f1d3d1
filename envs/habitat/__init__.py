"""Habitat (habitat-sim / habitat-lab) adapter for robomem. Installed as ``robomem.envs.habitat``.

Translates habitat's y-up world, OpenGL cameras, RGBA colour, (normalised)
depth and uint32 semantic ids into ``robomem.Observation`` (z-up world,
optical cameras). habitat-sim is conda-only; nothing here imports it at module
import time, so the conversions, the adapter and the runner work over any
object shaped like ``habitat_sim.Simulator``. Building a real simulator
(:func:`make_simulator`, :class:`~robomem.envs.habitat.gym_env.HabitatNavEnv`
from settings) raises ImportError with the conda command where it is missing.

- :mod:`.conversions`: frames, quaternions, images, semantics, intrinsics (pure numpy);
- :mod:`.adapter`: :func:`observation_from_habitat`, :class:`HabitatAdapter`;
- :mod:`.runner`: :class:`SimSettings`, :func:`make_simulator`, :class:`NavEpisode`,
  :func:`run_episode`, :func:`results_table`;
- :mod:`.gym_env`: :class:`HabitatNavEnv`, :class:`OldGymToGymnasium` (needs gymnasium;
  import it from the submodule).
"""

from ._compat import INSTALL_HINT, habitat_sim_available, require_habitat_sim
from .adapter import HabitatAdapter, SensorKeys, find_sensor_keys, observation_from_habitat, sensor_pose
from .conversions import (
    R_OPENGL_FROM_OPTICAL,
    R_ROBOMEM_FROM_HABITAT,
    T_ROBOMEM_FROM_HABITAT,
    HabitatLabDepth,
    depth_to_metres,
    habitat_from_robomem_points,
    hfov_degrees,
    instances_from_semantic,
    intrinsics_from_hfov,
    quaternion_to_wxyz,
    rgba_to_rgb,
    robomem_from_habitat_points,
    semantic_label_map,
    sensor_pose_from_habitat,
    sensor_pose_to_habitat,
)
from .runner import (
    EpisodeResult,
    NavEpisode,
    SimSettings,
    make_configuration,
    make_simulator,
    results_json,
    results_table,
    run_episode,
    run_episodes,
    write_results,
)

__all__ = [
    "INSTALL_HINT",
    "R_OPENGL_FROM_OPTICAL",
    "R_ROBOMEM_FROM_HABITAT",
    "T_ROBOMEM_FROM_HABITAT",
    "NavEpisode",
    "EpisodeResult",
    "HabitatAdapter",
    "HabitatLabDepth",
    "SensorKeys",
    "SimSettings",
    "depth_to_metres",
    "find_sensor_keys",
    "habitat_from_robomem_points",
    "habitat_sim_available",
    "hfov_degrees",
    "instances_from_semantic",
    "intrinsics_from_hfov",
    "make_configuration",
    "make_simulator",
    "observation_from_habitat",
    "quaternion_to_wxyz",
    "require_habitat_sim",
    "results_json",
    "results_table",
    "rgba_to_rgb",
    "robomem_from_habitat_points",
    "run_episode",
    "run_episodes",
    "semantic_label_map",
    "sensor_pose",
    "sensor_pose_from_habitat",
    "sensor_pose_to_habitat",
    "write_results",
]
