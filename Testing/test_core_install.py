"""Installing model packages (core): from a folder and from a zip URL (file://), with the
SHA-256 checked before anything is copied, and the `lungtumorseg install` command."""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

import pytest

from core_fixtures import shared_package_dir
from lungtumorseg.cli import main
from lungtumorseg.errors import ModelPackageError
from lungtumorseg.models import install_from_folder, install_from_url, list_packages


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


def test_install_from_zip_url_reports_progress(tmp_path):
    src = _copy(tmp_path, "zipped-model")
    archive = tmp_path / "model.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for file in src.iterdir():
            zf.write(file, f"zipped-model/{file.name}")
    seen: list[int] = []
    installed = install_from_url(archive.as_uri(), tmp_path / "models", lambda done, total: seen.append(done))
    assert installed.path.name == "zipped-model" and seen
    installed.verify_all()


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
