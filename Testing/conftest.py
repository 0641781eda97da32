"""Shared pytest fixtures.

Slicer layer fixtures (headless real MRML via ``slicer-core``): ``slicer_env``,
``mrml_scene``. Other parts of the suite may add their own fixtures below.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("OMP_NUM_THREADS", "1")

import slicer_env as _slicer_env  # noqa: E402  (puts LungTumorSeg/ on sys.path)


@pytest.fixture
def slicer_env():
    """A fresh headless Slicer environment (scene + module logics); torn down after the test."""
    pytest.importorskip("slicer", reason="slicer-core is not installed")
    from LungTumorSegLib import headless

    env = headless.boot()
    try:
        yield env
    finally:
        env.close()


@pytest.fixture
def mrml_scene(slicer_env):
    """The scene of :func:`slicer_env`."""
    return slicer_env.scene


@pytest.fixture(scope="session")
def opengl():
    """Skip unless offscreen OpenGL works (probed in a subprocess: a failed Render() crashes)."""
    ok, detail = _slicer_env.opengl_available()
    if not ok:
        pytest.skip(f"offscreen OpenGL unavailable: {detail}")
    return True
