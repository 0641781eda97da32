"""Evaluation figures (matplotlib, headless Agg backend), written as PNGs.

* ``dice_per_case.png``: volume Dice of every case, sorted, with the mean;
* ``volumes.png``: predicted vs true tumour volume with the identity line, and the
  Bland–Altman plot (difference vs mean, bias and 95 % limits of agreement);
* ``detection_by_size.png``: lesion detection sensitivity per size bin, with counts;
* ``detection_by_tumour_type.png`` (phantoms only, written by the held-out benchmark):
  the same by the phantom's tumour kind, location and zone;
* ``procedures.png`` (``benchmarks/calibration_procedures.py``): the issue's measures of
  each calibration procedure, cross-validated and held out, targets dashed;
* ``froc.png`` (``benchmarks/froc_phantoms.py``): lesion sensitivity against false-positive
  lesions per case as the minimum peak probability moves, the card's point marked;
* ``worst_cases.png``: the worst cases by Dice, one axial slice each through the largest
  truth lesion in a lung window (W1500/L−600), truth outlined green, prediction red.

Every figure carries the synthetic-data note when the data are phantoms.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional, Sequence

import numpy as np
from scipy import ndimage as ndi

from .froc import CPM_FP_RATES

LUNG_WINDOW = (-1350.0, 150.0)  # W1500 / L-600


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


@dataclass
class Snapshot:
    """One axial slice of a case for the gallery (kept small: 2D arrays only)."""

    case: str
    dice: float
    slice_index: int
    image: np.ndarray  # HU, float32
    truth: np.ndarray  # bool
    pred: np.ndarray  # bool
    aspect: float  # row spacing / column spacing


def take_snapshot(
    case: str, dice: float, image: np.ndarray, truth: np.ndarray, pred: np.ndarray,
    spacing_xyz: Sequence[float], slice_axis: int = 0,
) -> Snapshot:
    """The axial slice through the centroid of the largest truth lesion (else the largest
    predicted lesion, else the middle slice)."""
    index = image.shape[slice_axis] // 2
    for mask in (truth, pred):
        labels, n = ndi.label(mask)
        if n:
            sizes = np.bincount(labels.ravel())[1:]
            centre = ndi.center_of_mass(labels == 1 + int(np.argmax(sizes)))
            index = int(round(centre[slice_axis]))
            break
    spacing_kji = list(reversed(list(spacing_xyz)))
    rows_axis, cols_axis = [a for a in range(3) if a != slice_axis]

    def cut(a: np.ndarray) -> np.ndarray:
        return np.take(a, index, axis=slice_axis)

    return Snapshot(case, dice, index, cut(image).astype(np.float32), cut(truth) > 0, cut(pred) > 0,
                    float(spacing_kji[rows_axis] / spacing_kji[cols_axis]))


def _finish(fig: Any, path: Path, note: Optional[str]) -> Path:
    if note:
        fig.text(0.5, 0.005, note, ha="center", va="bottom", fontsize=8, color="darkred")
    fig.tight_layout(rect=(0, 0.03 if note else 0, 1, 1))
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    _pyplot().close(fig)
    return path


def plot_dice_per_case(names: Sequence[str], dice: Sequence[float], path: Path, note: Optional[str] = None) -> Path:
    """Sorted bar chart of per-case volume Dice with the mean as a dashed line."""
    plt = _pyplot()
    order = np.argsort(np.asarray(dice, dtype=float))
    fig, ax = plt.subplots(figsize=(max(6.0, 0.25 * len(names) + 2), 4))
    values = [float(dice[i]) for i in order]
    ax.bar(range(len(values)), values, color="tab:blue")
    ax.set_xticks(range(len(values)))
    ax.set_xticklabels([names[i] for i in order], rotation=90, fontsize=7)
    if values:
        ax.axhline(float(np.nanmean(values)), color="k", ls="--", lw=1, label=f"mean {np.nanmean(values):.3f}")
        ax.legend(loc="upper left")
    ax.set_ylim(0, 1)
    ax.set_ylabel("volume Dice")
    ax.set_title("Dice per case")
    return _finish(fig, path, note)


def plot_volumes(true_ml: Sequence[float], pred_ml: Sequence[float], path: Path, note: Optional[str] = None) -> Path:
    """Predicted vs true volume (identity line) and Bland–Altman (bias ± 1.96 sd)."""
    plt = _pyplot()
    t, p = np.asarray(true_ml, dtype=float), np.asarray(pred_ml, dtype=float)
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 4.5))
    a1.scatter(t, p, s=18, color="tab:blue")
    top = float(max(t.max(initial=0), p.max(initial=0), 1e-3)) * 1.05
    a1.plot([0, top], [0, top], "k--", lw=1, label="identity")
    a1.set_xlim(0, top)
    a1.set_ylim(0, top)
    a1.set_xlabel("true volume (mL)")
    a1.set_ylabel("predicted volume (mL)")
    a1.set_title("Tumour volume per case")
    a1.legend(loc="upper left")
    mean, diff = (t + p) / 2, p - t
    a2.scatter(mean, diff, s=18, color="tab:blue")
    if diff.size:
        bias = float(diff.mean())
        sd = float(diff.std(ddof=1)) if diff.size > 1 else 0.0
        a2.axhline(bias, color="k", lw=1, label=f"bias {bias:.2f} mL")
        for s in (-1.96, 1.96):
            a2.axhline(bias + s * sd, color="gray", ls="--", lw=1)
        a2.legend(loc="upper left")
    a2.axhline(0, color="lightgray", lw=0.8)
    a2.set_xlabel("mean of true and predicted volume (mL)")
    a2.set_ylabel("predicted − true (mL)")
    a2.set_title("Bland–Altman (limits: bias ± 1.96 sd)")
    return _finish(fig, path, note)


def _detection_bars(ax: Any, names: Sequence[str], detected: Sequence[int], totals: Sequence[int]) -> None:
    """Sensitivity bars with ``detected/total`` above each ("none" where there is nothing to find)."""
    heights = [found / total if total else 0.0 for found, total in zip(detected, totals)]
    ax.bar(range(len(names)), heights, color="tab:green")
    for i, (found, total) in enumerate(zip(detected, totals)):
        ax.text(i, heights[i] + 0.02, f"{int(found)}/{int(total)}" if total else "none", ha="center", fontsize=9)
    ax.set_xticks(range(len(names)))
    ax.set_xticklabels(names)
    ax.set_ylim(0, 1.12)
    ax.set_ylabel("detection sensitivity")


def plot_detection_by_size(by_size: dict[str, dict[str, float]], path: Path, note: Optional[str] = None) -> Path:
    """Sensitivity per size bin with ``detected/total`` above each bar."""
    plt = _pyplot()
    names = list(by_size)
    fig, ax = plt.subplots(figsize=(6, 4))
    _detection_bars(ax, names, [by_size[n]["n_detected"] for n in names], [by_size[n]["n_truth"] for n in names])
    ax.set_xlabel("truth lesion equivalent diameter")
    ax.set_title("Lesion detection by size")
    return _finish(fig, path, note)


def plot_detection_by_tumour_type(table: dict[str, dict[str, dict[str, float]]], path: Path,
                                  note: Optional[str] = None) -> Path:
    """One panel per grouping of ``lungtumorseg.evaluation.tumour_types.detection_table``
    (kind, size, location, zone): sensitivity per group with ``detected/total`` above each
    bar and, where recorded, the share the network responded to as an outlined bar."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, len(table), figsize=(4.2 * len(table), 4), squeeze=False)
    for ax, (grouping, groups) in zip(axes[0], table.items()):
        names = list(groups)
        if all("responded" in groups[n] for n in names):
            ax.bar(range(len(names)), [groups[n]["responded"] / groups[n]["total"] for n in names],
                   fill=False, edgecolor="black", linestyle="--", label="network responded (peak >= 0.5)")
        _detection_bars(ax, names, [groups[n]["detected"] for n in names], [groups[n]["total"] for n in names])
        ax.set_title(f"Tumours found by {grouping}")
    if any(ax.get_legend_handles_labels()[0] for ax in axes[0]):
        axes[0][0].legend(loc="upper left", fontsize=7)
    return _finish(fig, path, note)


