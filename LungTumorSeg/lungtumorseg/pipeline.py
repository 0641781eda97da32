"""The whole segmentation run: CT image in, lesion labels + probability + measurements out.

image → canonical grid → lungs → zones → per-zone UNETR → superpose → back to the input
grid (:mod:`lungtumorseg.network_pass`) → [the magnified second look, when the card has one
(:mod:`lungtumorseg.magnify`)] → threshold/clean/label [→ join the magnified components touching
the lesions, when the look says so] → measure. Each step is a function of
its own module; this file only wires them in that order, times them and reports progress.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Optional

import numpy as np
import SimpleITK as sitk
import torch

from .candidate_check import with_cutoff
from .magnify import add_confirmed
from .measure import MAGNIFIED, Lesion
from .models.package import ModelPackage
from .network_pass import network_pass
from .postprocess import LesionFilter
from .precision import check_precision
from .progress import CancelCheck, ProgressCallback, ProgressSpan
from .relabel import CONFIRMED_KEY, MAGNIFIED_JOIN_KEY, MeasureContext, lesions_from_probability
from .zones import ZoneSpec, lung_extent_mm


@dataclass
class SegmentOptions:
    """User-adjustable settings; ``None`` means the model card's default."""

    threshold: Optional[float] = None
    min_lesion_mm3: Optional[float] = None
    zone_overlap_mm: Optional[float] = None
    threads: Optional[int] = None
    device: str = "cpu"
    min_peak_probability: Optional[float] = None
    max_elongation: Optional[float] = None
    max_mean_hu: Optional[float] = None
    zone_limits: bool = True  # apply the card's zone limits (postprocess module doc)
    outline_growth: bool = True  # grow kept lesions' outlines as the card says (outline module doc)
    candidate_check: bool = True  # let the package's candidate classifier judge the candidates (candidate_check)
    candidate_cutoff: Optional[float] = None  # its cut-off instead of the card's (candidate_check.with_cutoff)
    # "fp32" or "bf16": the networks' forward passes (lungtumorseg.precision). For measurement
    # only, not offered by `predict`: with 0.6.1's float32-calibrated operating point, bf16 kept
    # 3 more false findings on 56 phantoms for 0.68x the inference time
    # (benchmarks/results/bf16_inference/); a package would have to be calibrated in bf16.
    precision: str = "fp32"
    # the card's magnified second look (lungtumorseg.magnify) when it has one; False skips it (the
    # look's network time is about zoom^3 times the normal look's: 3.4x at zoom 1.5)
    magnified_look: bool = True


@dataclass
class SegmentationResult:
    """Everything a run produces, all images on the input grid."""

    status: str  # "ok" or "no_lungs"
    message: str
    labels: sitk.Image
    probability: sitk.Image
    lesions: list[Lesion]
    threshold: float
    timings_s: dict[str, float] = field(default_factory=dict)
    lung_volume_ml: float = 0.0
    zones_lps_z_mm: dict[str, list[float]] = field(default_factory=dict)
    lung_z_lps_mm: Optional[tuple[float, float]] = None
    lesion_filter: Optional[LesionFilter] = None  # what decided which components are lesions
    candidate_cutoff: Optional[float] = None  # the candidate classifier's cut-off, when one judged
    midline_x_lps_mm: Optional[float] = None  # between the two lungs (lesion side)
    precision: str = "fp32"  # of the networks' forward passes
    magnified_look: Optional[dict[str, Any]] = None  # what the magnified look did (None: not run)
    confirmed_lps: tuple = ()  # its confirmed candidates (MeasureContext.confirmed_lps)
    magnified_probability: Optional[sitk.Image] = None  # the magnified look's own map (input grid), when it ran
    magnified_join: bool = False  # the final lesions took in the magnified components touching them

    @property
    def postprocessing(self) -> Optional[dict[str, Any]]:
        """The operating point of the lesions: threshold, lesion filter, the candidate
        classifier's cut-off when one judged and ``magnified_join`` when the look's join ran."""
        if self.lesion_filter is None:
            return None
        return {"threshold": self.threshold, **self.lesion_filter.to_dict(),
                **({} if self.candidate_cutoff is None else {"candidate_check_cutoff": self.candidate_cutoff}),
                **({MAGNIFIED_JOIN_KEY: True} if self.magnified_join else {})}

    def report(self, input_name: str, package: ModelPackage) -> dict[str, Any]:
        """The JSON report (the contract used by the Slicer module and batch users)."""
        return {
            "status": self.status,
            "message": self.message,
            "input": input_name,
            "model": package.card.summary(),
            "threshold": self.threshold,
            "precision": self.precision,
            "postprocessing": self.postprocessing,
            "lung_volume_ml": self.lung_volume_ml,
            "zones_lps_z_mm": self.zones_lps_z_mm,
            "lung_z_lps_mm": list(self.lung_z_lps_mm) if self.lung_z_lps_mm else None,
            "midline_x_lps_mm": self.midline_x_lps_mm,
            CONFIRMED_KEY: [list(point) for point in self.confirmed_lps],
            "magnified_look": self.magnified_look,
            "timings_s": self.timings_s,
            "lesions": [lesion.to_dict() for lesion in self.lesions],
        }


def _empty_like(image: sitk.Image, pixel: int) -> sitk.Image:
    out = sitk.Image(image.GetSize(), pixel)
    out.CopyInformation(image)
    return out


