"""What episodic memory holds: episodes, their steps, search hits, and the text that describes them.

Plain frozen records (``Episode``, ``Step``, ``EpisodeHit``) cross module boundaries; ``CurrentEpisode`` is
the mutable per-robot state of the open episode (what the surprise test compares against).
"""

from __future__ import annotations

import json
import re
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from robomem.ingest.frame import Frame

_FAIL_WORDS = (
    "fail",
    "failed",
    "failure",
    "error",
    "stuck",
    "could not",
    "couldn't",
    "cannot",
    "can't",
    "unable",
    "aborted",
    "abort",
    "timeout",
    "timed out",
    "blocked",
    "dropped",
    "missed",
    "not found",
)
_OK_WORDS = (
    "success",
    "succeeded",
    "successful",
    "done",
    "ok",
    "completed",
    "complete",
    "achieved",
    "reached",
    "delivered",
    "found",
    "opened",
    "closed",
    "picked",
    "placed",
    "grasped",
    "arrived",
)

MAX_OBJECTS_PER_EPISODE = 200
RECENT_FRAMES = 20  # the window "what was seen lately" that surprise compares against


def infer_success(text: str | None) -> bool | None:
    """True/False from an outcome text ("success", "failed: drawer stuck"); None when it says neither."""
    if not text:
        return None
    t = " " + re.sub(r"[^a-z' ]+", " ", text.lower()) + " "
    if any(f" {w} " in t or (" " not in w and f" {w}" in t and w in ("fail", "error")) for w in _FAIL_WORDS):
        return False
    if any(f" {w} " in t for w in _OK_WORDS):
        return True
    return None


@dataclass(frozen=True)
class Step:
    step_id: int
    episode_id: int
    index: int  # position inside the episode
    stamp: float
    kind: str  # "observe" | "action" | "outcome" | "instruction" | "event" | "summary"
    observation: str
    action: str
    result: str
    success: bool | None
    place: str | None
    frame_index: int | None
    n: int = 1  # raw steps this row stands for (summaries stand for many)
    t_end: float | None = None
    object_ids: tuple[int, ...] = ()  # the objects it saw (observation steps), typed: never parsed from the text

    @property
    def text(self) -> str:
        parts = []
        if self.observation:
            parts.append(self.observation)
        if self.action:
            parts.append(f"action: {self.action}")
        if self.result:
            parts.append(f"result: {self.result}")
        return "; ".join(parts) or self.kind

    def to_dict(self) -> dict[str, Any]:
        return {
            "step_id": self.step_id,
            "episode_id": self.episode_id,
            "index": self.index,
            "stamp": self.stamp,
            "kind": self.kind,
            "observation": self.observation,
            "action": self.action,
            "result": self.result,
            "success": self.success,
            "place": self.place,
            "frame_index": self.frame_index,
            "n": self.n,
            "object_ids": list(self.object_ids),
        }


@dataclass(frozen=True)
class Episode:
    episode_id: int
    task: str
    kind: str  # "task" (begun explicitly) | "auto" (cut from the stream)
    robot_id: str
    t_start: float
    t_end: float  # last activity (the end, once closed)
    is_open: bool
    outcome: str | None
    success: bool | None
    places: tuple[str, ...]
    object_ids: tuple[int, ...]
    n_steps: int
    n_frames: int
    cut_reason: str  # why it began: "begin", "start", "goal", "surprise", "place", "gap"
    retrieved: int = 0
    target: str | None = None  # what a search episode looked for (a label), typed: never parsed from the outcome
    found_in: str | None = None  # the place a search episode found its target in

    @property
    def text(self) -> str:
        state = "in progress" if self.is_open else (self.outcome or "ended")
        where = f" in {', '.join(self.places)}" if self.places else ""
        return f"episode #{self.episode_id} '{self.task}'{where}, t={self.t_start:.1f}-{self.t_end:.1f}s: {state}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "episode_id": self.episode_id,
            "task": self.task,
            "kind": self.kind,
            "robot_id": self.robot_id,
            "t_start": self.t_start,
            "t_end": self.t_end,
            "open": self.is_open,
            "outcome": self.outcome,
            "success": self.success,
            "places": list(self.places),
            "object_ids": list(self.object_ids),
            "n_steps": self.n_steps,
            "n_frames": self.n_frames,
            "cut_reason": self.cut_reason,
            "target": self.target,
            "found_in": self.found_in,
        }


