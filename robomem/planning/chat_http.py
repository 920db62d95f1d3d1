"""One JSON POST to a language-model server, with the limits a robot needs from an untrusted peer.

:class:`~robomem.planning.policy.LLMPolicy` talks to whatever server the user points it at.  A
server that misbehaves must not be able to steal the key, stall the robot or exhaust its memory:

- **No redirects.** A 30x is an error, never followed: following one sent
  ``Authorization: Bearer …`` to another origin.
- **A total deadline.** ``timeout`` bounds the whole call, not each socket read: a server dripping
  one byte every 1.5 s kept ``act()`` for 18 s with ``timeout=2``.
- **A size cap.** At most ``max_bytes`` are read: a 60 MB body was read whole.
- **Parse errors are errors.** A 200,000-deep JSON raised ``RecursionError`` out of ``act()``.

Every failure is a :class:`ChatHttpError` (a ``ValueError``) naming what went wrong.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from typing import Any

MAX_REPLY_BYTES = 4 * 1024 * 1024  # a chat completion is a few kB


class ChatHttpError(ValueError):
    """The server could not be reached in time, redirected, sent too much or sent something unreadable."""


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):  # type: ignore[no-untyped-def]
        raise ChatHttpError(f"server answered {code} redirecting to {newurl!r}; redirects are not followed")


_OPENER = urllib.request.build_opener(_NoRedirect())


def post_json(
    url: str, body: dict[str, Any], headers: dict[str, str], timeout: float, max_bytes: int = MAX_REPLY_BYTES
) -> Any:
    """POST ``body`` as JSON to ``url`` and return the parsed JSON reply, within ``timeout`` seconds in all."""
    deadline = time.monotonic() + timeout
    result: dict[str, Any] = {}

    def call() -> None:
        try:
            result["value"] = _post(url, body, headers, deadline, max_bytes)
        except BaseException as exc:  # handed to the caller's thread
            result["error"] = exc

    # The worker bounds the phases urllib does not (connect, a dripped status line or headers); the
    # read loop below bounds the body.  A worker past the deadline is left to its socket timeout.
    worker = threading.Thread(target=call, name="robomem-llm-http", daemon=True)
    worker.start()
    worker.join(max(0.0, deadline - time.monotonic()) + 0.05)
    if worker.is_alive():
        raise ChatHttpError(f"no complete reply within {timeout:g} s")
    if "error" in result:
        exc = result["error"]
        if isinstance(exc, ChatHttpError):
            raise exc
        if isinstance(exc, (OSError, urllib.error.URLError)):
            raise ChatHttpError(f"request failed: {type(exc).__name__}: {exc}") from exc
        raise exc
    return result["value"]


def _post(url: str, body: dict[str, Any], headers: dict[str, str], deadline: float, max_bytes: int) -> Any:
    req = urllib.request.Request(url, data=json.dumps(body).encode(), headers=headers, method="POST")
    remaining = max(0.05, deadline - time.monotonic())
    with _OPENER.open(req, timeout=remaining) as resp:  # noqa: S310 (the caller checks the scheme)
        declared = resp.headers.get("Content-Length")
        if declared is not None and declared.isdigit() and int(declared) > max_bytes:
            raise ChatHttpError(f"reply of {int(declared)} bytes is larger than the {max_bytes} allowed")
        chunks: list[bytes] = []
        size = 0
        while True:
            if time.monotonic() > deadline:
                raise ChatHttpError("reply still arriving at the deadline (the server is too slow)")
            chunk = resp.read1(65536)
            if not chunk:
                break
            size += len(chunk)
            if size > max_bytes:
                raise ChatHttpError(f"reply larger than the {max_bytes} bytes allowed")
            chunks.append(chunk)
    raw = b"".join(chunks)
    try:
        return json.loads(raw.decode("utf-8"))
    except RecursionError:
        raise ChatHttpError("reply is JSON nested too deeply to read") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ChatHttpError(f"reply is not JSON: {exc}") from None
