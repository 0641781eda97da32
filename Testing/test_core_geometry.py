"""Geometry round trip (lungtumorseg.preprocess + the whole pipeline): whatever the input's
voxel order (LPS, RAS, feet-first, oblique, anisotropic, permuted axes), a marker at a known
physical point reaches the canonical grid at that point and comes back to the input grid at
that point, and the pipeline's lesion lands there too.

The marker sits off the image centre in all three axes (patient's right, posterior, upper),
so a missing LPS/RAS flip, a feet-first z flip or an axis swap moves it by 30-110 mm, far
beyond the one-voxel tolerance.
"""

from __future__ import annotations

import numpy as np
import pytest
import SimpleITK as sitk

from core_fixtures import (
    CHEST_CENTRE,
    MARKER_HU,
    MARKER_LPS,
    ORIENTATIONS,
    build_package,
    index_to_lps,
    physical_centroid,
    same_geometry,
    synthetic_chest,
    threshold_networks,  # noqa: F401  (fixture)
)
from lungtumorseg.errors import CancelledError
from lungtumorseg.pipeline import SegmentOptions, segment
from lungtumorseg.preprocess import (
    IntensityWindow,
    array_to_image,
    canonical_reference,
    physical_bounds,
    to_canonical,
    to_input_grid,
)

MODEL_SPACING = (3.0, 3.0, 3.0)


def _tolerance(image: sitk.Image) -> float:
    """One voxel of the coarser of the input and the canonical grid."""
    return max(max(image.GetSpacing()), max(MODEL_SPACING))


def _corners_lps(image: sitk.Image) -> np.ndarray:
    nx, ny, nz = image.GetSize()
    kji = np.array([[k, j, i] for k in (0, nz - 1) for j in (0, ny - 1) for i in (0, nx - 1)])
    return index_to_lps(image, kji)


@pytest.fixture(scope="module")
def chests():
    """The synthetic chest on every acquisition grid (image, marker mask)."""
    return {name: synthetic_chest(d, s) for name, (d, s) in ORIENTATIONS.items()}


def test_marker_is_where_the_scene_says_on_every_grid(chests):
    # Guards the test scene itself: the drawn marker is at MARKER_LPS on every input grid.
    for name, (image, marker) in chests.items():
        err = np.linalg.norm(physical_centroid(marker, image) - MARKER_LPS)
        assert err < 0.5 * max(image.GetSpacing()), name


@pytest.mark.parametrize("name", list(ORIENTATIONS))
def test_canonical_grid_is_axis_aligned_and_covers_the_input(chests, name):
    image, _ = chests[name]
    ref = canonical_reference(image, MODEL_SPACING)
    assert ref.GetDirection() == tuple(np.eye(3).flatten())
    assert ref.GetSpacing() == MODEL_SPACING
    lo, hi = _corners_lps(image).min(0), _corners_lps(image).max(0)
    np.testing.assert_allclose(physical_bounds(image)[0], lo, atol=1e-6)
    np.testing.assert_allclose(physical_bounds(image)[1], hi, atol=1e-6)
    c_lo = np.asarray(ref.GetOrigin())
    c_hi = c_lo + (np.asarray(ref.GetSize()) - 1) * MODEL_SPACING
    # Every canonical voxel centre is inside the input's extent, and the extent is covered
    # to within one canonical voxel.
    assert np.all(c_lo >= lo - 1e-6) and np.all(c_hi <= hi + 1e-6)
    assert np.all(hi - c_hi < np.asarray(MODEL_SPACING))


@pytest.mark.parametrize("name", list(ORIENTATIONS))
def test_marker_round_trip_through_the_canonical_grid(chests, name):
    image, marker = chests[name]
    tol = _tolerance(image)
    canonical = to_canonical(image, MODEL_SPACING)
    hu = sitk.GetArrayFromImage(canonical)

    # On the canonical grid: array axis 0 runs inferior->superior (identity direction), so the
    # marker's position computed with numpy from the canonical origin/spacing is physical.
    canon_marker = hu > 0.5 * (MARKER_HU + 20.0)
    c = np.argwhere(canon_marker).mean(axis=0)  # (k, j, i)
    canon_lps = np.asarray(canonical.GetOrigin()) + c[::-1] * MODEL_SPACING
    assert np.linalg.norm(canon_lps - MARKER_LPS) < tol, f"{name}: marker misplaced on the canonical grid"
    # Patient's right (LPS x smaller) is the low end of canonical axis 2, superior the high end of axis 0.
    centre_idx = (CHEST_CENTRE - np.asarray(canonical.GetOrigin())) / MODEL_SPACING
    assert c[2] < centre_idx[0] and c[1] > centre_idx[1] and c[0] > centre_idx[2]

    # A canonical-grid map of the marker back on the input grid.
    back = to_input_grid(array_to_image(canon_marker.astype(np.float32), canonical), image)
    assert same_geometry(back, image)
    back_mask = sitk.GetArrayFromImage(back) > 0.5
    err = np.linalg.norm(physical_centroid(back_mask, image) - MARKER_LPS)
    assert err < tol, f"{name}: marker came back {err:.1f} mm away"
    # and it overlaps the drawn marker substantially (not just the same centroid)
    dice = 2 * (back_mask & marker).sum() / (back_mask.sum() + marker.sum())
    assert dice > 0.5, f"{name}: Dice {dice:.2f}"


