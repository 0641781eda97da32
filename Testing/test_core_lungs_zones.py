"""Lung finder (lungtumorseg.lungs) and zones (lungtumorseg.zones) on small phantoms, the real
abdomen CT and degenerate volumes.

Real data: ``shared/data/real/abdomen_ct_3mm.nii.gz`` is an abdominal CT from the
TotalSegmentator test files (Wasserthal et al., "TotalSegmentator: robust segmentation of
104 anatomic structures in CT images", Radiology: Artificial Intelligence 2023; CC BY 4.0).
"""

from __future__ import annotations

import numpy as np
import pytest
import SimpleITK as sitk
from scipy import ndimage as ndi

from core_fixtures import phantom, real_data, reorder_voxels
from lungtumorseg.io import read_image
from lungtumorseg.lungs import _relative_depths, find_lungs
from lungtumorseg.preprocess import array_to_image, to_canonical, to_input_grid
from lungtumorseg.zones import ZONE_NAMES, ZoneSpec, lung_extent_mm, make_zones, zone_of_position

SPACING = (3.0, 3.0, 3.0)
# (seed, orientation written by the phantom engine): seed 2 has central, peripheral and
# juxtapleural tumours; seed 4 juxtapleural and central; seed 3 is an oblique acquisition.
CASES = [(2, "axial-lps"), (4, "feet-first"), (3, "oblique")]


def _dice(a: np.ndarray, b: np.ndarray) -> float:
    return float(2 * (a & b).sum() / max(a.sum() + b.sum(), 1))


def _lungs_on_canonical(image: sitk.Image):
    canonical = to_canonical(image, SPACING)
    hu = sitk.GetArrayFromImage(canonical)
    return canonical, find_lungs(hu, SPACING)


def _found_lung_labels(image: sitk.Image):
    """The lung finder's result and its labels (0/1 right/2 left) mapped back onto ``image``'s grid."""
    canonical, lungs = _lungs_on_canonical(image)
    assert lungs.found, lungs.message
    back = to_input_grid(array_to_image(lungs.labels, canonical), image, sitk.sitkNearestNeighbor)
    return lungs, sitk.GetArrayFromImage(back)


@pytest.mark.parametrize("seed,orientation", CASES)
def test_lung_mask_matches_phantom_truth(seed, orientation):
    case = phantom(seed, orientation)
    lungs, back = _found_lung_labels(case.image)
    truth = sitk.GetArrayFromImage(case.lungs)
    assert _dice(back > 0, truth > 0) >= 0.9
    # Label 1 is the patient's right lung, 2 the left (a swap gives Dice ~0 here).
    assert _dice(back == 1, truth == 1) >= 0.9
    assert _dice(back == 2, truth == 2) >= 0.9
    truth_ml = (truth > 0).sum() * np.prod(case.image.GetSpacing()) / 1000.0
    assert lungs.volume_ml == pytest.approx(truth_ml, rel=0.1)


@pytest.mark.parametrize("side", ["right", "left"])
def test_lung_cut_off_by_the_field_of_view_is_kept(side):
    """A lung that the field of view cuts at the side is open to the image border; it must
    still be found (air "connected to the border" alone would discard it) and the table's
    lung-density foam core must not be taken for it."""
    case = phantom(2)
    truth = sitk.GetArrayFromImage(case.lungs)
    lung_x = np.nonzero(truth.any(axis=(0, 1)))[0]
    # Cut 20 % of the lungs' total width off at one side: through that lung's parenchyma.
    cut = int(0.2 * (lung_x.max() - lung_x.min()))
    xs = slice(lung_x.min() + cut, None) if side == "right" else slice(None, lung_x.max() - cut + 1)
    image, truth_cut = case.image[xs, :, :], truth[:, :, xs]
    # The cut really opens that lung onto the border of at least one axial slice.
    edge = truth_cut[:, :, 0] if side == "right" else truth_cut[:, :, -1]
    assert edge.any()
    _, back = _found_lung_labels(image)
    assert _dice(back == 1, truth_cut == 1) >= 0.85
    assert _dice(back == 2, truth_cut == 2) >= 0.85
    assert _dice(back > 0, truth_cut > 0) >= 0.9


