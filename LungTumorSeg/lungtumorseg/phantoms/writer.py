"""Output: one case as NIfTI + JSON, or a Medical Segmentation Decathlon (Task06 Lung)
style dataset folder that MONAI's ``DecathlonDataset``/``load_decathlon_datalist`` read."""

from __future__ import annotations

import json
from dataclasses import replace
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Callable

import SimpleITK as sitk

from .config import PhantomConfig
from .engine import PhantomCase, make_phantom


def write_case(case: PhantomCase, outdir: Path, name: str) -> dict[str, Path]:
    """Write ``{name}.nii.gz`` (image), ``{name}_label.nii.gz`` and ``{name}.json``."""
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    paths = {"image": outdir / f"{name}.nii.gz", "label": outdir / f"{name}_label.nii.gz",
             "meta": outdir / f"{name}.json"}
    sitk.WriteImage(case.image, str(paths["image"]), True)
    sitk.WriteImage(case.label, str(paths["label"]), True)
    paths["meta"].write_text(json.dumps(case.meta, indent=1))
    return paths


def _write_msd_case(job: tuple[Path, int, int, str, PhantomConfig | None]) -> dict[str, str]:
    """Make and write case ``index`` of an MSD folder (a process-pool job)."""
    outdir, index, seed, size, config = job
    cfg = replace(config or PhantomConfig(), size=size)
    case = make_phantom(seed, cfg)
    name = f"lung_{index:03d}"
    sitk.WriteImage(case.image, str(outdir / "imagesTr" / f"{name}.nii.gz"), True)
    sitk.WriteImage(case.label, str(outdir / "labelsTr" / f"{name}.nii.gz"), True)
    (outdir / "meta" / f"{name}.json").write_text(json.dumps(case.meta, indent=1))
    return {"image": f"./imagesTr/{name}.nii.gz", "label": f"./labelsTr/{name}.nii.gz"}


def write_msd_dataset(outdir: Path, n_cases: int, seed: int, config: PhantomConfig | None = None,
                      progress: Callable[[int, int], None] | None = None, workers: int = 1,
                      full_every: int = 0) -> Path:
    """Write ``n_cases`` phantoms (seeds ``seed + i``) in MSD Task06 layout; returns dataset.json.

    ``workers`` > 1 makes cases in parallel processes (same output as sequential).
    ``full_every`` = k > 0 makes every k-th case full size and the others ``config.size``
    (a mix of clinical and fast cases for training).
    """
    outdir = Path(outdir)
    for sub in ("imagesTr", "labelsTr", "meta"):
        (outdir / sub).mkdir(parents=True, exist_ok=True)
    base = config or PhantomConfig()
    sizes = ["full" if full_every and i % full_every == full_every - 1 else base.size for i in range(n_cases)]
    jobs = [(outdir, i, seed + i, sizes[i], config) for i in range(n_cases)]
    training = []
    if workers > 1:
        with ProcessPoolExecutor(workers) as pool:
            results = pool.map(_write_msd_case, jobs)
            for i, entry in enumerate(results, start=1):
                training.append(entry)
                if progress is not None:
                    progress(i, n_cases)
    else:
        for i, job in enumerate(jobs, start=1):
            training.append(_write_msd_case(job))
            if progress is not None:
                progress(i, n_cases)
    ds = {
        "name": "LungTumorSegPhantom",
        "description": "Synthetic thorax CT with lung tumours (lungtumorseg.phantoms), "
                       "laid out like the Medical Segmentation Decathlon Task06_Lung",
        "reference": "LungTumorSeg synthetic phantom engine; layout after Antonelli et al., "
                     "The Medical Segmentation Decathlon, Nat Commun 2022",
        "licence": "CC-BY-SA 4.0",
        "release": "1.0",
        "tensorImageSize": "3D",
        "modality": {"0": "CT"},
        "labels": {"0": "background", "1": "cancer"},
        "numTraining": n_cases,
        "numTest": 0,
        "training": training,
        "test": [],
        "seed": int(seed),
        "seeds": [int(seed + i) for i in range(n_cases)],
        "sizes": sizes,
        "config": (config or PhantomConfig()).to_dict(),
    }
    path = outdir / "dataset.json"
    path.write_text(json.dumps(ds, indent=1))
    return path
