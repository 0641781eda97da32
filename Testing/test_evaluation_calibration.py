"""Operating-point calibration (threshold × minimum lesion volume) on hand-built cases.

Every expected number below is counted by hand from the boxes the test draws (voxels of
1 mm³), not computed by the code under test.
"""

from __future__ import annotations

import numpy as np
import pytest

from lungtumorseg.evaluation.calibration import (
    OperatingPoint, calibration_record, case_curve, choose_among, choose_operating_point, summarise_curves,
)

SPACING = (1.0, 1.0, 1.0)
THRESHOLDS = (0.3, 0.5)
VOLUMES = (20.0, 100.0)


def _tumour_case() -> tuple[np.ndarray, np.ndarray]:
    """Truth: a 12³ cube (1728 voxels, 14.9 mm). Prediction: 1440 of its voxels at 0.9,
    a 27-voxel false blob at 0.9 and a 125-voxel false blob at 0.4, plus a 3.7 mm truth
    nodule (27 voxels) nobody finds."""
    truth = np.zeros((48, 48, 48), dtype=np.uint8)
    prob = np.zeros(truth.shape, dtype=np.float32)
    truth[4:16, 4:16, 4:16] = 1
    prob[4:14, 4:16, 4:16] = 0.9
    prob[30:33, 30:33, 30:33] = 0.9
    prob[30:35, 4:9, 30:35] = 0.4
    truth[40:43, 40:43, 4:7] = 1
    return prob, truth


def test_case_curve_counts_dice_false_positives_and_large_detections() -> None:
    prob, truth = _tumour_case()
    curve = case_curve(prob, truth, SPACING, THRESHOLDS, VOLUMES)
    truth_sum = 1728 + 27
    expected_dice = np.array([
        [2 * 1440 / (1440 + 27 + 125 + truth_sum), 2 * 1440 / (1440 + 125 + truth_sum)],
        [2 * 1440 / (1440 + 27 + truth_sum), 2 * 1440 / (1440 + truth_sum)],
    ])
    np.testing.assert_allclose(curve.dice, expected_dice, rtol=1e-9)
    np.testing.assert_array_equal(curve.false_positives, [[2, 1], [1, 0]])
    assert curve.n_large == 1 and curve.n_truth == 2  # the 3.7 mm nodule is below 10 mm
    np.testing.assert_array_equal(curve.detected_large, [[1, 1], [1, 1]])
    np.testing.assert_array_equal(curve.detected, [[1, 1], [1, 1]])  # the nodule is missed everywhere
    assert curve.has_tumour


def test_minimum_volume_that_removes_the_tumour_loses_its_detection() -> None:
    prob, truth = _tumour_case()
    curve = case_curve(prob, truth, SPACING, (0.5,), (2000.0,))
    assert curve.detected_large[0, 0] == 0
    assert curve.false_positives[0, 0] == 0
    assert curve.dice[0, 0] == 0.0


def test_summary_and_choice_prefer_fewer_false_positives_and_count_clean_tumour_free_cases() -> None:
    prob, truth = _tumour_case()
    free_prob = np.zeros((32, 32, 32), dtype=np.float32)
    free_prob[10:13, 10:13, 10:13] = 0.9  # 27 voxels: removed by the 100 mm³ minimum
    curves = [case_curve(prob, truth, SPACING, THRESHOLDS, VOLUMES),
              case_curve(free_prob, np.zeros(free_prob.shape), SPACING, THRESHOLDS, VOLUMES)]
    assert not curves[1].has_tumour
    summary = summarise_curves(curves)
    np.testing.assert_allclose(summary["false_positives_per_case"], [[1.5, 0.5], [1.0, 0.0]])
    np.testing.assert_allclose(summary["clean_fraction"], [[0.0, 1.0], [0.0, 1.0]])
    np.testing.assert_allclose(summary["sensitivity_large"], [[1.0, 1.0], [1.0, 1.0]])
    # lesion F1 = 2·TP / (2·TP + FP + FN) pooled: TP 1 and FN 1 (the nodule) everywhere
    np.testing.assert_allclose(summary["lesion_f1"], [[2 / 6, 2 / 4], [2 / 5, 2 / 3]])
    chosen = choose_operating_point(summary, THRESHOLDS, VOLUMES)
    assert (chosen.threshold, chosen.min_lesion_mm3) == (0.5, 100.0)
    assert chosen.false_positives_per_case == 0.0 and chosen.clean_fraction == 1.0
    record = calibration_record(["b", "a"], THRESHOLDS, VOLUMES, summary, chosen, 0.005)
    assert record["cases"] == ["a", "b"]
    assert record["chosen"]["min_lesion_mm3"] == 100.0
    assert record["clean_fraction"] == [[0.0, 1.0], [0.0, 1.0]]


