"""The shipped demo package on fixed held-out phantoms (seeds never used in training).

Real assertions on Dice and lesion counts with the real demo weights and the full
pipeline. Training seeds of the demo package are 100-159 (recorded in its card); these
seeds (10500+) are held out. Synthetic data: this checks the software and the demo
weights, it is not clinical accuracy (see benchmarks/heldout_phantoms.py for the full
held-out evaluation).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
import SimpleITK as sitk

from lungtumorseg.evaluation.lesions import detect_lesions
from lungtumorseg.evaluation.metrics import confusion, overlap_metrics
from lungtumorseg.models.accuracy import HELDOUT_BLOCKS
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


def _heldout_blocks(package) -> dict[str, dict]:
    """The card's held-out blocks (small grid always; the clinical grid when measured)."""
    metrics = package.card.raw["metrics"]
    return {name: metrics[name] for name, _ in HELDOUT_BLOCKS if name in metrics}


def test_demo_card_records_heldout_metrics_and_whether_targets_are_met(demo_package):
    blocks = _heldout_blocks(demo_package)
    assert "heldout_phantoms" in blocks
    for name, metrics in blocks.items():
        for key in ("mean_dice_tumour_cases", "sensitivity_lesions_ge_10mm", "false_positive_lesions_per_case",
                    "tumour_free_cases_without_lesion", "meets_targets", "n_cases", "phantom_size"):
            assert key in metrics, (name, key)
        met = (metrics["mean_dice_tumour_cases"] >= 0.85 and metrics["sensitivity_lesions_ge_10mm"] >= 0.95
               and metrics["false_positive_lesions_per_case"] <= 0.3
               and metrics["tumour_free_cases_without_lesion"] >= 0.9)
        assert metrics["meets_targets"] == met, name
        assert metrics["phantom_size"] == ("full" if name.endswith("full_size") else "small"), name


def test_the_demo_cards_held_out_numbers_were_measured_on_this_version(demo_package):
    """A new package version (new weights, a new look, a new cut-off) must not ship with the
    numbers of the one before: the benchmarks record the version and the weight files they
    measured."""
    metrics = demo_package.card.raw["metrics"]
    weights = {part: entry["sha256"] for part, entry in demo_package.card.raw["weights"].items()}
    for name in ("froc_heldout_phantoms", *_heldout_blocks(demo_package)):
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
    """The card records whether the held-out targets are met; if not, the target-level tests
    still run and are reported as expected failures (xfail), never as passes."""
    blocks = _heldout_blocks(package)
    if not blocks or not all(block.get("meets_targets", False) for block in blocks.values()):
        request.applymarker(pytest.mark.xfail(reason="demo weights do not meet the held-out targets yet "
                                                     f"(model card metrics {', '.join(blocks)})"))


@dataclass(frozen=True)
class HeldoutOutcome:
    """What the full pipeline gave on one held-out phantom, against its truth."""

    n_tumours_in_meta: int
    dice: float
    n_truth: int
    n_detected: int
    n_false_positive: int
    lesion_volumes_ml: tuple[float, ...]
    largest_label: int
    status: str


@pytest.fixture(scope="module")
def heldout(demo_package):
    """``heldout(seed, n_tumours)``: the pipeline's outcome on that phantom, computed once per
    module, so the floor and the target tests judge one run (each run is ~1 minute)."""
    done: dict[int, HeldoutOutcome] = {}

    def outcome(seed: int, n_tumours: int) -> HeldoutOutcome:
        if seed not in done:
            config = (PhantomConfig(size="small", n_tumours=n_tumours, tumour_diameter_mm=(12.0, 45.0)) if n_tumours
                      else PhantomConfig(size="small", n_tumours=0))
            case = make_phantom(seed, config)
            truth = sitk.GetArrayFromImage(case.label) > 0
            result = segment(case.image, demo_package, SegmentOptions(threads=2))
            labels = sitk.GetArrayFromImage(result.labels)
            pred = labels > 0
            detection = detect_lesions(pred, truth, case.image.GetSpacing())
            done[seed] = HeldoutOutcome(
                n_tumours_in_meta=len(case.meta["tumours"]),
                dice=overlap_metrics(confusion(pred, truth))["dice"] if truth.any() else float("nan"),
                n_truth=detection.n_truth, n_detected=detection.n_detected,
                n_false_positive=detection.n_false_positive,
                lesion_volumes_ml=tuple(float(lesion.volume_ml) for lesion in result.lesions),
                largest_label=int(labels.max()), status=result.status)
        return done[seed]

    return outcome


