"""Model packages as the Widget lists and installs them (card-only listing, checksum on install)."""

from __future__ import annotations

import hashlib
import json
import zipfile
from pathlib import Path

import pytest

import slicer_env  # noqa: F401
from LungTumorSegLib import model_packages


def _package(folder, name="my-model", tamper=False):
    folder.mkdir(parents=True)
    weights = {}
    for zone in ("upper", "middle", "lower"):
        data = f"weights of {zone}".encode()
        (folder / f"{zone}.safetensors").write_bytes(data + (b"!" if tamper and zone == "middle" else b""))
        weights[zone] = {"file": f"{zone}.safetensors", "sha256": hashlib.sha256(data).hexdigest()}
    card = {"name": name, "version": "1.2", "description": "test", "demo": False, "warning": "",
            "network": {"architecture": "UNETR"}, "preprocessing": {"spacing_mm": [1.5, 1.5, 1.5]},
            "zones": {"names": ["upper", "middle", "lower"]},
            "postprocessing": {"threshold": 0.35, "min_lesion_mm3": 30.0}, "weights": weights}
    (folder / "model.json").write_text(json.dumps(card))
    return folder


def test_read_and_list(tmp_path, monkeypatch):
    monkeypatch.setenv("LUNGTUMORSEG_MODELS", str(tmp_path / "user"))
    _package(tmp_path / "user" / "my-model")
    (tmp_path / "user" / "not-a-package").mkdir()
    names = [p.name for p in model_packages.list_packages()]
    assert "my-model" in names
    info = model_packages.read_package(tmp_path / "user" / "my-model")
    assert info.threshold == 0.35 and info.min_lesion_mm3 == 30.0 and info.label == "my-model 1.2"
    assert info.min_peak_probability == 0.0 and info.max_elongation == float("inf")  # card without the limits


def test_card_lesion_limits_prefill_the_gui(tmp_path):
    folder = _package(tmp_path / "limits")
    card = json.loads((folder / "model.json").read_text())
    card["postprocessing"].update({"min_peak_probability": 0.6, "max_elongation": 2.0, "max_mean_hu": 150.0})
    (folder / "model.json").write_text(json.dumps(card))
    info = model_packages.read_package(folder)
    assert (info.min_peak_probability, info.max_elongation, info.max_mean_hu) == (0.6, 2.0, 150.0)


def test_card_zone_limits_reach_the_package_info(tmp_path):
    folder = _package(tmp_path / "zoned")
    assert model_packages.read_package(folder).zone_limits == {}  # a card without zone limits
    card = json.loads((folder / "model.json").read_text())
    card["postprocessing"]["zone_limits"] = {"middle": {"min_lesion_mm3": 850, "min_peak_probability": 0.6}}
    (folder / "model.json").write_text(json.dumps(card))
    info = model_packages.read_package(folder)
    assert info.zone_limits == {"middle": {"min_lesion_mm3": 850.0, "min_peak_probability": 0.6,
                                           "max_elongation": None, "max_mean_hu": None}}
    assert info.min_lesion_mm3 == 30.0  # the general limit is not the middle zone's
    card["postprocessing"]["zone_limits"] = {"hilum": {"min_lesion_mm3": 850}}  # not a zone: refused
    (folder / "model.json").write_text(json.dumps(card))
    with pytest.raises(ValueError, match="hilum"):
        model_packages.read_package(folder)


def test_card_candidate_classifier_cutoff_reaches_the_package_info_without_loading_it(tmp_path, monkeypatch):
    monkeypatch.setenv("LUNGTUMORSEG_MODELS", str(tmp_path / "user"))
    folder = _package(tmp_path / "user" / "checked", name="checked-model")
    assert model_packages.read_package(folder).candidate_check_cutoff is None  # a card without a classifier
    card = json.loads((folder / "model.json").read_text())
    data = b"not a network: reading the card must not load it"
    (folder / "candidate_check.safetensors").write_bytes(data)
    card["weights"]["candidate_check"] = {"file": "candidate_check.safetensors",
                                          "sha256": hashlib.sha256(data).hexdigest()}
    card["candidate_check"] = {"cutoff": 0.42, "network": {"channels": [4, 8], "strides": [2, 2]}}
    (folder / "model.json").write_text(json.dumps(card))
    assert model_packages.read_package(folder).candidate_check_cutoff == 0.42
    assert [p.candidate_check_cutoff for p in model_packages.list_packages() if p.name == "checked-model"] == [0.42]
    demo = json.loads((model_packages.DEMO_PACKAGE / "model.json").read_text())
    assert model_packages.read_package(model_packages.DEMO_PACKAGE).candidate_check_cutoff == (
        demo["candidate_check"]["cutoff"] if demo.get("candidate_check") else None)


def test_install_from_folder_verifies_checksums(tmp_path):
    good = _package(tmp_path / "src" / "good")
    bad = _package(tmp_path / "src" / "bad", tamper=True)
    dest = tmp_path / "dest"
    installed = model_packages.install_from_folder(good, dest)
    assert installed.path == dest / "good" and (dest / "good" / "upper.safetensors").exists()
    with pytest.raises(ValueError, match="middle.safetensors"):
        model_packages.install_from_folder(bad, dest)
    assert not (dest / "bad").exists()


