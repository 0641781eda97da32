"""The size limit judged on the grown outline (``LesionFilter.size_after_growth``), in the
pipeline's lesion rule and in the calibration candidates that choose its value.

Scene: aerated lung (-850 HU) holding two network responses of the same size and
probability: a tumour whose dense core the "network" found and whose partial-volume rim it
missed, and a dense speck with only aerated lung around it. Judged on the thresholded
outline the two are alike; after growth only the tumour is large. The expected voxel sets
and counts come from the scene's geometry, not from the code under test.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import SimpleITK as sitk

from lungtumorseg.evaluation.candidates import case_candidates, curve_from_candidates
from lungtumorseg.evaluation.procedures import PROCEDURES
from lungtumorseg.outline import OutlineGrowth
from lungtumorseg.postprocess import LesionFilter, label_lesions

SPACING = (0.8, 0.8, 1.0)  # x, y, z mm
SHAPE = (40, 60, 100)  # z, y, x
GROWTH = OutlineGrowth(min_hu=-550.0, max_hu=100.0, max_distance_mm=4.0)
TUMOUR_CENTRE, SPECK_CENTRE = (20, 30, 30), (20, 30, 72)  # voxel indices z, y, x: 33.6 mm apart
CORE_MM, RIM_MM = 3.0, 9.0


def _distance_mm(centre_zyx: tuple[int, int, int]) -> np.ndarray:
    z, y, x = np.indices(SHAPE, dtype=float)
    return np.sqrt(((z - centre_zyx[0]) * SPACING[2]) ** 2 + ((y - centre_zyx[1]) * SPACING[1]) ** 2
                   + ((x - centre_zyx[2]) * SPACING[0]) ** 2)


def _image(array: np.ndarray) -> sitk.Image:
    image = sitk.GetImageFromArray(array)
    image.SetSpacing(SPACING)
    image.SetOrigin((10.0, -40.0, -120.0))
    return image


def _scene(peak: float = 0.9):
    """CT, probability and truth (the whole tumour: core and rim) of the two-response scene."""
    tumour, speck = _distance_mm(TUMOUR_CENTRE), _distance_mm(SPECK_CENTRE)
    ct = np.full(SHAPE, -850.0, np.float32)
    ct[tumour <= RIM_MM] = -300.0
    ct[tumour <= CORE_MM] = 30.0
    ct[speck <= CORE_MM] = 30.0
    probability = np.zeros(SHAPE, np.float32)
    probability[tumour <= CORE_MM] = peak
    probability[speck <= CORE_MM] = peak
    truth = (tumour <= RIM_MM).astype(np.uint8)
    return ct, probability, truth, tumour, speck


def _rule(min_mm3: float, after: bool, min_peak: float = 0.0) -> LesionFilter:
    return LesionFilter(min_lesion_mm3=min_mm3, min_peak_probability=min_peak, outline_growth=GROWTH,
                        size_after_growth=after)


def test_the_scene_separates_the_two_responses_only_after_growth():
    """Guards the scene itself: equal cores (~113 mm3), the tumour's grown outline far larger."""
    _, _, _, tumour, speck = _scene()
    voxel = float(np.prod(SPACING))
    core = (tumour <= CORE_MM).sum() * voxel
    assert abs(core - (speck <= CORE_MM).sum() * voxel) < 1.0
    assert 80.0 < core < 150.0
    assert (tumour <= CORE_MM + GROWTH.max_distance_mm).sum() * voxel > 1000.0


def test_size_judged_on_the_grown_outline_keeps_the_under_segmented_tumour_and_drops_the_speck():
    ct, probability, _, tumour, speck = _scene()
    ct_image, prob_image = _image(ct), _image(probability)
    before = sitk.GetArrayFromImage(ct_image).copy()
    after = sitk.GetArrayFromImage(label_lesions(prob_image, 0.5, _rule(400.0, True), ct=ct_image))
    assert set(np.unique(after)) == {0, 1}
    assert (after[tumour <= CORE_MM + 2.0] == 1).all(), "the kept tumour lost its grown outline"
    assert not after[speck <= CORE_MM + 2.0].any(), "the speck passed the size limit"
    assert not after[tumour > CORE_MM + GROWTH.max_distance_mm + 1.0].any()
    np.testing.assert_array_equal(sitk.GetArrayFromImage(ct_image), before)

    # judged before growth, as every card before this option: both cores are under 400 mm3
    before_growth = sitk.GetArrayFromImage(label_lesions(prob_image, 0.5, _rule(400.0, False), ct=ct_image))
    assert not before_growth.any()
    # with growth switched off the size is judged on the reported, thresholded outline
    no_growth = _rule(400.0, True).overridden(outline_growth=False)
    assert no_growth.size_after_growth and no_growth.outline_growth is None
    assert not sitk.GetArrayFromImage(label_lesions(prob_image, 0.5, no_growth, ct=ct_image)).any()


