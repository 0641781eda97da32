"""FROC curve and CPM on hand-built cases (lesions scored by peak probability or by a
candidate classifier), and the probability-map cache they read.

Expected numbers are counted by hand from the boxes each test draws (1 mm voxels), never
computed by the code under test.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import SimpleITK as sitk
from scipy import ndimage as ndi

from core_fixtures import synthetic_chest, tiny_package  # noqa: F401 (fixture)
from lungtumorseg.evaluation.calibration import case_curve
from lungtumorseg.candidate_check import CandidateCheck
from lungtumorseg.evaluation.froc import (
    CPM_FP_RATES, FrocCurve, candidate_peaks, froc_curve, froc_filters, score_levels, scored_candidates,
    scored_froc_curve, sweep_levels,
)
from lungtumorseg.evaluation.plots import plot_froc
from lungtumorseg.evaluation.probability_cache import cache_key, cached_probability
from lungtumorseg.models.package import default_package_dir, load_package
from lungtumorseg.outline import OutlineGrowth
from lungtumorseg.postprocess import LesionFilter, label_lesions
from lungtumorseg.relabel import MeasureContext, lesions_from_probability
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


# --- lesions scored by a candidate classifier ---------------------------------------------------

CUTOFF = 0.4


def _scored_case() -> tuple[sitk.Image, sitk.Image, np.ndarray]:
    """(probability, CT, truth) on a 40³ grid of 1 mm voxels. Each candidate's CT value encodes
    the score :func:`_score_by_ct` gives it, so every score is known by construction:

    * A: truth 12³ cube (14.9 mm), map 0.9, score 0.8;
    * B: truth 3³ cube (27 mm³, 3.7 mm), map 0.6, score 0.3;
    * C: false 4³ blob, map 0.7, score 0.5;
    * D: a 1 × 1 × 20 rod on truth tumour E (the same rod), map 0.9, score 0.95 — too elongated;
    * S: a false 2-voxel speck, map 0.9, score 0.95 — too small.
    """
    truth = np.zeros((40, 40, 40), dtype=np.uint8)
    prob = np.zeros(truth.shape, dtype=np.float32)
    hu = np.full(truth.shape, -850, dtype=np.int16)

    def put(box, p, score, tumour):
        prob[box], hu[box] = p, int(round(score * 1000)) - 1000
        truth[box] = 1 if tumour else truth[box]

    put((slice(2, 14),) * 3, 0.9, 0.8, True)  # A
    put((slice(30, 33), slice(30, 33), slice(2, 5)), 0.6, 0.3, True)  # B
    put((slice(30, 34), slice(2, 6), slice(30, 34)), 0.7, 0.5, False)  # C
    put((20, 36, slice(10, 30)), 0.9, 0.95, True)  # D on E
    put((36, 20, slice(20, 22)), 0.9, 0.95, False)  # S
    prob_image, ct = sitk.GetImageFromArray(prob), sitk.GetImageFromArray(hu)
    return prob_image, ct, truth


def _score_by_ct(labels: sitk.Image, ct: sitk.Image, probability: sitk.Image) -> dict[int, float]:
    """Score = (mean CT of the candidate + 1000) / 1000, read from the whole CT where the labels
    (a crop, placed by its origin) lie."""
    on_labels = sitk.GetArrayFromImage(sitk.Resample(ct, labels, sitk.Transform(), sitk.sitkNearestNeighbor))
    lab = sitk.GetArrayFromImage(labels)
    return {int(k): round((float(on_labels[lab == k].mean()) + 1000.0) / 1000.0, 6) for k in np.unique(lab) if k}


def _tumour_free_case() -> tuple[sitk.Image, sitk.Image, np.ndarray]:
    """A case without tumours and one false 3³ blob scored 0.2."""
    prob = np.zeros((20, 20, 20), dtype=np.float32)
    hu = np.full(prob.shape, -850, dtype=np.int16)
    prob[5:8, 5:8, 5:8], hu[5:8, 5:8, 5:8] = 0.8, 200 - 1000
    return sitk.GetImageFromArray(prob), sitk.GetImageFromArray(hu), np.zeros(prob.shape, dtype=np.uint8)


RULE = LesionFilter(min_lesion_mm3=10.0, max_elongation=3.0, outline_growth=OutlineGrowth(-900.0, 100.0, 2.0))


def _scored() -> list:
    return [scored_candidates(*case, 0.5, RULE, _score_by_ct) for case in (_scored_case(), _tumour_free_case())]


def test_scored_candidates_are_those_the_lesion_filter_keeps_with_their_scores() -> None:
    case, free = _scored()
    # labels by decreasing volume: A (1728), C (64), B (27); the rod D and the speck S rejected
    assert case.scores.tolist() == [0.8, 0.5, 0.3] and free.scores.tolist() == [0.2]
    # truth tumours in scan order: A, E (the rod), B; only A is >= 10 mm
    assert case.large.tolist() == [True, False, False] and case.n_truth == 3 and free.n_truth == 0
    assert case.touches.tolist() == [[True, False, False], [False, False, False], [False, False, True]]


def test_classifier_froc_counts_what_the_candidates_kept_at_each_score_level() -> None:
    cases = _scored()
    levels = score_levels([c.scores for c in cases], [CUTOFF], grid=(0.0, 0.9, 0.95, 1.0))
    assert levels == [0.0, 0.2, 0.3, CUTOFF, 0.5, 0.8, 0.9, 0.95, 1.0]
    curve = scored_froc_curve(cases, levels)
    assert curve.n_lesions == 3 and curve.n_cases == 2 and curve.lesion_score == "candidate classifier score"
    # >= 0 and 0.2: A, B, C, F; 0.3: A, B, C; 0.4 and 0.5: A, C; 0.8: A; above: nothing. The
    # rejected rod (on tumour E) and speck (scored 0.95) never count: E is never found and
    # nothing is kept at 0.9 and 0.95.
    assert curve.false_positives_per_case.tolist() == [1.0, 1.0, 0.5, 0.5, 0.5, 0.0, 0.0, 0.0, 0.0]
    assert curve.sensitivity.tolist() == pytest.approx([2 / 3, 2 / 3, 2 / 3, 1 / 3, 1 / 3, 1 / 3, 0, 0, 0])
    large = scored_froc_curve(cases, levels, large_only=True)
    assert large.n_lesions == 1 and large.sensitivity.tolist() == [1, 1, 1, 1, 1, 1, 0, 0, 0]
    assert large.false_positives_per_case.tolist() == curve.false_positives_per_case.tolist()
    # CPM: at 1/8 and 1/4 FP/case only the 0.8 level (1/3); at 1/2 the 0.3 level (2/3) and on
    assert curve.cpm() == pytest.approx((2 * (1 / 3) + 5 * (2 / 3)) / 7)


def test_the_card_point_of_the_classifier_curve_is_what_the_pipeline_keeps_at_the_cutoff() -> None:
    cases = _scored()
    curve = scored_froc_curve(cases, score_levels([c.scores for c in cases], [CUTOFF]))
    assert curve.point_at(CUTOFF) == pytest.approx((0.5, 1 / 3))
    with pytest.raises(ValueError, match="not a level"):
        curve.point_at(0.41)
    # the pipeline's own rule: the card's limits, then the judge rejects scores below the cut-off
    fp = found = 0
    for prob, ct, truth in (_scored_case(), _tumour_free_case()):
        def judge(labels, ct=ct, prob=prob):
            return {k for k, s in _score_by_ct(labels, ct, prob).items() if s < CUTOFF}
        kept = sitk.GetArrayFromImage(label_lesions(prob, 0.5, RULE, ct=ct, judge=judge))
        t_lab, n_t = ndi.label(truth)
        fp += sum(not truth[kept == k].any() for k in range(1, kept.max() + 1))
        found += sum(bool((kept[t_lab == t] > 0).any()) for t in range(1, n_t + 1))
    assert (fp / 2, found / 3) == pytest.approx(curve.point_at(CUTOFF))


def test_classifier_curves_keep_their_score_in_the_record_and_peak_curves_stay_as_they_were() -> None:
    cases = _scored()
    curve = scored_froc_curve(cases, score_levels([c.scores for c in cases], [CUTOFF], grid=()))
    record = json.loads(json.dumps(curve.to_dict()))
    assert record["lesion_score"] == "candidate classifier score" and "peak_levels" not in record
    assert record["score_levels"] == [0.2, 0.3, CUTOFF, 0.5, 0.8]
    back = FrocCurve.from_dict(record)
    assert back.lesion_score == curve.lesion_score and back.point_at(CUTOFF) == curve.point_at(CUTOFF)
    peak = froc_curve(_curves(), LEVELS).to_dict()
    assert peak["lesion_score"] == "peak tumour probability" and peak["peak_levels"] == list(LEVELS)
    assert "score_levels" not in peak
    assert FrocCurve.from_dict(peak).lesion_score == "peak tumour probability"


def test_scored_candidates_refuse_a_scorer_that_skips_a_candidate_and_size_after_growth() -> None:
    prob, ct, truth = _scored_case()
    with pytest.raises(ValueError, match="no score"):
        scored_candidates(prob, ct, truth, 0.5, RULE, lambda labels, ct, p: {1: 0.5})
    grown = LesionFilter(10.0, outline_growth=OutlineGrowth(-900.0, 100.0, 2.0), size_after_growth=True)
    with pytest.raises(ValueError, match="grown outline"):
        scored_candidates(prob, ct, truth, 0.5, grown, _score_by_ct)
    nothing = scored_candidates(prob, ct, truth, 0.99, RULE, _score_by_ct)
    assert nothing.scores.size == 0 and nothing.touches.shape == (3, 0)
    assert scored_froc_curve([nothing], [0.0]).sensitivity.tolist() == [0.0]


def _balls_case() -> tuple[sitk.Image, sitk.Image, np.ndarray]:
    """Six 3–5 mm balls of tumour-like CT (with noise, seed 7) in lung on a 1 mm grid, three of
    them truth tumours, each with its own probability."""
    rng = np.random.default_rng(7)
    shape = (40, 60, 90)
    zz, yy, xx = np.indices(shape)
    hu = rng.normal(-850.0, 30.0, shape)
    prob = np.zeros(shape, dtype=np.float32)
    truth = np.zeros(shape, dtype=np.uint8)
    centres = [(20, 15, 15), (20, 15, 45), (20, 15, 75), (20, 45, 15), (20, 45, 45), (20, 45, 75)]
    for i, (z, y, x) in enumerate(centres):
        ball = (zz - z) ** 2 + (yy - y) ** 2 + (xx - x) ** 2 <= (3 + i % 3) ** 2
        hu[ball] = rng.normal((40.0, -400.0, 150.0)[i % 3], 20.0, int(ball.sum()))
        prob[ball] = (0.95, 0.6, 0.8)[i % 3]
        truth[ball] = i < 3
    ct = sitk.GetImageFromArray(hu.astype(np.int16))
    ct.SetSpacing((1.0, 1.0, 1.0))
    probability = sitk.GetImageFromArray(prob)
    probability.CopyInformation(ct)
    return probability, ct, truth


def test_the_shipped_classifiers_curve_meets_the_pipeline_at_its_cutoff() -> None:
    check = load_package(default_package_dir()).candidate_check()
    assert check is not None, "the shipped package carries a candidate classifier"
    prob, ct, truth = _balls_case()
    rule = LesionFilter(min_lesion_mm3=30.0)
    case = scored_candidates(prob, ct, truth, 0.5, rule, check.scores)
    assert case.scores.size == 6 and case.n_truth == 3 and np.all((case.scores > 0) & (case.scores < 1))
    # a cut-off between the scores, so the classifier keeps some candidates and rejects others
    judge = CandidateCheck(check.network, float(np.median(case.scores)))
    curve = scored_froc_curve([case], score_levels([case.scores], [judge.cutoff]))
    labels, lesions = lesions_from_probability(prob, ct, 0.5, rule, MeasureContext(), judge)
    kept = sitk.GetArrayFromImage(labels)
    assert 0 < len(lesions) == int((case.scores >= judge.cutoff).sum()) < 6
    t_lab, n_t = ndi.label(truth)
    fp = sum(not truth[kept == k].any() for k in range(1, kept.max() + 1))
    found = sum(bool((kept[t_lab == t] > 0).any()) for t in range(1, n_t + 1))
    assert curve.point_at(judge.cutoff) == pytest.approx((fp, found / 3))
    # the lowest level keeps all six candidates: three false, three tumours found
    assert (curve.false_positives_per_case[0], curve.sensitivity[0]) == (3.0, 1.0)


def test_plot_froc_draws_peak_and_classifier_curves_together(tmp_path) -> None:
    peak = froc_curve(_curves(), LEVELS)
    cases = _scored()
    classifier = scored_froc_curve(cases, score_levels([c.scores for c in cases], [CUTOFF]))
    curves = {f"peak {i}": peak for i in range(4)} | {"classifier": classifier, "classifier, large": classifier}
    path = plot_froc(curves, tmp_path / "both.png", {"classifier": classifier.point_at(CUTOFF)})
    assert path.is_file() and path.stat().st_size > 10_000
