"""Cost of a training patch with a fresh tumour (``--fresh-tumours``) against an ordinary
tumour-centred patch of the same crops, in one run.

``lungtumorseg train --fresh-tumours RATIO`` draws a new tumour into a case's lungs each time
such a patch is sampled and recomputes the nodule-enhancement channel around it; this says
what that costs per patch on this machine, so a recipe can size its time budget. Crops: the
whole 1.5 mm canonical volumes of the demo's example phantom family (engine, lung finder,
channels as inference builds them; the first draw into a crop also computes its placement
maps, so twelve untimed draws come first). Prints seconds per patch for
both and their ratio; writes ``benchmarks/results/fresh_tumour_cost.json``.

    python benchmarks/fresh_tumour_cost.py [--patches 40] [--threads 1]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import SimpleITK as sitk

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "LungTumorSeg"))

from lungtumorseg.enhance import BlobFilter  # noqa: E402
from lungtumorseg.lungs import find_lungs  # noqa: E402
from lungtumorseg.phantoms import PhantomConfig, make_phantom  # noqa: E402
from lungtumorseg.preprocess import IntensityWindow, network_input, to_canonical  # noqa: E402
from lungtumorseg.training.fresh_tumours import FreshTumourDrawer  # noqa: E402
from lungtumorseg.training.insertion import SyntheticTumours  # noqa: E402
from lungtumorseg.training.prepare import ZoneCrop  # noqa: E402
from lungtumorseg.training.sampler import PatchSampler  # noqa: E402

SPACING = (1.5, 1.5, 1.5)
ROI = (48, 48, 48)


def crop_of(seed: int) -> ZoneCrop:
    """A small phantom's whole canonical volume as one training crop (CT, lungs, blob)."""
    case = make_phantom(seed, PhantomConfig(size="small"))
    canonical = to_canonical(case.image, SPACING)
    hu = sitk.GetArrayFromImage(canonical).astype(np.float32)
    lungs = find_lungs(hu, SPACING).mask > 0
    channels = network_input(hu, lungs, IntensityWindow(), True, BlobFilter(), SPACING)
    label = sitk.GetArrayFromImage(sitk.Resample(case.label, canonical, sitk.Transform(),
                                                 sitk.sitkNearestNeighbor, 0)) > 0
    return ZoneCrop(channels.astype(np.float16), label.astype(np.uint8), (0, hu.shape[0] - 1), False,
                    float(max(case.image.GetSpacing())))


def seconds_per_patch(sampler: PatchSampler, patches: int) -> float:
    start = time.perf_counter()
    for _ in range(patches):
        sampler.sample()
    return (time.perf_counter() - start) / patches


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--patches", type=int, default=40)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "fresh_tumour_cost.json")
    args = ap.parse_args()
    sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(args.threads)
    crops = [crop_of(seed) for seed in (1, 2, 3)]
    drawer = FreshTumourDrawer(SyntheticTumours(), IntensityWindow(), SPACING, BlobFilter())
    warm_up = np.random.default_rng(0)
    for _ in range(12):  # the first draw into a crop computes its placement maps; not timed
        drawer.patch(crops, ROI, warm_up)
    ordinary = PatchSampler(crops, ROI, 1.0, seed=1)
    fresh = PatchSampler(crops, ROI, 1.0, seed=1, fresh=drawer, fresh_ratio=0.999)
    baseline = seconds_per_patch(ordinary, args.patches)
    with_fresh = seconds_per_patch(fresh, args.patches)
    result = {"patches": args.patches, "threads": args.threads, "roi": list(ROI), "spacing_mm": list(SPACING),
              "crop_shapes": [list(c.image.shape) for c in crops],
              "ordinary_tumour_patch_s": round(baseline, 4), "fresh_tumour_patch_s": round(with_fresh, 4),
              "ratio": round(with_fresh / baseline, 1)}
    print(f"ordinary tumour-centred patch {baseline * 1000:.1f} ms, fresh-tumour patch {with_fresh * 1000:.0f} ms "
          f"({result['ratio']}x); per step of 2 patches at --fresh-tumours 0.3: "
          f"+{0.6 * (with_fresh - baseline):.2f} s")
    args.out.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
