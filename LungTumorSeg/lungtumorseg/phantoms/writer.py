"""Output: one case as NIfTI + JSON, or a Medical Segmentation Decathlon (Task06 Lung)
style dataset folder that MONAI's ``DecathlonDataset``/``load_decathlon_datalist`` read."""

from __future__ import annotations

import json
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


def write_msd_dataset(outdir: Path, n_cases: int, seed: int, config: PhantomConfig | None = None,
                      progress: Callable[[int, int], None] | None = None) -> Path:
    """Write ``n_cases`` phantoms (seeds ``seed + i``) in MSD Task06 layout; returns dataset.json."""
    outdir = Path(outdir)
    for sub in ("imagesTr", "labelsTr", "meta"):
        (outdir / sub).mkdir(parents=True, exist_ok=True)
    training = []
    for i in range(n_cases):
        case = make_phantom(seed + i, config)
        name = f"lung_{i:03d}"
        sitk.WriteImage(case.image, str(outdir / "imagesTr" / f"{name}.nii.gz"), True)
        sitk.WriteImage(case.label, str(outdir / "labelsTr" / f"{name}.nii.gz"), True)
        (outdir / "meta" / f"{name}.json").write_text(json.dumps(case.meta, indent=1))
        training.append({"image": f"./imagesTr/{name}.nii.gz", "label": f"./labelsTr/{name}.nii.gz"})
        if progress is not None:
            progress(i + 1, n_cases)
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
        "config": (config or PhantomConfig()).to_dict(),
    }
    path = outdir / "dataset.json"
    path.write_text(json.dumps(ds, indent=1))
    return path
