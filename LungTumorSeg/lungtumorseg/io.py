"""Image input/output with SimpleITK.

Reads NIfTI, NRRD, MHA (any single file SimpleITK reads) and DICOM series folders, keeping
origin, spacing and direction exactly. Writes are atomic (temporary file in the same folder
then rename) so an interrupted run never leaves a half-written output behind.

A DICOM folder holding several series gives its largest (most files); which one was read is
logged (INFO) on this module's logger, and a series whose Modality tag says it is not CT is
logged as a WARNING but still read. The command line prints both on stderr; a library caller
sees them through :mod:`logging` (the Slicer module its own way), so the core stays UI-free.
"""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path

import SimpleITK as sitk

from .errors import InputImageError

_MIN_VOXELS_PER_AXIS = 2
_MODALITY_TAG = "0008|0060"
_SERIES_DESCRIPTION_TAG = "0008|103e"

log = logging.getLogger(__name__)


def _series_files(folder: Path) -> dict[str, tuple[str, ...]]:
    """Each DICOM series of ``folder`` (GDCM's series ID) -> its files, sorted by slice position."""
    return {sid: tuple(sitk.ImageSeriesReader.GetGDCMSeriesFileNames(str(folder), sid))
            for sid in sitk.ImageSeriesReader.GetGDCMSeriesIDs(str(folder))}


def _header_tag(file: str, tag: str) -> str | None:
    """A tag of one DICOM file's header (stripped), or None when the file does not have it."""
    reader = sitk.ImageFileReader()
    reader.SetFileName(file)
    reader.ReadImageInformation()
    return reader.GetMetaData(tag).strip() if reader.HasMetaDataKey(tag) else None


def _series_name(sid: str, files: tuple[str, ...]) -> str:
    """How a series is named to the user: its description and UID, and its number of files."""
    description = _header_tag(files[0], _SERIES_DESCRIPTION_TAG)
    named = f'"{description}" ' if description else ""
    return f"{named}(series UID {sid or 'not set'}, {len(files)} files)"


def _report_choice(folder: Path, series: dict[str, tuple[str, ...]], chosen: str) -> None:
    """Log which series of a multi-series folder is read, and the ones that are not, so a user
    whose CT is not the largest series knows to give a folder holding only that series."""
    others = "; ".join(_series_name(sid, files) for sid, files in series.items() if sid != chosen)
    log.info("%s holds %d DICOM series; reading the largest: %s; not read: %s. To read another, "
             "give a folder holding only that series.",
             folder, len(series), _series_name(chosen, series[chosen]), others)


def _check_modality(folder: Path, files: tuple[str, ...]) -> None:
    """Warn, without refusing, when the series' Modality tag is present and is not CT: the
    networks expect CT intensities in Hounsfield units (an absent tag says nothing)."""
    modality = _header_tag(files[0], _MODALITY_TAG)
    if modality and modality.upper() != "CT":
        log.warning("%s: the DICOM series read has Modality %s, not CT; the networks expect CT in Hounsfield "
                    "units, so the result may be meaningless.", folder, modality)


def _read_dicom_series(folder: Path) -> sitk.Image:
    """Read the largest DICOM series in ``folder`` (sorted by slice position by GDCM); which one
    is read, when there are several, and a modality other than CT are logged."""
    series = _series_files(folder)
    if not series:
        raise InputImageError(
            f"{folder} is a folder without a DICOM series; give a folder of DICOM slices "
            "or a NIfTI/NRRD/MHA file."
        )
    best = max(series, key=lambda sid: len(series[sid]))
    if len(series) > 1:
        _report_choice(folder, series, best)
    _check_modality(folder, series[best])
    reader = sitk.ImageSeriesReader()
    reader.SetFileNames(series[best])
    return reader.Execute()


def read_image(path: str | os.PathLike) -> sitk.Image:
    """Read a 3D CT image from a file or a DICOM series folder.

    The returned image keeps the file's geometry; nothing on disk is touched. Raises
    :class:`InputImageError` with a readable reason when the path is missing, unreadable,
    not 3D, multi-component or degenerate. Of a DICOM folder the largest series is read; see
    the module doc for what is logged about it.
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
