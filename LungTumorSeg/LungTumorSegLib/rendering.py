"""Offscreen pictures drawn by Slicer's own displayable managers (no application, no Qt).

Why: the demo and the tests must show what a user would see in Slicer's slice and 3D
views — the segmentation overlay drawn by the real segmentation displayable managers on
top of the real reslicing of the slice logic — not a re-implementation with matplotlib.

Needs offscreen OpenGL (e.g. Mesa EGL with ``VTK_DEFAULT_OPENGL_WINDOW=vtkEGLRenderWindow``).
Without any OpenGL library VTK's Render() kills the process, so callers probe first
(see ``Testing/slicer_env.opengl_available``).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import SimpleITK as sitk
import slicer
import vtk

os.environ.setdefault("VTK_DEFAULT_OPENGL_WINDOW", "vtkEGLRenderWindow")

LUNG_WINDOW = (1500.0, -600.0)  # window, level (HU)
ORIENTATIONS = ("Axial", "Coronal", "Sagittal")


def _render_window(size: tuple[int, int]):
    window = vtk.vtkRenderWindow()
    window.SetOffScreenRendering(1)
    window.SetSize(*size)
    window.SetMultiSamples(0)
    renderer = vtk.vtkRenderer()
    window.AddRenderer(renderer)
    interactor = vtk.vtkGenericRenderWindowInteractor()
    interactor.SetRenderWindow(window)
    return window, renderer, interactor


def _save_png(window, path: Path) -> Path:
    window.Render()
    grab = vtk.vtkWindowToImageFilter()
    grab.SetInput(window)
    grab.ReadFrontBufferOff()
    grab.Update()
    writer = vtk.vtkPNGWriter()
    writer.SetFileName(str(path))
    writer.SetInputConnection(grab.GetOutputPort())
    writer.Write()
    return path


def _node_ids(scene) -> set[str]:
    return {scene.GetNthNode(i).GetID() for i in range(scene.GetNumberOfNodes())}


def _remove_new_nodes(scene, before: set[str]) -> None:
    """Remove the view/slice/camera/model nodes a view added, leaving the scene as it was."""
    added = [scene.GetNthNode(i) for i in range(scene.GetNumberOfNodes())]
    for node in reversed([n for n in added if n.GetID() not in before]):
        if node.GetScene() is scene:
            scene.RemoveNode(node)


def _group(factory_class, manager_names, app_logic, renderer):
    factory = factory_class.GetInstance()
    factory.SetMRMLApplicationLogic(app_logic)
    for name in manager_names:
        if not factory.IsDisplayableManagerRegistered(name):
            factory.RegisterDisplayableManager(name)
    group = slicer.vtkMRMLDisplayableManagerGroup()
    group.Initialize(factory, renderer)
    return group


def render_slice(scene, app_logic, volume, segmentation, orientation: str, centre_ras, path,
                 size: tuple[int, int] = (512, 512), field_of_view_mm: float | None = None,
                 window_level: tuple[float, float] = LUNG_WINDOW, foreground=None,
                 foreground_opacity: float = 0.5, fill_opacity: float = 0.45) -> Path:
    """PNG of one slice view (``Axial``/``Coronal``/``Sagittal``) through ``centre_ras``,
    CT in the lung window with the segmentation overlay (outline, and fill at ``fill_opacity``)
    and optionally a ``foreground`` volume (e.g. the kept probability map) blended over it.
    Other visible segmentations of the scene are drawn too, as in Slicer."""
    window, renderer, _interactor = _render_window(size)
    renderer.GetActiveCamera().ParallelProjectionOn()
    group = _group(slicer.vtkMRMLSliceViewDisplayableManagerFactory,
                   ["vtkMRMLSegmentationsDisplayableManager2D"], app_logic, renderer)
    logic = slicer.vtkMRMLSliceLogic()
    logic.SetMRMLApplicationLogic(app_logic)
    app_logic.GetSliceLogics().AddItem(logic)
    before = _node_ids(scene)
    logic.SetMRMLScene(scene)
    slice_node = logic.AddSliceNode(f"LTS{orientation}")
    try:
        group.SetMRMLDisplayableNode(slice_node)
        slice_node.SetOrientation(orientation)
        if volume.GetDisplayNode() is None:
            volume.CreateDefaultDisplayNodes()
        display = volume.GetDisplayNode()
        if display is not None:
            if display.GetColorNode() is None:  # volumes read without the application lack one
                display.SetAndObserveColorNodeID("vtkMRMLColorTableNodeGrey")
            display.AutoWindowLevelOff()
            display.SetWindowLevel(*window_level)
        composite = logic.GetSliceCompositeNode()
        composite.SetBackgroundVolumeID(volume.GetID())
        if foreground is not None:
            composite.SetForegroundVolumeID(foreground.GetID())
            composite.SetForegroundOpacity(foreground_opacity)
        logic.ResizeSliceNode(*size)
        logic.FitSliceToBackground(True)
        if field_of_view_mm:
            fov = slice_node.GetFieldOfView()
            slice_node.SetFieldOfView(field_of_view_mm, field_of_view_mm * fov[1] / fov[0], fov[2])
        slice_node.JumpSliceByCentering(*centre_ras)
        if segmentation is not None:
            seg_display = segmentation.GetDisplayNode()
            seg_display.SetVisibility(True)
            seg_display.SetVisibility2DFill(True)
            seg_display.SetVisibility2DOutline(True)
            seg_display.SetOpacity2DFill(fill_opacity)
            seg_display.SetSliceIntersectionThickness(2)
        mapper = vtk.vtkImageMapper()
        mapper.SetColorWindow(255)
        mapper.SetColorLevel(127.5)
        mapper.SetInputConnection(logic.GetImageDataConnection())
        actor = vtk.vtkActor2D()
        actor.SetMapper(mapper)
        actor.GetProperty().SetDisplayLocationToBackground()
        renderer.AddViewProp(actor)
        group.RequestRender()
        return _save_png(window, Path(path))
    finally:
        group.SetMRMLDisplayableNode(None)
        app_logic.GetSliceLogics().RemoveItem(logic)
        logic.SetMRMLScene(None)
        _remove_new_nodes(scene, before)
        window.Finalize()


def lung_context_mask(image: sitk.Image, max_hu: float = -400.0) -> np.ndarray:
    """A rough lung mask for context in pictures: air-like voxels not connected to the
    image's side borders (outside air), the two largest components. Not a measurement."""
    air = sitk.BinaryThreshold(image, -2000.0, max_hu, 1, 0)
    components = sitk.GetArrayFromImage(sitk.ConnectedComponent(air))
    border = np.unique(np.concatenate([components[:, 0, :].ravel(), components[:, -1, :].ravel(),
                                       components[:, :, 0].ravel(), components[:, :, -1].ravel()]))
    counts = np.bincount(components.ravel())
    counts[0] = 0
    counts[border] = 0
    keep = [c for c in np.argsort(counts)[::-1][:2] if counts[c] > 0.002 * components.size]
    return np.isin(components, keep)


