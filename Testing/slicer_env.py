"""Headless Slicer helpers for the test suite (real MRML from the ``slicer-core`` wheel).

Imports the module folder ``LungTumorSeg/`` the way Slicer does (it is on ``sys.path``
inside the application), so ``import LungTumorSegLib`` and ``import lungtumorseg`` work.
"""

from __future__ import annotations

import os
import subprocess
import sys
from functools import lru_cache
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MODULE_DIR = REPO / "LungTumorSeg"
if str(MODULE_DIR) not in sys.path:
    sys.path.insert(0, str(MODULE_DIR))

os.environ.setdefault("VTK_DEFAULT_OPENGL_WINDOW", "vtkEGLRenderWindow")

SAMPLE_DIR = MODULE_DIR / "Resources" / "SampleData"
DEMO_MODEL_DIR = MODULE_DIR / "Resources" / "Models" / "lungtumorseg-demo-phantom"
SHARED_REAL_DATA = Path(__file__).resolve().parent / "data" / "real"  # shipped copies (README there)

_PROBE = """
import os, sys
os.environ.setdefault("VTK_DEFAULT_OPENGL_WINDOW", "vtkEGLRenderWindow")
import vtk
w = vtk.vtkRenderWindow(); w.SetOffScreenRendering(1); w.SetSize(8, 8)
r = vtk.vtkRenderer(); w.AddRenderer(r); w.Render()
f = vtk.vtkWindowToImageFilter(); f.SetInput(w); f.Update()
print("OK", w.GetClassName())
"""


@lru_cache(maxsize=1)
def opengl_available() -> tuple[bool, str]:
    """Whether offscreen OpenGL rendering works, probed in a child process.

    Why a child: without an OpenGL library VTK's ``Render()`` kills the process (exit 139)
    although ``SupportsOpenGL()`` says yes.
    """
    try:
        done = subprocess.run([sys.executable, "-c", _PROBE], capture_output=True, text=True,
                              timeout=120, env={**os.environ, "OMP_NUM_THREADS": "1"})
    except subprocess.TimeoutExpired:
        return False, "OpenGL probe timed out"
    ok = done.returncode == 0 and "OK" in done.stdout
    return ok, (done.stdout + done.stderr).strip()[-500:]


def add_volume_from_image(scene, image, name: str = "CT"):
    """Add a scalar volume node holding ``image`` (via the tested bridge)."""
    import slicer
    from LungTumorSegLib import volume_bridge

    node = scene.AddNewNodeByClass("vtkMRMLScalarVolumeNode", name)
    volume_bridge.set_volume_from_image(node, image)
    node.CreateDefaultDisplayNodes()
    return node


def load_volume_file(path: Path, name: str = "CT"):
    """Load a volume file with Slicer's own reader (the archetype storage node)."""
    import slicer

    logic = slicer.modules.volumes.logic()
    node = logic.AddArchetypeVolume(str(path), name, 0)
    assert node is not None, f"Slicer could not read {path}"
    return node


def scene_snapshot(scene) -> dict[str, tuple[str, str, int]]:
    """IDs -> (class, name, modified time) of every node: equal snapshots = untouched scene."""
    snapshot = {}
    for i in range(scene.GetNumberOfNodes()):
        node = scene.GetNthNode(i)
        snapshot[node.GetID()] = (node.GetClassName(), node.GetName() or "", node.GetMTime())
    return snapshot
