"""Policies: memory-guided object search over a navigation interface, and the LLM policy over HTTP."""

from __future__ import annotations

import json
import math
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from robomem import Memory, Place
from robomem.planning.context import Goal, RobotState
from robomem.planning.critic import LoopCritic
from robomem.planning.planner import Planner
from robomem.planning.policy import Action, LLMPolicy, Navigator, ObjectSearchPolicy, describe_observation, parse_action
from robomem.testing.synthetic import Box, BoxScene, look_at

RED = (220, 30, 30)
NEAR, FAR = (1.8, 0.1), (5.2, 1.4)
PLACES = [Place("kitchen", (-1, -3), (3.0, 3)), Place("living room", (3.0, -3), (8, 3)), Place("hall", (-1, 3), (8, 6))]


class FakeNav:
    """Free space, straight-line paths, a 70-degree field of view up to 2.5 m. Satisfies robomem.planning.policy.Navigator."""

    forward_step = 0.25
    turn_angle = math.radians(30)

    def __init__(self, truth: dict[str, list[tuple[float, float]]], pose=(0.0, 0.0, 0.0), blocked: bool = False):
        self.truth = truth
        self.x, self.y, self.yaw = pose
        self.blocked = blocked
        self.visited: list[tuple[float, float]] = []

    def current_pose(self):
        return (self.x, self.y, self.yaw)

    def path_to(self, x, y):
        d = math.dist((self.x, self.y), (x, y))
        n = max(1, math.ceil(d / 0.5))
        return [(self.x + (x - self.x) * i / n, self.y + (y - self.y) * i / n) for i in range(1, n + 1)]

    def target_visible(self, label):
        for ox, oy in self.truth.get(label, []):
            d = math.dist((self.x, self.y), (ox, oy))
            ang = abs(
                math.atan2(
                    math.sin(math.atan2(oy - self.y, ox - self.x) - self.yaw),
                    math.cos(math.atan2(oy - self.y, ox - self.x) - self.yaw),
                )
            )
            if d <= 2.5 and ang <= math.radians(35):
                return True
        return False

    def step(self, action: Action) -> None:
        if action == Action.MOVE_FORWARD and not self.blocked:
            self.x += self.forward_step * math.cos(self.yaw)
            self.y += self.forward_step * math.sin(self.yaw)
        elif action == Action.TURN_LEFT:
            self.yaw += self.turn_angle
        elif action == Action.TURN_RIGHT:
            self.yaw -= self.turn_angle
        self.visited.append((self.x, self.y))


def furniture() -> list[Box]:
    return [
        Box(1, "table", (2.0, 0.0, 0.375), (1.2, 0.8, 0.75), (140, 90, 40)),
        Box(2, "side table", (5.2, 1.4, 0.3), (0.6, 0.6, 0.6), (120, 80, 60)),
        Box(3, "chair", (2.0, 1.0, 0.45), (0.5, 0.5, 0.9), (90, 160, 90)),
    ]


def remember(mem: Memory, mugs: list[tuple[float, float]]) -> float:
    boxes = furniture() + [
        Box(20 + i, "red mug", (x, y, 0.80 if x < 3 else 0.65), (0.1, 0.1, 0.1), RED) for i, (x, y) in enumerate(mugs)
    ]
    scene = BoxScene(boxes)
    views = [((0.0, 0.0, 1.5), (2.0, 0.0, 0.7)), ((3.2, 1.4, 1.3), (5.2, 1.4, 0.5))]
    views = [v for v in views for _ in range(2)]  # each place in two frames: memory believes what it saw twice
    for i, (eye, target) in enumerate(views):
        mem.update(scene.observe(look_at(eye, target), float(i)))
    return float(len(views))


def run(policy: ObjectSearchPolicy, planner: Planner, nav: FakeNav, goal, t0: float, max_steps: int = 400):
    actions = []
    for i in range(max_steps):
        x, y, yaw = nav.current_pose()
        ctx = planner.context(goal, RobotState((x, y, 0.0), yaw, t0 + i * 0.1))
        a = policy.act({"step": i}, ctx)
        actions.append(a)
        if a == Action.STOP:
            break
        nav.step(a)
    return actions


@pytest.fixture()
def mem(tmp_path, embedder):
    with Memory.open(tmp_path / "mem", embedder=embedder) as m:
        m.set_places(PLACES)
        yield m


