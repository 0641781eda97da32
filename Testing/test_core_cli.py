"""Command line (lungtumorseg.cli.main): predict, phantom --msd, info; exit codes and one-line
errors (a bad or unavailable --device among them); notes and warnings about a DICOM folder's
series; the subcommands the parser and the module doc list.

``predict`` runs for real on a small phantom with a random-weight tiny UNETR package (the
network's output is meaningless, the run is not): real reading, resampling, lung finding,
zone inference, superposition, labelling, measuring and writing.

Real data: ``shared/data/real/abdomen_ct_3mm.nii.gz`` (abdomen, no lungs) and
``shared/data/real/upper_abdomen_ct_dicom`` (20-slice DICOM series, lung bases only) are
TotalSegmentator test files (Wasserthal et al., "TotalSegmentator: robust segmentation of
104 anatomic structures in CT images", Radiology: Artificial Intelligence 2023; CC BY 4.0).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk
import torch

import lungtumorseg.cli as cli
import lungtumorseg.phantoms as phantoms_pkg
from core_fixtures import (
    package_copy,  # noqa: F401  (fixture)
    phantom,
    phantom_file,
    real_data,
    same_geometry,
    sha256_tree,
    shared_package_dir,
    threshold_networks,  # noqa: F401  (fixture)
)
from lungtumorseg.cli import build_parser, main
from lungtumorseg.models import CARD_FILE, ModelPackage
from lungtumorseg.postprocess import LesionFilter
from test_core_io import write_dicom_series

LESION_FIELDS = {"label", "voxels", "volume_mm3", "volume_ml", "centroid_lps_mm", "long_axis_mm", "short_axis_mm",
                 "zone", "side", "hu_mean", "hu_std", "hu_min", "hu_max", "mean_probability",
                 "peak_probability", "elongation", "candidate_score", "found_by", "joined_ml"}
REPORT_FIELDS = {"status", "message", "input", "model", "threshold", "lung_volume_ml", "zones_lps_z_mm", "midline_x_lps_mm",
                 "timings_s", "lesions", "postprocessing", "precision", "magnified_look",
                 "confirmed_by_magnified_look"}


def run_cli(argv: list[str]) -> tuple[int, str, str]:
    """``main(argv)`` in-process: (exit code, stdout, stderr). Restores the SIGTERM handler."""
    out, err = io.StringIO(), io.StringIO()
    old = signal.getsignal(signal.SIGTERM)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main([str(a) for a in argv])
            except SystemExit as exc:  # argparse
                code = int(exc.code or 0)
    finally:
        signal.signal(signal.SIGTERM, old)
    return code, out.getvalue(), err.getvalue()


def _one_line_error(err: str) -> str:
    lines = [ln for ln in err.splitlines() if ln.strip() and not ln.startswith("note: ")]
    assert len(lines) == 1 and lines[0].startswith("error: "), f"expected one 'error:' line, got {err!r}"
    return lines[0]


def _progress_lines(out: str) -> list[tuple[float, str]]:
    rows = []
    for line in out.splitlines():
        if line.startswith("PROGRESS "):
            _, fraction, stage = line.split(" ", 2)
            rows.append((float(fraction), stage))
    return rows


# ------------------------------------------------------------------ predict (real run)
@pytest.fixture(scope="module")
def predicted(tmp_path_factory):
    src = phantom_file(2)
    before = sha256_tree(src)
    out = tmp_path_factory.mktemp("predict")
    code, stdout, stderr = run_cli([
        "predict", src, "-o", out / "labels.nii.gz", "--model", shared_package_dir(),
        "--report", out / "report.json", "--probabilities", out / "prob.nrrd", "--progress", "lines",
        "--threads", "1",
    ])
    return {"code": code, "out": stdout, "err": stderr, "dir": out, "src": src, "hash_before": before}


def test_predict_writes_labels_on_the_input_grid(predicted):
    assert predicted["code"] == 0, predicted["err"]
    assert sha256_tree(predicted["src"]) == predicted["hash_before"], "the input file was modified"
    image = sitk.ReadImage(str(predicted["src"]))
    labels = sitk.ReadImage(str(predicted["dir"] / "labels.nii.gz"))
    prob = sitk.ReadImage(str(predicted["dir"] / "prob.nrrd"))
    assert labels.GetSize() == image.GetSize()
    for a, b in ((labels, image), (prob, image)):
        np.testing.assert_allclose(a.GetSpacing(), b.GetSpacing(), atol=1e-6)
        np.testing.assert_allclose(a.GetOrigin(), b.GetOrigin(), atol=1e-4)
        np.testing.assert_allclose(a.GetDirection(), b.GetDirection(), atol=1e-6)
    assert prob.GetSize() == image.GetSize()
    p = sitk.GetArrayFromImage(prob)
    assert p.min() >= 0.0 and p.max() <= 1.0
    lab = sitk.GetArrayFromImage(labels)
    assert np.issubdtype(lab.dtype, np.integer) and lab.min() == 0
    assert sorted(p.name for p in predicted["dir"].iterdir()) == ["labels.nii.gz", "prob.nrrd", "report.json"]


def test_predict_writes_the_probability_map_in_whole_percent_on_request(predicted, tmp_path):
    code, _, err = run_cli(["predict", predicted["src"], "-o", tmp_path / "labels.nii.gz", "--model", shared_package_dir(),
                            "--probabilities", tmp_path / "percent.nrrd", "--probability-percent", "--progress", "none",
                            "--threads", "1", "--device", "cpu"])
    assert code == 0, err
    percent = sitk.ReadImage(str(tmp_path / "percent.nrrd"))
    full = sitk.GetArrayFromImage(sitk.ReadImage(str(predicted["dir"] / "prob.nrrd")))
    assert percent.GetPixelID() == sitk.sitkUInt8
    values = sitk.GetArrayFromImage(percent)
    assert values.max() <= 100
    for t in (0.3, 0.5, 0.55):  # same voxels as the float map for whole-percent thresholds
        np.testing.assert_array_equal(values >= round(100 * t), full >= t)


def test_predict_report_has_the_documented_fields(predicted):
    report = json.loads((predicted["dir"] / "report.json").read_text())
    assert set(report) >= REPORT_FIELDS
    assert report["status"] == "ok" and report["input"] == str(predicted["src"])
    assert report["model"]["name"] == "core-test-model" and report["model"]["demo"] is True
    assert report["threshold"] == 0.5 and report["precision"] == "fp32"
    assert report["magnified_look"] is None and report["confirmed_by_magnified_look"] == []  # the card has none
    # the card of the test package sets no peak or elongation limit: recorded as such
    assert report["postprocessing"] == {"threshold": 0.5, "min_lesion_mm3": 30.0,
                                        "min_peak_probability": 0.0, "max_elongation": None, "max_mean_hu": None}
    truth_ml = (sitk.GetArrayFromImage(phantom(2).lungs) > 0).sum() * np.prod(phantom(2).image.GetSpacing()) / 1000
    assert report["lung_volume_ml"] == pytest.approx(truth_ml, rel=0.15)
    assert set(report["zones_lps_z_mm"]) == {"upper", "middle", "lower"}
    assert report["zones_lps_z_mm"]["upper"][1] > report["zones_lps_z_mm"]["lower"][1]
    assert {"preprocess", "lungs", "inference"} <= set(report["timings_s"])
    # lesions in the report = labels in the image, by decreasing size
    lab = sitk.GetArrayFromImage(sitk.ReadImage(str(predicted["dir"] / "labels.nii.gz")))
    assert len(report["lesions"]) == int(lab.max())
    sizes = [les["voxels"] for les in report["lesions"]]
    assert sizes == sorted(sizes, reverse=True)
    for les in report["lesions"]:
        assert set(les) == LESION_FIELDS
        assert les["voxels"] == int((lab == les["label"]).sum())
        assert les["zone"] in {"upper", "middle", "lower"} and les["side"] in {"right", "left"}
        assert les["candidate_score"] is None  # the test package has no candidate check
    assert "note: model core-test-model" in predicted["err"]  # demo warning shown


def test_predict_progress_lines(predicted):
    rows = _progress_lines(predicted["out"])
    assert len(rows) > 10
    fractions = [f for f, _ in rows]
    assert fractions[0] == 0.0 and fractions[-1] == 1.0
    assert all(b >= a for a, b in zip(fractions, fractions[1:])), "progress went backwards"
    stages = {s for _, s in rows}
    assert {"finding the lungs", "inference upper zone", "inference lower zone", "done"} <= stages


def test_predict_dicom_folder_without_chest(tmp_path):
    folder = real_data("upper_abdomen_ct_dicom")
    out = tmp_path / "labels.nrrd"
    code, stdout, stderr = run_cli(["predict", folder, "-o", out, "--model", shared_package_dir(),
                                    "--report", tmp_path / "r.json", "--progress", "none"])
    assert code == 0, stderr
    labels = sitk.ReadImage(str(out))
    assert labels.GetSize() == (512, 512, 20)
    assert not sitk.GetArrayFromImage(labels).any()
    assert json.loads((tmp_path / "r.json").read_text())["status"] == "no_lungs"


def test_predict_abdomen_ct_reports_no_lungs(tmp_path):
    src = real_data("abdomen_ct_3mm.nii.gz")
    code, stdout, stderr = run_cli(["predict", src, "-o", tmp_path / "labels.nii.gz", "--model", shared_package_dir(),
                                    "--report", tmp_path / "report.json", "--progress", "lines"])
    assert code == 0, stderr
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["status"] == "no_lungs" and report["lesions"] == []
    assert "lungs" in report["message"] and "lungs" in stdout
    labels = sitk.ReadImage(str(tmp_path / "labels.nii.gz"))
    image = sitk.ReadImage(str(src))
    assert labels.GetSize() == image.GetSize()
    np.testing.assert_allclose(labels.GetOrigin(), image.GetOrigin(), atol=1e-4)
    np.testing.assert_allclose(labels.GetDirection(), image.GetDirection(), atol=1e-6)
    assert not sitk.GetArrayFromImage(labels).any()


# ------------------------------------------------------------------ bad input
def test_missing_input(tmp_path):
    code, _, err = run_cli(["predict", tmp_path / "nope.nii.gz", "-o", tmp_path / "l.nii.gz",
                            "--model", shared_package_dir()])
    assert code == 2
    line = _one_line_error(err)
    assert "nope.nii.gz" in line and "does not exist" in line
    assert not (tmp_path / "l.nii.gz").exists()


def test_input_that_is_not_an_image(tmp_path):
    src = tmp_path / "notes.nii.gz"
    src.write_text("hello\n")
    code, _, err = run_cli(["predict", src, "-o", tmp_path / "l.nii.gz", "--model", shared_package_dir()])
    assert code == 2
    assert "notes.nii.gz" in _one_line_error(err)


@pytest.mark.parametrize("value", ["1.5", "0", "-0.1"])
def test_bad_threshold_fails_before_any_inference(tmp_path, threshold_networks, value):  # noqa: F811
    code, _, err = run_cli(["predict", phantom_file(2), "-o", tmp_path / "l.nii.gz", "--model", shared_package_dir(),
                            "--threshold", value, "--progress", "none"])
    assert code == 2
    assert "threshold" in _one_line_error(err)
    assert threshold_networks.calls == 0 and not (tmp_path / "l.nii.gz").exists()


@pytest.mark.parametrize("value,reason", [("1.5", "between 0 and 1"), ("0.5", "no candidate classifier")])
def test_bad_candidate_cutoff_fails_before_any_inference(tmp_path, threshold_networks, value, reason):  # noqa: F811
    # the test package has no candidate classifier: a cut-off for it is refused as well
    code, _, err = run_cli(["predict", phantom_file(2), "-o", tmp_path / "l.nii.gz", "--model", shared_package_dir(),
                            "--candidate-cutoff", value, "--progress", "none"])
    assert code == 2
    assert reason in _one_line_error(err)
    assert threshold_networks.calls == 0 and not (tmp_path / "l.nii.gz").exists()


def test_non_numeric_threshold(tmp_path):
    code, _, err = run_cli(["predict", phantom_file(2), "-o", tmp_path / "l.nii.gz", "--threshold", "high"])
    assert code == 2 and "--threshold" in err


def test_output_path_that_is_a_folder(tmp_path):
    (tmp_path / "labels.nii.gz").mkdir()
    code, _, err = run_cli(["predict", real_data("abdomen_ct_3mm.nii.gz"), "-o", tmp_path / "labels.nii.gz",
                            "--model", shared_package_dir(), "--progress", "none"])
    assert code == 2
    assert "labels.nii.gz" in _one_line_error(err)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["labels.nii.gz"]  # no temp file left


def test_model_folder_without_card(tmp_path):
    (tmp_path / "model").mkdir()
    code, _, err = run_cli(["predict", phantom_file(2), "-o", tmp_path / "l.nii.gz", "--model", tmp_path / "model"])
    assert code == 2
    line = _one_line_error(err)
    assert CARD_FILE in line and "model" in line


def test_tampered_model_is_refused(tmp_path, package_copy):  # noqa: F811
    f = package_copy / "middle.safetensors"
    data = bytearray(f.read_bytes())
    data[-10] ^= 0xFF
    f.write_bytes(bytes(data))
    code, _, err = run_cli(["predict", phantom_file(2), "-o", tmp_path / "l.nii.gz", "--model", package_copy])
    assert code == 2 and "middle.safetensors" in _one_line_error(err)


def test_interrupt_during_inference_exits_130_and_writes_nothing(tmp_path, threshold_networks):  # noqa: F811
    def interrupt(_batch):
        if threshold_networks.calls >= 2:
            raise KeyboardInterrupt

    threshold_networks.on_call = interrupt
    code, _, err = run_cli(["predict", phantom_file(2), "-o", tmp_path / "l.nii.gz", "--model", shared_package_dir(),
                            "--report", tmp_path / "r.json", "--progress", "none"])
    assert code == 130
    assert "interrupted" in _one_line_error(err)
    assert threshold_networks.calls == 2
    assert list(tmp_path.iterdir()) == []


# ------------------------------------------------------------------ --device
def _no_gpu(monkeypatch) -> None:
    """torch says there is no usable CUDA GPU, as on this CPU-only machine (and a GPU machine
    then behaves the same in these tests)."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)


