"""Evaluation metrics checked against values computed by hand (not by calling the code).

Arrays are (k, j, i); spacing is given in SimpleITK (i, j, k) order, like everywhere else.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "LungTumorSeg"))

from lungtumorseg.evaluation.geometry import Grid  # noqa: E402
from lungtumorseg.evaluation.lesions import (  # noqa: E402
    detect_lesions,
    equivalent_diameter_mm,
    sensitivity_by_size,
    size_bin,
)
from lungtumorseg.evaluation.metrics import (  # noqa: E402
    axial_axis,
    confusion,
    overlap_metrics,
    rmse,
    slicewise_dice,
    surface_distances,
    volume_metrics,
    voxel_metrics,
)
from lungtumorseg.evaluation.stats import bootstrap_ci, describe  # noqa: E402
from lungtumorseg.evaluation.zones import lung_extent_from_zone_boxes, zone_index_map  # noqa: E402


def _empty(shape=(10, 10, 10)) -> np.ndarray:
    return np.zeros(shape, dtype=bool)


# --- overlap metrics --------------------------------------------------------------------

def test_two_shifted_cubes_hand_values():
    # Truth: 4x4x4 cube (64 voxels). Prediction: the same cube shifted by 2 along i:
    # overlap 4x4x2 = 32, union 96, 1000 voxels in all -> TN = 904.
    truth, pred = _empty(), _empty()
    truth[2:6, 2:6, 2:6] = True
    pred[2:6, 2:6, 4:8] = True
    c = confusion(pred, truth)
    assert (c.tp, c.fp, c.fn, c.tn) == (32, 32, 32, 904)
    m = overlap_metrics(c)
    assert m["dice"] == pytest.approx(0.5)  # 2*32 / (64+64)
    assert m["iou"] == pytest.approx(1 / 3)  # 32 / 96
    assert m["recall"] == pytest.approx(0.5)
    assert m["precision"] == pytest.approx(0.5)
    assert m["accuracy"] == pytest.approx(0.936)  # (32+904)/1000
    assert m["specificity"] == pytest.approx(904 / 936)
    assert rmse(pred, truth) == pytest.approx(math.sqrt(64 / 1000))  # 64 voxels differ


def test_cube_inside_cube_and_volume_error():
    # Truth 2x2x2 = 8 voxels inside prediction 4x4x4 = 64; voxel 0.5*1*2 = 1 mm^3.
    truth, pred = _empty(), _empty()
    truth[3:5, 3:5, 3:5] = True
    pred[2:6, 2:6, 2:6] = True
    m = overlap_metrics(confusion(pred, truth))
    assert m["dice"] == pytest.approx(2 / 9)  # 16 / 72
    assert m["iou"] == pytest.approx(1 / 8)
    assert m["recall"] == 1.0
    assert m["precision"] == pytest.approx(1 / 8)
    v = volume_metrics(pred, truth, (0.5, 1.0, 2.0))
    assert v["truth_volume_ml"] == pytest.approx(0.008)
    assert v["pred_volume_ml"] == pytest.approx(0.064)
    assert v["volume_error_ml"] == pytest.approx(0.056)
    assert v["volume_error_pct"] == pytest.approx(700.0)


def test_rmse_of_probability_map():
    truth = np.array([1, 1, 0, 0], dtype=bool)
    prob = np.array([1.0, 0.5, 0.5, 0.0], dtype=np.float32)
    # squared errors 0, .25, .25, 0 -> mean .125
    assert rmse(prob, truth) == pytest.approx(math.sqrt(0.125))


# --- edge cases ---------------------------------------------------------------------------

def test_both_empty():
    m = voxel_metrics(_empty(), _empty(), (1.0, 1.0, 1.0))
    assert m["dice"] == 1.0 and m["iou"] == 1.0
    assert m["hd95_mm"] == 0.0 and m["asd_mm"] == 0.0
    assert math.isnan(m["recall"]) and math.isnan(m["precision"])
    assert m["slicewise_dice"] == 1.0
    assert m["accuracy"] == 1.0 and m["specificity"] == 1.0
    assert math.isnan(m["volume_error_pct"]) and m["volume_error_ml"] == 0.0
    assert m["rmse"] == 0.0


def test_empty_truth_with_prediction():
    pred = _empty()
    pred[1:3, 1:3, 1:3] = True
    m = voxel_metrics(pred, _empty(), (1.0, 1.0, 1.0))
    assert m["dice"] == 0.0 and m["iou"] == 0.0
    assert math.isinf(m["hd95_mm"]) and math.isinf(m["asd_mm"])
    assert math.isnan(m["recall"]) and m["precision"] == 0.0
    assert math.isnan(m["volume_error_pct"])
    assert m["volume_error_ml"] == pytest.approx(0.008)


def test_empty_prediction_with_truth():
    truth = _empty()
    truth[1:3, 1:3, 1:3] = True
    m = voxel_metrics(_empty(), truth, (1.0, 1.0, 1.0))
    assert m["dice"] == 0.0
    assert m["recall"] == 0.0 and math.isnan(m["precision"])
    assert math.isinf(m["hd95_mm"]) and math.isinf(m["asd_mm"])
    assert m["volume_error_pct"] == pytest.approx(-100.0)


# --- surface distances with anisotropic spacing -------------------------------------------

def test_hd95_asd_single_voxels_anisotropic():
    # Truth one voxel; prediction that voxel plus one 2 slices away along k.
    # Spacing (i, j, k) = (1, 1, 2.5): the extra voxel is 5 mm away.
    # pred->truth distances {0, 5}, truth->pred {0}.
    # HD95 = max(95th percentile of {0, 5} = 4.75, 0) = 4.75; ASD = (0 + 5 + 0) / 3.
    truth, pred = _empty((7, 7, 7)), _empty((7, 7, 7))
    truth[2, 2, 2] = True
    pred[2, 2, 2] = pred[4, 2, 2] = True
    d = surface_distances(pred, truth, (1.0, 1.0, 2.5))
    assert d["hd95_mm"] == pytest.approx(4.75, abs=1e-4)
    assert d["asd_mm"] == pytest.approx(5 / 3, abs=1e-4)
    # Same offset but the 2.5 mm step on i instead: distance is 2 * 1 mm.
    d = surface_distances(pred, truth, (2.5, 1.0, 1.0))
    assert d["hd95_mm"] == pytest.approx(0.95 * 2.0, abs=1e-4)
    assert d["asd_mm"] == pytest.approx(2 / 3, abs=1e-4)


def test_hd95_asd_parallel_sheets():
    # Two 1-voxel-thick 5x5 sheets, 3 slices apart along k with 3 mm slices: every surface
    # voxel is exactly 9 mm from the other sheet, so HD95 = ASD = 9 (in-plane spacing 0.7).
    truth, pred = _empty((9, 7, 7)), _empty((9, 7, 7))
    truth[2, 1:6, 1:6] = True
    pred[5, 1:6, 1:6] = True
    d = surface_distances(pred, truth, (0.7, 0.7, 3.0))
    assert d["hd95_mm"] == pytest.approx(9.0, abs=1e-4)
    assert d["asd_mm"] == pytest.approx(9.0, abs=1e-4)


def test_surface_distances_unchanged_at_image_border():
    # Objects touching the array edge (outside the array counts as background, as in MONAI).
    # Truth = slices k 0..1, prediction = k 0..2 (full 4x4 in-plane), 2 mm along k.
    # Every truth voxel is on its surface; the prediction's 2x2 core of slice k=1 is not.
    # pred->truth: slice k=2 (16 of 44 surface voxels) is 2 mm away, the rest 0 -> p95 = 2.
    # truth->pred: the 2x2 core of k=1 (4 of 32) is 1 mm away in-plane -> p95 = 1.
    # HD95 = max(2, 1) = 2; the same arrays padded with background must give the same.
    truth, pred = _empty((4, 4, 4)), _empty((4, 4, 4))
    truth[:2] = True
    pred[:3] = True
    a = surface_distances(pred, truth, (1.0, 1.0, 2.0))
    b = surface_distances(np.pad(pred, 3), np.pad(truth, 3), (1.0, 1.0, 2.0))
    assert a == pytest.approx(b)
    assert a["hd95_mm"] == pytest.approx(2.0, abs=1e-4)


# --- slice-wise Dice ------------------------------------------------------------------------

def test_slicewise_dice_differs_from_volume_dice():
    # Slice k=1: truth and prediction the same 10x10 square (Dice 1).
    # Slice k=2: one truth voxel, no prediction (Dice 0).
    # Slice k=3: one predicted voxel, no truth (Dice 0).
    # Volume Dice = 2*100 / (101 + 101) = 0.990099..; slice-wise = (1 + 0 + 0) / 3.
    truth, pred = _empty((5, 12, 12)), _empty((5, 12, 12))
    truth[1, 1:11, 1:11] = True
    pred[1, 1:11, 1:11] = True
    truth[2, 5, 5] = True
    pred[3, 5, 5] = True
    m = voxel_metrics(pred, truth, (1.0, 1.0, 1.0))
    assert m["dice"] == pytest.approx(200 / 202)
    assert m["slicewise_dice"] == pytest.approx(1 / 3)
    # Along another axis the slices differ: axis 2 (i) slices 1..10 each hold a column of
    # the square (Dice 1 except slice 5, which also holds the two single voxels:
    # truth 10+1, pred 10+1, overlap 10 -> 20/22).
    expected = (9 * 1.0 + 20 / 22) / 10
    assert slicewise_dice(pred, truth, axis=2) == pytest.approx(expected)


def test_axial_axis_from_direction():
    assert axial_axis(None) == 0
    assert axial_axis((1, 0, 0, 0, 1, 0, 0, 0, 1)) == 0
    assert axial_axis((-1, 0, 0, 0, -1, 0, 0, 0, -1)) == 0  # feet-first / RAS flips
    # i runs along z (columns: i=(0,0,1), j=(1,0,0), k=(0,1,0)) -> array axis 2.
    assert axial_axis((0, 1, 0, 0, 0, 1, 1, 0, 0)) == 2


# --- lesions --------------------------------------------------------------------------------

def _lesion_scene():
    truth, pred = _empty((12, 12, 12)), _empty((12, 12, 12))
    truth[1:4, 1:4, 1:4] = True  # A: 27 voxels, hit by P1
    pred[1:4, 1:4, 2:5] = True  # P1: 27 voxels, overlap 18 -> IoU 18/36 = 0.5
    truth[8, 1, 1] = True  # B: 1 voxel, missed
    truth[7:9, 7:9, 7:9] = True  # C: 8 voxels, touched by P2 in one voxel
    pred[8:10, 8:10, 8:10] = True  # P2: 8 voxels, overlap 1 -> IoU 1/15
    pred[1, 10, 10] = True  # P3: isolated false positive
    return pred, truth


def test_detection_counts_any_overlap():
    pred, truth = _lesion_scene()
    d = detect_lesions(pred, truth, (1.0, 1.0, 1.0))
    assert d.n_truth == 3 and d.n_predicted == 3
    assert d.n_detected == 2  # A and C
    assert d.n_false_positive == 1  # P3
    assert d.sensitivity == pytest.approx(2 / 3)
    ious = sorted(r.best_iou for r in d.truth)
    assert ious == pytest.approx([0.0, 1 / 15, 0.5])


def test_detection_with_iou_rule():
    pred, truth = _lesion_scene()
    d = detect_lesions(pred, truth, (1.0, 1.0, 1.0), min_iou=0.1)
    assert d.n_detected == 1  # only A (C's IoU 1/15 < 0.1)
    assert d.n_false_positive == 1  # P2 still overlaps truth: not a false positive


def test_corner_touching_voxels_are_separate_lesions():
    truth = _empty((4, 4, 4))
    truth[1, 1, 1] = truth[2, 2, 2] = True  # share only a corner
    d = detect_lesions(_empty((4, 4, 4)), truth, (1.0, 1.0, 1.0))
    assert d.n_truth == 2 and d.n_detected == 0
    assert math.isnan(detect_lesions(_empty(), _empty(), (1, 1, 1)).sensitivity)


def test_equivalent_diameter_and_size_bins():
    assert equivalent_diameter_mm(math.pi / 6 * 1000.0) == pytest.approx(10.0)  # sphere d=10
    assert equivalent_diameter_mm(1000.0) == pytest.approx(12.407, abs=1e-3)  # (6000/pi)^(1/3)
    assert size_bin(9.99) == "<10mm"
    assert size_bin(10.0) == "10-20mm"
    assert size_bin(19.99) == "10-20mm"
    assert size_bin(20.0) == "20-30mm"
    assert size_bin(30.0) == ">=30mm"
    assert size_bin(250.0) == ">=30mm"


def test_sensitivity_by_size():
    # 2 mm voxels (8 mm^3): a 4x4x4-voxel cube = 512 mm^3 -> d = (6*512/pi)^(1/3) = 9.93 mm;
    # a 5x5x5 cube = 1000 mm^3 -> 12.41 mm; a 10x10x10 cube = 8000 mm^3 -> 24.81 mm.
    truth, pred = _empty((30, 30, 30)), _empty((30, 30, 30))
    truth[1:5, 1:5, 1:5] = True  # <10, missed
    truth[10:15, 1:6, 1:6] = True  # 10-20, detected
    truth[17:27, 15:25, 15:25] = True  # 20-30, detected
    pred[10, 1, 1] = True
    pred[20, 20, 20] = True
    d = detect_lesions(pred, truth, (2.0, 2.0, 2.0))
    by = sensitivity_by_size(d.truth)
    assert by["<10mm"] == {"n_truth": 1, "n_detected": 0, "sensitivity": 0.0}
    assert by["10-20mm"] == {"n_truth": 1, "n_detected": 1, "sensitivity": 1.0}
    assert by["20-30mm"] == {"n_truth": 1, "n_detected": 1, "sensitivity": 1.0}
    assert by[">=30mm"]["n_truth"] == 0 and math.isnan(by[">=30mm"]["sensitivity"])
    diameters = sorted(r.diameter_mm for r in d.truth)
    assert diameters == pytest.approx([9.93, 12.41, 24.81], abs=0.01)


# --- zones ----------------------------------------------------------------------------------

def test_zone_map_thirds():
    # 30 slices of 1 mm, lungs from z=0 to z=30: boundaries at 10 and 20 mm.
    zmap = zone_index_map((30, 2, 2), Grid.of((1.0, 1.0, 1.0)), (0.0, 30.0))
    names = ("upper", "middle", "lower")  # ZONE_NAMES order
    assert {names[v] for v in zmap[:10].ravel()} == {"lower"}
    assert {names[v] for v in zmap[10:20].ravel()} == {"middle"}
    assert {names[v] for v in zmap[20:].ravel()} == {"upper"}


def test_zone_map_feet_first():
    # k runs inferior (direction z = -1), origin z = 29: slice k is at z = 29 - k.
    grid = Grid.of((1.0, 1.0, 1.0), (0.0, 0.0, 29.0), (1, 0, 0, 0, 1, 0, 0, 0, -1))
    zmap = zone_index_map((30, 1, 1), grid, (0.0, 30.0))
    assert zmap[0, 0, 0] == 0  # z = 29: upper
    assert zmap[29, 0, 0] == 2  # z = 0: lower


def test_lung_extent_from_zone_boxes():
    # Lungs 0..90 mm: boundaries 30, 60; middle box = [30 - 7.5 - 16, 60 + 7.5 + 16].
    assert lung_extent_from_zone_boxes({"middle": [6.5, 83.5]}, 15.0, 16.0) == pytest.approx((0.0, 90.0))
    assert lung_extent_from_zone_boxes({"whole": [0.0, 100.0]}, 15.0, 16.0) is None


# --- statistics -----------------------------------------------------------------------------

def test_describe_nan_and_inf():
    s = describe([1.0, 3.0, float("nan"), float("inf")])
    assert s["mean"] == pytest.approx(2.0)
    assert s["sd"] == pytest.approx(math.sqrt(2.0))  # sample sd of {1, 3}
    assert s["median"] == 3.0  # median of {1, 3, inf}
    assert (s["n"], s["n_nan"], s["n_inf"]) == (2, 1, 1)


def test_bootstrap_ci_deterministic():
    values = [0.61, 0.72, 0.80, 0.55, 0.90, 0.77, 0.68]
    a = bootstrap_ci(values, n=2000, seed=0)
    b = bootstrap_ci(values, n=2000, seed=0)
    assert a == b
    assert a[0] < float(np.mean(values)) < a[1]
    assert min(values) <= a[0] and a[1] <= max(values)
    assert bootstrap_ci(values, n=2000, seed=1) != a
    assert bootstrap_ci([0.4, 0.4, 0.4]) == pytest.approx((0.4, 0.4))
    assert bootstrap_ci([0.7, float("nan")]) == pytest.approx((0.7, 0.7))
    assert all(math.isnan(x) for x in bootstrap_ci([]))
