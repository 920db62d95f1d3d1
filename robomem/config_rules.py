"""The range rules config dataclasses are checked with (:class:`Rule`, :class:`Checked`, :class:`RangeError`).

Their own module so a config section defined outside :mod:`robomem.config` (``robomem.fleet.config``) uses the
same rules without an import cycle; :mod:`robomem.config` re-exports every name.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from robomem.bounded_yaml import show
from robomem.errors import ConfigError

__all__ = ["GE0", "GE1", "GT0", "UNIT", "UNIT_OPEN", "Checked", "RangeError", "Rule"]


@dataclass(frozen=True)
class Rule:
    """The allowed range (or choices) of one setting."""

    lo: float | None = None
    hi: float | None = None
    lo_open: bool = False  # lo itself is not allowed
    choices: tuple[str, ...] = ()

    def violation(self, v: Any) -> str | None:
        """Why ``v`` is out of range, or None when it is fine."""
        if self.choices:
            return None if v in self.choices else f"must be one of {', '.join(self.choices)}, got {show(v)}"
        if isinstance(v, bool) or not isinstance(v, (int, float)) or (isinstance(v, float) and not math.isfinite(v)):
            return f"expected a finite number, got {show(v)}"
        if self.lo is not None and (v <= self.lo if self.lo_open else v < self.lo):
            if self.hi is not None:
                lb = "(" if self.lo_open else "["
                return f"must be in {lb}{_num(self.lo)}, {_num(self.hi)}], got {show(v)}"
            return f"must be {'>' if self.lo_open else '>='} {_num(self.lo)}, got {show(v)}"
        if self.hi is not None and v > self.hi:
            lb = "(" if self.lo_open else "["
            lo = "-inf" if self.lo is None else _num(self.lo)
            return f"must be in {lb}{lo}, {_num(self.hi)}], got {show(v)}"
        return None


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


GT0 = Rule(0, lo_open=True)
GE0 = Rule(0)
GE1 = Rule(1)
UNIT = Rule(0, 1)  # a share, probability or similarity in [0, 1]
UNIT_OPEN = Rule(0, 1, lo_open=True)  # (0, 1]


class RangeError(ConfigError):
    """A setting out of its :class:`Rule`; ``key`` is the field, ``reason`` the rule broken."""

    def __init__(self, owner: str, key: str, reason: str) -> None:
        super().__init__(f"{owner}.{key}: {reason}")
        self.key = key
        self.reason = reason


class Checked:
    """Mixin for config dataclasses: ``__post_init__`` checks every field named in ``RANGES``."""

    RANGES: ClassVar[Mapping[str, Rule]] = {}

    def __post_init__(self) -> None:
        for key, rule in self.RANGES.items():
            why = rule.violation(getattr(self, key))
            if why is not None:
                raise RangeError(type(self).__name__, key, why)