@pytest.mark.parametrize("device,reason", [("cuda", "device 'cuda': "), ("cuda:1", "device 'cuda:1': "),
                                           ("nonsense", "not a torch device"), ("mps", "not supported")])
def test_predict_refuses_an_unusable_device_before_any_work(tmp_path, monkeypatch, threshold_networks,  # noqa: F811
                                                            device, reason):
    _no_gpu(monkeypatch)
    code, out, err = run_cli(["predict", phantom_file(2), "-o", tmp_path / "l.nii.gz", "--model", shared_package_dir(),
                              "--report", tmp_path / "r.json", "--device", device, "--progress", "lines"])
    assert code == 2
    line = _one_line_error(err)
    assert line.startswith("error: --device: ") and reason in line and "use cpu" in line
    assert "Traceback" not in err and "PROGRESS" not in out, "refused before any work"
    assert threshold_networks.calls == 0 and list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("device", ["nonsense", "cuda"])
def test_predict_with_an_unusable_device_is_one_line_in_a_real_process(tmp_path, device):
    """The installed entry point's path (``python -m lungtumorseg.cli``): no traceback reaches the user."""
    if device == "cuda" and torch.cuda.is_available():
        pytest.skip("this machine has a CUDA GPU: --device cuda is valid here")
    package_root = str(Path(cli.__file__).resolve().parents[1])  # the lungtumorseg these tests import
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [package_root, os.environ.get("PYTHONPATH")]))}
    run = subprocess.run([sys.executable, "-m", "lungtumorseg.cli", "predict", str(phantom_file(2)),
                          "-o", str(tmp_path / "l.nii.gz"), "--model", str(shared_package_dir()), "--device", device],
                         capture_output=True, text=True, timeout=300, env=env)
    assert run.returncode == 2
    assert _one_line_error(run.stderr).startswith("error: --device: ")
    assert "Traceback" not in run.stderr and list(tmp_path.iterdir()) == []


