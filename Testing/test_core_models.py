"""Model packages (lungtumorseg.models): card + safetensors round trip, integrity checks that
refuse missing, truncated, tampered or malformed packages by name, and UNETR building."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest
import torch
from monai.networks.nets import UNETR

import lungtumorseg.models.package as package_mod
from core_fixtures import (
    build_package,
    card_for_tests,
    package_copy,  # noqa: F401  (fixture)
    random_states,
    shared_package_dir,
    tiny_network,
)
from lungtumorseg.errors import ModelPackageError
from lungtumorseg.models import CARD_FILE, build_unetr, list_packages, load_package, save_package
from lungtumorseg.models.network import reduced_unetr_config, standard_unetr_config
from lungtumorseg.models.package import DEMO_WARNING


def test_save_load_round_trip_weights_within_fp16(tmp_path):
    card = card_for_tests(zones=("upper", "middle", "lower"))
    states = random_states(card, seed=7)
    pkg = save_package(tmp_path / "model", card, states)
    assert sorted(p.name for p in pkg.path.iterdir()) == sorted(
        [CARD_FILE, "upper.safetensors", "middle.safetensors", "lower.safetensors"]
    )
    assert not any(p.name.startswith(".tmp-") for p in tmp_path.iterdir())
    from lungtumorseg.io import default_file_mode

    modes = {p.name: p.stat().st_mode & 0o777 for p in pkg.path.iterdir()}
    assert set(modes.values()) == {default_file_mode()}, modes  # weights readable like the card

    loaded = load_package(tmp_path / "model")
    assert loaded.card.name == card["name"] and loaded.card.zones == ["upper", "middle", "lower"]
    assert loaded.card.spacing_mm == (4.0, 4.0, 4.0) and loaded.card.roi_size == (32, 32, 32)
    for zone in ("upper", "lower"):
        net = loaded.load_network(zone)
        assert isinstance(net, UNETR) and not net.training
        got = net.state_dict()
        assert set(got) == set(states[zone])
        for key, value in states[zone].items():
            assert got[key].dtype == torch.float32
            # float16 storage: relative error <= 2^-11 (plus subnormal range near 0)
            torch.testing.assert_close(got[key], value, rtol=2**-10, atol=1e-4)
    # different zones really hold different weights
    a = loaded.load_network("upper").state_dict()
    b = loaded.load_network("lower").state_dict()
    assert any(not torch.equal(a[k], b[k]) for k in a if a[k].is_floating_point() and a[k].numel() > 10)


def test_full_precision_storage_is_exact(tmp_path):
    card = card_for_tests(zones=("whole",))
    states = random_states(card, seed=3)
    pkg = save_package(tmp_path / "model", card, states, half_precision=False)
    got = pkg.load_network("whole").state_dict()
    for key, value in states["whole"].items():
        assert torch.equal(got[key], value), key


def test_unetr_is_built_from_the_card():
    cfg = tiny_network(32)
    net = build_unetr(cfg)
    assert isinstance(net, UNETR)
    with torch.no_grad():
        out = net.eval()(torch.zeros(1, 1, 32, 32, 32))
    assert out.shape == (1, 2, 32, 32, 32)
    # hidden size 32 reaches the transformer: every block's attention projects 32 -> 3*32
    qkv = [v for k, v in net.state_dict().items() if k.endswith("attn.qkv.weight")]
    assert len(qkv) == 12 and all(tuple(w.shape) == (96, 32) for w in qkv)
    with pytest.raises(ValueError, match="unsupported architecture"):
        build_unetr({**cfg, "architecture": "SwinUNETR"})
    # the documented configurations
    assert reduced_unetr_config(64)["hidden_size"] % reduced_unetr_config(64)["num_heads"] == 0
    assert standard_unetr_config()["hidden_size"] == 768 and standard_unetr_config()["img_size"] == [96, 96, 96]


def test_card_contents(tmp_path):
    pkg = build_package(tmp_path / "model", demo=True)
    raw = json.loads((pkg.path / CARD_FILE).read_text())
    for key in ("name", "version", "intended_use", "network", "preprocessing", "zones", "postprocessing",
                "labels", "training", "weights", "format_version"):
        assert key in raw, key
    assert raw["warning"] == DEMO_WARNING and pkg.card.is_demo and pkg.card.warning == DEMO_WARNING
    assert raw["labels"]["1"]["terminology"]["type"] == {"scheme": "SCT", "code": "108369006", "meaning": "Neoplasm"}
    for zone, entry in raw["weights"].items():
        f = pkg.path / entry["file"]
        assert entry["bytes"] == f.stat().st_size
        assert entry["sha256"] == hashlib.sha256(f.read_bytes()).hexdigest()
    assert pkg.card.summary() == {"name": raw["name"], "version": raw["version"], "demo": True, "warning": DEMO_WARNING}
    assert not build_package(tmp_path / "clinical", demo=False).card.is_demo


# ------------------------------------------------------------------ damaged packages
def _expect(path_fragment: str, func, *args, match: str | None = None):
    with pytest.raises(ModelPackageError) as exc:
        func(*args)
    msg = str(exc.value)
    assert path_fragment in msg, f"message does not name {path_fragment}: {msg}"
    if match:
        assert match in msg, msg
    return msg


def test_missing_card(tmp_path):
    (tmp_path / "empty").mkdir()
    _expect(CARD_FILE, load_package, tmp_path / "empty", match="missing")


def test_invalid_json(package_copy):  # noqa: F811
    (package_copy / CARD_FILE).write_text('{"name": "x", ')
    _expect(CARD_FILE, load_package, package_copy, match="not valid JSON")


@pytest.mark.parametrize("field", ["network", "weights", "zones"])
def test_card_without_a_field(package_copy, field):  # noqa: F811
    raw = json.loads((package_copy / CARD_FILE).read_text())
    del raw[field]
    (package_copy / CARD_FILE).write_text(json.dumps(raw))
    _expect(CARD_FILE, load_package, package_copy, match=field)


@pytest.mark.parametrize("axes", [[3], "x", [0, -1]])
def test_card_with_invalid_mirror_axes(package_copy, axes):  # noqa: F811
    raw = json.loads((package_copy / CARD_FILE).read_text())
    raw["inference"]["mirror_axes"] = axes
    (package_copy / CARD_FILE).write_text(json.dumps(raw))
    _expect(CARD_FILE, load_package, package_copy, match="mirror_axes")


@pytest.mark.parametrize("zone_limits,match", [({"hilum": {"min_lesion_mm3": 900}}, "unknown zone"),
                                               ({"middle": {"max_elongation": 0.5}}, "elongation")])
def test_card_with_invalid_zone_limits(package_copy, zone_limits, match):  # noqa: F811
    raw = json.loads((package_copy / CARD_FILE).read_text())
    raw["postprocessing"]["zone_limits"] = zone_limits
    (package_copy / CARD_FILE).write_text(json.dumps(raw))
    _expect(CARD_FILE, load_package, package_copy, match=match)


@pytest.mark.parametrize("found", [package_mod.FORMAT_VERSION + 1, 99])
def test_card_of_a_newer_package_format_is_refused(package_copy, found):  # noqa: F811
    """Refused before any other field is read: a newer format may mean other things by them."""
    raw = json.loads((package_copy / CARD_FILE).read_text())
    raw["format_version"] = found
    del raw["zones"]  # a newer format may lay the card out otherwise
    (package_copy / CARD_FILE).write_text(json.dumps(raw))
    msg = _expect(CARD_FILE, load_package, package_copy, match="needs a newer LungTumorSeg")
    assert f"package format {found}" in msg and f"up to {package_mod.FORMAT_VERSION}" in msg
    assert f"LungTumorSeg {package_mod.__version__}" in msg


@pytest.mark.parametrize("found", ["2", 1.0, True, None, [1]])
def test_card_whose_format_version_is_not_a_whole_number_is_refused(package_copy, found):  # noqa: F811
    raw = json.loads((package_copy / CARD_FILE).read_text())
    raw["format_version"] = found
    (package_copy / CARD_FILE).write_text(json.dumps(raw))
    msg = _expect(CARD_FILE, load_package, package_copy, match="not a whole number")
    assert repr(found) in msg and "newer LungTumorSeg" in msg


def test_card_without_format_version_or_of_an_older_one_loads(package_copy):  # noqa: F811
    """Cards written before format_version existed, and any format up to this code's, are read."""
    raw = json.loads((package_copy / CARD_FILE).read_text())
    assert raw["format_version"] == package_mod.FORMAT_VERSION  # save_package writes it
    for version in (None, package_mod.FORMAT_VERSION - 1, package_mod.FORMAT_VERSION):
        if version is None:
            raw.pop("format_version")
        else:
            raw["format_version"] = version
        (package_copy / CARD_FILE).write_text(json.dumps(raw))
        assert load_package(package_copy).card.zones == raw["zones"]["names"]


