"""LLMPolicy against a hostile server on 127.0.0.1 (issue 16): redirect, drip, deep JSON, huge body.

Real sockets and a real http.server; each misbehaviour must end in STOP with ``last_error`` saying
why, within the policy's timeout, with no exception out of ``act()`` and no key sent elsewhere.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from robomem.planning.chat_http import ChatHttpError, post_json
from robomem.planning.context import Context, Goal, GoalProposal, RobotState
from robomem.planning.policy import Action, LLMPolicy

GOOD = json.dumps({"choices": [{"message": {"content": '{"action": "turn_left", "reason": "ok"}'}}]})


class _Elsewhere(BaseHTTPRequestHandler):
    """Another origin: records what a redirected client would send it."""

    seen: list[str | None] = []

    def do_POST(self) -> None:  # noqa: N802
        type(self).seen.append(self.headers.get("Authorization"))
        body = GOOD.encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


class _Hostile(BaseHTTPRequestHandler):
    elsewhere = ""

    def do_POST(self) -> None:  # noqa: N802
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        mode = self.path.split("/")[1]
        if mode == "good":
            body = GOOD.encode()
        elif mode == "redirect":
            self.send_response(302)
            self.send_header("Location", self.elsewhere + "/v1/chat/completions")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        elif mode == "drip":
            self.send_response(200)
            self.send_header("Content-Length", str(len(GOOD)))
            self.end_headers()
            try:
                for ch in GOOD.encode():
                    self.wfile.write(bytes([ch]))
                    self.wfile.flush()
                    time.sleep(0.5)
            except OSError:
                pass
            return
        elif mode == "slowheaders":
            try:
                for line in (b"HTTP/1.1 200 OK\r\n", b"X-A: 1\r\n", b"X-B: 2\r\n", b"X-C: 3\r\n", b"X-D: 4\r\n"):
                    self.wfile.write(line)
                    self.wfile.flush()
                    time.sleep(0.8)
            except OSError:
                pass
            return
        elif mode == "deep":
            body = b"[" * 200_000 + b"]" * 200_000
        elif mode == "huge":
            body = b'{"pad": "' + b"x" * (60 * 1024 * 1024) + b'"}'
        elif mode == "hugechunked":  # no Content-Length: the cap must hold while reading
            self.send_response(200)
            self.end_headers()
            try:
                for _ in range(60):
                    self.wfile.write(b"x" * (1024 * 1024))
            except OSError:
                pass
            return
        else:
            body = b"{}"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        with contextlib.suppress(OSError):
            self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def _serve(handler: type[BaseHTTPRequestHandler]) -> tuple[ThreadingHTTPServer, str]:
    srv = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    srv.daemon_threads = True
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv, f"http://127.0.0.1:{srv.server_address[1]}"


@pytest.fixture(scope="module")
def hostile() -> Iterator[str]:
    other, other_url = _serve(_Elsewhere)
    _Hostile.elsewhere = other_url
    srv, url = _serve(_Hostile)
    yield url
    srv.shutdown()
    other.shutdown()


CTX = Context(Goal(label="mug"), RobotState((0, 0)), 0.0, (), (GoalProposal("explore", 0.0, "nothing"),))


def _act(url: str, timeout: float = 2.0) -> tuple[Action, str | None, float]:
    policy = LLMPolicy(url + "/v1", api_key="secret-key", timeout=timeout)
    t0 = time.monotonic()
    action = policy.act(None, CTX)  # never raises with on_error="stop"
    return action, policy.last_error, time.monotonic() - t0


def test_a_well_behaved_server_still_works(hostile: str) -> None:
    action, err, _ = _act(hostile + "/good")
    assert action == Action.TURN_LEFT and err is None


def test_a_redirect_is_not_followed_and_the_key_stays_home(hostile: str) -> None:
    _Elsewhere.seen.clear()
    action, err, _ = _act(hostile + "/redirect")
    assert action == Action.STOP and err is not None and "redirects are not followed" in err
    assert _Elsewhere.seen == []  # the other origin never got a request, let alone the bearer token


@pytest.mark.parametrize("mode", ["drip", "slowheaders"])
def test_a_dripping_server_is_cut_off_at_the_deadline(hostile: str, mode: str) -> None:
    action, err, took = _act(hostile + f"/{mode}", timeout=2.0)
    assert action == Action.STOP and err is not None
    assert took < 3.0, took  # was 18 s for the drip with timeout=2


def test_deeply_nested_json_is_an_error_not_a_recursion_error(hostile: str) -> None:
    action, err, _ = _act(hostile + "/deep")
    assert action == Action.STOP and err is not None and "nested too deeply" in err


@pytest.mark.parametrize("mode", ["huge", "hugechunked"])
def test_a_huge_body_is_refused_at_the_cap(hostile: str, mode: str) -> None:
    action, err, _ = _act(hostile + f"/{mode}", timeout=10.0)
    assert action == Action.STOP and err is not None and "allowed" in err


def test_post_json_raises_one_error_type(hostile: str) -> None:
    with pytest.raises(ChatHttpError, match="larger than"):
        post_json(hostile + "/hugechunked", {}, {}, timeout=10.0, max_bytes=1000)
    with pytest.raises(ChatHttpError, match="request failed"):
        post_json("http://127.0.0.1:9/x", {}, {}, timeout=2.0)
    assert post_json(hostile + "/good", {}, {}, timeout=5.0)["choices"][0]["message"]["content"]