def test_tolerance_trades_a_little_dice_for_fewer_false_positives() -> None:
    summary = {
        "mean_dice": np.array([[0.800, 0.797, 0.700]]),
        "false_positives_per_case": np.array([[3.0, 1.0, 0.0]]),
        "sensitivity_large": np.array([[1.0, 1.0, 0.5]]),
        "clean_fraction": np.array([[np.nan, np.nan, np.nan]]),
    }
    loose = choose_operating_point(summary, (0.5,), (10.0, 50.0, 500.0), tolerance=0.005)
    strict = choose_operating_point(summary, (0.5,), (10.0, 50.0, 500.0), tolerance=0.001)
    assert loose.min_lesion_mm3 == 50.0 and loose.false_positives_per_case == 1.0
    assert strict.min_lesion_mm3 == 10.0 and strict.mean_dice == pytest.approx(0.8)


def test_the_lesion_f1_rule_prefers_balanced_detection_then_dice() -> None:
    """Point 0: best Dice but many false findings; 1: a little less Dice, far fewer false
    findings (best F1); 2: as good an F1 as 1 within the tolerance but less Dice."""
    summary = {
        "mean_dice": np.array([[0.59, 0.56, 0.50]]),
        "false_positives_per_case": np.array([[1.5, 0.5, 0.4]]),
        "sensitivity_large": np.array([[0.8, 0.75, 0.7]]),
        "clean_fraction": np.array([[0.1, 0.6, 0.6]]),
        "lesion_f1": np.array([[0.55, 0.650, 0.652]]),
    }
    volumes = (10.0, 50.0, 500.0)
    assert choose_operating_point(summary, (0.5,), volumes).min_lesion_mm3 == 10.0  # the Dice rule
    by_f1 = choose_operating_point(summary, (0.5,), volumes, rule="lesion-f1")
    assert by_f1.min_lesion_mm3 == 50.0 and by_f1.lesion_f1 == pytest.approx(0.65)
    record = calibration_record(["a"], (0.5,), volumes, summary, by_f1, 0.005, "lesion-f1")
    assert record["rule"].startswith("best pooled lesion F1") and record["chosen"]["lesion_f1"] == 0.65
    points = [OperatingPoint(0.5, 10.0, 0.59, 1.5, 0.8, 0.1, lesion_f1=0.55),
              OperatingPoint(0.5, 50.0, 0.56, 0.5, 0.75, 0.6, lesion_f1=0.65)]
    assert choose_among(points) == 0 and choose_among(points, rule="lesion-f1") == 1
    with pytest.raises(ValueError, match="unknown calibration rule"):
        choose_operating_point(summary, (0.5,), volumes, rule="accuracy")


def test_mismatched_shapes_and_empty_case_lists_are_refused() -> None:
    with pytest.raises(ValueError, match="shape"):
        case_curve(np.zeros((4, 4, 4)), np.zeros((4, 4, 5)), SPACING, THRESHOLDS, VOLUMES)
    with pytest.raises(ValueError, match="no validation cases"):
        summarise_curves([])


