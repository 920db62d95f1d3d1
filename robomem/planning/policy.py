"""Policies conditioned on memory: ``act(observation, context) -> action``.

- :class:`ObjectSearchPolicy`: memory-guided object search over any
  :class:`Navigator` (a simulator or a robot's navigation stack): go to the
  remembered place (the keyframe pose that best shows the object, else the
  object itself; walked up to when not made out from there), look around,
  fall back to the next proposal, then explore (paths followed by pure pursuit);
  a :class:`~robomem.planning.critic.LoopCritic` makes it re-plan (abandon the current
  candidate, take fresh proposals from memory) or give up with a reason.
- :class:`LLMPolicy`: asks any OpenAI-compatible chat endpoint (by URL, via
  urllib) for the next action, given ``Context.text()``; with ``tools=`` a
  :class:`robomem.qa.tools.ToolDispatcher` the model may first call memory's
  question verbs (function calling) and act on their answers.

Actions are the Habitat-like discrete set :class:`Action`.
"""

from __future__ import annotations

import json
import math
import re
import urllib.error
import urllib.parse
from collections.abc import Callable, Mapping
from enum import Enum
from typing import Any, Protocol, runtime_checkable

import numpy as np

from robomem.planning.chat_http import post_json
from robomem.planning.context import Context, Goal, GoalProposal, RobotState
from robomem.planning.critic import LoopCritic


class Action(str, Enum):
    MOVE_FORWARD = "move_forward"
    TURN_LEFT = "turn_left"
    TURN_RIGHT = "turn_right"
    LOOK_UP = "look_up"
    LOOK_DOWN = "look_down"
    STOP = "stop"


ACTIONS: tuple[Action, ...] = tuple(Action)


@runtime_checkable
class Navigator(Protocol):
    """What the search policy needs from a simulator or a robot.

    ``current_pose()`` -> (x, y, yaw) in the world frame (m, rad; yaw about +z,
    0 = +x).  ``path_to(x, y)`` -> waypoints [(x, y), ...] from the current
    position to a reachable free cell nearest (x, y), or None when there is no
    path.  ``target_visible(label)`` -> whether the target is in view now
    (e.g. its instance covers enough pixels).  ``move_forward`` moves
    ``forward_step`` metres; turns rotate by ``turn_angle`` radians (left =
    counter-clockwise).
    """

    forward_step: float
    turn_angle: float

    def current_pose(self) -> tuple[float, float, float]: ...

    def path_to(self, x: float, y: float) -> list[tuple[float, float]] | None: ...

    def target_visible(self, label: str) -> bool: ...


class Policy(Protocol):
    def act(self, observation: Any, context: Context) -> Any: ...

    def reset(self) -> None: ...


def _wrap(a: float) -> float:
    return math.atan2(math.sin(a), math.cos(a))


LOOKAHEAD = 4.0  # forward steps: how far along the planned path the follower steers at
SLACK = 0.75  # turns: the heading error the follower walks on with (half a turn is the least it can always reach)
APPROACH = 1.25  # m: a remembered object not in view from farther than this is walked up to before looking around
CORRIDOR = 0.4  # forward steps: how far from the planned path the straight line to that point may stray


def _off_segment(p: tuple[float, float], a: tuple[float, float], b: tuple[float, float]) -> float:
    """Distance from ``p`` to the segment ``a``-``b``."""
    ax, ay = a
    dx, dy = b[0] - ax, b[1] - ay
    n = dx * dx + dy * dy
    t = 0.0 if n <= 0 else max(0.0, min(1.0, ((p[0] - ax) * dx + (p[1] - ay) * dy) / n))
    return math.dist(p, (ax + t * dx, ay + t * dy))


