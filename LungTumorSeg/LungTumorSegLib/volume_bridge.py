"""Exact conversion between Slicer volume nodes and SimpleITK images.

Why: the core library works on SimpleITK images in LPS physical space (the DICOM/ITK
convention) while Slicer stores voxels with an IJK->RAS matrix. A lost sign, a transposed
direction or a dropped origin silently shifts every segmentation, so the conversion lives
in one small place and is tested on rotated, anisotropic, offset images with marker voxels.

The input node is never modified: voxels are copied, not shared.
"""

from __future__ import annotations

import numpy as np
import SimpleITK as sitk
import slicer
import vtk

#: RAS <-> LPS: negate the first two physical axes.
LPS_FROM_RAS = np.diag([-1.0, -1.0, 1.0, 1.0])


def ijk_to_ras_matrix(node) -> np.ndarray:
    """The node's 4x4 IJK->RAS matrix as a numpy array."""
    m = vtk.vtkMatrix4x4()
    node.GetIJKToRASMatrix(m)
    return np.array([[m.GetElement(r, c) for c in range(4)] for r in range(4)])


def geometry_from_matrix(ijk_to_ras: np.ndarray) -> tuple[tuple, tuple, tuple]:
    """Split an IJK->RAS matrix into SimpleITK (spacing, origin, direction) in LPS."""
    ijk_to_lps = LPS_FROM_RAS @ np.asarray(ijk_to_ras, dtype=float)
    axes = ijk_to_lps[:3, :3]
    spacing = np.linalg.norm(axes, axis=0)
    if np.any(spacing <= 0):
        raise ValueError("the volume has a zero spacing along one axis")
    direction = axes / spacing
    origin = ijk_to_lps[:3, 3]
    return tuple(spacing), tuple(origin), tuple(direction.flatten())


def matrix_from_geometry(image: sitk.Image) -> np.ndarray:
    """IJK->RAS 4x4 matrix of a 3D SimpleITK image."""
    direction = np.array(image.GetDirection(), dtype=float).reshape(3, 3)
    ijk_to_lps = np.eye(4)
    ijk_to_lps[:3, :3] = direction * np.array(image.GetSpacing(), dtype=float)
    ijk_to_lps[:3, 3] = image.GetOrigin()
    return LPS_FROM_RAS @ ijk_to_lps


def image_from_volume(node) -> sitk.Image:
    """A SimpleITK image (LPS geometry, own copy of the voxels) of a scalar volume node.

    The node's parent transform is not applied: the image is in the node's local frame,
    and outputs are placed under the same transform.
    """
    if node is None or node.GetImageData() is None:
        raise ValueError("the volume node has no image data")
    if node.GetImageData().GetNumberOfScalarComponents() != 1:
        raise ValueError("only single-component (greyscale) volumes can be segmented")
    array = np.array(slicer.util.arrayFromVolume(node), copy=True)
    image = sitk.GetImageFromArray(array)
    spacing, origin, direction = geometry_from_matrix(ijk_to_ras_matrix(node))
    image.SetSpacing(spacing)
    image.SetOrigin(origin)
    image.SetDirection(direction)
    return image


def set_volume_from_image(node, image: sitk.Image) -> None:
    """Replace ``node``'s voxels and geometry by those of ``image`` (a copy)."""
    if image.GetDimension() != 3:
        raise ValueError("expected a 3D image")
    array = sitk.GetArrayFromImage(image)
    matrix = vtk.vtkMatrix4x4()
    for r, row in enumerate(matrix_from_geometry(image)):
        for c, value in enumerate(row):
            matrix.SetElement(r, c, float(value))
    node.SetIJKToRASMatrix(matrix)
    slicer.util.updateVolumeFromArray(node, array)


def same_grid(image: sitk.Image, node, tolerance: float = 1e-3) -> bool:
    """True when ``image`` lies on exactly the voxel grid of volume ``node``."""
    dims = node.GetImageData().GetDimensions()
    if tuple(image.GetSize()) != tuple(dims):
        return False
    return bool(np.allclose(matrix_from_geometry(image), ijk_to_ras_matrix(node), atol=tolerance))


def volume_checksum(node) -> str:
    """SHA-256 of a volume node's voxels and IJK->RAS matrix (to prove it was not modified)."""
    import hashlib

    digest = hashlib.sha256()
    digest.update(np.ascontiguousarray(slicer.util.arrayFromVolume(node)).tobytes())
    digest.update(ijk_to_ras_matrix(node).astype(np.float64).tobytes())
    return digest.hexdigest()
