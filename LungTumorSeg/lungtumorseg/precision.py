"""Numeric precision of network forward passes: float32 or bfloat16 autocast.

bfloat16 keeps float32's exponent range with an 8-bit mantissa, so a forward pass under
bfloat16 autocast needs no loss scaling and, on CPUs with native bfloat16 arithmetic
(AVX-512 BF16, AMX), runs about twice as fast (``benchmarks/train_step_cost.py``,
``benchmarks/predict_timing.py``). Only the forward pass changes: weights stay float32 and
whatever follows the network (softmax, blending, loss) is computed in float32.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # torch is imported on use, so the command line starts without it
    import torch

PRECISIONS: tuple[str, ...] = ("fp32", "bf16")


def check_precision(precision: str) -> str:
    """``precision`` when it is one of :data:`PRECISIONS`; otherwise a ValueError naming them."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    return precision


def device_type(device: str) -> str:
    """The autocast device type of a torch device name ("cuda:1" -> "cuda")."""
    return "cuda" if str(device).startswith("cuda") else "cpu"


def forward_autocast(precision: str, device: str = "cpu") -> torch.autocast:
    """Autocast context of a forward pass: bfloat16 for "bf16", disabled (float32) for "fp32"."""
    import torch

    return torch.autocast(device_type(device), dtype=torch.bfloat16, enabled=check_precision(precision) == "bf16")
