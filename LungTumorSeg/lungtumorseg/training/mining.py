"""False-positive mining: where does the starting network see tumour that is not there?

A fine-tuning run that starts from a model (``init_from``) first runs that model over its
training crops, exactly as inference would (sliding window, gaussian blending), and keeps
the voxels it calls tumour with probability >= ``threshold`` although the label has no
tumour within ``clearance`` voxels. A share of the training patches is then centred on
them: the structures this network confuses with tumour (hilar vessels, the heart border,
airway walls), not just any dense voxel. This is hard-negative mining as detection and
CAD systems use it; it costs one inference pass over the training crops (about 27 minutes
per zone for 153 crops on 2 cores), so the result is cached: every recipe tried from the same
starting networks on the same crops mines once (:func:`cached_false_positives`).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import torch
from monai.inferers import sliding_window_inference
from scipy import ndimage as ndi

from .prepare import ZoneCrop


CLEARANCE = 2  # voxels between a false positive and the nearest tumour voxel
STRIDE = 5  # every STRIDE-th false-positive voxel is kept (a light index for sampling)
OVERLAP = 0.25  # sliding-window overlap of the mining pass


def false_positive_voxels(
    probability: np.ndarray, label: np.ndarray, core_z: tuple[int, int], threshold: float,
    clearance: int = CLEARANCE, stride: int = STRIDE,
) -> np.ndarray:
    """(N, 3) indices of every ``stride``-th voxel with ``probability >= threshold`` that is
    farther than ``clearance`` voxels from any tumour, inside the z-range ``core_z``."""
    cube = np.ones((3, 3, 3), bool)  # "within n voxels" in every direction, diagonals included
    near_tumour = ndi.binary_dilation(label > 0, cube, iterations=clearance) if clearance else label > 0
    lo, hi = core_z
    candidates = (probability[lo : hi + 1] >= threshold) & ~near_tumour[lo : hi + 1]
    vox = np.argwhere(candidates)[::stride]
    vox[:, 0] += lo
    return vox


def crop_logits(net: torch.nn.Module, crop: ZoneCrop, roi: tuple[int, int, int], device: str) -> torch.Tensor:
    """The network's logits (1, 2, z, y, x) over a whole crop, slid as inference slides it.
    Shared by mining and by the trainer's validation."""
    image = torch.from_numpy(crop.image.astype(np.float32))[None].to(device)
    with torch.inference_mode():
        return sliding_window_inference(image, roi, 2, net, overlap=OVERLAP, mode="gaussian")


def tumour_probability(net: torch.nn.Module, crop: ZoneCrop, roi: tuple[int, int, int], device: str) -> np.ndarray:
    """The network's tumour probability over a whole crop."""
    return torch.softmax(crop_logits(net, crop, roi, device), dim=1)[0, 1].cpu().numpy()


def mine_false_positives(
    net: torch.nn.Module, crops: list[ZoneCrop], roi: tuple[int, int, int], device: str, threshold: float,
) -> list[np.ndarray]:
    """False-positive voxel indices per crop (see :func:`false_positive_voxels`)."""
    was_training = net.training
    net.eval()
    try:
        return [
            false_positive_voxels(tumour_probability(net, crop, roi, device), crop.label, crop.core_z, threshold)
            for crop in crops
        ]
    finally:
        net.train(was_training)


def mining_key(net: torch.nn.Module, crops: list[ZoneCrop], roi: tuple[int, int, int], threshold: float) -> str:
    """A digest of everything the mined voxels depend on: the network's weights, every crop's
    input, label and core, the window, the threshold and the mining constants."""
    digest = hashlib.sha256(json.dumps({"roi": list(roi), "threshold": threshold, "clearance": CLEARANCE,
                                        "stride": STRIDE, "overlap": OVERLAP}, sort_keys=True).encode())
    for name, tensor in sorted(net.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes())
    for crop in crops:
        for array in (crop.image, crop.label, np.asarray(crop.core_z, np.int64)):
            digest.update(f"{array.dtype}{array.shape}".encode())
            digest.update(np.ascontiguousarray(array).data)
    return digest.hexdigest()[:16]


def cached_false_positives(
    net: torch.nn.Module, crops: list[ZoneCrop], roi: tuple[int, int, int], device: str, threshold: float,
    cache: Path | None,
) -> tuple[list[np.ndarray], Path | None]:
    """:func:`mine_false_positives`, read from ``cache`` when these weights already mined these
    crops with these settings, else mined and written there (whole or not at all). Returns the
    voxels and the cache file they were read from (None when they were mined now)."""
    if cache is None:
        return mine_false_positives(net, crops, roi, device, threshold), None
    file = cache / f"mined-{mining_key(net, crops, roi, threshold)}.npz"
    if file.is_file():
        with np.load(file) as stored:
            return [stored[f"crop{i}"] for i in range(len(crops))], file
    found = mine_false_positives(net, crops, roi, device, threshold)
    cache.mkdir(parents=True, exist_ok=True)
    partial = file.with_name(file.stem + ".partial.npz")
    np.savez(partial, **{f"crop{i}": voxels for i, voxels in enumerate(found)})
    partial.replace(file)
    return found, None
