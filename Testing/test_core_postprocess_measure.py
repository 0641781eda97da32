"""Post-processing (lungtumorseg.postprocess) and measurement (lungtumorseg.measure) on
constructed objects of known size and position: spheres, cubes, an ellipsoid."""

from __future__ import annotations

import math

import numpy as np
import pytest
import SimpleITK as sitk
from scipy import ndimage as ndi

from core_fixtures import index_to_lps, make_grid, rotation, voxel_centres
from lungtumorseg.measure import axial_axes_mm, measure_lesions
from lungtumorseg.postprocess import LesionFilter, label_lesions, restrict_to_lung_region

RAS = np.diag([-1.0, -1.0, 1.0])


def _image_like(array: np.ndarray, ref: sitk.Image) -> sitk.Image:
    img = sitk.GetImageFromArray(array)
    img.CopyInformation(ref)
    return img


# ------------------------------------------------------------------ label_lesions
def _spheres_scene():
    """Spheres of radius 3, 7, 1.2 (too small) and 5 mm, plus a faint one below threshold."""
    ref = make_grid(np.array([10.0, -20.0, 30.0]), np.array([40.0, 15.0, 15.0]), RAS, (1.0, 1.0, 1.5), sitk.sitkFloat32)
    x, y, z = voxel_centres(ref)
    prob = np.zeros(x.shape, np.float32)
    masks = {}
    for name, cx, radius, value in [("r3", -20.0, 3.0, 0.9), ("r7", -5.0, 7.0, 0.8), ("tiny", 6.0, 1.2, 0.95),
                                    ("r5", 18.0, 5.0, 0.7), ("faint", 38.0, 5.0, 0.4)]:
        m = (x - (10.0 + cx)) ** 2 + (y + 20.0) ** 2 + (z - 30.0) ** 2 <= radius**2
        prob[m] = value
        masks[name] = m
    return _image_like(prob, ref), masks


def test_labels_by_decreasing_volume_and_small_ones_removed():
    prob, masks = _spheres_scene()
    voxel_mm3 = 1.0 * 1.0 * 1.5
    assert masks["tiny"].sum() * voxel_mm3 < 30.0 < masks["r3"].sum() * voxel_mm3
    labels = label_lesions(prob, 0.5, LesionFilter(min_lesion_mm3=30.0))
    assert labels.GetPixelID() == sitk.sitkUInt16
    assert labels.GetSize() == prob.GetSize() and labels.GetDirection() == prob.GetDirection()
    arr = sitk.GetArrayFromImage(labels)
    assert sorted(np.unique(arr)) == [0, 1, 2, 3]
    for label, name in [(1, "r7"), (2, "r5"), (3, "r3")]:
        assert np.array_equal(arr == label, masks[name]), name
    assert not arr[masks["tiny"]].any() and not arr[masks["faint"]].any()
    # no minimum size: the tiny sphere is kept (and is the smallest, last label)
    arr0 = sitk.GetArrayFromImage(label_lesions(prob, 0.5))
    assert arr0.max() == 4 and np.array_equal(arr0 == 4, masks["tiny"])
    # threshold between the two sphere values: only the brighter ones
    arr_hi = sitk.GetArrayFromImage(label_lesions(prob, 0.85))
    assert arr_hi.max() == 2 and np.array_equal(arr_hi == 1, masks["r3"]) and np.array_equal(arr_hi == 2, masks["tiny"])


@pytest.mark.parametrize(
    "second,expected",
    [((slice(5, 8), slice(5, 8), slice(5, 8)), 2),  # corner only
     ((slice(5, 8), slice(5, 8), slice(2, 5)), 2),  # edge only
     ((slice(5, 8), slice(2, 5), slice(2, 5)), 1)],  # a shared face
    ids=["corner", "edge", "face"],
)
def test_face_connectivity(second, expected):
    arr = np.zeros((10, 10, 10), np.float32)
    arr[2:5, 2:5, 2:5] = 1.0
    arr[second] = 1.0
    labels = sitk.GetArrayFromImage(label_lesions(sitk.GetImageFromArray(arr), 0.5))
    assert labels.max() == expected


