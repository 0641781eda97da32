"""Training losses: MONAI's Dice + cross-entropy, or a recall-weighted Tversky + cross-entropy.

Why a second loss: the demo networks under-segment non-solid tumours — the response covers
a fraction of the tumour, so the lesion falls under the size limit or is missed
(``benchmarks/results/grown_size_cv/RESULTS.md``). The Tversky index (Salehian et al.,
"Tversky loss function for image segmentation using 3D fully convolutional deep networks",
MLMI 2017) weights false negatives by ``beta`` and false positives by ``alpha = 1 - beta``;
``beta > 0.5`` favours recall and full outlines over precision. The Dice loss is the case
``beta = 0.5``. Cross-entropy is added, as in MONAI's ``DiceCELoss``, for stable voxel-wise
gradients.
"""

from __future__ import annotations

import torch
from monai.losses import DiceCELoss, TverskyLoss

LOSSES = ("dice-ce", "tversky-ce")


class TverskyCELoss(torch.nn.Module):
    """Tversky loss (softmax, one-hot labels, over the whole batch) + cross-entropy, equally weighted."""

    def __init__(self, beta: float, batch: bool = True) -> None:
        super().__init__()
        if not 0.0 < beta < 1.0:
            raise ValueError(f"Tversky beta (weight of false negatives) must be between 0 and 1, got {beta}")
        self.tversky = TverskyLoss(to_onehot_y=True, softmax=True, alpha=1.0 - beta, beta=beta, batch=batch)
        self.cross_entropy = torch.nn.CrossEntropyLoss()

    def forward(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """``logits`` (B, C, ...) and integer ``labels`` (B, 1, ...), as ``DiceCELoss`` takes them."""
        return self.tversky(logits, labels) + self.cross_entropy(logits, labels[:, 0].long())


def build_loss(name: str, tversky_beta: float, batch: bool) -> torch.nn.Module:
    """The training loss by name (:data:`LOSSES`)."""
    if name == "dice-ce":
        return DiceCELoss(to_onehot_y=True, softmax=True, batch=batch)
    if name == "tversky-ce":
        return TverskyCELoss(tversky_beta, batch)
    raise ValueError(f"unknown loss {name!r}; choose one of {LOSSES}")
