"""Core I/O (lungtumorseg.io): reading NIfTI/NRRD/MHA/DICOM with geometry kept, input
errors, atomic writes.

Real data: ``shared/data/real/upper_abdomen_ct_dicom`` is a 20-slice DICOM series from the
TotalSegmentator test files (Wasserthal et al., "TotalSegmentator: robust segmentation of
104 anatomic structures in CT images", Radiology: Artificial Intelligence 2023; CC BY 4.0).
"""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk

from core_fixtures import real_data, rotation, sha256_tree
from lungtumorseg.errors import InputImageError
from lungtumorseg.io import read_image, write_image, write_text_atomic

OBLIQUE = rotation("x", 12.0) @ rotation("y", -9.0)
SERIES_UID = "1.2.826.0.1.3680043.2.1125.9.2"
SPACING = (0.73, 0.81, 2.5)
ORIGIN = (-123.25, 47.125, -812.5)


def _test_image(seed: int = 0) -> sitk.Image:
    rng = np.random.default_rng(seed)
    arr = rng.integers(-1024, 1500, size=(6, 9, 11)).astype(np.int16)
    img = sitk.GetImageFromArray(arr)
    img.SetSpacing(SPACING)
    img.SetOrigin(ORIGIN)
    img.SetDirection(OBLIQUE.flatten().tolist())
    return img


def _assert_same(read: sitk.Image, ref: sitk.Image, tol: float) -> None:
    assert read.GetSize() == ref.GetSize()
    np.testing.assert_allclose(read.GetSpacing(), ref.GetSpacing(), rtol=0, atol=tol)
    np.testing.assert_allclose(read.GetOrigin(), ref.GetOrigin(), rtol=0, atol=tol)
    np.testing.assert_allclose(read.GetDirection(), ref.GetDirection(), rtol=0, atol=tol)
    np.testing.assert_array_equal(sitk.GetArrayFromImage(read), sitk.GetArrayFromImage(ref))


# NIfTI stores geometry as float32 (and the rotation as a quaternion): exact to ~1e-7 mm.
@pytest.mark.parametrize("ext,tol", [("nii.gz", 1e-6), ("nii", 1e-6), ("nrrd", 1e-12), ("mha", 1e-12)])
def test_single_file_formats_keep_geometry_and_values(tmp_path, ext, tol):
    ref = _test_image()
    path = tmp_path / f"ct.{ext}"
    sitk.WriteImage(ref, str(path))
    before = sha256_tree(path)
    _assert_same(read_image(path), ref, tol)
    assert sha256_tree(path) == before, "reading must not touch the input file"


def write_dicom_series(image: sitk.Image, folder: Path, scramble: bool = True, series: str = SERIES_UID,
                       modality: str | None = "CT", description: str | None = None) -> None:
    """One file per slice with the tags a CT scanner writes (IPP, IOP, spacing, rescale), as
    series ``series`` (SeriesInstanceUID) of Modality ``modality`` (None: no Modality tag). The
    folder may already hold other series; the file names start with the series UID's last part."""
    folder.mkdir(parents=True, exist_ok=True)
    d = np.asarray(image.GetDirection()).reshape(3, 3)
    sx, sy, sz = image.GetSpacing()
    study = "1.2.826.0.1.3680043.2.1125.9.1"
    prefix = f"s{series.rsplit('.', 1)[-1]}_"
    writer = sitk.ImageFileWriter()
    writer.KeepOriginalImageUIDOn()
    n = image.GetSize()[2]
    for k in range(n):
        sl = image[:, :, k]
        ipp = image.TransformIndexToPhysicalPoint((0, 0, k))
        iop = (d[0, 0], d[1, 0], d[2, 0], d[0, 1], d[1, 1], d[2, 1])
        tags = {
            "0008|0016": "1.2.840.10008.5.1.4.1.1.2",
            "0008|0018": f"{series}.{k + 1}",
            "0020|000d": study,
            "0020|000e": series,
            "0020|0013": str(k + 1),
            "0020|0032": "\\".join(f"{v:.10g}" for v in ipp),
            "0020|0037": "\\".join(f"{v:.10g}" for v in iop),
            "0028|0030": f"{sy:.10g}\\{sx:.10g}",  # row spacing \ column spacing
            "0018|0050": f"{sz:.10g}",
            "0028|1052": "-1024",
            "0028|1053": "1",
        }
        if modality is not None:
            tags["0008|0060"] = modality
        if description is not None:
            tags["0008|103e"] = description
        for key, value in tags.items():
            sl.SetMetaData(key, value)
        # File names deliberately not in slice order: the reader must sort by position.
        name = prefix + (f"im{(5 * k + 3) % n:04d}.dcm" if scramble else f"im{k:04d}.dcm")
        writer.SetFileName(str(folder / name))
        writer.Execute(sl)


