"""Cost of one training step of wider UNETRs, against the CPU demo configuration, in one run.

The demo model is under-fitted (its Dice on its own training crops is no higher than on
validation), so the next lever is capacity. This measures what capacity costs on this
machine before anyone spends a session on it: one training step (forward, DiceCE loss,
backward, AdamW update; batch of two 48³ patches with the lung-prior channel, the demo
recipe's setting) for

* the demo configuration (hidden 192, decoder feature size 8), default memory layout — the baseline,
* the same in channels-last 3D layout (what ``lungtumorseg train`` uses since core 0.4.0),
* a wider convolutional encoder/decoder (feature size 16, as in the UNETR paper), channels-last,
* a wider transformer (hidden 384, 8 heads, MLP 1536) with the demo decoder, channels-last,
* a finer grid for small nodules: 64³ windows, as a 1.0 mm model grid needs for about the
  same field of view (64 mm vs 72 mm) while UNETR's 16-voxel transformer patches shrink
  from 24 to 16 mm (the held-out misses are nodules under 20 mm), channels-last,
* the demo configuration and the 64³ windows with the forward pass under bfloat16
  autocast (``lungtumorseg train --precision bf16``), channels-last: fast on CPUs with
  AVX-512 BF16 or AMX, slow on others.

Prints seconds per step and the ratio to the baseline; writes
``benchmarks/results/train_step_cost.json``.

    python benchmarks/train_step_cost.py [--steps 4] [--threads 2]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch
from monai.losses import DiceCELoss

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "LungTumorSeg"))

from lungtumorseg.models.network import build_unetr, reduced_unetr_config  # noqa: E402
from lungtumorseg.training.config import TrainConfig  # noqa: E402
from lungtumorseg.training.trainer import training_autocast  # noqa: E402

ROI = 48


def configurations() -> dict[str, tuple[dict, bool, bool]]:
    """(network section, channels-last layout, bfloat16 autocast) to compare; the first is the baseline."""
    base = {**reduced_unetr_config(ROI), "in_channels": 2}
    fine = {**reduced_unetr_config(64), "in_channels": 2}
    return {
        "demo (hidden 192, feature 8)": (base, False, False),
        "demo, channels-last 3D": (base, True, False),
        "wider decoder (feature 16), channels-last": ({**base, "feature_size": 16}, True, False),
        "wider transformer (hidden 384), channels-last": (
            {**base, "hidden_size": 384, "num_heads": 8, "mlp_dim": 1536}, True, False),
        "64³ windows (1.0 mm grid), channels-last": (fine, True, False),
        "demo, channels-last, bf16 autocast": (base, True, True),
        "64³ windows, channels-last, bf16 autocast": (fine, True, True),
    }


def seconds_per_step(network: dict, steps: int, channels_last: bool, bf16: bool = False,
                     seed: int = 0) -> tuple[float, int]:
    """Median wall time of ``steps`` training steps after one warm-up step; also the parameter
    count. ``bf16``: the forward pass under bfloat16 autocast, the loss in float32 (the
    training loop's own :func:`training_autocast`, as ``lungtumorseg train --precision bf16``)."""
    torch.manual_seed(seed)
    layout = torch.channels_last_3d if channels_last else torch.contiguous_format
    net = build_unetr(network).to(memory_format=layout).train()
    loss_fn = DiceCELoss(to_onehot_y=True, softmax=True, batch=True)
    opt = torch.optim.AdamW(net.parameters(), lr=1e-4)
    generator = torch.Generator().manual_seed(seed)
    roi = tuple(network["img_size"])
    image = torch.rand((2, network["in_channels"], *roi), generator=generator).to(memory_format=layout)
    label = (torch.rand((2, 1, *roi), generator=generator) > 0.9).float()
    precision = TrainConfig(precision="bf16" if bf16 else "fp32")
    times = []
    for i in range(steps + 1):
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        with training_autocast(precision):
            logits = net(image)
        loss = loss_fn(logits.float(), label)
        loss.backward()
        opt.step()
        if i:  # the first step allocates buffers
            times.append(time.perf_counter() - t0)
    times.sort()
    return times[len(times) // 2], sum(p.numel() for p in net.parameters())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "train_step_cost.json")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    rows, baseline = [], None
    for name, (network, channels_last, bf16) in configurations().items():
        seconds, params = seconds_per_step(network, args.steps, channels_last, bf16)
        baseline = baseline or seconds
        rows.append({"configuration": name, "seconds_per_step": round(seconds, 3),
                     "ratio_to_demo": round(seconds / baseline, 2), "parameters": params})
        print(f"{name:48s} {seconds:6.2f} s/step  ratio {seconds / baseline:5.2f}  {params / 1e6:5.1f} M parameters",
              flush=True)
    result = {"roi": ROI, "roi_note": "48 unless the configuration says otherwise", "batch": 2,
              "threads": args.threads, "steps_timed": args.steps,
              "torch": torch.__version__, "rows": rows}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
