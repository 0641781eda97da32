"""Region-wise inference (lungtumorseg.inference): window counting against what MONAI really
runs, cancellation within one window, progress, the superposition of zone maps, and devices
(the name checked once; windows sent where the network's weights are, stitched on CPU).

The networks here are :class:`core_fixtures.ThresholdNet` stand-ins (real torch modules,
pointwise), so the real MONAI sliding-window code runs while the expected output is known.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import lungtumorseg.inference as inference
from core_fixtures import ThresholdNet
from lungtumorseg.errors import CancelledError, LungTumorSegError
from lungtumorseg.inference import count_windows, network_device, predict_zone, resolve_device, run_zones, superpose
from lungtumorseg.progress import ProgressSpan
from lungtumorseg.zones import ZoneSpec, make_zones


def _image(shape, seed=0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(0.0, 1.0, size=shape).astype(np.float32)


@pytest.mark.parametrize(
    "shape,roi,overlap,batch",
    [
        ((40, 50, 33), (16, 16, 16), 0.25, 1),
        ((40, 50, 33), (16, 16, 16), 0.25, 3),
        ((17, 16, 64), (16, 16, 16), 0.5, 2),
        ((10, 12, 9), (16, 16, 16), 0.25, 2),  # smaller than the window: padded, one window
        ((70, 21, 30), (32, 16, 8), 0.3, 4),
    ],
)
def test_count_windows_matches_monai(shape, roi, overlap, batch):
    net = ThresholdNet(0.5)
    out = predict_zone(net, _image(shape), roi, overlap, batch, ProgressSpan(None, 0, 1), "test")
    assert out.shape == shape and out.dtype == np.float32
    n = count_windows(shape, roi, overlap)
    assert net.windows == n
    assert net.calls == -(-n // batch)  # one predictor call per batch of windows


def test_sliding_window_blending_is_normalised():
    # A pointwise network: every window predicts the same value at a voxel, so the gaussian
    # blend must give exactly that value (a wrong normalisation would show up at overlaps).
    image = _image((37, 41, 29), seed=1)
    level, gain = 0.4, 8.0
    out = predict_zone(ThresholdNet(level, gain), image, (16, 16, 16), 0.25, 2, ProgressSpan(None, 0, 1), "t")
    expected = 1.0 / (1.0 + np.exp(-gain * (image - level)))
    np.testing.assert_allclose(out, expected, atol=1e-5)


@pytest.mark.parametrize("k", [1, 4])
def test_cancel_stops_within_one_window(k):
    net = ThresholdNet(0.5)
    span = ProgressSpan(None, 0.0, 1.0, cancel=lambda: net.calls >= k)
    with pytest.raises(CancelledError, match="cancelled"):
        predict_zone(net, _image((40, 40, 40)), (16, 16, 16), 0.25, 1, span, "t")
    assert count_windows((40, 40, 40), (16, 16, 16), 0.25) > k + 1
    assert k <= net.calls <= k + 1


def test_cancel_before_start_runs_nothing():
    net = ThresholdNet(0.5)
    span = ProgressSpan(None, 0.0, 1.0, cancel=lambda: True)
    with pytest.raises(CancelledError):
        predict_zone(net, _image((20, 20, 20)), (16, 16, 16), 0.25, 1, span, "t")
    assert net.calls == 0


def _zones(shape=(60, 30, 48)):
    mask = np.zeros(shape, bool)
    mask[18:45, 8:22, 6:30] = True
    return mask, make_zones(mask, (2.0, 2.0, 3.0), ZoneSpec(overlap_mm=15.0, margin_mm=12.0, context_mm=9.0))


def test_run_zones_progress_and_network_per_zone():
    mask, zones = _zones()
    image = _image(mask.shape, seed=3)
    loaded: list[str] = []
    nets: dict[str, ThresholdNet] = {}

    def load(zone):
        loaded.append(zone)
        nets[zone] = ThresholdNet(0.5)
        return nets[zone]

    seen: list[tuple[str, float]] = []
    span = ProgressSpan(lambda s, f: seen.append((s, f)), 0.2, 0.8)
    probs = run_zones(image, zones, load, (16, 16, 16), 0.25, 2, span)
    assert loaded == ["upper", "middle", "lower"]
    for zone in zones:
        assert probs[zone.name].shape == zone.crop(image).shape
        assert nets[zone.name].windows == count_windows(zone.crop(image).shape, (16, 16, 16), 0.25)
    fractions = [f for _, f in seen]
    assert all(b >= a - 1e-12 for a, b in zip(fractions, fractions[1:])), "progress went backwards"
    assert fractions[0] == pytest.approx(0.2) and fractions[-1] == pytest.approx(0.8)
    assert {s for s, _ in seen} >= {"inference upper zone", "inference lower zone", "loading middle zone model"}


def test_superpose_constant_one_gives_one_inside_and_zero_outside():
    mask, zones = _zones()
    probs = {z.name: np.ones(z.crop(mask).shape, np.float32) for z in zones}
    out = superpose(mask.shape, zones, probs)
    total = np.sum([z.weights_z for z in zones], axis=0)
    inside = np.zeros(mask.shape, bool)
    for z in zones:
        inside[z.box] = True
    # expected: the summed weight profile inside the crops' union, 0 elsewhere
    expected = np.where(inside, total[:, None, None], 0.0)
    np.testing.assert_allclose(out, expected, atol=1e-6)
    lung_z = np.nonzero(mask.any(axis=(1, 2)))[0]
    assert np.all(out[lung_z][:, 8:22, 6:30] == pytest.approx(1.0))  # 1 throughout the lungs
    assert out[:, :2].max() == 0.0 and out[:, :, -2:].max() == 0.0  # beyond the in-plane margin
    assert out[0].max() == 0.0 and out[-1].max() == 0.0  # beyond the body-axis margin


def test_superpose_blends_across_zone_boundaries():
    mask, zones = _zones()
    probs = {z.name: np.full(z.crop(mask).shape, 1.0 if z.name == "upper" else 0.0, np.float32) for z in zones}
    profile = superpose(mask.shape, zones, probs)[:, 15, 18]
    lung_z = np.nonzero(mask.any(axis=(1, 2)))[0]
    band = profile[lung_z.min() : lung_z.max() + 1]
    assert band[0] == 0.0 and band[-1] == pytest.approx(1.0)
    assert np.all(np.diff(band) >= -1e-7)  # monotonic ramp from lower to upper
    assert np.abs(np.diff(band)).max() <= 3.0 / 15.0 + 1e-6  # spread over the 15 mm overlap
    assert ((band > 0.01) & (band < 0.99)).sum() >= 3  # a real blend, not a step


def _random_unetr():
    """A real (untrained, seeded) MONAI UNETR: not mirror-symmetric, unlike ThresholdNet."""
    import torch
    from monai.networks.nets import UNETR

    torch.manual_seed(0)
    net = UNETR(in_channels=1, out_channels=2, img_size=(16, 16, 16), feature_size=4, hidden_size=48,
                mlp_dim=96, num_heads=4, proj_type="conv", norm_name="instance").eval()
    return net


def test_test_time_mirroring_averages_the_mirrored_pass_and_is_mirror_equivariant():
    import torch

    net = _random_unetr()
    image = _image((16, 16, 16), seed=3)  # one window: the gaussian blend is the identity
    span = ProgressSpan(None, 0, 1)
    mirrored = predict_zone(net, image, (16, 16, 16), 0.25, 1, span, "t", mirror_axes=(2,))
    with torch.inference_mode():
        x = torch.from_numpy(image)[None, None]
        plain = torch.softmax(net(x), 1)[0, 1].numpy()
        flipped = torch.flip(torch.softmax(net(torch.flip(x, (4,))), 1), (4,))[0, 1].numpy()
    np.testing.assert_allclose(mirrored, (plain + flipped) / 2, atol=1e-5)
    assert np.abs(plain - flipped).max() > 1e-3  # the network itself is not symmetric
    mirrored_of_flip = predict_zone(net, image[:, :, ::-1].copy(), (16, 16, 16), 0.25, 1, span, "t", mirror_axes=(2,))
    np.testing.assert_allclose(mirrored_of_flip, mirrored[:, :, ::-1], atol=1e-5)


def test_test_time_mirroring_costs_one_pass_per_axis_and_rejects_bad_axes():
    shape, roi = (40, 50, 33), (16, 16, 16)
    net = ThresholdNet(0.5)
    predict_zone(net, _image(shape), roi, 0.25, 2, ProgressSpan(None, 0, 1), "t", mirror_axes=(1, 2))
    assert net.windows == 3 * count_windows(shape, roi, 0.25)
    with pytest.raises(ValueError, match="mirror axes"):
        predict_zone(net, _image(shape), roi, 0.25, 2, ProgressSpan(None, 0, 1), "t", mirror_axes=(3,))


def test_bf16_forward_passes_change_the_map_only_by_bfloat16_rounding():
    """``precision="bf16"`` really runs the network in bfloat16 (the map differs from
    float32) and the map stays a float32 probability within bfloat16's rounding of it."""
    net = _random_unetr()
    image = _image((24, 20, 28), seed=5)
    span = ProgressSpan(None, 0, 1)
    fp32 = predict_zone(net, image, (16, 16, 16), 0.25, 2, span, "t")
    bf16 = predict_zone(net, image, (16, 16, 16), 0.25, 2, span, "t", precision="bf16")
    assert bf16.dtype == np.float32 and bf16.shape == fp32.shape
    difference = np.abs(bf16 - fp32)
    assert difference.max() > 1e-4, "bf16 gave the float32 map bit for bit: autocast did not engage"
    assert difference.max() < 0.05 and difference.mean() < 0.01
    assert 0.0 <= bf16.min() and bf16.max() <= 1.0


