"""The tumour probability map a run keeps in the scene, and new lesions from it in a second.

Why: the network is the slow part of a run (tens of seconds to minutes); the operating
point — probability threshold, minimum lesion volume, minimum peak probability, maximum
elongation — is the reader's choice, e.g. more sensitive when hunting for a known
nodule, stricter for a clean overview. A run therefore keeps its probability map as a
volume node, and "update lesions" recomputes the lesions from it with the core's own
:func:`lungtumorseg.relabel.lesions_from_percent` — the pipeline's own labelling and
measuring step, so the same settings give the same lesions — without running the network again.

What a run leaves on its segmentation node (saved with the scene):

* node reference ``LungTumorSegProbability`` → the probability volume: uint8 in whole
  percent (0..100, a quarter of a float map's memory; exact for thresholds in whole
  percent, see :mod:`lungtumorseg.relabel`), on the input CT's grid;
* node reference ``LungTumorSegMagnifiedProbability`` → the magnified look's own map, in whole
  percent on the same grid, kept only when the run's lesions took in its touching components
  (the card's ``magnified_look.join_touching``), so an update repeats that join;
* node reference ``LungTumorSegInput`` → the input CT (lesion HU statistics);
* attribute ``LungTumorSeg.Run`` → JSON: the measuring context (lung extent, midline), the
  model summary, the model card's zone limits, outline growth and candidate-classifier
  cut-off, the folder of the model package of the run, and the operating point of the
  segments currently shown (its ``candidate_check_cutoff`` present when a candidate
  classifier judged them).

No Qt: the Widget calls :func:`update_lesions`; the tests call it on real MRML.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

import SimpleITK as sitk

from lungtumorseg.candidate_check import CandidateCheck
from lungtumorseg.postprocess import LesionFilter
from lungtumorseg.relabel import MAGNIFIED_JOIN_KEY, MeasureContext, lesions_from_percent, relabel_report

from . import model_packages, segmentation_writer, volume_bridge

PROBABILITY_ROLE = "LungTumorSegProbability"
MAGNIFIED_ROLE = "LungTumorSegMagnifiedProbability"
INPUT_ROLE = "LungTumorSegInput"
RUN_ATTRIBUTE = "LungTumorSeg.Run"
#: Colour of the probability overlay (a Slicer default colour table: black → red → yellow).
PROBABILITY_COLOR_NODE_ID = "vtkMRMLColorTableNodeIron"


@dataclass
class KeptRun:
    """What :func:`update_lesions` needs, found from a segmentation node."""

    probability_node: object
    input_volume: object
    record: dict
    magnified_node: object | None = None  # the magnified look's map, when the run joined its components

    @property
    def joined(self) -> bool:
        """Whether the kept lesions took in the magnified look's components (the run's, or the
        last update's, ``postprocessing.magnified_join``)."""
        return bool((self.record.get("postprocessing") or {}).get(MAGNIFIED_JOIN_KEY))

    @property
    def magnified_image_ok(self) -> bool:
        return self.magnified_node is not None and self.magnified_node.GetImageData() is not None

    @property
    def nodes(self) -> list:
        """The kept map nodes (a re-run reuses and may change them)."""
        return [self.probability_node] + ([self.magnified_node] if self.magnified_node is not None else [])

    @property
    def context(self) -> MeasureContext:
        return MeasureContext.from_report(self.record.get("context", {}))


def probability_node_name(volume) -> str:
    return f"{volume.GetName()} tumour probability (%)"


def magnified_node_name(volume) -> str:
    return f"{volume.GetName()} magnified look probability (%)"