@pytest.mark.parametrize("threshold", [0.0, 1.0, 1.5, -0.2, float("nan")])
def test_invalid_threshold(threshold):
    with pytest.raises(ValueError, match="threshold"):
        label_lesions(sitk.GetImageFromArray(np.zeros((4, 4, 4), np.float32)), threshold)


def test_restrict_to_lung_region_uses_mm_per_axis():
    # spacing (x, y, z) = (1, 2, 5) mm; lung = one voxel; margin 22 mm
    shape = (11, 31, 61)
    lung = np.zeros(shape, bool)
    lung[5, 15, 30] = True
    out = restrict_to_lung_region(np.ones(shape, np.float32), lung, (1.0, 2.0, 5.0), 22.0)
    assert out[5, 15, 30 + 22] == 1.0 and out[5, 15, 30 + 23] == 0.0  # x: 22 mm kept, 23 mm not
    assert out[5, 15 + 11, 30] == 1.0 and out[5, 15 + 12, 30] == 0.0  # y: 22 mm kept, 24 mm not
    assert out[5 + 4, 15, 30] == 1.0 and out[5 + 5, 15, 30] == 0.0  # z: 20 mm kept, 25 mm not


@pytest.mark.parametrize("where", ["middle", "against_the_border", "two_parts"])
def test_restrict_to_lung_region_keeps_exactly_what_the_whole_grid_distance_keeps(where):
    # reference: scipy's distance map of the whole grid, as the function computed it before it
    # worked in the lungs' grown box only; spacing (x, y, z) = (0.8, 1.1, 2.5) mm, margin 6 mm
    rng = np.random.default_rng(3)
    shape = (30, 40, 50)
    lung = np.zeros(shape, bool)
    if where == "middle":
        lung[10:18, 12:25, 15:30] = rng.random((8, 13, 15)) < 0.7
    elif where == "against_the_border":
        lung[0:6, 30:40, 0:9] = True
    else:
        lung[4:8, 5:9, 3:7] = True
        lung[22:27, 30:36, 40:47] = True
    probability = rng.random(shape, dtype=np.float32)
    spacing = (0.8, 1.1, 2.5)
    reference = probability.copy()
    reference[ndi.distance_transform_edt(~lung, sampling=spacing[::-1]) > 6.0] = 0.0
    out = restrict_to_lung_region(probability, lung, spacing, 6.0)
    assert out.dtype == probability.dtype
    np.testing.assert_array_equal(out, reference)
    assert 0 < np.count_nonzero(out) < out.size


def test_restrict_to_lung_region_without_lungs_keeps_nothing():
    out = restrict_to_lung_region(np.ones((5, 6, 7), np.float32), np.zeros((5, 6, 7), bool), (1.0, 1.0, 1.0), 10.0)
    assert out.shape == (5, 6, 7) and not out.any()


# ------------------------------------------------------------------ measurement
PERMUTED = np.array([[0.0, 0.0, -1.0], [1.0, 0.0, 0.0], [0.0, -1.0, 0.0]])  # i->A-P, j->S-I, k->L-R


