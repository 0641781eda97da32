"""Model packages as the Widget sees them: list, describe, install (folder or URL).

Why here and light: the Widget fills its model combo box at start-up, so listing reads
only the ``model.json`` cards (no torch import). Weight checksums are verified by the
core before any weight is loaded; installing also checks them, so a broken download is
refused at once rather than at the first run. Folders are the same as the core's
(``lungtumorseg.models.package``): the shipped ``Resources/Models`` and the user folder
``$LUNGTUMORSEG_MODELS`` or ``~/.lungtumorseg/models``.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

CARD_FILE = "model.json"
SHIPPED_DIR = Path(__file__).resolve().parents[1] / "Resources" / "Models"
DEMO_PACKAGE = SHIPPED_DIR / "lungtumorseg-demo-phantom"


@dataclass(frozen=True)
class PackageInfo:
    """Card fields the GUI shows and the defaults it pre-fills."""

    path: Path
    name: str
    version: str
    description: str
    demo: bool
    warning: str
    threshold: float
    min_lesion_mm3: float
    #: the card's lesion terminology {"category"|"type"|"anatomic_region": {"scheme", "code", "meaning"}}
    lesion_terminology: dict | None = None

    @property
    def label(self) -> str:
        return f"{self.name} {self.version}" + (" (demo)" if self.demo else "")


def user_models_dir() -> Path:
    """Folder where installed packages live (same rule as the core)."""
    env = os.environ.get("LUNGTUMORSEG_MODELS")
    return Path(env) if env else Path.home() / ".lungtumorseg" / "models"


def read_package(folder: str | Path) -> PackageInfo:
    """Describe the package in ``folder``; ``ValueError`` with a reason if it is not one."""
    folder = Path(folder)
    card_path = folder / CARD_FILE
    if not card_path.is_file():
        raise ValueError(f"{folder} is not a model package ({CARD_FILE} is missing)")
    try:
        card = json.loads(card_path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"{card_path} is not valid JSON: {exc}") from exc
    post = card.get("postprocessing", {}) or {}
    lesion_label = (card.get("labels", {}) or {}).get("1", {}) or {}
    return PackageInfo(path=folder, name=str(card.get("name", folder.name)), version=str(card.get("version", "")),
                       description=str(card.get("description", "")), demo=bool(card.get("demo", False)),
                       warning=str(card.get("warning", "")), threshold=float(post.get("threshold", 0.5)),
                       min_lesion_mm3=float(post.get("min_lesion_mm3", 0.0)),
                       lesion_terminology=lesion_label.get("terminology"))


def list_packages(extra_dirs: list[Path] | None = None) -> list[PackageInfo]:
    """Packages in the shipped folder, the user folder and ``extra_dirs`` (unreadable ones skipped)."""
    found, seen = [], set()
    for root in [SHIPPED_DIR, user_models_dir(), *(extra_dirs or [])]:
        if not Path(root).is_dir():
            continue
        for card in sorted(Path(root).glob(f"*/{CARD_FILE}")):
            folder = card.parent.resolve()
            if folder in seen or folder.name.startswith(".tmp-"):
                continue
            seen.add(folder)
            try:
                found.append(read_package(folder))
            except ValueError:
                continue
    return found


def verify_weights(folder: str | Path) -> None:
    """Check every weight file's SHA-256 against the card; ``ValueError`` names the bad file."""
    folder = Path(folder)
    card = json.loads((folder / CARD_FILE).read_text(encoding="utf-8"))
    weights = card.get("weights", {})
    if not weights:
        raise ValueError(f"{folder / CARD_FILE} lists no weight files")
    for zone, entry in weights.items():
        path = folder / entry["file"]
        if not path.is_file():
            raise ValueError(f"weight file {path.name} for zone {zone} is missing")
        digest = hashlib.sha256()
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        if digest.hexdigest() != entry.get("sha256"):
            raise ValueError(f"weight file {path.name} does not match its SHA-256 in the card (damaged or altered)")


def install_from_folder(source: str | Path, dest_root: Path | None = None) -> PackageInfo:
    """Verify and copy a package folder into the user models folder (replacing an older copy)."""
    read_package(source)  # a clear error if it is not a package
    verify_weights(source)
    dest_root = Path(dest_root or user_models_dir())
    dest_root.mkdir(parents=True, exist_ok=True)
    target = dest_root / Path(source).resolve().name
    tmp = dest_root / f".tmp-{target.name}"
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.copytree(source, tmp)
    shutil.rmtree(target, ignore_errors=True)
    os.replace(tmp, target)
    return read_package(target)


def install_from_url(url: str, dest_root: Path | None = None,
                     progress: Callable[[int, int], None] | None = None) -> PackageInfo:
    """Download a zipped package (``model.json`` at its top or in one folder), verify, install."""
    with tempfile.TemporaryDirectory(prefix="LungTumorSeg-download-") as tmp:
        archive = Path(tmp) / "package.zip"

        def report(blocks: int, block_size: int, total: int) -> None:
            if progress:
                progress(blocks * block_size, total)

        urllib.request.urlretrieve(url, archive, reporthook=report)  # noqa: S310 (user-given URL)
        unpacked = Path(tmp) / "unpacked"
        with zipfile.ZipFile(archive) as zf:
            for member in zf.namelist():
                if member.startswith("/") or ".." in Path(member).parts:
                    raise ValueError(f"unsafe path in the archive: {member}")
            zf.extractall(unpacked)
        cards = list(unpacked.glob(CARD_FILE)) + list(unpacked.glob(f"*/{CARD_FILE}"))
        if len(cards) != 1:
            raise ValueError("the download does not contain exactly one model package (model.json)")
        folder = cards[0].parent
        if folder == unpacked:
            named = Path(tmp) / read_package(folder).name
            folder.rename(named)
            folder = named
        return install_from_folder(folder, dest_root)
