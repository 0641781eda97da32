"""Extension packaging: every module file is listed in CMake; metadata is consistent."""

from __future__ import annotations

import ast
import importlib.util
import math
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
MODULE = REPO / "LungTumorSeg"


def _updater():
    spec = importlib.util.spec_from_file_location("update_module_cmake", REPO / "scripts" / "update_module_cmake.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_module_file_is_listed_in_cmake():
    updater = _updater()
    text = (MODULE / "CMakeLists.txt").read_text(encoding="utf-8")
    for variable, expected in updater.expected_lists().items():
        listed = set(updater.listed(text, variable))
        missing = sorted(set(expected) - listed)
        assert not missing, f"{variable} lacks {missing}: run python scripts/update_module_cmake.py"
        stale = sorted(p for p in listed if not (MODULE / p).exists())
        assert not stale, f"{variable} lists files that do not exist: {stale}"
    assert "LungTumorSeg.py" in updater.listed(text, "MODULE_PYTHON_SCRIPTS")
    assert "Resources/UI/LungTumorSeg.ui" in updater.listed(text, "MODULE_PYTHON_RESOURCES")


def test_module_cmake_macro_and_unittest():
    text = (MODULE / "CMakeLists.txt").read_text(encoding="utf-8")
    assert re.search(r"slicerMacroBuildScriptedModule\(\s*NAME \$\{MODULE_NAME\}.*WITH_GENERIC_TESTS", text, re.S)
    assert re.search(r"if\(BUILD_TESTING\).*slicer_add_python_unittest\(SCRIPT \$\{MODULE_NAME\}\.py\)", text, re.S)


def _s4ext() -> dict[str, str]:
    entries = {}
    for line in (REPO / "LungTumorSeg.s4ext").read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            key, _, value = line.partition(" ")
            entries[key] = value.strip()
    return entries


def _cmake_var(name: str) -> str:
    text = (REPO / "CMakeLists.txt").read_text(encoding="utf-8")
    match = re.search(rf'set\({name} "(.*?)"\)', text, re.S)
    assert match, f"{name} not set in CMakeLists.txt"
    return match.group(1)


def test_extension_metadata_is_consistent():
    s4ext = _s4ext()
    assert _cmake_var("EXTENSION_CATEGORY") == s4ext["category"] == "Segmentation"
    assert _cmake_var("EXTENSION_HOMEPAGE") == s4ext["homepage"]
    assert _cmake_var("EXTENSION_DESCRIPTION") == s4ext["description"]
    assert _cmake_var("EXTENSION_ICONURL") == s4ext["iconurl"]
    assert _cmake_var("EXTENSION_SCREENSHOTURLS") == s4ext["screenshoturls"]
    assert _cmake_var("EXTENSION_CONTRIBUTORS") == s4ext["contributors"]
    assert _cmake_var("EXTENSION_DEPENDS") == s4ext["depends"] == "PyTorch"
    assert s4ext["scm"] == "git" and s4ext["scmurl"].startswith("https://github.com/")
    top = (REPO / "CMakeLists.txt").read_text(encoding="utf-8")
    for needle in ("find_package(Slicer REQUIRED)", "include(${Slicer_USE_FILE})", "add_subdirectory(LungTumorSeg)",
                   "include(${Slicer_EXTENSION_GENERATE_CONFIG})", "include(${Slicer_EXTENSION_CPACK})"):
        assert needle in top


def test_icons_are_128_pixel_pngs():
    from PIL import Image

    for path in (REPO / "Resources" / "LungTumorSeg.png", MODULE / "Resources" / "Icons" / "LungTumorSeg.png"):
        with Image.open(path) as image:
            assert image.format == "PNG" and image.size == (128, 128)


def _ui_widgets() -> dict[str, ET.Element]:
    tree = ET.parse(MODULE / "Resources" / "UI" / "LungTumorSeg.ui")
    return {w.get("name"): w for w in tree.iter("widget")}


def test_widget_uses_only_widgets_that_exist_in_the_ui():
    """The Qt GUI cannot run here; at least every ``self.ui.<name>`` must exist in the .ui."""
    source = (MODULE / "LungTumorSeg.py").read_text(encoding="utf-8")
    used = set(re.findall(r"self\.ui\.(\w+)", source))
    widgets = _ui_widgets()
    assert used, "the Widget references no ui widgets?"
    assert not sorted(used - set(widgets)), f"missing in the .ui: {sorted(used - set(widgets))}"


def test_ui_parameter_bindings_match_the_parameter_node():
    source = (MODULE / "LungTumorSeg.py").read_text(encoding="utf-8")
    tree = ast.parse(source)
    wrapper = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "LungTumorSegParameterNode")
    fields = {n.target.id for n in wrapper.body if isinstance(n, ast.AnnAssign)}
    bound = {}
    for name, widget in _ui_widgets().items():
        for prop in widget.findall("property"):
            if prop.get("name") == "SlicerParameterName":
                bound[name] = prop.find("string").text
    assert set(bound.values()) <= fields, sorted(set(bound.values()) - fields)
    assert {"inputVolume", "outputSegmentation", "threshold", "minLesionMm3", "zoneOverlapMm", "threads",
            "show3D"} <= set(bound.values())
    widgets = _ui_widgets()
    classes = {name: widgets[name].get("class") for name in bound}
    assert classes["inputSelector"] == "qMRMLNodeComboBox" and classes["thresholdSliderWidget"] == "ctkSliderWidget"


