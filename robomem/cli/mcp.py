"""``robomem mcp STORE``: a store served read-only to language-model agents over MCP (stdio).

Tools are the question engine's verbs, with the definitions and the dispatcher that
:mod:`robomem.qa.tools` gives language models (``locate``, ``where_now``, ``where_at``,
``last_seen``, ``still_in``, ``changes``, ``count``, ``facts``, ``why``), plus free text
(``ask``, :func:`robomem.qa.router.ask`), and the planner's context for a goal
(``planner_context``, :meth:`robomem.planning.planner.Planner.context`). A tool returns the same
evidence-carrying dict ``robomem query --json`` prints, as JSON text and as structured content.
A name memory has never seen is an answer (``"status": "not_seen"``), not an error; bad arguments
(checked against the tool's JSON schema, then by the engine) are a tool error (``isError``) whose
text names what was wrong, and the server keeps serving.

Resources: ``robomem://scene-graph`` (JSON: objects, places, relations), ``robomem://scene-graph/dsg``
(the same graph as a spark_dsg JSON file, :mod:`robomem.report.dsg`), ``robomem://topdown.png`` (the
top-down map) and ``robomem://stats``.

The store is opened read-only (no writer lock), so a running memory node can keep writing it;
when the store's files change the server reopens it before answering, so answers follow the robot.
"""

from __future__ import annotations

import argparse
import base64
import json
import logging
import sys
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger("robomem.mcp")

SERVER_NAME = "robomem"
_K = {"type": "integer", "minimum": 1, "maximum": 100, "description": "at most this many results"}


def _schema(required: tuple[str, ...], **props: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {k: dict(v) for k, v in props.items()},
        "required": list(required),
        "additionalProperties": False,
    }


@dataclass(frozen=True)
class ToolSpec:
    """One MCP tool: its name, what it does, its arguments' JSON schema, and the call behind it."""

    name: str
    description: str
    schema: Mapping[str, Any]
    call: Callable[[MemoryServer, dict[str, Any]], dict[str, Any]]


def _engine_verb(name: str) -> Callable[[MemoryServer, dict[str, Any]], dict[str, Any]]:
    def call(srv: MemoryServer, args: dict[str, Any]) -> dict[str, Any]:
        from robomem.qa.tools import ToolDispatcher

        result = ToolDispatcher(srv.engine()).call(name, args)
        if "error" in result:  # the dispatcher's own argument checks and the engine's ValueErrors
            raise ToolError(str(result["error"]))
        return result

    return call


def engine_tools() -> tuple[ToolSpec, ...]:
    """The question engine's verbs with the definitions :mod:`robomem.qa.tools` gives language models."""
    from robomem.qa.tools import TOOLS as QA_TOOLS

    return tuple(
        ToolSpec(
            f["function"]["name"],
            f["function"]["description"],
            f["function"]["parameters"],
            _engine_verb(f["function"]["name"]),
        )
        for f in QA_TOOLS
    )


def _ask(srv: MemoryServer, args: dict[str, Any]) -> dict[str, Any]:
    from robomem.qa.router import ask

    return dict(ask(srv.engine(), args["question"], k=args.get("k", 10)).to_dict())


def _planner_context(srv: MemoryServer, args: dict[str, Any]) -> dict[str, Any]:
    from robomem.planning.context import Goal, RobotState
    from robomem.planning.planner import Planner

    mem = srv.memory()
    position = args.get("position")
    if position is None:  # where the robot was last
        traj = mem.trajectory()
        position = list(traj[-1][1:4]) if traj else [0.0, 0.0, 0.0]
    goal = Goal(text=args["goal"], label=args.get("target_label"))
    state = RobotState(tuple(float(v) for v in position), float(args.get("yaw", 0.0)), args.get("time"))  # type: ignore[arg-type]
    ctx = Planner(mem).context(goal, state, k=args.get("k"), max_tokens=args.get("max_tokens"))
    return {"verb": "planner_context", "status": "answered", "text": ctx.text(), **ctx.to_dict()}


EXTRA_TOOLS: tuple[ToolSpec, ...] = (
    ToolSpec(
        "ask",
        "A question in plain English (where is X, when did you last see X, how many X, what changed in ROOM ...), "
        "routed to the verbs above; anything else is answered by retrieval.",
        _schema(("question",), question={"type": "string", "minLength": 1, "maxLength": 2000}, k=_K),
        _ask,
    ),
    ToolSpec(
        "planner_context",
        "The planner's context for a goal: where to go (proposals with confidence and evidence) and the "
        "memory entries that matter, packed as text for a language-model planner.",
        _schema(
            ("goal",),
            goal={"type": "string", "minLength": 1, "maxLength": 2000, "description": "e.g. 'bring me the red mug'"},
            target_label={"type": "string", "minLength": 1, "maxLength": 200},
            position={
                "type": "array",
                "items": {"type": "number"},
                "minItems": 3,
                "maxItems": 3,
                "description": "robot position x, y, z (m, map frame); default: its last recorded position",
            },
            yaw={"type": "number", "description": "heading about z (rad)"},
            time={"type": "number", "description": "now (s); default: the newest stamp in memory"},
            k={"type": "integer", "minimum": 1, "maximum": 64},
            max_tokens={"type": "integer", "minimum": 50, "maximum": 8000},
        ),
        _planner_context,
    ),
)

