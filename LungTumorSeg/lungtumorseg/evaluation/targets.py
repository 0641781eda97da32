"""The demo weights' accuracy targets (issue 2), in one place.

Keyed by the measure names of :func:`lungtumorseg.evaluation.calibration.summarise_curves`,
so calibration, cross-validation and the held-out benchmark judge the same four numbers
the same way. On synthetic phantoms they test the software and the demo weights, not
clinical accuracy.
"""

from __future__ import annotations

from dataclasses import dataclass
import math
from typing import Mapping


@dataclass(frozen=True)
class Target:
    """One target: ``label`` must be at least (or at most) ``value``."""

    label: str
    at_least: bool
    value: float

    def met(self, measured: float) -> bool:
        """Whether ``measured`` meets the target (never when it is NaN: nothing to judge)."""
        if math.isnan(measured):
            return False
        return measured >= self.value if self.at_least else measured <= self.value

    def describe(self) -> str:
        return f"{'>=' if self.at_least else '<='} {self.value:g}"


ISSUE_TARGETS: dict[str, Target] = {
    "mean_dice": Target("mean Dice, tumour cases", True, 0.85),
    "sensitivity_large": Target("sensitivity, lesions >= 10 mm", True, 0.95),
    "false_positives_per_case": Target("false-positive lesions per case", False, 0.3),
    "clean_fraction": Target("tumour-free cases without lesion", True, 0.90),
}


#: the held-out benchmark's field (``benchmarks/heldout_phantoms.py`` ``criteria``, the card's
#: ``metrics.heldout_phantoms*`` blocks) that holds each target's measure
HELDOUT_FIELDS: dict[str, str] = {
    "mean_dice": "mean_dice_tumour_cases",
    "sensitivity_large": "sensitivity_lesions_ge_10mm",
    "false_positives_per_case": "false_positive_lesions_per_case",
    "clean_fraction": "tumour_free_cases_without_lesion",
}


def targets_met(measures: Mapping[str, float]) -> int:
    """How many of :data:`ISSUE_TARGETS` ``measures`` meet (a missing measure is not met)."""
    return sum(target.met(float(measures.get(key, math.nan))) for key, target in ISSUE_TARGETS.items())
