"""Shared helpers and fixtures of the core-library tests (``Testing/test_core_*.py``).

Import what a test module needs, e.g. ``from core_fixtures import tiny_package, phantom``.
Expensive objects (phantoms, model packages) are built once per test process through
``functools.lru_cache`` so every module that imports a fixture shares the same object.

Test data that is not generated here: the real CT files in ``Testing/data/real`` (copies of
the team's ``shared/data/real``; TotalSegmentator test files, Wasserthal et al., Radiology:
Artificial Intelligence 2023, CC BY 4.0; see the README there).
"""

from __future__ import annotations

import atexit
import hashlib
import shutil
import tempfile
from functools import lru_cache
from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk
import torch

from lungtumorseg.models.card import make_card
from lungtumorseg.models.network import build_unetr, reduced_unetr_config
from lungtumorseg.models.package import ModelPackage, load_package, save_package
from lungtumorseg.phantoms import PhantomConfig, make_phantom

REAL_DATA_DIR = Path(__file__).resolve().parent / "data" / "real"
ZONES3 = ("upper", "middle", "lower")


# --------------------------------------------------------------------------- real data
def real_data(name: str) -> Path:
    """Path of a real CT file/folder in ``Testing/data/real`` (shipped with the repository)."""
    path = REAL_DATA_DIR / name
    assert path.exists(), f"{path} is missing from the real-data folder"
    return path


def sha256_tree(path: Path) -> dict[str, str]:
    """SHA-256 of a file, or of every file below a folder (relative name -> digest)."""
    path = Path(path)
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    return {str(p.relative_to(path.parent)): hashlib.sha256(p.read_bytes()).hexdigest() for p in files}


# --------------------------------------------------------------------------- temp dirs
@lru_cache(maxsize=None)
def _session_dir() -> Path:
    d = Path(tempfile.mkdtemp(prefix="lts-core-tests-"))
    atexit.register(shutil.rmtree, d, True)
    return d


# --------------------------------------------------------------------------- geometry
def rotation(axis: str, degrees: float) -> np.ndarray:
    """Right-handed rotation matrix about a physical (LPS) axis."""
    a = np.deg2rad(degrees)
    c, s = np.cos(a), np.sin(a)
    if axis == "x":
        return np.array([[1, 0, 0], [0, c, -s], [0, s, c]])
    if axis == "y":
        return np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])
    return np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])


#: Acquisition geometries of the orientation tests: direction (columns = i, j, k axes in LPS)
#: and spacing (x, y, z of the array axes i, j, k).
ORIENTATIONS: dict[str, tuple[np.ndarray, tuple[float, float, float]]] = {
    "lps": (np.eye(3), (2.5, 2.5, 3.0)),
    "ras": (np.diag([-1.0, -1.0, 1.0]), (2.5, 2.5, 3.0)),
    "feet_first": (np.diag([-1.0, 1.0, -1.0]), (2.5, 2.5, 3.0)),
    "oblique_12deg_two_axes": (rotation("x", 12.0) @ rotation("y", 12.0), (2.5, 2.5, 3.0)),
    "anisotropic_0.7x0.7x5": (np.diag([-1.0, -1.0, 1.0]), (0.7, 0.7, 5.0)),
    # Array axes permuted: i runs anterior->posterior, j superior->inferior, k left->right.
    "permuted_axes": (np.array([[0.0, 0.0, -1.0], [1.0, 0.0, 0.0], [0.0, -1.0, 0.0]]), (2.0, 2.5, 3.5)),
}


def make_grid(
    centre_lps: np.ndarray,
    half_extent_lps: np.ndarray,
    direction: np.ndarray,
    spacing: tuple[float, float, float],
    pixel: int = sitk.sitkInt16,
) -> sitk.Image:
    """An empty image with ``direction``/``spacing`` whose voxel centres cover the physical
    box ``centre ± half_extent`` (axis i gets the extent of the LPS axis it is closest to)."""
    direction = np.asarray(direction, dtype=float)
    spacing_a = np.asarray(spacing, dtype=float)
    size = []
    for col in range(3):
        axis = int(np.argmax(np.abs(direction[:, col])))
        size.append(int(np.ceil(2 * half_extent_lps[axis] / spacing_a[col])) + 1)
    size_a = np.asarray(size, dtype=float)
    origin = np.asarray(centre_lps, float) - direction @ (spacing_a * (size_a - 1) / 2.0)
    img = sitk.Image([int(s) for s in size], pixel)
    img.SetSpacing([float(s) for s in spacing_a])
    img.SetOrigin([float(v) for v in origin])
    img.SetDirection([float(v) for v in direction.flatten()])
    return img