def test_module_file_has_the_four_classes_and_metadata():
    source = (MODULE / "LungTumorSeg.py").read_text(encoding="utf-8")
    tree = ast.parse(source)
    classes = {n.name: [b.id if isinstance(b, ast.Name) else getattr(b, "attr", "") for b in n.bases]
               for n in tree.body if isinstance(n, ast.ClassDef)}
    assert "ScriptedLoadableModule" in classes["LungTumorSeg"]
    assert "ScriptedLoadableModuleWidget" in classes["LungTumorSegWidget"]
    assert "ScriptedLoadableModuleLogic" in classes["LungTumorSegLogic"]
    assert "ScriptedLoadableModuleTest" in classes["LungTumorSegTest"]
    assert 'self.parent.title = "Lung Tumor Segmentation"' in source
    texts = (MODULE / "LungTumorSegLib" / "module_text.py").read_text(encoding="utf-8")
    assert "module_text.HELP_TEXT" in source and "module_text.ACKNOWLEDGEMENT_TEXT" in source
    assert "not for clinical use" in texts and "Hatamizadeh" in texts and "Antonelli" in texts
    assert "run_scenario" in source  # the self-test runs the shared scenario
    assert len(source.splitlines()) < 500, "keep the module file thin"


def test_dependency_pins_match_pyproject():
    import tomllib

    import slicer_env  # noqa: F401
    from LungTumorSegLib import dependencies

    deps = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    pins = {re.split(r"[<>=!~ ]", d, 1)[0].lower(): d.replace(" ", "") for d in deps}
    for name, requirement in dependencies.PIP_REQUIREMENTS.items():
        assert pins[name.lower()] == requirement, (name, requirement, pins.get(name.lower()))
    assert pins["torch"] == "torch" + dependencies.TORCH_REQUIREMENT
    assert dependencies.missing_packages(find_spec=lambda n: None if n == "monai" else object()) == ["monai"]


def test_card_defaults_and_check_boxes_name_real_parameters_and_widgets():
    """The Widget sets these by name (setattr/getattr), so the names are checked here: every
    default is a parameter-node field, every check box exists in the .ui, and the demo card's
    operating point and options arrive as the card states them."""
    import json

    import slicer_env  # noqa: F401
    from LungTumorSegLib import model_packages, widget_state

    source = (MODULE / "LungTumorSeg.py").read_text(encoding="utf-8")
    wrapper = next(n for n in ast.parse(source).body
                   if isinstance(n, ast.ClassDef) and n.name == "LungTumorSegParameterNode")
    fields = {n.target.id for n in wrapper.body if isinstance(n, ast.AnnAssign)}
    demo = MODULE / "Resources" / "Models" / "lungtumorseg-demo-phantom"
    package = model_packages.read_package(demo)
    defaults = widget_state.card_defaults(package)
    assert set(defaults) <= fields, sorted(set(defaults) - fields)
    post = json.loads((demo / "model.json").read_text())["postprocessing"]
    assert defaults["threshold"] == post["threshold"] and defaults["minLesionMm3"] == post["min_lesion_mm3"]
    # The density limit goes through the spin box's "no limit" value when the card has none (null).
    card_limit = math.inf if post["max_mean_hu"] is None else post["max_mean_hu"]
    assert widget_state.mean_hu_from_gui(defaults["maxMeanHu"]) == card_limit
    assert defaults["outlineGrowth"] and defaults["zoneLimits"] and defaults["candidateCheck"]
    assert defaults["magnifiedLook"]
    boxes = widget_state.card_check_boxes(package)
    assert set(boxes) <= set(_ui_widgets()), sorted(set(boxes) - set(_ui_widgets()))
    # each check box is enabled exactly when the card has what it switches (demo 0.10.0: outline
    # growth and a candidate classifier, no zone limits)
    assert boxes["zoneLimitsCheckBox"][0] == bool(post.get("zone_limits"))
    assert boxes["outlineGrowthCheckBox"][0] == bool(post.get("outline_growth"))
    card = json.loads((demo / "model.json").read_text())
    assert boxes["candidateCheckCheckBox"][0] == (card.get("candidate_check") is not None)
    assert boxes["magnifiedLookCheckBox"][0] == (card.get("magnified_look") is not None)
    assert not any(enabled for enabled, _ in widget_state.card_check_boxes(None).values())
