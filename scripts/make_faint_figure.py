"""Render what a faint-tumour training copy looks like to Resources/Screenshots/faint_copies.png.

Takes the shipped example chest CT phantom and its truth, brings both to the model's
canonical 1.5 mm grid (as training does), and shows an axial slice through each tumour:
the original, and two faint copies made with ``lungtumorseg.training.faint.FaintTumours``
(seeded; the second copy allows a solid core). Lung window W 1500 / L -600, radiological
convention (patient right on screen left, anterior up), truth outlined in green.

Usage: PYTHONPATH=LungTumorSeg python scripts/make_faint_figure.py [--out PNG]
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
from lungtumorseg.preprocess import canonical_reference, to_canonical  # noqa: E402
from lungtumorseg.training.faint import FaintTumours  # noqa: E402
from figure_output import save_figure  # noqa: E402

SAMPLE = ROOT / "LungTumorSeg" / "Resources" / "SampleData"
SPACING = (1.5, 1.5, 1.5)
HALF_WIDTH = 28  # voxels shown around each tumour centre (84 mm)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=ROOT / "Resources" / "Screenshots" / "faint_copies.png")
    args = parser.parse_args()
    image = read_image(SAMPLE / "ChestCTPhantom.nii.gz")
    truth = read_image(SAMPLE / "ChestCTPhantom_truth.nii.gz")
    hu = sitk.GetArrayFromImage(to_canonical(image, SPACING))
    ref = canonical_reference(image, SPACING)
    tumour = sitk.GetArrayFromImage(sitk.Resample(truth, ref, sitk.Transform(), sitk.sitkNearestNeighbor, 0,
                                                  sitk.sitkUInt8)) > 0
    rows = [("original", hu, None)]
    for title, spec, seed in (("faint copy", FaintTumours(core_probability=0.0), 1),
                              ("faint copy, solid core allowed", FaintTumours(core_probability=1.0), 2)):
        faded, records = spec.apply(hu, tumour, SPACING, np.random.default_rng(seed))
        rows.append((title, faded, records))
    components, count = ndi.label(tumour)
    fig, axes = plt.subplots(len(rows), count, figsize=(3.2 * count, 3.3 * len(rows)), squeeze=False)
    for k in range(count):
        z, y, x = (int(round(v)) for v in ndi.center_of_mass(components == k + 1))
        view = (z, slice(max(y - HALF_WIDTH, 0), y + HALF_WIDTH), slice(max(x - HALF_WIDTH, 0), x + HALF_WIDTH))
        for r, (title, volume, records) in enumerate(rows):
            ax = axes[r, k]
            ax.imshow(volume[view], cmap="gray", vmin=-1350, vmax=150)
            ax.contour(components[view] == k + 1, [0.5], colors="lime", linewidths=0.7)
            ax.set_xticks([])
            ax.set_yticks([])
            label = f"tumour {k + 1}: {title}"
            if records:
                rec = records[k]
                label += f"\nkept {rec['keep']:.0%} of its density above lung"
                label += f", core {rec['core_fraction']:.0%} of depth" if rec["core_fraction"] else ""
            ax.set_title(label, fontsize=7)
    save_figure(fig, args.out, "Faint-tumour training copies (lungtumorseg.training.faint) of the example phantom — "
                "synthetic data, lung window")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