RESOURCES: tuple[tuple[str, str, str, str], ...] = (
    ("robomem://scene-graph", "scene_graph", "application/json", "objects, places and on/in/near/in_room relations"),
    ("robomem://scene-graph/dsg", "scene_graph_dsg", "application/json", "the scene graph as a spark_dsg JSON file"),
    ("robomem://topdown.png", "topdown", "image/png", "top-down map: objects, places, trajectory, moves"),
    ("robomem://stats", "stats", "application/json", "rows and bytes per submodule"),
)


class ToolError(ValueError):
    """A tool call that cannot be answered as asked; its message goes back to the agent."""


def _jsonable(x: Any) -> Any:
    if hasattr(x, "item") and callable(x.item):
        return x.item()
    if hasattr(x, "tolist") and callable(x.tolist):
        return x.tolist()
    raise TypeError(f"{type(x).__name__} is not JSON serialisable")


class MemoryServer:
    """The protocol-free core of ``robomem mcp``: tools and resources over one read-only store."""

    def __init__(self, store: str | Path, config: Any = None) -> None:
        self.path = Path(store)
        self.config = config
        self._mem: Any = self._open(self.path)
        self._engine: Any = None
        self._stamp = self._files_stamp()
        self._specs = engine_tools() + EXTRA_TOOLS
        self._tools = {t.name: t for t in self._specs}

    def _open(self, path: Path) -> Any:
        from robomem.cli.query import open_store
        from robomem.memory import Memory
        from robomem.qa.lazy import LazyEmbedder

        if self.config is None:
            return open_store(str(path))
        from robomem.store.database import DB_NAME

        if not (path / DB_NAME).exists():  # never create a store: the same rule as open_store
            raise FileNotFoundError(f"{path}: no robomem store here (missing {DB_NAME})")
        return Memory.open(path, self.config, readonly=True, embedder=LazyEmbedder(self.config.embedder))

    def _files_stamp(self) -> tuple[tuple[str, int, int], ...]:
        out = []
        for f in sorted(self.path.glob("memory.db*")):
            try:
                st = f.stat()
            except FileNotFoundError:
                continue
            out.append((f.name, st.st_mtime_ns, st.st_size))
        return tuple(out)

    def memory(self) -> Any:
        """The open memory, reopened first when the store changed on disk (a node is writing it)."""
        stamp = self._files_stamp()
        if stamp != self._stamp:
            fresh = self._open(self.path)
            self._mem.close()
            self._mem, self._engine, self._stamp = fresh, None, stamp
        return self._mem

    def engine(self) -> Any:
        from robomem.qa.engine import QuestionEngine

        mem = self.memory()
        if self._engine is None or self._engine.memory is not mem:
            self._engine = QuestionEngine(mem)
        return self._engine

    def close(self) -> None:
        self._mem.close()

    # -- tools ----------------------------------------------------------------------
    def tool_specs(self) -> tuple[ToolSpec, ...]:
        return self._specs

    def call(self, name: str, arguments: Mapping[str, Any] | None) -> dict[str, Any]:
        """Run a tool; ToolError (a clear message) for an unknown tool or bad arguments."""
        import jsonschema

        spec = self._tools.get(name)
        if spec is None:
            raise ToolError(f"unknown tool {name!r}; tools: {', '.join(self._tools)}")
        args = dict(arguments or {})
        errors = sorted(
            jsonschema.Draft202012Validator(spec.schema).iter_errors(args), key=lambda e: list(e.absolute_path)
        )
        if errors:
            where = lambda e: ".".join(str(p) for p in e.absolute_path) or "arguments"  # noqa: E731
            raise ToolError(f"{name}: " + "; ".join(f"{where(e)}: {e.message}" for e in errors[:5]))
        try:
            result = spec.call(self, args)
        except ToolError:
            raise
        except ValueError as exc:  # the engine's and planner's own checks (unknown place, bad goal, ...)
            raise ToolError(f"{name}: {exc}") from exc
        return json.loads(json.dumps(result, default=_jsonable))

    # -- resources ------------------------------------------------------------------
    def read(self, uri: str) -> tuple[str, str | bytes]:
        """(mime type, text or bytes) of a resource; ToolError for an unknown URI."""
        mem = self.memory()
        if uri == "robomem://scene-graph":
            sg = mem.spatial.scene_graph().to_dict()
            sg["places"] = [{"name": p.name, "min_xy": list(p.min_xy), "max_xy": list(p.max_xy)} for p in mem.places]
            return "application/json", json.dumps(sg, indent=1)
        if uri == "robomem://scene-graph/dsg":
            from robomem.report.dsg import save_dsg

            with tempfile.TemporaryDirectory(prefix="robomem-mcp-") as d:
                return "application/json", save_dsg(mem, Path(d) / "scene_graph.json").read_text()
        if uri == "robomem://topdown.png":
            from robomem.report.topdown import save_topdown

            with tempfile.TemporaryDirectory(prefix="robomem-mcp-") as d:
                return "image/png", save_topdown(mem, Path(d) / "topdown.png").read_bytes()
        if uri == "robomem://stats":
            return "application/json", json.dumps(mem.stats(), indent=1, default=_jsonable)
        raise ToolError(f"unknown resource {uri!r}; resources: {', '.join(r[0] for r in RESOURCES)}")


