"""launch/robomem_launch.py declares what it documents and passes it on.

Always: the file is parsed (ast) and its DeclareLaunchArgument names, defaults and descriptions, the
LaunchConfiguration names it reads and the arguments its docstring documents must agree, the default
params file is one the package installs, and each Node runs an executable the package installs.
Where ROS 2's ``launch`` is importable, each declared argument is also built with launch's own
DeclareLaunchArgument and introspected through its documented properties (name, default_value,
description); where launch_ros is importable, the whole description is built and introspected
(LaunchDescription.get_launch_arguments(), its Node actions).  Neither has a wheel on PyPI, so on a
pip-only machine those two tests skip and say so; the same node graph is run through `robomem ros`
over DDS in tests/nodes/test_nodes.py.
"""

from __future__ import annotations

import ast
import importlib.util
import os
import sys
from pathlib import Path

import pytest
import tomllib

ROOT = Path(__file__).resolve().parents[2]
LAUNCH = ROOT / "launch" / "robomem_launch.py"
ARGUMENTS = {"params_file", "namespace", "store_path", "use_sim_time"}


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


def _importable(module: str) -> tuple[bool, str]:
    """Is ROS 2's ``module`` importable (not the repo's own launch/ folder, which Python would take for a
    namespace package called ``launch`` when the tests run from the source tree)?"""
    try:
        spec = importlib.util.find_spec(f"{module}.actions")
    except ModuleNotFoundError:
        spec = None
    if spec is None:
        return False, (
            f"ROS 2's {module} package is not importable in this Python ({sys.executable}): it has no wheel on "
            f"PyPI (a ROS 2 install brings it as ros-<distro>-{module.replace('_', '-')}); the ast test checks "
            f"the file without it and tests/nodes/test_nodes.py runs the same node graph through `robomem ros`"
        )
    return True, ""


HAVE_LAUNCH, NO_LAUNCH = _importable("launch")
HAVE_LAUNCH_ROS, NO_LAUNCH_ROS = _importable("launch_ros")


def test_declared_read_and_documented_arguments_agree():
    tree = ast.parse(LAUNCH.read_text())
    declared = {_first_str(c) for c in _calls(tree, "DeclareLaunchArgument")}
    read = {_first_str(c) for c in _calls(tree, "LaunchConfiguration")}
    doc = ast.get_docstring(tree) or ""
    documented = {line.split()[0] for line in doc.splitlines() if line.startswith("  ") and line.split()}
    assert declared == read == ARGUMENTS, (declared, read)
    assert declared <= documented, f"declared but not documented: {declared - documented}"
    for call in _calls(tree, "DeclareLaunchArgument"):
        kw = {k.arg: k.value for k in call.keywords}
        assert {"default_value", "description"} <= set(kw), f"{_first_str(call)}: needs a default and a description"
    # the default params file: share/robomem/config/robomem_ros.yaml, which the package installs
    (params,) = [c for c in _calls(tree, "DeclareLaunchArgument") if _first_str(c) == "params_file"]
    default = next(k.value for k in params.keywords if k.arg == "default_value")
    parts = [a.value for a in getattr(default, "args", []) if isinstance(a, ast.Constant)]
    assert parts == ["config", "robomem_ros.yaml"], ast.dump(default)
    assert (ROOT / "config" / "robomem_ros.yaml").exists()
    assert '("share/robomem/config", rel("config/*.yaml")' in (ROOT / "setup.py").read_text()  # installed there
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    for node in _calls(tree, "Node"):
        kw = {k.arg: k.value for k in node.keywords}
        assert kw["package"].value == "robomem" and kw["executable"].value in scripts
        assert "namespace" in kw and "parameters" in kw


@pytest.mark.skipif(not HAVE_LAUNCH, reason=NO_LAUNCH)
def test_declared_arguments_build_with_ros_launch(tmp_path):
    """Each DeclareLaunchArgument call of the file, built with launch's own class, says what the file means."""
    from launch.actions import DeclareLaunchArgument
    from launch.substitutions import TextSubstitution

    tree = ast.parse(LAUNCH.read_text())
    share = str(tmp_path / "share" / "robomem")
    built = {}
    for call in _calls(tree, "DeclareLaunchArgument"):
        code = compile(ast.Expression(call), str(LAUNCH), "eval")
        arg = eval(code, {"DeclareLaunchArgument": DeclareLaunchArgument, "os": os, "share": share})  # noqa: S307
        built[arg.name] = arg
    assert set(built) == ARGUMENTS
    for name, arg in built.items():
        assert arg.description and arg.description != "no description given", name
        assert all(isinstance(s, TextSubstitution) for s in arg.default_value), name
    text = {n: "".join(s.text for s in a.default_value) for n, a in built.items()}
    assert text["params_file"] == os.path.join(share, "config", "robomem_ros.yaml")
    assert text["store_path"] == "robomem_store" and text["use_sim_time"] == "false" and text["namespace"] == ""


@pytest.mark.skipif(not HAVE_LAUNCH_ROS, reason=NO_LAUNCH_ROS)
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
    assert set(args) == ARGUMENTS
    assert args["params_file"].default_value[0].text.endswith("config/robomem_ros.yaml")
    from launch_ros.actions import Node

    nodes = [e for e in ld.entities if isinstance(e, Node)]
    assert len(nodes) == 2
    assert {n.node_executable for n in nodes} == {"robomem_memory_node", "robomem_planner_node"}
