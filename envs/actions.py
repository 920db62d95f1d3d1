"""The discrete navigation actions of the simulated robots, in Habitat's order (index = action id).

One definition for the household simulator and the Habitat environment; the planner's own
action vocabulary is :data:`robomem.planning.policy.ACTIONS`.
"""

from __future__ import annotations

__all__ = ["NAV_ACTIONS"]

NAV_ACTIONS: tuple[str, ...] = ("stop", "move_forward", "turn_left", "turn_right", "look_up", "look_down")
