"""The example chest CT shipped with the module (``Resources/SampleData``): where it is, what
it holds, and a checked way to get it.

It is a synthetic phantom (``lungtumorseg.phantoms``, seed 424242) with its truth mask and a
metadata file recording the phantom's settings, its tumours and the SHA-256 of both images.
The Slicer layer (sample data, self-test scenario) and ``lungtumorseg demo`` read it through
this module, so there is one place that knows the layout. No heavy imports: the Slicer module
registers the sample at start-up, before torch may be installed.
"""

from __future__ import annotations

import json
from pathlib import Path

from .errors import InputImageError
from .hashing import sha256_of

SAMPLE_NAME = "ChestCTPhantom"


def sample_dir() -> Path:
    """The module's sample data folder (``Resources/SampleData`` beside this package)."""
    return Path(__file__).resolve().parents[1] / "Resources" / "SampleData"


def sample_files() -> tuple[Path, Path, Path]:
    """(CT, truth label image, metadata JSON) of the example, unchecked."""
    folder = sample_dir()
    return (folder / f"{SAMPLE_NAME}.nii.gz", folder / f"{SAMPLE_NAME}_truth.nii.gz",
            folder / f"{SAMPLE_NAME}.json")


def sample_metadata() -> dict:
    """The example's metadata (phantom settings, tumours, SHA-256 of the files)."""
    return json.loads(sample_files()[2].read_text(encoding="utf-8"))


def verified_sample_files() -> tuple[Path, Path, dict]:
    """(CT, truth, metadata), each image checked against its recorded SHA-256; a missing or
    damaged file is an :class:`InputImageError` that says to reinstall."""
    ct, truth, meta_path = sample_files()
    if not meta_path.is_file():
        raise InputImageError(f"the example chest CT is missing ({meta_path}); reinstall LungTumorSeg.")
    meta = sample_metadata()
    for path in (ct, truth):
        if not path.is_file() or sha256_of(path) != meta["sha256"][path.name]:
            raise InputImageError(f"{path} is missing or damaged (its SHA-256 differs from {meta_path.name}); "
                                  "reinstall LungTumorSeg.")
    return ct, truth, meta
