"""Installing model packages (core): from a folder and from a zip URL (file://), with the
SHA-256 checked before anything is copied, an installed package replaced only on request, the
folder name checked to be one safe path component, and the `lungtumorseg install` command."""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
import zipfile
from pathlib import Path

import pytest

from core_fixtures import shared_package_dir
from lungtumorseg.cli import main
from lungtumorseg.errors import CancelledError, ModelPackageError
from lungtumorseg.models import CARD_FILE, install_from_folder, install_from_url, list_packages


def _copy(tmp_path: Path, name: str = "pkg") -> Path:
    dest = tmp_path / "src" / name
    shutil.copytree(shared_package_dir(), dest)
    return dest


def test_install_from_folder_copies_a_verified_package(tmp_path, monkeypatch):
    monkeypatch.setenv("LUNGTUMORSEG_MODELS", str(tmp_path / "models"))
    installed = install_from_folder(_copy(tmp_path))
    assert installed.path == tmp_path / "models" / "pkg"
    installed.verify_all()
    assert any(p.path == installed.path for p in list_packages())


def test_tampered_package_is_refused_and_nothing_is_installed(tmp_path):
    src = _copy(tmp_path)
    weights = src / "lower.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0xFF
    weights.write_bytes(bytes(data))
    with pytest.raises(ModelPackageError, match="lower.safetensors"):
        install_from_folder(src, tmp_path / "models")
    assert not (tmp_path / "models" / "pkg").exists()


def _zip_in_folder(src: Path, archive: Path) -> Path:
    """Zip the package ``src`` as one folder of its own name (the usual published layout)."""
    with zipfile.ZipFile(archive, "w") as zf:
        for file in src.iterdir():
            zf.write(file, f"{src.name}/{file.name}")
    return archive


def test_install_from_zip_url_reports_progress(tmp_path):
    archive = _zip_in_folder(_copy(tmp_path, "zipped-model"), tmp_path / "model.zip")
    seen: list[int] = []
    installed = install_from_url(archive.as_uri(), tmp_path / "models", lambda done, total: seen.append(done))
    assert installed.path.name == "zipped-model" and seen
    installed.verify_all()


def test_a_cancelled_download_stops_and_installs_nothing(tmp_path, monkeypatch):
    """Cancel after the first block: the download stops there, nothing is installed and the
    partial download is deleted."""
    archive = _zip_in_folder(_copy(tmp_path, "zipped-model"), tmp_path / "model.zip")
    assert archive.stat().st_size > 4 * 8192  # several of urlretrieve's 8 KiB blocks
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    seen: list[int] = []
    with pytest.raises(CancelledError, match="cancelled; nothing was installed"):
        install_from_url(archive.as_uri(), tmp_path / "models", lambda done, total: seen.append(done),
                         should_cancel=lambda: len(seen) >= 2)
    assert len(seen) == 2 and seen[-1] < archive.stat().st_size  # stopped at the first block, not the end
    assert not (tmp_path / "models" / "zipped-model").exists()
    assert list(scratch.iterdir()) == []


def test_cancelling_at_the_end_keeps_the_installed_package(tmp_path):
    """A cancel that arrives when the whole archive is in (the last check, before copying)
    leaves the installed package of that name as it was, even with overwrite."""
    dest = tmp_path / "models"
    installed = install_from_folder(_copy(tmp_path, "zipped-model"), dest)
    card_before = (installed.path / CARD_FILE).read_bytes()
    other = _copy(tmp_path / "other", "zipped-model")
    raw = json.loads((other / CARD_FILE).read_text())
    raw["description"] = "a different version"
    (other / CARD_FILE).write_text(json.dumps(raw))
    archive = _zip_in_folder(other, tmp_path / "model.zip")
    complete = {"yes": False}

    def progress(done: int, total: int) -> None:
        complete["yes"] = done >= total > 0

    with pytest.raises(CancelledError):
        install_from_url(archive.as_uri(), dest, progress, overwrite=True, should_cancel=lambda: complete["yes"])
    assert (installed.path / CARD_FILE).read_bytes() == card_before
    installed.verify_all()
    install_from_url(archive.as_uri(), dest, overwrite=True)  # not cancelled: it replaces
    assert json.loads((installed.path / CARD_FILE).read_text())["description"] == "a different version"


def test_zip_with_unsafe_paths_is_refused(tmp_path):
    archive = tmp_path / "evil.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("../outside.txt", "x")
    with pytest.raises(ModelPackageError, match="unsafe path"):
        install_from_url(archive.as_uri(), tmp_path / "models")
    assert not (tmp_path / "outside.txt").exists()


def test_install_command(tmp_path, capsys):
    assert main(["install", str(_copy(tmp_path)), "--dest", str(tmp_path / "models")]) == 0
    assert "weights verified" in capsys.readouterr().out
    assert main(["install", str(tmp_path / "nothing-here"), "--dest", str(tmp_path / "models")]) == 2
    assert "model.json is missing" in capsys.readouterr().err


def test_install_command_reinstalls_only_with_overwrite_and_checks_a_zips_sha256(tmp_path, capsys):
    source, dest = _copy(tmp_path), str(tmp_path / "models")
    assert main(["install", str(source), "--dest", dest]) == 0
    assert main(["install", str(source), "--dest", dest]) == 2
    assert "already installed" in capsys.readouterr().err
    assert main(["install", str(source), "--dest", dest, "--overwrite"]) == 0
    assert main(["install", str(source), "--dest", dest, "--sha256", "ab"]) == 2  # a folder has no archive
    assert "--sha256" in capsys.readouterr().err
    archive = _zip_in_folder(source, tmp_path / "pkg.zip")
    digest = hashlib.sha256(archive.read_bytes()).hexdigest()
    assert main(["install", archive.as_uri(), "--dest", dest, "--sha256", "0" * 64]) == 2
    assert digest in capsys.readouterr().err  # refused before unpacking: the installed copy is untouched
    assert main(["install", archive.as_uri(), "--dest", dest, "--sha256", digest.upper(), "--overwrite"]) == 0
    assert (tmp_path / "models" / source.name / CARD_FILE).exists()