def test_predict_on_cpu_runs_the_zone_networks_on_cpu(tmp_path, monkeypatch):
    asked, placed = [], []
    real_load = ModelPackage.load_network

    def recording_load(self, zone, device="cpu"):
        net = real_load(self, zone, device)
        asked.append(device)
        placed.append(next(net.parameters()).device)
        return net

    monkeypatch.setattr(ModelPackage, "load_network", recording_load)
    code, _, err = run_cli(["predict", phantom_file(2), "-o", tmp_path / "l.nii.gz", "--model", shared_package_dir(),
                            "--device", "cpu", "--progress", "none", "--threads", "1"])
    assert code == 0, err
    assert len(asked) == 3 and {torch.device(d) for d in asked} == set(placed) == {torch.device("cpu")}
    assert (tmp_path / "l.nii.gz").exists()


@pytest.mark.parametrize("device", ["cuda", "nonsense"])
def test_train_refuses_an_unusable_device_before_any_work(tmp_path, monkeypatch, device):
    _no_gpu(monkeypatch)
    code, _, err = run_cli(["train", tmp_path / "data", "-o", tmp_path / "pkg", "--device", device])
    assert code == 2
    assert _one_line_error(err).startswith("error: --device: ") and "Traceback" not in err
    assert list(tmp_path.iterdir()) == [], "no work folder or package started"


