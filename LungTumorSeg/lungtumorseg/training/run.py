"""The ``lungtumorseg train`` job: data → split → prepared zone crops → one UNETR per zone
→ model package with a card that records data, split, command, config and validation Dice.

Prepared crops are cached in the work folder (with the starting model's mined false positives
beside them), and each zone checkpoints, so re-running the same command after an interruption
resumes where it stopped, and another recipe from the same start prepares and mines nothing again.
"""

from __future__ import annotations

import hashlib
import json
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Callable

import numpy as np

from ..errors import DatasetError
from ..models.card import make_card
from ..models.package import ModelPackage, save_package
from ..preprocess import IntensityWindow
from ..zones import ZoneSpec
from .config import TrainConfig
from .dataset import CasePaths, discover_cases, split_cases
from .prepare import PreparedCase, ZoneCrop, prepare_case, source_slice_mm
from .trainer import checkpoint_finished, train_zone

Log = Callable[[str], None]


def _cache_key(cfg: TrainConfig) -> str:
    relevant = [cfg.spacing_mm, cfg.window_hu, cfg.zones, cfg.zone_overlap_mm, cfg.zone_margin_mm, cfg.zone_context_mm]
    if cfg.lung_channel:
        relevant.append("lung_channel")
    if cfg.blob_channel:
        relevant.append({"blob_channel": cfg.blob_channel})
    return hashlib.sha256(json.dumps(relevant).encode()).hexdigest()[:12]


def _copy_seed(case_name: str, tag: str) -> np.random.Generator:
    """The random stream of one changed copy, fixed by the case's name and the copy's tag
    (e.g. ``faint1``, ``synthetic2``), whatever the order of preparation."""
    return np.random.default_rng(int.from_bytes(hashlib.sha256(f"{case_name}~{tag}".encode()).digest()[:8], "little"))


def _faint_fader(cfg: TrainConfig, case_name: str, tag: str) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """The fading of one faint copy, ``fade(hu, tumour) -> faded hu``."""
    spec, spacing, rng = cfg.faint_tumours(), tuple(cfg.spacing_mm), _copy_seed(case_name, tag)

    def fade(hu: np.ndarray, tumour: np.ndarray) -> np.ndarray:
        return spec.apply(hu, tumour, spacing, rng)[0]

    return fade


def _tumour_inserter(cfg: TrainConfig, case_name: str, tag: str):
    """The drawing of one synthetic-tumour copy, ``insert(hu, tumour, lungs, slice_mm) -> (hu, tumour)``."""
    spec, spacing, rng = cfg.synthetic_tumours(), tuple(cfg.spacing_mm), _copy_seed(case_name, tag)

    def insert(hu: np.ndarray, tumour: np.ndarray, lungs: np.ndarray, slice_mm: float) -> tuple[np.ndarray, np.ndarray]:
        changed_hu, changed_tumour, _ = spec.apply(hu, tumour, lungs, spacing, slice_mm, rng)
        return changed_hu, changed_tumour

    return insert


