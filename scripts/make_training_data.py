"""Write a phantom training set in MSD Task06 layout, in parallel.

Seeds ``seed .. seed+N-1``; every ``--full-every``-th case is a full-size (512² matrix)
phantom, the rest "small" (faster; the model resamples to 1.5 mm anyway).
Used to make the demo package's training data (see README: Reproducing the demo model).
"""

from __future__ import annotations

import argparse
import json
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import SimpleITK as sitk

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "LungTumorSeg"))
from lungtumorseg.phantoms import PhantomConfig, make_phantom  # noqa: E402


def _one(args: tuple[Path, int, int, str]) -> dict:
    out, index, seed, size = args
    name = f"lung_{index:03d}"
    case = make_phantom(seed, PhantomConfig(size=size))
    sitk.WriteImage(case.image, str(out / "imagesTr" / f"{name}.nii.gz"), True)
    sitk.WriteImage(case.label, str(out / "labelsTr" / f"{name}.nii.gz"), True)
    (out / "meta" / f"{name}.json").write_text(json.dumps(case.meta, indent=1))
    return {"image": f"./imagesTr/{name}.nii.gz", "label": f"./labelsTr/{name}.nii.gz"}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("outdir", type=Path)
    parser.add_argument("--cases", type=int, default=60)
    parser.add_argument("--seed", type=int, default=100)
    parser.add_argument("--full-every", type=int, default=4)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    for sub in ("imagesTr", "labelsTr", "meta"):
        (args.outdir / sub).mkdir(parents=True, exist_ok=True)
    jobs = [
        (args.outdir, i, args.seed + i, "full" if args.full_every and i % args.full_every == args.full_every - 1 else "small")
        for i in range(args.cases)
    ]
    training = []
    with ProcessPoolExecutor(args.workers) as pool:
        for i, entry in enumerate(pool.map(_one, jobs), start=1):
            training.append(entry)
            print(f"phantom {i}/{args.cases}", flush=True)
    manifest = {
        "name": "LungTumorSegPhantomTraining",
        "description": "Synthetic thorax CT phantoms (lungtumorseg.phantoms) in MSD Task06 layout",
        "tensorImageSize": "3D",
        "modality": {"0": "CT"},
        "labels": {"0": "background", "1": "cancer"},
        "numTraining": len(training),
        "numTest": 0,
        "training": training,
        "test": [],
        "seeds": [j[2] for j in jobs],
        "sizes": [j[3] for j in jobs],
    }
    (args.outdir / "dataset.json").write_text(json.dumps(manifest, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