def run_record(report: dict, card_zone_limits: dict | None = None, card_outline_growth: dict | None = None,
               card_candidate_cutoff: float | None = None, model_path: str | None = None) -> dict:
    """The part of a run report kept on the segmentation node, with the model card's zone
    limits (``card_zone_limits``) and outline growth (``card_outline_growth``), kept even
    when the run did not apply them, so that an update can switch them back on, and the
    cut-off of the card's candidate classifier (``card_candidate_cutoff``; None: the card has
    none), kept likewise: whether the classifier judged the run is the report's
    ``postprocessing.candidate_check_cutoff``. ``model_path``: the package folder of the run
    (:func:`run_model_dir`)."""
    record = {"context": MeasureContext.from_report(report).to_dict(), "model": report.get("model", {}),
              "threshold": report.get("threshold"), "postprocessing": report.get("postprocessing")}
    if model_path is not None:
        record["model_path"] = str(model_path)
    if card_zone_limits is not None:
        record["card_zone_limits"] = dict(card_zone_limits)
    if card_zone_limits is not None or card_outline_growth is not None or card_candidate_cutoff is not None:
        # recorded with this run ("none" too)
        record["card_outline_growth"] = dict(card_outline_growth) if card_outline_growth else None
        record["card_candidate_check_cutoff"] = None if card_candidate_cutoff is None else float(card_candidate_cutoff)
    return record


def run_model_dir(record: dict | None, selected: str | None) -> str | None:
    """The model package "update lesions" uses for a kept run (terminology, candidate
    classifier): the folder that made the run while it still holds a package of the recorded
    name and version — so choosing another package in the selector afterwards does not
    re-judge the run's candidates with another classifier —, else ``selected`` (a scene saved
    on another computer, or before the folder was recorded)."""
    path = (record or {}).get("model_path")
    model = (record or {}).get("model") or {}
    if path:
        try:
            info = model_packages.read_package(path)
        except ValueError:
            return selected
        if (info.name, info.version) == (model.get("name"), model.get("version")):
            return path
    return selected


def run_zone_limits(record: dict, package_zone_limits: dict | None = None) -> dict:
    """The model card's zone limits for updating the lesions of a kept run: those recorded
    with the run, else those its lesions were last filtered with, else (a scene saved before
    zone limits were recorded) the selected package's."""
    if isinstance(record.get("card_zone_limits"), dict):
        return dict(record["card_zone_limits"])
    applied = (record.get("postprocessing") or {}).get("zone_limits")
    return dict(applied or package_zone_limits or {})


def run_outline_growth(record: dict, package_outline_growth: dict | None = None) -> dict | None:
    """The model card's outline growth for updating a kept run: the one recorded with the
    run, else the one its lesions were last labelled with, else (a scene saved before it was
    recorded) the selected package's."""
    if "card_outline_growth" in record:
        return record["card_outline_growth"]
    applied = (record.get("postprocessing") or {}).get("outline_growth")
    return applied or package_outline_growth


def update_rule(record: dict | None, package_zone_limits: dict | None, zone_limits: bool, *,
                min_lesion_mm3: float, min_peak_probability: float, max_elongation: float,
                max_mean_hu: float, outline_growth: bool = True,
                package_outline_growth: dict | None = None) -> LesionFilter:
    """The lesion filter of "update lesions": the user's general limits, with the kept run's
    card zone limits (:func:`run_zone_limits`) on top unless ``zone_limits`` is False, and
    the card's outline growth (:func:`run_outline_growth`) unless ``outline_growth`` is False."""
    card = LesionFilter.from_dict({"zone_limits": run_zone_limits(record or {}, package_zone_limits),
                                   "outline_growth": run_outline_growth(record or {}, package_outline_growth)})
    return card.overridden(min_lesion_mm3=min_lesion_mm3, min_peak_probability=min_peak_probability,
                           max_elongation=max_elongation, max_mean_hu=max_mean_hu, zone_limits=zone_limits,
                           outline_growth=outline_growth)


