"""The end-to-end scenario shared by the Slicer self-test and the pytest suite.

Why one function: the module's ``ScriptedLoadableModuleTest`` (inside the Slicer
application) and the headless tests (slicer-core) must check the same thing, so the
check is written once: load the shipped sample chest CT into the scene, run the Logic
with the demo model package, and verify the segmentation against the phantom's truth.

It uses only ``slicer.mrmlScene`` and ``slicer.modules.<name>.logic()``, which exist in
the application and in the headless environment (:mod:`LungTumorSegLib.headless`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import SimpleITK as sitk
import slicer

from lungtumorseg import example
from lungtumorseg.hashing import sha256_of
from lungtumorseg.postprocess import LesionFilter

from . import kept_probability, logic_core, model_packages, segmentation_writer, volume_bridge

# The example's layout is the core's (lungtumorseg.example); re-exported for the Slicer layer.
SAMPLE_DIR = example.sample_dir()
SAMPLE_NAME = example.SAMPLE_NAME
sample_files = example.sample_files
sample_metadata = example.sample_metadata


def load_sample_volume(name: str = SAMPLE_NAME):
    """Load the sample CT into ``slicer.mrmlScene`` with Slicer's own reader (checksum first)."""
    ct_path, _, _ = sample_files()
    expected = sample_metadata()["sha256"][ct_path.name]
    if sha256_of(ct_path) != expected:
        raise AssertionError(f"{ct_path.name} does not match its SHA-256 (damaged sample data)")
    node = slicer.modules.volumes.logic().AddArchetypeVolume(str(ct_path), name, 0)
    if node is None:
        raise AssertionError(f"Slicer could not load {ct_path}")
    if node.GetDisplayNode() is None:
        node.CreateDefaultDisplayNodes()
    if node.GetDisplayNode().GetColorNode() is None:  # the application's volumes module would set it
        node.GetDisplayNode().SetAndObserveColorNodeID("vtkMRMLColorTableNodeGrey")
    return node


def _segment_voxels(node, volume) -> dict[str, int]:
    segmentation = node.GetSegmentation()
    return {segmentation.GetSegment(s).GetName(): int((slicer.util.arrayFromSegmentBinaryLabelmap(node, s, volume) > 0).sum())
            for s in segmentation.GetSegmentIDs()}


def _check_update_from_kept_map(result: logic_core.RunResult, volume, log: Callable[[str], None],
                                model_dir: str | Path) -> None:
    """"Update lesions" with the run's own operating point (and the package's candidate
    classifier, as the run) reproduces the run's segments voxel for voxel, and with no
    size/confidence/shape limits and no classifier it keeps at least as many."""
    node = result.segmentation_node
    before = _segment_voxels(node, volume)
    post = result.report.get("postprocessing") or {}
    threshold = float(post.get("threshold", result.report.get("threshold")))
    check = logic_core.candidate_check(model_dir)
    update = kept_probability.update_lesions(node, threshold, LesionFilter.from_dict(post), result.table_node,
                                             check=check)
    after = _segment_voxels(node, volume)
    log(f"Update from the kept probability map with the run's settings: {len(after)} lesion(s) "
        f"in {update.elapsed_s:.1f} s")
    _check(after == before, f"updating with the run's own settings changed the lesions: {before} -> {after}")
    loose = kept_probability.update_lesions(node, threshold, LesionFilter(), result.table_node)
    _check(len(loose.lesions) >= len(before), "dropping every lesion filter removed lesions")
    kept_probability.update_lesions(node, threshold, LesionFilter.from_dict(post), result.table_node, check=check)
    _check(_segment_voxels(node, volume) == before, "restoring the run's settings did not restore its lesions")


@dataclass
class ScenarioOutcome:
    """What the scenario measured (all checks already passed when this is returned)."""

    volume_node: object
    result: logic_core.RunResult
    truth_tumours: int
    dice: float
    per_lesion_overlap: list[float] = field(default_factory=list)


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise AssertionError(message)