def _prepare_cached(args: tuple[CasePaths, TrainConfig, Path, str, tuple[str, ...]]) -> PreparedCase | None:
    """One case's crops from the cache, or prepared and cached. A non-empty ``tag`` makes a
    changed copy of the case instead: ``faint<k>`` the k-th faint-tumour copy
    (``training.faint``), ``synthetic<k>`` the k-th synthetic-tumour copy
    (``training.insertion``). Every zone is cached; only the zones in ``keep`` are returned
    (a run that trains one zone holds a third of the crops in memory — at 1.0 mm a case's
    three crops take about 250 MB)."""
    case, cfg, cache, tag, keep = args
    name = f"{case.name}~{tag}" if tag else case.name
    file = cache / f"{name}.npz"
    if file.is_file():
        data = np.load(file)
        if "skipped" in data:
            return None
        zones = {}
        slice_mm = source_slice_mm(case.image)  # the crops' cache does not hold it; one header read per case
        for z in keep:
            image = data[f"{z}_image"]
            image = image[None] if image.ndim == 3 else image  # caches from before channel-first crops
            zones[z] = ZoneCrop(image, data[f"{z}_label"], tuple(int(v) for v in data[f"{z}_core"]), bool(tag),
                                slice_mm)
        return PreparedCase(name, zones)
    fade = _faint_fader(cfg, case.name, tag) if tag.startswith("faint") else None
    insert = _tumour_inserter(cfg, case.name, tag) if tag.startswith("synthetic") else None
    prepared = prepare_case(
        case, tuple(cfg.spacing_mm), IntensityWindow(*cfg.window_hu),
        ZoneSpec(cfg.zone_overlap_mm, cfg.zone_margin_mm, cfg.zone_context_mm), cfg.zones, cfg.lung_channel,
        cfg.blob_filter(), fade, insert,
    )
    tmp = file.with_name(file.stem + ".tmp.npz")
    if prepared is None:
        np.savez(tmp, skipped=np.array(1))
    else:
        arrays = {}
        for z, crop in prepared.zones.items():
            arrays[f"{z}_image"], arrays[f"{z}_label"] = crop.image, crop.label
            arrays[f"{z}_core"] = np.array(crop.core_z)
        np.savez(tmp, **arrays)
        prepared = PreparedCase(name, {z: prepared.zones[z] for z in keep})
    tmp.replace(file)
    return prepared


def _cached_case_has_tumour(file: Path, zones: list[str]) -> bool:
    """Whether a cached case has tumour in any of ``zones`` (reads only the label arrays)."""
    with np.load(file) as data:
        return any(data[f"{z}_label"].any() for z in zones)


def _prepare_many(jobs: list[tuple[CasePaths, TrainConfig, Path, int, tuple[str, ...]]], log: Log, what: str,
                  workers: int) -> list[PreparedCase]:
    """Run ``_prepare_cached`` over ``jobs`` in ``workers`` processes, logging progress as
    "prepared i/n <what>"; cases without lungs are left out with a note."""
    out: list[PreparedCase] = []
    with ProcessPoolExecutor(max_workers=max(workers, 1)) as pool:
        for i, (job, prepared) in enumerate(zip(jobs, pool.map(_prepare_cached, jobs)), start=1):
            if prepared is None:
                log(f"skipping {job[0].name}: no lungs found")
            else:
                out.append(prepared)
            if i % 5 == 0 or i == len(jobs):
                log(f"prepared {i}/{len(jobs)} {what}")
    return out


def _copy_cache(cache: Path, prefix: str, spec: dict) -> Path:
    """The sub-folder of changed copies, named by their parameters (changing them never
    reuses stale copies)."""
    folder = cache / f"{prefix}-{hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:12]}"
    folder.mkdir(exist_ok=True)
    return folder


def prepare_all(cases: list[CasePaths], cfg: TrainConfig, workdir: Path, log: Log, workers: int = 2,
                faint_copies: int = 0, zones: list[str] | None = None,
                synthetic_copies: int = 0) -> list[PreparedCase]:
    """Prepare (or load from cache) every case; cases without lungs are skipped with a note.
    Returns the crops of ``zones`` (default: every zone of ``cfg``; an empty list: none, the
    cases are only checked and cached); all zones are cached.

    With ``faint_copies``, each case that has tumour in one of its zones also gives that many
    faint-tumour copies (after all originals; cached in a sub-folder named by the fading
    parameters, so changing them never reuses stale copies). With ``synthetic_copies``, every
    case (with tumour or not) also gives that many synthetic-tumour copies, new tumours drawn
    into its lungs (``training.insertion``; cached the same way).
    """
    cache = workdir / f"cache-{_cache_key(cfg)}"
    cache.mkdir(parents=True, exist_ok=True)
    keep = tuple(cfg.zones if zones is None else zones)
    out = _prepare_many([(c, cfg, cache, "", keep) for c in cases], log, "cases", workers)
    found = {p.name for p in out}
    if faint_copies:
        faint_cache = _copy_cache(cache, "faint", cfg.faint_tumours().to_dict())
        # Tumour in any zone, whichever zones this run keeps: the same copies as a full run.
        with_tumour = {name for name in found if _cached_case_has_tumour(cache / f"{name}.npz", cfg.zones)}
        jobs = [(c, cfg, faint_cache, f"faint{k}", keep) for c in cases if c.name in with_tumour
                for k in range(1, faint_copies + 1)]
        out += _prepare_many(jobs, log, "faint-tumour copies", workers)
    if synthetic_copies:
        synthetic_cache = _copy_cache(cache, "synthetic", cfg.synthetic_tumours().to_dict())
        jobs = [(c, cfg, synthetic_cache, f"synthetic{k}", keep) for c in cases if c.name in found
                for k in range(1, synthetic_copies + 1)]
        out += _prepare_many(jobs, log, "synthetic-tumour copies", workers)
    return out