def test_choose_among_prefers_dice_then_fewer_false_positives_then_the_cheaper_option() -> None:
    plain = OperatingPoint(0.4, 120.0, 0.50, 4.0, 0.8, 0.0)
    better = OperatingPoint(0.4, 120.0, 0.52, 6.0, 0.8, 0.0)
    same_dice_fewer_fp = OperatingPoint(0.4, 120.0, 0.498, 3.0, 0.8, 0.0)
    assert choose_among([plain, better]) == 1  # 0.02 more Dice is beyond the tolerance
    assert choose_among([plain, same_dice_fewer_fp]) == 1
    assert choose_among([plain, plain]) == 0
    with pytest.raises(ValueError):
        choose_among([])


def test_shape_and_peak_filters_in_the_grid_and_the_record() -> None:
    """Truth: a 12³ cube found exactly (0.9). False: a 30 × 2 × 2 rod at 0.9 (elongation 15)
    and a 5³ blob whose peak is only 0.55."""
    from lungtumorseg.postprocess import LesionFilter

    prob, truth = _tumour_case()
    truth[40:43, 40:43, 4:7] = 0  # no missed nodule here
    prob[4:16, 4:16, 4:16] = 0.9  # the whole cube found
    prob[30:33, 30:33, 30:33] = 0.0
    prob[30:32, 30:32, 5:35] = 0.9
    prob[30:35, 4:9, 30:35] = 0.55
    filters = [LesionFilter(), LesionFilter(max_elongation=4.0), LesionFilter(min_peak_probability=0.8, max_elongation=4.0)]
    curve = case_curve(prob, truth, SPACING, (0.5,), filters)
    np.testing.assert_array_equal(curve.false_positives, [[2, 1, 0]])
    np.testing.assert_allclose(curve.dice, [[2 * 1728 / (1728 + 120 + 125 + 1728), 2 * 1728 / (1728 + 125 + 1728), 1.0]])
    summary = summarise_curves([curve])
    chosen = choose_operating_point(summary, (0.5,), filters)
    assert (chosen.min_peak_probability, chosen.max_elongation) == (0.8, 4.0)
    assert chosen.lesion_filter == filters[2]
    record = calibration_record(["a"], (0.5,), filters, summary, chosen, 0.005)
    assert record["max_elongation"] == [None, 4.0, 4.0]  # JSON has no infinity: None = no limit
    assert record["min_peak_probability"] == [0.0, 0.0, 0.8]
    assert record["chosen"]["max_elongation"] == 4.0


def test_density_filter_in_the_grid_needs_and_uses_the_ct() -> None:
    """Truth: a 12³ cube found exactly. False: a 5³ blob at 0.9 whose CT is bone (500 HU)."""
    from lungtumorseg.postprocess import LesionFilter

    prob, truth = _tumour_case()
    truth[40:43, 40:43, 4:7] = 0
    prob[:] = 0.0
    prob[4:16, 4:16, 4:16] = 0.9
    prob[30:35, 4:9, 30:35] = 0.9
    hu = np.full(prob.shape, -850.0)
    hu[4:16, 4:16, 4:16] = 30.0
    hu[30:35, 4:9, 30:35] = 500.0
    filters = [LesionFilter(), LesionFilter(max_mean_hu=150.0)]
    curve = case_curve(prob, truth, SPACING, (0.5,), filters, hu=hu)
    np.testing.assert_array_equal(curve.false_positives, [[1, 0]])
    np.testing.assert_allclose(curve.dice[0, 1], 1.0)
    chosen = choose_operating_point(summarise_curves([curve]), (0.5,), filters)
    assert chosen.max_mean_hu == 150.0 and chosen.lesion_filter == filters[1]
    record = calibration_record(["a"], (0.5,), filters, summarise_curves([curve]), chosen, 0.005)
    assert record["max_mean_hu"] == [None, 150.0] and record["chosen"]["max_mean_hu"] == 150.0
    with pytest.raises(ValueError, match="need the CT"):
        case_curve(prob, truth, SPACING, (0.5,), filters)