def run_scenario(model_dir: str | Path | None = None, python: str | None = None, timeout_s: float = 1800,
                 log: Callable[[str], None] = print, min_dice: float = 0.6,
                 max_extra_lesions: int = 0, check_accuracy: bool = True) -> ScenarioOutcome:
    """Load the sample, segment it with the (demo) model, check the result; raise AssertionError.

    Always checked (the software): one segment per lesion of the report, names "Lesion k",
    standard terminology, segments on the CT grid, the input's reference geometry, input
    unchanged. With ``check_accuracy`` (the model on this one phantom): every truth tumour
    touched by a segment, one segment per truth tumour (``max_extra_lesions`` more allowed),
    every segment overlapping the truth, Dice of all lesions vs truth >= ``min_dice``.

    The accuracy half is a floor for this sample (three 18-20 mm tumours), which the demo
    package meets (0.12.0: 3 of 3 found, no false lesion, Dice 0.82), so it is enforced for the
    demo too; it is not the held-out targets, which ``benchmarks/heldout_phantoms.py`` measures.
    """
    volume = load_sample_volume()
    checksum = volume_bridge.volume_checksum(volume)
    truth_image = sitk.ReadImage(str(sample_files()[1]))
    _check(volume_bridge.same_grid(truth_image, volume, tolerance=1e-2), "the truth mask is not on the CT grid")
    truth = sitk.GetArrayFromImage(truth_image) > 0
    truth_components = sitk.GetArrayFromImage(sitk.ConnectedComponent(sitk.GetImageFromArray(truth.astype(np.uint8))))
    n_truth = int(truth_components.max())

    package = model_packages.read_package(model_dir or model_packages.DEMO_PACKAGE)
    log(f"Segmenting {volume.GetName()} with {package.label}")
    run = logic_core.SegmentationRun(
        logic_core.RunRequest(input_volume=volume, model_dir=package.path, output_name=f"{SAMPLE_NAME} lung tumours"),
        on_progress=lambda fraction, stage: log(f"{100 * fraction:5.1f}% {stage}"), on_log=log, python=python)
    result = run.run(timeout_s=timeout_s)

    node = result.segmentation_node
    segmentation = node.GetSegmentation()
    ids = list(segmentation.GetSegmentIDs())
    names = [segmentation.GetSegment(s).GetName() for s in ids]
    log(f"Segments: {names}; truth tumours: {n_truth}")
    _check(len(ids) == len(result.lesions), f"{len(ids)} segments for {len(result.lesions)} lesions in the report")
    expected_names = [f"Lesion {int(l['label'])}" for l in result.lesions]
    _check(names == expected_names, f"segment names {names} do not follow the report {expected_names}")
    for segment_id in ids:
        codes = segmentation_writer.parse_terminology(segmentation.GetSegment(segment_id).GetTerminology())
        _check(codes["category"][1] == "49755003" and codes["type"][1] == "108369006"
               and codes["region"][1] == "39607008",
               f"segment {segment_id} lacks the lung-neoplasm terminology (Neoplasm in Lung): {codes}")
    _check(bool(segmentation.GetConversionParameter("Reference image geometry")),
           "the segmentation has no reference image geometry")

    union = np.zeros_like(truth)
    overlaps = []
    for segment_id in ids:
        mask = slicer.util.arrayFromSegmentBinaryLabelmap(node, segment_id, volume) > 0
        _check(mask.shape == truth.shape, f"segment {segment_id} is not on the CT grid ({mask.shape})")
        overlap = float((mask & truth).sum()) / max(int(mask.sum()), 1)
        overlaps.append(overlap)
        union |= mask
    dice = 2.0 * float((union & truth).sum()) / max(int(union.sum() + truth.sum()), 1)
    log(f"Dice of all lesions vs truth: {dice:.3f}")
    _check_update_from_kept_map(result, volume, log, package.path)
    _check(volume_bridge.volume_checksum(volume) == checksum, "the input volume was modified")
    if check_accuracy:
        missed = sorted(set(range(1, n_truth + 1)) - set(np.unique(truth_components[union]).tolist()))
        _check(not missed, f"true tumour(s) {missed} of {n_truth} (connected components of the truth) not found")
        _check(n_truth <= len(ids) <= n_truth + max_extra_lesions,
               f"expected {n_truth} lesion segment(s) (the phantom's tumours), got {len(ids)}: {names}")
        for name, overlap in zip(names, overlaps):
            _check(overlap > 0, f"{name} does not overlap any true tumour")
        _check(dice >= min_dice, f"Dice {dice:.3f} is below {min_dice}")
    return ScenarioOutcome(volume, result, n_truth, dice, overlaps)