# The floor: what the shipped demo must keep doing on these phantoms (tumours of 12-45 mm),
# enforced whatever the card says; a new package that falls below it is a regression. It is
# well below the targets, which the target tests and benchmarks/heldout_phantoms.py
# judge. (0.12.0 measured, seeds 10500-10502: all 6 tumours found, Dice 0.73 / 0.58 / 0.92,
# false lesions 0 / 1 / 1; the tumour-free seed 10503: one false lesion of 0.27 mL.)
FLOOR_DICE = 0.5
FLOOR_FALSE_LESIONS_PER_CASE = 1
FLOOR_TUMOUR_FREE_ML = 1.0


@pytest.mark.slow
@pytest.mark.parametrize("seed,n_tumours", HELDOUT)
def test_demo_model_keeps_its_floor_on_heldout_phantoms(heldout, seed, n_tumours):
    result = heldout(seed, n_tumours)
    assert result.status == "ok"
    assert result.n_truth == result.n_tumours_in_meta == n_tumours
    assert result.n_detected == result.n_truth, f"seed {seed}: {result.n_detected} of {result.n_truth} tumours found"
    assert result.dice >= FLOOR_DICE, f"seed {seed}: Dice {result.dice:.3f}"
    assert result.n_false_positive <= FLOOR_FALSE_LESIONS_PER_CASE, f"seed {seed}: {result.n_false_positive} false lesions"
    assert len(result.lesion_volumes_ml) == result.largest_label  # labels 1..N, one per reported lesion


@pytest.mark.slow
def test_demo_model_keeps_its_floor_on_a_tumour_free_phantom(heldout):
    result = heldout(TUMOUR_FREE_SEED, 0)
    assert result.status == "ok" and result.n_truth == 0
    assert len(result.lesion_volumes_ml) <= FLOOR_FALSE_LESIONS_PER_CASE, result.lesion_volumes_ml
    assert sum(result.lesion_volumes_ml) < FLOOR_TUMOUR_FREE_ML, result.lesion_volumes_ml


@pytest.mark.slow
@pytest.mark.parametrize("seed,n_tumours", HELDOUT)
def test_demo_model_meets_the_targets_on_heldout_phantoms(demo_package, heldout, seed, n_tumours, request):
    """Per phantom, what the issue's targets ask of a case: Dice >= 0.75 (mean target 0.85),
    every tumour >= 10 mm found, at most one false lesion."""
    _expect_failure_unless_targets_met(demo_package, request)
    result = heldout(seed, n_tumours)
    assert result.dice >= 0.75, f"seed {seed}: Dice {result.dice:.3f}"
    assert result.n_detected == result.n_truth, f"seed {seed}: {result.n_detected} of {result.n_truth} tumours found"
    assert result.n_false_positive <= 1, f"seed {seed}: {result.n_false_positive} false-positive lesions"


@pytest.mark.slow
def test_demo_model_finds_nothing_in_a_tumour_free_phantom(demo_package, heldout, request):
    _expect_failure_unless_targets_met(demo_package, request)
    result = heldout(TUMOUR_FREE_SEED, 0)
    assert result.lesion_volumes_ml == (), [f"{volume:.2f} mL" for volume in result.lesion_volumes_ml]


def test_demo_card_names_the_script_that_reproduces_it(demo_package):
    """The card's training record has the scratch paths of the sessions that made it; the
    script it names must exist and must document the step that made this very version."""
    reproduce = demo_package.card.raw["training"]["reproduce"]
    script = Path(__file__).resolve().parents[1] / reproduce["script"]
    text = script.read_text(encoding="utf-8")
    assert f"({demo_package.card.version}" in text, "the script does not document how this version was made"
    assert "Resources/Models/lungtumorseg-demo-phantom" in text
