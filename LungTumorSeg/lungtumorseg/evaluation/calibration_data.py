"""The cases an operating point is chosen on, and their lesion candidates.

Calibration cases must be cases the weights were not trained on: a package's validation
split, or phantom folders generated with seeds the training folder does not use (checked
from each case's ``meta/<case>.json``). Held-out benchmark phantoms must never be passed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Callable, Optional, Sequence

import SimpleITK as sitk

from ..errors import DatasetError
from ..io import read_image
from ..models.package import ModelPackage
from ..outline import OutlineGrowth
from ..training.dataset import CasePaths, discover_cases
from .calibration import zone_of_centroids
from .candidates import CaseCandidates, case_candidates
from .probability_cache import cached_probability


def phantom_seed(case: CasePaths) -> Optional[int]:
    """The phantom seed of a case from its ``meta/<case>.json`` (None when absent)."""
    meta = case.image.parent.parent / "meta" / f"{case.name}.json"
    return json.loads(meta.read_text(encoding="utf-8")).get("seed") if meta.is_file() else None


def validation_cases(package: ModelPackage, training: Path) -> list[CasePaths]:
    """The cases of ``training`` the card lists as its validation split."""
    names = set(package.card.raw["training"]["validation_cases"])
    return [c for c in discover_cases(training) if c.name in names]


def calibration_phantoms(training: Path, folders: Sequence[Path]) -> tuple[list[CasePaths], str]:
    """Every case of the phantom ``folders``, after checking that each has a seed and that no
    seed is one of ``training``'s; with a description for the record ("80 phantoms ...")."""
    training_seeds = {s for s in map(phantom_seed, discover_cases(training)) if s is not None}
    cases = [c for folder in folders for c in discover_cases(folder)]
    if not cases:
        raise DatasetError(f"no calibration cases in {', '.join(map(str, folders))}")
    seeds = [phantom_seed(c) for c in cases]
    if None in seeds:
        raise DatasetError("every calibration case needs meta/<case>.json with its seed (written by "
                           "`lungtumorseg phantom`)")
    shared = sorted(training_seeds & set(seeds))
    if shared:
        raise DatasetError(f"calibration phantoms share seeds with the training data: {shared[:5]}")
    return cases, f"{len(cases)} phantoms not used in training (seeds {min(seeds)}-{max(seeds)})"


def case_caches(cases: Sequence[CasePaths], folders: Sequence[Path], caches: Sequence[Path]) -> list[Optional[Path]]:
    """The probability-map cache of each of ``cases`` (every case of ``folders``, in order): one
    cache for all, or one per folder. Maps are cached by case name and folders may share
    names (``lung_000`` …), so one cache for several folders is refused when names repeat:
    the second folder would silently read the first one's maps."""
    if len(caches) <= 1:
        names = [c.name for c in cases]
        if caches and len(set(names)) < len(names):
            raise DatasetError("the data folders share case names: give one cache per folder")
        return [caches[0] if caches else None] * len(cases)
    if len(caches) != len(folders):
        raise DatasetError(f"{len(caches)} caches for {len(folders)} data folders: give one, or one per folder")
    out = [cache for folder, cache in zip(folders, caches) for _ in discover_cases(folder)]
    if len(out) != len(cases):
        raise ValueError("the cases are not those of the folders")
    return out


def load_candidates(
    cases: Sequence[CasePaths], caches: Sequence[Optional[Path]], package: ModelPackage, key: str,
    thresholds: Sequence[float], threads: int = 2, progress: Callable[[str], None] = lambda _: None,
    growth: Optional[OutlineGrowth] = None,
) -> list[CaseCandidates]:
    """Each case's lesion candidates at ``thresholds`` (with CT density and zones, and grown
    outlines with ``growth``), from its probability map (``caches[i]``, filled by the pipeline
    when missing; cases of different folders may share names, so each case names its own
    cache)."""
    if len(caches) != len(cases):
        raise ValueError(f"{len(cases)} cases but {len(caches)} caches")
    out = []
    for case, cache in zip(cases, caches):
        image = read_image(case.image)
        truth = sitk.GetArrayFromImage(read_image(case.label)) > 0
        prob, lung_z = cached_probability(case, package, threads, cache, key)
        out.append(case_candidates(prob, truth, image.GetSpacing(), thresholds, hu=sitk.GetArrayFromImage(image),
                                   zone_of_centroids=zone_of_centroids(image, lung_z), growth=growth))
        progress(case.name)
    return out

