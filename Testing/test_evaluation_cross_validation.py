"""Lesion candidates, calibration procedures and their cross-validation on hand-built cases.

Cases are boxes on a 1 mm grid; every expected count below follows from the boxes drawn
here (a 8³ box is 512 mm³), not from the code under test.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from lungtumorseg.evaluation.candidates import case_candidates, curve_from_candidates
from lungtumorseg.evaluation.cross_validation import (
    CrossValidation, choose_procedure, cross_validate, stratified_folds,
)
from lungtumorseg.evaluation.procedures import (
    MAX_ELONGATIONS, MAX_MEAN_HUS, MIN_PEAKS, MIN_VOLUMES_MM3, PROCEDURES, THRESHOLDS, ZONE_LIMITS,
    CalibrationProcedure, filter_grid,
)
from lungtumorseg.evaluation.targets import ISSUE_TARGETS, targets_met
from lungtumorseg.postprocess import LesionFilter

SPACING = (1.0, 1.0, 1.0)


def _case(tumour: bool = True, false_box: int = 0, peak: float = 0.9):
    """A 40³ case: an 8³ tumour (512 mm³, 9.9 mm) at probability ``peak`` when ``tumour``, and
    a ``false_box``³ false finding at 0.9 elsewhere when ``false_box`` > 0."""
    truth = np.zeros((40, 40, 40), dtype=np.uint8)
    prob = np.zeros(truth.shape, dtype=np.float32)
    if tumour:
        truth[4:12, 4:12, 4:12] = 1
        prob[4:12, 4:12, 4:12] = peak
    if false_box:
        prob[25:25 + false_box, 25:25 + false_box, 25:25 + false_box] = 0.9
    return prob, truth


def _candidates(tumour: bool = True, false_box: int = 0, peak: float = 0.9, zone: str = "upper"):
    prob, truth = _case(tumour, false_box, peak)
    return case_candidates(prob, truth, SPACING, (0.3, 0.5, 0.8), hu=np.zeros(prob.shape),
                           zone_of_centroids=lambda c: np.full(len(c), zone, dtype=object))


def test_candidates_keep_each_component_measured_once_per_threshold() -> None:
    cands = _candidates(false_box=6)
    at_05 = cands.at_threshold[cands.index_of(0.5)]
    np.testing.assert_allclose(sorted(at_05.volume_mm3), [216.0, 512.0])
    assert sorted(at_05.overlap_voxels.tolist()) == [0, 512]
    assert at_05.touches.shape == (1, 2) and at_05.touches.sum() == 1
    assert list(at_05.zone) == ["upper", "upper"]
    assert cands.n_truth == 1 and cands.truth_voxels == 512 and not cands.large.any()  # 9.9 mm < 10 mm
    with pytest.raises(ValueError, match="not measured"):
        cands.index_of(0.45)


def test_curve_rows_follow_the_requested_thresholds() -> None:
    cands = _candidates(false_box=6, peak=0.6)  # the tumour is gone at 0.8, the false box is not
    curve = curve_from_candidates(cands, [LesionFilter(30.0), LesionFilter(250.0)], [0.8, 0.3])
    np.testing.assert_array_equal(curve.detected, [[0, 0], [1, 1]])
    np.testing.assert_array_equal(curve.false_positives, [[1, 0], [1, 0]])
    np.testing.assert_allclose(curve.dice[1], [2 * 512 / (512 + 216 + 512), 1.0])


def test_curve_refuses_limits_the_candidates_cannot_judge() -> None:
    prob, truth = _case(false_box=6)
    bare = case_candidates(prob, truth, SPACING, (0.5,))
    with pytest.raises(ValueError, match="mean density"):
        curve_from_candidates(bare, [LesionFilter(30.0, max_mean_hu=150.0)])
    with pytest.raises(ValueError, match="zone"):
        curve_from_candidates(bare, [LesionFilter(30.0).with_zone_limit("upper", LesionFilter(400.0))])


def test_stratified_folds_partition_the_cases_and_share_out_both_kinds() -> None:
    flags = [True] * 16 + [False] * 4
    folds = stratified_folds(flags, 4, np.random.default_rng(3))
    joined = np.concatenate(folds)
    assert sorted(joined.tolist()) == list(range(20))
    for fold in folds:
        assert len(fold) == 5 and sum(not flags[i] for i in fold) == 1
    again = stratified_folds(flags, 4, np.random.default_rng(3))
    assert all(np.array_equal(a, b) for a, b in zip(folds, again))
    with pytest.raises(ValueError):
        stratified_folds(flags, 1, np.random.default_rng(0))
    with pytest.raises(ValueError):
        stratified_folds(flags[:3], 4, np.random.default_rng(0))


def test_cross_validation_scores_each_case_with_a_point_chosen_without_it() -> None:
    # Four cases with a tumour only, one with a tumour and a 6³ (216 mm³) false finding.
    # Chosen on all five, a 250 mm³ minimum removes the false finding (no false positive);
    # in each fold the case with the false finding is scored by a point chosen on the other
    # four, where every minimum volume ties and the most permissive (30 mm³) wins.
    cases = [_candidates() for _ in range(4)] + [_candidates(false_box=6)]
    procedure = CalibrationProcedure("test", "threshold x volume", (0.3, 0.5), filter_grid((30.0, 250.0)))
    in_sample, _ = procedure.choose(cases)
    assert in_sample.min_lesion_mm3 == 250.0 and in_sample.false_positives_per_case == 0.0
    result = cross_validate(procedure, cases, folds=5, repeats=2, seed=0)
    assert len(result.repeats) == 2 and len(result.points) == 10
    for repeat in result.repeats:
        assert repeat["false_positives_per_case"] == pytest.approx(1 / 5)
        assert repeat["lesion_f1"] == pytest.approx(2 * 5 / (2 * 5 + 1))
        assert repeat["mean_dice"] == pytest.approx((4 * 1.0 + 2 * 512 / (512 + 216 + 512)) / 5)
    assert math.isnan(result.mean()["clean_fraction"])  # no tumour-free case
    assert result.threshold_spread()["chosen"] == {"0.30": 10}


def test_zone_limits_of_a_procedure_are_chosen_per_zone() -> None:
    # False findings of 216 mm³ only in the lower zone: an extra lower-zone minimum volume
    # removes them there, the other zones stay as they are.
    cases = [_candidates(zone="upper") for _ in range(3)] + [_candidates(false_box=6, zone="lower")
                                                            for _ in range(3)]
    procedure = CalibrationProcedure("zones", "volume, then zone limits", (0.5,), filter_grid((30.0,)),
                                     (LesionFilter(250.0), LesionFilter(600.0)))
    point, steps = procedure.choose(cases)
    assert [s["zone"] for s in steps] == ["upper", "middle", "lower"]
    assert steps[0]["limit"] is None and steps[1]["limit"] is None
    assert steps[2]["limit"]["min_lesion_mm3"] == 250.0  # 600 would also drop the 512 mm³ tumours
    assert point.false_positives_per_case == 0.0 and dict(point.zone_limits)["lower"].min_lesion_mm3 == 250.0


def test_the_offered_procedures_free_the_limits_they_name() -> None:
    full, no_zones, plain, volume = (PROCEDURES[n] for n in ("full", "no-zone-limits", "plain", "threshold-volume"))
    assert len(full.filters) == len(MIN_VOLUMES_MM3) * len(MIN_PEAKS) * len(MAX_ELONGATIONS) * len(MAX_MEAN_HUS)
    assert full.zone_limits == ZONE_LIMITS and not no_zones.zone_limits and no_zones.filters == full.filters
    assert {(f.max_elongation, f.max_mean_hu) for f in plain.filters} == {(math.inf, math.inf)}
    assert len(plain.filters) == len(MIN_VOLUMES_MM3) * len(MIN_PEAKS)
    assert {f.min_peak_probability for f in volume.filters} == {0.0} and len(volume.filters) == len(MIN_VOLUMES_MM3)
    assert all(p.thresholds == THRESHOLDS and p.rule == "lesion-f1" for p in PROCEDURES.values())
    assert full.filters[0] == LesionFilter(30.0)  # the most permissive first: it wins a full tie


def _result(name: str, f1: float, fp: float = 0.5) -> CrossValidation:
    measures = {"mean_dice": 0.7, "sensitivity_large": 0.8, "false_positives_per_case": fp, "clean_fraction": 0.5,
                "lesion_f1": f1}
    return CrossValidation(name, 5, repeats=[measures])


def test_procedure_choice_puts_targets_first_then_f1_then_simplicity() -> None:
    order = ("threshold-volume", "plain", "full")
    # Best F1 wins when nothing simpler is within 0.005 of it.
    assert choose_procedure([_result("plain", 0.80), _result("full", 0.81)], order).procedure == "full"
    # Within 0.005 the simpler procedure wins.
    assert choose_procedure([_result("plain", 0.807), _result("full", 0.81)], order).procedure == "plain"
    # A target met (false positives <= 0.3) outranks a better F1.
    assert choose_procedure([_result("threshold-volume", 0.70, fp=0.2), _result("full", 0.90)],
                            order).procedure == "threshold-volume"
    with pytest.raises(ValueError, match="simplicity order"):
        choose_procedure([_result("unknown", 0.8)], order)


def test_targets_are_judged_in_their_direction_and_never_on_nan() -> None:
    assert ISSUE_TARGETS["false_positives_per_case"].met(0.3) and not ISSUE_TARGETS["false_positives_per_case"].met(0.31)
    assert ISSUE_TARGETS["mean_dice"].met(0.85) and not ISSUE_TARGETS["mean_dice"].met(0.849)
    assert not ISSUE_TARGETS["clean_fraction"].met(float("nan"))
    assert targets_met({"mean_dice": 0.9, "sensitivity_large": 0.96, "false_positives_per_case": 0.1,
                        "clean_fraction": 0.95}) == 4
    assert targets_met({"mean_dice": 0.9}) == 1
