"""The shape docs/architecture.md promises, checked on the source (issue 12's "done when").

- no import cycle inside robomem/, counting imports inside functions too;
- the core (robomem/) imports no ROS and no simulator;
- no module over the size limit;
- SQL only in the store and in the submodules that own the tables.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CORE = ROOT / "robomem"
MAX_LINES = 620  # "about 600"
FORBIDDEN_IN_CORE = (
    "rclpy",
    "rosidl",
    "robomem_interfaces",
    "mujoco",
    "habitat_sim",
    "pybullet",
    "robomem.nodes",
    "robomem.envs",
)
# Where SQL may be written: the store package (connections, migrations, the frame log) and the submodules
# (each on its own tables), and the fleet package (its own PostgreSQL schema). Everything else asks their methods.
SQL_ALLOWED = ("store", "submodules", "fleet")
SQL = re.compile(
    r"""["'](\s*)(SELECT|INSERT INTO|UPDATE \w+ SET|DELETE FROM|CREATE TABLE|CREATE INDEX|ALTER TABLE|PRAGMA)\b"""
)


def _module_name(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(CORE.rglob("*.py"))}


def _imports(path: Path, name: str, known: set[str]) -> set[str]:
    """Every robomem module this file imports, at any depth (functions included), TYPE_CHECKING excluded."""
    tree = ast.parse(path.read_text(), str(path))
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for sub in node.body:
                skip.update(id(n) for n in ast.walk(sub))
    out: set[str] = set()
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            targets = [base] + [f"{base}.{a.name}" for a in node.names]
        else:
            continue
        for t in targets:
            while t and t not in known:
                t = t.rpartition(".")[0]
            if t and t != name:
                out.add(t)
    return out


def _graph() -> dict[str, set[str]]:
    mods = _modules()
    known = set(mods)
    return {n: _imports(p, n, known) for n, p in mods.items()}


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    colour: dict[str, int] = {}
    stack: list[str] = []

    def visit(n: str) -> list[str] | None:
        colour[n] = 1
        stack.append(n)
        for m in sorted(graph.get(n, ())):
            # a package's __init__ importing its own children is how packages work, not a cycle
            if m.startswith(n + "."):
                continue
            if colour.get(m) == 1:
                return stack[stack.index(m) :] + [m]
            if colour.get(m) is None and (found := visit(m)):
                return found
        stack.pop()
        colour[n] = 2
        return None

    for n in sorted(graph):
        if colour.get(n) is None and (found := visit(n)):
            return found
    return None


def test_the_checker_finds_a_cycle() -> None:
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


def test_no_import_cycle_in_the_core_counting_function_level_imports() -> None:
    graph = _graph()
    assert len(graph) > 50, "the scan found too few modules"
    cycle = _cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_core_imports_no_ros_and_no_simulator() -> None:
    bad = []
    for name, path in _modules().items():
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            mods = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            for m in mods:
                if any(m == f or m.startswith(f + ".") for f in FORBIDDEN_IN_CORE):
                    bad.append(f"{name}:{node.lineno} imports {m}")
    assert bad == []


def test_no_module_over_the_size_limit() -> None:
    big = []
    for d in ("robomem", "nodes", "envs"):
        for p in (ROOT / d).rglob("*.py"):
            n = len(p.read_text().splitlines())
            if n > MAX_LINES:
                big.append(f"{p.relative_to(ROOT)}: {n} lines")
    assert big == []


def test_sql_only_in_the_store_and_the_table_owners() -> None:
    outside = []
    for name, path in _modules().items():
        sub = name.split(".")[1] if "." in name else ""
        if sub in SQL_ALLOWED:
            continue
        for i, line in enumerate(path.read_text().splitlines(), 1):
            if SQL.search(line):
                outside.append(f"{path.relative_to(ROOT)}:{i}: {line.strip()[:80]}")
    assert outside == [], "SQL outside store/ and submodules/"


def test_the_sql_pattern_sees_sql_and_not_prose() -> None:
    assert SQL.search('conn.execute("SELECT x FROM objects")')
    assert SQL.search("c.sql('UPDATE objects SET label=?')")
    assert not SQL.search('raise ValueError(f"update: bad frame")')
