"""The model package format: what it contains, how it is verified, loaded and written.

A package is a folder::

    model.json            the card: name, version, intended use, network hyper-parameters,
                          preprocessing, zones, post-processing defaults, labels and
                          terminology, training data/command, measured metrics, and the
                          SHA-256 and size of every weight file
    upper.safetensors     one weight file per zone (tensor names = UNETR state_dict keys)
    middle.safetensors
    lower.safetensors
    candidate_check.safetensors   optional: the second look at each lesion candidate
                          (:mod:`lungtumorseg.candidate_check`), listed in the card's
                          ``weights`` under that name and described by ``candidate_check``

Weights are loaded without executing code (safetensors) and only after the file's SHA-256
matches the card, so a truncated download or a tampered file is refused by name.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Mapping

from .. import __version__
from ..enhance import BlobFilter
from ..errors import ModelPackageError
from ..hashing import sha256_of
from ..io import default_file_mode, write_text_atomic
from ..postprocess import LesionFilter
from ..preprocess import input_channel_names

if TYPE_CHECKING:  # torch is imported only when weights are read or written, so listing
    import torch  # and verifying packages stays light (the Slicer GUI does both).

    from ..candidate_check import CandidateCheck
    from ..magnify import MagnifiedLook

CARD_FILE = "model.json"
FORMAT_VERSION = 1
REQUIRED_KEYS = ("name", "version", "network", "preprocessing", "zones", "postprocessing", "weights")
DEMO_WARNING = "Trained on synthetic data, a demonstration, not for clinical use."
USER_MODELS_ENV = "LUNGTUMORSEG_MODELS"
#: Card section (and ``weights`` entry) of the optional candidate classifier.
CANDIDATE_CHECK = "candidate_check"


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
    def magnified_look(self) -> "MagnifiedLook | None":
        """The magnified second look's zoom and cut-off (``lungtumorseg.magnify``), or None."""
        from ..magnify import CARD_SECTION, MagnifiedLook

        return MagnifiedLook.from_card(self.raw.get(CARD_SECTION))

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
    _candidate_check: "CandidateCheck | None" = None
    _magnified_check: "CandidateCheck | None" = None

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
        if self.card.get(CANDIDATE_CHECK) is not None:
            self.verify(CANDIDATE_CHECK)
        from ..magnify import CARD_SECTION

        if CARD_SECTION in self.card["weights"]:
            self.verify(CARD_SECTION)

    def candidate_check(self) -> "CandidateCheck | None":
        """The package's candidate classifier with verified weights (None when the card has
        none): every lesion candidate the card's limits keep is then scored by it."""
        spec = self.card.get(CANDIDATE_CHECK)
        if spec is None:
            return None
        if self._candidate_check is None:
            self._candidate_check = self._load_check(CANDIDATE_CHECK, spec["network"], float(spec["cutoff"]))
        return self._candidate_check

    def magnified_check(self) -> "CandidateCheck | None":
        """The classifier that confirms the magnified look's candidates, at the look's cut-off:
        the look's own (weights entry ``magnified_look``) when its card section describes a
        network, else the candidate classifier's. None when the card has no look."""
        look = self.card.magnified_look
        if look is None:
            return None
        from ..magnify import CARD_SECTION

        if self._magnified_check is None:
            own = self.card[CARD_SECTION].get("network")
            if own is None:
                base = self.candidate_check()
                self._magnified_check = None if base is None else replace(base, cutoff=look.cutoff)
            else:
                self._magnified_check = self._load_check(CARD_SECTION, own, look.cutoff)
        return self._magnified_check

    def _load_check(self, entry: str, network: Mapping[str, Any], cutoff: float) -> "CandidateCheck":
        """A candidate classifier from the weights file ``entry`` (SHA-256 checked)."""
        from ..candidate_check import CandidateCheck, build_classifier

        net = build_classifier(network)
        try:
            net.load_state_dict(self._read_state(entry), strict=True)
        except RuntimeError as exc:
            raise ModelPackageError(f"weight file {self.weight_path(entry)} does not fit the "
                                    f"classifier described in {CARD_FILE} ({entry}).") from exc
        return CandidateCheck(net.eval(), cutoff)

    def _read_state(self, entry: str) -> "dict[str, torch.Tensor]":
        """The verified float32 tensors of one weight file of the card."""
        from safetensors.torch import load_file

        path = self.verify(entry)
        try:
            state = load_file(str(path), device="cpu")
        except Exception as exc:  # safetensors raises its own error types
            raise ModelPackageError(f"weight file {path} cannot be read: {exc}") from exc
        return {k: v.float() for k, v in state.items()}

    def load_network(self, zone: str, device: "str | torch.device" = "cpu") -> "torch.nn.Module":
        """The zone's UNETR with verified weights, in eval mode, float32."""
        from .network import build_unetr

        path = self.weight_path(zone)
        state = self._read_state(zone)
        net = build_unetr(self.card["network"])
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
    _check_format_version(card_path, raw)
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
    _check_candidate_section(card_path, raw)
    _check_magnified_look(card_path, raw)
    return ModelPackage(folder, card)


