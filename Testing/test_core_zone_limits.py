"""Zone limits: extra lesion limits that apply only to lesions in one zone (postprocess module doc).

Checked on real SimpleITK images with known blobs (placed by their physical LPS z, also on a
feet-first image), on the card/report form, and in the calibration that chooses them.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import SimpleITK as sitk

from lungtumorseg.evaluation.calibration import (
    OperatingPoint, case_curve, refine_zone_limits, summarise_curves, zone_limit_candidates,
)
from lungtumorseg.postprocess import LesionFilter, label_lesions

MIDDLE_850 = LesionFilter(min_lesion_mm3=850.0)


def test_zone_limits_survive_the_card_form_and_stay_out_of_it_when_absent():
    rule = LesionFilter(400.0, 0.0, 1.75, 150.0).with_zone_limit("middle", LesionFilter(850.0, 0.6))
    as_dict = rule.to_dict()
    assert as_dict["zone_limits"] == {"middle": {"min_lesion_mm3": 850.0, "min_peak_probability": 0.6,
                                                 "max_elongation": None, "max_mean_hu": None}}
    assert LesionFilter.from_dict(as_dict) == rule
    assert "zone_limits" not in LesionFilter(400.0).to_dict()
    # zones come back in anatomical order, whatever order the card lists them in
    both = LesionFilter.from_dict({"zone_limits": {"lower": {"min_lesion_mm3": 1.0}, "upper": {"min_lesion_mm3": 2.0}}})
    assert [name for name, _ in both.zone_limits] == ["upper", "lower"]


@pytest.mark.parametrize("values,message", [
    ({"zone_limits": {"hilum": {"min_lesion_mm3": 900}}}, "unknown zone"),
    ({"zone_limits": {"middle": {"zone_limits": {"upper": {}}}}}, "cannot themselves"),
    ({"zone_limits": ["middle"]}, "must map zone names"),
    ({"zone_limits": {"middle": {"min_peak_probability": 1.5}}}, "peak probability"),
])
def test_impossible_zone_limits_are_refused(values, message):
    with pytest.raises(ValueError, match=message):
        LesionFilter.from_dict(values)


def test_a_zone_limit_applies_only_to_components_in_its_zone():
    rule = LesionFilter(min_lesion_mm3=100.0).with_zone_limit("middle", MIDDLE_850)
    volume = np.array([500.0, 500.0, 500.0, 900.0, 50.0])
    zone = np.array(["upper", "middle", "lower", "middle", "upper"], dtype=object)
    kept = rule.keeps(volume, np.ones(5), np.ones(5), np.zeros(5), zone)
    assert kept.tolist() == [True, False, True, True, False]
    # zone unknown: the general limits alone
    assert rule.keeps(volume, np.ones(5), np.ones(5), np.zeros(5)).tolist() == [True, True, True, True, False]


def test_user_overrides_keep_the_zone_limits_on_top_unless_switched_off():
    card = LesionFilter(400.0, 0.0, 1.75, 150.0).with_zone_limit("middle", MIDDLE_850)
    user = card.overridden(min_lesion_mm3=100.0, max_elongation=math.inf)
    assert (user.min_lesion_mm3, user.max_elongation, user.max_mean_hu) == (100.0, math.inf, 150.0)
    assert user.zone_limits == card.zone_limits
    assert card.overridden(zone_limits=False) == LesionFilter(400.0, 0.0, 1.75, 150.0)


def _image_with_blobs(direction: tuple[float, ...]) -> tuple[sitk.Image, dict[str, np.ndarray]]:
    """Three equal 7x7x7-voxel cubes (343 mm³, 1 mm voxels) at LPS z = 15, 45, 75 mm, and one
    10x10x10 cube (1000 mm³) at z = 45; the lungs span z 0-90 mm, so the zone boundaries are
    at 30 and 60 mm."""
    shape = (91, 40, 80)  # z, y, x
    image = sitk.Image(shape[::-1], sitk.sitkFloat32)
    image.SetDirection(direction)
    image.SetOrigin((0.0, 0.0, 90.0 if direction[8] < 0 else 0.0))
    arr = np.zeros(shape, np.float32)
    masks = {}
    for name, (z_mm, x, size) in {"lower": (15, 8, 7), "middle": (45, 24, 7), "upper": (75, 40, 7),
                                  "middle_big": (45, 60, 10)}.items():
        k = int(round(image.TransformPhysicalPointToContinuousIndex((0.0, 0.0, float(z_mm)))[2]))
        mask = np.zeros(shape, bool)
        mask[k - size // 2:k - size // 2 + size, 15:15 + size, x:x + size] = True
        arr[mask] = 0.9
        masks[name] = mask
    out = sitk.GetImageFromArray(arr)
    out.CopyInformation(image)
    return out, masks


def _kept(labels: sitk.Image, masks: dict[str, np.ndarray]) -> set[str]:
    arr = sitk.GetArrayFromImage(labels)
    return {name for name, mask in masks.items() if (arr[mask] > 0).all()}


@pytest.mark.parametrize("direction", [(1, 0, 0, 0, 1, 0, 0, 0, 1), (1, 0, 0, 0, 1, 0, 0, 0, -1)],
                         ids=["head-first", "feet-first"])
def test_label_lesions_applies_a_zone_limit_by_the_physical_zone_of_each_lesion(direction):
    image, masks = _image_with_blobs(direction)
    rule = LesionFilter(100.0).with_zone_limit("middle", MIDDLE_850)
    assert _kept(label_lesions(image, 0.5, rule, lung_z_lps_mm=(0.0, 90.0)), masks) == {"lower", "upper", "middle_big"}
    upper_only = LesionFilter(100.0).with_zone_limit("upper", MIDDLE_850)
    assert _kept(label_lesions(image, 0.5, upper_only, lung_z_lps_mm=(0.0, 90.0)), masks) == {
        "lower", "middle", "middle_big"}
    # without the lungs' extent no lesion has a zone: the general limits alone
    assert _kept(label_lesions(image, 0.5, rule), masks) == set(masks)
    labels = sitk.GetArrayFromImage(label_lesions(image, 0.5, rule, lung_z_lps_mm=(0.0, 90.0)))
    assert labels.max() == 3  # relabelled 1..N without gaps


def _zone_of_slice(boundaries: tuple[int, int]):
    """Zones of (z, y, x) centroids on an image whose slice index grows upwards."""
    def zones(centroids: np.ndarray) -> np.ndarray:
        z = centroids[:, 0] if len(centroids) else np.zeros(0)
        return np.where(z >= boundaries[1], "upper", np.where(z >= boundaries[0], "middle", "lower")).astype(object)
    return zones


def _calibration_case(seed: int, tumour_in_middle: bool) -> tuple[np.ndarray, np.ndarray]:
    """A 90-slice map: a true 9x9x9 tumour in the upper zone, a small 5x5x5 false finding in
    the middle zone, and (optionally) a large true 9x9x9 tumour in the middle zone."""
    rng = np.random.default_rng(seed)
    prob = np.zeros((90, 40, 60), np.float32)
    truth = np.zeros(prob.shape, bool)
    truth[70:79, 10:19, 10:19] = True
    prob[70:79, 10:19, 10:19] = 0.9
    y = int(rng.integers(5, 30))
    prob[40:45, y:y + 5, 40:45] = 0.8
    if tumour_in_middle:
        truth[46:55, 20:29, 10:19] = True
        prob[46:55, 20:29, 10:19] = 0.9
    return prob, truth


def test_calibration_gives_the_middle_zone_a_size_limit_that_removes_its_false_findings():
    cases = [_calibration_case(seed, tumour_in_middle=seed % 2 == 0) for seed in range(6)]
    zones = _zone_of_slice((30, 60))
    start = OperatingPoint(0.5, 50.0, 0.0, 0.0, 0.0, 0.0)

    def evaluate(filters):
        return summarise_curves([case_curve(p, t, (1.0, 1.0, 1.0), [0.5], filters, zone_of_centroids=zones)
                                 for p, t in cases])

    limits = [LesionFilter(v) for v in (100.0, 200.0, 500.0, 1000.0)]
    point, steps = refine_zone_limits(evaluate, start, ("upper", "middle", "lower"), limits, rule="lesion-f1")
    # 125 mm³ false findings go, 729 mm³ tumours stay: any limit in (125, 729] would do; the
    # first (most permissive) of the best wins
    assert dict(point.zone_limits) == {"middle": LesionFilter(200.0)}
    assert [s["zone"] for s in steps] == ["upper", "middle", "lower"]
    assert steps[0]["limit"] is None and steps[2]["limit"] is None
    assert point.false_positives_per_case == 0.0 and point.lesion_f1 == 1.0
    # the same filter in the pipeline's form
    assert point.lesion_filter.to_dict()["zone_limits"] == {"middle": LesionFilter(200.0).to_dict()}


def test_zone_limit_candidates_skip_limits_that_would_change_nothing():
    base = LesionFilter(400.0, 0.6)
    candidates = zone_limit_candidates(base, "middle", [LesionFilter(250.0), LesionFilter(400.0, 0.6),
                                                        LesionFilter(850.0), LesionFilter(250.0, 0.8)])
    assert candidates[0] == base
    assert [dict(c.zone_limits)["middle"] for c in candidates[1:]] == [LesionFilter(850.0), LesionFilter(250.0, 0.8)]


def test_a_zone_filter_without_component_zones_is_refused():
    prob, truth = _calibration_case(0, False)
    with pytest.raises(ValueError, match="zone"):
        case_curve(prob, truth, (1.0, 1.0, 1.0), [0.5], [LesionFilter().with_zone_limit("middle", MIDDLE_850)])
