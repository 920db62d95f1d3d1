"""Checked argparse types for every ``robomem`` subcommand.

A bad number on the command line is an argparse error naming the option and what is allowed
(``--frames: must be an integer >= 1, got 0``), never a ``ZeroDivisionError`` or an
``IndexError`` from deep inside the command, and never a silently wrong answer (``-k 0``
answering "no object matches").
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable


def integer(lo: int | None = None, hi: int | None = None) -> Callable[[str], int]:
    """An argparse ``type=`` for an integer in ``[lo, hi]``."""

    def parse(text: str) -> int:
        try:
            v = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if (lo is not None and v < lo) or (hi is not None and v > hi):
            raise argparse.ArgumentTypeError(f"must be an integer {_range(lo, hi, False)}, got {v}")
        return v

    parse.__name__ = "integer"  # argparse names the type in its messages
    return parse


def number(lo: float | None = None, hi: float | None = None, lo_open: bool = False) -> Callable[[str], float]:
    """An argparse ``type=`` for a finite float in ``[lo, hi]`` (``(lo, hi]`` with ``lo_open``)."""

    def parse(text: str) -> float:
        try:
            v = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        if not math.isfinite(v):
            raise argparse.ArgumentTypeError(f"must be a finite number, got {text!r}")
        if (lo is not None and (v <= lo if lo_open else v < lo)) or (hi is not None and v > hi):
            raise argparse.ArgumentTypeError(f"must be a number {_range(lo, hi, lo_open)}, got {_num(v)}")
        return v

    parse.__name__ = "number"
    return parse


def _range(lo: float | None, hi: float | None, lo_open: bool) -> str:
    if lo is not None and hi is not None:
        return f"in {'(' if lo_open else '['}{_num(lo)}, {_num(hi)}]"
    if lo is not None:
        return f"{'>' if lo_open else '>='} {_num(lo)}"
    return f"<= {_num(hi)}" if hi is not None else "(any)"


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


COUNT = integer(lo=1)  # how many (frames, days, episodes, results)
PIXELS = integer(lo=16, hi=8192)  # image width or height
SEED = integer(lo=0, hi=2**32 - 1)
TIME = number()  # a stamp or an offset in seconds, any finite value
RATE = number(lo=0.0, lo_open=True)  # Hz, > 0