def test_shipped_package_cards_are_of_a_readable_format():
    shipped = sorted(package_mod.default_package_dir().parent.glob(f"*/{CARD_FILE}"))
    assert shipped
    for card in shipped:
        assert json.loads(card.read_text())["format_version"] <= package_mod.FORMAT_VERSION, card
        load_package(card.parent)


def test_card_zone_limits_are_read(package_copy):  # noqa: F811
    raw = json.loads((package_copy / CARD_FILE).read_text())
    raw["postprocessing"]["zone_limits"] = {"middle": {"min_lesion_mm3": 850.0, "min_peak_probability": 0.6}}
    (package_copy / CARD_FILE).write_text(json.dumps(raw))
    rule = load_package(package_copy).card.lesion_filter
    assert [(zone, lim.min_lesion_mm3, lim.min_peak_probability) for zone, lim in rule.zone_limits] == [
        ("middle", 850.0, 0.6)]


def test_card_mirror_axes_are_read(package_copy):  # noqa: F811
    raw = json.loads((package_copy / CARD_FILE).read_text())
    assert load_package(package_copy).card.mirror_axes == tuple(raw["inference"].get("mirror_axes", ()))
    raw["inference"]["mirror_axes"] = [2]
    (package_copy / CARD_FILE).write_text(json.dumps(raw))
    assert load_package(package_copy).card.mirror_axes == (2,)