def plot_worst_cases(snapshots: Sequence[Snapshot], path: Path, n: int = 6, note: Optional[str] = None) -> Path:
    """Gallery of the ``n`` lowest-Dice cases (lung window, truth green, prediction red)."""
    plt = _pyplot()
    worst = sorted(snapshots, key=lambda s: (s.dice if not math.isnan(s.dice) else -1.0))[:n]
    cols = min(3, max(len(worst), 1))
    rows = max(1, math.ceil(len(worst) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(3.6 * cols, 3.8 * rows), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for ax, snap in zip(axes.ravel(), worst):
        ax.imshow(snap.image, cmap="gray", vmin=LUNG_WINDOW[0], vmax=LUNG_WINDOW[1], aspect=snap.aspect,
                  interpolation="nearest")
        if snap.truth.any():
            ax.contour(snap.truth.astype(float), levels=[0.5], colors="lime", linewidths=1)
        if snap.pred.any():
            ax.contour(snap.pred.astype(float), levels=[0.5], colors="red", linewidths=1)
        ax.set_title(f"{snap.case}  Dice {snap.dice:.3f}\nslice {snap.slice_index}", fontsize=9)
    if not worst:
        axes[0, 0].text(0.5, 0.5, "no cases", ha="center", va="center")
    fig.suptitle("Worst cases (truth green, prediction red; lung window)", fontsize=10)
    return _finish(fig, path, note)


def plot_froc(curves: dict[str, Any], path: Path, operating_point: Optional[dict[str, tuple[float, float]]] = None,
              note: Optional[str] = None) -> Path:
    """FROC curves (:class:`lungtumorseg.evaluation.froc.FrocCurve` by label) on a log
    false-positive axis with LUNA16's CPM rates as guides; ``operating_point`` marks, per
    label, the package's own (false positives per case, sensitivity). The title names the
    curves' lesion score(s) (peak probability, candidate classifier)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    floor = 1.0 / 64
    styles = [("tab:blue", "-"), ("tab:blue", "--"), ("tab:orange", "-"), ("tab:orange", "--"),
              ("tab:green", "-"), ("tab:green", "--")]
    for (label, curve), (colour, line) in zip(curves.items(), styles * 2):
        order = np.argsort(curve.false_positives_per_case, kind="stable")
        fp = np.maximum(curve.false_positives_per_case[order], floor)
        ax.step(fp, np.maximum.accumulate(curve.sensitivity[order]), where="post", color=colour, ls=line,
                label=f"{label} (CPM {curve.cpm():.2f}, {curve.n_lesions} tumours)")
        if operating_point and label in operating_point:
            x, y = operating_point[label]
            ax.plot([max(x, floor)], [y], "o", color=colour, markersize=7, markeredgecolor="k")
    for rate in CPM_FP_RATES:
        ax.axvline(rate, color="0.85", lw=0.8, zorder=0)
    ax.set_xscale("log", base=2)
    ax.set_xlim(floor, max(CPM_FP_RATES))
    ax.set_xticks([floor, *CPM_FP_RATES])
    ax.set_xticklabels(["0", *(f"1/{round(1 / r)}" if r < 1 else f"{r:g}" for r in CPM_FP_RATES)])
    ax.set_ylim(0, 1)
    ax.set_xlabel("false-positive lesions per case (log scale)")
    ax.set_ylabel("lesion sensitivity")
    short = {"peak tumour probability": "peak probability", "candidate classifier score": "classifier score"}
    scores = dict.fromkeys(short.get(s, s) for s in (getattr(c, "lesion_score", "peak tumour probability")
                                                     for c in curves.values()))
    ax.set_title(f"FROC, lesions scored by {' or '.join(scores) or 'peak probability'} (dot: card's point)",
                 fontsize=11 if len(scores) < 2 else 9)
    ax.legend(loc="lower right", fontsize=8)
    return _finish(fig, path, note)


def plot_procedure_comparison(rows: dict[str, dict[str, dict[str, float]]], path: Path,
                              targets: dict[str, tuple[str, Optional[float]]], note: Optional[str] = None) -> Path:
    """One panel per measure (``targets``: measure → (label, target value or None); a target
    is drawn as a dashed line), one group of bars per calibration procedure, one bar per result set
    (``rows[procedure][set][measure]``, e.g. "cross-validated" and "held out")."""
    plt = _pyplot()
    measures = list(targets)
    procedures = list(rows)
    sets = list(dict.fromkeys(s for by_set in rows.values() for s in by_set))
    fig, axes = plt.subplots(1, len(measures), figsize=(3.2 * len(measures), 3.8), squeeze=False)
    width = 0.8 / max(len(sets), 1)
    colours = ["tab:blue", "tab:orange", "tab:green", "tab:gray"]
    for ax, measure in zip(axes[0], measures):
        label, target = targets[measure]
        for k, name in enumerate(sets):
            values = [rows[p].get(name, {}).get(measure, math.nan) for p in procedures]
            x = np.arange(len(procedures)) + (k - (len(sets) - 1) / 2) * width
            ax.bar(x, np.nan_to_num(values), width, color=colours[k % len(colours)], label=name)
            for xi, v in zip(x, values):
                if not math.isnan(v):
                    ax.text(xi, v, f"{v:.2f}", ha="center", va="bottom", fontsize=7)
        if target is not None:
            ax.axhline(target, color="k", ls="--", lw=0.8)
        ax.set_xticks(np.arange(len(procedures)))
        ax.set_xticklabels(procedures, rotation=30, ha="right", fontsize=8)
        ax.set_title(label if target is None else f"{label}\n(target {target:g}, dashed)", fontsize=9)
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, fontsize=8, loc="upper right", ncol=len(sets))
    fig.suptitle("Calibration procedures: chosen on some cases, scored on others", fontsize=10)
    return _finish(fig, path, note)
