"""YAML read with bounds: file size, nesting depth and alias expansion.

``yaml.safe_load`` expands aliases in full, so a few lines of ``&a [*a, *a, ...]`` ("billion laughs")
take all memory for a minute, and deep nesting ends in a ``RecursionError``.  A config file (or a
places file) is small and flat, so :func:`parse_bounded` composes the node graph first, measures
it with aliases counted as often as they are used, and refuses what no real config needs before
anything is constructed.  Errors are :class:`~robomem.errors.ConfigError` and never quote the
whole value.
"""

from __future__ import annotations

import reprlib
from typing import Any

import yaml

from robomem.errors import ConfigError

MAX_BYTES = 1_000_000  # a config file is a few kB
MAX_NODES = 100_000  # scalars + collections after alias expansion
MAX_DEPTH = 64  # nesting levels

_REPR = reprlib.Repr()
_REPR.maxstring = 80
_REPR.maxother = 80
_REPR.maxlist = _REPR.maxtuple = _REPR.maxdict = _REPR.maxset = 6
_REPR.maxlevel = 3


def show(value: Any) -> str:
    """``repr(value)`` cut to a readable length, for error messages."""
    return _REPR.repr(value)


def parse_bounded(text: str, source: str) -> Any:
    """Parse one YAML document from ``text``; ``source`` names it in errors."""
    if len(text) > MAX_BYTES:
        raise ConfigError(f"{source}: {len(text)} bytes, more than the {MAX_BYTES} a config may have")
    loader = yaml.SafeLoader(text)
    try:
        try:
            node = loader.get_single_node()
        except RecursionError:
            raise ConfigError(f"{source}: nested too deeply (more than {MAX_DEPTH} levels)") from None
        if node is None:
            return None
        _check_size(node, source)
        return loader.construct_document(node)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{source}: not valid YAML: {exc}") from exc
    finally:
        loader.dispose()


def _check_size(root: yaml.Node, source: str) -> None:
    """Refuse a graph deeper than MAX_DEPTH or larger than MAX_NODES once aliases are expanded."""
    sizes: dict[int, int] = {}  # expanded size per node, each shared (aliased) node measured once
    stack: list[tuple[yaml.Node, int, bool]] = [(root, 1, False)]
    while stack:
        node, depth, done = stack.pop()
        if depth > MAX_DEPTH:
            raise ConfigError(f"{source}: nested too deeply (more than {MAX_DEPTH} levels)")
        if id(node) in sizes:
            continue
        kids = _children(node)
        if done or not kids:
            total = 1 + sum(sizes.get(id(k), 0) for k in kids)
            if total > MAX_NODES:
                raise ConfigError(f"{source}: expands to more than {MAX_NODES} values (aliases repeated too often)")
            sizes[id(node)] = total
            continue
        stack.append((node, depth, True))
        stack.extend((k, depth + 1, False) for k in kids if id(k) not in sizes)


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    return []
