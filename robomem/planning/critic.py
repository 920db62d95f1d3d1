"""The closed-loop critic: notice when the agent loops, make it re-plan or give up.

RoboMemory's critic addresses the infinite-loop failure of memory-conditioned
agents (the same state and the same action again and again: bumping into a
wall, turning left-right-left, shuttling between two places).  The
:class:`LoopCritic` watches (state, action) pairs: a state is the robot pose
discretised to ``position_tol`` metres and ``yaw_tol`` radians (plus an
optional extra key, e.g. the current sub-goal).  When one pair recurs
``max_repeats`` times within the last ``window`` steps, or the robot has not
moved more than ``progress_distance`` in ``stall_steps`` steps, the verdict is
``replan``; after ``max_replans`` re-plans it is ``give_up``, with a reason a
person can read.  A full turn on the spot visits each heading once and is not
a loop.
"""

from __future__ import annotations

import math
from collections import Counter, deque
from collections.abc import Hashable
from dataclasses import dataclass

from robomem.planning.context import RobotState

DECISIONS = ("continue", "replan", "give_up")


@dataclass(frozen=True)
class Verdict:
    decision: str  # "continue" | "replan" | "give_up"
    reason: str = ""
    step: int = 0

    def __post_init__(self) -> None:
        if self.decision not in DECISIONS:
            raise ValueError(f"Verdict.decision: expected one of {DECISIONS}, got {self.decision!r}")

    @property
    def ok(self) -> bool:
        return self.decision == "continue"


class LoopCritic:
    """Detects repeated (state, action) pairs and stalls; escalates replan -> give_up."""

    def __init__(
        self,
        window: int = 40,
        max_repeats: int = 3,
        position_tol: float = 0.15,
        yaw_tol: float = math.radians(10.0),
        stall_steps: int = 60,
        progress_distance: float = 0.3,
        max_replans: int = 3,
    ) -> None:
        for name, v in (("window", window), ("max_repeats", max_repeats), ("stall_steps", stall_steps)):
            if isinstance(v, bool) or not isinstance(v, int) or v < 2:
                raise ValueError(f"LoopCritic.{name}: expected an integer >= 2, got {v!r}")
        if isinstance(max_replans, bool) or not isinstance(max_replans, int) or max_replans < 0:
            raise ValueError(f"LoopCritic.max_replans: expected a non-negative integer, got {max_replans!r}")
        for name, f in (("position_tol", position_tol), ("yaw_tol", yaw_tol), ("progress_distance", progress_distance)):
            if not (isinstance(f, (int, float)) and math.isfinite(f) and f > 0):
                raise ValueError(f"LoopCritic.{name}: must be a positive number, got {f!r}")
        self.window = window
        self.max_repeats = max_repeats
        self.position_tol = float(position_tol)
        self.yaw_tol = float(yaw_tol)
        self.stall_steps = stall_steps
        self.progress_distance = float(progress_distance)
        self.max_replans = max_replans
        self.replans = 0
        self.steps = 0
        self.last: Verdict = Verdict("continue")
        self._history: deque[tuple[Hashable, str]] = deque(maxlen=window)
        self._positions: deque[tuple[float, float]] = deque(maxlen=stall_steps)

    def reset(self) -> None:
        """Forget everything (a new episode)."""
        self.replans = 0
        self.steps = 0
        self.last = Verdict("continue")
        self._history.clear()
        self._positions.clear()

    def replanned(self) -> None:
        """The agent re-planned: start a fresh window (the count of re-plans is kept)."""
        self._history.clear()
        self._positions.clear()

    def key(self, state: RobotState, extra: Hashable = None) -> Hashable:
        x, y, _ = state.position
        yaw = math.atan2(math.sin(state.yaw), math.cos(state.yaw))
        return (
            round(x / self.position_tol),
            round(y / self.position_tol),
            round(yaw / self.yaw_tol) % max(1, round(2 * math.pi / self.yaw_tol)),
            extra,
        )

    def check(self, state: RobotState, action: object, extra: Hashable = None) -> Verdict:
        """Record that ``action`` is about to be taken in ``state``; say whether to go on."""
        if not isinstance(state, RobotState):
            raise ValueError(f"LoopCritic.check: state must be a RobotState, got {type(state).__name__}")
        name = str(getattr(action, "value", action))
        self.steps += 1
        pair = (self.key(state, extra), name)
        self._history.append(pair)
        self._positions.append((state.position[0], state.position[1]))
        reason = ""
        count = Counter(self._history)[pair]
        if count >= self.max_repeats:
            x, y, _ = state.position
            reason = (
                f"loop: action {name!r} at ({x:.2f}, {y:.2f}) heading {math.degrees(state.yaw):.0f} deg "
                f"repeated {count} times in the last {len(self._history)} steps"
            )
        elif len(self._positions) == self.stall_steps:
            xs = [p[0] for p in self._positions]
            ys = [p[1] for p in self._positions]
            spread = math.hypot(max(xs) - min(xs), max(ys) - min(ys))
            if spread < self.progress_distance:
                reason = f"stalled: moved less than {self.progress_distance:.2f} m in {self.stall_steps} steps"
        if not reason:
            self.last = Verdict("continue", step=self.steps)
        elif self.replans >= self.max_replans:
            self.last = Verdict("give_up", f"{reason}; gave up after {self.replans} re-plans", self.steps)
        else:
            self.replans += 1
            self.replanned()
            self.last = Verdict("replan", f"{reason}; re-plan {self.replans}/{self.max_replans}", self.steps)
        return self.last
