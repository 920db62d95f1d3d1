"""Translate a household :class:`~robomem.envs.household.sim.HouseholdFrame` into a robomem Observation."""

from __future__ import annotations

from robomem.observation import InstanceInfo, Intrinsics, Observation, Pose

from .sim import HouseholdFrame

__all__ = ["to_observation"]


def to_observation(frame: HouseholdFrame, robot_id: str = "robot", frame_id: str = "camera") -> Observation:
    """HouseholdFrame -> Observation (rgb, depth in metres, instance ids with labels, pose, intrinsics).

    The simulator already uses robomem's conventions (world z up, optical-frame
    T_world_camera, float32 metric depth with 0 = invalid), so this only repackages."""
    fx, fy, cx, cy = frame.intrinsics
    return Observation(
        stamp=float(frame.stamp),
        pose=Pose(frame.pose),
        intrinsics=Intrinsics(fx, fy, cx, cy, frame.width, frame.height),
        depth=frame.depth,
        rgb=frame.rgb,
        instance_ids=frame.instances,
        instances={i: InstanceInfo(label, _score(frame, i)) for i, label in frame.labels.items()},
        robot_id=robot_id,
        source="household",
        frame_id=frame_id,
    )


def _score(frame: HouseholdFrame, instance_id: int) -> float:
    return 1.0 if frame.scores is None else float(frame.scores.get(instance_id, 1.0))