def test_lungs_joined_by_an_air_bridge_are_separated():
    """Both lungs in one air component (a main bronchus the airway step missed) still come
    out as a right and a left lung."""
    case = phantom(2)
    truth = sitk.GetArrayFromImage(case.lungs)
    hu = sitk.GetArrayFromImage(case.image).astype(np.float32)
    # An air tube (radius ~6 mm) through the mediastinum at mid-lung height, from lung to lung.
    z = int(np.median(np.nonzero((truth == 1).any(axis=(1, 2)) & (truth == 2).any(axis=(1, 2)))[0]))
    y = int(np.median(np.nonzero((truth[z] == 1).any(axis=1) & (truth[z] == 2).any(axis=1))[0]))
    x0, x1 = sorted(int(np.median(np.nonzero(truth[z, y] == k)[0])) for k in (1, 2))
    sx, sy, sz = case.image.GetSpacing()
    zz, yy = np.mgrid[: hu.shape[0], : hu.shape[1]]
    tube = ((zz - z) * sz) ** 2 + ((yy - y) * sy) ** 2 <= 6.0**2
    hu[:, :, x0 : x1 + 1][tube] = -1000.0
    image = sitk.GetImageFromArray(hu)
    image.CopyInformation(case.image)
    bridged = truth > 0
    bridged[:, :, x0 : x1 + 1] |= tube[:, :, None]
    assert ndi.label(bridged)[1] == 1, "the bridge must join the lungs"
    _, back = _found_lung_labels(image)
    assert _dice(back == 1, truth == 1) >= 0.85
    assert _dice(back == 2, truth == 2) >= 0.85


def test_filled_convex_hull_matches_a_triangulation():
    """The row-wise hull fill of the lung finder against scipy's Delaunay point-in-hull test on
    random blob unions (gaps between blobs, horizontal hull edges, single pixels)."""
    from scipy.spatial import Delaunay

    from lungtumorseg.lungs import _convex_hull_2d

    rng = np.random.default_rng(0)
    grid = np.argwhere(np.ones((40, 50), dtype=bool))
    for _ in range(200):
        mask = np.zeros((40, 50), dtype=bool)
        for _ in range(int(rng.integers(1, 4))):
            r, c = rng.integers(0, 40), rng.integers(0, 50)
            h, w = rng.integers(1, 12, size=2)
            mask[r : r + h, c : c + w] = True
        points = np.argwhere(mask)
        if np.linalg.matrix_rank(points - points[0]) < 2:  # a line: the hull is the pixels
            expected = mask
        else:
            expected = (Delaunay(points).find_simplex(grid, tol=1e-9) >= 0).reshape(mask.shape) | mask
        np.testing.assert_array_equal(_convex_hull_2d(mask), expected)


def test_abdomen_ct_has_no_lungs():
    image = read_image(real_data("abdomen_ct_3mm.nii.gz"))
    _, lungs = _lungs_on_canonical(image)
    assert not lungs.found
    assert not lungs.labels.any()
    assert "no lungs" in lungs.message and "chest CT" in lungs.message


@pytest.mark.parametrize("hu", [-1000.0, 0.0], ids=["pure_air", "pure_water"])
def test_uniform_volume_has_no_lungs(hu):
    lungs = find_lungs(np.full((30, 40, 40), hu, np.float32), SPACING)
    assert not lungs.found and not lungs.labels.any()
    assert "lung" in lungs.message
    with pytest.raises(ValueError):
        make_zones(lungs.mask, SPACING)


# ------------------------------------------------------------------ zones
def _box_mask(shape=(60, 30, 40), z=(15, 44), y=(8, 22), x=(6, 30)) -> np.ndarray:
    m = np.zeros(shape, bool)
    m[z[0] : z[1] + 1, y[0] : y[1] + 1, x[0] : x[1] + 1] = True
    return m


def test_zone_weights_are_a_partition_of_unity():
    spacing = (2.0, 2.0, 3.0)
    spec = ZoneSpec(overlap_mm=15.0, margin_mm=12.0, context_mm=9.0)
    mask = _box_mask()
    zones = make_zones(mask, spacing, spec)
    assert [z.name for z in zones] == list(ZONE_NAMES)
    z_mm = np.arange(mask.shape[0]) * spacing[2]
    lung_lo, lung_hi = 15 * 3.0, 44 * 3.0
    total = np.sum([z.weights_z for z in zones], axis=0)
    inside = (z_mm >= lung_lo) & (z_mm <= lung_hi)
    np.testing.assert_allclose(total[inside], 1.0, atol=1e-6)
    far = (z_mm < lung_lo - spec.margin_mm) | (z_mm > lung_hi + spec.margin_mm)
    assert far.any() and np.all(total[far] == 0.0)
    for zone in zones:
        w = zone.weights_z
        assert w.min() >= 0.0 and w.max() == pytest.approx(1.0)
        # smooth: linear ramps over the overlap band, no jump bigger than one slice's share
        assert np.abs(np.diff(w[inside])).max() <= spacing[2] / spec.overlap_mm + 1e-6
        # the crop holds the whole weight support plus the context, in-plane lungs + margin
        support = np.nonzero(w > 0)[0]
        assert zone.box[0].start <= max(support.min() - 3, 0) and zone.box[0].stop >= min(support.max() + 4, 60)
        assert zone.box[1] == slice(8 - 6, 22 + 6 + 1) and zone.box[2] == slice(6 - 6, 30 + 6 + 1)
    # order along the body axis: lower zone at small z (inferior), upper at large z
    centres = {z.name: np.average(z_mm, weights=z.weights_z) for z in zones}
    assert centres["lower"] < centres["middle"] < centres["upper"]


