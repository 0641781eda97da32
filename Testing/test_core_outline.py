"""Density-guided outline growth (``lungtumorseg.outline``) and its place in the lesion rule.

Synthetic CT scenes with known geometry: a dense tumour core whose partial-volume rim the
"network" missed, aerated lung around it, bone and a second lesion nearby. Every expected
voxel set is built from the scene's own geometry, not from the code under test.
"""

from __future__ import annotations

import numpy as np
import pytest
import SimpleITK as sitk

from lungtumorseg.outline import OutlineGrowth, grow_outlines
from lungtumorseg.postprocess import LesionFilter, label_lesions

SPACING = (0.8, 0.8, 2.0)  # x, y, z mm: anisotropic, like a thin-slice clinical CT
SHAPE = (30, 80, 80)  # z, y, x
GROWTH = OutlineGrowth(min_hu=-550.0, max_hu=100.0, max_distance_mm=4.0)


def _image(array: np.ndarray) -> sitk.Image:
    image = sitk.GetImageFromArray(array)
    image.SetSpacing(SPACING)
    image.SetOrigin((-30.0, 12.0, -100.0))
    return image


def _distance_mm(centre_zyx: tuple[float, float, float]) -> np.ndarray:
    """Physical distance of every voxel centre from ``centre_zyx`` (voxel indices)."""
    z, y, x = np.indices(SHAPE, dtype=float)
    sz, sy, sx = SPACING[2], SPACING[1], SPACING[0]
    return np.sqrt(((z - centre_zyx[0]) * sz) ** 2 + ((y - centre_zyx[1]) * sy) ** 2 + ((x - centre_zyx[2]) * sx) ** 2)


def _scene():
    """Lung at -850 HU; a tumour core (r <= 5 mm, 30 HU) inside a rim of -300 HU out to 12 mm."""
    r = _distance_mm((15, 40, 40))
    ct = np.full(SHAPE, -850.0, np.float32)
    ct[r <= 12.0] = -300.0
    ct[r <= 5.0] = 30.0
    labels = (r <= 5.0).astype(np.uint16)
    return ct, labels, r


def test_a_lesion_grows_into_its_rim_up_to_the_distance_limit_and_no_farther():
    ct, labels, r = _scene()
    ct_image, label_image = _image(ct), _image(labels)
    before = (ct.copy(), labels.copy())
    grown = sitk.GetArrayFromImage(grow_outlines(label_image, ct_image, GROWTH))
    expected = r <= 5.0 + GROWTH.max_distance_mm + 1e-6
    # the rim is continuous, so growth reaches exactly the voxels within 4 mm of the core's voxels;
    # the core's own voxel surface lies within a voxel of r = 5 mm, so compare with a one-voxel tolerance
    assert set(np.unique(grown)) == {0, 1}
    assert (grown[r <= 5.0] == 1).all()
    assert (grown[r <= 8.5] == 1).all(), "rim voxels well inside the reach were not grown"
    assert not grown[r > 5.0 + 4.0 + 2.0].any(), "growth went beyond its distance limit"
    assert abs(int((grown > 0).sum()) - int(expected.sum())) < 0.15 * expected.sum()
    # the aerated lung is never grown into, and the inputs are untouched
    assert not grown[ct == -850.0].any()
    np.testing.assert_array_equal(sitk.GetArrayFromImage(ct_image), before[0])
    np.testing.assert_array_equal(sitk.GetArrayFromImage(label_image), before[1])
    assert grow_outlines(label_image, ct_image, GROWTH).GetSpacing() == label_image.GetSpacing()


def test_growth_stays_out_of_bone_and_of_dense_tissue_it_cannot_reach_through_denser_lung():
    ct, labels, r = _scene()
    ct[:, :, 45:] = np.where(ct[:, :, 45:] == -300.0, 700.0, ct[:, :, 45:])  # part of the rim is bone
    island = _distance_mm((15, 40, 52)) <= 1.5  # a dense speck within reach, but separated by aerated lung
    ct[(r > 12.0) & island] = -200.0
    grown = sitk.GetArrayFromImage(grow_outlines(_image(labels), _image(ct), GROWTH))
    assert not grown[ct == 700.0].any()
    assert not grown[(r > 12.0) & island].any()
    assert grown[(ct == -300.0) & (r <= 8.0)].all()


