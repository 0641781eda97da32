"""benchmarks/heldout_phantoms.py stores held-out numbers in a card block chosen by phantom size,
stamped with the version and weights they describe; the model panel and ``info`` then show them."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest

from lungtumorseg.models import default_package_dir
from lungtumorseg.models.accuracy import heldout_lines

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import heldout_phantoms  # noqa: E402


def _numbers(size: str, dice: float) -> dict:
    return {"n_cases": 48, "n_tumour_cases": 36, "n_tumour_free_cases": 12, "mean_dice_tumour_cases": dice,
            "n_lesions_ge_10mm": 70, "sensitivity_lesions_ge_10mm": 0.9, "false_positive_lesions_per_case": 0.1,
            "tumour_free_cases_without_lesion": 0.9, "phantom_size": size}


@pytest.fixture()
def card_folder(tmp_path: Path) -> Path:
    shutil.copy(default_package_dir() / "model.json", tmp_path / "model.json")  # the block writer reads the card only
    return tmp_path


def test_full_size_numbers_go_to_their_own_block_and_leave_the_small_one(card_folder):
    before = json.loads((card_folder / "model.json").read_text())
    key = heldout_phantoms.write_card_block(card_folder, _numbers("full", 0.777), "python x")
    after = json.loads((card_folder / "model.json").read_text())
    assert key == "heldout_phantoms_full_size"
    block = after["metrics"][key]
    assert block["mean_dice_tumour_cases"] == 0.777 and block["command"] == "python x"
    assert block["model_version"] == before["version"]
    assert block["weights_sha256"] == {part: entry["sha256"] for part, entry in before["weights"].items()}
    assert after["metrics"]["heldout_phantoms"] == before["metrics"]["heldout_phantoms"]
    assert {k: v for k, v in after.items() if k != "metrics"} == {k: v for k, v in before.items() if k != "metrics"}
    lines = heldout_lines(after)
    assert "clinical-grid" in lines[0] and "mean Dice 0.78" in lines[0]


def test_small_numbers_replace_the_historical_block(card_folder):
    before = json.loads((card_folder / "model.json").read_text())
    key = heldout_phantoms.write_card_block(card_folder, _numbers("small", 0.555), "python y")
    card = json.loads((card_folder / "model.json").read_text())
    assert key == "heldout_phantoms" and card["metrics"][key]["mean_dice_tumour_cases"] == 0.555
    assert card["metrics"].get("heldout_phantoms_full_size") == before["metrics"].get("heldout_phantoms_full_size")