def _prefixed(span: ProgressSpan, prefix: str) -> ProgressSpan:
    """``span`` with ``prefix`` before every stage text it reports."""
    callback = span.callback
    if callback is None:
        return span
    return ProgressSpan(lambda stage, fraction: callback(prefix + stage, fraction), span.start, span.end, span.cancel)


def segment(
    image: sitk.Image,
    package: ModelPackage,
    options: SegmentOptions = SegmentOptions(),
    progress: Optional[ProgressCallback] = None,
    cancel: Optional[CancelCheck] = None,
) -> SegmentationResult:
    """Segment lung tumours in ``image`` (HU) with ``package``; the image is not modified."""
    card = package.card
    post = card["postprocessing"]
    threshold = float(options.threshold if options.threshold is not None else post["threshold"])
    lesion_filter = card.lesion_filter.overridden(
        min_lesion_mm3=options.min_lesion_mm3, min_peak_probability=options.min_peak_probability,
        max_elongation=options.max_elongation, max_mean_hu=options.max_mean_hu, zone_limits=options.zone_limits,
        outline_growth=options.outline_growth)
    if not 0.0 < threshold < 1.0:  # refuse before any work (and on images without lungs too)
        raise ValueError(f"threshold must be between 0 and 1, got {threshold}")
    check_precision(options.precision)
    check = with_cutoff(package.candidate_check() if options.candidate_check else None, options.candidate_cutoff)
    zcfg = card["zones"]
    spec = ZoneSpec(
        overlap_mm=float(options.zone_overlap_mm if options.zone_overlap_mm is not None else zcfg["overlap_mm"]),
        margin_mm=float(zcfg["margin_mm"]),
        context_mm=float(zcfg["context_mm"]),
    )
    if options.threads:
        torch.set_num_threads(int(options.threads))
    span = ProgressSpan(progress, 0.0, 1.0, cancel)
    timings: dict[str, float] = {}
    tick = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal tick
        now = time.perf_counter()
        timings[name] = round(now - tick, 3)
        tick = now

    look = card.magnified_look if options.magnified_look else None
    look_check = package.magnified_check() if look else None  # refuse damaged weights before any work
    # the magnified pass costs about zoom^3 times the normal one: the bar is split in that ratio
    split = 1.0 if look is None else 0.95 / (1.0 + look.zoom ** 3)
    normal = network_pass(image, package, spec, span.sub(0.0, split), options.device, options.precision, lap=lap)
    lungs, canonical, zones = normal.lungs, normal.canonical, normal.zones
    if not lungs.found:
        return SegmentationResult(
            "no_lungs", lungs.message, _empty_like(image, sitk.sitkUInt16),
            _empty_like(image, sitk.sitkFloat32), [], threshold, timings, lesion_filter=lesion_filter,
            precision=options.precision,
        )
    probability = normal.probability
    spacing = card.spacing_mm
    origin_z = canonical.GetOrigin()[2]
    zones_z = {
        z.name: [float(origin_z + z.box[0].start * spacing[2]), float(origin_z + (z.box[0].stop - 1) * spacing[2])]
        for z in zones
    }
    look_summary = None
    confirmed: tuple = ()
    magnified_map: Optional[sitk.Image] = None
    if look is not None:
        magnified = network_pass(image, package, spec, _prefixed(span.sub(split, 0.95), "magnified look: "),
                                 options.device, options.precision, zoom=look.zoom)
        look_summary = {**look.to_card(), "status": "ok" if magnified.lungs.found else "no_lungs",
                        "candidates": 0, "confirmed": 0}
        if magnified.probability is not None:
            added = add_confirmed(sitk.GetArrayFromImage(probability), sitk.GetArrayFromImage(magnified.probability),
                                  image, threshold, lesion_filter.min_lesion_mm3, look_check, look)
            merged = sitk.GetImageFromArray(added.probability)
            merged.CopyInformation(probability)
            probability = merged
            look_summary.update(candidates=len(added.scores), confirmed=len(added.confirmed))
            confirmed = added.points
            magnified_map = magnified.probability
        lap("magnified_look")

    span.report("labelling lesions", 0.95)
    lz = lung_extent_mm(lungs.mask, spacing)
    lung_z_lps = (float(origin_z + lz[0]), float(origin_z + lz[1]))
    xs = [np.nonzero(lungs.labels == k)[2].mean() for k in (1, 2) if (lungs.labels == k).any()]
    midline = canonical.GetOrigin()[0] + float(np.mean(xs)) * spacing[0] if len(xs) == 2 else None
    context = MeasureContext(lung_z_lps, midline, confirmed)
    join = look is not None and look.join_touching and magnified_map is not None
    labels, lesions = lesions_from_probability(probability, image, threshold, lesion_filter, context, check,
                                               magnified_map if join else None)
    lap("postprocess_and_measure")
    span.report("done", 1.0)
    n = len(lesions)
    by_look = sum(lesion.found_by == MAGNIFIED for lesion in lesions)
    message = (f"{n} lesion{'s' if n != 1 else ''} found"
               + (f" ({by_look} by the magnified second look)" if by_look else "") + f"; {lungs.message}")
    return SegmentationResult(
        "ok", message, labels, probability, lesions, threshold, timings,
        lungs.volume_ml, zones_z, lung_z_lps, lesion_filter, check.cutoff if check else None, midline,
        options.precision, look_summary, confirmed, magnified_map, join,
    )
