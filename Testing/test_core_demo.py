"""``lungtumorseg demo``: the shipped example CT through the core pipeline, checked against
its truth, without Slicer.

The zone networks are replaced by :class:`core_fixtures.ThresholdNet` (a fixed 100 HU
threshold, so the run takes seconds and its lesions follow from the CT alone); everything
else is real: the example's SHA-256 check, the demo package's card and weight checks, the
pipeline, the writers and the truth comparison. The demo weights themselves are judged on
this CT by ``Testing/test_slicer_scenario.py``.
"""

from __future__ import annotations

import json
import shutil

import numpy as np
import SimpleITK as sitk

import lungtumorseg.example as example
from core_fixtures import threshold_networks  # noqa: F401  (fixture)
from test_core_cli import run_cli


def test_demo_writes_labels_report_and_truth_comparison(tmp_path, threshold_networks):  # noqa: F811
    out = tmp_path / "demo"
    # without the magnified look (3.4 times the windows; tested with predict): seconds, not a minute
    code, stdout, err = run_cli(["demo", "-o", out, "--progress", "none", "--threads", "2", "--no-magnified-look"])
    assert code == 0, err
    assert "synthetic chest CT" in err and "not for clinical use" in err
    ct, truth_path, meta = example.verified_sample_files()
    labels = sitk.ReadImage(str(out / "ChestCTPhantom_lesions.nii.gz"))
    ct_image = sitk.ReadImage(str(ct))
    assert labels.GetSize() == ct_image.GetSize() and labels.GetSpacing() == ct_image.GetSpacing()
    assert labels.GetOrigin() == ct_image.GetOrigin() and labels.GetDirection() == ct_image.GetDirection()
    report = json.loads((out / "ChestCTPhantom_report.json").read_text())
    assert len(report["lesions"]) == int(sitk.GetArrayFromImage(labels).max())
    comparison = json.loads((out / "ChestCTPhantom_truth_comparison.json").read_text())
    assert comparison["tumours"] == len(meta["tumours"]) == 3
    # the comparison agrees with the written files, voxel for voxel
    pred = sitk.GetArrayFromImage(labels) > 0
    truth = sitk.GetArrayFromImage(sitk.ReadImage(str(truth_path))) > 0
    dice = 2 * np.sum(pred & truth) / (pred.sum() + truth.sum())
    assert abs(comparison["dice_all_lesions"] - dice) < 1e-6
    assert "synthetic" in comparison["note"]
    assert f"{comparison['tumours_found']} of 3 tumours found" in stdout and "not clinical accuracy" in stdout
    assert sorted(threshold_networks.zones) == ["lower", "middle", "upper"]  # each zone's network, once
    assert report["magnified_look"] is None  # not run, as asked


def test_demo_refuses_a_damaged_example_before_any_work(tmp_path, monkeypatch, threshold_networks):  # noqa: F811
    copy = tmp_path / "SampleData"
    shutil.copytree(example.sample_dir(), copy)
    ct = copy / "ChestCTPhantom.nii.gz"
    data = bytearray(ct.read_bytes())
    data[len(data) // 2] ^= 0xFF
    ct.write_bytes(bytes(data))
    monkeypatch.setattr(example, "sample_dir", lambda: copy)
    code, _, err = run_cli(["demo", "-o", tmp_path / "out", "--progress", "none"])
    assert code == 2
    assert err.strip().splitlines()[-1].startswith("error: ") and "damaged" in err and "reinstall" in err
    assert not (tmp_path / "out").exists() and threshold_networks.zones == []
