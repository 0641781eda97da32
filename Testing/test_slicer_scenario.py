"""The shipped sample chest CT, and the end-to-end scenario shared with the Slicer self-test."""

from __future__ import annotations

import sys

import numpy as np
import pytest
import SimpleITK as sitk

import slicer_env as senv


def test_sample_data_matches_its_checksums_and_loads_in_slicer(slicer_env):
    from LungTumorSegLib import scenario, volume_bridge

    ct_path, truth_path, _ = scenario.sample_files()
    meta = scenario.sample_metadata()
    for path in (ct_path, truth_path):
        assert scenario.sha256_file(path) == meta["sha256"][path.name]
    assert len(meta["tumours"]) >= 2 and len({t["zone"] for t in meta["tumours"]}) >= 2
    assert meta["phantom"]["seed"] >= 1000  # not one of the training seeds 0..999
    volume = scenario.load_sample_volume()
    truth = sitk.ReadImage(str(truth_path))
    assert volume_bridge.same_grid(truth, volume, tolerance=1e-3)
    array = sitk.GetArrayFromImage(truth)
    assert array.max() == 1 and array.sum() == sum(t["n_voxels"] for t in meta["tumours"])
    # tumours are soft tissue inside air-filled lungs
    ct = sitk.GetArrayFromImage(volume_bridge.image_from_volume(volume))
    assert np.median(ct[array > 0]) > -300


def _demo_ready() -> None:
    from LungTumorSegLib import model_packages

    if not (model_packages.DEMO_PACKAGE / "model.json").exists():
        pytest.skip("the demo model package has not been trained yet")
    if not senv.core_available():
        pytest.skip("the core command line is not available yet")


@pytest.mark.slow
def test_end_to_end_scenario_checks_the_software(slicer_env):
    """Sample CT -> real core (out of process, demo weights) -> segmentation node checked:
    segments = report lesions, names, terminology, CT grid, reference geometry, input unchanged."""
    from LungTumorSegLib import scenario

    _demo_ready()
    outcome = scenario.run_scenario(python=sys.executable, timeout_s=1800, log=lambda line: None,
                                    check_accuracy=False)
    assert outcome.result.table_node.GetNumberOfRows() == len(outcome.result.lesions)


@pytest.mark.slow
def test_end_to_end_scenario_accuracy_against_the_phantom_truth(slicer_env, request):
    """One segment per true tumour, each overlapping it, Dice >= 0.3. Expected to fail (and
    reported as xfail, not as a pass) while the demo card says the weights miss the targets."""
    from LungTumorSegLib import scenario

    _demo_ready()
    if not scenario.demo_meets_targets():
        request.applymarker(pytest.mark.xfail(reason="demo weights do not meet the held-out targets yet "
                                                     "(model card metrics.heldout_phantoms.meets_targets)"))
    outcome = scenario.run_scenario(python=sys.executable, timeout_s=1800, log=lambda line: None)
    assert outcome.dice >= 0.3
