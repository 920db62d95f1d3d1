"""package.xml declares what the ROS side imports, and the core's Python dependencies.

Every module that nodes/ and launch/ import (anywhere in the file, also inside functions, as the
nodes import ROS packages lazily) must be the Python standard library, robomem itself, or a
declared <exec_depend>; every <exec_depend> must be imported there or be a rosdep key for one of
pyproject.toml's [project] dependencies.  So rosdep install brings everything ``ros2 run`` needs.
"""

from __future__ import annotations

import ast
import re
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import tomllib

ROOT = Path(__file__).resolve().parents[2]

# Python import name -> rosdep key (ROS packages import under their own name)
ROSDEP_OF_MODULE = {
    "numpy": "python3-numpy",
    "yaml": "python3-yaml",
    "PIL": "python3-pil",
    "matplotlib": "python3-matplotlib",
    "tqdm": "python3-tqdm",
}
# pyproject distribution name -> rosdep key
ROSDEP_OF_DIST = {
    "numpy": "python3-numpy",
    "pyyaml": "python3-yaml",
    "pillow": "python3-pil",
    "matplotlib": "python3-matplotlib",
    "tqdm": "python3-tqdm",
}


def exec_depends() -> set[str]:
    root = ET.parse(ROOT / "package.xml").getroot()
    assert root.get("format") == "3", "package.xml must be format 3"
    return {e.text.strip() for e in root.iter() if e.tag in ("exec_depend", "depend") and e.text}


def imported_modules(paths: list[Path]) -> dict[str, set[str]]:
    """Top-level module name -> files importing it."""
    out: dict[str, set[str]] = {}
    for path in paths:
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            for n in names:
                out.setdefault(n.split(".")[0], set()).add(path.name)
    return out


def ros_side_files() -> list[Path]:
    files = sorted((ROOT / "nodes").rglob("*.py")) + sorted((ROOT / "launch").glob("*.py"))
    assert files and any(f.name == "memory_node.py" for f in files)
    return files


def third_party(mods: dict[str, set[str]]) -> dict[str, set[str]]:
    skip = set(sys.stdlib_module_names) | {"robomem", "__future__"}
    return {m: f for m, f in mods.items() if m not in skip}


def test_every_import_of_nodes_and_launch_is_declared():
    declared = exec_depends()
    mods = third_party(imported_modules(ros_side_files()))
    missing = {m: sorted(f) for m, f in mods.items() if ROSDEP_OF_MODULE.get(m, m) not in declared}
    assert not missing, f"imported but not an <exec_depend> in package.xml: {missing}"
    # the ones the issue named are really imported, so this test would have caught them
    assert {"rcl_interfaces", "vision_msgs", "launch", "launch_ros", "ament_index_python"} <= set(mods)


def test_every_exec_depend_is_used_or_a_core_dependency():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    core = {ROSDEP_OF_DIST[re.split(r"[<>=!~ \[]", d, maxsplit=1)[0].lower()] for d in project["dependencies"]}
    used = {ROSDEP_OF_MODULE.get(m, m) for m in third_party(imported_modules(ros_side_files()))}
    unused = exec_depends() - used - core
    assert not unused, f"<exec_depend> neither imported by nodes/ or launch/ nor a core dependency: {sorted(unused)}"
    assert core <= exec_depends(), f"core dependencies missing from package.xml: {sorted(core - exec_depends())}"


def test_import_scan_sees_lazy_imports(tmp_path):
    """The scan finds imports inside functions (the nodes import ROS lazily) and skips relative ones."""
    f = tmp_path / "lazy.py"
    f.write_text(
        "import os\n\ndef run():\n    from vision_msgs.msg import Detection2DArray\n    from . import sibling\n"
    )
    mods = third_party(imported_modules([f]))
    assert mods == {"vision_msgs": {"lazy.py"}}
