"""Installing model packages from a folder or a URL (zip) into the user models folder.

A package is verified (card readable, every weight file present and matching its SHA-256)
before it is copied; the copy goes to a temporary sibling folder and is renamed, so an
installed package is complete or absent. An installed package of the same folder name is
replaced only when the caller asks (``overwrite``), so installing never silently discards a
package. Downloads report progress, can be checked against a published SHA-256, and are
unpacked only if every archive member stays inside the target folder; a download the
caller cancels (``should_cancel``) stops at the next block and installs nothing.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import urllib.request
import zipfile
from pathlib import Path
from typing import Callable, Optional

from ..errors import CancelledError, ModelPackageError, PackageAlreadyInstalledError
from ..hashing import sha256_of
from .package import CARD_FILE, ModelPackage, load_package, user_models_dir

DownloadProgress = Callable[[int, int], None]
#: Asked after every downloaded block; True stops the download (see :func:`install_from_url`).
ShouldCancel = Callable[[], bool]

#: Characters that would make a name more than one path component (separators, on any
#: platform) or no valid file name at all (NUL).
_UNSAFE_NAME_CHARS = ("/", "\\", "\0")
#: The longest file name most file systems accept, in bytes.
_MAX_NAME_BYTES = 255


def _name_problem(name: str) -> str:
    """Why ``name`` cannot be the folder of an installed package, or "" when it can.

    The folder must be exactly one path component inside the models folder: a separator or
    ``..`` would put it elsewhere, and a leading ``.`` would hide it (and ``.tmp-``/``.old-``
    folders are the installer's own scratch space, skipped when packages are listed)."""
    if not name:
        return "it is empty"
    if name.startswith("."):
        return "it starts with '.'"
    bad = [c for c in _UNSAFE_NAME_CHARS if c in name]
    if bad:
        return f"it contains {', '.join(repr(c) for c in bad)}"
    if len(name.encode("utf-8", "surrogatepass")) > _MAX_NAME_BYTES:
        return f"it is longer than {_MAX_NAME_BYTES} bytes"
    return ""


def _check_folder_name(name: str, what: str, advice: str) -> None:
    """Refuse ``name`` (the folder a package would be installed as) unless it is one safe path
    component; ``what`` says where the name comes from, ``advice`` what the user can do."""
    problem = _name_problem(name)
    if problem:
        raise ModelPackageError(
            f"{what} is {name!r}, which cannot be the folder name of an installed model package ({problem}; "
            f"it must be a single folder name, not starting with '.', without '/' or '\\'). {advice}"
        )


def _remove(path: Path) -> None:
    """Delete ``path`` whatever it is (folder, file or symbolic link); absent is fine."""
    if path.is_symlink() or path.is_file():
        path.unlink()
    elif path.exists():
        shutil.rmtree(path)


def _swap_in(tmp: Path, target: Path) -> None:
    """Move the complete copy ``tmp`` to ``target``, replacing what is there.

    An existing ``target`` is first renamed aside and deleted only once the new copy is in
    place, so a failure leaves the old package (never half of either)."""
    if not (target.exists() or target.is_symlink()):
        os.replace(tmp, target)
        return
    old = target.with_name(f".old-{target.name}")
    _remove(old)
    os.replace(target, old)
    try:
        os.replace(tmp, target)
    except OSError:
        os.replace(old, target)
        raise
    _remove(old)


def install_from_folder(
    source: str | os.PathLike, dest_root: Optional[Path] = None, *, overwrite: bool = False
) -> ModelPackage:
    """Verify the package in ``source`` and copy it into ``dest_root`` (default: user folder),
    as a folder of the same name as ``source``.

    An installed package of that name is refused unless ``overwrite`` (then it is replaced),
    so a user never loses a package by installing another that happens to share its name."""
    package = load_package(source)
    root = Path(dest_root or user_models_dir())
    target = root / Path(source).resolve().name
    _check_folder_name(target.name, f"the folder name of {source}",
                       "Rename the package folder (or copy it under another name) and install it again.")
    if (target.exists() or target.is_symlink()) and not overwrite:
        raise PackageAlreadyInstalledError(
            f"a model package named {target.name!r} is already installed at {target}; remove it or install "
            "with overwrite.", str(target)
        )
    package.verify_all()
    root.mkdir(parents=True, exist_ok=True)
    tmp = root / f".tmp-{target.name}"
    _remove(tmp)
    try:
        shutil.copytree(source, tmp)
        _swap_in(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return load_package(target)


def _safe_extract(archive: Path, dest: Path) -> None:
    with zipfile.ZipFile(archive) as zf:
        for member in zf.namelist():
            if member.startswith("/") or ".." in Path(member).parts:
                raise ModelPackageError(f"unsafe path {member!r} in the downloaded archive; not installed.")
        zf.extractall(dest)


def published_sha256(text: str) -> str:
    """``text`` as a SHA-256 to check a download against: 64 hexadecimal characters, spaces
    around and letter case ignored (checksums are published either way). Anything else is
    refused before a download starts, so a mistyped checksum is not reported as a bad download."""
    digest = text.strip().lower()
    if len(digest) != 64 or any(char not in "0123456789abcdef" for char in digest):
        raise ModelPackageError(
            f"{text.strip()!r} is not a SHA-256 checksum (64 hexadecimal characters); copy the checksum "
            "published with the package, or leave it out."
        )
    return digest


def _check_archive_sha256(archive: Path, url: str, expected: str) -> None:
    """Refuse a downloaded archive whose SHA-256 is not ``expected`` (normalised by
    :func:`published_sha256`), a damaged or substituted download, before anything is unpacked."""
    actual = sha256_of(archive)
    if actual != expected:
        raise ModelPackageError(
            f"the archive downloaded from {url} has SHA-256 {actual}, but {expected} was expected: the "
            "download is damaged or is not the published package; it was not installed. Download it again or "
            "check the expected checksum."
        )


def _stop_if_cancelled(should_cancel: Optional[ShouldCancel], url: str) -> None:
    if should_cancel is not None and should_cancel():
        raise CancelledError(f"the download of {url} was cancelled; nothing was installed.")


def _download(url: str, archive: Path, progress: Optional[DownloadProgress],
              should_cancel: Optional[ShouldCancel] = None) -> None:
    """Fetch ``url`` into ``archive``, reporting bytes done and total to ``progress`` and
    stopping with :class:`CancelledError` at the first block after ``should_cancel`` says so."""

    def report(blocks: int, block_size: int, total: int) -> None:
        if progress is not None:
            progress(blocks * block_size, total)
        _stop_if_cancelled(should_cancel, url)

    try:
        urllib.request.urlretrieve(url, archive, reporthook=report)  # noqa: S310 (a URL the user gave)
    except (OSError, ValueError) as exc:
        raise ModelPackageError(f"cannot download {url}: {exc}") from exc


def _package_folder(unpacked: Path, scratch: Path, url: str) -> Path:
    """The unpacked package's folder: the archive's one folder holding ``model.json``, or, when
    the card is at the archive's top, a folder named after the card's ``name`` (checked to be
    one safe folder name, and made in ``scratch`` so it cannot meet other temporary files)."""
    cards = list(unpacked.glob(CARD_FILE)) + list(unpacked.glob(f"*/{CARD_FILE}"))
    if len(cards) != 1:
        raise ModelPackageError(f"{url} does not contain exactly one model package ({CARD_FILE}).")
    folder = cards[0].parent
    if folder != unpacked:
        return folder
    name = load_package(folder).card.name
    _check_folder_name(
        name, f"the name in the {CARD_FILE} at the top of {url}",
        "Unpack the archive into a folder with a plain name and install that folder, or ask the package's "
        "author to fix the card's name or put the package in a folder of its own inside the archive.",
    )
    scratch.mkdir()
    named = scratch / name
    folder.rename(named)
    return named


def install_from_url(
    url: str,
    dest_root: Optional[Path] = None,
    progress: Optional[DownloadProgress] = None,
    *,
    overwrite: bool = False,
    sha256: Optional[str] = None,
    should_cancel: Optional[ShouldCancel] = None,
) -> ModelPackage:
    """Download a zipped package (``model.json`` at the top or in one folder) and install it.

    With ``sha256`` (the checksum published with the archive) the download must match it.
    ``overwrite`` is passed to :func:`install_from_folder`. ``should_cancel`` is asked after
    every downloaded block and once more before the package is copied in: when it answers
    True, :class:`~lungtumorseg.errors.CancelledError` is raised, the partial download is
    deleted and nothing is installed or replaced."""
    if sha256 is not None:
        sha256 = published_sha256(sha256)
    with tempfile.TemporaryDirectory(prefix="lungtumorseg-download-") as tmp:
        archive = Path(tmp) / "package.zip"
        _download(url, archive, progress, should_cancel)
        if sha256 is not None:
            _check_archive_sha256(archive, url, sha256)
        unpacked = Path(tmp) / "unpacked"
        try:
            _safe_extract(archive, unpacked)
        except zipfile.BadZipFile as exc:
            raise ModelPackageError(f"{url} is not a zip archive of a model package.") from exc
        folder = _package_folder(unpacked, Path(tmp) / "named", url)
        _stop_if_cancelled(should_cancel, url)
        return install_from_folder(folder, dest_root, overwrite=overwrite)
