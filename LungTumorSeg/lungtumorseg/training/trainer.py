"""Zone-wise UNETR training loop: DiceCE, AdamW with warmup + cosine, validation Dice on
whole zones (sliding window), best-checkpoint selection, early stopping and resume.

Checkpoints (``<workdir>/checkpoints/<zone>.pt``) hold model, optimizer, schedule, step,
elapsed time and the best weights so far; re-running the same command resumes.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from ..models.network import build_unetr
from .augment import augment_batch, build_augmentation
from ..precision import check_precision, device_type, forward_autocast
from ..preprocess import IntensityWindow
from .config import TrainConfig
from .fresh_tumours import FreshTumourDrawer
from .losses import build_loss
from .mining import cached_false_positives, crop_logits
from .prepare import ZoneCrop
from .sampler import PatchSampler

Log = Callable[[str], None]


@dataclass
class ZoneResult:
    """What training one zone produced."""

    zone: str
    state: dict[str, torch.Tensor]
    best_val_dice: float
    steps: int
    minutes: float
    history: list[dict]


def validation_dice(net: torch.nn.Module, crops: list[ZoneCrop], roi: tuple[int, int, int], device: str) -> float:
    """Global Dice over the validation crops' zone cores (sliding window, gaussian)."""
    net.eval()
    inter, total = 0.0, 0.0
    for crop in crops:
        pred = crop_logits(net, crop, roi, device).argmax(1)[0].cpu().numpy() > 0
        lo, hi = crop.core_z
        pred, truth = pred[lo : hi + 1], crop.label[lo : hi + 1] > 0
        inter += float((pred & truth).sum())
        total += float(pred.sum() + truth.sum())
    net.train()
    return 1.0 if total == 0 else 2.0 * inter / total


def _snapshot(net: torch.nn.Module) -> dict[str, torch.Tensor]:
    """A detached CPU copy of the weights (the best checkpoint so far)."""
    return {k: v.detach().cpu().contiguous().clone() for k, v in net.state_dict().items()}


_INPUT_LAYERS = ("vit.patch_embedding", "encoder1.layer.conv1", "encoder1.layer.conv3")  # see the input channels
_POSITION_EMBEDDING = "vit.patch_embedding.position_embeddings"


def resize_position_embedding(value: torch.Tensor, tokens: int) -> torch.Tensor | None:
    """The transformer's learned position embedding, (1, n³, hidden), resampled to ``tokens``
    = m³ positions by trilinear interpolation over the cubic token grid.

    A window of another size (e.g. 64³ voxels on a 1.0 mm grid instead of 48³ at 1.5 mm)
    has another number of 16-voxel patches; interpolating the embedding keeps what each
    position meant relative to the window, as ViT does when fine-tuned at a higher
    resolution (Dosovitskiy et al., ICLR 2021, sec. 3.2), instead of starting it at random.
    Returns None when either grid is not a cube.
    """
    old_side, new_side = round(value.shape[1] ** (1 / 3)), round(tokens ** (1 / 3))
    if value.dim() != 3 or old_side ** 3 != value.shape[1] or new_side ** 3 != tokens:
        return None
    grid = value[0].T.reshape(1, value.shape[2], old_side, old_side, old_side)
    grid = torch.nn.functional.interpolate(grid, size=(new_side,) * 3, mode="trilinear", align_corners=False)
    return grid.reshape(value.shape[2], tokens).T[None].contiguous()