def test_two_lesions_never_merge_and_the_larger_one_takes_the_voxels_both_reach():
    ct = np.full(SHAPE, -300.0, np.float32)  # everything is rim density: only the distance limits growth
    big = _distance_mm((15, 40, 30)) <= 5.0
    small = _distance_mm((15, 40, 42)) <= 3.0  # 12 mm apart: their 4 mm reaches overlap
    labels = np.zeros(SHAPE, np.uint16)
    labels[big], labels[small] = 1, 2
    grown = sitk.GetArrayFromImage(grow_outlines(_image(labels), _image(ct), GROWTH))
    assert set(np.unique(grown)) == {0, 1, 2}
    both = (_distance_mm((15, 40, 30)) <= 8.0) & (_distance_mm((15, 40, 42)) <= 6.0) & ~big & ~small
    assert both.any() and (grown[both] == 1).all()
    assert (grown[small] == 2).all() and (grown[big] == 1).all()


def test_lesions_are_numbered_again_by_their_grown_volume():
    ct = np.full(SHAPE, -850.0, np.float32)
    first = _distance_mm((15, 40, 20)) <= 4.0  # larger before growth, sits in aerated lung
    second = _distance_mm((15, 40, 58)) <= 3.0  # smaller, but inside a wide halo
    ct[_distance_mm((15, 40, 58)) <= 12.0] = -400.0
    labels = np.zeros(SHAPE, np.uint16)
    labels[first], labels[second] = 1, 2
    grown = sitk.GetArrayFromImage(grow_outlines(_image(labels), _image(ct), GROWTH))
    assert (grown[second] == 1).all() and (grown[first] == 2).all()
    assert (grown == 1).sum() > (grown == 2).sum() == first.sum()


def test_label_lesions_filters_first_and_grows_only_the_kept_lesions():
    ct, labels, r = _scene()
    probability = np.where(r <= 5.0, 0.9, 0.0).astype(np.float32)
    speck = _distance_mm((15, 12, 12)) <= 1.2  # a small confident finding in its own rim-density patch
    probability[speck] = 0.9
    ct[_distance_mm((15, 12, 12)) <= 8.0] = -300.0
    prob_image, ct_image = _image(probability), _image(ct)
    volume_of_core = float((r <= 5.0).sum() * np.prod(SPACING))
    rule = LesionFilter(min_lesion_mm3=volume_of_core / 2, outline_growth=GROWTH)
    labels_out = sitk.GetArrayFromImage(label_lesions(prob_image, 0.5, rule, ct=ct_image))
    assert labels_out.max() == 1  # the speck is removed before growth, although grown it would be large
    assert not labels_out[_distance_mm((15, 12, 12)) <= 8.0].any()
    assert (labels_out > 0).sum() > (r <= 5.0).sum() * 2  # the kept lesion did grow
    plain = sitk.GetArrayFromImage(label_lesions(prob_image, 0.5, rule.overridden(outline_growth=False)))
    np.testing.assert_array_equal(plain > 0, r <= 5.0)
    with pytest.raises(ValueError, match="outline growth needs the CT"):
        label_lesions(prob_image, 0.5, rule)


def test_outline_growth_in_the_card_round_trips_and_bad_values_are_refused_by_name():
    card = {"min_lesion_mm3": 250.0, "outline_growth": {"min_hu": -550, "max_hu": 100, "max_distance_mm": 4}}
    rule = LesionFilter.from_dict(card)
    assert rule.outline_growth == GROWTH and rule.needs_ct
    assert rule.to_dict()["outline_growth"] == {"min_hu": -550.0, "max_hu": 100.0, "max_distance_mm": 4.0}
    assert LesionFilter.from_dict(rule.to_dict()) == rule
    assert "outline_growth" not in LesionFilter(250.0).to_dict()
    assert rule.overridden(min_lesion_mm3=10.0).outline_growth == GROWTH
    with pytest.raises(ValueError, match="max_distance_mm"):
        LesionFilter.from_dict({"outline_growth": {"min_hu": -550, "max_hu": 100}})
    with pytest.raises(ValueError, match="min_hu < max_hu"):
        OutlineGrowth(100.0, -550.0, 4.0)
    with pytest.raises(ValueError, match="distance"):
        OutlineGrowth(-550.0, 100.0, 0.0)
    with pytest.raises(ValueError, match="outline_growth must be an object"):
        LesionFilter.from_dict({"outline_growth": 4})
    with pytest.raises(ValueError, match="zone limits cannot carry"):
        LesionFilter(zone_limits=(("middle", LesionFilter(outline_growth=GROWTH)),))


def test_no_lesions_gives_an_empty_label_image_on_the_same_grid():
    ct, _, _ = _scene()
    empty = _image(np.zeros(SHAPE, np.uint16))
    out = grow_outlines(empty, _image(ct), GROWTH)
    assert not sitk.GetArrayViewFromImage(out).any() and out.GetSize() == empty.GetSize()