def render_3d(scene, app_logic, segmentation, path, size: tuple[int, int] = (640, 640),
              context_segmentation=None, direction: str = "Anterior") -> Path:
    """PNG of a 3D view of ``segmentation``'s closed surfaces (plus an optional
    semi-transparent ``context_segmentation``, e.g. the lungs), seen from ``direction``."""
    window, renderer, _interactor = _render_window(size)
    renderer.SetUseDepthPeeling(True)
    window.SetAlphaBitPlanes(1)
    group = _group(slicer.vtkMRMLThreeDViewDisplayableManagerFactory,
                   # (vtkMRMLViewDisplayableManager, box and axis labels, crashes without a Qt view)
                   ["vtkMRMLCameraDisplayableManager", "vtkMRMLSegmentationsDisplayableManager3D"],
                   app_logic, renderer)
    logic = slicer.vtkMRMLViewLogic()
    logic.SetMRMLApplicationLogic(app_logic)
    app_logic.GetViewLogics().AddItem(logic)
    before = _node_ids(scene)
    logic.SetMRMLScene(scene)
    view_node = logic.AddViewNode("LTS3D")
    try:
        renderer.GradientBackgroundOn()
        renderer.SetBackground(0.05, 0.05, 0.1)
        renderer.SetBackground2(0.25, 0.25, 0.35)
        group.SetMRMLDisplayableNode(view_node)
        for seg_node in (segmentation, context_segmentation):
            if seg_node is None:
                continue
            seg_node.CreateClosedSurfaceRepresentation()
            seg_node.GetDisplayNode().SetVisibility(True)
            seg_node.GetDisplayNode().SetVisibility3D(True)
        if context_segmentation is not None:
            context_segmentation.GetDisplayNode().SetOpacity3D(0.18)
        group.RequestRender()
        window.Render()
        camera_dm = group.GetDisplayableManagerByClassName("vtkMRMLCameraDisplayableManager")
        camera_node = camera_dm.GetCameraNode() if camera_dm else None
        bounds = [0.0] * 6
        for seg_node in (context_segmentation, segmentation):
            if seg_node is not None and seg_node.GetSegmentation().GetNumberOfSegments():
                seg_node.GetRASBounds(bounds)
                break
        centre = np.array([(bounds[0] + bounds[1]) / 2, (bounds[2] + bounds[3]) / 2, (bounds[4] + bounds[5]) / 2])
        extent = max(bounds[1] - bounds[0], bounds[3] - bounds[2], bounds[5] - bounds[4], 1.0)
        offsets = {"Anterior": (0, 1, 0), "Posterior": (0, -1, 0), "Left": (-1, 0, 0),
                   "Right": (1, 0, 0), "Superior": (0, 0, 1)}
        position = centre + 2.6 * extent * np.array(offsets[direction], dtype=float)
        up = (0, 1, 0) if direction == "Superior" else (0, 0, 1)
        if camera_node is not None:
            camera_node.SetFocalPoint(*centre)
            camera_node.SetPosition(*position)
            camera_node.SetViewUp(*up)
        else:
            camera = renderer.GetActiveCamera()
            camera.SetFocalPoint(*centre)
            camera.SetPosition(*position)
            camera.SetViewUp(*up)
        renderer.ResetCameraClippingRange()
        return _save_png(window, Path(path))
    finally:
        group.SetMRMLDisplayableNode(None)
        app_logic.GetViewLogics().RemoveItem(logic)
        logic.SetMRMLScene(None)
        _remove_new_nodes(scene, before)
        window.Finalize()
