"""Find image/label pairs in a Medical Segmentation Decathlon folder or a plain folder pair.

MSD Task06 Lung layout: ``dataset.json`` with a ``training`` list of
``{"image": "./imagesTr/lung_001.nii.gz", "label": "./labelsTr/lung_001.nii.gz"}``, plus
``imagesTr/``, ``labelsTr/``, ``imagesTs/``. Without ``dataset.json``, ``imagesTr``/``labelsTr``
(or ``images``/``labels``) are paired by file name. Files starting with ``._`` (macOS
resource forks, present in the official Task06 archive) are ignored.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import DatasetError

IMAGE_SUFFIXES = (".nii.gz", ".nii", ".nrrd", ".mha", ".mhd")


@dataclass(frozen=True)
class CasePaths:
    """One labelled case."""

    name: str
    image: Path
    label: Path


def _case_name(path: Path) -> str:
    name = path.name
    for suffix in IMAGE_SUFFIXES:
        if name.endswith(suffix):
            name = name[: -len(suffix)]
            break
    return name[:-5] if name.endswith("_0000") else name


def _images_in(folder: Path) -> list[Path]:
    return sorted(
        p for p in folder.iterdir()
        if p.is_file() and not p.name.startswith(".") and p.name.endswith(IMAGE_SUFFIXES)
    )


def discover_cases(root: str | Path) -> list[CasePaths]:
    """All labelled cases under ``root`` (MSD layout or image/label folder pair)."""
    folder = Path(root)
    if not folder.is_dir():
        raise DatasetError(f"data folder {folder} does not exist.")
    manifest = folder / "dataset.json"
    cases: list[CasePaths] = []
    if manifest.is_file():
        try:
            entries = json.loads(manifest.read_text(encoding="utf-8")).get("training", [])
        except json.JSONDecodeError as exc:
            raise DatasetError(f"{manifest} is not valid JSON: {exc}") from exc
        for entry in entries:
            image, label = folder / entry["image"], folder / entry["label"]
            if image.name.startswith("._"):
                continue
            if not image.is_file() or not label.is_file():
                raise DatasetError(f"{manifest} lists {image.name} but the image or its label is missing.")
            cases.append(CasePaths(_case_name(image), image, label))
    else:
        for images_dir, labels_dir in (("imagesTr", "labelsTr"), ("images", "labels")):
            if (folder / images_dir).is_dir() and (folder / labels_dir).is_dir():
                labels = {_case_name(p): p for p in _images_in(folder / labels_dir)}
                for image in _images_in(folder / images_dir):
                    name = _case_name(image)
                    if name in labels:
                        cases.append(CasePaths(name, image, labels[name]))
                break
    if not cases:
        raise DatasetError(
            f"no labelled cases in {folder}: expected dataset.json + imagesTr/labelsTr "
            "(Medical Segmentation Decathlon layout) or images/ and labels/ folders."
        )
    return cases


def split_cases(
    cases: list[CasePaths], val_fraction: float = 0.2, seed: int = 0, fold: int | None = None, folds: int = 5
) -> tuple[list[CasePaths], list[CasePaths]]:
    """Deterministic train/validation split (seeded shuffle) or k-fold when ``fold`` is set."""
    order = np.random.default_rng(seed).permutation(len(cases))
    shuffled = [cases[i] for i in order]
    if fold is not None:
        if not 0 <= fold < folds:
            raise DatasetError(f"--fold must be between 0 and {folds - 1}")
        val = shuffled[fold::folds]
    else:
        n_val = max(1, int(round(len(cases) * val_fraction))) if len(cases) > 1 else 0
        val = shuffled[:n_val]
    val_names = {c.name for c in val}
    train = [c for c in shuffled if c.name not in val_names]
    return train, val
