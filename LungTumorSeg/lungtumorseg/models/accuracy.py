"""What a model package's card says was measured, in sentences a user reads before trusting it.

The card keeps every held-out measurement under ``metrics`` (written by
``benchmarks/heldout_phantoms.py --write-card``). This module turns those blocks into short
lines for ``lungtumorseg info`` and the Slicer module's model panel, always with the issue's
targets beside each number and the reminder that phantoms are synthetic: a user must never
read a phantom number as clinical accuracy.

Pure Python (no torch, no SimpleITK), so the Slicer module can describe a package at start-up.
"""

from __future__ import annotations

import math
from typing import Any, Mapping

from ..evaluation.targets import HELDOUT_FIELDS, ISSUE_TARGETS

#: the card's block for held-out phantoms of each size (``benchmarks/heldout_phantoms.py --write-card``)
FULL_SIZE_BLOCK = "heldout_phantoms_full_size"
SMALL_BLOCK = "heldout_phantoms"

#: held-out blocks a card may carry, clinical grid first, with how to name their phantoms
HELDOUT_BLOCKS: tuple[tuple[str, str], ...] = ((FULL_SIZE_BLOCK, "clinical-grid"), (SMALL_BLOCK, "small-grid"))

_SHORT = {
    "mean_dice": "mean Dice {value:.2f}",
    "sensitivity_large": "tumours >= 10 mm found {value:.0%}",
    "false_positives_per_case": "{value:.2f} false lesions per scan",
    "clean_fraction": "tumour-free scans clean {value:.0%}",
}

SYNTHETIC_REMINDER = "Synthetic phantoms: this checks the software and the weights, it is not clinical accuracy."


def _number(block: Mapping[str, Any], key: str) -> float:
    try:
        return float(block.get(HELDOUT_FIELDS[key], math.nan))
    except (TypeError, ValueError):
        return math.nan


def heldout_lines(card: Mapping[str, Any]) -> list[str]:
    """One line per held-out block of ``card``, plus the synthetic reminder; empty when none.

    A block measured on another version of the package says so, because its numbers then
    describe different weights or post-processing.
    """
    metrics = card.get("metrics") or {}
    lines = []
    for name, grid in HELDOUT_BLOCKS:
        block = metrics.get(name)
        if not isinstance(block, Mapping):
            continue
        parts = []
        for key, target in ISSUE_TARGETS.items():
            value = _number(block, key)
            if math.isnan(value):
                continue
            verdict = "met" if target.met(value) else "not met"
            parts.append(f"{_SHORT[key].format(value=value)} (target {target.describe()}, {verdict})")
        if not parts:
            continue
        cases = block.get("n_cases", "?")
        line = f"Held out, {cases} {grid} synthetic phantoms: " + "; ".join(parts) + "."
        measured_version = block.get("model_version")
        if measured_version is not None and str(measured_version) != str(card.get("version")):
            line += f" Measured on version {measured_version}, not {card.get('version')}."
        lines.append(line)
    if lines:
        lines.append(SYNTHETIC_REMINDER)
    return lines


def accuracy_text(card: Mapping[str, Any]) -> str:
    """The held-out lines as one paragraph, or a sentence saying the card has none."""
    lines = heldout_lines(card)
    if not lines:
        return "The model card records no held-out measurement: its accuracy is unknown."
    return " ".join(lines)
