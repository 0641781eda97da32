"""A Slicer-like MRML environment without the Slicer application.

Why: the Logic of the module is plain MRML code, and Kitware's ``slicer-core`` wheel
contains the real MRML core and module logics (segmentations, volumes, subject hierarchy,
colours). Booting them the way the application does lets the same Logic
code run in tests and in the command-line demo, against real MRML rather than mocks.

The terminologies logic is not booted: the wheel ships no terminology JSON files, and the
entries are (de)serialised with its static methods, which need no files.

Inside the Slicer application this module is never needed: ``slicer.app`` exists and
``slicer.modules.<name>.logic()`` are the real module logics.
"""

from __future__ import annotations

import tempfile
import types
from dataclasses import dataclass, field
from typing import Any

import slicer
import vtk


def in_slicer_application() -> bool:
    """True when running inside the real Slicer application (which has ``slicer.app``)."""
    return hasattr(slicer, "app")


@dataclass
class HeadlessSlicer:
    """Handles of a booted headless environment; call :meth:`close` when done."""

    scene: Any
    app_logic: Any
    logics: dict[str, Any] = field(default_factory=dict)

    def logic(self, name: str) -> Any:
        """The module logic registered under ``name`` (e.g. ``"Segmentations"``)."""
        return self.logics[name]

    def close(self) -> None:
        """Clear the scene and remove the globals this environment installed."""
        self.scene.Clear(True)
        for name in ("mrmlScene", "modules", "_lungtumorseg_headless"):
            if name in vars(slicer):
                delattr(slicer, name)


_MODULE_LOGICS = {
    # attribute in slicer.modules -> (name registered in the application logic, class)
    "colors": ("Colors", "vtkSlicerColorLogic"),  # before volumes: they ask it for default colours
    "volumes": ("Volumes", "vtkSlicerVolumesLogic"),
    "segmentations": ("Segmentations", "vtkSlicerSegmentationsModuleLogic"),
    "subjecthierarchy": ("SubjectHierarchy", "vtkSlicerSubjectHierarchyModuleLogic"),
    "data": ("Data", "vtkSlicerDataModuleLogic"),
    "tables": ("Tables", "vtkSlicerTablesLogic"),
}


def _deduplicate_converter_rules() -> None:
    """Drop duplicate segmentation converter rules.

    The segmentations logic registers its converter rules every time it gets a scene, and
    they accumulate in the process-global factory (4, 8, 12 ...).
    """
    factory = slicer.vtkSegmentationConverterFactory.GetInstance()
    rules = factory.GetConverterRules()
    seen: set[str] = set()
    duplicates = []
    for rule in rules:
        key = rule.GetName()
        if key in seen:
            duplicates.append(rule)
        seen.add(key)
    for rule in duplicates:
        factory.UnregisterConverterRule(rule)


def boot() -> HeadlessSlicer:
    """Create a fresh scene with the module logics, and install ``slicer.mrmlScene`` and
    a minimal ``slicer.modules`` (``slicer.modules.segmentations.logic()`` etc.).

    Refuses inside the real application, where those globals already exist.
    """
    if in_slicer_application():
        raise RuntimeError("headless.boot() is for use outside the Slicer application")
    scene = slicer.vtkMRMLScene()
    crosshair = slicer.vtkMRMLCrosshairNode()
    crosshair.SetName("default")
    scene.AddNode(crosshair)

    app = slicer.vtkSlicerApplicationLogic()
    # The colours logic looks for colour files under the home directory; the wheel has none,
    # an empty folder avoids an error message (built-in colour tables still exist).
    app.SetHomeDirectory(tempfile.gettempdir())
    app.SetShareDirectory(tempfile.gettempdir())
    app.SetMRMLScene(scene)
    app.GetColorLogic().SetMRMLScene(scene)
    app.SetSliceLogics(vtk.vtkCollection())
    app.SetViewLogics(vtk.vtkCollection())
    slicer.vtkMRMLSliceNode.AddDefaultSliceOrientationPresets(scene, True)

    env = HeadlessSlicer(scene=scene, app_logic=app)
    modules = types.SimpleNamespace()
    for attr, (name, class_name) in _MODULE_LOGICS.items():
        logic = getattr(slicer, class_name)()
        logic.SetMRMLApplicationLogic(app)
        logic.SetMRMLScene(scene)
        app.SetModuleLogic(name, logic)
        env.logics[name] = logic
        setattr(modules, attr, types.SimpleNamespace(logic=(lambda l=logic: l)))
    _deduplicate_converter_rules()

    slicer.mrmlScene = scene
    slicer.modules = modules
    slicer._lungtumorseg_headless = env
    return env
