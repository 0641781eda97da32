"""Candidates of the zoomed maps and their classifier patches (for training and scoring a
classifier of the magnified look's candidates).

For each case with a kept zoomed map (``zoom_probe.py``): every component (face
connectivity) of the zoomed map at THRESHOLD of at least MIN_MM3, its patch cut by the
product's own ``candidate_check.candidate_patches`` with the zoomed map as the probability
channel (so training and the pipeline see identical patches), whether it touches a truth
tumour, and whether it is *magnified-only* (touches no component of the card's own map at
THRESHOLD, read from the card's cache; False when the cache has no map). Written as one npz per
case in the layout of ``../candidate_classifier_experiment/classifier.py`` (``patches``,
``touched``, ``card_keeps``) plus ``magnified_only``.

Usage: magnified_candidates.py MAPS OUT DATA:CACHE [DATA:CACHE ...]
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import SimpleITK as sitk

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[2] / "LungTumorSeg"))

from lungtumorseg.candidate_check import candidate_patches  # noqa: E402
from lungtumorseg.evaluation.probability_cache import cache_key  # noqa: E402
from lungtumorseg.io import read_image  # noqa: E402
from lungtumorseg.magnify import magnified_only_candidates  # noqa: E402
from base_package import base_package  # noqa: E402  (0.10.0: the package without a look)
from lungtumorseg.training.dataset import discover_cases  # noqa: E402

THRESHOLD = 0.45
MIN_MM3 = 30.0


def main() -> None:
    maps, out = Path(sys.argv[1]), Path(sys.argv[2])
    out.mkdir(parents=True, exist_ok=True)
    package = base_package()
    key = cache_key(package, list(package.card.mirror_axes))
    for pair in sys.argv[3:]:
        data, cache = (Path(p) for p in pair.split(":"))
        for case in discover_cases(data):
            kept = maps / f"{data.name}-{case.name}.npy"
            target = out / f"{data.name}-{case.name}.npz"
            if not kept.is_file() or target.is_file():
                continue
            ct = read_image(case.image)
            truth = sitk.GetArrayFromImage(read_image(case.label)) > 0
            zoom = np.load(kept).astype(np.float32)
            voxels = int(np.ceil(MIN_MM3 / float(np.prod(ct.GetSpacing()))))
            everything = magnified_only_candidates(zoom, np.zeros_like(zoom), THRESHOLD, voxels)
            card_map = cache / f"{case.name}-{key}.npy"
            normal = np.load(card_map).astype(np.float32) if card_map.is_file() else None
            only = (magnified_only_candidates(zoom, normal, THRESHOLD, voxels) > 0 if normal is not None
                    else np.zeros_like(truth))
            labels = sitk.GetImageFromArray(everything.astype(np.uint32))
            labels.CopyInformation(ct)
            channel = sitk.GetImageFromArray(zoom)
            channel.CopyInformation(ct)
            present, patches = candidate_patches(labels, ct, channel)
            touched = np.array([[truth[everything == v].any()] for v in present], bool).reshape(-1, 1)
            magnified_only = np.array([only[everything == v].any() for v in present], bool)
            np.savez_compressed(target, patches=patches.astype(np.float16), touched=touched,
                                card_keeps=np.arange(len(present)), magnified_only=magnified_only)
            print(f"{data.name}/{case.name}: {len(present)} candidates, {int(touched.sum())} true, "
                  f"{int(magnified_only.sum())} magnified-only ({int((touched[:, 0] & magnified_only).sum())} true)",
                  flush=True)


if __name__ == "__main__":
    main()
