"""Half-maximum outlines (``lungtumorseg.half_maximum``) and their place in the lesion rule.

Synthetic scenes with partial volume made the way the phantom engine makes it: a fine grid is
averaged into thick slices (the CT) and the label is the tumour where at least half of a voxel
is tumour (``phantoms.scanner.collapse_labels``), so the truth comes from the scene's geometry,
not from the code under test.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import SimpleITK as sitk
from scipy import ndimage as ndi

from lungtumorseg.half_maximum import HalfMaximumOutline, refine_label_array, refine_outlines
from lungtumorseg.outline import OutlineGrowth, grow_label_array
from lungtumorseg.phantoms.scanner import collapse, collapse_labels
from lungtumorseg.postprocess import LesionFilter
from lungtumorseg.relabel import lesions_from_probability

SUB = 8  # fine sub-slices per slice: 0.5 mm -> 4 mm slices
FINE_Z, XY = 0.5, 0.8  # mm
SHAPE_FINE = (SUB * 10, 64, 64)  # z, y, x
RULE = HalfMaximumOutline()
LUNG_HU = -850.0


def _image(array: np.ndarray) -> sitk.Image:
    image = sitk.GetImageFromArray(array)
    image.SetSpacing((XY, XY, FINE_Z * SUB))
    image.SetOrigin((-20.0, 5.0, -150.0))
    return image


def _scene(radius_mm: float, tumour_hu: float, centre=(40.0, 32.0, 32.0)):
    """Thick-slice CT (HU) and its majority label of a sphere of ``tumour_hu`` in aerated lung."""
    z, y, x = np.indices(SHAPE_FINE, dtype=float)
    r = np.sqrt(((z - centre[0]) * FINE_Z) ** 2 + ((y - centre[1]) * XY) ** 2 + ((x - centre[2]) * XY) ** 2)
    inside = r <= radius_mm
    fine = np.where(inside, tumour_hu, LUNG_HU).astype(np.float32)
    ct = collapse(fine, SUB)
    truth = collapse_labels(inside.astype(np.uint8), SUB, [1]) > 0
    return ct, truth


def _dice(a: np.ndarray, b: np.ndarray) -> float:
    return 2.0 * float((a & b).sum()) / float(a.sum() + b.sum())


def test_a_solid_tumour_outline_with_its_partial_volume_rim_is_tightened_to_the_half_voxel_truth():
    ct, truth = _scene(6.0, 30.0)
    wide = ct >= -650.0  # the fixed floor of the outline growth takes in the rim
    assert wide.sum() > truth.sum() * 1.15  # the scene does show the over-segmentation
    refined = refine_label_array(wide.astype(np.uint16), ct, (XY, XY, FINE_Z * SUB), RULE) > 0
    assert _dice(refined, truth) > _dice(wide, truth) + 0.03
    assert _dice(refined, truth) >= 0.95


def test_a_ground_glass_tumour_marked_in_its_middle_grows_towards_its_edge_within_the_reach():
    ct, truth = _scene(7.0, -600.0)
    in_plane = np.zeros((3, 3, 3), bool)
    in_plane[1] = ndi.generate_binary_structure(2, 1)
    core = ndi.binary_erosion(truth, in_plane, iterations=2)  # two voxels in from the edge: what a network marks
    assert core.sum() > 0
    refined = refine_label_array(core.astype(np.uint16), ct, (XY, XY, FINE_Z * SUB), RULE) > 0
    assert refined.sum() > core.sum() * 1.2
    assert _dice(refined, truth) > _dice(core, truth) + 0.05
    assert not (refined & ~truth & (ct <= -800.0)).any()  # never into aerated lung
    # the growth reach: nothing farther than 2 mm from the core (plus a voxel for the grid)
    distance = sitk.GetArrayFromImage(sitk.SignedMaurerDistanceMap(
        _image(core.astype(np.uint8)), insideIsPositive=False, squaredDistance=False, useImageSpacing=True))
    assert distance[refined].max() <= RULE.max_distance_mm + 1e-6


def test_a_vessel_cut_off_at_the_level_is_dropped_and_the_lesion_stays_one_piece():
    ct, truth = _scene(6.0, 30.0)
    vessel = np.zeros_like(truth)
    vessel[4:6, 31:34, 40:62] = True  # a tube leaving the tumour, marked with it by the "network"
    ct = ct.copy()
    ct[vessel & ~truth] = -500.0  # thinner than a voxel: below the solid tumour's half-maximum level
    knot = np.zeros_like(truth)
    knot[4:6, 31:34, 56:60] = True  # a dense crossing on the vessel, above the level but cut off from the tumour
    ct[knot] = 30.0
    labels = (truth | vessel).astype(np.uint16)
    refined = refine_label_array(labels, ct, (XY, XY, FINE_Z * SUB), RULE)
    assert not refined[vessel & ~truth].any()  # the vessel and its knot are gone
    assert (refined[truth] == 1).mean() > 0.9
    pieces = sitk.GetArrayFromImage(sitk.ConnectedComponent(sitk.GetImageFromArray((refined > 0).astype(np.uint8))))
    assert pieces.max() == 1


def test_lesions_are_never_added_removed_or_merged_and_are_numbered_by_their_new_volume():
    big_ct, big = _scene(6.0, 30.0, centre=(40.0, 32.0, 20.0))
    small_ct, small = _scene(4.0, -600.0, centre=(40.0, 32.0, 40.0))
    ct = np.maximum(big_ct, small_ct)
    labels = np.zeros(big.shape, np.uint16)
    labels[big] = 1
    labels[small] = 2
    labels[(ct < -840.0) & (np.indices(ct.shape)[2] == 60)] = 0
    before = (ct.copy(), labels.copy())
    ct_image, label_image = _image(ct), _image(labels)
    out = sitk.GetArrayFromImage(refine_outlines(label_image, ct_image, RULE))
    assert sorted(np.unique(out)) == [0, 1, 2]
    assert (out == 1).sum() >= (out == 2).sum()
    assert (out[big] == 1).mean() > 0.9 and (out[small] == 2).mean() > 0.9
    np.testing.assert_array_equal(sitk.GetArrayFromImage(ct_image), before[0])
    np.testing.assert_array_equal(sitk.GetArrayFromImage(label_image), before[1])


def test_a_lesion_no_denser_than_the_lung_or_left_in_small_pieces_keeps_its_outline():
    ct = np.full((10, 40, 40), LUNG_HU, np.float32)
    labels = np.zeros(ct.shape, np.uint16)
    labels[4:7, 10:30, 10:30] = 1
    ct[5, 20, 20] = 50.0  # one dense voxel: the lesion is aerated lung, its level would be the lung's
    np.testing.assert_array_equal(refine_label_array(labels, ct, (XY, XY, 4.0), RULE), labels)
    # five dense blobs joined by faint bridges: at the level, the largest piece is a fifth of the lesion
    ct[4:7, 10:30, 10:30] = -780.0
    for x in (10, 14, 18, 22, 26):
        ct[4:7, 10:30, x:x + 3] = 40.0
    refined = refine_label_array(labels, ct, (XY, XY, 4.0), RULE)
    np.testing.assert_array_equal(refined, labels)


def test_the_rule_round_trips_through_the_card_and_bad_values_are_refused():
    rule = HalfMaximumOutline(max_distance_mm=3.0, lung_shell_mm=(2.0, 8.0))
    again = HalfMaximumOutline.from_dict(rule.to_dict())  # its "method" only describes
    assert again == rule
    assert HalfMaximumOutline.from_dict({}) == HalfMaximumOutline()
    for bad in ({"max_distance_mm": 0}, {"lung_shell_mm": [5, 3]}, {"min_kept_share": 2},
                {"aerated_max_hu": 200}, {"unknown": 1}, {"lung_shell_mm": 4}, {"min_contrast_hu": 0}):
        with pytest.raises(ValueError):
            HalfMaximumOutline.from_dict(bad)
    card = {"min_lesion_mm3": 30.0, "outline_growth": {"min_hu": -650, "max_hu": 100, "max_distance_mm": 2,
                                                       "half_maximum_outline": {"max_distance_mm": 2.0}}}
    rule_filter = LesionFilter.from_dict(card)
    assert rule_filter.outline_growth.half_maximum == HalfMaximumOutline()
    assert LesionFilter.from_dict(rule_filter.to_dict()) == rule_filter
    assert rule_filter.overridden(outline_growth=False).outline_growth is None  # one switch for both
    with pytest.raises(ValueError, match="zone limits"):
        LesionFilter.from_dict({"zone_limits": {"upper": {"outline_growth": card["outline_growth"]}}})


def test_lesions_from_a_map_take_the_half_maximum_outline_as_on_the_whole_image():
    """Through the product's lesion rule: the crop it works in gives what the whole image gives."""
    ct, truth = _scene(6.0, 30.0)
    wide = ct >= -650.0
    probability = np.where(wide, 0.9, 0.0).astype(np.float32)
    ct_image, map_image = _image(ct), _image(probability)
    growth = OutlineGrowth(min_hu=-650.0, max_hu=100.0, max_distance_mm=2.0)
    rule = LesionFilter(min_lesion_mm3=10.0, outline_growth=replace(growth, half_maximum=RULE))
    labels, lesions = lesions_from_probability(map_image, ct_image, 0.5, rule)
    grown = grow_label_array(wide.astype(np.uint16), ct, (XY, XY, FINE_Z * SUB), growth)
    expected = refine_label_array(grown, ct, (XY, XY, FINE_Z * SUB), RULE)
    np.testing.assert_array_equal(sitk.GetArrayFromImage(labels), expected)
    assert len(lesions) == 1
    voxel_ml = XY * XY * FINE_Z * SUB / 1000.0
    assert lesions[0].volume_ml == pytest.approx(float(expected.sum()) * voxel_ml, rel=1e-3)
    plain, _ = lesions_from_probability(map_image, ct_image, 0.5, LesionFilter(min_lesion_mm3=10.0))
    np.testing.assert_array_equal(sitk.GetArrayFromImage(plain), wide.astype(np.uint16))
    assert _dice(sitk.GetArrayFromImage(labels) > 0, truth) > _dice(grown > 0, truth)
