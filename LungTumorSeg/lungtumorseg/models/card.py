"""Building the model card (``model.json``) that travels with every package."""

from __future__ import annotations

from typing import Any

from ..preprocess import input_channel_names
from ..terminology import LESION_TERMINOLOGY
from .package import DEMO_WARNING


def make_card(
    *,
    name: str,
    version: str,
    description: str,
    demo: bool,
    network: dict[str, Any],
    spacing_mm: list[float],
    window_hu: list[float],
    zone_names: list[str],
    zone_overlap_mm: float,
    zone_margin_mm: float,
    zone_context_mm: float,
    threshold: float,
    min_lesion_mm3: float,
    training: dict[str, Any],
    metrics: dict[str, Any] | None = None,
    intended_use: str | None = None,
    lung_channel: bool = False,
    blob_channel: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A complete card except ``weights``, which :func:`save_package` fills in."""
    use = intended_use or (
        "Demonstration of the LungTumorSeg pipeline. " + DEMO_WARNING
        if demo
        else "Research use: automatic segmentation of primary lung tumours in chest CT. "
        "Not a medical device; results must be reviewed by a qualified reader."
    )
    card: dict[str, Any] = {
        "name": name,
        "version": version,
        "description": description,
        "demo": demo,
        "intended_use": use,
        "network": network,
        "preprocessing": {
            "spacing_mm": spacing_mm,
            "orientation": "LPS axis-aligned (canonical grid covering the input)",
            "intensity_window_hu": window_hu,
            "normalisation": "clip to window, scale to [0, 1]",
            "lung_channel": lung_channel,
            **({"blob_channel": blob_channel} if blob_channel else {}),
            "input_channels": input_channel_names(lung_channel, bool(blob_channel)),
        },
        "inference": {"roi_size": network["img_size"], "sw_batch_size": 2, "overlap": 0.25, "blend_mode": "gaussian"},
        "zones": {
            "names": zone_names,
            "split": "thirds of the lungs' superior-inferior extent",
            "overlap_mm": zone_overlap_mm,
            "margin_mm": zone_margin_mm,
            "context_mm": zone_context_mm,
        },
        "postprocessing": {"threshold": threshold, "min_lesion_mm3": min_lesion_mm3},
        "labels": {
            "0": {"name": "background"},
            "1": {"name": "lung tumour", "terminology": LESION_TERMINOLOGY},
        },
        "training": training,
        "metrics": metrics or {},
    }
    if demo:
        card["warning"] = DEMO_WARNING
    return card
