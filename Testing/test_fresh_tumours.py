"""Fresh tumours drawn into training patches as they are sampled (``training.fresh_tumours``).

Real parts throughout: a phantom of the engine, the canonical resampling, the classical lung
finder and the nodule-enhancement filter of inference. What must hold: the drawn tumour lies
where inference's own lung finder would still call lung (so the lung channel stays true), its
input channels are what inference would compute from the changed CT, only the tumour's
neighbourhood changes, and the crop it was drawn into is left as it was.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage as ndi

from core_fixtures import phantom
from lungtumorseg.cli import build_parser, main, train_config
from lungtumorseg.enhance import BlobFilter
from lungtumorseg.lungs import find_lungs
from lungtumorseg.preprocess import IntensityWindow, network_input, to_canonical
from lungtumorseg.training.fresh_tumours import FreshTumourDrawer
from lungtumorseg.training.insertion import SyntheticTumours
from lungtumorseg.training.prepare import ZoneCrop
from lungtumorseg.training.sampler import PatchSampler

SPACING = (2.0, 2.0, 2.0)
WINDOW = IntensityWindow()
LAW = SyntheticTumours(diameter_mm=(8.0, 16.0), median_diameter_mm=12.0)


@pytest.fixture(scope="module")
def whole_crop() -> tuple[ZoneCrop, np.ndarray]:
    """The whole canonical volume of a phantom as one crop (CT, lung mask, blob channels), and
    the lung mask inference finds on it."""
    case = phantom(2)
    import SimpleITK as sitk

    hu = sitk.GetArrayFromImage(to_canonical(case.image, SPACING)).astype(np.float32)
    lungs = find_lungs(hu, SPACING).mask > 0
    channels = network_input(hu, lungs, WINDOW, True, BlobFilter(), SPACING)
    label = np.zeros(hu.shape, np.uint8)  # no own tumour: every tumour voxel of a patch is fresh
    return ZoneCrop(channels.astype(np.float16), label, (0, hu.shape[0] - 1), False, 5.0), lungs


def _whole_patch(crop: ZoneCrop, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A patch as large as the crop: the whole crop with one fresh tumour drawn in."""
    drawer = FreshTumourDrawer(LAW, WINDOW, SPACING, BlobFilter())
    patch = drawer.patch([crop], crop.label.shape, np.random.default_rng(seed))
    assert patch is not None
    return patch


def test_a_fresh_tumour_stays_lung_for_inference_and_its_channels_are_inference_s(whole_crop):
    crop, lungs = whole_crop
    before = (crop.image.copy(), crop.label.copy())
    image, label = _whole_patch(crop, seed=3)
    assert np.array_equal(crop.image, before[0]) and np.array_equal(crop.label, before[1])  # crop untouched
    tumour = label > 0
    diameter = 2.0 * (3.0 * tumour.sum() * 8.0 / (4.0 * np.pi)) ** (1 / 3)
    assert 5.0 < diameter < 20.0  # one tumour of the law's size (8-16 mm; partial volume at 2 mm)
    assert ndi.label(tumour)[1] == 1
    hu = image[0] * (WINDOW.high - WINDOW.low) + WINDOW.low
    changed = np.abs(image[0] - crop.image[0].astype(np.float32)) > 1e-3
    assert changed[tumour].mean() > 0.5  # the tumour shows in the CT...
    near = ndi.binary_dilation(tumour, iterations=6)
    assert not (changed & ~near).any()  # ...and nothing changed away from it
    # Inference's lung finder on the changed CT still calls every tumour voxel lung,
    # and the lung channel the patch carries is what it finds.
    found = find_lungs(hu, SPACING).mask > 0
    assert found[tumour].all()
    assert np.array_equal(image[1] > 0.5, lungs)
    assert (found != lungs).mean() < 1e-3
    # The nodule-enhancement channel near the tumour is the whole-volume filter's response
    # to the changed CT (float16 storage aside).
    expected = network_input(hu, lungs, WINDOW, True, BlobFilter(), SPACING)[2]
    around = ndi.binary_dilation(tumour, iterations=4)
    assert np.abs(image[2][around] - expected[around]).max() < 0.01
    assert image[2][tumour].max() > crop.image[2][tumour].astype(np.float32).max()  # a new blob responds


def test_fresh_tumours_differ_from_draw_to_draw_and_repeat_with_the_seed(whole_crop):
    crop, _ = whole_crop
    one, two, again = _whole_patch(crop, 11), _whole_patch(crop, 12), _whole_patch(crop, 11)
    assert np.array_equal(one[1], again[1]) and np.array_equal(one[0], again[0])
    assert not np.array_equal(one[1], two[1])


def test_the_sampler_cuts_the_asked_share_of_patches_around_fresh_tumours(whole_crop):
    crop, _ = whole_crop
    drawer = FreshTumourDrawer(LAW, WINDOW, SPACING, BlobFilter())
    # The crop has no tumour of its own and positive_ratio is 0: tumour in a patch is fresh.
    sampler = PatchSampler([crop], (24, 24, 24), 0.0, seed=5, fresh=drawer, fresh_ratio=0.5)
    with_tumour = sum(bool(sampler.sample()[1].any()) for _ in range(60))
    assert 18 <= with_tumour <= 42
    # Without a drawer the sampler's draws are those it always made.
    plain = PatchSampler([crop], (24, 24, 24), 0.3, seed=5, lung_ratio=0.3)
    unchanged = PatchSampler([crop], (24, 24, 24), 0.3, seed=5, lung_ratio=0.3, fresh=None, fresh_ratio=0.0)
    for _ in range(5):
        a, b = plain.sample(), unchanged.sample()
        assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])


def test_fresh_tumours_option_reaches_the_config_and_is_refused_without_a_lung_channel(tmp_path, capsys):
    base = ["train", str(tmp_path), "-o", str(tmp_path / "m")]
    cfg = train_config(build_parser().parse_args(base + ["--lung-channel", "--fresh-tumours", "0.2",
                                                         "--synthetic-diameter-mm", "5", "8", "20"]))
    assert cfg.fresh_tumour_ratio == 0.2 and cfg.to_dict()["fresh_tumour_ratio"] == 0.2
    assert cfg.synthetic_tumours().median_diameter_mm == 8.0  # the law flags describe fresh tumours too
    assert train_config(build_parser().parse_args(base)).fresh_tumour_ratio == 0.0
    assert main(base + ["--fresh-tumours", "0.2"]) != 0
    assert "--fresh-tumours needs --lung-channel" in capsys.readouterr().err
    assert main(base + ["--lung-channel", "--fresh-tumours", "1"]) != 0
    assert "--fresh-tumours" in capsys.readouterr().err
    assert not (tmp_path / "m.work").exists()  # refused before the work folder is made