def test_whole_zone_covers_all_three():
    mask = _box_mask()
    (whole,) = make_zones(mask, (2.0, 2.0, 3.0), names=("whole",))
    assert whole.name == "whole"
    z_mm = np.arange(mask.shape[0]) * 3.0
    np.testing.assert_allclose(whole.weights_z[(z_mm >= 45) & (z_mm <= 132)], 1.0, atol=1e-6)
    # lungs at z 45-132 mm; weights reach 20 mm beyond (margin), the crop 16 mm more (context)
    support = np.nonzero(whole.weights_z > 0)[0]
    assert z_mm[support.min()] == pytest.approx(27.0) and z_mm[support.max()] == pytest.approx(150.0)
    assert whole.box[0] == slice(support.min() - 6, support.max() + 6 + 1)


def test_zone_of_position_thirds():
    extent = (-120.0, -30.0)  # thirds at -90 and -60
    assert zone_of_position(-110.0, extent) == "lower"
    assert zone_of_position(-75.0, extent) == "middle"
    assert zone_of_position(-40.0, extent) == "upper"


def _zones_in_mm(image: sitk.Image):
    canonical, lungs = _lungs_on_canonical(image)
    assert lungs.found, lungs.message
    zones = make_zones(lungs.mask, SPACING)
    oz = canonical.GetOrigin()[2]
    boxes = {z.name: (oz + z.box[0].start * SPACING[2], oz + (z.box[0].stop - 1) * SPACING[2]) for z in zones}
    profile = {z.name: (oz + np.arange(len(z.weights_z)) * SPACING[2], z.weights_z) for z in zones}
    lo, hi = lung_extent_mm(lungs.mask, SPACING)
    return canonical, lungs, zones, boxes, profile, (oz + lo, oz + hi)


@pytest.mark.parametrize("flip", [(True, False, True), (True, True, False)], ids=["feet_first", "ras"])
def test_zone_split_follows_the_body_axis_whatever_the_voxel_order(flip):
    case = phantom(2, "axial-lps")
    ref = _zones_in_mm(case.image)
    other = _zones_in_mm(reorder_voxels(case.image, flip))
    for name in ZONE_NAMES:
        np.testing.assert_allclose(other[3][name], ref[3][name], atol=1e-6)
        np.testing.assert_allclose(other[4][name][0], ref[4][name][0], atol=1e-6)
        np.testing.assert_allclose(other[4][name][1], ref[4][name][1], atol=1e-6)
    # The split is into thirds of the *true* lungs' body-axis (LPS z) extent.
    t_lo, t_hi = case.meta["lungs_z_extent_lps_mm"]
    lo, hi = ref[5]
    assert abs(lo - t_lo) <= 2 * SPACING[2] and abs(hi - t_hi) <= 2 * SPACING[2]
    assert ref[3]["upper"][1] > ref[3]["middle"][1] > ref[3]["lower"][1]


@pytest.mark.parametrize("seed,orientation", CASES[:2])
def test_zone_crops_contain_every_truth_tumour_voxel(seed, orientation):
    case = phantom(seed, orientation)
    locations = {t["location"] for t in case.meta["tumours"]}
    assert {"juxtapleural", "central"} <= locations  # the cases the margins exist for
    canonical, lungs, zones, *_ = _zones_in_mm(case.image)
    # every tumour voxel of the input grid, as a canonical (z, y, x) index
    kji = np.argwhere(sitk.GetArrayFromImage(case.label) > 0)
    pts = [case.image.TransformIndexToPhysicalPoint([int(v) for v in p[::-1]]) for p in kji]
    idx = np.rint((np.asarray(pts) - canonical.GetOrigin()) / SPACING)[:, ::-1].astype(int)
    for zone in zones:
        w = zone.weights_z[np.clip(idx[:, 0], 0, len(zone.weights_z) - 1)]
        mine = idx[w > 0]  # tumour voxels this zone's weight covers must be inside its crop
        for axis in range(3):
            s = zone.box[axis]
            assert np.all((mine[:, axis] >= s.start) & (mine[:, axis] < s.stop)), (zone.name, axis)
    total = np.sum([z.weights_z for z in zones], axis=0)
    np.testing.assert_allclose(total[idx[:, 0]], 1.0, atol=1e-6)  # fully weighted everywhere


def test_relative_depths_in_each_components_box_equal_the_whole_grid_centroids():
    # reference: scipy's centre of mass of each component over the whole grid
    rng = np.random.default_rng(5)
    labels, n = ndi.label(ndi.uniform_filter(rng.random((20, 60, 40)), size=5) > 0.55)
    assert n >= 3
    body = np.zeros(labels.shape, bool)
    body[:, 7:53, :] = True
    ids = list(range(1, min(n, 6) + 1))
    centroids = ndi.center_of_mass(labels > 0, labels, index=ids)
    reference = [float((c[1] - 7) / (52 - 7)) for c in centroids]
    assert _relative_depths(labels, ids, ndi.find_objects(labels), body) == reference
