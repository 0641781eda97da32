"""Image input/output with SimpleITK.

Reads NIfTI, NRRD, MHA (any single file SimpleITK reads) and DICOM series folders, keeping
origin, spacing and direction exactly. Writes are atomic (temporary file in the same folder
then rename) so an interrupted run never leaves a half-written output behind.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import SimpleITK as sitk

from .errors import InputImageError

_MIN_VOXELS_PER_AXIS = 2


def _read_dicom_series(folder: Path) -> sitk.Image:
    """Read the largest DICOM series in ``folder`` (sorted by slice position by GDCM)."""
    series_ids = sitk.ImageSeriesReader.GetGDCMSeriesIDs(str(folder))
    if not series_ids:
        raise InputImageError(
            f"{folder} is a folder without a DICOM series; give a folder of DICOM slices "
            "or a NIfTI/NRRD/MHA file."
        )
    best = max(
        series_ids,
        key=lambda sid: len(sitk.ImageSeriesReader.GetGDCMSeriesFileNames(str(folder), sid)),
    )
    files = sitk.ImageSeriesReader.GetGDCMSeriesFileNames(str(folder), best)
    reader = sitk.ImageSeriesReader()
    reader.SetFileNames(files)
    return reader.Execute()


def read_image(path: str | os.PathLike) -> sitk.Image:
    """Read a 3D CT image from a file or a DICOM series folder.

    The returned image keeps the file's geometry; nothing on disk is touched. Raises
    :class:`InputImageError` with a readable reason when the path is missing, unreadable,
    not 3D, multi-component or degenerate.
    """
    p = Path(path)
    if not p.exists():
        raise InputImageError(f"input {p} does not exist; check the path.")
    try:
        image = _read_dicom_series(p) if p.is_dir() else sitk.ReadImage(str(p))
    except InputImageError:
        raise
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else "unknown reason"
        raise InputImageError(
            f"cannot read {p} as an image ({first}); use NIfTI, NRRD, MHA or a DICOM folder."
        ) from exc
    if image.GetDimension() != 3:
        raise InputImageError(
            f"{p} is a {image.GetDimension()}D image; a 3D CT volume is needed."
        )
    if image.GetNumberOfComponentsPerPixel() != 1:
        raise InputImageError(
            f"{p} has {image.GetNumberOfComponentsPerPixel()} components per voxel (colour?); "
            "a single-channel CT in Hounsfield units is needed."
        )
    if min(image.GetSize()) < _MIN_VOXELS_PER_AXIS:
        raise InputImageError(f"{p} has size {image.GetSize()}: too small to be a CT volume.")
    return image


def same_grid(a: sitk.Image, b: sitk.Image) -> bool:
    """Whether two images share one voxel grid (size, spacing, origin, direction; file
    formats round the geometry slightly, hence the tolerances)."""
    return (a.GetSize() == b.GetSize()
            and all(abs(x - y) <= 1e-4 for x, y in zip(a.GetSpacing(), b.GetSpacing()))
            and all(abs(x - y) <= 1e-3 for x, y in zip(a.GetOrigin(), b.GetOrigin()))
            and all(abs(x - y) <= 1e-4 for x, y in zip(a.GetDirection(), b.GetDirection())))


def default_file_mode() -> int:
    """Permissions a newly created file would get (mkstemp makes 0600 files)."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def write_image(image: sitk.Image, path: str | os.PathLike, compress: bool = True) -> Path:
    """Write ``image`` to ``path`` atomically (temporary file, then rename)."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    suffix = "".join(out.suffixes) or ".nii.gz"
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=suffix, dir=out.parent)
    os.close(fd)
    try:
        sitk.WriteImage(image, tmp, compress)
        os.chmod(tmp, default_file_mode())
        os.replace(tmp, out)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return out


def write_text_atomic(text: str, path: str | os.PathLike) -> Path:
    """Write a text file atomically (used for JSON reports and model cards)."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=out.suffix, dir=out.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.chmod(tmp, default_file_mode())
        os.replace(tmp, out)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return out