@pytest.mark.parametrize("device", ["cuda", "nonsense"])
def test_evaluate_refuses_an_unusable_device_before_any_work(tmp_path, monkeypatch, device):
    _no_gpu(monkeypatch)
    code, _, err = run_cli(["evaluate", "--data", tmp_path / "data", "--model", tmp_path / "pkg",
                            "-o", tmp_path / "out", "--device", device])
    assert code == 2
    assert _one_line_error(err).startswith("error: --device: ") and "Traceback" not in err
    assert list(tmp_path.iterdir()) == [], "nothing read or written"


def test_device_help_names_the_accepted_devices():
    parser = build_parser()
    for command in ("predict", "train"):
        with contextlib.redirect_stdout(io.StringIO()) as out, pytest.raises(SystemExit):
            parser.parse_args([command, "--help"])
        text = " ".join(out.getvalue().split())
        assert "--device DEVICE" in text and "cpu (default), cuda or cuda:N" in text


# ------------------------------------------------------------------ DICOM folder with more than one series
def test_predict_says_which_dicom_series_it_read_and_warns_when_not_ct(tmp_path):
    # the real 20-slice CT (TotalSegmentator test files, Wasserthal et al. 2023, CC BY 4.0: see the
    # module doc) beside a larger synthetic 24-slice MR series: the largest, the MR, is read
    folder = tmp_path / "study"
    shutil.copytree(real_data("upper_abdomen_ct_dicom"), folder)
    mr = sitk.GetImageFromArray(np.full((24, 8, 10), 300, np.int16))
    mr.SetSpacing((1.5, 1.5, 3.0))
    write_dicom_series(mr, folder, series="1.2.826.0.1.3680043.2.1125.9.24", modality="MR", description="t2 haste")
    code, out, err = run_cli(["predict", folder, "-o", tmp_path / "labels.nrrd", "--model", shared_package_dir(),
                              "--progress", "none"])
    assert code == 0, err
    assert sitk.ReadImage(str(tmp_path / "labels.nrrd")).GetSize() == (10, 8, 24)
    notes = [ln for ln in err.splitlines() if ln.startswith("note: ") and "DICOM series" in ln]
    warnings = [ln for ln in err.splitlines() if ln.startswith("warning: ")]
    assert len(notes) == 1 and len(warnings) == 1, err
    read_part, not_read = notes[0].split("not read:")
    assert "2 DICOM series" in read_part and '"t2 haste"' in read_part and "24 files" in read_part
    assert '"CT Body 3.0"' in not_read and "20 files" in not_read
    assert "Modality MR, not CT" in warnings[0]


