"""The model package format: what it contains, how it is verified, loaded and written.

A package is a folder::

    model.json            the card: name, version, intended use, network hyper-parameters,
                          preprocessing, zones, post-processing defaults, labels and
                          terminology, training data/command, measured metrics, and the
                          SHA-256 and size of every weight file
    upper.safetensors     one weight file per zone (tensor names = UNETR state_dict keys)
    middle.safetensors
    lower.safetensors

Weights are loaded without executing code (safetensors) and only after the file's SHA-256
matches the card, so a truncated download or a tampered file is refused by name.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping

from .. import __version__
from ..enhance import BlobFilter
from ..errors import ModelPackageError
from ..io import default_file_mode, write_text_atomic
from ..postprocess import LesionFilter
from ..preprocess import input_channel_names

if TYPE_CHECKING:  # torch is imported only when weights are read or written, so listing
    import torch  # and verifying packages stays light (the Slicer GUI does both).

CARD_FILE = "model.json"
FORMAT_VERSION = 1
REQUIRED_KEYS = ("name", "version", "network", "preprocessing", "zones", "postprocessing", "weights")
DEMO_WARNING = "Trained on synthetic data, a demonstration, not for clinical use."
USER_MODELS_ENV = "LUNGTUMORSEG_MODELS"


def sha256_of(path: Path) -> str:
    """Hex SHA-256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass
class ModelCard:
    """The parsed ``model.json``; ``raw`` keeps every field for reports and the GUI."""

    raw: dict[str, Any]

    @property
    def name(self) -> str:
        return str(self.raw["name"])

    @property
    def version(self) -> str:
        return str(self.raw["version"])

    @property
    def is_demo(self) -> bool:
        return bool(self.raw.get("demo", False))

    @property
    def warning(self) -> str:
        return str(self.raw.get("warning", DEMO_WARNING if self.is_demo else ""))

    @property
    def zones(self) -> list[str]:
        return list(self.raw["zones"]["names"])

    @property
    def spacing_mm(self) -> tuple[float, float, float]:
        return tuple(float(v) for v in self.raw["preprocessing"]["spacing_mm"])  # type: ignore[return-value]

    @property
    def window_hu(self) -> tuple[float, float]:
        lo, hi = self.raw["preprocessing"]["intensity_window_hu"]
        return float(lo), float(hi)

    @property
    def lung_channel(self) -> bool:
        """Whether the network takes the lung mask as a second input channel."""
        return bool(self.raw["preprocessing"].get("lung_channel", False))

    @property
    def blob_filter(self) -> BlobFilter | None:
        """The nodule-enhancement input channel's parameters, or None (older packages have none)."""
        return BlobFilter.from_card(self.raw["preprocessing"].get("blob_channel"))

    @property
    def roi_size(self) -> tuple[int, int, int]:
        return tuple(int(v) for v in self.raw["network"]["img_size"])  # type: ignore[return-value]

    @property
    def mirror_axes(self) -> tuple[int, ...]:
        """Test-time mirroring axes of the canonical (z, y, x) grid; empty = none."""
        return tuple(int(a) for a in self.raw.get("inference", {}).get("mirror_axes", ()))

    @property
    def lesion_filter(self) -> LesionFilter:
        """The card's component limits: minimum volume, peak probability, maximum elongation,
        maximum density (``null``/absent = no limit, absent peak = 0) and zone limits."""
        return LesionFilter.from_dict(self.raw["postprocessing"])

    def __getitem__(self, key: str) -> Any:
        return self.raw[key]

    def get(self, key: str, default: Any = None) -> Any:
        return self.raw.get(key, default)

    def summary(self) -> dict[str, Any]:
        """What a report or the GUI shows about the model."""
        return {
            "name": self.name,
            "version": self.version,
            "demo": self.is_demo,
            "warning": self.warning,
        }


@dataclass
class ModelPackage:
    """A verified package on disk: its folder and card."""

    path: Path
    card: ModelCard
    _verified: set[str] = field(default_factory=set)

    def weight_path(self, zone: str) -> Path:
        entry = self.card["weights"].get(zone)
        if entry is None:
            raise ModelPackageError(
                f"{self.path / CARD_FILE} lists no weights for zone {zone!r}; "
                f"it has {sorted(self.card['weights'])}."
            )
        return self.path / entry["file"]

    def verify(self, zone: str) -> Path:
        """Check that ``zone``'s weight file exists, is complete and matches its SHA-256."""
        path = self.weight_path(zone)
        if zone in self._verified:
            return path
        entry = self.card["weights"][zone]
        if not path.is_file():
            raise ModelPackageError(
                f"weight file {path} is missing; reinstall the model package {self.card.name}."
            )
        size = path.stat().st_size
        if "bytes" in entry and size != int(entry["bytes"]):
            raise ModelPackageError(
                f"weight file {path} has {size} bytes, the card says {entry['bytes']}: "
                "it is truncated or replaced; reinstall the model package."
            )
        if sha256_of(path) != entry["sha256"]:
            raise ModelPackageError(
                f"weight file {path} does not match the SHA-256 in {CARD_FILE}: it was "
                "modified or damaged; it was not loaded. Reinstall the model package."
            )
        self._verified.add(zone)
        return path

    def verify_all(self) -> None:
        for zone in self.card.zones:
            self.verify(zone)

    def load_network(self, zone: str, device: "str | torch.device" = "cpu") -> "torch.nn.Module":
        """The zone's UNETR with verified weights, in eval mode, float32."""
        from safetensors.torch import load_file

        from .network import build_unetr

        path = self.verify(zone)
        try:
            state = load_file(str(path), device="cpu")
        except Exception as exc:  # safetensors raises its own error types
            raise ModelPackageError(f"weight file {path} cannot be read: {exc}") from exc
        net = build_unetr(self.card["network"])
        state = {k: v.float() for k, v in state.items()}
        try:
            net.load_state_dict(state, strict=True)
        except RuntimeError as exc:
            raise ModelPackageError(
                f"weight file {path} does not fit the network described in {CARD_FILE}."
            ) from exc
        return net.to(device).eval()