def test_own_dicom_series_keeps_geometry_and_hu(tmp_path):
    ref = _test_image(1)
    folder = tmp_path / "series"
    write_dicom_series(ref, folder)
    before = sha256_tree(folder)
    # DICOM text fields carry 10 significant digits here.
    _assert_same(read_image(folder), ref, 1e-6)
    assert sha256_tree(folder) == before


def test_real_dicom_series_geometry_matches_its_tags():
    folder = real_data("upper_abdomen_ct_dicom")
    before = sha256_tree(folder)
    image = read_image(folder)

    # Geometry from the tags of every file, read independently.
    slices = []
    reader = sitk.ImageFileReader()
    for f in sorted(p for p in folder.iterdir() if p.is_file()):
        reader.SetFileName(str(f))
        reader.ReadImageInformation()
        ipp = np.array([float(v) for v in reader.GetMetaData("0020|0032").split("\\")])
        iop = np.array([float(v) for v in reader.GetMetaData("0020|0037").split("\\")])
        row_mm, col_mm = (float(v) for v in reader.GetMetaData("0028|0030").split("\\"))
        slices.append((f, ipp, iop, row_mm, col_mm))
    iop = slices[0][2]
    normal = np.cross(iop[:3], iop[3:])
    slices.sort(key=lambda s: float(s[1] @ normal))
    positions = np.array([s[1] for s in slices])
    steps = np.diff(positions @ normal)

    assert image.GetSize()[2] == len(slices) == 20
    np.testing.assert_allclose(image.GetOrigin(), positions[0], atol=1e-4)
    np.testing.assert_allclose(image.GetSpacing()[:2], (slices[0][4], slices[0][3]), atol=1e-6)
    np.testing.assert_allclose(image.GetSpacing()[2], steps.mean(), atol=1e-4)
    direction = np.asarray(image.GetDirection()).reshape(3, 3)
    np.testing.assert_allclose(direction[:, 0], iop[:3], atol=1e-6)
    np.testing.assert_allclose(direction[:, 1], iop[3:], atol=1e-6)
    np.testing.assert_allclose(direction[:, 2], normal, atol=1e-6)

    # Voxel values: the slice at sorted position k is the k-th file's pixels in HU.
    arr = sitk.GetArrayFromImage(image)
    for k in (0, 19):
        one = sitk.GetArrayFromImage(sitk.ReadImage(str(slices[k][0])))
        np.testing.assert_array_equal(arr[k], one.reshape(arr.shape[1:]))
    assert arr.min() < -900 and arr.max() > 200, "rescale to HU must be applied (air and bone)"
    assert sha256_tree(folder) == before, "reading must not touch the DICOM files"


# ----------------------------------------------------------------------------- DICOM folders: which series, which modality
IO_LOGGER = "lungtumorseg.io"


def _records(caplog, level: int) -> list[str]:
    """The messages lungtumorseg.io logged at exactly ``level``."""
    return [r.getMessage() for r in caplog.records if r.name == IO_LOGGER and r.levelno == level]