def index_to_lps(image: sitk.Image, kji: np.ndarray) -> np.ndarray:
    """LPS positions (N, 3) of array indices (N, 3) in (k, j, i) order, with numpy only."""
    d = np.asarray(image.GetDirection()).reshape(3, 3)
    s = np.asarray(image.GetSpacing())
    o = np.asarray(image.GetOrigin())
    return o + (np.asarray(kji, float)[:, ::-1] * s) @ d.T


def voxel_centres(image: sitk.Image) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """LPS x, y, z of every voxel centre as three (z, y, x)-shaped float32 arrays."""
    d = np.asarray(image.GetDirection()).reshape(3, 3)
    s = np.asarray(image.GetSpacing())
    o = np.asarray(image.GetOrigin())
    nx, ny, nz = image.GetSize()
    i = np.arange(nx, dtype=np.float32)[None, None, :] * np.float32(s[0])
    j = np.arange(ny, dtype=np.float32)[None, :, None] * np.float32(s[1])
    k = np.arange(nz, dtype=np.float32)[:, None, None] * np.float32(s[2])
    return tuple(  # type: ignore[return-value]
        np.float32(o[r]) + np.float32(d[r, 0]) * i + np.float32(d[r, 1]) * j + np.float32(d[r, 2]) * k
        for r in range(3)
    )


def physical_centroid(mask: np.ndarray, image: sitk.Image) -> np.ndarray:
    """Mean LPS position of the voxels of a (z, y, x) mask on ``image``'s grid."""
    kji = np.argwhere(mask)
    assert kji.size, "empty mask has no centroid"
    return index_to_lps(image, kji).mean(axis=0)


def same_geometry(a: sitk.Image, b: sitk.Image) -> bool:
    """Exactly the same size, spacing, origin and direction."""
    return (
        a.GetSize() == b.GetSize()
        and a.GetSpacing() == b.GetSpacing()
        and a.GetOrigin() == b.GetOrigin()
        and a.GetDirection() == b.GetDirection()
    )


def reorder_voxels(image: sitk.Image, flip: tuple[bool, bool, bool]) -> sitk.Image:
    """The same physical image stored in another voxel order (flipped array axes).

    Pure relabelling of voxel indices: the set of voxel centres and their values in LPS is
    unchanged (e.g. ``(True, False, True)`` turns a head-first LPS scan into feet-first).
    """
    arr = sitk.GetArrayFromImage(image)
    d = np.asarray(image.GetDirection()).reshape(3, 3).copy()
    size = image.GetSize()
    last = [size[a] - 1 if flip[a] else 0 for a in range(3)]
    origin = image.TransformIndexToPhysicalPoint(last)
    for a in range(3):  # a: i, j, k -> numpy axis 2 - a
        if flip[a]:
            arr = np.flip(arr, axis=2 - a)
            d[:, a] = -d[:, a]
    out = sitk.GetImageFromArray(np.ascontiguousarray(arr))
    out.SetSpacing(image.GetSpacing())
    out.SetOrigin(origin)
    out.SetDirection([float(v) for v in d.flatten()])
    return out


# --------------------------------------------------------------------------- synthetic chest
#: A simple chest (physical scene, LPS mm): soft-tissue body in air, two aerated lungs and a
#: bright marker sphere off the centre in all three axes (patient's right, posterior, upper).
CHEST_CENTRE = np.array([31.5, -142.0, -415.0])
CHEST_HALF_EXTENT = np.array([125.0, 95.0, 95.0])
RIGHT_LUNG = (CHEST_CENTRE + [-50.0, 5.0, 0.0], np.array([35.0, 45.0, 75.0]))
LEFT_LUNG = (CHEST_CENTRE + [50.0, 5.0, -3.0], np.array([32.0, 42.0, 70.0]))
MARKER_LPS = CHEST_CENTRE + np.array([-55.0, 15.0, 40.0])
MARKER_RADIUS_MM = 7.0
MARKER_HU = 400.0
LUNG_HU = -850.0


def _inside_ellipsoid(x, y, z, centre, semi) -> np.ndarray:
    return ((x - centre[0]) / semi[0]) ** 2 + ((y - centre[1]) / semi[1]) ** 2 + ((z - centre[2]) / semi[2]) ** 2 <= 1.0


