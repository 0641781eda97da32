"""Shared pytest fixtures.

Slicer layer fixtures (headless real MRML via ``slicer-core``): ``slicer_env``,
``mrml_scene``. Other parts of the suite may add their own fixtures below.

Required mode: with ``LUNGTUMORSEG_REQUIRE_ALL=1`` (``.ci/run`` sets it) a test that would be
skipped (no slicer-core, no offscreen OpenGL, no matplotlib, ...) fails instead, so CI cannot
turn green by skipping. Expected failures (xfail) are not skips and are reported as such.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("OMP_NUM_THREADS", "1")

import slicer_env as _slicer_env  # noqa: E402  (puts LungTumorSeg/ on sys.path)


REQUIRE_ALL = os.environ.get("LUNGTUMORSEG_REQUIRE_ALL", "") not in ("", "0")


def _skip_to_failure(report) -> None:
    """In required mode, turn a skip (not an xfail) into a failure that keeps the reason."""
    if REQUIRE_ALL and report.skipped and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.outcome = "failed"
        report.longrepr = f"skipped in required mode (LUNGTUMORSEG_REQUIRE_ALL=1): {reason}"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    _skip_to_failure(outcome.get_result())


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector):
    outcome = yield
    _skip_to_failure(outcome.get_result())


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