def test_unknown_precision_is_refused_before_any_window():
    net = ThresholdNet(0.5)
    with pytest.raises(ValueError, match="fp32, bf16"):
        predict_zone(net, _image((20, 20, 20)), (16, 16, 16), 0.25, 2, ProgressSpan(None, 0, 1), "t", precision="fp16")
    assert net.windows == 0


# ------------------------------------------------------------------ devices
@pytest.mark.parametrize("name", ["cpu", torch.device("cpu")])
def test_cpu_resolves(name):
    assert resolve_device(name) == torch.device("cpu")


@pytest.mark.parametrize("name,reason", [
    ("nonsense", "not a torch device"), ("", "not a torch device"), ("CPU", "not a torch device"),
    ("cuda:x", "not a torch device"), ("mps", "not supported"), ("meta", "not supported"),
])
def test_unusable_device_names_are_refused_with_what_to_give(name, reason):
    with pytest.raises(LungTumorSegError, match=reason) as error:
        resolve_device(name)
    assert "use cpu" in str(error.value) and "\n" not in str(error.value)


@pytest.mark.parametrize("name", ["cuda", "cuda:0"])
def test_cuda_is_refused_when_torch_sees_no_gpu(monkeypatch, name):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)  # as on this CPU-only machine
    with pytest.raises(LungTumorSegError, match=f"device '{name}': .*; use cpu"):
        resolve_device(name)


