"""evaluate_prediction, the CSV/JSON writers, the printed summary, plots and the CLI.

Everything except the last (slow) test runs on small synthetic label arrays, no network.
"""

from __future__ import annotations

import csv
import json
import math
import struct
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "LungTumorSeg"))

from lungtumorseg.evaluation.case import case_row, evaluate_prediction, lesion_rows, zone_rows  # noqa: E402
from lungtumorseg.evaluation.fields import (  # noqa: E402
    CASE_FIELDS,
    LESION_FIELDS,
    SUMMARY_FIELDS,
    SYNTHETIC_NOTE,
    ZONE_FIELDS,
)
from lungtumorseg.evaluation.plots import take_snapshot  # noqa: E402
from lungtumorseg.evaluation.report import (  # noqa: E402
    build_summary,
    dataset_is_synthetic,
    format_summary,
    write_plots,
    write_results,
)
from lungtumorseg.evaluation.tables import write_json  # noqa: E402

SPACING = (1.0, 1.0, 2.0)  # (i, j, k) mm


def _case(kind: str):
    """Small synthetic cases: 'good' (shifted cube + FP), 'empty_truth', 'missed'."""
    truth = np.zeros((15, 20, 20), dtype=bool)
    pred = np.zeros_like(truth)
    if kind == "good":
        truth[2:6, 4:10, 4:10] = True
        pred[3:7, 4:10, 4:10] = True
        pred[12, 15, 15] = True  # false positive in the upper part
    elif kind == "empty_truth":
        pred[7, 2:4, 2:4] = True
    elif kind == "missed":
        truth[7:9, 10:13, 10:13] = True
    prob = pred.astype(np.float32) * 0.8
    image = np.full(truth.shape, -800.0, dtype=np.float32)
    image[truth] = 40.0
    return pred.astype(np.uint16), prob, truth, image


def _evaluate(kind: str) -> dict:
    pred, prob, truth, _ = _case(kind)
    return evaluate_prediction(pred, prob, truth, SPACING, lung_z_mm=(0.0, 30.0), case=kind)


def test_evaluate_prediction_values_and_zone_consistency():
    ev = _evaluate("good")
    v = ev["voxel"]
    # truth 4x6x6 = 144, pred cube 144 shifted one slice (overlap 3x6x6 = 108) + 1 FP voxel.
    assert v["tp"] == 108 and v["fn"] == 36 and v["fp"] == 37
    assert v["dice"] == pytest.approx(216 / 289)
    assert v["truth_volume_ml"] == pytest.approx(0.288)  # 144 voxels x 2 mm^3
    d = ev["detection"]
    assert (d["n_truth_lesions"], d["n_detected"], d["n_pred_lesions"], d["n_false_positive"]) == (1, 1, 2, 1)
    # Zones partition the voxels: counts add up to the whole-scan counts.
    assert set(ev["zones"]) == {"upper", "middle", "lower"}
    for key in ("tp", "fp", "fn", "tn"):
        assert sum(z[key] for z in ev["zones"].values()) == v[key]
    assert sum(z["zone_voxels"] for z in ev["zones"].values()) == 15 * 20 * 20
    assert sum(z["n_truth_lesions"] for z in ev["zones"].values()) == 1
    # z = 2 mm x k; thirds of 0..30 mm at 10 and 20 mm: the FP voxel (k=12, z=24) is upper,
    # the truth cube centroid (k=3.5, z=7) is lower.
    assert ev["zones"]["upper"]["n_false_positive"] == 1
    assert ev["zones"]["lower"]["n_truth_lesions"] == 1
    truths = [r for r in ev["lesions"] if r["kind"] == "truth"]
    assert truths[0]["zone"] == "lower" and truths[0]["centroid_lps_mm"][2] == pytest.approx(7.0)


