"""Render what outline growth does to Resources/Screenshots/outline_growth.png.

Runs the shipped demo package once on a held-out phantom (default: lung_013 of
``benchmarks/.cache/heldout-small-10000-16``, made by ``benchmarks/heldout_phantoms.py``,
seed 10013), then labels the lesions twice from the same probability map: with the card's
outline growth and without it (``lungtumorseg.relabel``). Shows an axial slice through each
true tumour the package found: truth in green, the thresholded outline (0.6.0) dashed
yellow, the grown outline (0.6.1) red, with each outline's Dice against that tumour. Lung
window W 1500 / L −600, radiological convention (patient right on screen left, anterior up),
on a 1 mm axis-aligned grid for display. Synthetic phantom, not clinical accuracy.

Usage: python scripts/make_outline_figure.py [--case DIR/imagesTr/lung_013.nii.gz] [--out PNG]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import SimpleITK as sitk  # noqa: E402
from scipy import ndimage as ndi  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "LungTumorSeg"))

from lungtumorseg.io import read_image  # noqa: E402
from lungtumorseg.models.package import load_package  # noqa: E402
from lungtumorseg.pipeline import SegmentOptions, segment  # noqa: E402
from lungtumorseg.preprocess import canonical_reference, to_canonical  # noqa: E402
from figure_output import save_figure  # noqa: E402
from lungtumorseg.relabel import MeasureContext, lesions_from_probability  # noqa: E402

PACKAGE = ROOT / "LungTumorSeg" / "Resources" / "Models" / "lungtumorseg-demo-phantom"
DEFAULT_CASE = ROOT / "benchmarks" / ".cache" / "heldout-small-10000-16" / "imagesTr" / "lung_013.nii.gz"
DISPLAY_MM = (1.0, 1.0, 1.0)
HALF_WIDTH = 30  # display voxels around each tumour centre (60 mm)


def _on_display_grid(labels: sitk.Image, ref: sitk.Image) -> np.ndarray:
    return sitk.GetArrayFromImage(sitk.Resample(labels, ref, sitk.Transform(), sitk.sitkNearestNeighbor, 0,
                                                sitk.sitkUInt16))


def _dice(a: np.ndarray, b: np.ndarray) -> float:
    return 2.0 * float((a & b).sum()) / max(float(a.sum() + b.sum()), 1.0)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--case", type=Path, default=DEFAULT_CASE, help="a phantom image in an MSD-layout folder")
    parser.add_argument("--out", type=Path, default=ROOT / "Resources" / "Screenshots" / "outline_growth.png")
    args = parser.parse_args()
    if not args.case.is_file():
        parser.error(f"{args.case} not found: run benchmarks/heldout_phantoms.py first (it makes the held-out phantoms)")
    package = load_package(PACKAGE)
    rule = package.card.lesion_filter
    if rule.outline_growth is None:
        parser.error("the demo package's card has no outline growth")
    image = read_image(args.case)
    truth_image = read_image(args.case.parent.parent / "labelsTr" / args.case.name)
    result = segment(image, package, SegmentOptions(threads=2))
    context = MeasureContext(result.lung_z_lps_mm)
    grown, _ = lesions_from_probability(result.probability, image, result.threshold, rule, context)
    plain, _ = lesions_from_probability(result.probability, image, result.threshold,
                                        rule.overridden(outline_growth=False), context)
    ref = canonical_reference(image, DISPLAY_MM)
    hu = sitk.GetArrayFromImage(to_canonical(image, DISPLAY_MM))
    truth = _on_display_grid(truth_image, ref) > 0
    grown_d, plain_d = _on_display_grid(grown, ref) > 0, _on_display_grid(plain, ref) > 0
    components, count = ndi.label(truth)
    found = [k for k in range(1, count + 1) if (grown_d & (components == k)).any()]
    if not found:
        parser.error("the package finds no tumour in this case; choose another --case")
    fig, axes = plt.subplots(1, len(found), figsize=(3.6 * len(found), 3.9), squeeze=False)
    for ax, k in zip(axes[0], found):
        tumour = components == k
        near = ndi.binary_dilation(tumour, iterations=6)  # this tumour's outlines only
        z = int(np.argmax((tumour & (grown_d ^ plain_d)).sum(axis=(1, 2))))  # the slice growth changed most
        _, y, x = (int(round(v)) for v in ndi.center_of_mass(tumour))
        view = (z, slice(max(y - HALF_WIDTH, 0), y + HALF_WIDTH), slice(max(x - HALF_WIDTH, 0), x + HALF_WIDTH))
        ax.imshow(hu[view], cmap="gray", vmin=-1350, vmax=150)
        ax.contour(tumour[view], [0.5], colors="lime", linewidths=1.0)
        ax.contour((plain_d & near)[view], [0.5], colors="yellow", linewidths=1.0, linestyles="dashed")
        ax.contour((grown_d & near)[view], [0.5], colors="red", linewidths=1.0)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(f"tumour {k}: Dice {_dice(plain_d & near, tumour):.2f} thresholded → "
                     f"{_dice(grown_d & near, tumour):.2f} grown", fontsize=7)
    growth = rule.outline_growth
    save_figure(fig, args.out, f"Outline growth on held-out phantom {args.case.name.split('.')[0]} (synthetic): "
                f"truth green, thresholded outline dashed yellow, grown ≤ {growth.max_distance_mm:g} mm into "
                f"{growth.min_hu:g}…{growth.max_hu:g} HU red", title_size=8, dpi=100)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