def test_cuda_resolves_when_torch_sees_a_gpu_and_a_missing_index_is_refused(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)  # what torch says on a 2-GPU machine
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    assert resolve_device("cuda") == torch.device("cuda")
    assert resolve_device("cuda:1") == torch.device("cuda", 1)
    with pytest.raises(LungTumorSegError, match="sees 2 CUDA GPU"):
        resolve_device("cuda:2")


def test_network_device_is_where_the_weights_are():
    assert network_device(_random_unetr()) == torch.device("cpu")
    assert network_device(_random_unetr().to("meta")).type == "meta"
    buffers_only = torch.nn.BatchNorm3d(1, affine=False).to("meta")
    assert network_device(buffers_only).type == "meta"
    assert network_device(ThresholdNet(0.5)) == torch.device("cpu")  # no weights: follows its input (CPU)


class _StopBeforeTheWindows(Exception):
    """Raised by the recording stand-in once it has seen the call (meta tensors hold no values)."""


def test_windows_go_to_the_networks_device_and_are_stitched_on_cpu(monkeypatch):
    """There is no GPU here: a network whose weights are on torch's ``meta`` device stands in for
    one on CUDA. MONAI's ``sliding_window_inference`` is wrapped to record where predict_zone asks
    it to run the windows (``sw_device``) and to stitch them (``device``); on CPU the real call
    then runs. Without ``sw_device`` a CUDA network would be given CPU windows and fail."""
    calls = []
    real = inference.sliding_window_inference

    def recording(inputs, *args, **kwargs):
        calls.append((inputs.device, kwargs.get("sw_device"), kwargs.get("device")))
        if torch.device(kwargs.get("sw_device") or inputs.device).type == "meta":
            raise _StopBeforeTheWindows
        return real(inputs, *args, **kwargs)

    monkeypatch.setattr(inference, "sliding_window_inference", recording)
    image, span = _image((20, 16, 18), seed=7), ProgressSpan(None, 0, 1)
    out = predict_zone(_random_unetr(), image, (16, 16, 16), 0.25, 2, span, "t")
    assert out.shape == image.shape and out.dtype == np.float32
    assert calls[-1] == (torch.device("cpu"), torch.device("cpu"), torch.device("cpu"))

    with pytest.raises(_StopBeforeTheWindows):
        predict_zone(_random_unetr().to("meta"), image, (16, 16, 16), 0.25, 2, span, "t")
    source, windows, stitched = calls[-1]
    assert source == torch.device("cpu"), "the whole crop stays in CPU memory"
    assert torch.device(windows).type == "meta", "the windows must be sent where the network's weights are"
    assert torch.device(stitched) == torch.device("cpu"), "the map must be stitched in CPU memory"
