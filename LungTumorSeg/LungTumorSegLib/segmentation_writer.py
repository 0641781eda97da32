"""Label image (0 background, 1..N lesions) -> Slicer segmentation node and lesion table.

Why this shape: everything that can fail (geometry check, import of the labelmap,
building the table) happens first on objects that are NOT in the scene; only then
:func:`commit` puts the result into the scene in a few cheap steps. The Logic can thus
promise that a failed run leaves the scene as it was, and a re-run replaces the previous
output of the same node instead of piling up nodes.
"""

from __future__ import annotations

import colorsys
from dataclasses import dataclass
from typing import Callable

import numpy as np
import SimpleITK as sitk
import slicer
import vtk
from vtk.util import numpy_support

from lungtumorseg import terminology

from . import lesion_table, scene_transaction, volume_bridge

# Slicer terminology entries: "context~category~type~typeModifier~regionContext~region~regionModifier",
# each code "scheme^value^meaning" (vtkSlicerTerminologiesModuleLogic.SerializeTerminologyEntry).
CATEGORY_CONTEXT = "Segmentation category and type - DICOM master list"
REGION_CONTEXT = "Anatomic codes - DICOM master list"
# The codes themselves live in the core (one source for the model card and the segments).
LESION_CATEGORY = terminology.LESION_CATEGORY
LESION_TYPE = terminology.LESION_TYPE
LESION_REGION = terminology.LUNG_REGION
LUNG_CATEGORY = terminology.ANATOMICAL_STRUCTURE
LUNG_TYPE = terminology.LUNG_TYPE

#: Tag on each segment with the label value it came from.
LABEL_TAG = "LungTumorSeg.LabelValue"

# Distinct, saturated colours (multiples of 1/255 so they survive .seg.nrrd exactly),
# chosen to stand out against grey CT and against each other.
PALETTE_255 = [
    (230, 25, 75), (60, 180, 75), (255, 225, 25), (0, 130, 200), (245, 130, 48),
    (145, 30, 180), (70, 240, 240), (240, 50, 230), (210, 245, 60), (250, 190, 212),
    (0, 128, 128), (170, 110, 40), (128, 0, 0), (170, 255, 195), (128, 128, 0), (0, 0, 128),
]


def terminology_string(category=LESION_CATEGORY, type_=LESION_TYPE, region=LESION_REGION) -> str:
    """Serialised Slicer terminology entry for (category, type, anatomic region) codes."""
    logic = slicer.vtkSlicerTerminologiesModuleLogic
    return logic.SerializeTerminologyEntry(
        CATEGORY_CONTEXT, category[1], category[0], category[2],
        type_[1], type_[0], type_[2], "", "", "",
        REGION_CONTEXT if region else "", *(region[1], region[0], region[2]) if region else ("", "", ""),
        "", "", "")


def terminology_from_card(codes: dict | None) -> str:
    """Serialised entry from a model card's lesion terminology
    (``{"category"|"type"|"anatomic_region": {"scheme", "code", "meaning"}}``); the
    default lung-neoplasm entry when the card has none or it is incomplete."""
    if not codes:
        return terminology_string()
    try:
        triple = {key: (codes[key]["scheme"], str(codes[key]["code"]), codes[key]["meaning"])
                  for key in ("category", "type")}
    except (KeyError, TypeError):
        return terminology_string()
    region = codes.get("anatomic_region")
    region_triple = (region["scheme"], str(region["code"]), region["meaning"]) if region else None
    return terminology_string(triple["category"], triple["type"], region_triple)


def parse_terminology(entry: str) -> dict[str, tuple[str, str, str]]:
    """Codes (scheme, value, meaning) of a serialised entry, for checks and display."""
    term = slicer.vtkSlicerTerminologyEntry()
    if not slicer.vtkSlicerTerminologiesModuleLogic.DeserializeTerminologyEntry(entry, term):
        raise ValueError(f"not a Slicer terminology entry: {entry!r}")

    def codes(obj):
        return (obj.GetCodingSchemeDesignator() or "", obj.GetCodeValue() or "", obj.GetCodeMeaning() or "")

    return {"category": codes(term.GetCategoryObject()), "type": codes(term.GetTypeObject()),
            "region": codes(term.GetRegionObject())}


def lesion_color(index: int) -> tuple[float, float, float]:
    """Colour of the ``index``-th lesion (0-based): :data:`PALETTE_255`, then hues a golden
    angle apart (saturated, three brightness levels), so that every lesion of a case with many
    has its own colour; in multiples of 1/255 like the palette."""
    if index < len(PALETTE_255):
        r, g, b = PALETTE_255[index]
    else:
        extra = index - len(PALETTE_255)
        hue = (extra * 0.618033988749895) % 1.0
        r, g, b = (round(c * 255) for c in colorsys.hsv_to_rgb(hue, 0.85, (1.0, 0.75, 0.55)[extra % 3]))
    return (r / 255.0, g / 255.0, b / 255.0)


