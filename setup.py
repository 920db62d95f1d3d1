"""Shim so colcon (ament_python) can build robomem; the metadata lives in pyproject.toml.

Two colcon quirks are handled here, so that ``colcon build`` works with Debian's colcon
and with current colcon from PyPI, with and without ``--symlink-install``:

* Debian's colcon-python-setup-py reads the distribution with ``ast.literal_eval`` of its
  ``repr``; setuptools turns ``requires-python`` into a ``SpecifierSet`` whose repr does not
  evaluate.  :class:`ColconSafeDistribution` keeps it a plain string.
* ``--symlink-install`` runs ``setup.py develop`` in colcon's build directory, where only
  this file, setup.cfg, the top-level package and the data files are linked (no
  pyproject.toml, no nodes/ or envs/).  There the metadata is read from the source tree's
  pyproject.toml, and colcon's link ``robomem -> <src>/robomem`` is replaced by a directory
  of links in which ``robomem/nodes`` and ``robomem/envs`` point at nodes/ and envs/, so
  that colcon's PYTHONPATH hook (the build directory) imports all of robomem and edits in
  the source tree are live.
"""

from __future__ import annotations

import os
import sys
from glob import glob
from pathlib import Path
from typing import Any

from setuptools import setup
from setuptools.dist import Distribution

SRC = Path(__file__).resolve().parent  # the source tree, also when colcon runs a link to this file


class ColconSafeDistribution(Distribution):
    """A Distribution whose ``python_requires`` stays a string (literal_eval-able by colcon)."""

    def parse_config_files(self, *args: Any, **kwargs: Any) -> None:
        super().parse_config_files(*args, **kwargs)
        if getattr(self, "python_requires", None) is not None:
            setattr(self, "python_requires", str(getattr(self, "python_requires")))  # noqa: B009, B010
        if getattr(self.metadata, "python_requires", None) is not None:
            self.metadata.python_requires = str(self.metadata.python_requires)


def data_files() -> list[tuple[str, list[str]]]:
    def rel(pattern: str) -> list[str]:
        return sorted(os.path.relpath(p, SRC) for p in glob(str(SRC / pattern)))

    return [
        ("share/ament_index/resource_index/packages", ["resource/robomem"]),
        ("share/robomem", ["package.xml"]),
        ("share/robomem/launch", rel("launch/*.py")),
        ("share/robomem/config", rel("config/*.yaml") + rel("config/*.rviz")),
    ]


def _load_pyproject() -> dict[str, Any]:
    try:
        import tomllib  # Python >= 3.11
    except ModuleNotFoundError:  # Python 3.10 (ROS 2 Humble): tomli is the same parser
        try:
            import tomli as tomllib  # type: ignore[no-redef]
        except ModuleNotFoundError as exc:
            raise SystemExit(
                "robomem setup.py: --symlink-install on Python 3.10 needs tomli (apt install python3-tomli)"
            ) from exc
    with (SRC / "pyproject.toml").open("rb") as f:
        return tomllib.load(f)


def _dev_tree_kwargs() -> dict[str, Any]:
    """setup() arguments for ``develop`` in colcon's build directory (see the module docstring)."""
    meta = _load_pyproject()
    project, tool = meta["project"], meta["tool"]["setuptools"]
    packages: list[str] = list(tool["packages"])
    mapping: dict[str, str] = dict(tool.get("package-dir", {}))
    root = Path.cwd()  # colcon puts this directory on PYTHONPATH (its pythonpath_develop hook)

    def src_of(pkg: str) -> Path:
        if pkg in mapping:
            return SRC / mapping[pkg]
        parent, _, last = pkg.rpartition(".")
        return src_of(parent) / last if parent else SRC / pkg

    def children(pkg: str) -> list[str]:
        return [c for c in packages if c.rpartition(".")[0] == pkg]

    def needs_dir(pkg: str) -> bool:  # some package below lives somewhere else in the source tree
        return any(src_of(c) != src_of(pkg) / c.rpartition(".")[2] or needs_dir(c) for c in children(pkg))

    def link(dst: Path, target: Path) -> None:
        if dst.is_symlink() and dst.resolve() == target.resolve():
            return
        if dst.is_symlink():
            dst.unlink()
        elif dst.exists():
            raise SystemExit(f"robomem setup.py: {dst} is not a link; refusing to replace it")
        dst.symlink_to(target)

    def make(pkg: str, dst: Path) -> None:
        if not needs_dir(pkg):
            link(dst, src_of(pkg))
            return
        if dst.is_symlink():  # colcon's link to the source package: replaced by a directory of links
            dst.unlink()
        elif dst.exists() and dst.resolve() == src_of(pkg).resolve():
            raise SystemExit(f"robomem setup.py: {dst} is the source tree; refusing to build links in it")
        dst.mkdir(parents=True, exist_ok=True)
        subs = {c.rpartition(".")[2]: c for c in children(pkg)}
        for entry in src_of(pkg).iterdir():
            if entry.name not in subs and entry.name != "__pycache__":
                link(dst / entry.name, entry)
        for name, c in subs.items():
            make(c, dst / name)

    for top in (p for p in packages if "." not in p):
        make(top, root / top)
    return {
        "name": project["name"],
        "version": project["version"],
        "description": project.get("description", ""),
        "python_requires": project.get("requires-python"),
        "packages": packages,
        "package_data": {k: list(v) for k, v in tool.get("package-data", {}).items()},
        "entry_points": {"console_scripts": [f"{k} = {v}" for k, v in project.get("scripts", {}).items()]},
    }


def main() -> None:
    kwargs: dict[str, Any] = {"distclass": ColconSafeDistribution, "data_files": data_files()}
    in_colcon_build_dir = not (Path.cwd() / "pyproject.toml").exists() and Path.cwd().resolve() != SRC
    if in_colcon_build_dir and "develop" in sys.argv:
        kwargs.update(_dev_tree_kwargs())
    setup(**kwargs)


main()