def test_search_goes_to_remembered_place_then_falls_back_to_the_next_candidate(mem):
    t = remember(mem, [NEAR, FAR])
    nav = FakeNav({"red mug": [FAR]})  # the near mug is gone in the world; memory does not know yet
    assert isinstance(nav, Navigator)
    planner = Planner(mem)
    policy = ObjectSearchPolicy(nav, LoopCritic())
    actions = run(policy, planner, nav, Goal(label="red mug"), t)
    assert actions[-1] == Action.STOP
    assert policy.status == "found", policy.log
    assert math.dist((nav.x, nav.y), FAR) <= 2.5
    tried = [p.object_id for p in policy.tried]
    assert len(tried) == 2 and policy.tried[0].target is not None
    assert math.dist(policy.tried[0].target[:2], NEAR) < 0.3 and math.dist(policy.tried[1].target[:2], FAR) < 0.3
    assert any("not in view after looking around" in line for line in policy.log)
    # It went near the first place before giving it up.
    assert min(math.dist(p, policy.tried[0].xy) for p in nav.visited) <= 0.3
    assert len(actions) < 200
    assert policy.act(None, planner.context(Goal(label="red mug"), RobotState((0, 0)))) == Action.STOP


class NearSightNav(FakeNav):
    """Makes out the target only from at most 1 m (a small object the keyframe showed from the room's viewpoint)."""

    def target_visible(self, label):
        return super().target_visible(label) and any(
            math.dist((self.x, self.y), xy) <= 1.0 for xy in self.truth.get(label, [])
        )


def test_a_remembered_object_not_made_out_from_its_view_is_walked_up_to(mem):
    t = remember(mem, [NEAR])  # seen from (0, 0), 1.8 m away: the keyframe the planner sends the robot to
    nav = NearSightNav({"red mug": [NEAR]})
    policy = ObjectSearchPolicy(nav, LoopCritic())
    actions = run(policy, Planner(mem), nav, Goal(label="red mug"), t)
    assert policy.status == "found", policy.log
    assert [line for line in policy.log if line.startswith("approach:")] == [
        "approach: red mug not in view from 1.8 m; walk up to it"
    ]
    assert policy.log.index(next(x for x in policy.log if x.startswith("approach:"))) == 1  # before any look-around
    assert math.dist((nav.x, nav.y), NEAR) <= 1.0 and len(actions) < 30


class TableNav(NearSightNav):
    """No path into a table: a goal within ``radius`` of an object's spot is unplannable (path_to -> None)."""

    radius = 0.6

    def path_to(self, x, y):
        if any(math.dist((x, y), xy) < self.radius for xs in self.truth.values() for xy in xs):
            return None
        return super().path_to(x, y)


def test_an_object_on_furniture_too_large_to_plan_into_is_walked_up_to_along_the_line_to_it(mem):
    t = remember(mem, [NEAR])
    nav = TableNav({"red mug": [NEAR]})
    policy = ObjectSearchPolicy(nav, LoopCritic())
    run(policy, Planner(mem), nav, Goal(label="red mug"), t)
    assert policy.status == "found", policy.log
    assert [line for line in policy.log if line.startswith("approach:")] == [
        "approach: red mug not in view from 1.8 m; walk up to it"
    ]
    assert 0.6 <= math.dist((nav.x, nav.y), NEAR) <= 1.0


class NoViewNav(TableNav):
    """The keyframe's spot cannot be planned to either (a door closed, a chair moved there)."""

    def path_to(self, x, y):
        if math.dist((x, y), (0.0, 0.0)) < 0.3:
            return None
        return super().path_to(x, y)


def test_an_object_whose_view_and_spot_have_no_path_is_still_gone_to(mem):
    t = remember(mem, [NEAR])  # keyframe from (0, 0); the mug's spot is unplannable too
    nav = NoViewNav({"red mug": [NEAR]}, pose=(0.5, -1.5, 0.0))
    policy = ObjectSearchPolicy(nav, LoopCritic())
    run(policy, Planner(mem), nav, Goal(label="red mug"), t)
    assert policy.status == "found", policy.log
    assert not [line for line in policy.log if line.startswith("skip")], policy.log
    assert policy.log[0].startswith("go: object red mug"), policy.log


def test_unknown_object_explores_then_stops_with_a_reason(mem):
    t = remember(mem, [])
    nav = FakeNav({"keys": []})
    planner = Planner(mem)
    ctx = planner.context(Goal(label="keys"), RobotState((0, 0, 0), 0.0, t))
    # every place to explore, the never-observed hall first
    assert [p.kind for p in ctx.proposals] == ["explore"] * len(PLACES) and ctx.best.place == "hall"
    policy = ObjectSearchPolicy(nav)
    actions = run(policy, planner, nav, Goal(label="keys"), t)
    assert actions[-1] == Action.STOP and policy.status == "exhausted"
    assert "'keys' not found" in policy.reason
    assert any(PLACES[2].contains(*p) for p in nav.visited), "it explored the hall"
    assert [p.place for p in policy.tried] == ["hall", "living room", "kitchen"]  # then the others, nearest first