def load_package(path: str | os.PathLike) -> ModelPackage:
    """Read and validate a package's card (weights are verified when first used)."""
    folder = Path(path)
    card_path = folder / CARD_FILE
    if not card_path.is_file():
        raise ModelPackageError(
            f"{folder} is not a model package: {CARD_FILE} is missing."
        )
    try:
        raw = json.loads(card_path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ModelPackageError(f"{card_path} is not valid JSON: {exc}") from exc
    missing = [k for k in REQUIRED_KEYS if k not in raw]
    if missing:
        raise ModelPackageError(f"{card_path} lacks the fields {missing}.")
    card = ModelCard(raw)
    for zone in card.zones:
        if zone not in raw["weights"]:
            raise ModelPackageError(f"{card_path} names zone {zone!r} but lists no weights for it.")
    channels = raw.get("network", {}).get("in_channels")
    built = input_channel_names(card.lung_channel, card.blob_filter is not None)  # what network_input makes
    if channels is not None and channels != len(built):
        raise ModelPackageError(
            f"{card_path}: the network takes {channels} input channel(s) but its preprocessing section gives "
            f"{len(built)} ({', '.join(built)}) in LungTumorSeg {__version__}; the package may need a newer "
            "LungTumorSeg."
        )
    try:
        card.lesion_filter
    except (TypeError, ValueError) as exc:
        raise ModelPackageError(f"{card_path}: postprocessing is not valid: {exc}") from exc
    mirror = raw.get("inference", {}).get("mirror_axes", [])
    if not isinstance(mirror, list) or any(a not in (0, 1, 2) for a in mirror):
        raise ModelPackageError(
            f"{card_path}: inference.mirror_axes must be a list of axes 0, 1, 2 (z, y, x), got {mirror!r}.")
    return ModelPackage(folder, card)


def save_package(
    folder: str | os.PathLike,
    card: Mapping[str, Any],
    zone_states: "Mapping[str, Mapping[str, torch.Tensor]]",
    half_precision: bool = True,
) -> ModelPackage:
    """Write a package: one safetensors file per zone, then the card with their SHA-256.

    Written into a temporary sibling folder and renamed, so a package is complete or absent.
    Weights are stored in float16 when ``half_precision`` (half the size; loaded as float32).
    """
    from safetensors.torch import save_file

    out = Path(folder)
    tmp = out.with_name(f".tmp-{out.name}")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    weights: dict[str, Any] = {}
    for zone, state in zone_states.items():
        tensors = {
            k: (v.detach().to("cpu").half() if half_precision and v.is_floating_point() else v.detach().cpu()).contiguous()
            for k, v in state.items()
        }
        file = f"{zone}.safetensors"
        save_file(tensors, str(tmp / file), metadata={"zone": zone, "model": str(card["name"])})
        os.chmod(tmp / file, default_file_mode())  # safetensors creates owner-only files
        weights[zone] = {"file": file, "sha256": sha256_of(tmp / file), "bytes": (tmp / file).stat().st_size}
    full = dict(card)
    full["format_version"] = FORMAT_VERSION
    full["weights"] = weights
    write_text_atomic(json.dumps(full, indent=2) + "\n", tmp / CARD_FILE)
    if out.exists():
        shutil.rmtree(out)
    os.replace(tmp, out)
    return load_package(out)


def default_package_dir() -> Path:
    """The demo package shipped inside the module's Resources/Models folder."""
    return Path(__file__).resolve().parents[2] / "Resources" / "Models" / "lungtumorseg-demo-phantom"


def user_models_dir() -> Path:
    """Where installed packages live (``$LUNGTUMORSEG_MODELS`` or ~/.lungtumorseg/models)."""
    env = os.environ.get(USER_MODELS_ENV)
    return Path(env) if env else Path.home() / ".lungtumorseg" / "models"


def list_packages(extra_dirs: list[Path] | None = None) -> list[ModelPackage]:
    """Every loadable package: the shipped ones, installed ones and ``extra_dirs``."""
    roots = [default_package_dir().parent, user_models_dir(), *(extra_dirs or [])]
    found: list[ModelPackage] = []
    seen: set[Path] = set()
    for root in roots:
        if not root.is_dir():
            continue
        for card in sorted(root.glob(f"*/{CARD_FILE}")):
            folder = card.parent.resolve()
            if folder in seen or folder.name.startswith(".tmp-"):
                continue
            seen.add(folder)
            try:
                found.append(load_package(folder))
            except ModelPackageError:
                continue
    return found
