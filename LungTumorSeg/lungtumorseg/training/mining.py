"""False-positive mining: where does the starting network see tumour that is not there?

A fine-tuning run that starts from a model (``init_from``) first runs that model over its
training crops, exactly as inference would (sliding window, gaussian blending), and keeps
the voxels it calls tumour with probability >= ``threshold`` although the label has no
tumour within ``clearance`` voxels. A share of the training patches is then centred on
them: the structures this network confuses with tumour (hilar vessels, the heart border,
airway walls), not just any dense voxel. This is hard-negative mining as detection and
CAD systems use it; it costs one inference pass over the training crops.
"""

from __future__ import annotations

import numpy as np
import torch
from monai.inferers import sliding_window_inference
from scipy import ndimage as ndi

from .prepare import ZoneCrop


def false_positive_voxels(
    probability: np.ndarray, label: np.ndarray, core_z: tuple[int, int], threshold: float,
    clearance: int = 2, stride: int = 5,
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
        return sliding_window_inference(image, roi, 2, net, overlap=0.25, mode="gaussian")


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