def kept_run(segmentation_node) -> KeptRun | None:
    """The kept probability map, input CT and run record of ``segmentation_node``; None when
    the node has none (no run yet, run without keeping the map, or a node was deleted)."""
    if segmentation_node is None:
        return None
    probability = segmentation_node.GetNodeReference(PROBABILITY_ROLE)
    volume = segmentation_node.GetNodeReference(INPUT_ROLE)
    text = segmentation_node.GetAttribute(RUN_ATTRIBUTE)
    if probability is None or volume is None or not text or probability.GetImageData() is None:
        return None
    try:
        record = json.loads(text)
    except json.JSONDecodeError:
        return None
    return KeptRun(probability, volume, record, segmentation_node.GetNodeReference(MAGNIFIED_ROLE))


def style_probability_node(node) -> None:
    """Display 0..100 % with a warm colour table, values below 1 % transparent."""
    if node.GetDisplayNode() is None:
        node.CreateDefaultDisplayNodes()
    display = node.GetDisplayNode()
    if node.GetScene() is not None and node.GetScene().GetNodeByID(PROBABILITY_COLOR_NODE_ID) is not None:
        display.SetAndObserveColorNodeID(PROBABILITY_COLOR_NODE_ID)
    display.SetAutoWindowLevel(False)
    display.SetWindowLevelMinMax(0.0, 100.0)
    display.SetApplyThreshold(True)
    display.SetLowerThreshold(1.0)
    display.SetUpperThreshold(100.0)


def commit_probability(scene, volume, segmentation_node, percent: sitk.Image, record: dict,
                       magnified: sitk.Image | None = None) -> list:
    """Put the percent map (and ``magnified``, the magnified look's percent map, when the run
    joined its components) into the scene, reusing the nodes a previous run of
    ``segmentation_node`` kept, and link them; returns the nodes it created. Without
    ``magnified`` a previously kept magnified map is unlinked."""
    previous = kept_run(segmentation_node)
    created: list = []

    def node_for(old, name: str):
        if old is not None and old.GetScene() is scene:
            return old
        node = scene.AddNewNodeByClass("vtkMRMLScalarVolumeNode", name)
        created.append(node)
        return node

    try:
        maps = [(PROBABILITY_ROLE, percent, probability_node_name(volume),
                 previous.probability_node if previous is not None else None)]
        if magnified is not None:
            maps.append((MAGNIFIED_ROLE, magnified, magnified_node_name(volume),
                         previous.magnified_node if previous is not None else None))
        else:
            segmentation_node.RemoveNodeReferenceIDs(MAGNIFIED_ROLE)
        for role, image, name, old in maps:
            node = node_for(old, name)
            node.SetName(name)  # a reused node may have belonged to another CT
            volume_bridge.set_volume_from_image(node, image)
            node.SetAndObserveTransformNodeID(volume.GetTransformNodeID())
            style_probability_node(node)
            segmentation_writer.place_in_hierarchy(scene, node, volume)
            segmentation_node.SetNodeReferenceID(role, node.GetID())
        segmentation_node.SetNodeReferenceID(INPUT_ROLE, volume.GetID())
        segmentation_node.SetAttribute(RUN_ATTRIBUTE, json.dumps(record))
    except BaseException:
        for node in created:
            scene.RemoveNode(node)
        raise
    return created


def remove_unlinked_magnified(segmentation_node, previous: KeptRun | None) -> None:
    """After a committed re-run: remove the magnified map ``previous`` kept when no segmentation
    links it any more (the new run did not join, or kept no map). Unlike the probability map,
    which a reader may still want to look at, it is only the join's input."""
    old = previous.magnified_node if previous is not None else None
    scene = old.GetScene() if old is not None else None
    if scene is None:
        return
    for i in range(scene.GetNumberOfNodesByClass("vtkMRMLSegmentationNode")):
        if scene.GetNthNodeByClass(i, "vtkMRMLSegmentationNode").GetNodeReference(MAGNIFIED_ROLE) is old:
            return
    scene.RemoveNode(old)


