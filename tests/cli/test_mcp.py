"""robomem mcp: a subprocess MCP server over a replayed store, driven by the mcp client library."""

from __future__ import annotations

import base64
import io
import json
import sys
from pathlib import Path
from typing import Any

import anyio
import pytest

from robomem import Memory, MemoryConfig, Place
from robomem.io.replay import replay
from robomem.qa.engine import QuestionEngine

mcp = pytest.importorskip("mcp")
sd = pytest.importorskip("spark_dsg")

FIXTURE = Path(__file__).parents[1] / "data" / "tour.mcap"
CONFIG = MemoryConfig.from_dict({"embedder": "hash"})
REPO = Path(__file__).parents[2]


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    p = tmp_path_factory.mktemp("mcp") / "store"
    with Memory.open(p, CONFIG) as mem:
        replay(FIXTURE, mem)
    return p


def _structured(result: Any) -> dict[str, Any]:
    assert not result.is_error, result.content[0].text
    data = json.loads(result.content[0].text)
    assert data == result.structured_content
    return data


async def _session(store: Path, out: Path) -> dict[str, Any]:
    """One server process for the whole conversation (startup costs seconds on a loaded machine)."""
    config = out / "memory.yaml"
    config.write_text("memory:\n  embedder: hash\n")  # the embedder the store was built with
    params = mcp.StdioServerParameters(
        command=sys.executable,
        args=["-m", "robomem.cli.main", "mcp", str(store), "--config", str(config)],
        cwd=str(REPO),
    )
    seen: dict[str, Any] = {}
    async with mcp.Client(params, read_timeout_seconds=180) as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
        seen["tools"] = tools
        seen["locate"] = _structured(await client.call_tool("locate", {"target": "red mug"}))
        seen["last_seen"] = _structured(await client.call_tool("last_seen", {"target": "book"}))
        seen["count"] = _structured(await client.call_tool("count", {"target": "mug"}))
        seen["unicorn"] = _structured(await client.call_tool("where_now", {"target": "unicorn"}))
        seen["ask"] = _structured(await client.call_tool("ask", {"question": "when did you last see the book?"}))
        seen["plan"] = _structured(await client.call_tool("planner_context", {"goal": "bring me the red mug"}))
        bad = {
            "missing": ("locate", {}),
            "type": ("locate", {"target": 7}),
            "extra": ("why", {"target": "book", "colour": "red"}),
            "range": ("planner_context", {"goal": "find the book", "k": 0}),
            "place": ("changes", {"since": 0, "place": "mars"}),
            "tool": ("teleport", {"to": "kitchen"}),
            "position": ("planner_context", {"goal": "find the book", "position": [1, 2]}),
        }
        seen["bad"] = {}
        for key, (name, args) in bad.items():
            r = await client.call_tool(name, args)
            seen["bad"][key] = (r.is_error, r.content[0].text)
        seen["after_bad"] = _structured(await client.call_tool("locate", {"target": "book"}))
        seen["resources"] = [str(r.uri) for r in (await client.list_resources()).resources]
        seen["scene_graph"] = json.loads((await client.read_resource("robomem://scene-graph")).contents[0].text)
        png = (await client.read_resource("robomem://topdown.png")).contents[0]
        seen["png"] = (png.mime_type, base64.b64decode(png.blob))
        dsg = (await client.read_resource("robomem://scene-graph/dsg")).contents[0].text
        seen["dsg_file"] = out / "served.json"
        seen["dsg_file"].write_text(dsg)
        with pytest.raises(mcp.MCPError, match="unknown resource"):
            await client.read_resource("robomem://nothing")
        with Memory.open(store, CONFIG, readonly=True) as mem:  # the engine in-process, before the store changes
            engine = QuestionEngine(mem)
            seen["engine_locate"] = json.loads(json.dumps(engine.locate("red mug").to_dict()))
            seen["engine_last_seen"] = json.loads(json.dumps(engine.last_seen("book").to_dict()))
            seen["mug_id"] = next(o.object_id for o in mem.objects() if o.label == "red mug")
        # a writer changes the store while the server runs: the next answer follows it
        with Memory.open(store, CONFIG) as mem:
            mem.set_places([Place("living room", (0.0, -3.0), (5.0, 3.0))])
        seen["changes_in_room"] = _structured(await client.call_tool("changes", {"since": 0, "place": "living room"}))
    return seen


@pytest.fixture(scope="module")
def seen(store: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return anyio.run(_session, store, tmp_path_factory.mktemp("mcp_out"))


def test_mcp_server_answers_like_the_engine(seen: dict[str, Any]) -> None:
    tools = seen["tools"]
    want = {"locate", "where_now", "where_at", "last_seen", "changes", "count", "facts", "why", "ask"}
    assert want | {"planner_context"} <= set(tools)
    assert tools["locate"].input_schema["required"] == ["target"]
    assert tools["locate"].annotations.read_only_hint is True
    # the same evidence-carrying answer as the engine (what `robomem query --json` prints)
    assert seen["locate"] == seen["engine_locate"]
    assert seen["last_seen"] == seen["engine_last_seen"]
    mug_id = seen["mug_id"]
    top = seen["locate"]["results"][0]
    assert top["object_id"] == mug_id and seen["locate"]["evidence"]
    assert seen["count"]["count"] == 2  # red mug and white mug
    assert seen["unicorn"]["status"] == "not_seen" and seen["unicorn"]["abstained"] is True
    assert seen["ask"]["verb"] == "last-seen" and seen["ask"]["results"][0]["label"] == "book"
    best = seen["plan"]["proposals"][0]
    assert best["object_id"] == mug_id and "PROPOSAL 1" in seen["plan"]["text"]


def test_bad_tool_arguments_are_tool_errors(seen: dict[str, Any]) -> None:
    bad = seen["bad"]
    assert all(is_error for is_error, _ in bad.values())
    assert "target" in bad["missing"][1] and "required" in bad["missing"][1]
    assert "not of type 'string'" in bad["type"][1]
    assert "colour" in bad["extra"][1]
    assert "k:" in bad["range"][1]
    assert "mars" in bad["place"][1] and "not a place" in bad["place"][1]
    assert "unknown tool 'teleport'" in bad["tool"][1]
    assert "position" in bad["position"][1]
    assert seen["after_bad"]["results"][0]["label"] == "book"  # the server kept serving


def test_resources_and_live_store(seen: dict[str, Any]) -> None:
    from PIL import Image

    assert set(seen["resources"]) == {
        "robomem://scene-graph",
        "robomem://scene-graph/dsg",
        "robomem://topdown.png",
        "robomem://stats",
    }
    assert len(seen["scene_graph"]["objects"]) == 6 and seen["scene_graph"]["relations"]
    mime, png = seen["png"]
    img = Image.open(io.BytesIO(png))
    assert mime == "image/png" and img.format == "PNG" and img.size[0] > 500
    g = sd.DynamicSceneGraph.load(str(seen["dsg_file"]))
    assert g.get_layer(sd.DsgLayers.OBJECTS).num_nodes() == 6
    # the place added while the server ran is known to it: no "not a place" error
    assert seen["changes_in_room"]["verb"] == "changes"


def test_missing_store_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from robomem.cli.main import main as cli

    assert cli(["mcp", str(tmp_path / "nowhere")]) == 2
    assert "no robomem store here" in capsys.readouterr().err