def test_critic_stops_a_search_that_loops(mem):
    t = remember(mem, [NEAR, FAR])
    nav = FakeNav({"red mug": []}, blocked=True)  # forward does nothing: a wall
    planner = Planner(mem)
    policy = ObjectSearchPolicy(nav, LoopCritic(max_repeats=3, max_replans=2))
    actions = run(policy, planner, nav, Goal(label="red mug"), t)
    assert actions[-1] == Action.STOP
    assert policy.status in ("gave_up", "exhausted")
    assert any("loop" in line for line in policy.log), policy.log
    assert policy.critic.replans >= 1
    assert len(actions) < 100


def test_search_policy_refuses_bad_input(mem):
    with pytest.raises(ValueError, match="Navigator"):
        ObjectSearchPolicy(object())  # type: ignore[arg-type]
    policy = ObjectSearchPolicy(FakeNav({}))
    with pytest.raises(ValueError, match="Context"):
        policy.act(None, "find the mug")  # type: ignore[arg-type]


# -- LLM policy ----------------------------------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    reply = ""
    requests: list[dict] = []

    def do_POST(self):  # noqa: N802
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).requests.append({"path": self.path, "auth": self.headers.get("Authorization"), "body": body})
        if type(self).reply == "<garbage>":
            payload = b"not json"
        else:
            payload = json.dumps(
                {"choices": [{"message": {"role": "assistant", "content": type(self).reply}}]}
            ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args):
        pass


@pytest.fixture()
def server():
    _Handler.requests = []
    srv = HTTPServer(("127.0.0.1", 0), _Handler)
    th = threading.Thread(target=srv.serve_forever, daemon=True)
    th.start()
    yield f"http://127.0.0.1:{srv.server_address[1]}/v1"
    srv.shutdown()
    srv.server_close()


def test_llm_policy_builds_prompt_and_parses_reply(mem, server):
    t = remember(mem, [NEAR])
    ctx = Planner(mem).context("bring me the red mug", RobotState((0, 0, 0), 0.0, t))
    policy = LLMPolicy(server, model="tiny", api_key="k123")
    _Handler.reply = 'Sure.\n```json\n{"action": "turn_left", "reason": "the mug is to the left"}\n```'
    action = policy.act({"visible": ["table"], "step": 3}, ctx)
    assert action == Action.TURN_LEFT and policy.last_reason == "the mug is to the left"
    req = _Handler.requests[-1]
    assert req["path"] == "/v1/chat/completions" and req["auth"] == "Bearer k123"
    body = req["body"]
    assert body["model"] == "tiny" and [m["role"] for m in body["messages"]] == ["system", "user"]
    assert "move_forward" in body["messages"][0]["content"] and "JSON" in body["messages"][0]["content"]
    user = body["messages"][1]["content"]
    assert "GOAL: bring me the red mug" in user and "red mug #" in user and "spatial/object" in user
    assert "visible=['table']" in user and "step=3" in user
    # Plain-text replies work too; nonsense returns STOP and keeps the error.
    _Handler.reply = "I will move forward now."
    assert policy.act(None, ctx) == Action.MOVE_FORWARD
    _Handler.reply = "I am not sure."
    assert policy.act(None, ctx) == Action.STOP and "no action" in policy.last_error
    _Handler.reply = "<garbage>"
    assert policy.act(None, ctx) == Action.STOP and policy.last_error
    with pytest.raises(ValueError):
        LLMPolicy(server, on_error="raise").act(None, ctx)


def test_llm_policy_unreachable_server_stops():
    from robomem.planning.context import Context, GoalProposal

    ctx = Context(Goal(label="mug"), RobotState((0, 0)), 0.0, (), (GoalProposal("explore", 0.0, "nothing"),))
    policy = LLMPolicy("http://127.0.0.1:9/v1/chat/completions", timeout=2)
    assert policy.endpoint == "http://127.0.0.1:9/v1/chat/completions"
    assert policy.act(None, ctx) == Action.STOP and policy.last_error


def test_parse_action_and_url_validation():
    assert parse_action('{"action": "LOOK_DOWN"}')[0] == Action.LOOK_DOWN
    assert parse_action('{"action": "forward", "reason": "clear"}') == (Action.MOVE_FORWARD, "clear")
    assert parse_action("Best is to turn right, then stop.")[0] == Action.TURN_RIGHT
    with pytest.raises(ValueError):
        parse_action('{"action": "fly"}')
    with pytest.raises(ValueError):
        parse_action("")
    with pytest.raises(ValueError):
        LLMPolicy("ftp://example.org")
    with pytest.raises(ValueError):
        LLMPolicy("http://127.0.0.1:1", on_error="ignore")
    assert (
        describe_observation({"rgb": __import__("numpy").zeros((2, 3, 3)), "t": 1.5})
        == "rgb=<array (2, 3, 3) float64>, t=1.5"
    )


