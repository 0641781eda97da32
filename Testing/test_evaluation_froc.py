"""FROC curve and CPM on hand-built cases, and the probability-map cache they read.

Expected numbers are counted by hand from the boxes each test draws (1 mm voxels), never
computed by the code under test.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import SimpleITK as sitk

from core_fixtures import synthetic_chest, tiny_package  # noqa: F401 (fixture)
from lungtumorseg.evaluation.calibration import case_curve
from lungtumorseg.evaluation.froc import (
    CPM_FP_RATES, FrocCurve, candidate_peaks, froc_curve, froc_filters, sweep_levels,
)
from lungtumorseg.evaluation.plots import plot_froc
from lungtumorseg.evaluation.probability_cache import cache_key, cached_probability
from lungtumorseg.outline import OutlineGrowth
from lungtumorseg.postprocess import LesionFilter
from lungtumorseg.training.dataset import CasePaths

SPACING = (1.0, 1.0, 1.0)
LEVELS = (0.0, 0.5, 0.8, 0.95)


def _two_tumours() -> tuple[np.ndarray, np.ndarray]:
    """Truth: tumour A, a 12³ cube (14.9 mm), and tumour B, a 3³ cube (3.7 mm). The map:
    A at peak 0.9, B at peak 0.4, and a false blob (4³) at peak 0.7; all above 0.3."""
    truth = np.zeros((40, 40, 40), dtype=np.uint8)
    prob = np.zeros(truth.shape, dtype=np.float32)
    truth[2:14, 2:14, 2:14] = 1
    prob[2:14, 2:14, 2:14] = 0.5
    prob[6, 6, 6] = 0.9
    truth[30:33, 30:33, 2:5] = 1
    prob[30:33, 30:33, 2:5] = 0.4
    prob[30:34, 2:6, 30:34] = 0.7
    return prob, truth


def _curves() -> list:
    prob, truth = _two_tumours()
    empty = np.zeros_like(prob)  # a tumour-free case with nothing above the threshold
    filters = froc_filters(LesionFilter(), LEVELS)
    return [case_curve(prob, truth, SPACING, [0.3], filters),
            case_curve(empty, np.zeros_like(truth), SPACING, [0.3], filters)]


def test_froc_counts_sensitivity_and_false_positives_per_case_at_each_peak_level() -> None:
    curve = froc_curve(_curves(), LEVELS)
    # peak >= 0: A, B and the blob; >= 0.5: A and the blob; >= 0.8: A; >= 0.95: nothing.
    assert curve.n_lesions == 2 and curve.n_cases == 2
    assert curve.sensitivity.tolist() == [1.0, 0.5, 0.5, 0.0]
    assert curve.false_positives_per_case.tolist() == [0.5, 0.5, 0.0, 0.0]  # one blob over two cases
    large = froc_curve(_curves(), LEVELS, large_only=True)  # only A is >= 10 mm
    assert large.n_lesions == 1 and large.sensitivity.tolist() == [1.0, 1.0, 1.0, 0.0]


def test_cpm_averages_the_best_sensitivity_reached_at_each_false_positive_rate() -> None:
    curve = froc_curve(_curves(), LEVELS)
    assert curve.sensitivity_at(0.0) == 0.5  # peak >= 0.8
    assert curve.sensitivity_at(0.25) == 0.5
    assert curve.sensitivity_at(0.5) == 1.0  # peak >= 0
    assert curve.sensitivity_at(8.0) == 1.0  # beyond the curve's end: its best
    # rates 1/8 and 1/4 give 0.5, rates 1/2 ... 8 give 1.0
    assert curve.cpm() == pytest.approx((2 * 0.5 + 5 * 1.0) / 7)
    record = curve.to_dict()
    assert record["cpm"] == pytest.approx(6 / 7)
    assert record["sensitivity_at_fp_rate"]["0.125"] == 0.5
    assert record["max_false_positives_per_case"] == 0.5
    assert len(CPM_FP_RATES) == 7
    back = FrocCurve.from_dict(json.loads(json.dumps(record)))
    assert back.cpm() == pytest.approx(6 / 7) and back.sensitivity.tolist() == curve.sensitivity.tolist()
    assert (back.n_lesions, back.n_cases) == (2, 2)


def test_froc_filters_sweep_the_peak_and_keep_the_other_limits() -> None:
    rule = LesionFilter(250.0, 0.6, 1.75, 150.0, (("middle", LesionFilter(600.0)),),
                        OutlineGrowth(-550.0, 100.0, 2.0))
    filters = froc_filters(rule, LEVELS)
    assert [f.min_peak_probability for f in filters] == list(LEVELS)
    assert all(f.min_lesion_mm3 == 250.0 and f.max_elongation == 1.75 and f.max_mean_hu == 150.0 for f in filters)
    assert all(f.zone_limits == (("middle", LesionFilter(600.0)),) for f in filters)
    assert all(f.outline_growth is None for f in filters)


def test_a_size_limit_removes_the_small_tumour_from_every_point() -> None:
    prob, truth = _two_tumours()
    filters = froc_filters(LesionFilter(min_lesion_mm3=50.0), LEVELS)  # B is 27 mm3, the blob 64 mm3
    curve = froc_curve([case_curve(prob, truth, SPACING, [0.3], filters)], LEVELS)
    assert curve.sensitivity.tolist() == [0.5, 0.5, 0.5, 0.0]
    assert curve.false_positives_per_case.tolist() == [1.0, 1.0, 0.0, 0.0]


def test_froc_refuses_curves_that_are_not_one_threshold_by_the_peak_levels() -> None:
    prob, truth = _two_tumours()
    wrong = case_curve(prob, truth, SPACING, [0.3, 0.5], froc_filters(LesionFilter(), LEVELS))
    with pytest.raises(ValueError, match="shape"):
        froc_curve([wrong], LEVELS)
    with pytest.raises(ValueError, match="no cases"):
        froc_curve([], LEVELS)


def test_plot_froc_writes_a_figure(tmp_path) -> None:
    curve = froc_curve(_curves(), LEVELS)
    path = plot_froc({"all tumours": curve}, tmp_path / "froc.png", {"all tumours": (0.5, 1.0)}, "synthetic")
    assert path.is_file() and path.stat().st_size > 10_000
    assert sitk.ReadImage(str(path)).GetSize()[0] > 300


def test_probability_maps_are_computed_once_and_then_read_from_the_cache(tmp_path, tiny_package) -> None:  # noqa: F811
    image, _ = synthetic_chest(np.eye(3), (4.0, 4.0, 4.0))
    label = sitk.Image(image.GetSize(), sitk.sitkUInt8)
    label.CopyInformation(image)
    sitk.WriteImage(image, str(tmp_path / "chest.nii.gz"))
    sitk.WriteImage(label, str(tmp_path / "chest_label.nii.gz"))
    case = CasePaths("chest", tmp_path / "chest.nii.gz", tmp_path / "chest_label.nii.gz")
    key = cache_key(tiny_package, [])
    assert key != cache_key(tiny_package, [2]) and "-v" in key
    assert cache_key(tiny_package, [], "fp32") == key  # float32 keys are those of older caches
    assert cache_key(tiny_package, [], "bf16") == f"{key}-bf16"
    cache = tmp_path / "cache"
    prob, lung_z = cached_probability(case, tiny_package, 1, cache, key)
    assert prob.shape == sitk.GetArrayFromImage(image).shape and prob.dtype == np.float32
    assert lung_z is not None and lung_z[0] < lung_z[1]
    stored = cache / f"chest-{key}.npy"
    assert stored.is_file()
    # The second call reads the cache (a map written there is what comes back), not the pipeline.
    marked = np.full(prob.shape, 0.25, dtype=np.float16)
    np.save(stored, marked)
    again, lung_z_again = cached_probability(case, tiny_package, 1, cache, key)
    assert np.all(again == 0.25) and lung_z_again == pytest.approx(lung_z)
    assert not math.isnan(float(again.mean()))


def test_candidate_peaks_and_sweep_levels_make_the_sweep_exact() -> None:
    prob, _ = _two_tumours()
    peaks = candidate_peaks(prob, 0.3)
    assert sorted(peaks.tolist()) == pytest.approx([0.4, 0.7, 0.9])  # B, the blob, A
    assert candidate_peaks(np.zeros((4, 4, 4), np.float32), 0.3).size == 0
    levels = sweep_levels([peaks, np.array([0.9])], [0.6])
    assert levels == sorted(set(levels)) and {0.6, 0.0, 1.0} <= set(levels)
    assert any(abs(v - 0.7) < 1e-6 for v in levels) and any(abs(v - 0.4) < 1e-6 for v in levels)
    # at the level of a candidate's own peak that candidate is still kept
    prob_case, truth = _two_tumours()
    exact = [float(np.float32(0.4))]  # B's own peak as the map stores it
    assert exact[0] in levels
    curve = froc_curve([case_curve(prob_case, truth, SPACING, [0.3], froc_filters(LesionFilter(), exact))], exact)
    assert curve.sensitivity.tolist() == [1.0] and curve.false_positives_per_case.tolist() == [1.0]
