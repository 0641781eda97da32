"""Choosing the outline growth on calibration cases (``evaluation.outline_calibration``).

Two synthetic worlds built from geometry: in one the truth includes the rim the map missed
(growth must win), in the other the rim is not tumour (no growth must win). The scores are
checked against Dice computed here from the same geometry.
"""

from __future__ import annotations

import numpy as np
import SimpleITK as sitk

from lungtumorseg.evaluation.outline_calibration import (
    GROWTH_GRID, CalibrationCase, choose_growth, score_growths,
)
from lungtumorseg.outline import OutlineGrowth
from lungtumorseg.postprocess import LesionFilter

SHAPE = (24, 48, 48)


def _image(array: np.ndarray) -> sitk.Image:
    image = sitk.GetImageFromArray(array)
    image.SetSpacing((1.0, 1.0, 1.0))
    return image


def _case(rim_is_tumour: bool) -> tuple[CalibrationCase, np.ndarray, np.ndarray]:
    z, y, x = np.indices(SHAPE, dtype=float)
    r = np.sqrt((z - 12) ** 2 + (y - 24) ** 2 + (x - 24) ** 2)
    core, rim = r <= 4.0, (r > 4.0) & (r <= 6.0)
    ct = np.full(SHAPE, -850.0, np.float32)
    ct[core], ct[rim] = 30.0, -300.0
    probability = np.where(core, 0.95, 0.01).astype(np.float32)
    truth = core | rim if rim_is_tumour else core
    return CalibrationCase(_image(probability), _image(ct), truth), core, rim


def test_growth_is_chosen_when_the_truth_has_the_missed_rim_and_scores_are_right():
    case, core, rim = _case(rim_is_tumour=True)
    free, _, _ = _case(rim_is_tumour=False)
    free = CalibrationCase(free.probability, free.ct, np.zeros(SHAPE, bool))  # a tumour-free case: no Dice
    reach_3 = OutlineGrowth(-550.0, 100.0, 3.0)
    scores = score_growths([case, free], 0.5, LesionFilter(min_lesion_mm3=10.0), [None, reach_3])
    none, grown = scores
    expected_none = 2 * core.sum() / (2 * core.sum() + rim.sum())  # core found, rim missed, no false voxel
    assert abs(none.mean_dice - expected_none) < 1e-9
    assert grown.mean_dice == 1.0 and grown.recall == 1.0
    assert none.lesions == grown.lesions == 2  # one in each case: growth never changes the count
    assert choose_growth(scores).growth == reach_3


def test_no_growth_is_chosen_when_the_rim_is_not_tumour():
    case, core, rim = _case(rim_is_tumour=False)
    scores = score_growths([case], 0.5, LesionFilter(min_lesion_mm3=10.0), [None, *GROWTH_GRID])
    assert scores[0].mean_dice == 1.0
    assert all(s.mean_dice < 1.0 for s in scores[1:] if s.growth.min_hu <= -300.0)
    assert choose_growth(scores).growth is None


def test_ties_go_to_the_earlier_setting():
    case, _, _ = _case(rim_is_tumour=True)
    a, b = OutlineGrowth(-550.0, 100.0, 3.0), OutlineGrowth(-550.0, 100.0, 2.5)  # both reach the 6 mm rim
    scores = score_growths([case], 0.5, LesionFilter(), [a, b])
    assert scores[0].mean_dice == scores[1].mean_dice and choose_growth(scores).growth == a
