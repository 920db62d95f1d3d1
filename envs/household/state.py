"""What the household simulator reports, as frozen data (no MuJoCo here): the agent's pose,
ground truth per object, the changes it made, step results and rendered frames."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np

from robomem.envs.actions import NAV_ACTIONS

__all__ = [
    "DAY",
    "MORNING",
    "NAV_ACTIONS",
    "NIGHT",
    "AgentState",
    "Change",
    "HouseholdFrame",
    "ObjectState",
    "StepResult",
]

DAY = 86400.0
MORNING = 8 * 3600.0
NIGHT = 3 * 3600.0


@dataclass(frozen=True)
class AgentState:
    """Agent pose: position on the floor (m), heading ``yaw`` (rad, 0 = +x, counter-clockwise)
    and camera ``pitch`` (rad, positive looks up)."""

    x: float
    y: float
    yaw: float
    pitch: float = 0.0


@dataclass(frozen=True)
class ObjectState:
    """Ground truth for one movable object.  ``position`` is the object's base centre."""

    instance_id: int
    key: str
    label: str
    category: str
    present: bool
    position: tuple[float, float, float] | None
    yaw: float
    room: str | None
    support: str | None


@dataclass(frozen=True)
class Change:
    """One change the simulator made to the world (ground truth).

    ``kind`` is ``move``, ``remove``, ``add``, ``door_open`` or ``door_close``; ``subject`` is
    the object key or the door name; ``instance_id`` is 0 for doors."""

    time: float
    kind: str
    subject: str
    instance_id: int
    label: str
    from_room: str | None = None
    to_room: str | None = None
    from_support: str | None = None
    to_support: str | None = None
    from_position: tuple[float, float, float] | None = None
    to_position: tuple[float, float, float] | None = None


@dataclass(frozen=True)
class StepResult:
    action: str
    collided: bool
    stamp: float


@dataclass(frozen=True)
class HouseholdFrame:
    """One rendered frame.  ``depth`` is float32 metres along the optical axis (0 = invalid);
    ``instances`` is int32, 0 = none; ``labels`` maps each id present to its label;
    ``pose`` is T_world_camera (4x4, optical frame: x right, y down, z forward; world z up);
    ``intrinsics`` is (fx, fy, cx, cy) in pixels; ``scores`` maps instance ids to detector scores
    (None: the simulator's own segmentation, every score 1.0; see ``noise.PerceptionNoise``)."""

    rgb: np.ndarray
    depth: np.ndarray
    instances: np.ndarray
    labels: Mapping[int, str]
    pose: np.ndarray
    intrinsics: tuple[float, float, float, float]
    stamp: float
    agent: AgentState
    room: str | None
    scores: Mapping[int, float] | None = None
    width: int = field(init=False)
    height: int = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "height", int(self.depth.shape[0]))
        object.__setattr__(self, "width", int(self.depth.shape[1]))
        for a in (self.rgb, self.depth, self.instances, self.pose):
            a.flags.writeable = False
        object.__setattr__(self, "labels", MappingProxyType(dict(self.labels)))
        if self.scores is not None:
            object.__setattr__(self, "scores", MappingProxyType(dict(self.scores)))