def transfer_weights(
    source: dict[str, torch.Tensor], target: dict[str, torch.Tensor]
) -> tuple[dict[str, torch.Tensor], list[str]]:
    """Start a network from another one's weights; returns the state and the fresh tensor names.

    * More input channels in the target (a CT-only model warm-starting one that also sees
      the lung prior): the new channels start at zero, so at step 0 the network computes
      exactly what the source computed and learns to use the new channel.
    * Another window size (``--roi``): the position embedding is interpolated to the new
      token grid (:func:`resize_position_embedding`); every other tensor's shape is the same.
    * Any other shape difference (e.g. a wider convolutional decoder, ``--feature-size``):
      that tensor keeps the target's fresh initialisation. The transformer, whose shapes do
      not depend on the decoder width, is carried over.
    """
    out, fresh = {}, []
    for key, want in target.items():
        value = source.get(key)
        if key == _POSITION_EMBEDDING and value is not None and value.shape != want.shape \
                and value.shape[2:] == want.shape[2:]:
            value = resize_position_embedding(value, want.shape[1])
        if value is not None and key.startswith(_INPUT_LAYERS) and value.dim() == want.dim() > 1 \
                and value.shape[1] < want.shape[1] \
                and value.shape[:1] + value.shape[2:] == want.shape[:1] + want.shape[2:]:
            padded = torch.zeros_like(want)
            padded[:, : value.shape[1]] = value
            value = padded
        if value is None or value.shape != want.shape:
            fresh.append(key)
            value = want
        out[key] = value
    return out, fresh


def _schedule(cfg: TrainConfig) -> Callable[[int], float]:
    def factor(step: int) -> float:
        if step < cfg.warmup_steps:
            return (step + 1) / cfg.warmup_steps
        progress = (step - cfg.warmup_steps) / max(cfg.steps - cfg.warmup_steps, 1)
        return 0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * min(progress, 1.0)))

    return factor


def training_autocast(cfg: TrainConfig) -> torch.autocast:
    """The autocast context of a training forward pass: bfloat16 with ``precision="bf16"``
    (on a CPU or a GPU), float16 on a GPU otherwise (with loss scaling), none (float32) on a
    CPU. Weights, optimiser state and the loss stay float32 in every case."""
    if check_precision(cfg.precision) == "bf16":
        return forward_autocast("bf16", cfg.device)
    return torch.autocast(device_type(cfg.device), enabled=device_type(cfg.device) == "cuda")


def _finished(step: int, elapsed_s: float, stale: int, has_best: bool, cfg: TrainConfig,
              stop_file: Path | None) -> bool:
    """Whether a zone training in this state has nothing left to do: all steps run, time
    budget spent, early-stopped, or asked to stop (``stop_file``) with best weights kept."""
    early_stopped = stale >= cfg.patience and cfg.keep_weights != "last"  # "last" never stops early
    return (step >= cfg.steps or bool(cfg.max_minutes and elapsed_s / 60 >= cfg.max_minutes)
            or early_stopped or (stop_file is not None and stop_file.exists() and has_best))


def checkpoint_finished(checkpoint: Path, cfg: TrainConfig, stop_file: Path | None = None) -> bool:
    """Whether ``checkpoint`` holds a finished zone training (``train_zone`` would only
    return its best weights). Lets a run that collects zones trained by parallel processes
    skip loading those zones' training crops."""
    if not checkpoint.is_file():
        return False
    ck = torch.load(checkpoint, map_location="cpu", weights_only=True)
    return _finished(int(ck["step"]), float(ck["elapsed"]), int(ck["stale"]), ck["best_state"] is not None, cfg,
                     stop_file)