def test_calibration_and_pipeline_filters_agree() -> None:
    """The grid's component measures and label_lesions' (ITK) decide alike on an oblique,
    anisotropic image: the calibrated point means the same thing in the pipeline."""
    import SimpleITK as sitk

    from lungtumorseg.evaluation.calibration import component_measures
    from lungtumorseg.evaluation.lesions import label_components
    from lungtumorseg.postprocess import LesionFilter, label_lesions

    prob, img = oblique_blob_image(seed=0)
    labels, n = label_components(prob >= 0.55)
    assert n > 10
    volume, peak, elongation = component_measures(labels, n, prob, img.GetSpacing())
    for limit in (1.75, 2.5, 4.0):
        keep = (elongation <= limit) & (peak >= 0.6) & (volume >= 5.0)
        expected = np.isin(labels, np.nonzero(keep)[0] + 1)
        out = sitk.GetArrayFromImage(label_lesions(img, 0.55, LesionFilter(5.0, 0.6, limit))) > 0
        assert 0 < keep.sum() < n
        assert np.array_equal(out, expected), limit


def test_calibration_and_pipeline_place_components_in_the_same_zones() -> None:
    """On an oblique, anisotropic image the calibration's zone of each component (index
    centroid → LPS z) is the pipeline's (ITK centroid), so a zone limit chosen in calibration
    removes the same components in label_lesions."""
    import SimpleITK as sitk

    from lungtumorseg.evaluation.calibration import component_centroids, zone_of_centroids
    from lungtumorseg.evaluation.lesions import label_components
    from lungtumorseg.postprocess import LesionFilter, label_lesions

    prob, img = oblique_blob_image(seed=1)
    labels, n = label_components(prob >= 0.55)
    corners = [img.TransformIndexToPhysicalPoint((x, y, z))[2] for z in (0, 23) for y in (0, 39) for x in (0, 39)]
    lung_z = (min(corners), max(corners))
    zones = zone_of_centroids(img, lung_z)(component_centroids(labels, n))
    assert {"upper", "middle", "lower"} <= set(zones)
    for zone in ("upper", "middle", "lower"):
        rule = LesionFilter(5.0).with_zone_limit(zone, LesionFilter(min_lesion_mm3=1e9))
        out = sitk.GetArrayFromImage(label_lesions(img, 0.55, rule, lung_z_lps_mm=lung_z)) > 0
        volume = np.bincount(labels.ravel(), minlength=n + 1)[1:] * 0.8 * 0.8 * 2.5
        keep = (volume >= 5.0) & (zones != zone)
        assert np.array_equal(out, np.isin(labels, np.nonzero(keep)[0] + 1)), zone
    assert list(zone_of_centroids(img, None)(component_centroids(labels, n))) == [None] * n


def oblique_blob_image(seed: int):
    """Blobs of assorted shapes (:func:`ndi_smooth`) as an array and as an oblique,
    anisotropic (0.8 x 0.8 x 2.5 mm) SimpleITK image of it."""
    import SimpleITK as sitk

    prob = ndi_smooth(np.random.default_rng(seed).random((24, 40, 40)).astype(np.float32))
    img = sitk.GetImageFromArray(prob)
    img.SetSpacing((0.8, 0.8, 2.5))
    img.SetDirection((0.0, 1.0, 0.0, -0.8, 0.0, 0.6, 0.6, 0.0, 0.8))
    return prob, img


def ndi_smooth(noise: np.ndarray) -> np.ndarray:
    """Blobs of assorted shapes: smoothed noise rescaled to [0, 1]."""
    from scipy import ndimage as ndi

    smooth = ndi.gaussian_filter(noise, (1.0, 2.0, 2.0))
    return (smooth - smooth.min()) / (smooth.max() - smooth.min())
