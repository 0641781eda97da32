"""One look of the zone networks at a CT: canonical grid -> lungs -> zones -> input channels
-> per-zone UNETR -> superposed probability, mapped back to the input grid.

The normal look uses the card's grid. The magnified look (:mod:`lungtumorseg.magnify`)
resamples the CT ``zoom`` times finer and computes everything the networks see - zones,
their margins, the blob channel - as if the voxels still had the card's spacing, so the
networks meet the anatomy ``zoom`` times larger; the lungs themselves are found in true
millimetres (their thresholds and morphology are anatomical, not the networks' scale).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

import SimpleITK as sitk
import torch

from .inference import resolve_device, run_zones, superpose
from .lungs import LungMask, find_lungs
from .models.package import ModelPackage
from .postprocess import restrict_to_lung_region
from .preprocess import IntensityWindow, network_input, to_canonical, to_input_grid
from .progress import ProgressSpan
from .zones import Zone, ZoneSpec, make_zones


@dataclass
class NetworkPass:
    """What one look produced."""

    canonical: sitk.Image  # the CT (HU) on the look's canonical grid
    lungs: LungMask  # found on that grid
    zones: list[Zone]  # boxes on that grid (empty when no lungs)
    probability: Optional[sitk.Image]  # superposed zone probability on the input grid; None without lungs


def network_pass(
    image: sitk.Image,
    package: ModelPackage,
    spec: ZoneSpec,
    span: ProgressSpan,
    device: str | torch.device = "cpu",
    precision: str = "fp32",
    zoom: float = 1.0,
    lap: Callable[[str], None] = lambda stage: None,
) -> NetworkPass:
    """Run the package's zone networks on ``image`` (HU, not modified) seen ``zoom`` times
    magnified (1 = the card's own grid). ``lap(stage)`` is called after each stage so the
    caller can time it; progress goes to ``span``, which also carries the cancel check.
    ``device``: where the zone networks run (checked by :func:`resolve_device` before any work,
    so a wrong one fails at once with a readable message)."""
    torch_device = resolve_device(device)
    card = package.card
    nominal = card.spacing_mm
    grid = tuple(s / zoom for s in nominal)
    span.report("resampling to the model grid", 0.0)
    canonical = to_canonical(image, grid)
    hu = sitk.GetArrayFromImage(canonical)
    lap("preprocess")

    span.report("finding the lungs", 0.06)
    lungs = find_lungs(hu, grid)
    lap("lungs")
    if not lungs.found:
        return NetworkPass(canonical, lungs, [], None)

    # millimetres as the networks see them: the card's margins keep their physical size
    seen = ZoneSpec(overlap_mm=spec.overlap_mm * zoom, margin_mm=spec.margin_mm * zoom,
                    context_mm=spec.context_mm * zoom)
    zones = make_zones(lungs.mask, nominal, seen, tuple(card.zones))
    channels = network_input(hu, lungs.mask, IntensityWindow(*card.window_hu), card.lung_channel,
                             card.blob_filter, nominal)
    lap("input_channels")
    inf = card.get("inference", {})
    probs = run_zones(
        channels,
        zones,
        lambda zone: package.load_network(zone, torch_device),
        card.roi_size,
        float(inf.get("overlap", 0.25)),
        int(inf.get("sw_batch_size", 2)),
        span.sub(0.1, 0.9),
        card.mirror_axes,
        precision,
    )
    lap("inference")

    span.report("superposing zones", 0.9)
    merged = restrict_to_lung_region(superpose(hu.shape, zones, probs), lungs.mask, nominal, seen.margin_mm)
    on_grid = sitk.GetImageFromArray(merged)
    on_grid.CopyInformation(canonical)
    probability = to_input_grid(on_grid, image)
    lap("superpose_and_resample")
    return NetworkPass(canonical, lungs, zones, probability)