# ------------------------------------------------------------------ subcommands
def _subcommands() -> list[str]:
    [action] = [a for a in build_parser()._actions if a.dest == "command"]
    return list(action.choices)


def test_module_doc_lists_every_subcommand():
    assert set(_subcommands()) == {"predict", "demo", "phantom", "train", "install", "relabel", "info", "evaluate"}
    first_line = cli.__doc__.splitlines()[0]
    for command in _subcommands():
        assert f" {command}" in first_line, f"{command} missing from the module doc's first line"


def test_a_broken_evaluate_import_is_not_hidden(monkeypatch):
    # None in sys.modules makes "from .evaluation.cli import ..." raise ImportError, as a broken module would
    monkeypatch.setitem(sys.modules, "lungtumorseg.evaluation.cli", None)
    with pytest.raises(ImportError):
        build_parser()


# ------------------------------------------------------------------ phantom, info
def test_phantom_kind_weights_refused_with_one_line(tmp_path):
    code, _, err = run_cli(["phantom", tmp_path / "out", "--cases", "1", "--kind-weights", "0", "0", "0"])
    assert code != 0
    assert err.strip().count("\n") == 0 and "tumour_kind_weights" in err
    assert not (tmp_path / "out").exists()


def test_phantom_msd_layout(tmp_path, monkeypatch):
    import monai.data

    real_config = phantoms_pkg.PhantomConfig

    def coarse(size="small"):  # the CLI wiring is under test here, not the engine: keep it quick
        return real_config(size=size, matrix=96, spacing=(3.6, 3.6, 6.0), vessel_density=0.2,
                           orientation="axial-lps", fov_padding=None)

    monkeypatch.setattr(phantoms_pkg, "PhantomConfig", coarse)
    code, out, err = run_cli(["phantom", tmp_path / "msd", "--msd", "--cases", "2", "--seed", "5", "--size", "small"])
    assert code == 0, err
    ds = json.loads((tmp_path / "msd" / "dataset.json").read_text())
    assert ds["numTraining"] == 2 and ds["labels"] == {"0": "background", "1": "cancer"}
    items = monai.data.load_decathlon_datalist(str(tmp_path / "msd" / "dataset.json"), True, "training")
    assert len(items) == 2
    for item in items:
        image, label = sitk.ReadImage(item["image"]), sitk.ReadImage(item["label"])
        assert image.GetDimension() == 3 and same_geometry(image, label)
        assert set(np.unique(sitk.GetArrayFromImage(label))) <= {0, 1}
        assert Path(item["image"]).parent.name == "imagesTr" and Path(item["label"]).parent.name == "labelsTr"
    assert "wrote 2 phantom case(s)" in out


