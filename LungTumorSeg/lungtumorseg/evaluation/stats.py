"""Summaries of a metric over cases (mean ± sd, median, range) and a bootstrap CI.

Non-finite values are handled explicitly, never silently: ``nan`` (undefined, e.g. recall
of a tumour-free case) is left out and counted in ``n_nan``; ``inf`` (unbounded distance,
e.g. HD95 when one mask is empty) is left out of mean/sd but counted in ``n_inf`` and kept
in the median, min and max (so a median can honestly be ``inf``).
"""

from __future__ import annotations

import math
from typing import Callable, Iterable, Optional

import numpy as np


def describe(values: Iterable[float]) -> dict[str, float]:
    """``{mean, sd, median, min, max, n, n_nan, n_inf}`` of ``values`` (rules above).

    ``sd`` is the sample standard deviation (ddof=1); nan with fewer than two finite values.
    """
    v = np.asarray([float(x) for x in values], dtype=float)
    nan = np.isnan(v)
    defined = v[~nan]
    finite = defined[np.isfinite(defined)]
    return {
        "mean": float(finite.mean()) if finite.size else math.nan,
        "sd": float(finite.std(ddof=1)) if finite.size > 1 else math.nan,
        "median": float(np.median(defined)) if defined.size else math.nan,
        "min": float(defined.min()) if defined.size else math.nan,
        "max": float(defined.max()) if defined.size else math.nan,
        "n": int(finite.size),
        "n_nan": int(nan.sum()),
        "n_inf": int(defined.size - finite.size),
    }


def bootstrap_ci(
    values: Iterable[float],
    n: int = 2000,
    seed: int = 0,
    level: float = 0.95,
    statistic: Optional[Callable[[np.ndarray], np.ndarray]] = None,
) -> tuple[float, float]:
    """Percentile bootstrap confidence interval of a statistic (default: the mean).

    Cases are resampled with replacement ``n`` times with a seeded generator, so the same
    inputs always give the same interval. Non-finite values are dropped first. ``statistic``
    receives a 2D array (resamples × cases) and must reduce along axis 1. Returns
    ``(nan, nan)`` for no finite values and ``(x, x)`` for a single one.
    """
    v = np.asarray([float(x) for x in values], dtype=float)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return math.nan, math.nan
    stat = statistic or (lambda a: a.mean(axis=1))
    rng = np.random.default_rng(seed)
    samples = v[rng.integers(0, v.size, size=(int(n), v.size))]
    dist = np.asarray(stat(samples), dtype=float)
    alpha = (1.0 - level) / 2.0
    lo, hi = np.quantile(dist, [alpha, 1.0 - alpha])
    return float(lo), float(hi)


def format_mean_sd(stats: dict[str, float], digits: int = 3) -> str:
    """``"0.812 ± 0.104"``-style text for tables; marks infinite and undefined cases."""
    if stats["n"] == 0:
        text = "n/a"
    elif math.isnan(stats["sd"]):
        text = f"{stats['mean']:.{digits}f}"
    else:
        text = f"{stats['mean']:.{digits}f} ± {stats['sd']:.{digits}f}"
    if stats.get("n_inf"):
        text += f" ({stats['n_inf']} inf)"
    return text
