"""The memory node's ROS parameters: which are read-only, which apply live, which need a restart.

Plain data and functions (rclpy only inside :func:`descriptor` and :func:`set_parameters_callback`),
so the policy is unit-tested without spinning and then exercised over DDS in
tests/nodes/test_parameters.py.

* read-only (``ros2 param set`` is refused by rclpy itself): what the node wired at start-up —
  the store, the config file, every topic and service name, frames, pose source, sync, QoS.
* live, applied at once: the node options read per message or timer tick (``node.max_stamp_age``,
  ``node.update_queue``, ``node.tf_wait``, ``node.max_pending``, the timers' periods, the default
  ``k``) and the memory thresholds :data:`robomem.memory.LIVE_CONFIG` names (association, absence,
  episode cuts, consolidation, scoring weights, budgets), which the open Memory takes through
  ``Memory.reconfigure``.
* restart: the rest of ``memory.*`` (``voxel_size``, ``overlap_voxel``, snapshot sizes, ... shape what
  is already stored): a set is refused with that reason.  An out-of-range value is refused with the
  range, before anything is applied.

Ranges come from the same :class:`robomem.config.Rule` tables that check the config file, and go into
the descriptors, so ``ros2 param describe`` shows them.
"""

from __future__ import annotations

import sys
from dataclasses import fields, is_dataclass
from typing import Any

from robomem.config import GE0, MemoryConfig, RosSection, Rule
from robomem.errors import ConfigError
from robomem.memory import LIVE_CONFIG
from robomem.nodes.settings import NodeSettings, description, unflatten

__all__ = ["LIVE", "LIVE_NODE", "descriptor", "is_read_only", "refusal", "rule_for", "set_parameters_callback"]

LIVE_NODE = frozenset(
    {
        "node.max_stamp_age",
        "node.update_queue",
        "node.tf_wait",
        "node.max_pending",
        "node.marker_period",
        "node.diagnostics_period",
        "node.k",
    }
)
LIVE = LIVE_NODE | frozenset(f"memory.{name}" for name in LIVE_CONFIG)
_READ_ONLY_PREFIXES = ("topics.", "frames.", "pose.", "sync.", "memory.fleet.")  # fleet: FleetSync starts once
_READ_ONLY = frozenset(
    {
        "store_path",
        "config_file",
        "robot_id",
        "tf_tolerance",
        "node.sensor_qos",
        "node.pose_type",
        "node.markers_topic",
        "node.diagnostics_topic",
        "node.goal_topic",
        "node.goal_pose_topic",
        "node.context_topic",
        "node.query_service",
        "node.map_topic",
        "memory.embedder",
        "memory.workers",
    }
)
_INT_MAX = 2**63 - 1


def is_read_only(name: str) -> bool:
    return name in _READ_ONLY or name.startswith(_READ_ONLY_PREFIXES)


def rule_for(name: str) -> Rule | None:
    """The config rule of a flat parameter name (``memory.spatial.voxel_size`` -> SpatialConfig's), if any."""
    if name == "tf_tolerance":
        return GE0
    parts = name.split(".")
    root: Any = MemoryConfig() if parts[0] == "memory" else RosSection() if len(parts) == 2 else None
    if root is None or (parts[0] != "memory" and parts[0] not in {f.name for f in fields(RosSection)}):
        return None
    obj = root
    for part in parts[1:-1] if parts[0] == "memory" else parts[:-1]:
        obj = getattr(obj, part, None)
        if obj is None or not is_dataclass(obj):
            return None
    ranges = getattr(type(obj), "RANGES", {})
    return ranges.get(parts[-1])


def refusal(name: str, value: Any, current: NodeSettings) -> tuple[str | None, NodeSettings]:
    """Why setting ``name := value`` at run time is refused (None: accepted), and the settings after it."""
    rule = rule_for(name)
    if rule is not None:
        why = rule.violation(value)
        if why is not None:
            return f"{name} {why}", current
    if is_read_only(name):
        return f"{name} is read-only: the node wired it at start-up; restart with the new value", current
    if name not in LIVE:
        return (
            f"{name} cannot change while the node runs (it shapes what the open store holds, or is fixed "
            f"when the node starts); set it in the params file and restart",
            current,
        )
    try:
        return None, unflatten({name: value}, current)
    except (ConfigError, ValueError, TypeError) as exc:
        return f"{name}: {exc}", current


def descriptor(name: str, value: Any) -> Any:
    """rcl_interfaces ParameterDescriptor: description (+ how it changes), read-only flag, range."""
    from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor

    how = "read-only" if is_read_only(name) else "applied live" if name in LIVE else "restart to change"
    d = ParameterDescriptor(description=f"{description(name)} [{how}]", read_only=is_read_only(name))
    rule = rule_for(name)
    if rule is not None and not rule.choices and not isinstance(value, bool):
        if isinstance(value, int):
            lo = int(rule.lo) + (1 if rule.lo_open else 0) if rule.lo is not None else -_INT_MAX - 1
            hi = int(rule.hi) if rule.hi is not None else _INT_MAX
            d.integer_range = [IntegerRange(from_value=lo, to_value=hi, step=1)]
        elif isinstance(value, float):
            lo_f = float(rule.lo) if rule.lo is not None else -sys.float_info.max
            hi_f = float(rule.hi) if rule.hi is not None else sys.float_info.max
            d.floating_point_range = [FloatingPointRange(from_value=lo_f, to_value=hi_f, step=0.0)]
            if rule.lo_open:
                d.additional_constraints = f"must be > {rule.lo:g}"
    elif rule is not None and rule.choices:
        d.additional_constraints = f"one of: {', '.join(rule.choices)}"
    return d


def set_parameters_callback(get: Any, put: Any, log: Any) -> Any:
    """An ``add_on_set_parameters_callback`` callback: all of a set is applied, or none with the reason.

    ``get()`` returns the node's current NodeSettings, ``put(settings)`` installs new ones (a ConfigError
    from it refuses the set with its message; put applies nothing then).
    """
    from rcl_interfaces.msg import SetParametersResult

    def callback(params: list[Any]) -> Any:
        settings = get()
        for p in params:
            if p.name == "use_sim_time":  # rclpy's own parameter
                continue
            why, settings = refusal(p.name, p.value, settings)
            if why is not None:
                log.warning(f"parameter refused: {why}")
                return SetParametersResult(successful=False, reason=why)
        try:
            put(settings)
        except ConfigError as exc:
            log.warning(f"parameter refused: {exc}")
            return SetParametersResult(successful=False, reason=str(exc))
        for p in params:
            log.info(f"parameter {p.name} := {p.value!r} applied")
        return SetParametersResult(successful=True)

    return callback