@pytest.mark.parametrize(
    "direction,spacing",
    [(np.eye(3), (0.5, 0.5, 1.0)), (RAS, (0.6, 0.5, 1.0)), (PERMUTED, (0.5, 1.0, 0.6)),
     (rotation("x", 12.0) @ rotation("y", 12.0), (0.6, 0.6, 0.8))],
    ids=["lps", "ras", "permuted_axes", "oblique"],
)
def test_recist_axes_of_a_known_ellipsoid(direction, spacing):
    # semi-axes 10 and 6 mm in the axial plane (rotated 30 degrees about z), 4 mm along z
    centre = np.array([-40.0, 12.0, -300.0])
    ref = make_grid(centre, np.array([14.0, 14.0, 8.0]), direction, spacing, sitk.sitkUInt16)
    x, y, z = voxel_centres(ref)
    u = rotation("z", 30.0).T @ np.stack([x - centre[0], y - centre[1], z - centre[2]]).reshape(3, -1)
    inside = ((u[0] / 10.0) ** 2 + (u[1] / 6.0) ** 2 + (u[2] / 4.0) ** 2 <= 1.0).reshape(x.shape)
    labels = _image_like(inside.astype(np.uint16), ref)
    ct = _image_like(np.where(inside, 35, -800).astype(np.int16), ref)
    (lesion,) = measure_lesions(labels, ct, None, None, None)

    voxel = max(spacing)
    assert lesion.long_axis_mm == pytest.approx(20.0, abs=voxel)
    assert lesion.short_axis_mm == pytest.approx(12.0, abs=voxel)
    n = int(inside.sum())
    assert lesion.voxels == n
    assert lesion.volume_mm3 == pytest.approx(n * float(np.prod(spacing)))
    assert lesion.volume_ml == pytest.approx(lesion.volume_mm3 / 1000.0)
    assert lesion.volume_mm3 == pytest.approx(4.0 / 3.0 * math.pi * 10 * 6 * 4, rel=0.08)
    np.testing.assert_allclose(lesion.centroid_lps_mm, index_to_lps(ref, np.argwhere(inside)).mean(0), atol=1e-3)
    np.testing.assert_allclose(lesion.centroid_lps_mm, centre, atol=voxel)
    assert (lesion.hu_mean, lesion.hu_min, lesion.hu_max, lesion.hu_std) == pytest.approx((35.0, 35.0, 35.0, 0.0))
    assert math.isnan(lesion.mean_probability) and math.isnan(lesion.peak_probability)
    assert (lesion.zone, lesion.side) == ("unknown", "unknown")
    # solid ellipsoid: principal variances a²/5, so elongation = longest / shortest semi-axis = 10 / 4
    assert lesion.elongation == pytest.approx(2.5, rel=0.12)


def test_axial_axes_of_point_sets():
    # A 10 x 4 mm rectangle of points in one plane, 1 mm apart: 9 + 1 and 3 + 1 mm.
    xs, ys = np.meshgrid(np.arange(10.0), np.arange(4.0))
    pts = np.stack([xs.ravel(), ys.ravel(), np.full(xs.size, 7.0)], 1)
    long_axis, short_axis = axial_axes_mm(pts, slab_mm=1.0, pixel_mm=1.0)
    assert long_axis == pytest.approx(np.hypot(9, 3) + 1.0)  # the diagonal is the longest diameter
    assert short_axis == pytest.approx(9 * 3 / np.hypot(9, 3) * 2 + 1.0)
    # the longest plane wins: a second, smaller plane does not change the result
    small = pts[(pts[:, 0] < 3) & (pts[:, 1] < 2)] + [0.0, 0.0, 5.0]
    assert axial_axes_mm(np.vstack([pts, small]), 1.0, 1.0) == pytest.approx((long_axis, short_axis))
    assert axial_axes_mm(np.array([[1.0, 2.0, 3.0]]), 1.0, 0.8) == pytest.approx((0.8, 0.8))


