"""Figure: small tumours the card's networks do not answer, and the same networks' answer when
shown the CT magnified 1.5 times (calibration phantoms; synthetic, not clinical accuracy).

One row per tumour: the axial CT slice through its centre (60 mm field) with the truth outline,
the card's probability map, the magnified look's map (both 0-1, the card threshold 0.45
outlined).

Usage: figure.py OUT.png MAPS DATA:CACHE:case:index [...]   (index: which truth tumour of the
case, by decreasing size, 0 = largest)
"""
from __future__ import annotations

import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import SimpleITK as sitk  # noqa: E402

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[2] / "LungTumorSeg"))
sys.path.insert(0, str(HERE.parent / "heldout48"))

from lungtumorseg.evaluation.probability_cache import cache_key, cached_probability  # noqa: E402
from lungtumorseg.io import read_image  # noqa: E402
from base_package import base_package  # noqa: E402  (0.10.0: the package without a look)
from lungtumorseg.training.dataset import discover_cases  # noqa: E402
from misses import large_tumours  # noqa: E402

FIELD_MM = 60.0
THRESHOLD = 0.45


def main() -> None:
    out, maps = Path(sys.argv[1]), Path(sys.argv[2])
    package = base_package()
    key = cache_key(package, list(package.card.mirror_axes))
    rows = sys.argv[3:]
    fig, axes = plt.subplots(len(rows), 3, figsize=(6.6, 2.35 * len(rows)), squeeze=False)
    for row, spec in zip(axes, rows):
        data, cache, name, index = spec.split(":")
        case = next(c for c in discover_cases(Path(data)) if c.name == name)
        image = read_image(case.image)
        truth = sitk.GetArrayFromImage(read_image(case.label)) > 0
        card, _ = cached_probability(case, package, 1, Path(cache), key)
        zoom = np.load(maps / f"{Path(data).name}-{name}.npy").astype(np.float32)
        tumours = sorted(large_tumours(truth, image, Path(data) / "meta" / f"{name}.json", 0.0), key=lambda t: -t[1])
        inside, diameter, info = tumours[int(index)]
        z, y, x = (int(round(v)) for v in np.argwhere(inside).mean(0))
        half_y = int(FIELD_MM / 2 / image.GetSpacing()[1])
        half_x = int(FIELD_MM / 2 / image.GetSpacing()[0])
        window = (slice(max(y - half_y, 0), y + half_y), slice(max(x - half_x, 0), x + half_x))
        ct = sitk.GetArrayFromImage(image)[z][window]
        label = f"{Path(data).name}/{name}\n{info.get('kind')}, {diameter:.0f} mm, {info.get('zone')} zone"
        for ax, (title, overlay) in zip(row, ((label, None), ("card's networks", card),
                                              ("magnified look (x1.5)", zoom))):
            ax.imshow(ct, cmap="gray", vmin=-1000, vmax=300)
            if overlay is not None:
                shown = np.ma.masked_less(overlay[z][window], 0.05)
                ax.imshow(shown, cmap="inferno", vmin=0, vmax=1, alpha=0.65)
                if (overlay[z][window] >= THRESHOLD).any():
                    ax.contour(overlay[z][window] >= THRESHOLD, levels=[0.5], colors="cyan", linewidths=0.8)
                title += f"\npeak in the tumour {overlay[inside].max():.2f}"
            ax.contour(inside[z][window], levels=[0.5], colors="lime", linewidths=0.8)
            ax.set_title(title, fontsize=8)
            ax.axis("off")
    fig.suptitle("Tumours the networks miss at their own scale, answered magnified\n(truth green, map >= 0.45 cyan; "
                 "synthetic phantoms, not clinical accuracy)", fontsize=9)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    print("wrote", out)


if __name__ == "__main__":
    main()
