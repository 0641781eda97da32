"""``scripts/calibrate_threshold.py`` and ``benchmarks/froc_phantoms.py`` end to end on
hand-built phantom folders.

The probability maps are put into the script's cache beforehand (under the cache key of
the demo package), so no network runs: what is tested is that the script reads the right
map for each case, lets the requested procedure choose, refuses calibration folders that
would mix up cases, chooses outline growth and writes both into a copy of the card.
Expected points follow from the boxes drawn here (1 mm voxels: the 7³ map box is 343 mm³,
the 4³ false finding 64 mm³).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import SimpleITK as sitk

from lungtumorseg.evaluation.probability_cache import cache_key
from lungtumorseg.models.package import default_package_dir, load_package

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "calibrate_threshold.py"
FROC = ROOT / "benchmarks" / "froc_phantoms.py"


def _image(array: np.ndarray) -> sitk.Image:
    image = sitk.GetImageFromArray(array)
    image.SetSpacing((1.0, 1.0, 1.0))
    return image


def _folder(root: Path, seed0: int, false_box: bool, key: str, cache: Path, found_from: int = 5,
            false_edge: int = 4) -> Path:
    """Three tumour cases (an 8³ tumour of 30 HU in -800 HU lung, voxels 4-11, of which the
    map finds voxels ``found_from``-11 at probability 0.9: 7³ by default) and, when
    ``false_box``, a ``false_edge``³ false finding at 0.9 in each; MSD layout with seeds, maps
    in ``cache``."""
    for sub in ("imagesTr", "labelsTr", "meta"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    cache.mkdir(parents=True, exist_ok=True)
    for i in range(3):
        name = f"lung_{i:03d}"
        hu = np.full((40, 40, 40), -800, dtype=np.int16)
        truth = np.zeros(hu.shape, dtype=np.uint8)
        prob = np.zeros(hu.shape, dtype=np.float16)
        truth[4:12, 4:12, 4:12] = 1
        hu[4:12, 4:12, 4:12] = 30
        prob[found_from:12, found_from:12, found_from:12] = 0.9
        if false_box:
            prob[25:25 + false_edge, 25:25 + false_edge, 25:25 + false_edge] = 0.9
        sitk.WriteImage(_image(hu), str(root / "imagesTr" / f"{name}.nii.gz"))
        sitk.WriteImage(_image(truth), str(root / "labelsTr" / f"{name}.nii.gz"))
        (root / "meta" / f"{name}.json").write_text(json.dumps({"seed": seed0 + i}))
        np.save(cache / f"{name}-{key}.npy", prob)
        (cache / f"{name}-{key}.json").write_text(json.dumps({"lung_z_lps_mm": [0.0, 39.0]}))
    return root


def _run(*args: str, script: Path = SCRIPT) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(script), *args], capture_output=True, text=True, cwd=ROOT,
                          timeout=600)


def test_script_writes_the_procedures_point_reading_each_folders_own_maps(tmp_path: Path) -> None:
    package_dir = tmp_path / "package"
    shutil.copytree(default_package_dir(), package_dir)
    key = cache_key(load_package(package_dir), [])
    training = _folder(tmp_path / "training", 100, False, key, tmp_path / "unused-cache")
    # Both folders name their cases lung_000..002; only the second has false findings.
    clean = _folder(tmp_path / "calibration-a", 500, False, key, tmp_path / "cache-a")
    noisy = _folder(tmp_path / "calibration-b", 600, True, key, tmp_path / "cache-b")
    common = ["--model", str(package_dir), "--data", str(training), "--calibration-data", str(clean),
              "--calibration-data", str(noisy), "--rule", "lesion-f1"]

    refused = _run(*common, "--cache", str(tmp_path / "cache-a"), "--dry-run")
    assert refused.returncode != 0 and "give one cache per folder" in refused.stderr

    tables = tmp_path / "tables.json"
    done = _run(*common, "--cache", str(tmp_path / "cache-a"), "--cache", str(tmp_path / "cache-b"),
                "--procedure", "threshold-volume", "--outline-growth", "--tables", str(tables))
    assert done.returncode == 0, done.stderr
    card = json.loads((package_dir / "model.json").read_text())
    post = card["postprocessing"]
    # Only a minimum volume above 64 mm³ and at most 343 mm³ removes the false findings of
    # folder b and keeps every tumour: 120 or 250 of the grid, the more permissive first.
    assert post["min_lesion_mm3"] == 120.0
    assert post["min_peak_probability"] == 0.0 and post["max_elongation"] is None and "zone_limits" not in post
    record = card["metrics"]["threshold_calibration"]
    assert record["procedure"]["name"] == "threshold-volume"
    assert record["chosen"]["false_positives_per_case"] == 0.0 and record["chosen"]["lesion_f1"] == 1.0
    assert "6 phantoms" in record["calibration_data"]
    assert json.loads(tables.read_text())["chosen"]["min_lesion_mm3"] == 120.0
    # The map misses the tumour's outer shell of 30 HU: only growth that admits solid tissue
    # (upper bound 100 HU, not -100) recovers it, and no setting can grow into -800 HU lung.
    assert post["outline_growth"]["max_hu"] == 100.0
    growth = card["metrics"]["outline_growth_calibration"]
    assert growth["chosen"]["mean_dice"] == 1.0 > growth["without_growth"]["mean_dice"]


def test_grown_size_procedure_judges_the_size_on_the_cards_growth_and_the_card_says_so(tmp_path: Path) -> None:
    package_dir = tmp_path / "package"
    shutil.copytree(default_package_dir(), package_dir)
    package = load_package(package_dir)
    growth = package.card.raw["postprocessing"]["outline_growth"]
    assert growth["max_distance_mm"] >= 2.0 and growth["min_hu"] < 30.0 < growth["max_hu"]  # the scene needs this
    key = cache_key(package, [])
    training = _folder(tmp_path / "training", 100, False, key, tmp_path / "unused-cache")
    # The map finds only the tumour's inner 5³ (125 mm³); the false finding is 6³ (216 mm³) in
    # -800 HU lung. Before growth no size limit separates them; the card's growth (>= 2 mm into
    # 30 HU) takes the tumour back to most of its 8³ (512 mm³), the false finding stays 216 mm³.
    noisy = _folder(tmp_path / "calibration", 600, True, key, tmp_path / "cache", found_from=6, false_edge=6)
    common = ["--model", str(package_dir), "--data", str(training), "--calibration-data", str(noisy),
              "--cache", str(tmp_path / "cache"), "--rule", "lesion-f1"]
    refused = _run(*common, "--procedure", "grown-size", "--outline-growth", "--dry-run")
    assert refused.returncode != 0 and "leave out --outline-growth" in refused.stderr

    done = _run(*common, "--procedure", "grown-size", "--tables", str(tmp_path / "t1.json"))
    assert done.returncode == 0, done.stderr
    post = json.loads((package_dir / "model.json").read_text())["postprocessing"]
    assert post["size_after_growth"] is True and post["outline_growth"] == growth
    assert post["min_lesion_mm3"] == 250.0  # the first grid volume above 216 mm³
    record = json.loads((package_dir / "model.json").read_text())["metrics"]["threshold_calibration"]
    assert record["chosen"]["lesion_f1"] == 1.0

    # the same cases judged before growth cannot be separated, and the key is taken out again
    again = _run(*common, "--procedure", "no-zone-limits-wide", "--tables", str(tmp_path / "t2.json"))
    assert again.returncode == 0, again.stderr
    card = json.loads((package_dir / "model.json").read_text())
    assert "size_after_growth" not in card["postprocessing"]
    assert card["metrics"]["threshold_calibration"]["chosen"]["lesion_f1"] < 1.0


def test_script_refuses_calibration_phantoms_that_share_training_seeds(tmp_path: Path) -> None:
    package_dir = default_package_dir()
    key = cache_key(load_package(package_dir), [])
    training = _folder(tmp_path / "training", 100, False, key, tmp_path / "cache-t")
    overlap = _folder(tmp_path / "calibration", 101, False, key, tmp_path / "cache-c")
    result = _run("--model", str(package_dir), "--data", str(training), "--calibration-data", str(overlap),
                  "--cache", str(tmp_path / "cache-c"), "--dry-run")
    assert result.returncode != 0 and "share seeds with the training data" in result.stderr


def test_froc_reads_each_folders_own_maps_when_folders_share_case_names(tmp_path: Path) -> None:
    package_dir = default_package_dir()
    key = cache_key(load_package(package_dir), [])
    clean = _folder(tmp_path / "a", 500, False, key, tmp_path / "cache-a")
    noisy = _folder(tmp_path / "b", 600, True, key, tmp_path / "cache-b")
    data = ["--model", str(package_dir), "--data", str(clean), "--data", str(noisy), "--threshold", "0.5"]
    refused = _run(*data, "--cache", str(tmp_path / "cache-a"), "--out", str(tmp_path / "x"), script=FROC)
    assert refused.returncode != 0 and "give one cache per folder" in refused.stderr
    done = _run(*data, "--cache", str(tmp_path / "cache-a"), "--cache", str(tmp_path / "cache-b"),
                "--out", str(tmp_path / "froc"), script=FROC)
    assert done.returncode == 0, done.stderr
    froc = json.loads((tmp_path / "froc" / "froc.json").read_text())
    bare = froc["threshold only, all tumours"]
    # six cases, three false findings (folder b's), every tumour found at the 0.9 level
    assert bare["max_false_positives_per_case"] == 0.5
    assert bare["n_lesions"] == 6 and froc["cases"] == 6


def test_froc_keeps_the_candidates_the_magnified_look_confirmed_at_every_classifier_level(tmp_path: Path) -> None:
    package = load_package(default_package_dir())
    assert package.card.magnified_look is not None, "the demo card has a magnified look"
    key = cache_key(package, [])
    runs = {}
    for confirmed in (False, True):
        cache = tmp_path / f"cache-{confirmed}"
        data = _folder(tmp_path / f"data-{confirmed}", 600, True, key, cache)
        if confirmed:  # the look confirmed each case's false finding: a point inside it (voxel 26, 1 mm grid)
            for extent in cache.glob("*.json"):
                record = json.loads(extent.read_text())
                extent.write_text(json.dumps({**record, "confirmed_by_magnified_look": [[26.0, 26.0, 26.0, 0.97]]}))
        out = tmp_path / f"froc-{confirmed}"
        done = _run("--model", str(default_package_dir()), "--data", str(data), "--cache", str(cache),
                    "--out", str(out), script=FROC)
        assert done.returncode == 0, done.stderr
        runs[confirmed] = json.loads((out / "froc.json").read_text())["classifier, all tumours"]
    # kept at every level: each of the three cases keeps its false finding up to the highest level
    assert min(runs[True]["false_positives_per_case"]) == 1.0
    assert runs[True]["score_levels"][-1] == 1.0
    # without the points the classifier alone judges the false findings: the highest level keeps fewer
    assert runs[False]["false_positives_per_case"][-1] < 1.0