def test_the_other_limits_still_judge_the_thresholded_component():
    ct, probability, _, _, _ = _scene(peak=0.55)
    kept = label_lesions(_image(probability), 0.5, _rule(400.0, True, min_peak=0.6), ct=_image(ct))
    assert not sitk.GetArrayFromImage(kept).any(), "growth must not lift a response over the peak limit"


@pytest.mark.parametrize("after", [True, False])
def test_candidates_measured_with_growth_score_exactly_what_the_pipeline_reports(after: bool):
    ct, probability, truth, _, _ = _scene()
    candidates = case_candidates(probability, truth, SPACING, [0.5], hu=ct, growth=GROWTH)
    volumes = [50.0, 400.0, 5000.0]
    curve = curve_from_candidates(candidates, [_rule(v, after) for v in volumes])
    for column, volume in enumerate(volumes):
        labels = sitk.GetArrayFromImage(label_lesions(_image(probability), 0.5, _rule(volume, after),
                                                      ct=_image(ct)))
        lesion = labels > 0
        reported_dice = 2.0 * (lesion & (truth > 0)).sum() / (lesion.sum() + truth.sum())
        assert curve.dice[0, column] == pytest.approx(reported_dice, abs=1e-9)
        false = sum(1 for k in range(1, int(labels.max()) + 1) if not truth[labels == k].any())
        assert curve.false_positives[0, column] == false
        assert curve.detected[0, column] == int(bool((lesion & (truth > 0)).any()))
    # from the scene: at 50 mm3 both responses count (the speck falsely), at 5000 mm3 neither,
    # at 400 mm3 only the tumour's grown outline passes
    assert list(curve.false_positives[0]) == [1, 0, 0]
    assert list(curve.detected[0]) == ([1, 1, 0] if after else [1, 0, 0])


def test_candidates_without_growth_refuse_a_size_judged_after_growth():
    ct, probability, truth, _, _ = _scene()
    plain = case_candidates(probability, truth, SPACING, [0.5], hu=ct)
    with pytest.raises(ValueError, match="after growth"):
        curve_from_candidates(plain, [_rule(400.0, True)])
    with pytest.raises(ValueError, match="grown-size|after growth"):
        PROCEDURES["grown-size"].summarise([plain])
    with pytest.raises(ValueError, match="needs the CT"):
        case_candidates(probability, truth, SPACING, [0.5], growth=GROWTH)


def test_the_card_key_round_trips_and_only_a_boolean_is_accepted():
    rule = _rule(400.0, True)
    card = rule.to_dict()
    assert card["size_after_growth"] is True
    assert LesionFilter.from_dict(card) == rule
    assert "size_after_growth" not in _rule(400.0, False).to_dict()
    with pytest.raises(ValueError, match="size_after_growth"):
        LesionFilter.from_dict({**card, "size_after_growth": "yes"})
    with pytest.raises(ValueError, match="zone limits cannot carry"):
        LesionFilter(zone_limits=(("middle", LesionFilter(size_after_growth=True)),))
    assert all(f.size_after_growth for f in PROCEDURES["grown-size"].filters)
    assert not any(f.size_after_growth for f in PROCEDURES["no-zone-limits-wide"].filters)
    ten_mm_sphere_mm3 = math.pi / 6.0 * 10.0 ** 3
    assert max(f.min_lesion_mm3 for f in PROCEDURES["no-zone-limits-wide"].filters) > ten_mm_sphere_mm3


def test_a_chosen_point_keeps_judging_the_size_after_growth_when_it_is_scored_elsewhere():
    """The chosen operating point must carry the option into out-of-fold scoring and the card."""
    from lungtumorseg.evaluation.cross_validation import score_point

    ct, probability, truth, _, speck = _scene()
    procedure = PROCEDURES["grown-size"]
    candidates = case_candidates(probability, truth, SPACING, procedure.thresholds, hu=ct, growth=GROWTH)
    point = procedure.start(procedure.summarise([candidates]))
    assert point.lesion_filter.size_after_growth
    speck_mm3 = (speck <= CORE_MM).sum() * float(np.prod(SPACING))  # it cannot grow into aerated lung
    assert point.min_lesion_mm3 > speck_mm3  # only the tumour passes
    scored = score_point(point, candidates)
    assert scored.detected[0, 0] == 1 and scored.false_positives[0, 0] == 0
