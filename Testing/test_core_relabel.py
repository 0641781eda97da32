"""Lesions recomputed from a kept probability map (``lungtumorseg.relabel``).

The promise under test: a run's report plus its probability map are enough to reproduce the
run's lesions exactly, and a map stored in whole percent gives the same lesions for every
operating point on the 1 % grid. The run is the real pipeline with a real (random-weight)
UNETR package on a small phantom.
"""

from __future__ import annotations

import numpy as np
import pytest
import SimpleITK as sitk

from core_fixtures import phantom, shared_package_dir
from lungtumorseg.models.package import load_package
from lungtumorseg.pipeline import SegmentOptions, segment
from lungtumorseg.postprocess import LesionFilter, label_lesions
from lungtumorseg.measure import measure_lesions
from lungtumorseg.relabel import (
    MeasureContext, lesions_from_percent, lesions_from_probability, probability_from_percent,
    probability_to_percent,
)

# A random-weight network's map hovers around 0.5; this operating point leaves a handful of
# components of every kind (kept, too small, never confident, too elongated). The elongation
# limit is not 3.0: a line of three 2.8 mm voxels has elongation exactly 3.0, and which side
# of the limit it falls on is then decided by floating-point rounding in ITK's moments.
OPTIONS = SegmentOptions(threads=1, threshold=0.62, min_lesion_mm3=30.0, min_peak_probability=0.7, max_elongation=3.2)


@pytest.fixture(scope="module")
def run():
    case = phantom(2)
    result = segment(case.image, load_package(shared_package_dir()), OPTIONS)
    assert result.status == "ok" and len(result.lesions) >= 3, "the fixture needs a few lesions"
    return case, result


def test_report_and_probability_reproduce_the_runs_lesions_exactly(run):
    case, result = run
    report = result.report("case", load_package(shared_package_dir()))
    context = MeasureContext.from_report(report)
    assert context.lung_z_lps_mm is not None and context.midline_x_lps_mm is not None
    labels, lesions = lesions_from_probability(result.probability, case.image, report["threshold"],
                                               LesionFilter.from_dict(report["postprocessing"]), context)
    np.testing.assert_array_equal(sitk.GetArrayFromImage(labels), sitk.GetArrayFromImage(result.labels))
    assert [l.to_dict() for l in lesions] == [l.to_dict() for l in result.lesions]
    # the same as labelling and measuring the whole image (the function works in the box of the
    # voxels at or above the threshold only)
    rule = LesionFilter.from_dict(report["postprocessing"])
    whole = label_lesions(result.probability, report["threshold"], rule, ct=case.image,
                          lung_z_lps_mm=context.lung_z_lps_mm)
    np.testing.assert_array_equal(sitk.GetArrayFromImage(whole), sitk.GetArrayFromImage(labels))
    measured = measure_lesions(whole, case.image, result.probability, context.lung_z_lps_mm, context.midline_x_lps_mm)
    for a, b in zip(measured, lesions):
        assert a.to_dict().keys() == b.to_dict().keys()
        for key, value in a.to_dict().items():
            expected = value if isinstance(value, str) or value is None else pytest.approx(value, rel=1e-9, abs=1e-9)
            assert b.to_dict()[key] == expected, key
    assert {l.side for l in lesions} <= {"left", "right"} and {l.zone for l in lesions} <= {"upper", "middle", "lower"}


@pytest.mark.parametrize("threshold,peak", [(0.62, 0.7), (0.55, 0.0), (0.6, 0.8), (0.35, 0.65)])
def test_percent_map_gives_the_same_lesions_on_the_whole_percent_grid(run, threshold, peak):
    case, result = run
    rule = LesionFilter(30.0, peak, 3.2)
    full_labels, full = lesions_from_probability(result.probability, case.image, threshold, rule)
    percent = probability_to_percent(result.probability)
    assert percent.GetPixelID() == sitk.sitkUInt8
    labels, lesions = lesions_from_percent(percent, case.image, threshold, rule)
    np.testing.assert_array_equal(sitk.GetArrayFromImage(labels), sitk.GetArrayFromImage(full_labels))
    assert [(l.label, l.voxels, l.hu_mean) for l in lesions] == [(l.label, l.voxels, l.hu_mean) for l in full]
    for a, b in zip(lesions, full):
        assert b.mean_probability - 0.01 <= a.mean_probability <= b.mean_probability + 1e-12


def test_percent_rounding_at_the_threshold_edges():
    """Values exactly at, just below and just above whole-percent thresholds, in float32
    (as the pipeline writes them): ``p >= t`` and ``percent >= 100 t`` must agree."""
    thresholds = np.round(np.arange(0.01, 1.0, 0.01), 2)
    at = thresholds.astype(np.float32)
    values = np.concatenate([at, np.nextafter(at, np.float32(0)), np.nextafter(at, np.float32(1)),
                             np.float32([0.0, 1.0])]).astype(np.float32)
    image = sitk.GetImageFromArray(values.reshape(1, 1, -1))
    back = sitk.GetArrayFromImage(probability_from_percent(probability_to_percent(image))).ravel()
    assert back.dtype == np.float32
    back = back.astype(np.float64)  # SimpleITK compares pixels with a double threshold
    for t in thresholds:
        np.testing.assert_array_equal(back >= t, values >= t, err_msg=f"threshold {t}")