def _oriented_image(array: np.ndarray, reference_volume) -> "slicer.vtkOrientedImageData":
    """A vtkOrientedImageData on the reference volume's grid holding ``array`` (k, j, i)."""
    image = slicer.vtkOrientedImageData()
    k, j, i = array.shape
    image.SetDimensions(i, j, k)
    scalars = numpy_support.numpy_to_vtk(np.ascontiguousarray(array, dtype=np.uint16).ravel(),
                                         deep=True, array_type=vtk.VTK_UNSIGNED_SHORT)
    image.GetPointData().SetScalars(scalars)
    matrix = vtk.vtkMatrix4x4()
    reference_volume.GetIJKToRASMatrix(matrix)
    image.SetImageToWorldMatrix(matrix)
    return image


def _scratch_segmentation_node(reference_volume):
    """A segmentation node in a private scratch scene (never the user's scene): the import
    functions need a node that belongs to some scene."""
    scratch = slicer.vtkMRMLScene()
    node = scratch.AddNewNodeByClass("vtkMRMLSegmentationNode")
    node.SetReferenceImageGeometryParameterFromVolumeNode(reference_volume)
    node._scratch_scene = scratch  # keep the scene alive as long as the node is used
    return node


def build_segmentation(label_image: sitk.Image, reference_volume, lesions: list[dict] | None = None,
                       terminology: str | None = None, extra_segments: dict | None = None):
    """Off-scene ``vtkSegmentation`` with one segment per label value ("Lesion <label>").

    ``lesions`` (report entries) give the order; labels present in the image but missing
    from the report are appended. ``extra_segments`` maps a name to (binary mask array,
    colour, terminology) for context segments such as the lungs.
    Raises ``ValueError`` if the label image is not on the reference volume's grid.
    """
    if not volume_bridge.same_grid(label_image, reference_volume):
        raise ValueError("the label image does not lie on the input volume's voxel grid")
    labels = sitk.GetArrayFromImage(label_image)
    if labels.min() < 0:
        raise ValueError("negative values in the label image")
    present = [int(v) for v in np.unique(labels) if v != 0]
    order = [int(l["label"]) for l in (lesions or []) if int(l["label"]) in present]
    order += [v for v in present if v not in order]

    temp = _scratch_segmentation_node(reference_volume)
    if present:
        ok = slicer.vtkSlicerSegmentationsModuleLogic.ImportLabelmapToSegmentationNode(
            _oriented_image(labels, reference_volume), temp, "Lesion")
        if not ok:
            raise RuntimeError("Slicer could not import the label image into a segmentation")
    segmentation = temp.GetSegmentation()
    by_label = {}
    for segment_id in segmentation.GetSegmentIDs():
        segment = segmentation.GetSegment(segment_id)
        by_label[segment.GetLabelValue()] = segment_id
    entry = terminology or terminology_string()

    result = slicer.vtkSegmentation()
    result.CopyConversionParameters(segmentation)
    for index, label in enumerate(order):
        segment_id = by_label[label]
        segment = segmentation.GetSegment(segment_id)
        segment.SetName(f"Lesion {label}")
        segment.SetColor(*lesion_color(index))
        segment.SetTerminology(entry)
        segment.SetTag(LABEL_TAG, str(label))
        result.CopySegmentFromSegmentation(segmentation, segment_id)
    for name, (mask, color, term) in (extra_segments or {}).items():
        extra = _scratch_segmentation_node(reference_volume)
        slicer.vtkSlicerSegmentationsModuleLogic.ImportLabelmapToSegmentationNode(
            _oriented_image((np.asarray(mask) > 0).astype(np.uint16), reference_volume), extra, name)
        extra_id = extra.GetSegmentation().GetNthSegmentID(0)
        if extra_id:
            seg = extra.GetSegmentation().GetSegment(extra_id)
            seg.SetName(name)
            seg.SetColor(*color)
            if term:
                seg.SetTerminology(term)
            result.CopySegmentFromSegmentation(extra.GetSegmentation(), extra_id)
    return result


def build_table(lesions: list[dict]) -> vtk.vtkTable:
    """Off-scene ``vtkTable`` of the lesion table columns (see :mod:`lesion_table`)."""
    table = vtk.vtkTable()
    values = lesion_table.rows(lesions)
    for c, (name, _unit, kind, _getter) in enumerate(lesion_table.COLUMNS):
        column = vtk.vtkStringArray() if kind is str else (vtk.vtkIntArray() if kind is int else vtk.vtkDoubleArray())
        column.SetName(name)
        for row in values:
            column.InsertNextValue(row[c])
        table.AddColumn(column)
    return table