def build_server(core: MemoryServer) -> Any:
    """The MCP (lowlevel) server over ``core``."""
    import mcp_types as types
    from mcp.server import Server
    from mcp.shared.exceptions import MCPError

    async def list_tools(_ctx: Any, _params: Any) -> types.ListToolsResult:
        return types.ListToolsResult(
            tools=[
                types.Tool(
                    name=t.name,
                    description=t.description,
                    input_schema=dict(t.schema),
                    annotations=types.ToolAnnotations(read_only_hint=True, destructive_hint=False),
                )
                for t in core.tool_specs()
            ]
        )

    async def call_tool(_ctx: Any, params: types.CallToolRequestParams) -> types.CallToolResult:
        try:
            result = core.call(params.name, params.arguments)
        except ToolError as exc:
            return types.CallToolResult(content=[types.TextContent(type="text", text=str(exc))], is_error=True)
        except Exception as exc:  # noqa: BLE001 - a bug or a damaged store must not kill the server
            log.exception("tool %s failed", params.name)
            text = f"{params.name}: internal error ({type(exc).__name__}: {exc})"
            return types.CallToolResult(content=[types.TextContent(type="text", text=text)], is_error=True)
        return types.CallToolResult(
            content=[types.TextContent(type="text", text=json.dumps(result))], structured_content=result
        )

    async def list_resources(_ctx: Any, _params: Any) -> types.ListResourcesResult:
        return types.ListResourcesResult(
            resources=[
                types.Resource(uri=uri, name=name, mime_type=mime, description=desc)
                for uri, name, mime, desc in RESOURCES
            ]
        )

    async def read_resource(_ctx: Any, params: types.ReadResourceRequestParams) -> types.ReadResourceResult:
        uri = str(params.uri)
        try:
            mime, data = core.read(uri)
        except ToolError as exc:
            raise MCPError(code=types.INVALID_PARAMS, message=str(exc)) from exc
        if isinstance(data, bytes):
            contents: Any = types.BlobResourceContents(
                uri=uri, mime_type=mime, blob=base64.b64encode(data).decode("ascii")
            )
        else:
            contents = types.TextResourceContents(uri=uri, mime_type=mime, text=data)
        return types.ReadResourceResult(contents=[contents])

    return Server(
        SERVER_NAME,
        instructions="Read-only robot memory: ask where things are, when they were last seen, what changed, "
        "and why memory believes it. Answers carry their evidence (object ids, stamps, frames).",
        on_list_tools=list_tools,
        on_call_tool=call_tool,
        on_list_resources=list_resources,
        on_read_resource=read_resource,
    )


async def serve_stdio(core: MemoryServer) -> None:
    from mcp.server.stdio import stdio_server

    server = build_server(core)
    async with stdio_server() as (read, write):
        await server.run(read, write, server.create_initialization_options())


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("store", help="memory store directory (opened read-only)")
    parser.add_argument("--config", help="memory config YAML (e.g. to choose the embedder the store was built with)")


def run(args: argparse.Namespace) -> int:
    import anyio

    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)  # stdout carries the protocol
    try:
        from robomem.config import MemoryConfig

        core = MemoryServer(args.store, MemoryConfig.from_yaml(args.config) if args.config else None)
    except Exception as exc:  # noqa: BLE001 - a missing or damaged store: one line on stderr, exit 2
        print(f"robomem mcp: {exc}", file=sys.stderr)
        return 2
    try:
        anyio.run(serve_stdio, core)
    except KeyboardInterrupt:
        pass
    finally:
        core.close()
    return 0
