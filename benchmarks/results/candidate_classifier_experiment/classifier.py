"""Train the patch classifier on the mining phantoms' candidates and score candidate sets.

Usage:
  classifier.py train CAND_DIR WEIGHTS            # mining candidates -> safetensors weights
  classifier.py score WEIGHTS CAND_DIR [...]      # writes <case>.score.npy beside each npz
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import torch
from monai.networks.nets import Classifier
from monai.utils import set_determinism
from safetensors.torch import load_file, save_file

SEED = 24
EPOCHS = 30
BATCH = 32
LR = 1e-3


def network() -> torch.nn.Module:
    return Classifier(in_shape=(3, 32, 32, 32), classes=1, channels=(16, 32, 64, 128), strides=(2, 2, 2, 2),
                      num_res_units=1, dropout=0.1)


def load_set(directory: Path) -> tuple[np.ndarray, np.ndarray]:
    xs, ys = [], []
    for f in sorted(directory.glob("*.npz")):
        c = np.load(f)
        if len(c["card_keeps"]):
            xs.append(c["patches"])
            ys.append(c["touched"].any(1) if c["touched"].shape[1] else np.zeros(len(c["card_keeps"]), bool))
    return np.concatenate(xs), np.concatenate(ys)


def augment(batch: torch.Tensor, rng: np.random.Generator) -> torch.Tensor:
    """Random flips on each spatial axis and a random axial transpose, per batch."""
    dims = [d for d in (2, 3, 4) if rng.random() < 0.5]
    if dims:
        batch = torch.flip(batch, dims)
    if rng.random() < 0.5:
        batch = batch.transpose(3, 4)
    return batch


def train(cand: Path, weights: Path) -> None:
    set_determinism(SEED)
    rng = np.random.default_rng(SEED)
    x, y = load_set(cand)
    print(f"{len(y)} candidates, {int(y.sum())} true", flush=True)
    net = network()
    opt = torch.optim.AdamW(net.parameters(), lr=LR, weight_decay=1e-4)
    steps = EPOCHS * int(np.ceil(len(y) / BATCH))
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=LR, total_steps=steps)
    loss_fn = torch.nn.BCEWithLogitsLoss(pos_weight=torch.tensor((len(y) - y.sum()) / max(y.sum(), 1)))
    xt = torch.from_numpy(x.astype(np.float32))
    yt = torch.from_numpy(y.astype(np.float32))
    for epoch in range(EPOCHS):
        net.train()
        order = rng.permutation(len(y))
        total, t0 = 0.0, time.time()
        for s in range(0, len(y), BATCH):
            idx = order[s:s + BATCH]
            logits = net(augment(xt[idx], rng))[:, 0]
            loss = loss_fn(logits, yt[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total += loss.item() * len(idx)
        print(f"epoch {epoch + 1}/{EPOCHS} loss {total / len(y):.4f} ({time.time() - t0:.0f} s)", flush=True)
    weights.parent.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in net.state_dict().items()}, str(weights))


@torch.no_grad()
def score_patches(net: torch.nn.Module, patches: np.ndarray) -> np.ndarray:
    """Probability of 'true' per candidate, averaged over the eight flips (test-time)."""
    if len(patches) == 0:
        return np.zeros(0)
    x = torch.from_numpy(patches.astype(np.float32))
    out = []
    for dims in ([], [2], [3], [4], [2, 3], [2, 4], [3, 4], [2, 3, 4]):
        out.append(torch.sigmoid(net(torch.flip(x, dims) if dims else x)[:, 0]).numpy())
    return np.mean(out, axis=0)


def score(weights: Path, dirs: list[Path]) -> None:
    net = network()
    net.load_state_dict(load_file(str(weights)))
    net.eval()
    for d in dirs:
        for f in sorted(d.glob("*.npz")):
            np.save(f.with_suffix(".score.npy"), score_patches(net, np.load(f)["patches"]))
        print("scored", d, flush=True)


if __name__ == "__main__":
    torch.set_num_threads(2)
    if sys.argv[1] == "train":
        train(Path(sys.argv[2]), Path(sys.argv[3]))
    else:
        score(Path(sys.argv[2]), [Path(a) for a in sys.argv[3:]])
