"""A dict whose values are built from their stored rows when first read (opening a store at 10^6 objects).

``TemporalMemory.load`` keeps every object's latest sighting and absence row as the tuple SQLite returned;
the ``Sighting`` / ``AbsenceRecord`` is made the first time the value is read (and kept), so opening builds
no Python object per row.  Membership, ``len`` and key iteration never build anything.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, Generic, TypeVar

V = TypeVar("V")


class LazyRows(dict, Generic[V]):  # type: ignore[type-arg]
    """id -> value, where a value may still be its row (a tuple), built by ``make`` on first read."""

    def __init__(self, make: Callable[[tuple[Any, ...]], V]) -> None:
        super().__init__()
        self._make = make

    def _built(self, key: int, v: Any) -> V:
        if type(v) is tuple:
            v = self._make(v)
            dict.__setitem__(self, key, v)
        return v  # type: ignore[no-any-return]

    def __getitem__(self, key: int) -> V:
        return self._built(key, dict.__getitem__(self, key))

    def get(self, key: int, default: Any = None) -> Any:
        v = dict.get(self, key, _MISSING)
        return default if v is _MISSING else self._built(key, v)

    def pop(self, key: int, *default: Any) -> Any:
        v = dict.pop(self, key, *default)
        return self._make(v) if type(v) is tuple else v

    def values(self) -> list[V]:  # type: ignore[override]
        return [self._built(k, v) for k, v in dict.items(self)]

    def items(self) -> list[tuple[int, V]]:  # type: ignore[override]
        return [(k, self._built(k, v)) for k, v in dict.items(self)]

    def __iter__(self) -> Iterator[int]:
        # needed: with it overridden, dict(x) and {**x} go through __getitem__ (and never leak a raw row)
        return dict.__iter__(self)

    def field(self, index: int, name: str) -> set[Any]:
        """One field of every value (``index`` in a row, ``name`` on a built value), building nothing."""
        return {v[index] if type(v) is tuple else getattr(v, name) for v in dict.values(self)}


_MISSING = object()