def show_in_3d(segmentation_node, show: bool) -> None:
    """Create (``show``) or remove the closed-surface representation that draws the lesions in
    the 3D view; the binary labelmap, the master representation, is untouched."""
    if show:
        segmentation_node.CreateClosedSurfaceRepresentation()
    elif segmentation_node.GetSegmentation().ContainsRepresentation("Closed surface"):
        segmentation_node.RemoveClosedSurfaceRepresentation()


@dataclass
class Committed:
    """What :func:`commit` put in the scene; ``created`` lists nodes that did not exist before."""

    segmentation_node: object
    table_node: object | None
    created: list


def place_in_hierarchy(scene, node, beside) -> None:
    """Put ``node``'s subject hierarchy item under the same parent as ``beside``'s item."""
    sh = slicer.vtkMRMLSubjectHierarchyNode.GetSubjectHierarchyNode(scene)
    if sh is None:
        return
    parent = sh.GetSceneItemID()
    beside_item = sh.GetItemByDataNode(beside)
    if beside_item:
        parent = sh.GetItemParent(beside_item)
    item = sh.GetItemByDataNode(node)
    if not item:
        sh.CreateItem(parent, node)
    elif sh.GetItemParent(item) != parent:
        sh.SetItemParent(item, parent)


def commit(scene, reference_volume, segmentation, table: vtk.vtkTable | None = None,
           segmentation_node=None, table_node=None, name: str | None = None,
           show3d: bool = False) -> Committed:
    """Put an off-scene result into the scene.

    Reuses ``segmentation_node`` / ``table_node`` when given (their previous segments /
    rows are replaced), otherwise creates them. The segmentation gets the input volume's
    reference geometry, its parent transform and a subject hierarchy item beside it.
    """
    created = []
    base = name or f"{reference_volume.GetName()} lung tumours"
    try:
        if segmentation_node is None:
            segmentation_node = scene.AddNewNodeByClass("vtkMRMLSegmentationNode", base)
            created.append(segmentation_node)
        if segmentation_node.GetDisplayNode() is None:
            segmentation_node.CreateDefaultDisplayNodes()
        segmentation_node.SetReferenceImageGeometryParameterFromVolumeNode(reference_volume)
        segmentation_node.SetAndObserveTransformNodeID(reference_volume.GetTransformNodeID())
        target = segmentation_node.GetSegmentation()
        was_modifying = segmentation_node.StartModify()
        target.RemoveAllSegments()
        for segment_id in segmentation.GetSegmentIDs():
            target.CopySegmentFromSegmentation(segmentation, segment_id)
        segmentation_node.EndModify(was_modifying)
        show_in_3d(segmentation_node, show3d)
        place_in_hierarchy(scene, segmentation_node, reference_volume)

        if table is not None:
            if table_node is None:
                table_node = scene.AddNewNodeByClass("vtkMRMLTableNode", f"{base} table")
                created.append(table_node)
            table_node.SetAndObserveTable(table)
            for col_name, unit, _kind, _getter in lesion_table.COLUMNS:
                if unit:
                    table_node.SetColumnUnitLabel(col_name, unit)
                    table_node.SetColumnTitle(col_name, f"{col_name} ({unit})")
            table_node.SetUseColumnTitleAsColumnHeader(True)
            place_in_hierarchy(scene, table_node, reference_volume)
    except Exception:
        for node in created:
            scene.RemoveNode(node)
        raise
    return Committed(segmentation_node, table_node, created)


def commit_with_rollback(scene, volume, segmentation, table, segmentation_node, table_node, name, show3d,
                         then: Callable[[object], list] | None = None, also_reused=()) -> Committed:
    """:func:`commit`, then ``then(segmentation_node)`` (more scene changes of the same
    transaction, returning the nodes it created); if anything fails, nodes created on the
    way are removed and every reused node — ``segmentation_node``, ``table_node`` and the
    existing nodes ``then`` may change (``also_reused``, e.g. a kept probability map) — is put
    back as it was (:mod:`scene_transaction`: content, name, transform, links, attributes,
    place in the subject hierarchy)."""
    states = scene_transaction.capture([segmentation_node, table_node, *also_reused])
    committed = None
    try:
        committed = commit(scene, volume, segmentation, table, segmentation_node, table_node, name, show3d)
        if then is not None:
            committed.created.extend(then(committed.segmentation_node))
        return committed
    except BaseException:
        scene_transaction.roll_back(scene, committed.created if committed is not None else [], states)
        raise
