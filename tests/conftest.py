"""Shared fixtures. One embedder per test session: loading MiniLM takes seconds."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("MUJOCO_GL", "egl")

from robomem.retrieval.embedding import make_embedder  # noqa: E402


@pytest.fixture(scope="session")
def embedder():
    """The real all-MiniLM-L6-v2 when installed (it is, after bootstrap), else the hashing fallback."""
    return make_embedder("auto")