def test_zone_side_and_statistics_of_lesions_at_known_positions():
    # RAS voxel order on purpose: positions must be physical (LPS), not array indices.
    ref = make_grid(np.array([0.0, 0.0, -30.0]), np.array([80.0, 20.0, 80.0]), RAS, (2.0, 2.0, 2.0), sitk.sitkUInt16)
    x, y, z = voxel_centres(ref)
    lung_z = (-100.0, 50.0)  # thirds: lower < -50 <= middle < 0 <= upper
    midline = 10.0
    placed = [  # (LPS centre, expected zone, expected side, HU, probability)
        ((-40.0, 0.0, -80.0), "lower", "right", 20.0, 0.9),
        ((50.0, 0.0, -20.0), "middle", "left", -50.0, 0.6),
        ((-5.0, 0.0, 30.0), "upper", "right", 100.0, 0.75),
        ((30.0, 0.0, 30.0), "upper", "left", 0.0, 0.8),
    ]
    lab = np.zeros(x.shape, np.uint16)
    hu = np.full(x.shape, -900.0, np.float32)
    prob = np.zeros(x.shape, np.float32)
    for n, (c, *_, value, p) in enumerate(placed, start=1):
        m = (np.abs(x - c[0]) <= 3) & (np.abs(y - c[1]) <= 3) & (np.abs(z - c[2]) <= 3)
        lab[m], hu[m], prob[m] = n, value, p
    # one voxel of lesion 1 is brighter: min/max/mean must see it
    k, j, i = np.argwhere(lab == 1)[0]
    hu[k, j, i] = 220.0
    lesions = measure_lesions(_image_like(lab, ref), _image_like(hu, ref), _image_like(prob, ref), lung_z, midline)
    assert [les.label for les in lesions] == [1, 2, 3, 4]
    for les, (c, zone, side, value, p) in zip(lesions, placed):
        np.testing.assert_allclose(les.centroid_lps_mm, c, atol=1.0)
        assert (les.zone, les.side) == (zone, side), les.label
        assert les.mean_probability == pytest.approx(p, abs=1e-6)
        assert les.peak_probability == pytest.approx(p, abs=1e-6)
        # a box of n_a voxels of 2 mm per axis has variance (2 n_a)²/12: elongation max(n) / min(n)
        extent = [len(np.unique(idx)) for idx in np.nonzero(lab == les.label)]
        assert les.elongation == pytest.approx(max(extent) / min(extent), rel=1e-9)
        assert les.voxels == int((lab == les.label).sum())
        assert les.to_dict()["label"] == les.label
    n1 = lesions[0].voxels
    assert lesions[0].hu_max == 220.0 and lesions[0].hu_min == 20.0
    assert lesions[0].hu_mean == pytest.approx((20.0 * (n1 - 1) + 220.0) / n1)
    assert lesions[1].hu_mean == pytest.approx(-50.0) and lesions[1].hu_std == pytest.approx(0.0)


# ------------------------------------------------------------------ lesion filter (peak, elongation)
def _filter_scene():
    """On a 1 × 1 × 2 mm grid rotated 30° about z: a ball (r 6 mm, peak 0.9), a rod
    30 × 2 × 4 mm (peak 0.9), a faint ball (r 5 mm, every voxel 0.55) and a disc one slice
    thick (r 6 mm, 2 mm; peak 0.9)."""
    arr = np.zeros((20, 48, 48), np.float32)
    z, y, x = np.mgrid[:20, :48, :48]
    masks = {
        "ball": (x - 10) ** 2 + (y - 10) ** 2 + (2.0 * (z - 10)) ** 2 <= 36,
        "rod": (z >= 8) & (z < 10) & (y >= 30) & (y < 32) & (x >= 5) & (x < 35),
        "faint": (x - 38) ** 2 + (y - 12) ** 2 + (2.0 * (z - 10)) ** 2 <= 25,
        "disc": (z == 2) & ((x - 24) ** 2 + (y - 40) ** 2 <= 36),
    }
    for name, mask in masks.items():
        arr[mask] = 0.55 if name == "faint" else 0.9
    img = sitk.GetImageFromArray(arr)
    img.SetSpacing((1.0, 1.0, 2.0))
    img.SetDirection(tuple(rotation("z", 30.0).ravel()))
    return img, masks


def _kept(labels: sitk.Image, masks: dict[str, np.ndarray]) -> set[str]:
    arr = sitk.GetArrayFromImage(labels)
    return {name for name, mask in masks.items() if arr[mask].all()}


