"""The gate of PLAN.md on the 80 calibration phantoms: arm B (candidates at 0.30, retrained
classifier, cut-off by the v2 rule cross-validated) against arm A (demo 0.10.0 as shipped).

Usage: gate_low.py --a CAL1_A CAL2_A --b CAL1_B CAL2_B --weights B.safetensors --out gate.json
(candidate folders of ``../candidate_classifier_experiment/extract.py`` with scores beside them;
the calibration data and map caches are fixed below).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "candidate_classifier_experiment"))

import gate as first  # noqa: E402  (the first experiment's counting, folds and FROC)
from from_maps import Arm, evaluate_arms, summarise  # noqa: E402
from lungtumorseg.candidate_check import CandidateCheck, build_classifier  # noqa: E402
from lungtumorseg.evaluation.probability_cache import cache_key  # noqa: E402
from lungtumorseg.models.package import default_package_dir, load_package  # noqa: E402
from lungtumorseg.training.dataset import discover_cases  # noqa: E402

CAL = [(Path("/work/train/s19/calibration"), Path("/work/train/s22/calcache-tversky")),
       (Path("/work/train/s21/calibration2"), Path("/work/train/s22/cal2cache-tversky"))]
THRESHOLD_B = 0.30
MAX_FP_PER_CASE = 0.15


def cutoff_v2(cases: list[first.Case], max_fp_per_case: float = MAX_FP_PER_CASE) -> float:
    """The lowest cut-off whose false positives per case are at most ``max_fp_per_case``,
    placed midway between the lowest kept score and the next lower one."""
    scores = np.unique(np.concatenate([c.score for c in cases]))[::-1]
    allowed = max_fp_per_case * len(cases)
    best = None
    for i, t in enumerate(scores):
        if first.counts(cases, [c.score >= t for c in cases])["fp"] > allowed:
            break
        best = i
    if best is None:
        return float(scores[0]) + 1e-6
    if best == len(scores) - 1:
        return float(scores[best])
    return float((scores[best] + scores[best + 1]) / 2)


def network_b(weights: Path):
    from safetensors.torch import load_file

    net = build_classifier({"channels": [16, 32, 64, 128], "strides": [2, 2, 2, 2], "num_res_units": 1,
                            "dropout": 0.1})
    net.load_state_dict(load_file(str(weights)))
    return net.eval()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--a", nargs=2, type=Path, required=True)
    ap.add_argument("--b", nargs=2, type=Path, required=True)
    ap.add_argument("--weights", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    cases_a, cases_b = first.load(args.a), first.load(args.b)
    assert [c.name.split("/")[1] for c in cases_a] == [c.name.split("/")[1] for c in cases_b]
    package = load_package(default_package_dir())
    check_a = package.candidate_check()
    fold = np.random.default_rng(first.SEED).permutation(np.arange(len(cases_b)) % first.FOLDS)
    cut_of_case, cutoffs = {}, []
    for f in range(first.FOLDS):
        t = cutoff_v2([c for c, g in zip(cases_b, fold) if g != f])
        cutoffs.append(t)
        for i in np.nonzero(fold == f)[0]:
            cut_of_case[cases_b[i].name] = t
    keep_b = [c.score >= cut_of_case[c.name] for c in cases_b]
    result = {
        "cases": len(cases_b),
        "threshold_b": THRESHOLD_B,
        "rule_check_a_cutoff_on_all_80": cutoff_v2(cases_a),
        "a_cutoff_shipped": check_a.cutoff,
        "b_fold_cutoffs": cutoffs,
        "b_cutoff_all_80": cutoff_v2(cases_b),
        "components_a_0.10.0": first.counts(cases_a, [c.score >= check_a.cutoff for c in cases_a]),
        "components_b_out_of_fold": first.counts(cases_b, keep_b),
        "components_ceiling_a": first.counts(cases_a, [np.ones(len(c.score), bool) for c in cases_a]),
        "components_ceiling_b": first.counts(cases_b, [np.ones(len(c.score), bool) for c in cases_b]),
        "froc_a": first.froc(cases_a, lambda c: c.score),
        "froc_b": first.froc(cases_b, lambda c: c.score),
    }
    print(json.dumps(result, indent=1), flush=True)
    net = network_b(args.weights)
    rule = package.card.lesion_filter
    key = cache_key(package, list(package.card.mirror_axes))
    evals = {"A": [], "B": []}
    for (data, cache), cand in zip(CAL, args.b):
        arms = [Arm("A", float(package.card["postprocessing"]["threshold"]), rule, lambda name: check_a),
                Arm("B", THRESHOLD_B, rule,
                    lambda name, s=cand.name: CandidateCheck(net, cut_of_case[f"{s}/{name}"]))]
        evaluate_arms(discover_cases(data), package, key, cache, arms, evals)
    result["pipeline_a_0.10.0"] = summarise(evals["A"])
    result["pipeline_b_out_of_fold"] = summarise(evals["B"])
    a, b = result["pipeline_a_0.10.0"], result["pipeline_b_out_of_fold"]
    result["passes"] = bool(b["sens_ge10"] > a["sens_ge10"] and b["fp_per_case"] <= 0.20
                            and b["mean_dice_tumour_cases"] >= a["mean_dice_tumour_cases"] - 0.005)
    text = json.dumps(result, indent=1)
    args.out.write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
