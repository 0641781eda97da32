"""The shipped demo package on fixed held-out phantoms (seeds never used in training).

Real assertions on Dice and lesion counts with the real demo weights and the full
pipeline. Training seeds of the demo package are 100-159 (recorded in its card); these
seeds (10500+) are held out. Synthetic data: this checks the software and the demo
weights, it is not clinical accuracy (see benchmarks/heldout_phantoms.py for the full
held-out evaluation).
"""

from __future__ import annotations

import numpy as np
import pytest
import SimpleITK as sitk

from lungtumorseg.evaluation.lesions import detect_lesions
from lungtumorseg.evaluation.metrics import confusion, overlap_metrics
from lungtumorseg.models.package import default_package_dir, load_package
from lungtumorseg.phantoms import PhantomConfig, make_phantom
from lungtumorseg.pipeline import SegmentOptions, segment

HELDOUT = [(10500, 2), (10501, 3), (10502, 1)]  # (seed, number of tumours)
TUMOUR_FREE_SEED = 10503


@pytest.fixture(scope="module")
def demo_package():
    package = load_package(default_package_dir())
    package.verify_all()
    return package


def test_demo_card_records_heldout_metrics_and_whether_targets_are_met(demo_package):
    metrics = demo_package.card.raw["metrics"]["heldout_phantoms"]
    for key in ("mean_dice_tumour_cases", "sensitivity_lesions_ge_10mm", "false_positive_lesions_per_case",
                "tumour_free_cases_without_lesion", "meets_targets"):
        assert key in metrics
    met = (metrics["mean_dice_tumour_cases"] >= 0.85 and metrics["sensitivity_lesions_ge_10mm"] >= 0.95
           and metrics["false_positive_lesions_per_case"] <= 0.3 and metrics["tumour_free_cases_without_lesion"] >= 0.9)
    assert metrics["meets_targets"] == met


def test_the_demo_cards_held_out_numbers_were_measured_on_this_version(demo_package):
    """A new package version (new weights, a new look, a new cut-off) must not ship with the
    numbers of the one before: the benchmarks record the version and the weight files they
    measured."""
    metrics = demo_package.card.raw["metrics"]
    weights = {part: entry["sha256"] for part, entry in demo_package.card.raw["weights"].items()}
    for name in ("heldout_phantoms", "froc_heldout_phantoms"):
        assert metrics[name]["model_version"] == demo_package.card.version, name
        assert metrics[name]["weights_sha256"] == weights, name


def test_demo_card_says_it_is_a_synthetic_demonstration(demo_package):
    card = demo_package.card
    assert card.is_demo
    assert "synthetic" in card.warning and "not for clinical use" in card.warning
    assert "synthetic" in card.raw["intended_use"].lower() or "demonstration" in card.raw["intended_use"].lower()
    assert card.raw["training"]["command"].startswith("lungtumorseg train")
    training_seeds = set(card.raw["training"].get("phantom_seeds", []))
    assert training_seeds and not training_seeds & ({s for s, _ in HELDOUT} | {TUMOUR_FREE_SEED})


def _expect_failure_unless_targets_met(package, request) -> None:
    """The card records whether the held-out targets are met; if not, these accuracy tests
    still run and are reported as expected failures (xfail), never as passes."""
    if not package.card.raw.get("metrics", {}).get("heldout_phantoms", {}).get("meets_targets", False):
        request.applymarker(pytest.mark.xfail(reason="demo weights do not meet the held-out targets yet "
                                                     "(model card metrics.heldout_phantoms)"))


@pytest.mark.slow
@pytest.mark.parametrize("seed,n_tumours", HELDOUT)
def test_demo_model_finds_the_tumours_of_heldout_phantoms(demo_package, seed, n_tumours, request):
    _expect_failure_unless_targets_met(demo_package, request)
    case = make_phantom(seed, PhantomConfig(size="small", n_tumours=n_tumours, tumour_diameter_mm=(12.0, 45.0)))
    truth = sitk.GetArrayFromImage(case.label) > 0
    result = segment(case.image, demo_package, SegmentOptions(threads=2))
    pred = sitk.GetArrayFromImage(result.labels) > 0
    dice = overlap_metrics(confusion(pred, truth))["dice"]
    detection = detect_lesions(pred, truth, case.image.GetSpacing())
    assert detection.n_truth == len(case.meta["tumours"])
    assert dice >= 0.75, f"seed {seed}: Dice {dice:.3f}"
    assert detection.n_detected == detection.n_truth, f"seed {seed}: {detection.n_detected} of {detection.n_truth} tumours found"
    assert detection.n_false_positive <= 1, f"seed {seed}: {detection.n_false_positive} false-positive lesions"
    assert len(result.lesions) == int(np.max(sitk.GetArrayFromImage(result.labels)))


@pytest.mark.slow
def test_demo_model_finds_nothing_in_a_tumour_free_phantom(demo_package, request):
    _expect_failure_unless_targets_met(demo_package, request)
    case = make_phantom(TUMOUR_FREE_SEED, PhantomConfig(size="small", n_tumours=0))
    result = segment(case.image, demo_package, SegmentOptions(threads=2))
    assert result.status == "ok"
    assert result.lesions == [], [f"{l.volume_ml:.2f} mL in {l.zone}" for l in result.lesions]
