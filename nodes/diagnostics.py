"""The memory node's /diagnostics level and message from counts over a sliding window (no rclpy here).

The node's counters are running totals; the level is judged on what changed in the last
``window`` seconds, so one rejection long ago does not keep the node at WARN forever:

* STALE: no camera message arrived in the window (after ``window`` s of running), with the reason:
  no publisher at all, or publishers present but nothing received (QoS incompatible, or they
  stopped publishing);
* WARN: messages rejected or frames dropped in the window;
* OK: frames arriving and none rejected in the window.

Levels are the diagnostic_msgs/DiagnosticStatus bytes (OK 0, WARN 1, ERROR 2, STALE 3).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

__all__ = ["OK", "STALE", "WARN", "Counts", "DiagnosticsWindow"]

OK, WARN, ERROR, STALE = 0, 1, 2, 3


@dataclass(frozen=True)
class Counts:
    """Running totals of the node at one time (node clock or monotonic seconds)."""

    t: float
    received: int  # camera-stream messages received
    rejected: int
    dropped: int
    updates: int


class DiagnosticsWindow:
    def __init__(self, window: float = 10.0) -> None:
        if window <= 0:
            raise ValueError(f"window: expected > 0 s, got {window}")
        self.window = window
        self.samples: deque[Counts] = deque()
        self.started: float | None = None

    def status(self, now: Counts, publishers: dict[str, int]) -> tuple[int, str]:
        """(level, message) for the window ending at ``now``; ``publishers``: topic -> publisher count."""
        if self.started is None:
            self.started = now.t
        self.samples.append(now)
        while len(self.samples) > 1 and self.samples[1].t <= now.t - self.window:
            self.samples.popleft()
        old = self.samples[0]
        span = max(1e-9, now.t - old.t)
        got, rej, drop = now.received - old.received, now.rejected - old.rejected, now.dropped - old.dropped
        rate = (now.updates - old.updates) / span if span > 1e-6 else 0.0
        summary = f"{rate:.1f} updates/s, {rej} rejected, {drop} dropped in the last {span:.0f} s"
        if got == 0 and now.t - self.started >= self.window:
            silent = sorted(t for t, n in publishers.items() if n > 0)
            if silent:
                why = f"publishers on {', '.join(silent)} but nothing received (QoS incompatible, or not publishing)"
            else:
                why = f"no publisher on {', '.join(sorted(publishers))}"
            return STALE, f"no camera input for {span:.0f} s: {why}"
        if rej or drop:
            return WARN, summary
        if got == 0:
            return OK, f"waiting for camera input ({now.t - self.started:.0f} s)"
        return OK, summary
