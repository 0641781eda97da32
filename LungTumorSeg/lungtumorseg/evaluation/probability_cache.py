"""Probability maps of calibration cases, computed once by the pipeline and kept on disk.

Calibrating an operating point, choosing outline growth and drawing a FROC curve all start
from the same per-case tumour probability map (on the input grid) and the lungs' LPS
z-extent that placed lesions in zones. Inference is the slow part, so the maps are cached
as float16 ``<case>-<key>.npy`` beside a ``.json`` with the extent. The key names the
weights and the core version (a pipeline change, e.g. in the lung finder, makes old maps
stale), the test-time mirroring and, for bfloat16 maps, the precision.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import SimpleITK as sitk

from .. import __version__
from ..io import read_image
from ..magnify import ConfirmedPoint
from ..models.package import ModelPackage
from ..pipeline import SegmentOptions, segment
from ..precision import check_precision
from ..training.dataset import CasePaths


def cache_key(package: ModelPackage, mirror: list[int], precision: str = "fp32") -> str:
    """Cache name of a package's maps under mirroring ``mirror``: the first six hex digits of
    each zone's weight SHA-256, the core version, the mirror axes and "-bf16" for maps whose
    forward passes ran in bfloat16 (float32 keys are unchanged, so existing caches stay valid),
    and, when the card has a magnified look, its zoom, cut-off and the first six hex digits of
    the weights of the classifier that confirms its candidates (the maps carry the regions it
    confirmed; keys of cards without one are unchanged)."""
    weights = "".join(package.card.raw["weights"][z]["sha256"][:6] for z in package.card.zones)
    suffix = "" if check_precision(precision) == "fp32" else f"-{precision}"
    look = package.card.magnified_look
    if look is not None:
        from ..magnify import CARD_SECTION

        weights_of = CARD_SECTION if CARD_SECTION in package.card.raw["weights"] else "candidate_check"
        suffix += f"-z{look.zoom:g}c{look.cutoff:g}w{package.card.raw['weights'][weights_of]['sha256'][:6]}"
    return f"{weights}-v{__version__}-m{''.join(map(str, mirror))}{suffix}"


def cached_probability(case: CasePaths, package: ModelPackage, threads: int, cache: Path | None,
                       key: str, precision: str = "fp32") -> tuple[np.ndarray, tuple[float, float] | None]:
    """The case's probability map (input grid, float32) and the lungs' LPS z-extent the run
    found, from ``cache`` when present there, else by running the pipeline (and keeping the
    result in ``cache`` when one is given). With a cache the map always has the cache's
    float16 precision, so a first run and a re-run from the cache see the same values.
    ``precision``: of the pipeline's forward passes; ``key`` must be made with the same one."""
    cached, extent = _map_files(cache, case.name, key) if cache else (None, None)
    if cached and cached.is_file() and extent.is_file():
        lung_z = json.loads(extent.read_text(encoding="utf-8"))["lung_z_lps_mm"]
        return np.load(cached).astype(np.float32), tuple(lung_z) if lung_z else None
    result = segment(read_image(case.image), package, SegmentOptions(threads=threads, precision=precision))
    prob = sitk.GetArrayFromImage(result.probability)
    if cache:
        prob = store_probability(cache, case.name, key, prob, result.lung_z_lps_mm, result.confirmed_lps,
                                 result.magnified_probability)
    return prob, result.lung_z_lps_mm


def store_probability(cache: Path, case_name: str, key: str, probability: np.ndarray,
                      lung_z: tuple[float, float] | None, confirmed: tuple = (),
                      magnified: "sitk.Image | np.ndarray | None" = None) -> np.ndarray:
    """Keep one case's map (input grid) and the lungs' LPS z-extent in ``cache`` under ``key``,
    as :func:`cached_probability` reads them; returns the map as stored (float16 values, as
    float32), which is what every later read of the cache sees. Lets a run that computed the
    map anyway (the held-out benchmark) spare the FROC and calibration scripts a second
    inference. ``confirmed``: the points of the candidates the magnified look confirmed
    (``SegmentationResult.confirmed_lps``), kept beside the extent so they are not lost with
    the run (:func:`cached_confirmed` reads them back: ``froc_phantoms.py`` and ``misses.py``
    apply them; the threshold calibration does not, it calibrates packages without a look).
    ``magnified``: the magnified look's own map (``SegmentationResult.magnified_probability``),
    kept as float16 ``<case>-<key>-magnified.npy`` (:func:`cached_magnified`) for scripts that
    repeat the look's join or study the look."""
    cached, extent = _map_files(Path(cache), case_name, key)
    cached.parent.mkdir(parents=True, exist_ok=True)
    stored = np.asarray(probability).astype(np.float16)
    np.save(cached, stored)
    record = {"lung_z_lps_mm": list(lung_z) if lung_z else None}
    if confirmed:
        record["confirmed_by_magnified_look"] = [list(point) for point in confirmed]
    if magnified is not None:
        values = sitk.GetArrayViewFromImage(magnified) if isinstance(magnified, sitk.Image) else magnified
        np.save(_magnified_file(cached), np.asarray(values).astype(np.float16))
    extent.write_text(json.dumps(record), encoding="utf-8")
    return stored.astype(np.float32)


def cached_magnified(cache: Path, case_name: str, key: str) -> np.ndarray | None:
    """The magnified look's own map of one cached case (float32 from float16; None when the
    run had no look or the cache does not hold it)."""
    path = _magnified_file(_map_files(Path(cache), case_name, key)[0])
    return np.load(path).astype(np.float32) if path.is_file() else None


def _magnified_file(map_file: Path) -> Path:
    return map_file.with_name(map_file.stem + "-magnified.npy")


def cached_confirmed(cache: Path, case_name: str, key: str) -> tuple[ConfirmedPoint, ...]:
    """The points of the candidates the magnified look confirmed in one cached map (empty when
    the card has no look, none was confirmed or the map is not cached): what a script reading
    the cache needs to keep those candidates as the pipeline does."""
    extent = _map_files(Path(cache), case_name, key)[1]
    if not extent.is_file():
        return ()
    record = json.loads(extent.read_text(encoding="utf-8"))
    return tuple(tuple(float(v) for v in point) for point in record.get("confirmed_by_magnified_look", []))


def _map_files(cache: Path, case_name: str, key: str) -> tuple[Path, Path]:
    """The map (``.npy``) and lung-extent (``.json``) files of one case under one key."""
    cached = cache / f"{case_name}-{key}.npy"
    return cached, cached.with_suffix(".json")