# -- LLM policy with memory as tools (function calling) --------------------------------------


class _ToolServer(BaseHTTPRequestHandler):
    """A fake OpenAI-compatible model: first it calls memory's tools, then it acts on their answers."""

    requests: list[dict] = []

    def do_POST(self):  # noqa: N802
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).requests.append(body)
        tool_msgs = [m for m in body["messages"] if m["role"] == "tool"]
        if not tool_msgs:
            calls = [
                {
                    "id": "c1",
                    "type": "function",
                    "function": {"name": "where_now", "arguments": '{"target": "red mug"}'},
                },
                {
                    "id": "c2",
                    "type": "function",
                    "function": {"name": "where_now", "arguments": '{"target": "unicorn"}'},
                },
                {"id": "c3", "type": "function", "function": {"name": "count", "arguments": '{"target": 3}'}},
            ]
            message = {"role": "assistant", "content": None, "tool_calls": calls}
        else:
            answers = {m["tool_call_id"]: json.loads(m["content"]) for m in tool_msgs}
            mug = answers["c1"]["results"][0]
            action = "move_forward" if answers["c1"]["status"] == "answered" else "stop"
            why = f"mug in the {mug['place']}; unicorn {answers['c2']['status']}; {answers['c3'].get('error', '')}"
            message = {"role": "assistant", "content": json.dumps({"action": action, "reason": why})}
        payload = json.dumps({"choices": [{"message": message}]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args):
        pass


def test_llm_policy_calls_memory_tools_then_acts(mem):
    from robomem.qa.engine import QuestionEngine
    from robomem.qa.tools import TOOL_NAMES, ToolDispatcher

    t = remember(mem, [NEAR])
    ctx = Planner(mem).context("bring me the red mug", RobotState((0, 0, 0), 0.0, t))
    _ToolServer.requests = []
    srv = HTTPServer(("127.0.0.1", 0), _ToolServer)
    srv.timeout = 10.0
    th = threading.Thread(
        target=lambda: [srv.handle_request() for _ in range(2)], daemon=True
    )  # two requests, then it stops
    th.start()
    try:
        policy = LLMPolicy(f"http://127.0.0.1:{srv.server_address[1]}/v1", tools=ToolDispatcher(QuestionEngine(mem)))
        assert policy.act(None, ctx) == Action.MOVE_FORWARD, policy.last_error
        th.join(timeout=15)
        assert not th.is_alive()
    finally:
        srv.server_close()
    first, second = _ToolServer.requests
    assert [f["function"]["name"] for f in first["tools"]] == list(TOOL_NAMES)
    assert first["tools"][0]["function"]["parameters"]["required"] == ["target"]
    assert [m["role"] for m in second["messages"]] == ["system", "user", "assistant", "tool", "tool", "tool"]
    assert policy.last_reason.startswith("mug in the kitchen; unicorn not_seen; count: target must be a string")
    assert [(name, status[:40]) for name, _, status in policy.tool_calls][0][0] == "where_now"
    assert len(policy.tool_calls) == 3


def test_tool_dispatcher_rejects_bad_calls(mem):
    from robomem.qa.engine import QuestionEngine
    from robomem.qa.tools import ToolDispatcher

    remember(mem, [NEAR])
    d = ToolDispatcher(QuestionEngine(mem))
    assert d.call("where_now", {"target": "red mug"})["results"][0]["place"] == "kitchen"
    assert d.call("teleport", {})["error"].startswith("unknown tool 'teleport'")
    assert "not JSON" in d.call("where_now", "{target")["error"]
    assert "missing ['target']" in d.call("where_now", {})["error"]
    assert "unknown arguments ['colour']" in d.call("where_now", {"target": "mug", "colour": "red"})["error"]
    assert "known places: kitchen" in d.call("changes", {"since": -10, "place": "attic"})["error"]
    for name, args in (
        ("locate", {"target": "unicorn"}),
        ("last_seen", {"target": "unicorn"}),
        ("where_at", {"target": "unicorn", "t": 0.5}),
        ("count", {"target": "unicorns"}),
        ("why", {"target": "unicorn"}),
        ("still_in", {"target": "unicorn", "place": "kitchen"}),
    ):
        assert d.call(name, args)["status"] == "not_seen", name
    with pytest.raises(ValueError, match="ToolDispatcher"):
        LLMPolicy("http://127.0.0.1:1/v1", tools=object())
