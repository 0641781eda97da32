"""Region-wise inference: each zone's UNETR over its crop, then superposition.

Each zone model runs MONAI ``sliding_window_inference`` with gaussian blending over its
zone crop. The zone probability maps are superposed into one canonical-grid map with the
zones' body-axis weight profiles (a partition of unity, so overlaps blend smoothly and the
region outside every zone stays background).

Optional test-time mirroring (the card's ``inference.mirror_axes``, as nnU-Net does by
default, Isensee et al., Nature Methods 2021): every window is also evaluated mirrored along
each listed axis and the un-mirrored probabilities are averaged, which cancels part of the
network's orientation-specific noise at the cost of one extra pass per axis.

Optional bfloat16 forward passes (``precision="bf16"``, :mod:`lungtumorseg.precision`):
only the network runs under bfloat16 autocast; softmax, gaussian blending and the
superposition stay float32. Used to measure what bf16 changes
(``benchmarks/results/bf16_inference/``); ``predict`` runs float32.

Devices: the networks run where their weights are (``resolve_device`` checks a device name
once, before any work); each window is moved to that device and its probabilities are
stitched back in CPU memory, so a GPU holds only the network and one batch of windows
whatever the size of the CT.
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np
import torch
from monai.inferers import sliding_window_inference

from .errors import LungTumorSegError
from .precision import check_precision, forward_autocast
from .progress import ProgressSpan
from .zones import Zone


SUPPORTED_DEVICE_TYPES = ("cpu", "cuda")


def resolve_device(name: str | torch.device) -> torch.device:
    """The torch device ``name`` names, checked before any work: a name torch cannot parse, a
    device type the pipeline does not support (only cpu and cuda: mixed precision and the
    training defaults know no other) or a CUDA device torch cannot see raises a
    :class:`LungTumorSegError` whose message says what to give instead, so a wrong
    ``--device`` is one line for the user instead of a traceback deep in the first window."""
    try:
        device = torch.device(name)
    except (RuntimeError, TypeError, ValueError):
        raise LungTumorSegError(f"device {str(name)!r} is not a torch device; use cpu, cuda or cuda:N") from None
    if device.type not in SUPPORTED_DEVICE_TYPES:
        raise LungTumorSegError(f"device {str(name)!r} is not supported; use cpu, cuda or cuda:N")
    if device.type == "cuda":
        _check_cuda(device, str(name))
    return device


def _check_cuda(device: torch.device, name: str) -> None:
    """Refuse a CUDA device torch cannot use here, naming why (no CUDA build, no GPU, bad index)."""
    if not torch.cuda.is_available():
        why = ("this torch build has no CUDA support" if torch.version.cuda is None
               else "torch finds no usable CUDA GPU")
        raise LungTumorSegError(f"device {name!r}: {why} (torch {torch.__version__}); use cpu")
    count = torch.cuda.device_count()
    if device.index is not None and device.index >= count:
        raise LungTumorSegError(f"device {name!r}: torch sees {count} CUDA GPU(s), numbered 0 to {count - 1}")


def network_device(network: torch.nn.Module) -> torch.device:
    """Where ``network`` runs: the device of its first parameter or buffer (CPU for a module
    that holds neither, whose forward pass follows its input)."""
    for tensor in network.parameters():
        return tensor.device
    for tensor in network.buffers():
        return tensor.device
    return torch.device("cpu")


def count_windows(shape: tuple[int, ...], roi: tuple[int, ...], overlap: float) -> int:
    """Number of sliding windows MONAI will evaluate (for progress reporting)."""
    total = 1
    for size, r in zip(shape, roi):
        if size <= r:
            continue
        step = max(int(r * (1 - overlap)), 1)
        total *= math.ceil((size - r) / step) + 1
    return total


def mirrored_probability(network: torch.nn.Module, batch: torch.Tensor, mirror_axes: tuple[int, ...],
                         precision: str = "fp32") -> torch.Tensor:
    """Tumour probability (float32) of a (B, C, z, y, x) batch, averaged over the identity and a
    mirror along each spatial axis in ``mirror_axes`` (0 = z, 1 = y, 2 = x), each mirrored back.
    ``precision``: of the network's forward passes ("fp32" or "bf16")."""
    def probability(x: torch.Tensor) -> torch.Tensor:
        with forward_autocast(precision, str(x.device)):
            logits = network(x)
        return torch.softmax(logits.float(), dim=1)[:, 1:2]

    prob = probability(batch)
    for axis in mirror_axes:
        dim = 2 + int(axis)
        prob = prob + torch.flip(probability(torch.flip(batch, (dim,))), (dim,))
    return prob / (1 + len(mirror_axes))


