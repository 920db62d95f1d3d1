"""The loop critic: fires on looping agents, stays quiet on progress, escalates replan -> give_up."""

from __future__ import annotations

import math

import pytest

from robomem.planning.context import RobotState
from robomem.planning.critic import LoopCritic, Verdict


def test_left_right_oscillation_fires_replan_then_give_up():
    critic = LoopCritic(max_repeats=3, max_replans=2)
    verdicts = []
    yaw = 0.0
    for i in range(40):
        action = "turn_left" if i % 2 == 0 else "turn_right"
        v = critic.check(RobotState((1.0, 1.0, 0.0), yaw), action)
        verdicts.append(v)
        yaw += math.radians(30) if action == "turn_left" else -math.radians(30)
        if v.decision == "give_up":
            break
    decisions = [v.decision for v in verdicts]
    assert decisions.count("replan") == 2
    assert decisions[-1] == "give_up"
    first = next(v for v in verdicts if v.decision == "replan")
    assert first.step <= 6, "fires within a few repetitions"
    assert "loop" in first.reason and "repeated 3 times" in first.reason
    assert "gave up after 2 re-plans" in verdicts[-1].reason


def test_blocked_forward_fires():
    critic = LoopCritic(max_repeats=4)
    out = [critic.check(RobotState((0.0, 0.0)), "move_forward").decision for _ in range(4)]
    assert out == ["continue", "continue", "continue", "replan"]


def test_progress_and_a_full_turn_do_not_fire():
    critic = LoopCritic()
    step = 0.25
    x, yaw = 0.0, 0.0
    for _ in range(12):  # a full look-around on the spot: each heading once
        assert critic.check(RobotState((x, 0.0), yaw), "turn_left").ok
        yaw += math.radians(30)
    for _ in range(40):  # then straight ahead
        assert critic.check(RobotState((x, 0.0), yaw), "move_forward").ok
        x += step
    assert critic.replans == 0


def test_stall_without_exact_repeats_fires():
    critic = LoopCritic(stall_steps=20, progress_distance=0.3, max_repeats=50, window=50)
    decisions = []
    for i in range(20):  # jitters within 10 cm, new headings each time
        decisions.append(critic.check(RobotState((0.05 * (i % 3), 0.0), 0.3 * i), "turn_left").decision)
    assert decisions[-1] == "replan" and set(decisions[:-1]) == {"continue"}
    assert "stalled" in critic.last.reason


def test_extra_key_separates_subgoals_and_reset_clears():
    critic = LoopCritic(max_repeats=2)
    s = RobotState((0.0, 0.0))
    assert critic.check(s, "stop", extra="A").ok
    assert critic.check(s, "stop", extra="B").ok
    assert critic.check(s, "stop", extra="A").decision == "replan"
    critic.reset()
    assert critic.replans == 0 and critic.check(s, "stop", extra="A").ok


def test_bad_input():
    with pytest.raises(ValueError):
        LoopCritic(window=1)
    with pytest.raises(ValueError):
        LoopCritic(position_tol=0)
    with pytest.raises(ValueError):
        LoopCritic(max_replans=-1)
    with pytest.raises(ValueError):
        LoopCritic().check((0, 0, 0), "stop")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        Verdict("maybe")