def test_evaluate_prediction_without_lung_extent_and_shape_check():
    pred, prob, truth, _ = _case("good")
    ev = evaluate_prediction(pred, None, truth, SPACING)
    assert ev["zones"] == {}
    assert math.isnan(ev["voxel"]["rmse_probability"])
    assert all(r["zone"] == "unknown" for r in ev["lesions"])
    with pytest.raises(ValueError):
        evaluate_prediction(pred[:-1], None, truth, SPACING)


def _summary(evals, synthetic=True):
    return build_summary(
        evals,
        dataset={"path": "/data", "name": "LungTumorSegPhantom", "description": "", "n_cases_found": 3,
                 "n_cases_evaluated": len(evals)},
        model={"path": "/pkg", "name": "m", "version": "0", "demo": True, "warning": "demo"},
        settings={"threshold": 0.5, "detection_min_iou": 0.0},
        synthetic=synthetic,
        statuses=["ok", "ok", "no_lungs"],
    )


def test_writers_every_column_and_nonfinite_values(tmp_path):
    evals = [_evaluate(k) for k in ("good", "empty_truth", "missed")]
    rows = [case_row(e, status="ok", lung_extent_source="truth", seconds=1.0) for e in evals]
    zrows = [r for e in evals for r in zone_rows(e)]
    lrows = [r for e in evals for r in lesion_rows(e)]
    files = write_results(tmp_path, rows, zrows, lrows)
    assert [f.name for f in files] == ["metrics_cases.csv", "metrics_zones.csv", "lesions.csv"]
    for path, fields, n_rows in ((files[0], CASE_FIELDS, 3), (files[1], ZONE_FIELDS, 9), (files[2], LESION_FIELDS, 5)):
        with open(path, newline="") as fh:
            table = list(csv.DictReader(fh))
        assert list(table[0].keys()) == list(fields)
        assert len(table) == n_rows
        for row in table:  # every documented column is filled in every row
            assert all(row[c] != "" for c in fields), (path.name, row)
    with open(files[0], newline="") as fh:
        cases = {r["case"]: r for r in csv.DictReader(fh)}
    assert cases["empty_truth"]["hd95_mm"] == "inf" and cases["empty_truth"]["recall"] == "nan"
    assert cases["missed"]["precision"] == "nan" and cases["missed"]["dice"] == "0"
    assert float(cases["good"]["dice"]) == pytest.approx(216 / 289, rel=1e-5)

    summary = _summary(evals)
    write_json(summary, tmp_path / "summary.json")

    def reject(name):  # strict JSON: no NaN / Infinity tokens
        raise AssertionError(f"non-standard JSON constant {name}")

    loaded = json.loads((tmp_path / "summary.json").read_text(), parse_constant=reject)
    assert set(loaded) <= set(SUMMARY_FIELDS)
    assert set(SUMMARY_FIELDS) - set(loaded) == {"files", "seconds"}  # added by the runner
    assert loaded["synthetic"] is True and loaded["data_note"] == SYNTHETIC_NOTE
    hd = loaded["voxel"]["hd95_mm"]
    assert hd["n_inf"] == 2 and hd["n"] == 1  # empty_truth and missed are unbounded
    assert loaded["voxel"]["recall"]["n_nan"] == 1  # empty_truth: undefined
    assert loaded["cases"]["n_no_lungs"] == 1 and loaded["cases"]["n_truth_empty"] == 1
    lesions = loaded["lesions"]
    assert (lesions["n_truth_lesions"], lesions["n_detected"], lesions["n_false_positive"]) == (2, 1, 2)
    assert lesions["false_positives_per_case"] == pytest.approx(2 / 3)
    assert set(loaded["zones"]) == {"upper", "middle", "lower"}
    # Pooled Dice from summed counts: TP 108; FP 37 + 4; FN 36 + 18.
    assert loaded["pooled"]["dice"] == pytest.approx(216 / (216 + 41 + 54))
    assert "slice" in loaded["slicewise_dice_note"] and loaded["fields"]["lesions.csv"] == LESION_FIELDS


