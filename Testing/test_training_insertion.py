"""Synthetic-tumour copies (lungtumorseg.training.insertion): new tumours of the phantom
engine's model drawn into the lungs of a training case, with their labels; nothing else
changes."""

import numpy as np
import pytest
from scipy import ndimage as ndi

from lungtumorseg.training.insertion import SyntheticTumours

LUNG_HU, WALL_HU, NOISE_HU = -850.0, 40.0, 20.0
SPACING = (1.5, 1.5, 1.5)


def _chest(seed: int = 0):
    """A 60 x 64 x 64 block: two noisy lungs (boxes) in soft tissue, one existing tumour."""
    rng = np.random.default_rng(seed)
    hu = rng.normal(WALL_HU, NOISE_HU, (60, 64, 64)).astype(np.float32)
    lungs = np.zeros(hu.shape, dtype=np.uint8)
    lungs[4:56, 6:58, 4:30] = 1
    lungs[4:56, 6:58, 34:60] = 1
    hu[lungs > 0] = rng.normal(LUNG_HU, NOISE_HU, int(lungs.sum()))
    tumour = np.zeros(hu.shape, dtype=np.uint8)
    z, y, x = np.indices(hu.shape)
    existing = (z - 30) ** 2 + (y - 30) ** 2 + (x - 16) ** 2 <= 16
    hu[existing] = WALL_HU
    tumour[existing] = 1
    return hu, tumour, lungs


def test_new_tumours_are_drawn_inside_the_lungs_with_labels_and_nothing_else_changes():
    hu, tumour, lungs = _chest()
    original_hu, original_tumour = hu.copy(), tumour.copy()
    spec = SyntheticTumours(per_copy=(3, 3), median_diameter_mm=10.0, diameter_mm=(8.0, 12.0))
    out, label, records = spec.apply(hu, tumour, lungs, SPACING, 1.5, np.random.default_rng(3))
    # inputs are never modified
    assert np.array_equal(hu, original_hu) and np.array_equal(tumour, original_tumour)
    assert len(records) == 3
    # the existing tumour stays labelled; new labels lie only inside the lungs
    assert label[original_tumour > 0].all()
    new = (label > 0) & (original_tumour == 0)
    assert new.any() and not new[lungs == 0].any()
    assert sum(r["voxels"] for r in records) == int(new.sum())
    components, count = ndi.label(new)
    assert count == 3  # separate tumours, none touching the existing one
    # every new tumour is denser than the lung it sits in (ground glass at least ~-700 HU + texture)
    for number in range(1, count + 1):
        inner = ndi.binary_erosion(components == number)
        values = out[inner] if inner.any() else out[components == number]
        assert float(values.mean()) > LUNG_HU + 100
    # far from the new tumours the CT is untouched: soft tissue and lung alike
    far = ~ndi.binary_dilation(new, iterations=8)
    assert np.array_equal(out[far], original_hu[far])


def test_kinds_have_their_published_densities_and_the_lung_noise_is_restored():
    """Solid tumours at soft-tissue density, ground-glass ones between lung and soft tissue
    (Hansell et al. 2008), both with CT noise of the surrounding lung's level."""
    hu, tumour, lungs = _chest(1)
    tumour[:] = 0
    for kind_weights, low, high in (((1.0, 0.0, 0.0), -20.0, 90.0), ((0.0, 0.0, 1.0), -760.0, -280.0)):
        spec = SyntheticTumours(per_copy=(1, 1), kind_weights=kind_weights, median_diameter_mm=16.0,
                                diameter_mm=(16.0, 16.0), shape_weights=(1.0, 0.0, 0.0))
        out, label, records = spec.apply(hu, tumour, lungs, SPACING, 1.5, np.random.default_rng(5))
        inner = ndi.binary_erosion(label > 0, iterations=2)
        assert records[0]["kind"] == ("solid" if kind_weights[0] else "ground-glass")
        assert low < float(np.median(out[inner])) < high
        assert 0.5 * NOISE_HU < float(out[inner].std()) < 3.0 * NOISE_HU


def test_thick_source_slices_blur_the_tumour_along_z_only():
    hu, tumour, lungs = _chest(2)
    hu[lungs > 0] = LUNG_HU  # no noise, so the edge profile is visible
    tumour[:] = 0
    spec = SyntheticTumours(per_copy=(1, 1), kind_weights=(1.0, 0.0, 0.0), median_diameter_mm=15.0,
                            diameter_mm=(15.0, 15.0), shape_weights=(1.0, 0.0, 0.0))
    thin, label_thin, rec_thin = spec.apply(hu, tumour, lungs, SPACING, 1.5, np.random.default_rng(9))
    thick, label_thick, rec_thick = spec.apply(hu, tumour, lungs, SPACING, 5.0, np.random.default_rng(9))
    assert rec_thin[0]["centre_zyx"] == rec_thick[0]["centre_zyx"]
    assert np.array_equal(label_thin, label_thick)  # the truth is the tumour, whatever the scanner

    def partial_voxels(out):
        tissue = (out > LUNG_HU + 50) & (out < WALL_HU - 200) & (lungs > 0)
        return tissue

    # thick slices make more intermediate (partial-volume) voxels, above and below the tumour
    z, y, x = rec_thin[0]["centre_zyx"]
    assert partial_voxels(thick)[:, y, x].sum() > partial_voxels(thin)[:, y, x].sum()


def test_copies_are_seeded_and_a_case_without_lungs_gets_nothing():
    hu, tumour, lungs = _chest()
    spec = SyntheticTumours()
    a = spec.apply(hu, tumour, lungs, SPACING, 1.5, np.random.default_rng(7))
    b = spec.apply(hu, tumour, lungs, SPACING, 1.5, np.random.default_rng(7))
    c = spec.apply(hu, tumour, lungs, SPACING, 1.5, np.random.default_rng(8))
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1]) and a[2] == b[2]
    assert not np.array_equal(a[1], c[1])
    out, label, records = spec.apply(hu, tumour, np.zeros_like(lungs), SPACING, 1.5, np.random.default_rng(7))
    assert records == [] and np.array_equal(out, hu) and np.array_equal(label, tumour)


def test_plans_follow_the_kind_weights_and_size_range():
    spec = SyntheticTumours(per_copy=(2, 4), kind_weights=(0.0, 0.5, 0.5), diameter_mm=(6.0, 40.0))
    rng = np.random.default_rng(0)
    plans = [p for _ in range(200) for p in spec.plan(rng)]
    assert {p["kind"] for p in plans} == {"part-solid", "ground-glass"}
    assert all(6.0 <= p["diameter_mm"] <= 40.0 for p in plans)
    assert not any(p["kind"] == "ground-glass" and p["shape"] == "spiculated" for p in plans)
    counts = np.bincount([len(spec.plan(rng)) for _ in range(300)], minlength=5)
    assert counts[0] == counts[1] == 0 and min(counts[2:5]) > 50


def test_impossible_insertion_parameters_are_refused():
    with pytest.raises(ValueError, match="per_copy"):
        SyntheticTumours(per_copy=(3, 1))
    with pytest.raises(ValueError, match="kind_weights"):
        SyntheticTumours(kind_weights=(0.0, 0.0, 0.0))
    with pytest.raises(ValueError, match="diameter"):
        SyntheticTumours(median_diameter_mm=50.0)
