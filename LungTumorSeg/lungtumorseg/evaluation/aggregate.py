"""Combine per-case evaluations into the summary blocks: per-case statistics and pooled values.

Two complementary views, both reported:

* **over cases** (``voxel``): each case counts once — mean ± sd, median, range and a
  bootstrap 95 % CI of the mean; the typical patient's result;
* **pooled** (``pooled``): confusion counts summed over cases before computing the metric,
  so large tumours weigh more; the lesion detection numbers are pooled the same way.
"""

from __future__ import annotations

from typing import Any, Iterable, Sequence

from ..zones import ZONE_NAMES
from .fields import VOXEL_FIELDS
from .lesions import SIZE_BINS
from .metrics import Confusion, overlap_metrics
from .stats import bootstrap_ci, describe

SUMMARISED = [k for k in VOXEL_FIELDS if k not in ("tp", "fp", "fn", "tn")]


def _stats_block(metric_dicts: Sequence[dict[str, float]]) -> dict[str, dict[str, Any]]:
    out = {}
    for key in SUMMARISED:
        values = [m[key] for m in metric_dicts if key in m]
        block: dict[str, Any] = describe(values)
        block["ci95"] = list(bootstrap_ci(values))
        out[key] = block
    return out


def _pooled(metric_dicts: Iterable[dict[str, float]]) -> dict[str, float]:
    total = Confusion(0, 0, 0, 0)
    for m in metric_dicts:
        total = total + Confusion(int(m["tp"]), int(m["fp"]), int(m["fn"]), int(m["tn"]))
    out: dict[str, float] = dict(overlap_metrics(total))
    out.update({"tp": total.tp, "fp": total.fp, "fn": total.fn, "tn": total.tn})
    return out


def _detection(counts: Sequence[dict[str, Any]], n_cases: int) -> dict[str, Any]:
    n_t = sum(int(c["n_truth_lesions"]) for c in counts)
    n_d = sum(int(c["n_detected"]) for c in counts)
    n_fp = sum(int(c["n_false_positive"]) for c in counts)
    return {
        "n_truth_lesions": n_t,
        "n_detected": n_d,
        "sensitivity": n_d / n_t if n_t else float("nan"),
        "n_pred_lesions": sum(int(c["n_pred_lesions"]) for c in counts),
        "n_false_positive": n_fp,
        "false_positives_per_case": n_fp / n_cases if n_cases else float("nan"),
    }


def _by_size(evaluations: Sequence[dict[str, Any]]) -> dict[str, dict[str, float]]:
    out = {}
    for name, lo, hi in SIZE_BINS:
        n = sum(e["detection"]["by_size"][name]["n_truth"] for e in evaluations)
        d = sum(e["detection"]["by_size"][name]["n_detected"] for e in evaluations)
        out[name] = {"min_mm": lo, "max_mm": hi, "n_truth": n, "n_detected": d,
                     "sensitivity": d / n if n else float("nan")}
    return out


def summarise(evaluations: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The ``voxel``, ``pooled``, ``zones`` and ``lesions`` blocks of ``summary.json``."""
    n = len(evaluations)
    voxel = [e["voxel"] for e in evaluations]
    zones: dict[str, Any] = {}
    for name in ZONE_NAMES:
        per_case = [e["zones"][name] for e in evaluations if name in e.get("zones", {})]
        if per_case:
            zones[name] = {
                "n_cases": len(per_case),
                "voxel": _stats_block(per_case),
                "pooled": _pooled(per_case),
                "lesions": _detection(per_case, len(per_case)),
            }
    lesions = _detection([e["detection"] for e in evaluations], n)
    lesions["by_size"] = _by_size(evaluations)
    return {
        "voxel": _stats_block(voxel),
        "pooled": _pooled(voxel),
        "zones": zones,
        "lesions": lesions,
    }