def _small_series(slices: int) -> sitk.Image:
    """A small synthetic volume of ``slices`` axial slices (air and soft tissue)."""
    arr = np.random.default_rng(slices).integers(-1000, 100, size=(slices, 8, 10)).astype(np.int16)
    img = sitk.GetImageFromArray(arr)
    img.SetSpacing((1.5, 1.5, 3.0))
    return img


def test_folder_with_two_series_reads_the_largest_and_says_which(tmp_path, caplog):
    # the real 20-slice CT (TotalSegmentator test files, Wasserthal et al. 2023, CC BY 4.0: see
    # the module doc) beside a 6-slice MR scout, as an export of a whole study can be
    folder = tmp_path / "study"
    shutil.copytree(real_data("upper_abdomen_ct_dicom"), folder)
    write_dicom_series(_small_series(6), folder, series="1.2.826.0.1.3680043.2.1125.9.6", modality="MR",
                       description="t1 scout")
    caplog.set_level(logging.INFO, logger=IO_LOGGER)

    image = read_image(folder)

    alone = read_image(real_data("upper_abdomen_ct_dicom"))
    _assert_same(image, alone, 0.0)
    [note] = _records(caplog, logging.INFO)
    read_part, not_read = note.split("not read:")
    assert "2 DICOM series" in read_part and "largest" in read_part
    assert '"CT Body 3.0"' in read_part and "20 files" in read_part
    assert '"t1 scout"' in not_read and "1.2.826.0.1.3680043.2.1125.9.6" in not_read and "6 files" in not_read
    assert str(folder) in note and "\n" not in note
    assert _records(caplog, logging.WARNING) == [], "the series read is CT: nothing to warn about"


def test_largest_series_is_read_even_when_it_is_not_ct_but_with_a_warning(tmp_path, caplog):
    folder = tmp_path / "study"
    shutil.copytree(real_data("upper_abdomen_ct_dicom"), folder)
    ref = _small_series(24)
    write_dicom_series(ref, folder, series="1.2.826.0.1.3680043.2.1125.9.24", modality="MR")
    caplog.set_level(logging.INFO, logger=IO_LOGGER)

    image = read_image(folder)

    _assert_same(image, ref, 1e-6)
    [note] = _records(caplog, logging.INFO)
    assert "1.2.826.0.1.3680043.2.1125.9.24, 24 files" in note.split("not read:")[0]
    assert '"CT Body 3.0"' in note.split("not read:")[1]
    [warning] = _records(caplog, logging.WARNING)
    assert "Modality MR, not CT" in warning and str(folder) in warning


@pytest.mark.parametrize("modality", ["PT", "MR"])
def test_single_non_ct_series_warns_but_is_read(tmp_path, caplog, modality):
    ref = _test_image(3)
    write_dicom_series(ref, tmp_path / "series", modality=modality)
    caplog.set_level(logging.INFO, logger=IO_LOGGER)
    _assert_same(read_image(tmp_path / "series"), ref, 1e-6)
    [warning] = _records(caplog, logging.WARNING)
    assert f"Modality {modality}, not CT" in warning
    assert _records(caplog, logging.INFO) == [], "one series: no choice to report"


@pytest.mark.parametrize("modality", ["CT", None])
def test_single_ct_series_or_one_without_modality_reads_silently(tmp_path, caplog, modality):
    ref = _test_image(4)
    write_dicom_series(ref, tmp_path / "series", modality=modality)
    caplog.set_level(logging.DEBUG, logger=IO_LOGGER)
    _assert_same(read_image(tmp_path / "series"), ref, 1e-6)
    assert [r for r in caplog.records if r.name == IO_LOGGER] == []


# ----------------------------------------------------------------------------- errors
def test_missing_path(tmp_path):
    with pytest.raises(InputImageError, match="does not exist") as exc:
        read_image(tmp_path / "nope.nii.gz")
    assert "nope.nii.gz" in str(exc.value)


