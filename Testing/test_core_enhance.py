"""The nodule-enhancement channel (lungtumorseg.enhance): blobs light up, tubes and empty
lung do not, it is confined to the lungs' neighbourhood, and it travels through the card,
the network input and training augmentation as the model expects."""

from __future__ import annotations

import numpy as np
import pytest

from lungtumorseg.enhance import BlobFilter
from lungtumorseg.preprocess import IntensityWindow, network_input
from lungtumorseg.training.augment import augment_batch, build_augmentation
from lungtumorseg.training.prepare import ZoneCrop
from lungtumorseg.training.sampler import PatchSampler

SPACING = (1.5, 1.5, 1.5)
LUNG, SOLID = 0.1, 0.7  # -850 HU and +50 HU on the [-1000, 500] window


def _lung_with(shape=(48, 48, 48)) -> tuple[np.ndarray, np.ndarray]:
    """Windowed 'lung parenchyma' volume and a lung mask covering all of it."""
    rng = np.random.default_rng(0)
    ct = np.full(shape, LUNG, dtype=np.float32) + rng.normal(0, 0.005, shape).astype(np.float32)
    return ct, np.ones(shape, dtype=bool)


def _grid(shape):
    return np.meshgrid(*[np.arange(n) * 1.5 for n in shape], indexing="ij")


def test_a_nodule_lights_up_and_a_vessel_of_the_same_calibre_does_not():
    ct, lungs = _lung_with()
    z, y, x = _grid(ct.shape)
    centre = 24 * 1.5
    nodule = (z - centre) ** 2 + (y - 18) ** 2 + (x - 18) ** 2 <= 5.0**2  # 10 mm nodule
    vessel = ((y - 54) ** 2 + (x - 54) ** 2 <= 5.0**2)  # 10 mm tube along z, same density
    ct[nodule | vessel] = SOLID
    out = BlobFilter().apply(ct, SPACING, lungs)
    assert out.dtype == np.float32 and 0.0 <= out.min() and out.max() < 1.0
    nodule_peak, vessel_peak = out[nodule].max(), out[vessel].max()
    assert nodule_peak > 0.5, nodule_peak
    assert vessel_peak < 0.25 * nodule_peak, (vessel_peak, nodule_peak)
    empty = np.ones_like(lungs)
    empty[np.ix_(range(10, 38), range(0, 30), range(0, 30))] = False  # far from the nodule ...
    empty &= ~vessel  # ... and off the vessel
    assert np.percentile(out[empty], 99) < 0.05  # plain parenchyma stays dark


def test_the_channel_is_zero_far_from_the_lungs_and_everywhere_without_lungs():
    ct, _ = _lung_with((40, 40, 120))
    z, y, x = _grid(ct.shape)
    for cx in (20.0, 160.0):  # a nodule beside the lungs and one 100 mm away from them
        ct[(z - 30) ** 2 + (y - 30) ** 2 + (x - cx) ** 2 <= 5.0**2] = SOLID
    lungs = np.zeros(ct.shape, dtype=bool)
    lungs[:, :, :30] = True  # the lungs end at x = 45 mm; the box reaches 40 mm further
    out = BlobFilter(margin_mm=40.0).apply(ct, SPACING, lungs)
    first_outside = 30 + int(np.ceil(40.0 / 1.5))
    assert out[:, :, :20].max() > 0.5
    assert not out[:, :, first_outside + 1:].any()
    assert not BlobFilter().apply(ct, SPACING, np.zeros_like(lungs)).any()


def test_the_response_within_a_box_is_the_full_computation_s_and_zero_elsewhere():
    """``within``: only the costly objectness is restricted to the box (fresh training tumours
    recompute just their neighbourhood), so inside it the values are exactly the full ones,
    also where the box reaches the lungs' box edge or leaves it."""
    ct, lungs = _lung_with((40, 56, 64))
    z, y, x = _grid(ct.shape)
    ct[(z - 30) ** 2 + (y - 40) ** 2 + (x - 30) ** 2 <= 6.0**2] = SOLID
    ct[(z - 10) ** 2 + (y - 8) ** 2 + (x - 90) ** 2 <= 4.0**2] = SOLID  # near the array's corner
    lungs[:, :, 60:] = False
    full = BlobFilter().apply(ct, SPACING, lungs)
    for box in ((slice(12, 30), slice(18, 36), slice(10, 30)), (slice(0, 14), slice(0, 12), slice(50, 64))):
        part = BlobFilter().apply(ct, SPACING, lungs, within=box)
        assert part[box].max() > 0.3  # a nodule is in each box
        assert np.array_equal(part[box], full[box])
        outside = np.ones(ct.shape, dtype=bool)
        outside[box] = False
        assert not part[outside].any()


def test_card_round_trip_and_absent_section():
    blob = BlobFilter(sigmas_mm=(1.5, 3.0), gamma=0.2, scale=0.1, margin_mm=30.0)
    assert BlobFilter.from_card(blob.to_card()) == blob
    assert BlobFilter.from_card(None) is None and BlobFilter.from_card({}) is None


def test_network_input_puts_the_blob_channel_last():
    hu = np.full((32, 32, 32), -850.0, dtype=np.float32)
    hu[12:20, 12:20, 12:20] = 40.0
    lungs = np.ones(hu.shape, dtype=bool)
    window = IntensityWindow()
    plain = network_input(hu, lungs, window, lung_channel=True)
    three = network_input(hu, lungs, window, True, BlobFilter(), SPACING)
    assert plain.shape == (2, 32, 32, 32) and three.shape == (3, 32, 32, 32)
    assert np.array_equal(three[:2], plain)  # the first channels are unchanged
    assert three[2, 16, 16, 16] > 0.5 and three[2, 2, 2, 2] < 0.05
    with pytest.raises(ValueError, match="spacing"):
        network_input(hu, lungs, window, True, BlobFilter())


def test_augmentation_keeps_the_lung_mask_binary_and_the_blob_channel_continuous():
    rng = np.random.default_rng(3)
    label = np.zeros((40, 40, 40), dtype=np.uint8)
    label[14:26, 14:26, 14:26] = 1
    ct = rng.random((1, 40, 40, 40)).astype(np.float16)
    lung = np.ones((1, 40, 40, 40), dtype=np.float16)
    blob = np.linspace(0.0, 0.9, 40**3, dtype=np.float32).reshape(1, 40, 40, 40).astype(np.float16)
    crop = ZoneCrop(np.concatenate([ct, lung, blob]), label, (0, 39))
    images, labels = PatchSampler([crop], (32, 32, 32), 1.0, seed=4).batch(4)
    out, _ = augment_batch(build_augmentation(11, elastic_prob=0.5), images, labels, lung_channel=True)
    assert out.shape == images.shape
    assert set(np.unique(out[:, 1])) <= {0.0, 1.0}
    assert len(np.unique(out[:, 2])) > 100  # not binarised
    assert 0.0 <= out[:, 2].min() and out[:, 2].max() <= 0.9 + 1e-3  # moved, never intensity-augmented
