"""Installing model packages from a folder or a URL (zip) into the user models folder.

A package is verified (card readable, every weight file present and matching its SHA-256)
before it is copied; the copy goes to a temporary sibling folder and is renamed, so an
installed package is complete or absent. Downloads report progress and are unpacked only
if every archive member stays inside the target folder.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import urllib.request
import zipfile
from pathlib import Path
from typing import Callable, Optional

from ..errors import ModelPackageError
from .package import CARD_FILE, ModelPackage, load_package, user_models_dir

DownloadProgress = Callable[[int, int], None]


def install_from_folder(source: str | os.PathLike, dest_root: Optional[Path] = None) -> ModelPackage:
    """Verify the package in ``source`` and copy it into ``dest_root`` (default: user folder)."""
    package = load_package(source)
    package.verify_all()
    root = Path(dest_root or user_models_dir())
    root.mkdir(parents=True, exist_ok=True)
    target = root / Path(source).resolve().name
    tmp = root / f".tmp-{target.name}"
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.copytree(source, tmp)
    shutil.rmtree(target, ignore_errors=True)
    os.replace(tmp, target)
    return load_package(target)


def _safe_extract(archive: Path, dest: Path) -> None:
    with zipfile.ZipFile(archive) as zf:
        for member in zf.namelist():
            if member.startswith("/") or ".." in Path(member).parts:
                raise ModelPackageError(f"unsafe path {member!r} in the downloaded archive; not installed.")
        zf.extractall(dest)


def install_from_url(
    url: str, dest_root: Optional[Path] = None, progress: Optional[DownloadProgress] = None
) -> ModelPackage:
    """Download a zipped package (``model.json`` at the top or in one folder) and install it."""
    with tempfile.TemporaryDirectory(prefix="lungtumorseg-download-") as tmp:
        archive = Path(tmp) / "package.zip"

        def report(blocks: int, block_size: int, total: int) -> None:
            if progress is not None:
                progress(blocks * block_size, total)

        try:
            urllib.request.urlretrieve(url, archive, reporthook=report)  # noqa: S310 (a URL the user gave)
        except (OSError, ValueError) as exc:
            raise ModelPackageError(f"cannot download {url}: {exc}") from exc
        unpacked = Path(tmp) / "unpacked"
        try:
            _safe_extract(archive, unpacked)
        except zipfile.BadZipFile as exc:
            raise ModelPackageError(f"{url} is not a zip archive of a model package.") from exc
        cards = list(unpacked.glob(CARD_FILE)) + list(unpacked.glob(f"*/{CARD_FILE}"))
        if len(cards) != 1:
            raise ModelPackageError(f"{url} does not contain exactly one model package ({CARD_FILE}).")
        folder = cards[0].parent
        if folder == unpacked:
            named = Path(tmp) / load_package(folder).card.name
            folder.rename(named)
            folder = named
        return install_from_folder(folder, dest_root)