def synthetic_chest(direction: np.ndarray, spacing: tuple[float, float, float]) -> tuple[sitk.Image, np.ndarray]:
    """The synthetic chest sampled on a grid of the given orientation and spacing.

    Returns the int16 HU image and the (z, y, x) boolean marker mask on its grid.
    """
    img = make_grid(CHEST_CENTRE, CHEST_HALF_EXTENT, direction, spacing)
    x, y, z = voxel_centres(img)
    hu = np.full(x.shape, -1000, dtype=np.int16)
    body = ((x - CHEST_CENTRE[0]) / 115.0) ** 2 + ((y - CHEST_CENTRE[1]) / 85.0) ** 2 <= 1.0
    hu[body] = 20
    for centre, semi in (RIGHT_LUNG, LEFT_LUNG):
        hu[_inside_ellipsoid(x, y, z, centre, semi)] = int(LUNG_HU)
    marker = _inside_ellipsoid(x, y, z, MARKER_LPS, np.full(3, MARKER_RADIUS_MM))
    hu[marker] = int(MARKER_HU)
    out = sitk.GetImageFromArray(hu)
    out.CopyInformation(img)
    return out, marker


# --------------------------------------------------------------------------- stand-in network
class ThresholdNet(torch.nn.Module):
    """Stand-in for a trained UNETR, for tests only (it has no weights to train).

    A real ``torch.nn.Module`` whose output has the UNETR's shape and meaning: 2-channel
    logits (background 0, tumour ``gain * (x - level)``), so softmax gives
    ``sigmoid(gain * (x - level))`` — "tumour" wherever the normalised input intensity is
    above ``level``. The pipeline's real MONAI sliding-window inference, gaussian blending,
    zone superposition and resampling all run on its output. It counts its calls
    (``calls``) and the windows it saw (``windows``).
    """

    def __init__(self, level: float, gain: float = 60.0, on_call=None):
        super().__init__()
        self.level = float(level)
        self.gain = float(gain)
        self.calls = 0
        self.windows = 0
        self.on_call = on_call

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        self.calls += 1
        self.windows += int(x.shape[0])
        if self.on_call is not None:
            self.on_call(x)
        return torch.cat([torch.zeros_like(x), self.gain * (x - self.level)], dim=1)


def normalised_level(hu: float, window: tuple[float, float] = (-1000.0, 500.0)) -> float:
    """The normalised intensity of ``hu`` under the card's window (computed here, not by the code)."""
    return (hu - window[0]) / (window[1] - window[0])


# --------------------------------------------------------------------------- model packages
def tiny_network(roi: int = 32) -> dict:
    """``reduced_unetr_config(roi)`` with a much smaller transformer (fast tests)."""
    cfg = reduced_unetr_config(roi)
    cfg.update({"hidden_size": 32, "mlp_dim": 64, "num_heads": 2, "feature_size": 4})
    return cfg


def card_for_tests(spacing=(4.0, 4.0, 4.0), zones=ZONES3, roi: int = 32, name: str = "core-test-model", demo: bool = True) -> dict:
    """A complete card (weights filled in by save_package) for a tiny random-weight model."""
    return make_card(
        name=name,
        version="0.0.1-test",
        description="random-weight model for the core tests",
        demo=demo,
        network=tiny_network(roi),
        spacing_mm=list(spacing),
        window_hu=[-1000.0, 500.0],
        zone_names=list(zones),
        zone_overlap_mm=15.0,
        zone_margin_mm=20.0,
        zone_context_mm=16.0,
        threshold=0.5,
        min_lesion_mm3=30.0,
        training={"data": "none (random weights)", "command": None},
    )


def random_states(card: dict, seed: int = 0) -> dict[str, dict[str, torch.Tensor]]:
    """A freshly initialised (seeded) UNETR state dict per zone of ``card``."""
    states = {}
    for n, zone in enumerate(card["zones"]["names"]):
        torch.manual_seed(seed + n)
        states[zone] = {k: v.clone() for k, v in build_unetr(card["network"]).state_dict().items()}
    return states


def build_package(folder: Path, seed: int = 0, **card_kw) -> ModelPackage:
    card = card_for_tests(**card_kw)
    return save_package(folder, card, random_states(card, seed))