class ObjectSearchPolicy:
    """Memory-guided object search; see the module docstring.

    ``status`` is ``searching``, ``found`` (target in view, STOP), ``exhausted``
    (every proposal tried, STOP) or ``gave_up`` (the critic's verdict, STOP);
    ``reason`` says why, ``log`` keeps one line per decision.
    """

    def __init__(
        self,
        nav: Navigator,
        critic: LoopCritic | None = None,
        reach: float | None = None,
        max_waypoint_steps: int = 400,
        on_abandon: Callable[[], Context] | None = None,
    ) -> None:
        if not isinstance(nav, Navigator):
            raise ValueError(
                "ObjectSearchPolicy: nav must offer current_pose(), path_to(x, y), target_visible(label), "
                "forward_step and turn_angle (see robomem.planning.policy.Navigator)"
            )
        if not (0 < float(nav.turn_angle) < math.pi) or float(nav.forward_step) <= 0:
            raise ValueError(
                f"ObjectSearchPolicy: need 0 < turn_angle < pi and forward_step > 0, got "
                f"{nav.turn_angle!r}, {nav.forward_step!r}"
            )
        self.nav = nav
        self.critic = critic if critic is not None else LoopCritic()
        self.reach = float(reach) if reach is not None else 0.6 * float(nav.forward_step)
        self.max_waypoint_steps = max_waypoint_steps
        # called when a candidate is given up, before the next is chosen: fresh proposals from memory (the robot
        # has moved and looked), so the next candidate and its "go:" line come from what memory knows now
        self.on_abandon = on_abandon
        self.reset()

    def reset(self) -> None:
        self.status = "searching"
        self.reason = ""
        self.log: list[str] = []
        self.tried: list[GoalProposal] = []
        self.went: list[GoalProposal] = []  # every candidate set off to ("go:" in the log), in order, never undone
        self.current: GoalProposal | None = None
        self._goal: Goal | None = None
        self._queue: list[GoalProposal] = []
        self._path: list[tuple[float, float]] | None = None
        self._phase = "idle"  # idle | go | face | look
        self._turns = 0
        self._steps_on_candidate = 0
        self._approached = False
        self.critic.reset()

    # -- helpers ------------------------------------------------------------------
    def _state(self) -> RobotState:
        x, y, yaw = self.nav.current_pose()
        return RobotState((x, y, 0.0), yaw)

    def _target_label(self, ctx: Context) -> str:
        if ctx.goal.label:
            return ctx.goal.label
        for p in ctx.proposals:
            if p.kind == "object" and p.label:
                return p.label
        return ctx.goal.text or ""

    def _was_tried(self, p: GoalProposal) -> bool:
        for t in self.tried:
            if p.kind == "object" and t.kind == "object" and p.object_id == t.object_id:
                return True
            if p.kind != "object" and t.kind == p.kind and (t.place, t.target) == (p.place, p.target):
                return True
        return False

    def replan(self, context: Context) -> None:
        """Take fresh proposals (memory learned something, or the critic asked): the queue is replaced and the
        candidate being approached is dropped without counting as tried."""
        if self.current is not None and self.tried and self.tried[-1] is self.current:
            self.tried.pop()
        self._replan(context)

    def _replan(self, ctx: Context) -> None:
        self._queue = [p for p in ctx.proposals if not self._was_tried(p)]
        self.current = None
        self._phase = "idle"

    def _next_candidate(self) -> bool:
        while self._queue:
            p = self._queue.pop(0)
            if self._was_tried(p):
                continue
            self.current = p
            self.tried.append(p)
            self._steps_on_candidate = 0
            self._approached = False
            self._path = None
            self._turns = 0
            if p.xy is None:  # explore with no known place: look around here
                self._phase = "look"
            else:
                path = self.nav.path_to(*p.xy)
                if path is None and p.target is not None and (p.view_pose is not None or p.kind == "object"):
                    path = self._path_near(p.target[0], p.target[1])
                if path is None:
                    self.log.append(f"skip {p.kind} {p.label or p.place or ''}: no path")
                    continue
                self._path = list(path)
                self._phase = "go"
            self.log.append(f"go: {p.kind} {p.label or ''} {p.place or ''} (confidence {p.confidence:.2f})".strip())
            self.went.append(p)
            return True
        self.current = None
        return False

    def _path_near(self, tx: float, ty: float) -> list[tuple[float, float]] | None:
        """A path to (tx, ty) or, when the map has none (an apple in the middle of a table too large to plan
        into, an object whose remembered spot drifted into a wall), to the nearest point on the line from it
        towards the robot that the map reaches, from 0.5 m up to ``APPROACH`` m short of it."""
        path = self.nav.path_to(tx, ty)
        x, y, _ = self.nav.current_pose()
        here, step, k = math.dist((tx, ty), (x, y)), float(self.nav.forward_step), 2
        while path is None and k * step <= APPROACH + 1e-9 and k * step < here:
            f = k * step / here
            path = self.nav.path_to(tx + f * (x - tx), ty + f * (y - ty))
            k += 1
        return path

    def _approach(self, x: float, y: float) -> bool:
        """At a remembered object's view, facing it, not seeing it: walk up to the object once (to within
        ``APPROACH`` m, as far as the map allows) before looking around.  A keyframe shows a small object from
        the room's viewpoint that a robot needs to be nearer to make out (an apple 1.8 m away)."""
        p = self.current
        if self._approached or p is None or p.kind != "object" or p.target is None:
            return False
        self._approached = True
        tx, ty = p.target[0], p.target[1]
        here = math.dist((tx, ty), (x, y))
        if here <= APPROACH:
            return False
        step = float(self.nav.forward_step)
        path = self._path_near(tx, ty)
        if not path or math.dist(path[-1], (tx, ty)) > here - step:
            return False
        self._path = list(path)
        self._phase = "go"
        self.log.append(f"approach: {p.label or ''} not in view from {here:.1f} m; walk up to it".strip())
        return True

    def _abandon(self, why: str) -> None:
        self.log.append(f"abandon {self.current.kind if self.current else '-'}: {why}")
        self.current = None
        self._phase = "idle"
        if self.on_abandon is not None:
            self._replan(self.on_abandon())

    def _finish(self, status: str, reason: str) -> Action:
        self.status, self.reason = status, reason
        self.log.append(f"{status}: {reason}")
        return Action.STOP

    def _lookahead(self, x: float, y: float) -> tuple[float, float]:
        """The point of the path to steer at: the farthest within ``LOOKAHEAD`` forward steps whose straight line
        from the robot keeps every path point before it within ``CORRIDOR`` forward steps (pure pursuit on the
        planned corridor).  Steering at the very next point (a quarter metre ahead) with 30-degree turns
        zig-zagged: a turn for every step forward on any line between two headings."""
        path = self._path or []
        step = float(self.nav.forward_step)
        best = path[0]
        for j in range(1, len(path)):
            px, py = path[j]
            if math.dist((px, py), (x, y)) > LOOKAHEAD * step:
                break
            if all(_off_segment(path[i], (x, y), (px, py)) <= CORRIDOR * step for i in range(j)):
                best = path[j]
        return best

    def _steer(self, tx: float, ty: float) -> Action:
        x, y, yaw = self.nav.current_pose()
        diff = _wrap(math.atan2(ty - y, tx - x) - yaw)
        if abs(diff) > SLACK * float(self.nav.turn_angle) + 1e-9:
            return Action.TURN_LEFT if diff > 0 else Action.TURN_RIGHT
        return Action.MOVE_FORWARD

    def _plan_action(self) -> Action | None:
        """The next action for the current candidate, or None when it is done (not found there)."""
        p = self.current
        if p is None:
            raise RuntimeError("_plan_action: no current candidate (call it only while a search is under way)")
        x, y, yaw = self.nav.current_pose()
        self._steps_on_candidate += 1
        if self._steps_on_candidate > self.max_waypoint_steps:
            self._abandon("too many steps")
            return None
        if self._phase == "go":
            if self._path is None:
                raise RuntimeError("_plan_action: in the 'go' phase without a path")
            while self._path and math.dist(self._path[0], (x, y)) <= self.reach:
                self._path.pop(0)
            if self._path:
                return self._steer(*self._lookahead(x, y))
            self._phase = "face"
        if self._phase == "face":
            if p.view_pose is not None and p.target is None:
                want = p.view_pose[2]
            elif p.target is not None and math.dist(p.target[:2], (x, y)) > 1e-3:
                want = math.atan2(p.target[1] - y, p.target[0] - x)
            elif p.view_pose is not None:
                want = p.view_pose[2]
            else:
                want = yaw
            diff = _wrap(want - yaw)
            if abs(diff) > 0.5 * float(self.nav.turn_angle) + 1e-9:
                return Action.TURN_LEFT if diff > 0 else Action.TURN_RIGHT
            if self._approach(x, y):
                return self._plan_action()
            self._phase = "look"
            self._turns = 0
        if self._phase == "look":
            full = math.ceil(2 * math.pi / float(self.nav.turn_angle))
            if self._turns < full - 1:
                self._turns += 1
                return Action.TURN_LEFT
            self._abandon("not in view after looking around")
            return None
        return None

    # -- the policy -----------------------------------------------------------------
    def act(self, observation: Any, context: Context) -> Action:
        if not isinstance(context, Context):
            raise ValueError(f"ObjectSearchPolicy.act: context must be a robomem Context, got {type(context).__name__}")
        if self.status != "searching":
            return Action.STOP
        if context.goal != self._goal:
            self._goal = context.goal
            self.tried, self.went = [], []
            self._replan(context)
        label = self._target_label(context)
        if label and self.nav.target_visible(label):
            return self._finish("found", f"{label!r} is in view")
        for _ in range(len(self._queue) + len(context.proposals) + 2):
            if self.current is None and not self._next_candidate():
                return self._finish("exhausted", f"searched every remembered place and explored; {label!r} not found")
            action = self._plan_action()
            if action is None:
                continue
            verdict = self.critic.check(self._state(), action.value, extra=(len(self.tried), self._phase))
            if verdict.decision == "give_up":
                return self._finish("gave_up", verdict.reason)
            if verdict.decision == "replan":
                self._abandon(verdict.reason)
                if self.on_abandon is None:
                    self._replan(context)
                continue
            return action
        return self._finish("exhausted", "no candidate left to try")