def _check_format_version(card_path: Path, raw: Any) -> None:
    """Refuse a card written in a newer package format than this code reads.

    Checked before any other field: a newer format may change what the fields mean, so its
    card must not be half-understood, and "needs a newer LungTumorSeg" is the useful message
    rather than whichever field happens to differ. Cards without ``format_version`` (written
    before it existed) are format 1 and accepted."""
    if not isinstance(raw, dict) or "format_version" not in raw:
        return
    found = raw["format_version"]
    if isinstance(found, bool) or not isinstance(found, int):
        raise ModelPackageError(
            f"{card_path}: format_version is {found!r}, not a whole number; LungTumorSeg {__version__} reads "
            f"package formats up to {FORMAT_VERSION}. The card is damaged, or the package needs a newer "
            "LungTumorSeg."
        )
    if found > FORMAT_VERSION:
        raise ModelPackageError(
            f"{card_path} is in package format {found}, but LungTumorSeg {__version__} reads package formats up "
            f"to {FORMAT_VERSION}: the package needs a newer LungTumorSeg. Update LungTumorSeg to use it."
        )


def _check_candidate_section(card_path: Path, raw: Mapping[str, Any]) -> None:
    """Refuse a card whose ``candidate_check`` section is incomplete or out of range."""
    spec = raw.get(CANDIDATE_CHECK)
    if spec is None:
        return
    if CANDIDATE_CHECK not in raw["weights"]:
        raise ModelPackageError(f"{card_path} has a {CANDIDATE_CHECK} section but lists no weights for it.")
    try:
        cutoff = float(spec["cutoff"])
        layers = [list(map(int, spec["network"][key])) for key in ("channels", "strides")]
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelPackageError(f"{card_path}: {CANDIDATE_CHECK} needs a cutoff and network channels and "
                                f"strides: {exc!r}") from exc
    if not 0.0 <= cutoff < 1.0 or not layers[0] or len(layers[0]) != len(layers[1]):
        raise ModelPackageError(f"{card_path}: {CANDIDATE_CHECK} has cutoff {cutoff} (must be in [0, 1)) or "
                                "network channels and strides of different lengths.")


def _check_magnified_look(card_path: Path, raw: Mapping[str, Any]) -> None:
    """Refuse a card whose ``magnified_look`` is malformed or has no candidate classifier to
    confirm its candidates."""
    from ..magnify import CARD_SECTION, MagnifiedLook

    section = raw.get(CARD_SECTION)
    if section is None:
        return
    try:
        MagnifiedLook.from_card(section)
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelPackageError(f"{card_path}: {CARD_SECTION} needs a zoom in (1, 3], a cutoff in [0, 1) and, if "
                                f"given, join_touching true or false: "
                                f"{exc}") from exc
    if raw.get(CANDIDATE_CHECK) is None:
        raise ModelPackageError(f"{card_path}: {CARD_SECTION} needs a {CANDIDATE_CHECK} section (its candidates "
                                "are confirmed by the candidate classifier).")
    if section.get("network") is not None and CARD_SECTION not in raw["weights"]:
        raise ModelPackageError(f"{card_path}: {CARD_SECTION} describes a classifier network but the card lists no "
                                "weights for it.")


#: The one header metadata entry of a package's weight files (see :func:`_write_weight_file`).
METADATA_KEY = "lungtumorseg"