def test_2d_image(tmp_path):
    path = tmp_path / "xray.nrrd"
    sitk.WriteImage(sitk.Image(16, 16, sitk.sitkInt16), str(path))
    with pytest.raises(InputImageError, match="2D") as exc:
        read_image(path)
    assert "xray.nrrd" in str(exc.value) and "3D" in str(exc.value)


def test_rgb_image(tmp_path):
    path = tmp_path / "colour.nrrd"
    sitk.WriteImage(sitk.Image([8, 8, 8], sitk.sitkVectorUInt8, 3), str(path))
    with pytest.raises(InputImageError, match="3 components") as exc:
        read_image(path)
    assert "colour.nrrd" in str(exc.value)


def test_single_slice_is_too_small(tmp_path):
    path = tmp_path / "one_slice.nrrd"
    sitk.WriteImage(sitk.Image([32, 32, 1], sitk.sitkInt16), str(path))
    with pytest.raises(InputImageError, match="too small"):
        read_image(path)


def test_folder_without_dicom(tmp_path):
    folder = tmp_path / "holiday_photos"
    folder.mkdir()
    (folder / "notes.txt").write_text("not a DICOM file\n")
    with pytest.raises(InputImageError, match="without a DICOM series") as exc:
        read_image(folder)
    assert "holiday_photos" in str(exc.value)


def test_not_an_image(tmp_path):
    path = tmp_path / "report.nii.gz"
    path.write_text("this is text, not an image\n")
    with pytest.raises(InputImageError, match="cannot read") as exc:
        read_image(path)
    assert "report.nii.gz" in str(exc.value)
    assert "\n" not in str(exc.value), "the message must fit on one line"


# ----------------------------------------------------------------------------- atomic writes
def test_write_image_round_trip_leaves_no_temp_files(tmp_path):
    ref = _test_image(2)
    out = write_image(ref, tmp_path / "sub" / "labels.nrrd")
    assert out == tmp_path / "sub" / "labels.nrrd"
    assert sorted(p.name for p in out.parent.iterdir()) == ["labels.nrrd"]
    _assert_same(read_image(out), ref, 1e-12)


def test_failed_image_write_leaves_nothing_and_keeps_old_output(tmp_path, monkeypatch):
    out = tmp_path / "labels.nii.gz"
    out.write_bytes(b"previous result")

    def half_write(image, path, *args):
        Path(path).write_bytes(b"partial")  # some bytes reach the disk, then the write fails
        raise RuntimeError("disk full")

    monkeypatch.setattr(sitk, "WriteImage", half_write)
    with pytest.raises(RuntimeError, match="disk full"):
        write_image(_test_image(), out)
    assert out.read_bytes() == b"previous result"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["labels.nii.gz"]

    fresh = tmp_path / "new" / "labels.nii.gz"
    with pytest.raises(RuntimeError):
        write_image(_test_image(), fresh)
    assert not fresh.exists() and list(fresh.parent.iterdir()) == []


def test_write_text_atomic(tmp_path):
    out = write_text_atomic('{"a": 1}\n', tmp_path / "report.json")
    assert out.read_text() == '{"a": 1}\n'
    with pytest.raises(TypeError):
        write_text_atomic(12345, out)  # type: ignore[arg-type]  # fails mid-write
    assert out.read_text() == '{"a": 1}\n', "a failed write must keep the old file"
    assert sorted(os.listdir(tmp_path)) == ["report.json"]


def test_atomic_writes_get_normal_file_permissions(tmp_path):
    """mkstemp creates 0600 files; outputs must be readable like any other file."""
    import os
    import stat

    from lungtumorseg.io import write_text_atomic

    out = write_text_atomic("{}", tmp_path / "report.json")
    mask = os.umask(0)
    os.umask(mask)
    assert stat.S_IMODE(out.stat().st_mode) == 0o666 & ~mask