# -- the LLM policy --------------------------------------------------------------------

SYSTEM_PROMPT = (
    "You control a mobile robot with a memory. Choose the next action from: {actions}. "
    "Memory lines are [time | place | source/kind] text; lines marked SUPERSEDED are outdated. "
    'Reply with one JSON object only: {{"action": "<one of the actions>", "reason": "<short>"}}.'
)

_SYNONYMS = {
    "forward": Action.MOVE_FORWARD,
    "move forward": Action.MOVE_FORWARD,
    "go forward": Action.MOVE_FORWARD,
    "left": Action.TURN_LEFT,
    "turn left": Action.TURN_LEFT,
    "right": Action.TURN_RIGHT,
    "turn right": Action.TURN_RIGHT,
    "look up": Action.LOOK_UP,
    "look down": Action.LOOK_DOWN,
    "halt": Action.STOP,
    "done": Action.STOP,
}


def parse_action(text: str) -> tuple[Action, str]:
    """(action, reason) from a model reply: a JSON object with "action", or an action name in the text."""
    if not isinstance(text, str) or not text.strip():
        raise ValueError("parse_action: empty reply")
    body = re.sub(r"```(?:json)?", "", text)
    for m in re.finditer(r"\{[^{}]*\}", body, re.S):
        try:
            obj = json.loads(m.group(0))
        except json.JSONDecodeError:
            continue
        if isinstance(obj, dict) and "action" in obj:
            return _action_of(str(obj["action"])), str(obj.get("reason", ""))
    norm = body.lower()
    hits = []
    for a in ACTIONS:
        for form in (a.value, a.value.replace("_", " ")):
            i = norm.find(form)
            if i >= 0:
                hits.append((i, a))
    if hits:
        return min(hits)[1], body.strip()[:200]
    raise ValueError(f"parse_action: no action among {[a.value for a in ACTIONS]} in the reply {text[:120]!r}")


