"""Registration of the shipped synthetic chest CT with Slicer's Sample Data module.

Runs inside Slicer only (it imports ``SampleData``); the file and its SHA-256 are the ones
the self-test scenario uses (:mod:`LungTumorSegLib.scenario`).
"""

from __future__ import annotations

from pathlib import Path

from .scenario import SAMPLE_DIR, SAMPLE_NAME, sample_metadata


def register(module_dir: Path) -> None:
    """Offer the example CT under the "LungTumorSeg" category (nothing when it is not shipped)."""
    import SampleData

    ct_name = f"{SAMPLE_NAME}.nii.gz"
    ct_path = SAMPLE_DIR / ct_name
    if not ct_path.exists():
        return
    SampleData.SampleDataLogic.registerCustomSampleDataSource(
        category="LungTumorSeg",
        sampleName=SAMPLE_NAME,
        thumbnailFileName=str(module_dir / "Resources" / "Icons" / "LungTumorSeg.png"),
        uris=ct_path.as_uri(),
        fileNames=ct_name,
        nodeNames=SAMPLE_NAME,
        checksums=f"SHA256:{sample_metadata()['sha256'][ct_name]}",
        loadFileType="VolumeFile",
    )
