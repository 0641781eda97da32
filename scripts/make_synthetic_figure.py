"""Render what synthetic-tumour training copies look like to Resources/Screenshots/synthetic_copies.png.

Takes the shipped example chest CT phantom, brings it to the model's canonical 1.5 mm grid
and finds its lungs (as training does), draws new tumours into it with
``lungtumorseg.training.insertion.SyntheticTumours`` (seeded; one copy per kind so every
kind is shown), and shows each new tumour in an axial (top) and a coronal (bottom) slice.
Lung window W 1500 / L -600; axial in radiological convention (patient right on screen
left, anterior up), coronal with the head up; the new tumour's label outlined in green.

Usage: PYTHONPATH=LungTumorSeg python scripts/make_synthetic_figure.py [--out PNG]
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

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "LungTumorSeg"))

from lungtumorseg.io import read_image  # noqa: E402
from lungtumorseg.lungs import find_lungs  # noqa: E402
from lungtumorseg.preprocess import to_canonical  # noqa: E402
from lungtumorseg.training.insertion import SyntheticTumours  # noqa: E402
from figure_output import save_figure  # noqa: E402

SAMPLE = ROOT / "LungTumorSeg" / "Resources" / "SampleData" / "ChestCTPhantom.nii.gz"
SPACING = (1.5, 1.5, 1.5)
HALF_WIDTH = 24  # voxels shown around each tumour centre (72 mm)
KINDS = {"solid": (1.0, 0.0, 0.0), "part-solid": (0.0, 1.0, 0.0), "ground-glass": (0.0, 0.0, 1.0)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=ROOT / "Resources" / "Screenshots" / "synthetic_copies.png")
    args = parser.parse_args()
    image = read_image(SAMPLE)
    hu = sitk.GetArrayFromImage(to_canonical(image, SPACING))
    lungs = find_lungs(hu, SPACING).mask
    no_tumour = np.zeros(hu.shape, dtype=np.uint8)
    shown = []  # (title, volume, label, centre)
    for seed, (kind, weights) in enumerate(KINDS.items(), start=1):
        spec = SyntheticTumours(per_copy=(2, 2), kind_weights=weights)
        volume, label, records = spec.apply(hu, no_tumour, lungs, SPACING, max(image.GetSpacing()),
                                            np.random.default_rng(seed))
        for rec in records:
            title = f"{rec['kind']}, {rec['shape']}, {rec['diameter_mm']:.0f} mm"
            shown.append((title, volume, label, rec["centre_zyx"]))
    fig, axes = plt.subplots(2, len(shown), figsize=(2.6 * len(shown), 5.6), squeeze=False)
    for k, (title, volume, label, (z, y, x)) in enumerate(shown):
        rows = slice(max(y - HALF_WIDTH, 0), y + HALF_WIDTH)
        cols = slice(max(x - HALF_WIDTH, 0), x + HALF_WIDTH)
        levels = slice(max(z - HALF_WIDTH, 0), z + HALF_WIDTH)
        views = ((volume[z, rows, cols], label[z, rows, cols]),
                 (volume[levels, y, cols][::-1], label[levels, y, cols][::-1]))  # head up
        for r, (ct, mask) in enumerate(views):
            ax = axes[r, k]
            ax.imshow(ct, cmap="gray", vmin=-1350, vmax=150)
            ax.contour(mask, [0.5], colors="lime", linewidths=0.6)
            ax.set_xticks([])
            ax.set_yticks([])
        axes[0, k].set_title(title, fontsize=7)
    axes[0, 0].set_ylabel("axial", fontsize=8)
    axes[1, 0].set_ylabel("coronal", fontsize=8)
    save_figure(fig, args.out, "Synthetic-tumour training copies (lungtumorseg.training.insertion) of the example "
                "phantom — synthetic data, lung window, new tumours outlined")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