def test_info_json_prints_the_card():
    code, out, err = run_cli(["info", "--json", "--model", shared_package_dir()])
    assert code == 0, err
    shown = json.loads(out)
    card = json.loads((shared_package_dir() / CARD_FILE).read_text())
    assert shown["name"] == card["name"] and shown["version"] == card["version"]
    assert shown["weights"] == card["weights"] and shown["network"] == card["network"]
    assert "training" not in shown


def test_info_summarises_the_demo_card_with_its_measured_accuracy_and_warning():
    from lungtumorseg.models import default_package_dir

    code, out, err = run_cli(["info"])
    assert code == 0, err
    card = json.loads((default_package_dir() / CARD_FILE).read_text())
    heldout = card["metrics"]["heldout_phantoms"]
    assert out.splitlines()[0] == f"{card['name']} {card['version']} (demo)"
    assert f"WARNING: {card['warning']}" in out
    assert f"mean Dice {heldout['mean_dice_tumour_cases']:.2f}" in out
    assert f"{heldout['n_cases']} " in out and "not clinical accuracy" in out
    assert "SHA-256 verified" in out and "upper.safetensors" in out
    assert not out.lstrip().startswith("{")  # words for a person; --json gives the card


def test_info_on_a_card_without_measurements_says_accuracy_is_unknown():
    code, out, err = run_cli(["info", "--model", shared_package_dir()])
    assert code == 0, err
    assert "accuracy unknown" in out


