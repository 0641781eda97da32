"""Faint-tumour copies (lungtumorseg.training.faint): tumours faded towards the surrounding
lung like ground-glass nodules, the rest of the CT untouched."""

import numpy as np
import pytest
from scipy import ndimage as ndi

from lungtumorseg.training.faint import FaintTumours

LUNG_HU, TUMOUR_HU, NOISE_HU = -850.0, 40.0, 20.0


def _lung_with_nodule(seed: int = 0):
    """A 40³ block of noisy lung with a 6-voxel-radius solid nodule and, away from it, a
    soft-tissue slab (chest wall) and a bright vessel that are not tumour."""
    rng = np.random.default_rng(seed)
    hu = rng.normal(LUNG_HU, NOISE_HU, (40, 40, 40)).astype(np.float32)
    z, y, x = np.indices(hu.shape)
    nodule = (z - 20) ** 2 + (y - 20) ** 2 + (x - 14) ** 2 <= 36
    hu[nodule] = rng.normal(TUMOUR_HU, NOISE_HU, int(nodule.sum()))
    hu[:, :, 34:] = 40.0  # chest wall
    hu[5:35, 30, 26] = 60.0  # a vessel, not tumour
    return hu, nodule.astype(np.uint8)


def test_a_solid_nodule_becomes_ground_glass_of_the_chosen_density_and_nothing_else_changes():
    hu, tumour = _lung_with_nodule()
    original = hu.copy()
    faded, records = FaintTumours(keep_range=(0.3, 0.3), core_probability=0.0).apply(
        hu, tumour, (1.5, 1.5, 1.5), np.random.default_rng(1))
    assert np.array_equal(hu, original)  # the input is never modified
    inner = ndi.binary_erosion(tumour > 0, iterations=2)
    expected = LUNG_HU + 0.3 * (TUMOUR_HU - LUNG_HU)  # -583 HU: ground glass
    assert abs(float(faded[inner].mean()) - expected) < 15
    assert len(records) == 1 and abs(records[0]["background_hu"] - LUNG_HU) < 5
    # Noise is restored inside the faded nodule (not smoothed to 0.3 of it)
    assert 0.7 * NOISE_HU < float(faded[inner].std()) < 1.6 * NOISE_HU
    far = ~ndi.binary_dilation(tumour > 0, iterations=1)
    assert np.array_equal(faded[far], original[far])  # chest wall, vessel, lung: untouched
    assert np.array_equal(faded[:, :, 34:], original[:, :, 34:])


def test_a_part_solid_copy_keeps_a_solid_core():
    hu, tumour = _lung_with_nodule()
    faded, records = FaintTumours(keep_range=(0.2, 0.2), core_probability=1.0,
                                  core_fraction_range=(0.5, 0.5)).apply(hu, tumour, (1.5,) * 3, np.random.default_rng(2))
    assert records[0]["core_fraction"] == 0.5
    centre = faded[19:22, 19:22, 13:16]
    assert np.array_equal(centre, hu[19:22, 19:22, 13:16])  # the core keeps full density
    edge = (tumour > 0) & ~ndi.binary_erosion(tumour > 0, iterations=1)
    assert float(faded[edge].mean()) < -600  # the rest is ground glass


def test_fading_is_seeded_and_leaves_a_tumour_free_ct_as_it_is():
    hu, tumour = _lung_with_nodule()
    spec = FaintTumours()
    a, _ = spec.apply(hu, tumour, (1.5,) * 3, np.random.default_rng(7))
    b, _ = spec.apply(hu, tumour, (1.5,) * 3, np.random.default_rng(7))
    c, _ = spec.apply(hu, tumour, (1.5,) * 3, np.random.default_rng(8))
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    same, records = spec.apply(hu, np.zeros_like(tumour), (1.5,) * 3, np.random.default_rng(7))
    assert records == [] and np.array_equal(same, hu)


def test_impossible_fading_parameters_are_refused():
    with pytest.raises(ValueError, match="keep_range"):
        FaintTumours(keep_range=(0.6, 0.2))
    with pytest.raises(ValueError, match="core_probability"):
        FaintTumours(core_probability=1.5)
