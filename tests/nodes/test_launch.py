"""launch/robomem_launch.py declares what it documents and passes it on.

Always: the file is parsed (ast) and its DeclareLaunchArgument names, the LaunchConfiguration names
it reads and the arguments its docstring documents must agree, and each Node runs an executable
the package installs.  Where launch_ros is importable, the description is also built and
introspected through launch's documented API (LaunchDescription.get_launch_arguments()).
"""

from __future__ import annotations

import ast
import importlib.util
from pathlib import Path

import pytest
import tomllib

ROOT = Path(__file__).resolve().parents[2]
LAUNCH = ROOT / "launch" / "robomem_launch.py"


def _calls(tree: ast.AST, name: str) -> list[ast.Call]:
    return [
        n
        for n in ast.walk(tree)
        if isinstance(n, ast.Call) and getattr(n.func, "id", getattr(n.func, "attr", None)) == name
    ]


def _first_str(call: ast.Call) -> str:
    arg = call.args[0]
    assert isinstance(arg, ast.Constant) and isinstance(arg.value, str), ast.dump(call)
    return arg.value


def test_declared_read_and_documented_arguments_agree():
    tree = ast.parse(LAUNCH.read_text())
    declared = {_first_str(c) for c in _calls(tree, "DeclareLaunchArgument")}
    read = {_first_str(c) for c in _calls(tree, "LaunchConfiguration")}
    doc = ast.get_docstring(tree) or ""
    documented = {line.split()[0] for line in doc.splitlines() if line.startswith("  ") and line.split()}
    assert declared == read == {"params_file", "namespace", "store_path", "use_sim_time"}, (declared, read)
    assert declared <= documented, f"declared but not documented: {declared - documented}"
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    for node in _calls(tree, "Node"):
        kw = {k.arg: k.value for k in node.keywords}
        assert kw["package"].value == "robomem" and kw["executable"].value in scripts
        assert "namespace" in kw and "parameters" in kw


@pytest.mark.skipif(
    importlib.util.find_spec("launch_ros") is None,
    reason="launch_ros is not installable from PyPI (no wheel); on a ROS 2 install this builds the description",
)
def test_launch_description_builds_with_launch_ros(monkeypatch, tmp_path):
    share = tmp_path / "share" / "robomem"
    (tmp_path / "share" / "ament_index" / "resource_index" / "packages").mkdir(parents=True)
    (tmp_path / "share" / "ament_index" / "resource_index" / "packages" / "robomem").write_text("")
    share.mkdir(parents=True)
    monkeypatch.setenv("AMENT_PREFIX_PATH", str(tmp_path))
    spec = importlib.util.spec_from_file_location("robomem_launch", LAUNCH)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    ld = mod.generate_launch_description()
    args = {a.name: a for a in ld.get_launch_arguments()}
    assert set(args) == {"params_file", "namespace", "store_path", "use_sim_time"}
    assert args["params_file"].default_value[0].text.endswith("config/robomem_ros.yaml")
    from launch_ros.actions import Node

    nodes = [e for e in ld.entities if isinstance(e, Node)]
    assert len(nodes) == 2