def predict_zone(
    network: torch.nn.Module,
    image: np.ndarray,
    roi: tuple[int, int, int],
    overlap: float,
    sw_batch_size: int,
    span: ProgressSpan,
    stage: str,
    mirror_axes: tuple[int, ...] = (),
    precision: str = "fp32",
) -> np.ndarray:
    """Tumour probability (float32, (z, y, x)) for one zone crop of the (C, z, y, x) input.

    Cancellation is checked before every batch of windows, so a cancel takes effect within
    one window batch. ``mirror_axes``: test-time mirroring; ``precision``: of the forward
    passes (see the module doc). The windows run on the network's device; the input stays and
    the output is stitched in CPU memory.
    """
    check_precision(precision)
    if any(a not in (0, 1, 2) for a in mirror_axes):
        raise ValueError(f"mirror axes must be 0, 1 or 2 (z, y, x), got {list(mirror_axes)}")
    total = max(count_windows(image.shape[-3:], roi, overlap), 1)
    done = [0]

    def predictor(batch: torch.Tensor) -> torch.Tensor:
        span.check_cancel()
        with torch.inference_mode():
            prob = mirrored_probability(network, batch, mirror_axes, precision)
        done[0] += batch.shape[0]
        span.report(stage, done[0] / total)
        return prob

    if image.ndim == 3:
        image = image[None]
    tensor = torch.from_numpy(np.ascontiguousarray(image, dtype=np.float32))[None]
    with torch.inference_mode():
        prob = sliding_window_inference(
            tensor,
            roi_size=roi,
            sw_batch_size=sw_batch_size,
            predictor=predictor,
            overlap=overlap,
            mode="gaussian",
            padding_mode="constant",
            cval=0.0,
            sw_device=network_device(network),  # each batch of windows goes where the weights are
            device=torch.device("cpu"),  # stitched in CPU memory: GPU memory independent of the CT size
        )
    return prob[0, 0].numpy().astype(np.float32, copy=False)


def superpose(
    shape: tuple[int, int, int],
    zones: list[Zone],
    zone_probabilities: dict[str, np.ndarray],
) -> np.ndarray:
    """One canonical probability map: Σ_zone weight_zone(z) · p_zone, 0 outside all zones."""
    out = np.zeros(shape, dtype=np.float32)
    for zone in zones:
        prob = zone_probabilities[zone.name]
        w = zone.weights_z[zone.box[0]][:, None, None]
        out[zone.box] += prob * w
    np.clip(out, 0.0, 1.0, out=out)
    return out


def run_zones(
    image: np.ndarray,
    zones: list[Zone],
    load_network: Callable[[str], torch.nn.Module],
    roi: tuple[int, int, int],
    overlap: float,
    sw_batch_size: int,
    span: ProgressSpan,
    mirror_axes: tuple[int, ...] = (),
    precision: str = "fp32",
) -> dict[str, np.ndarray]:
    """Run each zone's network on its crop; progress is split by window counts."""
    counts = [count_windows(z.crop(image).shape[-3:], roi, overlap) for z in zones]
    total = float(sum(counts))
    start = 0.0
    probs: dict[str, np.ndarray] = {}
    for zone, n in zip(zones, counts):
        sub = span.sub(start / total, (start + n) / total)
        sub.report(f"loading {zone.name} zone model", 0.0)
        network = load_network(zone.name)
        probs[zone.name] = predict_zone(
            network, zone.crop(image), roi, overlap, sw_batch_size, sub, f"inference {zone.name} zone", mirror_axes,
            precision,
        )
        start += n
    return probs
