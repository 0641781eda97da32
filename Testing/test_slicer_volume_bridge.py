"""Volume node <-> SimpleITK image: exact geometry against Slicer's own file reader."""

from __future__ import annotations

import numpy as np
import pytest
import SimpleITK as sitk

import slicer_env as senv

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def _rotation(axis: np.ndarray, angle_deg: float) -> np.ndarray:
    axis = axis / np.linalg.norm(axis)
    a = np.deg2rad(angle_deg)
    k = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    return np.eye(3) + np.sin(a) * k + (1 - np.cos(a)) * k @ k


def _image(direction: np.ndarray, spacing=(0.7, 0.7, 5.0), origin=(-120.5, 33.25, -400.0),
           size=(23, 19, 11), marker=(17, 4, 8)) -> sitk.Image:
    """A CT-like image with a unique marker voxel at index ``marker`` (i, j, k)."""
    rng = np.random.default_rng(7)
    array = rng.integers(-1000, 200, size=size[::-1]).astype(np.int16)
    array[marker[2], marker[1], marker[0]] = 3000
    image = sitk.GetImageFromArray(array)
    image.SetSpacing(spacing)
    image.SetOrigin(origin)
    image.SetDirection(tuple(np.asarray(direction, float).flatten()))
    return image


DIRECTIONS = {
    "lps": np.eye(3),
    "ras": np.diag([-1.0, -1.0, 1.0]),
    "oblique": _rotation(np.array([1.0, 2.0, 0.5]), 27.0),
    "permuted_flipped": np.array([[0, 1, 0], [0, 0, -1], [-1, 0, 0]], dtype=float),
}


def _ras_of_index(node, ijk) -> np.ndarray:
    from LungTumorSegLib import volume_bridge

    m = volume_bridge.ijk_to_ras_matrix(node)
    return (m @ np.array([*ijk, 1.0]))[:3]


@pytest.mark.parametrize("kind", sorted(DIRECTIONS))
@pytest.mark.parametrize("suffix", [".nrrd", ".nii.gz"])
def test_slicer_reader_and_bridge_agree(slicer_env, tmp_path, kind, suffix):
    """A file read by Slicer converts to the image SimpleITK reads from the same file."""
    from LungTumorSegLib import volume_bridge

    written = _image(DIRECTIONS[kind])
    path = tmp_path / f"ct{suffix}"
    sitk.WriteImage(written, str(path))
    reference = sitk.ReadImage(str(path))
    node = senv.load_volume_file(path)

    image = volume_bridge.image_from_volume(node)
    np.testing.assert_array_equal(sitk.GetArrayFromImage(image), sitk.GetArrayFromImage(reference))
    np.testing.assert_allclose(image.GetSpacing(), reference.GetSpacing(), atol=1e-4)
    np.testing.assert_allclose(image.GetOrigin(), reference.GetOrigin(), atol=1e-3)
    np.testing.assert_allclose(image.GetDirection(), reference.GetDirection(), atol=1e-4)

    # The marker voxel sits at the same physical place for Slicer (RAS) and SimpleITK (LPS).
    marker_ijk = (17, 4, 8)
    lps = np.array(reference.TransformIndexToPhysicalPoint(marker_ijk))
    ras = _ras_of_index(node, marker_ijk)
    np.testing.assert_allclose(ras, lps * [-1, -1, 1], atol=1e-3)
    assert image[marker_ijk] == 3000


@pytest.mark.parametrize("kind", sorted(DIRECTIONS))
def test_image_to_node_to_image_round_trip(slicer_env, kind):
    from LungTumorSegLib import volume_bridge

    image = _image(DIRECTIONS[kind])
    node = slicer_env.scene.AddNewNodeByClass("vtkMRMLScalarVolumeNode", "ct")
    volume_bridge.set_volume_from_image(node, image)
    back = volume_bridge.image_from_volume(node)
    np.testing.assert_array_equal(sitk.GetArrayFromImage(back), sitk.GetArrayFromImage(image))
    np.testing.assert_allclose(back.GetSpacing(), image.GetSpacing(), atol=1e-9)
    np.testing.assert_allclose(back.GetOrigin(), image.GetOrigin(), atol=1e-9)
    np.testing.assert_allclose(back.GetDirection(), image.GetDirection(), atol=1e-9)
    assert volume_bridge.same_grid(back, node)
    # the node's IJK->RAS places the marker where SimpleITK's LPS geometry says (x, y negated)
    lps = np.array(image.TransformIndexToPhysicalPoint((17, 4, 8)))
    np.testing.assert_allclose(_ras_of_index(node, (17, 4, 8)), lps * [-1, -1, 1], atol=1e-9)


def test_missing_lps_flip_would_be_caught(slicer_env):
    """Guard for the test itself: a bridge that forgot the flip moves the marker."""
    from LungTumorSegLib import volume_bridge

    image = _image(DIRECTIONS["oblique"])
    node = slicer_env.scene.AddNewNodeByClass("vtkMRMLScalarVolumeNode", "ct")
    volume_bridge.set_volume_from_image(node, image)
    unflipped = volume_bridge.LPS_FROM_RAS @ volume_bridge.ijk_to_ras_matrix(node)  # a wrong "RAS"
    lps = np.array(image.TransformIndexToPhysicalPoint((17, 4, 8)))
    wrong_ras = (unflipped @ np.array([17, 4, 8, 1.0]))[:3]
    assert not np.allclose(wrong_ras, lps * [-1, -1, 1], atol=1.0)


def test_export_does_not_modify_or_share_the_input(slicer_env):
    from LungTumorSegLib import volume_bridge

    node = senv.add_volume_from_image(slicer_env.scene, _image(DIRECTIONS["oblique"]))
    before = volume_bridge.volume_checksum(node)
    mtime = node.GetMTime()
    image = volume_bridge.image_from_volume(node)
    image[0, 0, 0] = 1234  # writing to the exported copy ...
    assert volume_bridge.volume_checksum(node) == before  # ... leaves the node alone
    assert node.GetMTime() == mtime


def test_grid_mismatch_is_detected(slicer_env):
    from LungTumorSegLib import volume_bridge

    image = _image(DIRECTIONS["lps"])
    node = senv.add_volume_from_image(slicer_env.scene, image)
    shifted = sitk.Image(image)
    shifted.SetOrigin((image.GetOrigin()[0] + 0.7, *image.GetOrigin()[1:]))
    assert volume_bridge.same_grid(image, node)
    assert not volume_bridge.same_grid(shifted, node)


@pytest.mark.skipif(not (senv.SHARED_REAL_DATA / "abdomen_ct_3mm.nii.gz").exists(),
                    reason="shared real CT not present")
def test_real_ras_ct_file(slicer_env):
    """A real RAS-oriented CT (TotalSegmentator test data, CC BY 4.0) converts exactly."""
    from LungTumorSegLib import volume_bridge

    path = senv.SHARED_REAL_DATA / "abdomen_ct_3mm.nii.gz"
    node = senv.load_volume_file(path)
    reference = sitk.ReadImage(str(path))
    image = volume_bridge.image_from_volume(node)
    np.testing.assert_array_equal(sitk.GetArrayFromImage(image), sitk.GetArrayFromImage(reference))
    np.testing.assert_allclose(image.GetOrigin(), reference.GetOrigin(), atol=1e-3)
    np.testing.assert_allclose(image.GetDirection(), reference.GetDirection(), atol=1e-4)