def _action_of(name: str) -> Action:
    n = name.strip().lower().replace("-", "_")
    for a in ACTIONS:
        if n == a.value or n == a.name.lower():
            return a
    syn = _SYNONYMS.get(n.replace("_", " "))
    if syn is not None:
        return syn
    raise ValueError(f"parse_action: unknown action {name!r} (known: {', '.join(a.value for a in ACTIONS)})")


def describe_observation(observation: Any) -> str:
    """A short text summary of an observation for a language model."""
    if observation is None:
        return "(none)"
    if isinstance(observation, str):
        return observation[:2000]
    if isinstance(observation, Mapping):
        parts = []
        for k, v in observation.items():
            if isinstance(v, np.ndarray):
                if v.size <= 8:
                    parts.append(f"{k}={np.round(v.astype(float), 3).tolist()}")
                else:
                    parts.append(f"{k}=<array {tuple(v.shape)} {v.dtype}>")
            elif isinstance(v, (str, int, float, bool)) or v is None:
                parts.append(f"{k}={v}")
            elif isinstance(v, (list, tuple)) and len(v) <= 20:
                parts.append(f"{k}={list(v)}")
            else:
                parts.append(f"{k}=<{type(v).__name__}>")
        return ", ".join(parts)[:2000]
    return repr(observation)[:2000]