#: A tiny MONAI ``Classifier`` for candidate checks and magnified looks in tests (seeded random weights).
TEST_CLASSIFIER = {"channels": [4, 8], "strides": [2, 2], "num_res_units": 1, "dropout": None}


def classifier_state(seed: int = 1) -> dict[str, torch.Tensor]:
    """Seeded random weights of :data:`TEST_CLASSIFIER`."""
    from lungtumorseg.candidate_check import build_classifier

    torch.manual_seed(seed)
    return build_classifier(TEST_CLASSIFIER).state_dict()


def with_magnified_look(folder: Path, zoom: float = 1.5, cutoff: float = 0.0, check_cutoff: float = 0.0,
                        own: bool = False, join: bool | None = None) -> Path:
    """The package in ``folder`` given a candidate classifier (seeded random, at ``check_cutoff``)
    and a magnified look (with a classifier of its own, seeded differently, when ``own``;
    ``join``: its ``join_touching``, absent when None)."""
    from lungtumorseg.models.package import attach_candidate_check, attach_magnified_look

    attach_candidate_check(folder, classifier_state(), {"cutoff": check_cutoff, "network": TEST_CLASSIFIER,
                                                        "training": "t"})
    section = {"zoom": zoom, "cutoff": cutoff, **({"network": TEST_CLASSIFIER} if own else {}),
               **({} if join is None else {"join_touching": join})}
    attach_magnified_look(folder, section, classifier_state(7) if own else None)
    return folder


@lru_cache(maxsize=None)
def shared_package_dir(spacing: tuple[float, float, float] = (4.0, 4.0, 4.0)) -> Path:
    """A random-weight 3-zone package built once per test process (do not modify it)."""
    folder = _session_dir() / f"package-{'x'.join(f'{s:g}' for s in spacing)}"
    build_package(folder, spacing=spacing)
    return folder


@pytest.fixture
def tiny_package() -> ModelPackage:
    """The shared random-weight package (4 mm grid, 32³ windows), freshly loaded."""
    return load_package(shared_package_dir())


@pytest.fixture
def package_copy(tmp_path) -> Path:
    """A private copy of the shared package folder, free to damage."""
    dst = tmp_path / "pkg"
    shutil.copytree(shared_package_dir(), dst)
    return dst


class NetworkRecorder:
    """What the patched ``ModelPackage.load_network`` handed out."""

    def __init__(self, level: float):
        self.level = level
        self.zones: list[str] = []
        self.nets: list[ThresholdNet] = []
        self.on_call = None

    @property
    def calls(self) -> int:
        return sum(n.calls for n in self.nets)


@pytest.fixture
def threshold_networks(monkeypatch) -> NetworkRecorder:
    """Replace every zone's UNETR with a :class:`ThresholdNet` at 100 HU (see its docstring)."""
    rec = NetworkRecorder(normalised_level(100.0))

    def fake_load_network(self, zone, device="cpu"):
        self.verify(zone)  # the package's real integrity check still runs
        net = ThresholdNet(rec.level, on_call=rec.on_call)
        rec.zones.append(zone)
        rec.nets.append(net)
        return net

    monkeypatch.setattr(ModelPackage, "load_network", fake_load_network)
    return rec


# --------------------------------------------------------------------------- phantoms
def tiny_phantom_config(orientation: str = "axial-lps") -> PhantomConfig:
    """``PhantomConfig(size="small")`` made coarser still (about 2 s per case)."""
    return PhantomConfig(
        size="small", matrix=128, spacing=(2.8, 2.8, 5.0), orientation=orientation,
        vessel_density=0.3, n_tumours=3, fov_padding=None, tumour_diameter_mm=(12.0, 35.0),
    )


def phantom(seed: int, orientation: str = "axial-lps"):
    """A cached small phantom case (seed 2: central + peripheral + juxtapleural tumours)."""
    return _phantom(int(seed), str(orientation))


@lru_cache(maxsize=None)
def _phantom(seed: int, orientation: str):
    return make_phantom(seed, tiny_phantom_config(orientation))


def phantom_file(seed: int = 2, orientation: str = "axial-lps") -> Path:
    """The phantom's CT written once as NIfTI (treat as read-only)."""
    return _phantom_file(int(seed), str(orientation))


@lru_cache(maxsize=None)
def _phantom_file(seed: int, orientation: str) -> Path:
    path = _session_dir() / f"phantom_{seed}_{orientation}.nii.gz"
    sitk.WriteImage(phantom(seed, orientation).image, str(path), True)
    return path