def test_relabel_leaves_its_inputs_alone_and_checks_the_grid(run):
    case, result = run
    prob_before = sitk.GetArrayFromImage(result.probability).copy()
    ct_before = sitk.GetArrayFromImage(case.image).copy()
    lesions_from_probability(result.probability, case.image, 0.5, LesionFilter(30.0))
    np.testing.assert_array_equal(sitk.GetArrayFromImage(result.probability), prob_before)
    np.testing.assert_array_equal(sitk.GetArrayFromImage(case.image), ct_before)
    shifted = sitk.Image(result.probability)
    shifted.SetOrigin([o + 5.0 for o in shifted.GetOrigin()])
    with pytest.raises(ValueError, match="same voxel grid"):
        lesions_from_probability(shifted, case.image, 0.5, LesionFilter())


def test_higher_threshold_never_adds_voxels(run):
    case, result = run
    low = sitk.GetArrayFromImage(label_lesions(result.probability, 0.55)) > 0
    high = sitk.GetArrayFromImage(label_lesions(result.probability, 0.65)) > 0
    assert high.sum() < low.sum() and not (high & ~low).any()


def test_nothing_at_or_above_the_threshold_gives_an_empty_label_image(run):
    case, result = run
    labels, lesions = lesions_from_percent(probability_to_percent(result.probability), case.image, 0.99, LesionFilter())
    assert lesions == [] and labels.GetSize() == case.image.GetSize()
    assert not sitk.GetArrayViewFromImage(labels).any()


def test_percent_map_refuses_values_outside_0_to_100():
    bad = sitk.GetImageFromArray(np.array([[[0, 50, 101]]], np.int16))
    with pytest.raises(ValueError, match="between 0 and 100"):
        probability_from_percent(bad)


def test_measure_context_from_a_report_without_lungs():
    context = MeasureContext.from_report({"lung_z_lps_mm": None})
    assert context == MeasureContext(None, None)
    assert MeasureContext.from_report(MeasureContext((-10.0, 200.0), 3.5).to_dict()) == MeasureContext((-10.0, 200.0), 3.5)


def test_a_zone_limit_removes_exactly_the_lesions_of_its_zone(run):
    """On a real run: an impossible size limit in the zone of the largest lesion removes every
    lesion of that zone and no other; without the lungs' extent no lesion has a zone."""
    case, result = run
    report = result.report("case", load_package(shared_package_dir()))
    context = MeasureContext.from_report(report)
    zone = result.lesions[0].zone
    rule = LesionFilter.from_dict(report["postprocessing"]).with_zone_limit(zone, LesionFilter(min_lesion_mm3=1e9))
    _, lesions = lesions_from_probability(result.probability, case.image, report["threshold"], rule, context)
    expected = [l.to_dict() for l in result.lesions if l.zone != zone]
    assert len(expected) < len(result.lesions)
    assert [(l.to_dict()["voxels"], l.zone) for l in lesions] == \
        [(l["voxels"], l["zone"]) for l in expected]
    _, unzoned = lesions_from_probability(result.probability, case.image, report["threshold"], rule, MeasureContext())
    assert len(unzoned) == len(result.lesions)


def test_outline_growth_reaches_past_the_box_of_the_thresholded_voxels(run):
    """Relabelling works in the box of the voxels at or above the threshold; grown outlines
    reach a few millimetres beyond it, so the box is padded: the result must equal growing
    on the whole image, and growth must have added voxels outside the thresholded set."""
    from lungtumorseg.outline import OutlineGrowth

    case, result = run
    rule = LesionFilter.from_dict(dict(result.report("case", load_package(shared_package_dir()))["postprocessing"]))
    grown_rule = LesionFilter.from_dict({**rule.to_dict(), "outline_growth": {
        "min_hu": -900.0, "max_hu": 100.0, "max_distance_mm": 6.0}})
    labels, lesions = lesions_from_probability(result.probability, case.image, result.threshold, grown_rule)
    whole = label_lesions(result.probability, result.threshold, grown_rule, ct=case.image)
    np.testing.assert_array_equal(sitk.GetArrayFromImage(labels), sitk.GetArrayFromImage(whole))
    grown = sitk.GetArrayFromImage(labels) > 0
    above = sitk.GetArrayFromImage(result.probability) >= result.threshold
    assert (grown & ~above).any(), "growth added nothing: the test would not see a cut box"
    assert len(lesions) == len(result.lesions)  # growth changes outlines, never which lesions exist
    plain, _ = lesions_from_probability(result.probability, case.image, result.threshold, rule)
    assert (sitk.GetArrayFromImage(plain) > 0).sum() < grown.sum()