def test_to_input_grid_nearest_keeps_label_values(chests):
    image, _ = chests["oblique_12deg_two_axes"]
    ref = canonical_reference(image, MODEL_SPACING)
    labels = np.zeros(sitk.GetArrayFromImage(ref).shape, np.uint8)
    labels[:, :, : labels.shape[2] // 2] = 1
    labels[:, :, labels.shape[2] // 2 :] = 2
    back = to_input_grid(array_to_image(labels, ref), image, sitk.sitkNearestNeighbor)
    assert same_geometry(back, image)
    assert set(np.unique(sitk.GetArrayFromImage(back))) <= {0, 1, 2}
    assert back.GetPixelID() == sitk.sitkUInt8


def test_intensity_window():
    hu = np.array([-3000.0, -1000.0, -250.0, 500.0, 3000.0], dtype=np.float32)
    keep = hu.copy()
    out = IntensityWindow(-1000.0, 500.0).apply(hu)
    np.testing.assert_allclose(out, [0.0, 0.0, 0.5, 1.0, 1.0], atol=1e-7)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(hu, keep)  # the caller's array is not modified
    np.testing.assert_allclose(IntensityWindow().apply(np.array([-100], np.int16)), [0.6], atol=1e-6)


# ------------------------------------------------------------------ the whole pipeline
@pytest.fixture(scope="module")
def marker_package(tmp_path_factory):
    return build_package(tmp_path_factory.mktemp("pkg") / "model", spacing=MODEL_SPACING)


@pytest.mark.parametrize("name", list(ORIENTATIONS))
def test_segment_puts_the_lesion_at_the_marker(chests, marker_package, threshold_networks, name):  # noqa: F811
    image, marker = chests[name]
    before = sitk.GetArrayFromImage(image).copy()
    result = segment(image, marker_package, SegmentOptions())
    assert result.status == "ok", result.message
    assert sorted(set(threshold_networks.zones)) == ["lower", "middle", "upper"]
    assert same_geometry(result.labels, image) and same_geometry(result.probability, image)
    np.testing.assert_array_equal(sitk.GetArrayFromImage(image), before)  # input untouched

    labels = sitk.GetArrayFromImage(result.labels)
    assert labels.max() == 1, f"{name}: expected exactly the marker, got {labels.max()} lesions"
    centroid = physical_centroid(labels == 1, image)
    err = np.linalg.norm(centroid - MARKER_LPS)
    assert err < _tolerance(image), f"{name}: lesion {err:.1f} mm from the marker"
    dice = 2 * ((labels == 1) & marker).sum() / ((labels == 1).sum() + marker.sum())
    assert dice > 0.5, f"{name}: Dice {dice:.2f}"

    (lesion,) = result.lesions
    np.testing.assert_allclose(lesion.centroid_lps_mm, centroid, atol=1e-3)
    assert lesion.side == "right"  # marker is in the patient's right lung (LPS x < midline)
    assert lesion.zone == "upper"  # 40 mm above the lungs' middle: upper third
    z = result.zones_lps_z_mm
    assert z["upper"][0] > z["lower"][0] and z["upper"][1] > z["lower"][1], "upper zone must be superior"
    assert z["upper"][0] <= MARKER_LPS[2] <= z["upper"][1]


def test_progress_is_monotonic_and_ends_at_one(chests, marker_package, threshold_networks):  # noqa: F811
    seen: list[tuple[str, float]] = []
    segment(chests["lps"][0], marker_package, progress=lambda s, f: seen.append((s, f)))
    fractions = [f for _, f in seen]
    assert fractions[0] == 0.0 and fractions[-1] == 1.0
    assert all(b >= a for a, b in zip(fractions, fractions[1:])), "progress went backwards"
    assert any(s.startswith("inference upper") for s, _ in seen)
    assert len(seen) > threshold_networks.calls  # at least one update per network call


def test_segment_cancels_within_one_window(chests, marker_package, threshold_networks):  # noqa: F811
    k = 3
    with pytest.raises(CancelledError):
        segment(chests["lps"][0], marker_package, cancel=lambda: threshold_networks.calls >= k)
    assert k <= threshold_networks.calls <= k + 1
