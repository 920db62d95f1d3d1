"""From memory to action: context, planner proposals, policies and the loop critic."""