# ------------------------------------------------------------------ folder names from cards
def _zip_top_level(src: Path, archive: Path, card_name: str | None = None) -> Path:
    """Zip ``src``'s files at the archive's top (no folder), with the card renamed to
    ``card_name`` when given: the installed folder is then named after the card."""
    raw = json.loads((src / CARD_FILE).read_text())
    if card_name is not None:
        raw["name"] = card_name
    with zipfile.ZipFile(archive, "w") as zf:
        for file in src.iterdir():
            if file.name != CARD_FILE:
                zf.write(file, file.name)
        zf.writestr(CARD_FILE, json.dumps(raw))
    return archive


@pytest.fixture
def private_tmp(tmp_path, monkeypatch) -> Path:
    """The temporary folder of downloads, inside ``tmp_path``: whatever escapes it stays here."""
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    return scratch


@pytest.mark.parametrize("name", ["../escaped", "a/b", "a\\b", "", ".hidden", "..", "."])
def test_card_name_that_is_not_one_folder_name_is_refused(tmp_path, private_tmp, name):
    archive = _zip_top_level(_copy(tmp_path), tmp_path / "model.zip", name)
    with pytest.raises(ModelPackageError, match="cannot be the folder name") as exc:
        install_from_url(archive.as_uri(), tmp_path / "models")
    assert repr(name) in str(exc.value) and "Unpack the archive" in str(exc.value)
    assert not (tmp_path / "models").exists()
    assert sorted(p.name for p in private_tmp.iterdir()) == []  # nothing moved out of the download folder


@pytest.mark.parametrize("name", ["plain model 1.0", "package.zip", "unpacked"])
def test_card_name_names_the_installed_folder(tmp_path, private_tmp, name):
    """Also names the download's own temporary files use: the folder is made apart from them."""
    archive = _zip_top_level(_copy(tmp_path), tmp_path / "model.zip", name)
    installed = install_from_url(archive.as_uri(), tmp_path / "models")
    assert installed.path == tmp_path / "models" / name
    installed.verify_all()


def test_folder_named_like_the_installers_scratch_folders_is_refused(tmp_path):
    src = _copy(tmp_path, ".tmp-pkg")
    with pytest.raises(ModelPackageError, match="'.tmp-pkg'.*starts with '.'.*Rename the package folder"):
        install_from_folder(src, tmp_path / "models")
    assert not (tmp_path / "models" / ".tmp-pkg").exists()


# ------------------------------------------------------------------ replacing an installed package
def test_installed_package_is_replaced_only_with_overwrite(tmp_path):
    dest = tmp_path / "models"
    first = install_from_folder(_copy(tmp_path), dest)
    (first.path / "marker.txt").write_text("the installed copy")
    with pytest.raises(ModelPackageError) as exc:
        install_from_folder(_copy(tmp_path / "again"), dest)
    assert str(exc.value) == (f"a model package named 'pkg' is already installed at {dest / 'pkg'}; remove it or "
                              "install with overwrite.")
    assert (first.path / "marker.txt").is_file()
    again = install_from_folder(tmp_path / "again" / "src" / "pkg", dest, overwrite=True)
    assert again.path == first.path and not (again.path / "marker.txt").exists()
    again.verify_all()
    assert sorted(p.name for p in dest.iterdir()) == ["pkg"]  # no .tmp- or .old- folder left


def test_install_from_url_replaces_only_with_overwrite(tmp_path):
    archive = _zip_in_folder(_copy(tmp_path, "zipped-model"), tmp_path / "model.zip")
    dest = tmp_path / "models"
    install_from_url(archive.as_uri(), dest)
    with pytest.raises(ModelPackageError, match="already installed"):
        install_from_url(archive.as_uri(), dest)
    install_from_url(archive.as_uri(), dest, overwrite=True).verify_all()
    assert sorted(p.name for p in dest.iterdir()) == ["zipped-model"]


# ------------------------------------------------------------------ published archive checksum
def test_install_from_url_checks_the_published_sha256(tmp_path):
    archive = _zip_top_level(_copy(tmp_path), tmp_path / "model.zip", "checked")
    actual = hashlib.sha256(archive.read_bytes()).hexdigest()
    wrong = "0" * 64
    with pytest.raises(ModelPackageError, match="SHA-256") as exc:
        install_from_url(archive.as_uri(), tmp_path / "models", sha256=wrong)
    assert actual in str(exc.value) and wrong in str(exc.value)
    assert not (tmp_path / "models" / "checked").exists()
    installed = install_from_url(archive.as_uri(), tmp_path / "models", sha256=f" {actual.upper()} ")
    assert installed.path.name == "checked"


@pytest.mark.parametrize("typo", ["ab", "0" * 63, "g" * 64, "0" * 65, ""])
def test_a_mistyped_checksum_is_refused_before_any_download(tmp_path, typo, monkeypatch):
    from lungtumorseg.models import install as install_mod

    def no_download(*args, **kwargs):
        raise AssertionError("downloaded although the checksum could never match")

    monkeypatch.setattr(install_mod, "_download", no_download)  # a recorder: the real download must not start
    with pytest.raises(ModelPackageError, match="not a SHA-256 checksum"):
        install_from_url("file:///nowhere/model.zip", tmp_path / "models", sha256=typo)
    assert not (tmp_path / "models").exists()