class LLMPolicy:
    """Asks an OpenAI-compatible chat endpoint for the next action.

    ``url`` is the server's base (``http://host:8000/v1``) or the full
    ``…/chat/completions`` address.  Nothing is sent anywhere until ``act``.
    On a network or parse failure it returns STOP and keeps the error in
    ``last_error`` (``on_error="raise"`` raises instead).
    """

    def __init__(
        self,
        url: str,
        model: str = "default",
        api_key: str | None = None,
        timeout: float = 30.0,
        temperature: float = 0.0,
        describe: Callable[[Any], str] = describe_observation,
        on_error: str = "stop",
        max_tokens: int = 200,
        tools: Any = None,
        max_tool_rounds: int = 4,
    ) -> None:
        if not isinstance(url, str):
            raise ValueError("LLMPolicy.url: expected a string")
        parsed = urllib.parse.urlparse(url)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise ValueError(f"LLMPolicy.url: expected an http(s) URL, got {url!r}")
        if on_error not in ("stop", "raise"):
            raise ValueError(f"LLMPolicy.on_error: expected 'stop' or 'raise', got {on_error!r}")
        if not (isinstance(timeout, (int, float)) and timeout > 0):
            raise ValueError(f"LLMPolicy.timeout: must be positive, got {timeout!r}")
        base = url.rstrip("/")
        self.endpoint = base if base.endswith("/chat/completions") else base + "/chat/completions"
        self.model = model
        self.api_key = api_key
        self.timeout = float(timeout)
        self.temperature = float(temperature)
        self.describe = describe
        self.on_error = on_error
        self.max_tokens = int(max_tokens)
        if tools is not None and not callable(getattr(tools, "call_json", None)):
            raise ValueError("LLMPolicy.tools: expected a robomem.qa.tools.ToolDispatcher (or None)")
        if not (isinstance(max_tool_rounds, int) and max_tool_rounds >= 1):
            raise ValueError(f"LLMPolicy.max_tool_rounds: must be an integer >= 1, got {max_tool_rounds!r}")
        self.tools = tools  # memory's verbs as function-calling tools; the model may call them before acting
        self.max_tool_rounds = max_tool_rounds
        self.reset()

    def reset(self) -> None:
        self.last_reply: str | None = None
        self.last_reason = ""
        self.last_error: str | None = None
        self.tool_calls: list[tuple[str, str, str]] = []  # (tool, arguments, answer status) of the last act

    def build_messages(self, observation: Any, context: Context) -> list[dict[str, str]]:
        if not isinstance(context, Context):
            raise ValueError(f"LLMPolicy: context must be a robomem Context, got {type(context).__name__}")
        system = SYSTEM_PROMPT.format(actions=", ".join(a.value for a in ACTIONS))
        user = f"{context.text()}\n\nCURRENT OBSERVATION: {self.describe(observation)}\n\nNext action?"
        return [{"role": "system", "content": system}, {"role": "user", "content": user}]

    def _post(self, messages: list[dict[str, Any]]) -> dict[str, Any]:
        """POST one chat request; return the assistant's message object."""
        req_body: dict[str, Any] = {
            "model": self.model,
            "messages": messages,
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
        }
        if self.tools is not None:
            req_body["tools"] = list(self.tools.tools)
        headers = {"Content-Type": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        # no redirects, one deadline for the whole call, a size cap, parse errors as errors (chat_http.py)
        payload = post_json(self.endpoint, req_body, headers, self.timeout)
        try:
            message = payload["choices"][0]["message"]
        except (KeyError, IndexError, TypeError):
            raise ValueError(f"LLMPolicy: not a chat completion response: {str(payload)[:200]}") from None
        if not isinstance(message, dict):
            raise ValueError("LLMPolicy: the response message is not an object")
        return message

    def request(self, messages: list[dict[str, Any]]) -> str:
        """Chat until the model answers in text; its tool calls (if ``tools``) are run against memory.

        Each round's tool calls are answered by the dispatcher as ``role: tool`` messages; after
        ``max_tool_rounds`` rounds of tool calls without a text answer it is an error.
        """
        messages = list(messages)
        self.tool_calls = []
        for _ in range(self.max_tool_rounds + 1):
            message = self._post(messages)
            calls = message.get("tool_calls") or []
            if calls and self.tools is not None:
                messages.append({"role": "assistant", "content": message.get("content"), "tool_calls": calls})
                for c in calls:
                    c = c if isinstance(c, dict) else {}
                    fn = c.get("function") if isinstance(c.get("function"), dict) else {}
                    name, args = str(fn.get("name", "")), fn.get("arguments") or "{}"
                    result = self.tools.call_json(name, args)
                    self.tool_calls.append((name, args if isinstance(args, str) else json.dumps(args), result))
                    messages.append({"role": "tool", "tool_call_id": str(c.get("id", "")), "content": result})
                continue
            content = message.get("content")
            if not isinstance(content, str):
                raise ValueError("LLMPolicy: the response message has no text content")
            return content
        raise ValueError(f"LLMPolicy: no answer after {self.max_tool_rounds} rounds of tool calls")

    def act(self, observation: Any, context: Context) -> Action:
        messages = self.build_messages(observation, context)
        try:
            self.last_reply = self.request(messages)
            action, self.last_reason = parse_action(self.last_reply)
        except (OSError, ValueError, urllib.error.URLError, RecursionError) as exc:
            self.last_error = f"{type(exc).__name__}: {exc}"
            if self.on_error == "raise":
                raise
            return Action.STOP
        self.last_error = None
        return action