@dataclass(frozen=True)
class EpisodeHit:
    """A search result: the episode, how well it matches, its neighbours in time and its best steps."""

    episode: Episode
    relevance: float
    before: tuple[Episode, ...]
    after: tuple[Episode, ...]
    steps: tuple[Step, ...]


@dataclass
class CurrentEpisode:
    """The open episode of one robot and what the surprise test needs."""

    episode_id: int
    kind: str
    recent: deque[frozenset[int]] = field(default_factory=lambda: deque(maxlen=RECENT_FRAMES))
    place: str | None = None
    n_frames: int = 0
    n_steps: int = 0
    last_activity: float = 0.0
    last_action_step: int | None = None  # step id of the latest action without a result
    pending: list[tuple[int, str]] = field(default_factory=list)  # steps whose embedding is not written yet

    def copy(self) -> CurrentEpisode:
        return replace(self, recent=deque(self.recent, maxlen=RECENT_FRAMES), pending=list(self.pending))


def surprise_of(seen: frozenset[int], recent: deque[frozenset[int]]) -> float:
    """The share of the objects in view that the last frames of the episode did not show (0 = all expected)."""
    if not recent or not seen:
        return 0.0
    expected = frozenset().union(*recent)
    return 1.0 - len(seen & expected) / len(seen)


# The columns ``step_from_row`` reads, in its order.
STEP_COLUMNS = (
    "id, episode_id, idx, stamp, kind, observation, action, result, success, place, frame_idx, n, t_end, seen"
)


def step_from_row(r: Any) -> Step:
    return Step(
        r[0],
        r[1],
        r[2],
        r[3],
        r[4],
        r[5],
        r[6],
        r[7],
        None if r[8] is None else bool(r[8]),
        r[9],
        r[10],
        r[11],
        r[12],
        tuple(int(i) for i in json.loads(r[13])),
    )


def summarise_frame(frame: Frame) -> str:
    where = (
        f"in the {frame.camera_place}"
        if frame.camera_place
        else "at " + ", ".join(f"{v:.1f}" for v in frame.observation.pose.position[:2])
    )
    seen = [
        f"{d.label} #{d.object_id}" + (" (new)" if d.is_new else " (moved)" if d.reidentified else "")
        for d in frame.detections[:12]
    ]
    more = f" and {len(frame.detections) - 12} more" if len(frame.detections) > 12 else ""
    text = f"{where}: saw {', '.join(seen)}{more}" if seen else f"{where}: saw nothing known"
    if frame.absences:
        text += "; gone: " + ", ".join(f"{a.label} #{a.object_id}" for a in frame.absences[:8])
    return text


def most_seen(steps: list[Step], n: int = 8) -> list[int]:
    """The objects the steps saw most often (by the steps' typed object ids), most first."""
    seen: Counter[int] = Counter()
    for s in steps:
        seen.update(dict.fromkeys(s.object_ids, 1))
    return [oid for oid, _ in seen.most_common(n)]


def summarise_steps(steps: list[Step], name: Callable[[int], str]) -> str:
    """One line standing for many raw steps: the actions and results, the places, what was seen most.

    ``name`` gives an object's display name ("red mug #2") from its id, from the label authority."""
    actions = [s.action + (f" -> {s.result}" if s.result else "") for s in steps if s.action]
    places = list(dict.fromkeys(s.place for s in steps if s.place))
    seen = most_seen(steps)
    parts = [f"{sum(s.n for s in steps)} steps"]
    if places:
        parts.append("in " + ", ".join(places[:5]))
    if actions:
        parts.append("actions: " + "; ".join(actions[:8]) + (" …" if len(actions) > 8 else ""))
    if seen:
        parts.append("saw " + ", ".join(name(oid) for oid in seen))
    return "; ".join(parts)
