"""Training augmentations (MONAI), as the founding reports used plus scaling and noise.

Rotation, flips, elastic deformation and brightness/contrast (the founding reports), plus
isotropic scaling and Gaussian noise. Elastic deformation is costly on a CPU, so its
probability is a parameter (low by default on CPU).
"""

from __future__ import annotations

import math

import numpy as np
from monai.transforms import (
    Compose,
    Rand3DElasticd,
    RandAdjustContrastd,
    RandAffined,
    RandFlipd,
    RandGaussianNoised,
    RandScaleIntensityd,
    RandShiftIntensityd,
)


def build_augmentation(seed: int, elastic_prob: float = 0.1) -> Compose:
    """A seeded dictionary transform over channel-first {"image", "prior", "label"} patches.

    Spatial transforms move all three together; intensity transforms touch only the CT
    ("image"), never the lung-mask prior channel.
    """
    keys = ["image", "prior", "label"]
    transform = Compose(
        [
            RandFlipd(keys, prob=0.5, spatial_axis=2),  # left-right
            RandFlipd(keys, prob=0.2, spatial_axis=1),  # anterior-posterior
            RandAffined(
                keys,
                prob=0.5,
                rotate_range=(math.radians(15),) * 3,
                scale_range=(0.15,) * 3,
                mode=("bilinear", "nearest", "nearest"),
                padding_mode="border",
            ),
            Rand3DElasticd(
                keys,
                sigma_range=(5, 8),
                magnitude_range=(50, 150),
                prob=elastic_prob,
                mode=("bilinear", "nearest", "nearest"),
                padding_mode="border",
            ),
            RandScaleIntensityd("image", factors=0.1, prob=0.5),
            RandShiftIntensityd("image", offsets=0.05, prob=0.5),
            RandAdjustContrastd("image", gamma=(0.8, 1.25), prob=0.3),
            RandGaussianNoised("image", std=0.02, prob=0.3),
        ]
    )
    transform.set_random_state(seed=seed)
    return transform


def augment_batch(
    transform: Compose, images: np.ndarray, labels: np.ndarray, lung_channel: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """Apply ``transform`` to each (C, D, H, W) input patch and (1, D, H, W) label of a batch.

    Channel 0 is the CT; further channels (the lung prior, then the blob channel) travel as
    "prior": moved with the CT, never intensity-augmented. With ``lung_channel`` channel 1
    is a mask and is re-binarised after interpolation.
    """
    out_i, out_l = [], []
    for image, label in zip(images, labels):
        prior = image[1:] if image.shape[0] > 1 else np.zeros_like(image[:1])
        sample = transform({"image": image[:1], "prior": prior, "label": label.astype(np.float32)})
        ct = np.asarray(sample["image"], dtype=np.float32)
        if image.shape[0] > 1:
            prior = np.asarray(sample["prior"], dtype=np.float32)
            if lung_channel:  # the mask stays 0/1; a blob channel keeps its values
                prior[:1] = prior[:1] > 0.5
            ct = np.concatenate([ct, prior])
        out_i.append(ct)
        out_l.append((np.asarray(sample["label"]) > 0.5).astype(np.uint8))
    return np.stack(out_i), np.stack(out_l)
