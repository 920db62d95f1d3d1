"""Topics, frames and message-level helpers shared by the ROS 2 nodes and log replay.

(Temporarily re-exported from robomem.replay while replay is being finished; these
definitions move here so that nodes/ and replay share one source.)
"""

from robomem.replay import ReplayConfig as RosIoConfig
from robomem.replay import TopicMap, detections_to_instances, parse_event

__all__ = ["RosIoConfig", "TopicMap", "detections_to_instances", "parse_event"]