def test_printed_summary_labels_synthetic_data(tmp_path):
    evals = [_evaluate(k) for k in ("good", "empty_truth", "missed")]
    text = format_summary(_summary(evals, synthetic=True))
    assert SYNTHETIC_NOTE in text and "Dice (slice-wise)" in text and "HD95" in text
    assert "(2 inf)" in text  # infinite HD95 cases are reported, not hidden
    assert SYNTHETIC_NOTE not in format_summary(_summary(evals, synthetic=False))
    (tmp_path / "dataset.json").write_text(json.dumps({"name": "LungTumorSegPhantom", "training": []}))
    assert dataset_is_synthetic(tmp_path)
    (tmp_path / "dataset.json").write_text(json.dumps({"name": "Task06_Lung", "description": "Lung cancer CT"}))
    assert not dataset_is_synthetic(tmp_path)


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


def test_plots_written(tmp_path):
    pytest.importorskip("matplotlib")
    evals, snaps = [], []
    for kind in ("good", "empty_truth", "missed"):
        pred, prob, truth, image = _case(kind)
        ev = evaluate_prediction(pred, prob, truth, SPACING, lung_z_mm=(0.0, 30.0), case=kind)
        evals.append(ev)
        snaps.append(take_snapshot(kind, ev["voxel"]["dice"], image, truth, pred > 0, SPACING, ev["slice_axis"]))
    assert snaps[0].slice_index == 4  # through the truth cube's centroid (k 2..5 -> 3.5 -> 4)
    assert snaps[0].aspect == pytest.approx(1.0)
    files = write_plots(tmp_path, evals, _summary(evals), snaps, gallery=2)
    assert [f.name for f in files] == ["dice_per_case.png", "volumes.png", "detection_by_size.png", "worst_cases.png"]
    for f in files:
        assert f.stat().st_size > 5000, f.name
        w, h = _png_size(f)
        assert 300 <= w <= 3000 and 200 <= h <= 3000, (f.name, w, h)


def test_cli_parser_and_argument_errors(tmp_path, capsys):
    from lungtumorseg.cli import build_parser, main

    args = build_parser().parse_args(["evaluate", "--data", str(tmp_path), "--model", str(tmp_path), "--limit", "2"])
    assert args.limit == 2 and callable(args.runner) and args.output == Path("evaluation")
    assert main(["evaluate", "--data", str(tmp_path), "--model", str(tmp_path), "--threshold", "1.5"]) == 2
    assert "threshold" in capsys.readouterr().err
    # An empty data folder is a user error (one line, exit 2), not a traceback.
    assert main(["evaluate", "--data", str(tmp_path), "--model", str(tmp_path), "-o", str(tmp_path / "o")]) == 2
    assert "error:" in capsys.readouterr().err


def _random_package(folder: Path):
    import torch

    from lungtumorseg.models import build_unetr, save_package
    from lungtumorseg.models.card import make_card
    from lungtumorseg.models.network import reduced_unetr_config

    network = reduced_unetr_config(32)
    torch.manual_seed(0)
    zones = ["upper", "middle", "lower"]
    states = {z: build_unetr(network).state_dict() for z in zones}
    card = make_card(
        name="random-weights-test", version="0.0.0", description="untrained, for tests", demo=True,
        network=network, spacing_mm=[4.0, 4.0, 4.0], window_hu=[-1000.0, 500.0], zone_names=zones,
        zone_overlap_mm=15.0, zone_margin_mm=20.0, zone_context_mm=16.0, threshold=0.5,
        min_lesion_mm3=30.0, training={},
    )
    return save_package(folder, card, states)


