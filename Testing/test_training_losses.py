"""Training losses (``lungtumorseg.training.losses``) and which weights a zone keeps.

The recall-weighted Tversky loss must charge missed tumour voxels more than the same number
of false tumour voxels, by far more than the Dice loss does. Predictions are built as
near one-hot logits from known masks, so the expected ordering follows from the masks alone.
"""

from __future__ import annotations

import argparse

import pytest
import torch

from lungtumorseg.cli import build_parser
from lungtumorseg.training.config import TrainConfig
from lungtumorseg.training.losses import LOSSES, TverskyCELoss, build_loss
from lungtumorseg.training.trainer import _finished, _kept


def _logits(mask: torch.Tensor) -> torch.Tensor:
    """(1, 2, ...) logits that say "tumour" with near certainty where ``mask`` is set."""
    tumour = mask.float() * 20.0 - 10.0
    return torch.stack([-tumour, tumour])[None]


def _masks():
    truth = torch.zeros(12, 12, 12, dtype=torch.long)
    truth[3:9, 3:9, 3:9] = 1  # 216 voxels
    under = truth.clone()
    under[3:9, 3:9, 3:5] = 0  # 72 tumour voxels missed
    over = truth.clone()
    over[3:9, 3:9, 9:11] = 1  # 72 voxels falsely called tumour
    return truth[None, None], _logits(under), _logits(over)


def test_tversky_charges_missed_tumour_far_more_than_false_tumour_than_dice_does():
    truth, under, over = _masks()
    tversky = build_loss("tversky-ce", 0.7, batch=True)
    assert isinstance(tversky, TverskyCELoss)
    dice = build_loss("dice-ce", 0.7, batch=True)
    tversky_gap = float(tversky(under, truth)) - float(tversky(over, truth))
    dice_gap = float(dice(under, truth)) - float(dice(over, truth))
    # foreground Tversky index 144/194.4 vs 216/237.6, Dice 288/360 vs 432/504 (background ~1 in
    # both, the cross-entropy equal): the Tversky gap is about three times the Dice gap
    assert tversky_gap > dice_gap + 0.03 > 0.03
    perfect = _logits(truth[0, 0])
    assert float(tversky(perfect, truth)) < 0.01


def test_tversky_gradient_flows_and_bad_settings_are_refused():
    truth, under, _ = _masks()
    logits = under.clone().requires_grad_(True)
    build_loss("tversky-ce", 0.7, batch=True)(logits, truth).backward()
    assert logits.grad is not None and torch.isfinite(logits.grad).all() and logits.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="beta"):
        TverskyCELoss(1.0)
    with pytest.raises(ValueError, match="unknown loss"):
        build_loss("focal", 0.7, batch=True)


def test_the_command_line_offers_exactly_the_losses_the_trainer_builds():
    parser = build_parser()
    train = next(a for a in parser._subparsers._group_actions[0].choices.values()  # noqa: SLF001
                 if any(o.dest == "loss" for o in a._actions))  # noqa: SLF001
    loss = next(o for o in train._actions if o.dest == "loss")  # noqa: SLF001
    assert tuple(loss.choices) == LOSSES


def test_keeping_the_last_weights_ignores_validation_and_early_stopping():
    net = torch.nn.Linear(2, 1)
    best = {k: torch.zeros_like(v) for k, v in net.state_dict().items()}
    assert _kept(net, best, keep_last=False) is best
    assert torch.equal(_kept(net, best, keep_last=True)["weight"], net.state_dict()["weight"])
    assert torch.equal(_kept(net, None, keep_last=False)["weight"], net.state_dict()["weight"])
    best_run = TrainConfig(steps=100, patience=2)
    last_run = TrainConfig(steps=100, patience=2, keep_weights="last")
    assert _finished(10, 0.0, 2, True, best_run, None)  # early-stopped
    assert not _finished(10, 0.0, 2, True, last_run, None)  # runs on to its last step
    assert _finished(100, 0.0, 0, True, last_run, None)
