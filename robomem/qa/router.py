"""Free text to the engine's verbs: offline, rule-based, no language model.

Recognised (case-insensitive, trailing "?" optional):

- where is X / where's X / where are the Xs / find X / locate X       -> where-now
- is X still in ROOM / is X still there                               -> still-in / where-now
- where was X yesterday | at t=120 | at 120s | N minutes/hours/days ago -> where-at
- when did you last see X / when was X last seen / last seen X        -> last-seen
- how many Xs (are there) (in ROOM)                                   -> count
- what changed (in ROOM) (since yesterday | since t=100 | in the last N minutes/hours/days) -> changes
- why do you think so / why (do you think) X is in ROOM               -> why (of the last object asked about)
- what do you know about X / facts about X                            -> facts

Anything else is not routed (``route`` returns None) and the caller falls back to retrieval.
Times: "yesterday" is 24 h before the newest stamp in memory; "t=120"/"120s" are sensor seconds.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from robomem.errors import QueryError
from robomem.qa.answer import Answer
from robomem.qa.engine import SECONDS_PER_DAY, QuestionEngine

_UNITS = {
    "second": 1.0,
    "sec": 1.0,
    "s": 1.0,
    "minute": 60.0,
    "min": 60.0,
    "hour": 3600.0,
    "h": 3600.0,
    "day": SECONDS_PER_DAY,
}
_N = r"(\d+(?:\.\d+)?)"
_UNIT = r"(seconds?|secs?|s|minutes?|mins?|hours?|h|days?)"
_X = r"(?:the |a |an |my |our )?(?P<x>.+?)"
_ROOM = r"(?:the )?(?P<room>[a-z][a-z _-]*?)"


def _unit(u: str) -> float:
    u = u.lower()
    if u in _UNITS:
        return _UNITS[u]
    return _UNITS[u.rstrip("s")]


def _when(text: str) -> float | None:
    """A time phrase as a time for the engine: negative = seconds before the newest stamp."""
    t = text.strip().lower()
    if t in ("yesterday", "a day ago", "one day ago"):
        return -SECONDS_PER_DAY
    m = re.fullmatch(r"(?:at )?t\s*=\s*" + _N + r"\s*s?", t) or re.fullmatch(r"at " + _N + r"\s*s(?:ec(?:onds?)?)?", t)
    if m:
        return float(m.group(1))
    m = re.fullmatch(_N + r"\s*" + _UNIT + r" ago", t)
    if m:
        return -float(m.group(1)) * _unit(m.group(2))
    return None


@dataclass(frozen=True)
class Route:
    """A question as a verb call: ``verb`` is an engine method name, ``args`` its keyword arguments."""

    verb: str
    args: Any = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "args", MappingProxyType(dict(self.args)))


_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"^why(?: do you think so| is that| so)?$"), "why_last"),
    (re.compile(r"^why (?:do you think |do you believe )?(?:that )?" + _X + r" (?:is|are) (?:in|on|at) .+$"), "why"),
    (re.compile(r"^(?:is|are) " + _X + r" still (?:in|on|at) " + _ROOM + r"$"), "still_in"),
    (re.compile(r"^(?:is|are) " + _X + r" still there$"), "where_now"),
    (
        re.compile(
            r"^where (?:was|were) " + _X + r" (?P<when>yesterday|(?:at )?t\s*=\s*[\d.]+\s*s?|at [\d.]+\s*s\w*|"
            r"[\d.]+\s*\w+ ago)$"
        ),
        "where_at",
    ),
    (
        re.compile(
            r"^(?:when did you (?:last see|see) "
            + _X
            + r"(?: last)?|when (?:was|were) "
            + _X.replace("x", "y")
            + r" last seen|last seen "
            + _X.replace("x", "z")
            + r")$"
        ),
        "last_seen",
    ),
    (
        re.compile(
            r"^how many " + _X + r"(?: (?:are|do you see|did you see|have you seen|can you see))?(?: there)?"
            r"(?: (?:in|on) " + _ROOM + r")?$"
        ),
        "count",
    ),
    (
        re.compile(
            r"^what (?:has )?changed(?: (?:in|on) (?!(?:the )?(?:last|past) )"
            + _ROOM
            + r")?(?: (?P<since>since .+|in the last .+|"
            r"(?:during the )?(?:last|past) .+))?$"
        ),
        "changes",
    ),
    (re.compile(r"^(?:what do you know about|facts about|tell me about) " + _X + r"$"), "facts"),
    (re.compile(r"^(?:where(?:'s| is| are)|find|locate) " + _X + r"(?: now)?$"), "where_now"),
]


def _since(phrase: str | None) -> float:
    """The start of a 'since ...' / 'in the last ...' phrase; none given: the last day."""
    if not phrase:
        return -SECONDS_PER_DAY
    p = phrase.strip().lower()
    m = re.fullmatch(r"(?:since|in the|during the)?\s*(?:last|past) (?:(" + r"\d+(?:\.\d+)?" + r") )?" + _UNIT, p)
    if m:
        return -float(m.group(1) or 1.0) * _unit(m.group(2))
    if p.startswith("since "):
        w = _when(p[6:])
        if w is not None:
            return w
        m = re.fullmatch(r"since " + _N + r"\s*s?", p)
        if m:
            return float(m.group(1))
    raise QueryError(
        f"cannot read the time in {phrase!r}; say e.g. 'since yesterday', 'since t=100', 'in the last 2 hours'"
    )


def route(text: str) -> Route | None:
    """The verb call a question asks for, or None (no verb fits: fall back to retrieval)."""
    q = " ".join(text.strip().lower().rstrip("?.! ").split())
    q = re.sub(r"^(?:robot,? |hey,? |please |can you tell me |do you know )", "", q)
    q = re.sub(r",? (?:please|for me)$", "", q)
    for pat, verb in _PATTERNS:
        m = pat.match(q)
        if not m:
            continue
        g = {k: v for k, v in m.groupdict().items() if v is not None}
        x = g.get("x") or g.get("y") or g.get("z")
        if verb == "why_last":
            return Route("why", {})
        if verb == "where_at":
            t = _when(g["when"])
            if t is None:
                return None
            return Route("where_at", {"target": x, "t": t})
        if verb == "changes":
            return Route("changes", {"since": _since(g.get("since")), "place": g.get("room")})
        if verb == "count":
            return Route("count", {"target": x, "place": g.get("room")})
        if verb == "still_in":
            return Route("still_in", {"target": x, "place": g["room"]})
        if verb == "facts":
            return Route("facts", {"subject": x})
        return Route(verb, {"target": x})
    return None


_COMMAND = re.compile(
    r"^(?:please )?(?:bring(?: me)?|fetch|find|get(?: me)?|go to|look for|search for|pick up|grab|locate|"
    r"navigate to|where(?:'s| is| are))\s+"
)


def goal_target(goal: str) -> str:
    """The object a goal names: "bring me the red mug" -> "red mug" (a bare name is returned as it is)."""
    r = route(goal)
    if r is not None and "target" in r.args:
        return str(r.args["target"])
    q = " ".join(goal.strip().lower().rstrip("?.! ").split())
    q = _COMMAND.sub("", q)
    q = re.sub(r"^(?:the|a|an|my|our)\s+", "", q)
    q = re.sub(r"\s+(?:please|now|for me)$", "", q)
    return q


class Conversation:
    """Free-text questions over one engine; "why do you think so?" refers to the last object asked about."""

    def __init__(self, engine: QuestionEngine) -> None:
        self.engine = engine
        self.last_target: str | None = None

    def ask(self, text: str, k: int = 10) -> Answer:
        if not isinstance(text, str) or not text.strip():
            raise QueryError('give a question, e.g. "where is the red mug?"')
        r = route(text)
        if r is None:
            return self.engine.retrieve(text.strip(), k)
        args = dict(r.args)
        if r.verb == "why" and "target" not in args:
            if self.last_target is None:
                raise QueryError("why: ask about an object first (e.g. 'where is the red mug?'), then 'why?'")
            args["target"] = self.last_target
        if "target" in args:
            self.last_target = args["target"]
        if r.verb == "where_at":
            args["t"] = float(args["t"])
        return getattr(self.engine, r.verb)(**args)


def ask(engine: QuestionEngine, text: str, k: int = 10) -> Answer:
    """One free-text question, no conversation state."""
    return Conversation(engine).ask(text, k)
