"""Detection by phantom tumour type (kind, size, location, zone): a real phantom's label and meta,
a prediction that misses one known tumour, the real evaluation's lesions.csv."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import SimpleITK as sitk
from scipy import ndimage as ndi

from core_fixtures import phantom
from lungtumorseg.evaluation.case import evaluate_prediction, lesion_rows
from lungtumorseg.evaluation.report import write_results
from lungtumorseg.evaluation.tumour_types import detection_by, detection_table, tumour_outcomes


def _prediction_without(case, missed: dict) -> np.ndarray:
    """The truth label with the component under ``missed``'s centre erased."""
    truth = sitk.GetArrayFromImage(case.label) > 0
    components, _ = ndi.label(truth)
    i, j, k = case.label.TransformPhysicalPointToIndex(missed["centre_lps_mm"])
    number = components[k, j, i]
    assert number > 0, "the phantom's tumour centre must lie inside its label"
    return (truth & (components != number)).astype(np.uint16)


def _write_evaluation(tmp_path: Path, case, prediction: np.ndarray, name: str = "lung_000",
                      probability: np.ndarray | None = None) -> tuple[Path, Path]:
    truth = sitk.GetArrayFromImage(case.label) > 0
    image = case.image
    evaluation = evaluate_prediction(prediction, probability, truth, image.GetSpacing(), origin=image.GetOrigin(),
                                     direction=image.GetDirection(), case=name)
    write_results(tmp_path, [], [], lesion_rows(evaluation))
    meta_dir = tmp_path / "meta"
    meta_dir.mkdir()
    (meta_dir / f"{name}.json").write_text(json.dumps(case.meta), encoding="utf-8")
    return tmp_path / "lesions.csv", meta_dir


def test_a_missed_tumour_is_reported_under_its_own_kind_and_location(tmp_path):
    case = phantom(2)  # central, peripheral and juxtapleural tumours
    tumours = case.meta["tumours"]
    assert len(tumours) == 3
    missed = tumours[1]
    lesions_csv, meta_dir = _write_evaluation(tmp_path, case, _prediction_without(case, missed))

    outcomes = tumour_outcomes(lesions_csv, meta_dir)
    assert [o["detected"] for o in outcomes] == [True, False, True]
    assert [o["location"] for o in outcomes] == [t["location"] for t in tumours]

    by_location = detection_by(outcomes, "location")
    assert by_location[missed["location"]]["detected"] == sum(
        1 for t in tumours if t["location"] == missed["location"]) - 1
    assert sum(v["total"] for v in by_location.values()) == 3
    table = detection_table(outcomes)
    assert set(table) == {"kind", "size", "location", "zone"}
    assert sum(v["detected"] for v in table["kind"].values()) == 2
    assert sum(v["total"] for v in table["size"].values()) == 3
    # without a probability map nothing counts as a response
    assert all(o["peak_probability"] != o["peak_probability"] for o in outcomes)  # nan
    assert sum(v["responded"] for v in table["kind"].values()) == 0


def test_responded_counts_a_tumour_the_network_saw_but_did_not_report(tmp_path):
    """Probability 0.9 inside two tumours, 0.3 inside the third; the prediction misses the
    third and a fourth-like case: the table separates "not reported" from "not seen"."""
    case = phantom(2)
    tumours = case.meta["tumours"]
    truth = sitk.GetArrayFromImage(case.label) > 0
    components, _ = ndi.label(truth)
    probability = np.where(truth, 0.9, 0.01).astype(np.float32)
    seen_not_reported, unseen = tumours[1], tumours[2]
    for tumour, peak in ((seen_not_reported, 0.6), (unseen, 0.3)):
        i, j, k = case.label.TransformPhysicalPointToIndex(tumour["centre_lps_mm"])
        probability[components == components[k, j, i]] = peak
    prediction = _prediction_without(case, seen_not_reported) * (probability != 0.3)
    lesions_csv, meta_dir = _write_evaluation(tmp_path, case, prediction.astype(np.uint16), probability=probability)

    outcomes = tumour_outcomes(lesions_csv, meta_dir)
    assert [o["detected"] for o in outcomes] == [True, False, False]
    assert [round(o["peak_probability"], 3) for o in outcomes] == [0.9, 0.6, 0.3]
    by_kind = detection_table(outcomes)["kind"]
    assert sum(v["detected"] for v in by_kind.values()) == 1
    assert sum(v["responded"] for v in by_kind.values()) == 2  # 0.9 and 0.6 reach 0.5; 0.3 does not


def test_size_floor_and_cases_without_meta(tmp_path):
    case = phantom(2)
    truth = (sitk.GetArrayFromImage(case.label) > 0).astype(np.uint16)
    lesions_csv, meta_dir = _write_evaluation(tmp_path, case, truth)
    outcomes = tumour_outcomes(lesions_csv, meta_dir)
    assert all(o["detected"] for o in outcomes)
    smallest = min(o["diameter_mm"] for o in outcomes)
    above = detection_by(outcomes, "kind", min_diameter_mm=smallest + 1e-6)
    assert sum(v["total"] for v in above.values()) == len(outcomes) - 1
    # a real data set has no phantom meta: no tumour records, nothing invented
    (meta_dir / "lung_000.json").unlink()
    assert tumour_outcomes(lesions_csv, meta_dir) == []


def test_detection_by_tumour_type_picture(tmp_path):
    import struct

    from lungtumorseg.evaluation.plots import plot_detection_by_tumour_type

    case = phantom(2)
    lesions_csv, meta_dir = _write_evaluation(tmp_path, case, _prediction_without(case, case.meta["tumours"][0]))
    table = detection_table(tumour_outcomes(lesions_csv, meta_dir))
    png = plot_detection_by_tumour_type(table, tmp_path / "by_type.png", "synthetic phantoms")
    header = png.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", header[16:24])
    assert width > 2.5 * height  # three panels side by side: kind, location, zone
    assert png.stat().st_size > 10000