def train_zone(
    zone: str,
    train_crops: list[ZoneCrop],
    val_crops: list[ZoneCrop],
    cfg: TrainConfig,
    checkpoint: Path,
    log: Log,
    stop_file: Path | None = None,
    mining_cache: Path | None = None,
) -> ZoneResult:
    """Train (or resume training) one zone's UNETR and return its best weights.

    Training ends at ``cfg.steps``, at the time budget, on early stopping, or as soon as
    ``stop_file`` exists (a clean stop: final validation, checkpoint, best weights).
    ``mining_cache``: the folder where the starting model's mined false positives are kept
    and looked up (``training.mining.cached_false_positives``); None mines without caching.
    """
    training_autocast(cfg)  # refuses an unknown precision before any work
    torch.manual_seed(cfg.seed)
    roi = tuple(cfg.network["img_size"])
    # channels-last 3D convolutions: 0.46 -> 0.36 s per training step on 2 CPU cores (benchmarks/train_step_cost.py)
    net = build_unetr(cfg.network).to(cfg.device, memory_format=torch.channels_last_3d)
    opt = torch.optim.AdamW(net.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, _schedule(cfg))
    if cfg.keep_weights not in ("best", "last"):
        raise ValueError(f"keep_weights must be 'best' or 'last', got {cfg.keep_weights!r}")
    loss_fn = build_loss(cfg.loss, cfg.tversky_beta, cfg.dice_batch)
    keep_last = cfg.keep_weights == "last"
    use_amp = cfg.device.startswith("cuda") and cfg.precision != "bf16"  # float16 with loss scaling
    scaler = torch.amp.GradScaler("cuda", enabled=use_amp)
    step, elapsed, best, best_state, history, stale = 0, 0.0, -1.0, None, [], 0
    mined: list[np.ndarray] | None = None
    partial_start = False  # some tensors could not be carried over from --init-from
    if checkpoint.is_file():
        ck = torch.load(checkpoint, map_location=cfg.device, weights_only=True)
        net.load_state_dict(ck["model"])
        opt.load_state_dict(ck["optimizer"])
        sched.load_state_dict(ck["scheduler"])
        step, elapsed, best = int(ck["step"]), float(ck["elapsed"]), float(ck["best"])
        best_state, history, stale = ck["best_state"], list(ck["history"]), int(ck["stale"])
        if ck.get("mined") is not None:
            mined = [t.numpy().astype(np.int64) for t in ck["mined"]]
        log(f"[{zone}] resumed at step {step} (best validation Dice {best:.3f})")
    elif cfg.init_from:
        from ..models.package import load_package

        source = load_package(cfg.init_from)
        init_zone = zone if zone in source.card.zones else source.card.zones[0]
        source_state = source.load_network(init_zone, cfg.device).state_dict()
        state, fresh = transfer_weights(source_state, net.state_dict())
        net.load_state_dict(state)
        partial_start = bool(fresh)
        resized = _POSITION_EMBEDDING not in fresh and source_state[_POSITION_EMBEDDING].shape != state[_POSITION_EMBEDDING].shape
        log(f"[{zone}] initialised from {cfg.init_from}"
            + (f" ({len(state) - len(fresh)} of {len(state)} tensors; {len(fresh)} start fresh because their shapes "
               f"differ, e.g. {fresh[0]})" if fresh else "")
            + (f"; position embedding interpolated from {source_state[_POSITION_EMBEDDING].shape[1]} to "
               f"{state[_POSITION_EMBEDDING].shape[1]} tokens (another window size)" if resized else ""))
    def stop_requested() -> bool:
        return stop_file is not None and stop_file.exists()

    if _finished(step, elapsed, stale, best_state is not None, cfg, stop_file):
        log(f"[{zone}] already finished")
        return ZoneResult(zone, _kept(net, best_state, keep_last), best, step, elapsed / 60, history)

    if cfg.mined_ratio > 0 and mined is None:
        started = time.perf_counter()
        # Changed copies (faint or synthetic tumours) share their original's background:
        # mining them again would cost as much and find the same places.
        originals = [crop for crop in train_crops if not crop.is_copy]
        voxels, cached = cached_false_positives(net, originals, roi, cfg.device, cfg.mining_threshold, mining_cache)
        found = iter(voxels)
        mined = [np.empty((0, 3), dtype=np.int64) if crop.is_copy else next(found) for crop in train_crops]
        log(f"[{zone}] mined false positives of the starting model: {sum(len(v) for v in mined)} sampled voxels "
            f"in {sum(1 for v in mined if len(v))} of {len(originals)} training crops "
            + (f"(read from {cached})" if cached else f"({time.perf_counter() - started:.0f} s)"))
    mined_tensors = None if mined is None else [torch.from_numpy(v.astype(np.int32)) for v in mined]
    fresh = FreshTumourDrawer(cfg.synthetic_tumours(), IntensityWindow(*cfg.window_hu), tuple(cfg.spacing_mm),
                              cfg.blob_filter()) if cfg.fresh_tumour_ratio > 0 else None
    sampler = PatchSampler(train_crops, roi, cfg.positive_ratio, cfg.seed * 1000 + step,
                           cfg.lung_ratio if cfg.lung_channel else 0.0, cfg.dense_level(),
                           mined, cfg.mined_ratio, cfg.positive_sampling, fresh, cfg.fresh_tumour_ratio)
    augment = build_augmentation(cfg.seed * 1000 + step, cfg.elastic_prob)

    def save() -> None:
        tmp = checkpoint.with_suffix(".tmp")
        torch.save(
            {"model": net.state_dict(), "optimizer": opt.state_dict(), "scheduler": sched.state_dict(),
             "step": step, "elapsed": elapsed, "best": best, "best_state": best_state,
             "history": history, "stale": stale,
             "mined": mined_tensors},
            tmp,
        )
        tmp.replace(checkpoint)

    if cfg.init_from and step == 0 and best_state is None and val_crops and not partial_start:
        # The starting weights compete too: a fine-tune that never beats them keeps them.
        # (Not when part of the network starts fresh: that network is not the source model.)
        best = validation_dice(net, val_crops, roi, cfg.device)
        best_state = _snapshot(net)
        history.append({"step": 0, "loss": None, "val_dice": best, "minutes": 0.0})
        log(f"[{zone}] validation Dice {best:.3f} of the starting weights (step 0)")
    net.train()
    running, t_last = [], time.perf_counter()
    while step < cfg.steps:
        images, labels = augment_batch(augment, *sampler.batch(cfg.batch_size), cfg.lung_channel)
        x = torch.from_numpy(images).to(cfg.device, memory_format=torch.channels_last_3d)
        y = torch.from_numpy(labels.astype(np.int64)).to(cfg.device)
        with training_autocast(cfg):
            logits = net(x)
        loss = loss_fn(logits.float(), y)  # the loss in float32 whatever the forward pass ran in
        opt.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        if cfg.grad_clip:
            scaler.unscale_(opt)
            torch.nn.utils.clip_grad_norm_(net.parameters(), cfg.grad_clip)
        scaler.step(opt)
        scaler.update()
        sched.step()
        step += 1
        now = time.perf_counter()
        elapsed += now - t_last
        t_last = now
        running.append(loss.item())
        if step % 10 == 0:
            rate = elapsed / step
            log(f"[{zone}] step {step}/{cfg.steps} loss {np.mean(running[-10:]):.4f} "
                f"lr {sched.get_last_lr()[0]:.2e} {rate:.2f} s/step elapsed {elapsed / 60:.1f} min")
        last = step >= cfg.steps or bool(cfg.max_minutes and elapsed / 60 >= cfg.max_minutes) or stop_requested()
        if step % cfg.val_every == 0 or last:
            dice = validation_dice(net, val_crops, roi, cfg.device) if val_crops else float("nan")
            history.append({"step": step, "loss": float(np.mean(running[-cfg.val_every:])), "val_dice": dice,
                            "minutes": elapsed / 60})
            improved = not val_crops or dice > best
            if improved:
                best, stale = (dice if val_crops else best), 0
                best_state = _snapshot(net)
            else:
                stale += 1
            log(f"[{zone}] validation Dice {dice:.3f} (best {best:.3f}) at step {step}")
            save()
            if stale >= cfg.patience and not keep_last:
                log(f"[{zone}] early stop: no improvement in {cfg.patience} validations")
                break
            if last:
                break
        elif step % cfg.checkpoint_every == 0:
            save()
    save()
    if keep_last:
        log(f"[{zone}] keeping the final step's weights (step {step}; --keep-weights last)")
    return ZoneResult(zone, _kept(net, best_state, keep_last), best, step, elapsed / 60, history)


def _kept(net: torch.nn.Module, best_state: dict | None, keep_last: bool) -> dict:
    """The weights a zone ends with: the final step's, or the best validated ones."""
    return net.state_dict() if keep_last or best_state is None else best_state
