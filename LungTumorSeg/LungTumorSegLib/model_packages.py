"""Model packages as the Widget sees them: list, describe, install (folder or URL).

A thin view over the core's :mod:`lungtumorseg.models` (one implementation of listing,
SHA-256 verification and installing). Importing it does not import torch, so the Widget
can fill its model list at start-up cheaply. Errors are re-raised as ``ValueError`` with
the core's message, which names the bad file.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from lungtumorseg.errors import CancelledError, ModelPackageError, PackageAlreadyInstalledError
from lungtumorseg.models import install as core_install
from lungtumorseg.models.accuracy import accuracy_text
from lungtumorseg.models import package as core_package

CARD_FILE = core_package.CARD_FILE
DEMO_PACKAGE = core_package.default_package_dir()
SHIPPED_DIR = DEMO_PACKAGE.parent


@dataclass(frozen=True)
class PackageInfo:
    """Card fields the GUI shows and the defaults it pre-fills."""

    path: Path
    name: str
    version: str
    description: str  # the card's description (for the demo: how this version differs from the last)
    demo: bool
    warning: str
    threshold: float
    min_lesion_mm3: float
    zone_overlap_mm: float = 15.0
    min_peak_probability: float = 0.0
    max_elongation: float = math.inf  # no limit
    max_mean_hu: float = math.inf  # no limit
    #: the card's lesion terminology {"category"|"type"|"anatomic_region": {"scheme", "code", "meaning"}}
    lesion_terminology: dict | None = None
    #: the card's zone limits {"middle": {"min_lesion_mm3", "min_peak_probability", ...}} (empty: none)
    zone_limits: dict = field(default_factory=dict)
    #: the card's outline growth {"min_hu", "max_hu", "max_distance_mm"} (None: none)
    outline_growth: dict | None = None
    #: the cut-off of the card's candidate classifier (``candidate_check``; None: the package has none)
    candidate_check_cutoff: float | None = None
    #: the card's magnified second look {"zoom", "cutoff", ...} (``magnified_look``; None: none)
    magnified_look: dict | None = None
    #: the card's intended use (what the package is for; the model selector's tooltip)
    intended_use: str = ""
    #: what cut-offs of the candidate classifier bought on the card's calibration phantoms:
    #: (cut-off, sensitivity for tumours >= 10 mm, false positives per case), lowest cut-off first
    candidate_cutoff_points: tuple[tuple[float, float, float], ...] = ()
    #: what the card's held-out measurements say, each number beside its target (the model panel)
    accuracy: str = ""

    @property
    def label(self) -> str:
        return f"{self.name} {self.version}" + (" (demo)" if self.demo else "")


def _info(package: core_package.ModelPackage) -> PackageInfo:
    card = package.card
    post = card.get("postprocessing", {}) or {}
    lesion_label = (card.get("labels", {}) or {}).get("1", {}) or {}
    limits = card.lesion_filter
    limits_dict = limits.to_dict()
    candidate = card.get(core_package.CANDIDATE_CHECK)  # the card's section only: its network needs torch
    return PackageInfo(path=Path(package.path), name=card.name, version=card.version,
                       description=str(card.get("description", "")), demo=card.is_demo, warning=card.warning,
                       threshold=float(post.get("threshold", 0.5)),
                       min_lesion_mm3=float(post.get("min_lesion_mm3", 0.0)),
                       zone_overlap_mm=float((card.get("zones", {}) or {}).get("overlap_mm", 15.0)),
                       min_peak_probability=limits.min_peak_probability, max_elongation=limits.max_elongation,
                       max_mean_hu=limits.max_mean_hu,
                       lesion_terminology=lesion_label.get("terminology"),
                       zone_limits=limits_dict.get("zone_limits", {}),
                       outline_growth=limits_dict.get("outline_growth"),
                       candidate_check_cutoff=float(candidate["cutoff"]) if candidate is not None else None,
                       magnified_look=card.get("magnified_look"),
                       intended_use=str(card.get("intended_use", "") or ""),
                       candidate_cutoff_points=_cutoff_points(card.get("metrics", {}) or {}),
                       accuracy=accuracy_text(card.raw))


def _cutoff_points(metrics: dict) -> tuple[tuple[float, float, float], ...]:
    """The card's ``metrics.candidate_cutoff_calibration`` points as (cut-off, sensitivity >= 10 mm,
    false positives per case), sorted by cut-off; empty when the card has none or they are malformed."""
    try:
        points = (metrics.get("candidate_cutoff_calibration") or {}).get("points", [])
        return tuple(sorted((float(p["cutoff"]), float(p["sensitivity_ge10mm"]), float(p["false_positives_per_case"]))
                            for p in points))
    except (AttributeError, KeyError, TypeError, ValueError):
        return ()


def user_models_dir() -> Path:
    """Folder where installed packages live (``$LUNGTUMORSEG_MODELS`` or ~/.lungtumorseg/models)."""
    return core_package.user_models_dir()


def read_package(folder: str | Path) -> PackageInfo:
    """Describe the package in ``folder``; ``ValueError`` with a reason if it is not one."""
    try:
        return _info(core_package.load_package(folder))
    except ModelPackageError as exc:
        raise ValueError(str(exc)) from exc


def list_packages(extra_dirs: list[Path] | None = None) -> list[PackageInfo]:
    """Packages in the shipped folder, the user folder and ``extra_dirs`` (unreadable ones skipped)."""
    return [_info(p) for p in core_package.list_packages(extra_dirs)]


def verify_weights(folder: str | Path) -> None:
    """Check every weight file's SHA-256 against the card; ``ValueError`` names the bad file."""
    try:
        core_package.load_package(folder).verify_all()
    except ModelPackageError as exc:
        raise ValueError(str(exc)) from exc