def test_info_on_a_damaged_package(package_copy):  # noqa: F811
    (package_copy / "lower.safetensors").write_bytes(b"")
    code, _, err = run_cli(["info", "--model", package_copy])
    assert code == 2 and "lower.safetensors" in _one_line_error(err)


@pytest.mark.parametrize("flag,value", [("--max-elongation", "0.5"), ("--min-peak-probability", "1.5")])
def test_impossible_lesion_filter_fails_before_any_inference(tmp_path, threshold_networks, flag, value):  # noqa: F811
    code, _, err = run_cli(["predict", phantom_file(2), "-o", tmp_path / "l.nii.gz", "--model", shared_package_dir(),
                            flag, value, "--progress", "none"])
    assert code == 2
    assert ("elongation" if "elongation" in flag else "peak") in _one_line_error(err)
    assert threshold_networks.calls == 0 and not (tmp_path / "l.nii.gz").exists()


def test_relabel_reproduces_predict_and_applies_new_settings(predicted, tmp_path):
    """predict once, relabel with the run's settings (same labels as predict) and with a
    higher minimum volume (only the larger lesions stay); the input files are not touched."""
    out = predicted["dir"]
    inputs = [predicted["src"], out / "prob.nrrd", out / "report.json"]
    before = {p: sha256_tree(p) for p in inputs}
    code, stdout, err = run_cli(["relabel", predicted["src"], out / "prob.nrrd", "-o", tmp_path / "same.nii.gz",
                                 "--run-report", out / "report.json", "--report", tmp_path / "same.json"])
    assert code == 0, err
    original = sitk.GetArrayFromImage(sitk.ReadImage(str(out / "labels.nii.gz")))
    np.testing.assert_array_equal(sitk.GetArrayFromImage(sitk.ReadImage(str(tmp_path / "same.nii.gz"))), original)
    run_report = json.loads((out / "report.json").read_text())
    same = json.loads((tmp_path / "same.json").read_text())
    assert [(l["label"], l["voxels"], l["zone"], l["side"]) for l in same["lesions"]] == \
        [(l["label"], l["voxels"], l["zone"], l["side"]) for l in run_report["lesions"]]
    assert "no new inference" in stdout

    sizes = sorted((l["volume_mm3"] for l in run_report["lesions"]), reverse=True)
    assert len(sizes) >= 2, "the fixture run needs two lesions of different size"
    limit = (sizes[0] + sizes[1]) / 2
    code, _, err = run_cli(["relabel", predicted["src"], out / "prob.nrrd", "-o", tmp_path / "big.nii.gz",
                            "--run-report", out / "report.json", "--min-lesion-mm3", str(limit)])
    assert code == 0, err
    big = sitk.GetArrayFromImage(sitk.ReadImage(str(tmp_path / "big.nii.gz")))
    assert big.max() == 1 and np.array_equal(big > 0, original == 1)
    assert {p: sha256_tree(p) for p in inputs} == before


