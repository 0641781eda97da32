"""The sentences that tell a user what a package's card measured (lungtumorseg.models.accuracy).

Cards here are small dictionaries written for each case; the numbers are chosen on either side
of the issue's targets (Dice 0.85, sensitivity 0.95, 0.3 false lesions, 90 % clean).
"""

from __future__ import annotations

import subprocess
import sys

from lungtumorseg.models.accuracy import SYNTHETIC_REMINDER, accuracy_text, heldout_lines


def _block(dice: float, sensitivity: float, false_positives: float, clean: float, **extra) -> dict:
    return {"n_cases": 48, "mean_dice_tumour_cases": dice, "sensitivity_lesions_ge_10mm": sensitivity,
            "false_positive_lesions_per_case": false_positives, "tumour_free_cases_without_lesion": clean,
            "model_version": "1.0.0", **extra}


def test_each_number_is_judged_against_its_target():
    card = {"version": "1.0.0", "metrics": {"heldout_phantoms": _block(0.80, 0.97, 0.5, 0.95)}}
    line, reminder = heldout_lines(card)
    assert "mean Dice 0.80 (target >= 0.85, not met)" in line
    assert "tumours >= 10 mm found 97% (target >= 0.95, met)" in line
    assert "0.50 false lesions per scan (target <= 0.3, not met)" in line
    assert "tumour-free scans clean 95% (target >= 0.9, met)" in line
    assert line.startswith("Held out, 48 small-grid synthetic phantoms")
    assert reminder == SYNTHETIC_REMINDER


def test_clinical_grid_block_comes_first_and_is_named_so():
    card = {"version": "1.0.0", "metrics": {"heldout_phantoms": _block(0.80, 0.86, 0.15, 0.75, phantom_size="small"),
                                            "heldout_phantoms_full_size": _block(0.83, 0.93, 0.0, 1.0)}}
    lines = heldout_lines(card)
    assert len(lines) == 3
    assert "clinical-grid" in lines[0] and "mean Dice 0.83" in lines[0]
    assert "small-grid" in lines[1] and "mean Dice 0.80" in lines[1]


def test_a_block_measured_on_another_version_says_so():
    card = {"version": "1.1.0", "metrics": {"heldout_phantoms": _block(0.9, 0.96, 0.1, 0.95)}}
    assert "Measured on version 1.0.0, not 1.1.0." in heldout_lines(card)[0]


def test_no_measurement_means_accuracy_unknown():
    for card in ({"version": "1"}, {"version": "1", "metrics": {"validation": {}}},
                 {"version": "1", "metrics": {"heldout_phantoms": {"n_cases": 3}}}):
        assert heldout_lines(card) == []
        assert "accuracy is unknown" in accuracy_text(card)


def test_summary_imports_without_torch():
    """The Slicer module describes packages at start-up, before torch may be installed."""
    probe = "import sys, lungtumorseg.models.accuracy; print('torch' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"
