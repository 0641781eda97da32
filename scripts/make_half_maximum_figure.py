"""Render what the half-maximum outlines do to Resources/Screenshots/half_maximum.png.

Runs a demo package whose card has half-maximum outlines (default: the shipped one) once on
each phantom given, then labels the lesions twice from the same maps (``lungtumorseg.relabel``,
with the magnified look's confirmed candidates and join as in the run): with the card's outline
growth alone (demo 0.12.0) and with its half-maximum outlines (0.13.0). For each true tumour
found it shows an axial and a coronal slice through the tumour's centre: truth green, 0.12.0's
outline dashed yellow, the half-maximum outline red, each with its Dice against that tumour.
Lung window W 1500 / L −600, radiological convention, on a 1 mm axis-aligned grid for display.
Synthetic phantoms, not clinical accuracy.

Usage: python scripts/make_half_maximum_figure.py CASE.nii.gz [CASE.nii.gz ...] [--model DIR] [--out PNG]
(each case an image in an MSD-layout folder, its label in ``../labelsTr``).
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import SimpleITK as sitk  # noqa: E402
from scipy import ndimage as ndi  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "LungTumorSeg"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from figure_output import save_figure  # noqa: E402
from make_outline_figure import DISPLAY_MM, HALF_WIDTH, PACKAGE, _dice, _on_display_grid  # noqa: E402
from lungtumorseg.io import read_image  # noqa: E402
from lungtumorseg.models.package import load_package  # noqa: E402
from lungtumorseg.pipeline import SegmentOptions, segment  # noqa: E402
from lungtumorseg.preprocess import canonical_reference, to_canonical  # noqa: E402
from lungtumorseg.relabel import MeasureContext, lesions_from_probability  # noqa: E402


def _panels(case: Path, package) -> list[tuple[str, np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
    """(title, CT, truth, 0.12.0 outline, half-maximum outline) slices, axial and coronal, per found tumour."""
    rule = package.card.lesion_filter
    without = replace(rule, outline_growth=replace(rule.outline_growth, half_maximum=None))
    image = read_image(case)
    truth_image = read_image(case.parent.parent / "labelsTr" / case.name)
    result = segment(image, package, SegmentOptions(threads=2))
    context = MeasureContext(result.lung_z_lps_mm, result.midline_x_lps_mm, result.confirmed_lps)
    check = package.candidate_check()
    magnified = result.magnified_probability if result.magnified_join else None
    after, _ = lesions_from_probability(result.probability, image, result.threshold, rule, context, check, magnified)
    before, _ = lesions_from_probability(result.probability, image, result.threshold, without, context, check,
                                         magnified)
    ref = canonical_reference(image, DISPLAY_MM)
    hu = sitk.GetArrayFromImage(to_canonical(image, DISPLAY_MM))
    truth = _on_display_grid(truth_image, ref) > 0
    after_d, before_d = _on_display_grid(after, ref) > 0, _on_display_grid(before, ref) > 0
    components, count = ndi.label(truth)
    panels = []
    for k in range(1, count + 1):
        tumour = components == k
        if not (after_d & tumour).any():
            continue
        near = ndi.binary_dilation(tumour, iterations=6)  # this tumour's outlines only
        old, new = before_d & near, after_d & near
        z, y, x = (int(round(v)) for v in ndi.center_of_mass(tumour))
        rows, cols = slice(max(y - HALF_WIDTH, 0), y + HALF_WIDTH), slice(max(x - HALF_WIDTH, 0), x + HALF_WIDTH)
        title = f"{case.name.split('.')[0]} tumour {k}: Dice {_dice(old, tumour):.2f} → {_dice(new, tumour):.2f}"
        for view, name in (((z, rows, cols), "axial"), ((slice(max(z - HALF_WIDTH, 0), z + HALF_WIDTH), y, cols),
                                                       "coronal")):
            panels.append((f"{title} ({name})", hu[view], tumour[view], old[view], new[view]))
    return panels


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("cases", type=Path, nargs="+", help="phantom images in MSD-layout folders")
    parser.add_argument("--model", type=Path, default=PACKAGE)
    parser.add_argument("--out", type=Path, default=ROOT / "Resources" / "Screenshots" / "half_maximum.png")
    args = parser.parse_args()
    package = load_package(args.model)
    growth = package.card.lesion_filter.outline_growth
    if growth is None or growth.half_maximum is None:
        parser.error(f"the card of {args.model} has no half-maximum outlines")
    panels = [panel for case in args.cases for panel in _panels(case, package)]
    if not panels:
        parser.error("the package finds no tumour in these cases; choose others")
    n = len(panels) // 2
    fig, axes = plt.subplots(2, n, figsize=(3.3 * n, 6.8), squeeze=False)
    for i, (title, ct, tumour, old, new) in enumerate(panels):
        ax = axes[i % 2][i // 2]
        ct, tumour, old, new = (np.flipud(a) if "coronal" in title else a for a in (ct, tumour, old, new))  # head up
        ax.imshow(ct, cmap="gray", vmin=-1350, vmax=150, aspect="equal")
        ax.contour(tumour, [0.5], colors="lime", linewidths=1.0)
        ax.contour(old, [0.5], colors="yellow", linewidths=1.0, linestyles="dashed")
        ax.contour(new, [0.5], colors="red", linewidths=1.0)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(title, fontsize=6.5)
    save_figure(fig, args.out, "Half-maximum outlines on synthetic phantoms (not clinical accuracy): truth green, "
                "demo 0.12.0 dashed yellow, half-maximum outline red", title_size=8, dpi=100)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