def forget(segmentation_node) -> None:
    """Unlink a kept map (a run without keeping one must not leave a stale link)."""
    segmentation_node.RemoveNodeReferenceIDs(PROBABILITY_ROLE)
    segmentation_node.RemoveNodeReferenceIDs(MAGNIFIED_ROLE)
    segmentation_node.RemoveNodeReferenceIDs(INPUT_ROLE)
    segmentation_node.RemoveAttribute(RUN_ATTRIBUTE)


@dataclass
class UpdateResult:
    """Outcome of :func:`update_lesions`."""

    segmentation_node: object
    table_node: object | None
    report: dict
    label_image: sitk.Image
    elapsed_s: float

    @property
    def lesions(self) -> list[dict]:
        return list(self.report.get("lesions", []))


def update_lesions(segmentation_node, threshold: float, lesion_filter: LesionFilter, table_node=None,
                   terminology: str | None = None, check: CandidateCheck | None = None) -> UpdateResult:
    """Recompute the lesions of ``segmentation_node`` from its kept probability map
    (``check``: the model package's candidate classifier, applied as in a run; None: every
    candidate the filter keeps is a lesion). When the run kept the magnified look's map, the
    lesions take in its touching components again, as in the run.

    Replaces its segments (and ``table_node``'s rows) like a re-run; on any error the
    segments and table are as before. The probability map and the input CT are only read.
    Raises ``ValueError`` when the node has no kept map or a setting is invalid.
    """
    started = time.monotonic()
    kept = kept_run(segmentation_node)
    if kept is None:
        raise ValueError("this segmentation has no kept probability map: run the segmentation "
                         "(with 'keep probability map' on) first")
    if kept.joined and not kept.magnified_image_ok:
        raise ValueError("this run's lesions took in the magnified look's map, which is no longer in the scene "
                         "(deleted or empty): run the segmentation again to update its lesions")
    volume = kept.input_volume
    ct = volume_bridge.image_from_volume(volume)
    percent = volume_bridge.image_from_volume(kept.probability_node)
    magnified = volume_bridge.image_from_volume(kept.magnified_node) if kept.joined else None
    labels, lesions = lesions_from_percent(percent, ct, threshold, lesion_filter, kept.context, check, magnified)
    report = relabel_report(lesions, threshold, lesion_filter, kept.context, kept.record.get("model", {}),
                            "kept probability map (no new inference)", check, magnified is not None)
    segmentation = segmentation_writer.build_segmentation(labels, volume, report["lesions"], terminology=terminology)
    table = segmentation_writer.build_table(report["lesions"])
    show3d = segmentation_node.GetSegmentation().ContainsRepresentation("Closed surface")
    committed = segmentation_writer.commit_with_rollback(
        volume.GetScene(), volume, segmentation, table, segmentation_node, table_node, None, show3d)
    segmentation_node.SetAttribute(RUN_ATTRIBUTE, json.dumps(
        dict(kept.record, threshold=threshold, postprocessing=report["postprocessing"])))
    return UpdateResult(committed.segmentation_node, committed.table_node, report, labels,
                        time.monotonic() - started)


def show_overlay(segmentation_node, show: bool, opacity: float = 0.5) -> bool:
    """Show (or hide) the kept probability map as the foreground layer of every slice view.

    Returns False when there is no kept map to show. Hiding clears the foreground only where
    it is this map, so a foreground the user chose for something else stays.
    """
    kept = kept_run(segmentation_node)
    if kept is None:
        return False
    scene = kept.probability_node.GetScene()
    node_id = kept.probability_node.GetID()
    for composite in scene.GetNodesByClass("vtkMRMLSliceCompositeNode"):
        if show:
            composite.SetForegroundVolumeID(node_id)
            composite.SetForegroundOpacity(opacity)
        elif composite.GetForegroundVolumeID() == node_id:
            composite.SetForegroundVolumeID(None)
    return True