def test_reinstalling_a_package_name_asks_first_then_replaces(tmp_path):
    """What the Widget's "Replace the installed package?" question relies on: a second install
    under the same name raises AlreadyInstalled (with the installed path) and changes nothing;
    with overwrite it replaces the package."""
    first = _package(tmp_path / "v1" / "same-name")
    second = _package(tmp_path / "v2" / "same-name")
    (second / "NOTES.txt").write_text("second copy")
    dest = tmp_path / "dest"
    model_packages.install_from_folder(first, dest)
    with pytest.raises(model_packages.AlreadyInstalled, match="already installed") as refused:
        model_packages.install_from_folder(second, dest)
    assert refused.value.path == str(dest / "same-name")
    assert not (dest / "same-name" / "NOTES.txt").exists()
    model_packages.install_from_folder(second, dest, overwrite=True)
    assert (dest / "same-name" / "NOTES.txt").read_text() == "second copy"
    assert sorted(p.name for p in dest.iterdir()) == ["same-name"]  # no scratch folders left


def _zipped_package(tmp_path: Path) -> Path:
    """A test package zipped as one folder ``zipped/`` (the usual published layout)."""
    source = _package(tmp_path / "src" / "zipped")
    archive = tmp_path / "pkg.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for path in source.iterdir():
            zf.write(path, f"zipped/{path.name}")
    return archive


def test_install_from_url_zip(tmp_path):
    archive = _zipped_package(tmp_path)
    seen = []
    info = model_packages.install_from_url(archive.as_uri(), tmp_path / "dest", progress=lambda d, t: seen.append(d))
    assert info.name == "my-model" and (tmp_path / "dest" / "zipped" / "model.json").exists()
    assert seen


def test_install_from_url_passes_the_panels_checksum_on(tmp_path):
    """What the module's checksum prompt gives: a wrong or mistyped checksum is a ValueError
    the panel shows, and nothing is installed; the published one installs."""
    archive = _zipped_package(tmp_path)
    with pytest.raises(ValueError, match="not a SHA-256 checksum"):
        model_packages.install_from_url(archive.as_uri(), tmp_path / "dest", sha256="12345")
    with pytest.raises(ValueError, match="was expected"):
        model_packages.install_from_url(archive.as_uri(), tmp_path / "dest", sha256="f" * 64)
    assert not (tmp_path / "dest" / "zipped").exists()
    published = hashlib.sha256(archive.read_bytes()).hexdigest()
    assert model_packages.install_from_url(archive.as_uri(), tmp_path / "dest", sha256=published).name == "my-model"


def test_install_from_url_stops_when_the_panel_cancels(tmp_path):
    """The progress dialog's Cancel: the download stops, the panel gets None (no error to show)
    and nothing is installed."""
    archive = _zipped_package(tmp_path)
    asked = []
    assert model_packages.install_from_url(archive.as_uri(), tmp_path / "dest",
                                           should_cancel=lambda: asked.append(1) or True) is None
    assert len(asked) == 1  # asked once, when the download started
    assert not (tmp_path / "dest" / "zipped").exists()


def test_shipped_demo_package_is_listed_and_intact():
    info = model_packages.read_package(model_packages.DEMO_PACKAGE)
    assert info.demo and "clinical" in info.warning.lower()
    model_packages.verify_weights(model_packages.DEMO_PACKAGE)


def test_weight_problem_names_the_altered_file_and_is_empty_for_intact_packages(tmp_path):
    """The widget disables Apply with this reason when a package's weights fail their checksums."""
    assert model_packages.weight_problem(_package(tmp_path / "good")) == ""
    problem = model_packages.weight_problem(_package(tmp_path / "bad", tamper=True))
    assert "middle.safetensors" in problem


def test_intended_use_reaches_the_package_info(tmp_path):
    folder = _package(tmp_path / "m")
    card = json.loads((folder / "model.json").read_text())
    card["intended_use"] = "Research on lung nodules in adult chest CT."
    (folder / "model.json").write_text(json.dumps(card))
    assert model_packages.read_package(folder).intended_use == "Research on lung nodules in adult chest CT."
    assert model_packages.read_package(_package(tmp_path / "plain")).intended_use == ""


def test_the_demo_package_tells_the_panel_what_was_measured_and_that_it_is_synthetic():
    info = model_packages.read_package(model_packages.DEMO_PACKAGE)
    card = json.loads((model_packages.DEMO_PACKAGE / "model.json").read_text())
    heldout = card["metrics"]["heldout_phantoms"]
    assert f"mean Dice {heldout['mean_dice_tumour_cases']:.2f}" in info.accuracy
    assert "not clinical accuracy" in info.accuracy and "target >= 0.85" in info.accuracy


def test_a_package_without_measurements_says_its_accuracy_is_unknown(tmp_path):
    assert "accuracy is unknown" in model_packages.read_package(_package(tmp_path / "plain")).accuracy
