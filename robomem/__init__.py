"""robomem: memory for robots and embodied agents.

Perception (RGB-D + pose + instance masks) and events go in through
:meth:`Memory.update` and :meth:`Memory.add_event`; four submodules (spatial,
temporal, episodic, semantic) update in parallel; :meth:`Memory.retrieve`
answers queries with scored entries.  See docs/architecture.md.
"""

from robomem.config import MemoryConfig
from robomem.memory import Memory, UpdateResult
from robomem.observation import Event, InstanceInfo, Intrinsics, Observation, Pose, depth_from_millimetres
from robomem.places import Place
from robomem.retrieval.query import Entry, Query
from robomem.submodules.spatial.memory import ObjectRecord

__all__ = [
    "Entry",
    "Event",
    "InstanceInfo",
    "Intrinsics",
    "Memory",
    "MemoryConfig",
    "ObjectRecord",
    "Observation",
    "Place",
    "Pose",
    "Query",
    "UpdateResult",
    "depth_from_millimetres",
]

__version__ = "0.1.0"