def weight_problem(folder: str | Path) -> str:
    """Why the package's weights cannot be used (a missing, truncated or altered file, named by
    the core's message), or "" when every SHA-256 matches the card (:func:`verify_weights`)."""
    try:
        verify_weights(folder)
    except ValueError as exc:
        return str(exc)
    return ""


class AlreadyInstalled(ValueError):
    """A package of that folder name is installed; ask the user, then install with ``overwrite``."""

    def __init__(self, message: str, path: str) -> None:
        super().__init__(message)
        self.path = path


def _translated(error: ModelPackageError) -> ValueError:
    if isinstance(error, PackageAlreadyInstalledError):
        return AlreadyInstalled(str(error), error.path)
    return ValueError(str(error))


def install_from_folder(source: str | Path, dest_root: Path | None = None, *, overwrite: bool = False) -> PackageInfo:
    """Verify and copy a package folder into the user models folder; an installed package of
    the same name is replaced only with ``overwrite`` (else :class:`AlreadyInstalled`)."""
    try:
        return _info(core_install.install_from_folder(source, dest_root, overwrite=overwrite))
    except ModelPackageError as exc:
        raise _translated(exc) from exc


def install_from_url(url: str, dest_root: Path | None = None,
                     progress: Callable[[int, int], None] | None = None, *, overwrite: bool = False,
                     sha256: str | None = None, should_cancel: Callable[[], bool] | None = None) -> PackageInfo | None:
    """Download a zipped package (``model.json`` at its top or in one folder), check the
    archive's published ``sha256`` if given, verify, install (see :func:`install_from_folder`).
    ``should_cancel`` (e.g. a progress dialog's Cancel button) is asked after every block; when
    it answers True the download stops, nothing is installed or replaced, and None is returned
    (a cancel is the user's choice, not an error to display)."""
    try:
        return _info(core_install.install_from_url(url, dest_root, progress, overwrite=overwrite, sha256=sha256,
                                                   should_cancel=should_cancel))
    except CancelledError:
        return None
    except ModelPackageError as exc:
        raise _translated(exc) from exc