STOP_FILE = "STOP"


def _dataset_provenance(data: Path) -> dict:
    """Name/description of the data set and, for phantom sets, the seeds it was made from."""
    manifest = data / "dataset.json"
    if not manifest.is_file():
        return {}
    info = json.loads(manifest.read_text(encoding="utf-8"))
    out = {k: info[k] for k in ("name", "description") if k in info}
    if "seeds" in info:
        out["phantom_seeds"] = info["seeds"]
    return out


def _source_card(init_from: str | None) -> dict | None:
    """The card of the ``--init-from`` package (loaded once per run), or None."""
    if not init_from:
        return None
    from ..models.package import load_package

    return load_package(init_from).card.raw


def _initial_weights_provenance(source: dict | None) -> dict:
    """What a fine-tuned package started from: the source card's name, version, data,
    command and validation results (so the chain of training runs stays on record)."""
    if source is None:
        return {}
    training = source.get("training", {})
    validation = source.get("metrics", {}).get("validation", {})
    return {"initialised_from": {
        "name": source.get("name"), "version": source.get("version"), "zones": source.get("zones", {}).get("names"),
        "data": training.get("data"), "command": training.get("command"),
        "validation": {z: {k: v for k, v in m.items() if k != "history"} for z, m in validation.items()},
    }}


def validation_seen_in_training(source: dict | None, data: Path, validation_names: list[str]) -> list[str]:
    """Validation cases that the starting package (its card ``source``) was trained on.

    A fine-tuning run validated on cases its starting weights learned from measures
    memory, not generalisation; this finds that leak so it can be reported. Only cases of
    the same data folder count.
    """
    if source is None:
        return []
    training = source.get("training", {})
    if Path(str(training.get("data", ""))).resolve() != Path(data).resolve():
        return []
    seen = set(training.get("train_cases", []))
    return sorted(name for name in validation_names if name in seen)


