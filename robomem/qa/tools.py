"""The engine's verbs as tools for a language model (the OpenAI ``tools`` function-calling schema).

``TOOLS`` is the list to send as ``"tools"`` in a chat completion request; :class:`ToolDispatcher`
runs a returned tool call against the engine and gives back the answer as JSON for the
``"role": "tool"`` message.  A name memory has never seen answers ``"status": "not_seen"``;
bad arguments answer ``{"error": ...}`` naming what was wrong, so the model can correct itself.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from robomem.qa.engine import QuestionEngine

_TARGET = {"type": "string", "description": "the object's name, e.g. 'red mug' or 'mugs'"}
_TIME = {
    "type": "number",
    "description": "sensor seconds; a negative value counts back from the newest memory (-86400: a day ago)",
}
_PLACE = {"type": "string", "description": "a room or place name memory knows, e.g. 'kitchen'"}


def _fn(name: str, description: str, props: dict[str, Any], required: tuple[str, ...]) -> dict[str, Any]:
    return {
        "type": "function",
        "function": {
            "name": name,
            "description": description,
            "parameters": {
                "type": "object",
                "properties": props,
                "required": list(required),
                "additionalProperties": False,
            },
        },
    }


TOOLS: tuple[dict[str, Any], ...] = (
    _fn(
        "where_now",
        "Where an object most likely is now (not observed missing since).",
        {"target": _TARGET},
        ("target",),
    ),
    _fn(
        "locate", "Every remembered object by that name, with places and best views.", {"target": _TARGET}, ("target",)
    ),
    _fn("where_at", "Where an object was at a given time.", {"target": _TARGET, "t": _TIME}, ("target", "t")),
    _fn(
        "last_seen",
        "When and where an object was last seen, and whether it was missed since.",
        {"target": _TARGET},
        ("target",),
    ),
    _fn(
        "still_in", "Whether an object is still in a place.", {"target": _TARGET, "place": _PLACE}, ("target", "place")
    ),
    _fn(
        "count",
        "How many objects by that name there are (those not where last seen included), or present in one place.",
        {"target": _TARGET, "place": _PLACE},
        ("target",),
    ),
    _fn(
        "changes",
        "What moved, appeared or disappeared since a time, optionally in one place.",
        {"since": _TIME, "until": _TIME, "place": _PLACE},
        ("since",),
    ),
    _fn(
        "facts",
        "Facts memory holds (about a subject, or all).",
        {"subject": {"type": "string", "description": "an object, place or person"}},
        (),
    ),
    _fn("why", "The evidence behind where memory thinks an object is.", {"target": _TARGET}, ("target",)),
)
TOOL_NAMES = tuple(t["function"]["name"] for t in TOOLS)


class ToolDispatcher:
    """Runs tool calls against one :class:`QuestionEngine`; every result is a JSON-able dict."""

    tools = TOOLS

    def __init__(self, engine: QuestionEngine) -> None:
        self.engine = engine
        self._schemas = {t["function"]["name"]: t["function"]["parameters"] for t in TOOLS}

    def call(self, name: str, arguments: str | Mapping[str, Any] | None) -> dict[str, Any]:
        """One tool call (``arguments`` as the model sent them: a JSON string or a mapping)."""
        if name not in self._schemas:
            return {"error": f"unknown tool {name!r}; tools: {', '.join(TOOL_NAMES)}"}
        if arguments is None or arguments == "":
            args: Any = {}
        elif isinstance(arguments, str):
            try:
                args = json.loads(arguments)
            except json.JSONDecodeError as exc:
                return {"error": f"{name}: arguments are not JSON ({exc.msg})"}
        else:
            args = dict(arguments)
        if not isinstance(args, dict):
            return {"error": f"{name}: arguments must be a JSON object"}
        schema = self._schemas[name]
        unknown = sorted(set(args) - set(schema["properties"]))
        missing = [r for r in schema["required"] if args.get(r) is None]
        if unknown or missing:
            return {"error": f"{name}: unknown arguments {unknown}, missing {missing}"}
        for key, spec in schema["properties"].items():
            v = args.get(key)
            if v is None:
                continue
            if spec["type"] == "number" and (isinstance(v, bool) or not isinstance(v, (int, float))):
                return {"error": f"{name}: {key} must be a number, got {v!r}"}
            if spec["type"] == "string" and not isinstance(v, str):
                return {"error": f"{name}: {key} must be a string, got {v!r}"}
        try:
            return getattr(self.engine, name)(**args).to_dict()
        except ValueError as exc:
            return {"error": f"{name}: {exc}"}

    def call_json(self, name: str, arguments: str | Mapping[str, Any] | None) -> str:
        return json.dumps(self.call(name, arguments))