def test_elongation_limit_drops_the_rod_and_keeps_round_and_single_slice_lesions():
    img, masks = _filter_scene()
    assert _kept(label_lesions(img, 0.5), masks) == {"ball", "rod", "faint", "disc"}
    # rod: variances 30²/12 and 2²/12 (voxel boxes counted) -> elongation 15, removed by 4;
    # a single 2 mm slice of a 12 mm disc: ~36/4 = 9 against 2²/12 -> about 5.2, kept by 6
    labels = label_lesions(img, 0.5, LesionFilter(max_elongation=6.0))
    assert _kept(labels, masks) == {"ball", "faint", "disc"}
    assert sitk.GetArrayFromImage(labels).max() == 3  # relabelled 1..3 without gaps
    assert _kept(label_lesions(img, 0.5, LesionFilter(max_elongation=4.0)), masks) == {"ball", "faint"}


def test_peak_probability_limit_is_hysteresis():
    img, masks = _filter_scene()
    labels = label_lesions(img, 0.5, LesionFilter(min_peak_probability=0.8))
    assert _kept(labels, masks) == {"ball", "rod", "disc"}
    arr = sitk.GetArrayFromImage(labels)
    # the kept outlines follow the lower threshold: whole ball, labels by decreasing volume
    assert np.array_equal(arr == 1, masks["ball"])


def test_density_limit_drops_bone_dense_findings_and_needs_the_ct():
    """Same probability everywhere; the CT says ball = soft tissue (40 HU), rod = bone (400 HU),
    disc = contrast-filled vessel (160 HU), faint = part-solid (-300 HU)."""
    img, masks = _filter_scene()
    ct_array = np.full(sitk.GetArrayFromImage(img).shape, -850.0, np.float32)
    for name, hu in {"ball": 40.0, "rod": 400.0, "disc": 160.0, "faint": -300.0}.items():
        ct_array[masks[name]] = hu
    ct = sitk.GetImageFromArray(ct_array)
    ct.CopyInformation(img)
    assert _kept(label_lesions(img, 0.5, LesionFilter(max_mean_hu=150.0), ct=ct), masks) == {"ball", "faint"}
    assert _kept(label_lesions(img, 0.5, LesionFilter(max_mean_hu=500.0), ct=ct), masks) == {"ball", "rod", "faint", "disc"}
    with pytest.raises(ValueError, match="needs the CT"):
        label_lesions(img, 0.5, LesionFilter(max_mean_hu=150.0))


def test_lesion_filter_card_form_round_trips_and_none_means_no_limit():
    from lungtumorseg.postprocess import LesionFilter

    rule = LesionFilter(250.0, 0.6, 2.0, 150.0)
    assert LesionFilter.from_dict(rule.to_dict()) == rule
    assert LesionFilter().to_dict() == {"min_lesion_mm3": 0.0, "min_peak_probability": 0.0,
                                        "max_elongation": None, "max_mean_hu": None}
    assert LesionFilter.from_dict({"min_lesion_mm3": 30.0}) == LesionFilter(30.0)  # an older card: no limits


@pytest.mark.parametrize("kwargs,message", [
    ({"min_peak_probability": 1.2}, "peak"), ({"max_elongation": 0.5}, "elongation"), ({"min_lesion_mm3": -1.0}, "volume"),
    ({"max_mean_hu": float("nan")}, "density"), ({"max_mean_hu": -2000.0}, "density"),
])
def test_lesion_filter_rejects_impossible_limits(kwargs, message):
    from lungtumorseg.postprocess import LesionFilter

    with pytest.raises(ValueError, match=message):
        LesionFilter(**kwargs)


def test_elongation_of_boxes_by_hand():
    from lungtumorseg.evaluation.calibration import component_measures

    labels = np.zeros((12, 40, 40), np.int32)
    labels[2:4, 5:35, 5:7] = 1  # 30 x 2 x 4 mm at spacing (1, 1, 2): elongation 30 / 2 = 15
    labels[6:11, 20:30, 20:30] = 2  # 10 x 10 x 10 mm cube: 1
    volume, peak, elongation = component_measures(labels, 2, np.where(labels == 1, 0.7, 0.4), (1.0, 1.0, 2.0))
    np.testing.assert_allclose(volume, [30 * 2 * 4, 1000.0])
    np.testing.assert_allclose(peak, [0.7, 0.4])
    np.testing.assert_allclose(elongation, [15.0, 1.0], rtol=1e-9)
