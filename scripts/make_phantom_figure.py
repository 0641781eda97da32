"""Render sample slices of synthetic phantoms to Resources/Screenshots/phantom_samples.png.

For a few seeds, show an axial slice through the largest tumour (or mid-lung) and a
coronal slice, in lung window (W 1500 / L -600), with the ground-truth tumour outlined
in colour and the lung mask outlined faintly. Images are shown in radiological display
convention (patient right on screen left, anterior up; superior up in coronal views),
whatever the stored direction, by resampling onto an LPS grid first.

Usage: PYTHONPATH=LungTumorSeg python scripts/make_phantom_figure.py [--size small|full]
       [--seeds 0 1 2 3] [--out Resources/Screenshots/phantom_samples.png]
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

from lungtumorseg.phantoms import PhantomConfig, make_phantom  # noqa: E402


def to_lps(img: sitk.Image, nearest: bool) -> sitk.Image:
    """Resample to an identity-direction grid covering the image (exact for flips)."""
    return sitk.DICOMOrient(img, "LPS") if np.allclose(np.abs(img.GetDirection()), np.abs(np.eye(3)).ravel()) \
        else _resample(img, nearest)


def _resample(img: sitk.Image, nearest: bool) -> sitk.Image:
    d = np.array(img.GetDirection()).reshape(3, 3)
    sz = np.array(img.GetSize())
    sp = np.array(img.GetSpacing())
    corners = np.array([[a, b, c] for a in (0, sz[0] - 1) for b in (0, sz[1] - 1) for c in (0, sz[2] - 1)])
    pts = np.array([img.TransformContinuousIndexToPhysicalPoint(c.tolist()) for c in corners.astype(float)])
    lo, hi = pts.min(0), pts.max(0)
    nsp = np.array([sp[0], sp[1], sp[2]])
    nsz = np.ceil((hi - lo) / nsp).astype(int) + 1
    ref = sitk.Image([int(v) for v in nsz], img.GetPixelID())
    ref.SetSpacing(nsp.tolist())
    ref.SetOrigin(lo.tolist())
    interp = sitk.sitkNearestNeighbor if nearest else sitk.sitkLinear
    return sitk.Resample(img, ref, sitk.Transform(), interp, -1024 if not nearest else 0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--size", default="small", choices=["small", "full"])
    ap.add_argument("--seeds", type=int, nargs="+", default=[3, 5, 11, 18])
    ap.add_argument("--out", default=str(ROOT / "Resources" / "Screenshots" / "phantom_samples.png"))
    args = ap.parse_args()
    n = len(args.seeds)
    fig, axes = plt.subplots(2, n, figsize=(4.2 * n, 8.6), facecolor="black")
    axes = np.atleast_2d(axes).reshape(2, n)
    for col, seed in enumerate(args.seeds):
        case = make_phantom(seed, PhantomConfig(size=args.size))
        img = sitk.GetArrayFromImage(to_lps(case.image, False)).astype(np.float32)
        lab = sitk.GetArrayFromImage(to_lps(case.label, True))
        lung = sitk.GetArrayFromImage(to_lps(case.lungs, True))
        ref = to_lps(case.image, False)
        sp = ref.GetSpacing()
        if case.meta["tumours"]:
            big = max(case.meta["tumours"], key=lambda t: t["volume_mm3"])
            i, j, k = ref.TransformPhysicalPointToIndex(big["centre_lps_mm"])
        else:
            zz = np.nonzero(lung.any((1, 2)))[0]
            k = int(zz.mean()) if zz.size else img.shape[0] // 2
            j, i = img.shape[1] // 2, img.shape[2] // 2
        ax = axes[0, col]
        ax.imshow(img[k], cmap="gray", vmin=-1350, vmax=150, aspect=sp[1] / sp[0])
        ax.contour(lung[k] > 0, levels=[0.5], colors="deepskyblue", linewidths=0.4, alpha=0.5)
        if lab[k].any():
            ax.contour(lab[k], levels=[0.5], colors="red", linewidths=0.9)
        m = case.meta
        ax.set_title(f"seed {seed}: axial, {m['orientation']}, {m['spacing'][0]:.2f}x{m['spacing'][2]:.1f} mm\n"
                     f"{m['n_tumours']} tumour(s), noise {m['scanner']['noise_sigma_hu']:.0f} HU, "
                     f"{'contrast' if m['patient']['contrast'] else 'plain'}", color="w", fontsize=8)
        ax = axes[1, col]
        cor = img[:, j, :][::-1]
        ax.imshow(cor, cmap="gray", vmin=-1350, vmax=150, aspect=sp[2] / sp[0])
        ax.contour(lung[:, j, :][::-1] > 0, levels=[0.5], colors="deepskyblue", linewidths=0.4, alpha=0.5)
        if lab[:, j, :].any():
            ax.contour(lab[:, j, :][::-1], levels=[0.5], colors="red", linewidths=0.9)
        ax.set_title("coronal (tumour outlined red, lungs blue)", color="w", fontsize=8)
        for a in axes[:, col]:
            a.set_xticks([])
            a.set_yticks([])
    fig.tight_layout()
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out, dpi=110, facecolor="black")
    print(args.out)


if __name__ == "__main__":
    main()
