"""Lazy access to habitat_sim: imported only inside functions, with one clear error where it is missing."""

from __future__ import annotations

from types import ModuleType

INSTALL_HINT = (
    "habitat-sim is not installed. It has no usable PyPI wheel; install it with conda, e.g.\n"
    "    conda install habitat-sim headless -c conda-forge -c aihabitat\n"
    "(drop 'headless' on a machine with a display; add 'withbullet' for physics), then\n"
    "    pip install -e '.[habitat]'\n"
    "in the same environment. See the README section 'Habitat'."
)


def require_habitat_sim() -> ModuleType:
    """Import and return ``habitat_sim``; raise ImportError with the conda command where it is absent."""
    try:
        import habitat_sim
    except ImportError as e:  # pragma: no cover - depends on the machine
        raise ImportError(INSTALL_HINT) from e
    return habitat_sim


def habitat_sim_available() -> bool:
    """Whether ``import habitat_sim`` works here (without raising)."""
    try:
        require_habitat_sim()
    except ImportError:
        return False
    return True