def test_card_whose_network_takes_other_input_channels_than_preprocessing_makes(package_copy):  # noqa: F811
    """E.g. a package with a channel this version cannot build: refused by name, before any weights load."""
    raw = json.loads((package_copy / CARD_FILE).read_text())
    raw["network"]["in_channels"] = 4
    (package_copy / CARD_FILE).write_text(json.dumps(raw))
    _expect(CARD_FILE, load_package, package_copy, match="takes 4 input channel")


def test_the_same_tensors_always_give_the_same_weight_file(tmp_path):
    """safetensors keeps header metadata in a hash map whose order changes between writes: with
    several metadata entries, 30 writes of the same tensors gave up to six different SHA-256
    (session 31). A package's weight files carry one entry, so a rebuild keeps every SHA (and
    the map caches keyed by them)."""
    from safetensors import safe_open

    tensors = {"a": torch.arange(10.0), "b": torch.ones(3)}
    shas = set()
    for i in range(30):
        entry = package_mod._write_weight_file(tmp_path, "part", tensors, {"zone": "upper", "model": "m", "i": "0"})
        shas.add(entry["sha256"])
    assert len(shas) == 1
    with safe_open(str(tmp_path / "part.safetensors"), "pt") as handle:
        metadata = handle.metadata()
    assert list(metadata) == [package_mod.METADATA_KEY]
    assert json.loads(metadata[package_mod.METADATA_KEY]) == {"i": "0", "model": "m", "zone": "upper"}


def test_card_zone_without_weights(package_copy):  # noqa: F811
    raw = json.loads((package_copy / CARD_FILE).read_text())
    del raw["weights"]["middle"]
    (package_copy / CARD_FILE).write_text(json.dumps(raw))
    _expect(CARD_FILE, load_package, package_copy, match="middle")


def test_missing_weight_file(package_copy):  # noqa: F811
    (package_copy / "middle.safetensors").unlink()
    pkg = load_package(package_copy)
    _expect("middle.safetensors", pkg.verify_all, match="missing")
    _expect("middle.safetensors", pkg.load_network, "middle")
    pkg.load_network("upper")  # the intact zones still load


@pytest.fixture
def load_file_calls(monkeypatch):
    """Record every safetensors read (the package module imports ``load_file`` when it loads)."""
    import safetensors.torch

    calls: list[str] = []
    real = safetensors.torch.load_file

    def recording(path, *a, **kw):
        calls.append(str(path))
        return real(path, *a, **kw)

    monkeypatch.setattr(safetensors.torch, "load_file", recording)
    import safetensors.torch

    monkeypatch.setattr(safetensors.torch, "load_file", recording)
    return calls


