"""The decision of PLAN.md (run once, only if the gate passed): arm C (the classifier, or a
peak of at least P) against demo 0.10.0 on the 48 fresh held-out phantoms (seeds
10200-10247), the real post-processing on the same cached maps (kept by 0.10.0's full
benchmark run on them), the benchmark's case metrics.

Usage: decide.py GATE_JSON DATA CACHE OUT_JSON
"""
from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "low_threshold_candidates"))

from candidates import label_peaks  # noqa: E402
from from_maps import Arm, evaluate_arms, summarise  # noqa: E402
from lungtumorseg.candidate_check import CandidateCheck  # noqa: E402
from lungtumorseg.evaluation.probability_cache import cache_key  # noqa: E402
from lungtumorseg.models.package import default_package_dir, load_package  # noqa: E402
from lungtumorseg.training.dataset import discover_cases  # noqa: E402


@dataclass
class BypassCheck(CandidateCheck):
    """The package's candidate check, except that a candidate whose peak probability reaches
    ``min_peak_bypass`` is never rejected (arm C)."""

    min_peak_bypass: float = float("inf")

    def judge(self, labels, ct, probability, to_probability=None) -> tuple[dict[int, float], set[int]]:
        scores, rejected = super().judge(labels, ct, probability, to_probability)
        if not rejected:
            return scores, rejected
        peaks = label_peaks(labels, to_probability(probability) if to_probability is not None else probability)
        return scores, {k for k in rejected if peaks[k] < self.min_peak_bypass}


def main() -> None:
    gate_path, data, cache, out = (Path(a) for a in sys.argv[1:5])
    gate = json.loads(gate_path.read_text())
    assert gate["gate_passed"], "PLAN.md: the decision runs only after a passed gate"
    package = load_package(default_package_dir())
    check = package.candidate_check()
    bypass = BypassCheck(check.network, check.cutoff, min_peak_bypass=float(gate["p_all"]))
    threshold, rule = float(package.card["postprocessing"]["threshold"]), package.card.lesion_filter
    arms = [Arm("A", threshold, rule, lambda case: check), Arm("C", threshold, rule, lambda case: bypass)]
    key = cache_key(package, list(package.card.mirror_axes))
    evals = evaluate_arms(discover_cases(data), package, key, cache, arms)
    a, c = summarise(evals["A"]), summarise(evals["C"])
    ships = (c["found_ge10"] >= a["found_ge10"] + 2 and c["fp_per_case"] <= 0.3 and c["clean"] >= a["clean"] - 1
             and c["mean_dice_tumour_cases"] >= a["mean_dice_tumour_cases"] - 0.005)
    result = {"p": gate["p_all"], "A": a, "C": c, "ships": bool(ships)}
    out.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