def test_relabel_applies_the_run_reports_zone_limits_unless_told_not_to(predicted, tmp_path):
    """A zone limit in the run report (as a card's would be) removes the lesions of its zone;
    --no-zone-limits gives back predict's lesions."""
    out = predicted["dir"]
    run_report = json.loads((out / "report.json").read_text())
    zone = run_report["lesions"][0]["zone"]
    run_report["postprocessing"]["zone_limits"] = {zone: {"min_lesion_mm3": 1e9}}
    (tmp_path / "zoned.json").write_text(json.dumps(run_report))
    original = sitk.GetArrayFromImage(sitk.ReadImage(str(out / "labels.nii.gz")))
    for flags, name in (([], "zoned"), (["--no-zone-limits"], "plain")):
        code, _, err = run_cli(["relabel", predicted["src"], out / "prob.nrrd", "-o", tmp_path / f"{name}.nii.gz",
                                "--run-report", tmp_path / "zoned.json", "--report", tmp_path / f"{name}-out.json",
                                *flags])
        assert code == 0, err
    zoned = json.loads((tmp_path / "zoned-out.json").read_text())
    assert [l["zone"] for l in zoned["lesions"]] == [l["zone"] for l in run_report["lesions"] if l["zone"] != zone]
    assert zoned["postprocessing"]["zone_limits"] == {zone: LesionFilter(1e9).to_dict()}
    plain = json.loads((tmp_path / "plain-out.json").read_text())
    assert "zone_limits" not in plain["postprocessing"]
    np.testing.assert_array_equal(sitk.GetArrayFromImage(sitk.ReadImage(str(tmp_path / "plain.nii.gz"))), original)


def test_relabel_grows_outlines_as_the_run_report_says_unless_told_not_to(predicted, tmp_path):
    """Outline growth in the run report (as a card's would be) grows every lesion, keeps the
    lesion count, and is recorded; --no-outline-growth gives back predict's labels."""
    out = predicted["dir"]
    run_report = json.loads((out / "report.json").read_text())
    growth = {"min_hu": -1000.0, "max_hu": 3000.0, "max_distance_mm": 5.0}  # any density: every lesion grows
    run_report["postprocessing"]["outline_growth"] = growth
    (tmp_path / "grow.json").write_text(json.dumps(run_report))
    original = sitk.GetArrayFromImage(sitk.ReadImage(str(out / "labels.nii.gz")))
    for flags, name in (([], "grown"), (["--no-outline-growth"], "plain")):
        code, _, err = run_cli(["relabel", predicted["src"], out / "prob.nrrd", "-o", tmp_path / f"{name}.nii.gz",
                                "--run-report", tmp_path / "grow.json", "--report", tmp_path / f"{name}-out.json",
                                *flags])
        assert code == 0, err
    grown_report = json.loads((tmp_path / "grown-out.json").read_text())
    assert grown_report["postprocessing"]["outline_growth"] == growth
    grown = sitk.GetArrayFromImage(sitk.ReadImage(str(tmp_path / "grown.nii.gz")))
    assert grown.max() == original.max() and original.max() >= 1
    assert ((original > 0) <= (grown > 0)).all() and (grown > 0).sum() > (original > 0).sum()
    assert "outline_growth" not in json.loads((tmp_path / "plain-out.json").read_text())["postprocessing"]
    np.testing.assert_array_equal(sitk.GetArrayFromImage(sitk.ReadImage(str(tmp_path / "plain.nii.gz"))), original)


def test_relabel_without_settings_says_what_to_give(predicted, tmp_path):
    code, _, err = run_cli(["relabel", predicted["src"], predicted["dir"] / "prob.nrrd", "-o", tmp_path / "x.nii.gz"])
    assert code == 2 and "--threshold" in err
    assert not (tmp_path / "x.nii.gz").exists()