def run_training(
    data: Path,
    out: Path,
    workdir: Path,
    cfg: TrainConfig,
    log: Log,
    command: str | None = None,
    only_zones: list[str] | None = None,
    prepare_only: bool = False,
) -> ModelPackage | None:
    """Train every zone (or ``only_zones``) and write the package to ``out``.

    Zones can be trained by separate processes at once (``only_zones``; each writes its
    checkpoint); a later run without ``only_zones`` resumes/collects them and writes the
    package. Creating ``<workdir>/STOP`` ends running zone trainings cleanly.
    Returns None when no package was written (``prepare_only`` or a subset of zones).
    """
    import torch

    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "checkpoints").mkdir(exist_ok=True)
    cases = discover_cases(data)
    train_cases, val_cases = split_cases(cases, cfg.val_fraction, cfg.split_seed, cfg.fold)
    log(f"{len(cases)} cases: {len(train_cases)} training, {len(val_cases)} validation")
    source_card = _source_card(cfg.init_from)
    leaked = validation_seen_in_training(source_card, data, [c.name for c in val_cases])
    if leaked:
        log(f"warning: the starting weights ({cfg.init_from}) were trained on {len(leaked)} of these validation "
            f"cases ({', '.join(leaked)}); validation Dice, the keep-the-start rule and threshold calibration "
            "will be optimistic for them. Use the same --split-seed in every stage of a recipe.")
    t0 = time.perf_counter()
    unknown = sorted(set(only_zones or []) - set(cfg.zones))
    if unknown:
        raise DatasetError(f"unknown zone(s) {unknown}; zones are {cfg.zones}")
    wanted = list(only_zones or cfg.zones)
    checkpoints = {zone: workdir / "checkpoints" / f"{zone}.pt" for zone in wanted}
    # Zones already trained (e.g. by parallel --zone runs) need no crops: at 1.0 mm the crops
    # of all three zones of 60 cases would take ~15 GB just to collect finished weights.
    pending = [zone for zone in wanted if prepare_only or not checkpoint_finished(checkpoints[zone], cfg, workdir / STOP_FILE)]
    if len(pending) < len(wanted):
        log(f"zone(s) {[z for z in wanted if z not in pending]} already trained: their crops are not loaded")
    train_prep = prepare_all(train_cases, cfg, workdir, log, faint_copies=cfg.faint_copies, zones=pending,
                             synthetic_copies=cfg.synthetic_copies)
    val_prep = prepare_all(val_cases, cfg, workdir, log, zones=pending)
    if not train_prep:
        raise DatasetError("no usable training case (lungs were not found in any image).")
    log(f"preparation took {time.perf_counter() - t0:.0f} s")
    if prepare_only:
        return None
    states, zone_metrics = {}, {}
    for zone in wanted:
        result = train_zone(
            zone,
            [p.zones[zone] for p in train_prep if zone in p.zones],
            [p.zones[zone] for p in val_prep if zone in p.zones],
            cfg,
            checkpoints[zone],
            log,
            workdir / STOP_FILE,
            # beside the prepared crops, so runs that share those crops (e.g. by a link) share the mining
            workdir / f"cache-{_cache_key(cfg)}" / "mined",
        )
        states[zone] = result.state
        zone_metrics[zone] = {
            "best_validation_dice": result.best_val_dice,
            # 0 = the starting weights (--init-from) were never beaten and are what the package holds
            "best_step": max(result.history, key=lambda h: h["val_dice"])["step"] if result.history else None,
            "steps": result.steps,
            "cpu_minutes" if cfg.device == "cpu" else "minutes": round(result.minutes, 1),
            "history": result.history,
            # which weights the package holds: those of best_step, or the final step's (--keep-weights last)
            "kept_weights": "step " + str(result.steps) if cfg.keep_weights == "last" else "best_step",
        }
    if only_zones and set(only_zones) != set(cfg.zones):
        log(f"zone(s) {only_zones} trained; run again without --zone to write the package")
        return None
    card = make_card(
        name=cfg.name,
        version=cfg.version,
        description=cfg.description,
        demo=cfg.demo,
        network=cfg.network,
        spacing_mm=cfg.spacing_mm,
        window_hu=cfg.window_hu,
        lung_channel=cfg.lung_channel,
        blob_channel=cfg.blob_channel,
        zone_names=cfg.zones,
        zone_overlap_mm=cfg.zone_overlap_mm,
        zone_margin_mm=cfg.zone_margin_mm,
        zone_context_mm=cfg.zone_context_mm,
        threshold=cfg.threshold,
        min_lesion_mm3=cfg.min_lesion_mm3,
        training={
            "data": str(data),
            **_dataset_provenance(data),
            "cases": len(cases),
            "train_cases": [c.name for c in train_cases],
            "validation_cases": [c.name for c in val_cases],
            "validation_cases_seen_by_starting_weights": leaked,
            "command": command or " ".join(sys.argv),
            "config": cfg.to_dict(),
            **_initial_weights_provenance(source_card),
        },
        metrics={"validation": zone_metrics},
    )
    package = save_package(out, card, states)
    log(f"model package written to {out}")
    return package
