"""Every Python package in the tree is installed: pyproject's explicit package list misses none.

The list is explicit because nodes/ and envs/ are mapped to robomem.nodes / robomem.envs
(package-dir); a package left out works in the editable checkout and is missing from a wheel.
"""

from pathlib import Path

import tomllib

ROOT = Path(__file__).resolve().parents[2]


def _declared() -> tuple[set[str], dict[str, str]]:
    cfg = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    return set(cfg["packages"]), dict(cfg["package-dir"])


def test_every_package_with_an_init_is_listed() -> None:
    listed, dirs = _declared()
    found = set()
    for top, name in (("robomem", "robomem"), ("nodes", "robomem.nodes"), ("envs", "robomem.envs")):
        for init in (ROOT / top).rglob("__init__.py"):
            rel = init.parent.relative_to(ROOT / top).parts
            found.add(".".join((name, *rel)))
    assert found - listed == set(), (
        f"packages missing from pyproject [tool.setuptools] packages: {sorted(found - listed)}"
    )
    assert listed - found == set(), f"listed packages that do not exist: {sorted(listed - found)}"
    assert dirs["robomem.nodes"] == "nodes" and dirs["robomem.envs"] == "envs"
