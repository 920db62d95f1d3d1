"""What the CLI prints to a terminal: stored text made safe, and a closed pipe handled.

Labels, places and event text are stored as given (they are data), but printed raw an escape
byte in a label can rewrite the user's terminal.  :func:`safe` shows control characters as
``\\x1b``-style escapes.  :func:`print_lines` writes lines and turns a reader that went away
(``robomem query ... --json | head``) into a quiet exit instead of a ``BrokenPipeError``
traceback.
"""

from __future__ import annotations

import os
import sys
import unicodedata
from collections.abc import Iterable

PIPE_CLOSED = 141  # what a shell reports for a process ended by SIGPIPE (128 + 13)


def safe(text: str) -> str:
    """``text`` with every control or format character (except tab) shown as an escape."""
    out = []
    for ch in text:
        if ch == "\t" or unicodedata.category(ch) not in ("Cc", "Cf", "Cs"):
            out.append(ch)
        else:
            out.append(ch.encode("unicode_escape").decode("ascii"))
    return "".join(out)


def print_lines(lines: Iterable[str]) -> int:
    """Print each line made :func:`safe`; 0, or :data:`PIPE_CLOSED` when the reader closed the pipe."""
    try:
        for line in lines:
            sys.stdout.write(safe(line) + "\n")
        sys.stdout.flush()
    except BrokenPipeError:
        return pipe_closed()
    return 0


def pipe_closed() -> int:
    """After a ``BrokenPipeError`` on stdout: silence stdout and give the exit status to return."""
    # Python would report the error again when it flushes stdout at exit: point stdout at
    # /dev/null first (the recipe in the `signal` module's documentation).
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    return PIPE_CLOSED