def _write_weight_file(folder: Path, name: str, tensors: "Mapping[str, torch.Tensor]",
                       metadata: Mapping[str, str]) -> dict[str, Any]:
    """Write ``<name>.safetensors`` in ``folder`` readable like the rest of the package and
    return its card entry (file, SHA-256, size).

    ``metadata`` goes into the header as one entry, ``lungtumorseg`` (JSON, sorted keys):
    safetensors keeps the header's metadata in a hash map whose order changes from one write to
    the next, so with two or more entries the same tensors gave files with different SHA-256
    (and map caches keyed by it went stale on every rebuild). One entry has one order."""
    from safetensors.torch import save_file

    file = f"{name}.safetensors"
    save_file(dict(tensors), str(folder / file), metadata={METADATA_KEY: json.dumps(dict(metadata), sort_keys=True)})
    os.chmod(folder / file, default_file_mode())  # safetensors creates owner-only files
    return {"file": file, "sha256": sha256_of(folder / file), "bytes": (folder / file).stat().st_size}


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
        weights[zone] = _write_weight_file(tmp, zone, tensors, {"zone": zone, "model": str(card["name"])})
    full = dict(card)
    full["format_version"] = FORMAT_VERSION
    full["weights"] = weights
    write_text_atomic(json.dumps(full, indent=2) + "\n", tmp / CARD_FILE)
    if out.exists():
        shutil.rmtree(out)
    os.replace(tmp, out)
    return load_package(out)


def attach_candidate_check(
    folder: str | os.PathLike,
    state: "Mapping[str, torch.Tensor]",
    section: Mapping[str, Any],
) -> ModelPackage:
    """Add (or replace) a package's candidate classifier: ``state`` (the MONAI ``Classifier``
    :func:`lungtumorseg.candidate_check.build_classifier` builds from ``section["network"]``)
    is stored as ``candidate_check.safetensors`` (float32) and ``section`` (cutoff, network,
    how it was trained) becomes the card's ``candidate_check``. The package is rewritten in a
    temporary sibling folder and renamed, so it is complete or unchanged.
    """
    return _attach(folder, CANDIDATE_CHECK, state, section, lambda package: package.candidate_check())


def attach_magnified_look(
    folder: str | os.PathLike,
    section: Mapping[str, Any],
    state: "Mapping[str, torch.Tensor] | None" = None,
) -> ModelPackage:
    """Add (or replace) a package's magnified look (:mod:`lungtumorseg.magnify`): ``section``
    (zoom, cutoff, how they were chosen; with ``state``, the ``network`` of the look's own
    classifier, stored as ``magnified_look.safetensors``) becomes the card's ``magnified_look``.
    Complete or unchanged, as :func:`attach_candidate_check`."""
    from ..magnify import CARD_SECTION

    if (state is None) != (section.get("network") is None):
        raise ValueError("a magnified look's classifier needs both its weights and its network in the section "
                         "(or neither: the candidate classifier confirms)")
    return _attach(folder, CARD_SECTION, state, section, lambda package: package.magnified_check())


def _attach(folder: str | os.PathLike, entry: str, state: "Mapping[str, torch.Tensor] | None",
            section: Mapping[str, Any], load: "Callable[[ModelPackage], Any]") -> ModelPackage:
    """Write card section ``entry`` (and its weights, when ``state`` is given) into a copy of
    the package, load it with ``load`` to refuse anything invalid, then swap the folders."""
    out = Path(folder)
    card = json.loads((out / CARD_FILE).read_text(encoding="utf-8"))
    tmp = out.with_name(f".tmp-{out.name}")
    if tmp.exists():
        shutil.rmtree(tmp)
    shutil.copytree(out, tmp)
    if state is not None:
        tensors = {k: v.detach().to("cpu").float().contiguous() for k, v in state.items()}
        card["weights"][entry] = _write_weight_file(tmp, entry, tensors, {"part": entry, "model": str(card["name"])})
    elif entry in card["weights"]:  # a section without weights of its own: drop the stale ones
        (tmp / card["weights"].pop(entry)["file"]).unlink(missing_ok=True)
    card[entry] = dict(section)
    write_text_atomic(json.dumps(card, indent=2) + "\n", tmp / CARD_FILE)
    try:
        load(load_package(tmp))  # refuse an invalid section before touching the package
    except Exception:
        shutil.rmtree(tmp)
        raise
    old = out.with_name(f".old-{out.name}")
    os.replace(out, old)
    os.replace(tmp, out)
    shutil.rmtree(old)
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
            if folder in seen or folder.name.startswith((".tmp-", ".old-")):
                continue
            seen.add(folder)
            try:
                found.append(load_package(folder))
            except ModelPackageError:
                continue
    return found