@pytest.mark.slow
def test_evaluate_end_to_end_random_package(tmp_path, capsys):
    """One small phantom through the real pipeline with random weights: every file, every field."""
    from lungtumorseg.cli import main
    from lungtumorseg.phantoms import PhantomConfig, write_msd_dataset

    write_msd_dataset(tmp_path / "data", 1, 5, PhantomConfig(size="small", n_tumours=1, orientation="axial-lps",
                                                             tumour_diameter_mm=(15.0, 25.0)))
    _random_package(tmp_path / "pkg")
    out = tmp_path / "out"
    code = main(["evaluate", "--data", str(tmp_path / "data"), "--model", str(tmp_path / "pkg"), "-o", str(out),
                 "--threads", "1"])
    printed = capsys.readouterr().out
    assert code == 0
    assert SYNTHETIC_NOTE in printed and "case 1/1" in printed
    for name, fields in (("metrics_cases.csv", CASE_FIELDS), ("metrics_zones.csv", ZONE_FIELDS),
                         ("lesions.csv", LESION_FIELDS)):
        with open(out / name, newline="") as fh:
            table = list(csv.DictReader(fh))
        assert table and list(table[0]) == list(fields)
        for row in table:
            assert all(row[c] != "" for c in fields), (name, row)
    summary = json.loads((out / "summary.json").read_text())
    assert set(summary) == set(SUMMARY_FIELDS)
    assert summary["synthetic"] is True and summary["cases"]["n_evaluated"] == 1
    assert summary["lesions"]["n_truth_lesions"] >= 1
    for png in ("dice_per_case.png", "volumes.png", "detection_by_size.png", "worst_cases.png"):
        assert (out / png).stat().st_size > 5000


@pytest.mark.slow
def test_evaluation_keeps_each_map_where_the_froc_and_calibration_scripts_read_it(tmp_path, monkeypatch):
    """``EvaluateOptions.probability_cache``: the held-out benchmark keeps every map it computed
    under the key ``froc_phantoms.py`` and ``calibrate_threshold.py`` look up, so reading the
    cache gives the pipeline's own map (float16) without a second inference."""
    import SimpleITK as sitk

    from lungtumorseg.evaluation import probability_cache
    from lungtumorseg.evaluation.report import EvaluateOptions, evaluate_dataset
    from lungtumorseg.io import read_image
    from lungtumorseg.models.package import load_package
    from lungtumorseg.phantoms import PhantomConfig, write_msd_dataset
    from lungtumorseg.pipeline import SegmentOptions, segment
    from lungtumorseg.training.dataset import discover_cases

    write_msd_dataset(tmp_path / "data", 1, 7, PhantomConfig(size="small", n_tumours=1, orientation="axial-lps",
                                                             tumour_diameter_mm=(15.0, 25.0)))
    _random_package(tmp_path / "pkg")
    cache = tmp_path / "maps"
    evaluate_dataset(tmp_path / "data", tmp_path / "pkg", tmp_path / "out",
                     EvaluateOptions(threads=1, plots=False, probability_cache=cache), log=lambda line: None)
    package = load_package(tmp_path / "pkg")
    (case,) = discover_cases(tmp_path / "data")
    key = probability_cache.cache_key(package, list(package.card.mirror_axes))
    assert sorted(p.name for p in cache.iterdir()) == [f"{case.name}-{key}.json", f"{case.name}-{key}.npy"]

    fresh = segment(read_image(case.image), package, SegmentOptions(threads=1))
    expected = sitk.GetArrayFromImage(fresh.probability).astype(np.float16).astype(np.float32)
    assert expected.max() > 0.0  # a map with something in it, so equality below means something

    def no_second_inference(*args, **kwargs):
        raise AssertionError("the cached map should have been read, not recomputed")

    monkeypatch.setattr(probability_cache, "segment", no_second_inference)
    prob, lung_z = probability_cache.cached_probability(case, package, 1, cache, key)
    np.testing.assert_array_equal(prob, expected)
    assert lung_z == pytest.approx(fresh.lung_z_lps_mm)