def test_truncated_weight_file_is_not_loaded(package_copy, load_file_calls):  # noqa: F811
    f = package_copy / "lower.safetensors"
    f.write_bytes(f.read_bytes()[:-100])
    pkg = load_package(package_copy)
    _expect("lower.safetensors", pkg.load_network, "lower", match="truncated")
    assert load_file_calls == []


def test_tampered_weight_file_is_not_loaded(package_copy, load_file_calls):  # noqa: F811
    f = package_copy / "upper.safetensors"
    data = bytearray(f.read_bytes())
    data[len(data) // 2] ^= 0x01  # one bit of one weight: same size, different content
    f.write_bytes(bytes(data))
    pkg = load_package(package_copy)
    _expect("upper.safetensors", pkg.load_network, "upper", match="SHA-256")
    assert load_file_calls == [], "weights must not be read before the hash check passes"
    pkg.load_network("middle")
    assert load_file_calls == [str(package_copy / "middle.safetensors")]


def test_weights_that_do_not_fit_the_card(package_copy):  # noqa: F811
    # A consistent package (hashes right) whose card describes a different network.
    raw = json.loads((package_copy / CARD_FILE).read_text())
    raw["network"]["hidden_size"] = 64
    raw["network"]["mlp_dim"] = 128
    (package_copy / CARD_FILE).write_text(json.dumps(raw))
    pkg = load_package(package_copy)
    _expect("upper.safetensors", pkg.load_network, "upper", match="does not fit")


def test_unknown_zone():
    pkg = load_package(shared_package_dir())
    _expect(CARD_FILE, pkg.weight_path, "whole", match="whole")


def test_save_replaces_an_existing_package_atomically(tmp_path):
    build_package(tmp_path / "model", seed=1)
    first = json.loads((tmp_path / "model" / CARD_FILE).read_text())["weights"]["upper"]["sha256"]
    build_package(tmp_path / "model", seed=2, zones=("whole",))
    raw = json.loads((tmp_path / "model" / CARD_FILE).read_text())
    assert list(raw["weights"]) == ["whole"]
    assert sorted(p.name for p in (tmp_path / "model").iterdir()) == [CARD_FILE, "whole.safetensors"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]
    assert raw["weights"]["whole"]["sha256"] != first


def test_list_packages_skips_broken_ones(tmp_path, monkeypatch):
    monkeypatch.setenv("LUNGTUMORSEG_MODELS", str(tmp_path / "installed"))
    root = tmp_path / "extra"
    build_package(root / "good", name="good-model")
    (root / "broken").mkdir(parents=True)
    (root / "broken" / CARD_FILE).write_text("{not json")
    names = [p.card.name for p in list_packages([root])]
    assert "good-model" in names and len([n for n in names if n == "good-model"]) == 1


def test_card_lesion_filter_defaults_and_values(tmp_path):
    import math

    from lungtumorseg.postprocess import LesionFilter

    card = card_for_tests()
    pkg = save_package(tmp_path / "plain", card, random_states(card))
    assert pkg.card.lesion_filter == LesionFilter(card["postprocessing"]["min_lesion_mm3"], 0.0, math.inf)
    card["postprocessing"].update({"min_peak_probability": 0.6, "max_elongation": None})
    assert save_package(tmp_path / "peak", card, random_states(card)).card.lesion_filter.max_elongation == math.inf
    card["postprocessing"]["max_elongation"] = 2.5
    rule = save_package(tmp_path / "both", card, random_states(card)).card.lesion_filter
    assert (rule.min_peak_probability, rule.max_elongation) == (0.6, 2.5)


def test_sha256_of_reads_large_files_in_blocks_and_matches_hashlib(tmp_path):
    from lungtumorseg.hashing import sha256_of

    data = np.random.default_rng(3).integers(0, 256, size=(3 << 20) + 17, dtype=np.uint8).tobytes()
    path = tmp_path / "blob.bin"
    path.write_bytes(data)
    assert sha256_of(path) == hashlib.sha256(data).hexdigest()
