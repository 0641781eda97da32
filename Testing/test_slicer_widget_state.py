"""The Widget's decisions (plain functions; the Qt GUI itself cannot run headless)."""

from __future__ import annotations

import slicer_env  # noqa: F401  (puts LungTumorSeg/ on sys.path)
from lungtumorseg.measure import MAGNIFIED  # the pipeline's word for a lesion only the look saw
from LungTumorSegLib import widget_state
from LungTumorSegLib.widget_state import (InputInfo, ModelInfo, apply_button_text, apply_state,
                                          progress_text, result_summary)

CT = InputInfo(present=True, components=1, dimensions=(512, 512, 120))
DEMO = ModelInfo(present=True, name="lungtumorseg-demo-phantom", demo=True)


def test_apply_enabled_for_ct_and_model_with_demo_warning():
    enabled, tip = apply_state(CT, DEMO, running=False)
    assert enabled
    assert "not for clinical use" in tip


def test_apply_disabled_reasons():
    cases = [
        (InputInfo(present=False), DEMO, "Select an input"),
        (InputInfo(present=True, components=3, dimensions=(10, 10, 10)), DEMO, "greyscale"),
        (InputInfo(present=True, is_labelmap=True, dimensions=(10, 10, 10)), DEMO, "labelmap"),
        (InputInfo(present=True, dimensions=(512, 512, 1)), DEMO, "slices"),
        (CT, ModelInfo(present=False), "model package"),
        (CT, ModelInfo(present=True, name="x", error="checksum mismatch"), "checksum mismatch"),
    ]
    for input_info, model_info, expected in cases:
        enabled, tip = apply_state(input_info, model_info, running=False)
        assert not enabled and expected in tip, (input_info, model_info, tip)


def test_running_turns_apply_into_an_enabled_cancel():
    enabled, tip = apply_state(InputInfo(present=False), ModelInfo(present=False), running=True)
    assert enabled and "Stop" in tip
    assert apply_button_text(True) == "Cancel" and apply_button_text(False) == "Apply"


def test_missing_dependencies_are_announced():
    _, tip = apply_state(CT, DEMO, running=False, dependencies_missing=("monai",))
    assert "monai" in tip and "confirm" in tip


def test_progress_text_clamps():
    assert progress_text(0.421, "inference middle zone") == (42, "inference middle zone (42%)")
    assert progress_text(1.7, "")[0] == 100 and progress_text(-1, "x")[0] == 0


def test_result_summary():
    assert "No lungs" in result_summary([], 1.0, status="no_lungs")
    assert "No lung tumour" in result_summary([], 2.0)
    text = result_summary([{"volume_ml": 1.25}, {"volume_ml": 0.5}], 3.0, model_warning="DEMO")
    assert text.startswith("2 lesions found, 1.75 ml") and text.endswith("DEMO")
    looked = result_summary([{"volume_ml": 1.0, "found_by": "zone networks"}, {"volume_ml": 0.5, "found_by": MAGNIFIED}],
                            3.0)
    assert looked.startswith("2 lesions found, 1 of them by the magnified second look, 1.50 ml in total")


def test_elongation_spin_box_zero_means_no_limit():
    import math

    from LungTumorSegLib.widget_state import elongation_for_gui, elongation_from_gui

    assert elongation_for_gui(math.inf) == 0.0 and elongation_from_gui(0.0) == math.inf
    assert elongation_for_gui(2.0) == 2.0 and elongation_from_gui(2.0) == 2.0
    assert elongation_from_gui(elongation_for_gui(3.5)) == 3.5


def test_update_lesions_needs_a_kept_map_and_no_running_segmentation():
    from LungTumorSegLib.widget_state import update_lesions_state

    enabled, tip = update_lesions_state(has_kept_probability=False, running=False)
    assert not enabled and "Keep probability map" in tip
    enabled, tip = update_lesions_state(has_kept_probability=True, running=True)
    assert not enabled and "running" in tip
    enabled, tip = update_lesions_state(has_kept_probability=True, running=False)
    assert enabled and "not run again" in tip


def test_density_spin_box_top_value_means_no_limit():
    import math

    from LungTumorSegLib.widget_state import NO_DENSITY_LIMIT_HU, mean_hu_for_gui, mean_hu_from_gui

    assert mean_hu_for_gui(math.inf) == NO_DENSITY_LIMIT_HU and mean_hu_from_gui(NO_DENSITY_LIMIT_HU) == math.inf
    assert mean_hu_from_gui(mean_hu_for_gui(150.0)) == 150.0
    assert mean_hu_from_gui(-100.0) == -100.0  # 0 and negative densities are real limits here


def test_operating_point_changes_trigger_an_automatic_update_only_when_asked_and_possible():
    from types import SimpleNamespace

    params = SimpleNamespace(threshold=0.1, minLesionMm3=250.0, minPeakProbability=0.6, maxElongation=2.0,
                             maxMeanHu=150.0, zoneLimits=True, outlineGrowth=True, candidateCheck=True,
                             candidateCutoff=0.49, inputVolume="ct")
    before = widget_state.operating_point(params)
    assert before == (0.1, 250.0, 0.6, 2.0, 150.0, 1.0, 1.0, 1.0, 0.49)
    params.inputVolume = "another ct"  # not part of the operating point
    assert not widget_state.auto_update_due(True, True, False, before, widget_state.operating_point(params))
    params.threshold = 0.3
    after = widget_state.operating_point(params)
    assert widget_state.auto_update_due(True, True, False, before, after)
    assert not widget_state.auto_update_due(False, True, False, before, after)  # switched off
    assert not widget_state.auto_update_due(True, False, False, before, after)  # no kept map
    assert not widget_state.auto_update_due(True, True, True, before, after)  # a run is going
    assert not widget_state.auto_update_due(True, True, False, None, after)  # nothing seen yet
    params.threshold = 0.1
    params.zoneLimits = False  # unchecking "Zone limits from the model" changes the lesions too
    assert widget_state.auto_update_due(True, True, False, before, widget_state.operating_point(params))
    params.zoneLimits = True
    params.outlineGrowth = False  # so does unchecking "Grow outlines to the tumour edge"
    assert widget_state.auto_update_due(True, True, False, before, widget_state.operating_point(params))
    params.outlineGrowth = True
    params.candidateCheck = False  # and unchecking "Candidate check"
    assert widget_state.auto_update_due(True, True, False, before, widget_state.operating_point(params))
    params.candidateCheck = True
    params.candidateCutoff = 0.3  # and moving its cut-off
    assert widget_state.auto_update_due(True, True, False, before, widget_state.operating_point(params))


def test_outline_growth_box_describes_the_cards_growth_and_is_disabled_without_it():
    from LungTumorSegLib.widget_state import outline_growth_text

    enabled, tip = outline_growth_text({"min_hu": -550.0, "max_hu": 100.0, "max_distance_mm": 4.0})
    assert enabled and "up to 4 mm into connected voxels of -550 to 100 HU" in tip
    assert "which lesions are reported does not change" in tip
    enabled, tip = outline_growth_text(None)
    assert not enabled and "no outline growth" in tip


def test_zone_limits_box_describes_the_cards_zone_limits_in_words():
    from LungTumorSegLib.widget_state import zone_limits_text

    enabled, tip = zone_limits_text({"middle": {"min_lesion_mm3": 850.0, "min_peak_probability": 0.6,
                                                "max_elongation": None, "max_mean_hu": None}})
    assert enabled
    assert "middle zone: at least 850 mm³, confidence at least 0.60." in tip
    assert "Unchecked: the general limits alone" in tip and "upper zone" not in tip
    # zones in anatomical order, every kind of limit, and a zone entry that adds nothing
    enabled, tip = zone_limits_text({"lower": {"max_elongation": 2.5, "max_mean_hu": 150.0},
                                     "upper": {"min_lesion_mm3": 0.0}})
    assert enabled
    assert ("upper zone: no limit beyond the general ones; lower zone: elongation at most 2.5, "
            "mean density at most 150 HU") in tip


def test_zone_limits_box_is_disabled_without_zone_limits():
    from LungTumorSegLib.widget_state import zone_limits_text

    for none in ({}, None):
        enabled, tip = zone_limits_text(none)
        assert not enabled and "no zone limits" in tip


def test_candidate_check_box_names_the_cards_cutoff_and_the_demo_training():
    from LungTumorSegLib.widget_state import candidate_check_text

    enabled, tip = candidate_check_text(0.4891751557588577, demo=True)
    assert enabled and "cut-off of 0.49" in tip
    assert "rejects those it judges false" in tip and "Unchecked: every candidate passing the limits is kept" in tip
    assert "trained on synthetic phantoms only" in tip
    enabled, tip = candidate_check_text(0.3)
    assert enabled and "cut-off of 0.30" in tip and "synthetic" not in tip  # not a demo package


def test_candidate_check_box_is_disabled_without_a_classifier():
    from LungTumorSegLib.widget_state import candidate_check_text

    enabled, tip = candidate_check_text(None, demo=True)
    assert not enabled and "no candidate classifier" in tip


def _package_info(**card):
    from pathlib import Path

    from LungTumorSegLib.model_packages import PackageInfo

    return PackageInfo(path=Path("/models/p"), name="p", version="1", description="", demo=True,
                       warning="demo", threshold=0.45, min_lesion_mm3=30.0, **card)


def test_a_new_package_switches_the_candidate_check_on_and_its_box_follows_the_card():
    with_classifier, without = _package_info(candidate_check_cutoff=0.49), _package_info()
    for package in (with_classifier, without):
        assert widget_state.card_defaults(package)["candidateCheck"] is True  # reset to the card: on
    enabled, tip = widget_state.card_check_boxes(with_classifier)["candidateCheckCheckBox"]
    assert enabled and "cut-off of 0.49" in tip and "synthetic phantoms only" in tip
    enabled, tip = widget_state.card_check_boxes(without)["candidateCheckCheckBox"]
    assert not enabled and "no candidate classifier" in tip
    assert not widget_state.card_check_boxes(None)["candidateCheckCheckBox"][0]


def test_the_magnified_look_box_follows_the_card_and_a_new_package_switches_it_on():
    with_look, without = _package_info(magnified_look={"zoom": 1.5, "cutoff": 0.934}), _package_info()
    for package in (with_look, without):
        assert widget_state.card_defaults(package)["magnifiedLook"] is True
    enabled, tip = widget_state.card_check_boxes(with_look)["magnifiedLookCheckBox"]
    assert enabled and "magnified 1.5 times" in tip and "at least 0.93" in tip and "takes in" not in tip
    joining = _package_info(magnified_look={"zoom": 1.5, "cutoff": 0.934, "join_touching": True})
    assert "also takes in what the magnified look marks touching it" in \
        widget_state.card_check_boxes(joining)["magnifiedLookCheckBox"][1]
    enabled, tip = widget_state.card_check_boxes(without)["magnifiedLookCheckBox"]
    assert not enabled and "no magnified second look" in tip
    assert not widget_state.card_check_boxes(None)["magnifiedLookCheckBox"][0]


def test_the_candidate_cut_off_starts_at_the_cards_and_is_sent_only_when_the_user_moved_it():
    with_classifier, without = _package_info(candidate_check_cutoff=0.4891751557588577), _package_info()
    shown = widget_state.card_defaults(with_classifier)["candidateCutoff"]
    assert shown == 0.4891751557588577
    assert widget_state.card_defaults(without)["candidateCutoff"] == widget_state.NO_CLASSIFIER_CUTOFF
    enabled, tip = widget_state.card_check_boxes(with_classifier)["candidateCutoffSliderWidget"]
    assert enabled and "0.489" in tip and "Candidate score" in tip
    assert not widget_state.card_check_boxes(without)["candidateCutoffSliderWidget"][0]
    request = widget_state.candidate_cutoff_request
    # the slider rounds the card's cut-off to two decimals: that is still the card's own, exactly
    assert request(round(shown, widget_state.CUTOFF_DECIMALS), shown) is None
    assert request(shown, shown) is None
    assert request(0.3, shown) == 0.3 and request(0.5, shown) == 0.5  # moved by one step or more
    assert request(0.3, shown, enabled=False) is None  # check off: no cut-off
    assert request(0.3, None) is None  # no classifier: nothing to set

    # the card's calibration points are quoted, so the user sees what moving the cut-off buys
    from dataclasses import replace
    quoted = replace(with_classifier, candidate_cutoff_points=((0.2, 0.878, 0.45), (0.489, 0.863, 0.15)))
    enabled, tip = widget_state.card_check_boxes(quoted)["candidateCutoffSliderWidget"]
    assert "cut-off → sensitivity for tumours of 10 mm or more at false positives per case" in tip
    assert "0.20 → 0.88 at 0.45, 0.49 → 0.86 at 0.15." in tip and "not clinical accuracy" in tip


def test_the_demo_cards_cutoff_points_are_read_and_include_its_own_cutoff():
    from LungTumorSegLib import model_packages

    info = model_packages.read_package(slicer_env.MODULE_DIR / "Resources" / "Models" / "lungtumorseg-demo-phantom")
    cutoffs = [c for c, _, _ in info.candidate_cutoff_points]
    assert cutoffs == sorted(cutoffs) and len(cutoffs) >= 5
    assert any(abs(c - info.candidate_check_cutoff) < 1e-3 for c in cutoffs)
    # a lower cut-off never finds fewer tumours nor keeps fewer false findings
    sens = [s for _, s, _ in info.candidate_cutoff_points]
    fps = [fp for _, _, fp in info.candidate_cutoff_points]
    assert sens == sorted(sens, reverse=True) and fps == sorted(fps, reverse=True)
    assert model_packages._cutoff_points({"candidate_cutoff_calibration": {"points": [{"cutoff": "x"}]}}) == ()


def test_package_tooltip_says_what_the_package_is_for_and_warns_for_demo_weights():
    """Not the card's version notes (its description), but its intended use and the warning."""
    from dataclasses import replace

    demo = replace(_package_info(intended_use="Demonstration of the pipeline."), description="0.10.0: a changelog",
                   warning="Trained on synthetic data, a demonstration, not for clinical use.")
    tip = widget_state.package_tooltip(demo)
    assert tip.startswith("p 1.") and "Demonstration of the pipeline." in tip
    assert "not for clinical use" in tip and "changelog" not in tip
    assert widget_state.package_tooltip(replace(_package_info(), demo=False, warning="")) == "p 1."


def test_shipped_demo_package_tooltip_carries_the_synthetic_data_warning():
    from LungTumorSegLib import model_packages

    tip = widget_state.package_tooltip(model_packages.read_package(model_packages.DEMO_PACKAGE))
    assert "synthetic" in tip and "not for clinical use" in tip


def test_help_text_explains_every_option_of_the_panel():
    """Every check box and every labelled setting of the .ui is named in the help text (so the
    help cannot silently fall behind the panel), and the demo warning is there."""
    import re
    import xml.etree.ElementTree as ET

    from LungTumorSegLib import module_text

    ui = ET.parse(slicer_env.MODULE_DIR / "Resources" / "UI" / "LungTumorSeg.ui")
    names = []
    for widget in ui.iter("widget"):
        if widget.get("class") in ("QCheckBox", "QLabel", "QPushButton"):
            text = widget.find("./property[@name='text']/string")
            if text is not None and text.text:
                names.append(text.text.rstrip(":").rstrip("…").strip())
    assert len(names) >= 15
    help_text = re.sub(r"<[^>]+>", "", module_text.HELP_TEXT).lower()
    help_text = re.sub(r"\s+", " ", help_text)
    missing = [n for n in names if n.lower() not in help_text]
    assert missing == []
    assert "not for clinical use" in help_text


def test_apply_refuses_volumes_that_are_not_ct_in_hounsfield_units(slicer_env):
    """On real MRML volume nodes: the shipped sample CT is accepted; the same anatomy without
    air (an MR-like 0..1000 range, or a CT not rescaled to HU) and a DICOM MR series are not."""
    import numpy as np
    import SimpleITK as sitk
    from LungTumorSegLib import scenario, volume_bridge

    sample = scenario.load_sample_volume()
    info = widget_state.input_info(sample)
    assert info.scalar_range[0] < -900 and info.modality == ""
    assert apply_state(info, DEMO, running=False)[0]

    array = sitk.GetArrayFromImage(sitk.ReadImage(str(scenario.sample_files()[0]))).astype(np.int16)
    # the stored values of a scanner (0..4095) without the DICOM rescale to HU
    unrescaled = sitk.GetImageFromArray((np.maximum(array, -1024) + 1024).astype(np.int16))
    shifted = slicer_env.scene.AddNewNodeByClass("vtkMRMLScalarVolumeNode", "not HU")
    volume_bridge.set_volume_from_image(shifted, unrescaled)
    enabled, tip = apply_state(widget_state.input_info(shifted), DEMO, running=False)
    assert not enabled and "Hounsfield" in tip and "-1000" in tip

    enabled, tip = apply_state(widget_state.input_info(sample, modality="mr "), DEMO, running=False)
    assert not enabled and "DICOM MR series" in tip
    assert apply_state(widget_state.input_info(sample, modality="CT"), DEMO, running=False)[0]
    assert widget_state.input_info(None) == InputInfo(present=False)


def test_dicom_modality_is_read_for_volumes_loaded_from_dicom(slicer_env):
    """The Widget asks Slicer's DICOM database (absent headless: a stand-in object answers the
    two calls ctkDICOMDatabase has) for the Modality of a volume's first instance."""
    node = slicer_env.scene.AddNewNodeByClass("vtkMRMLScalarVolumeNode", "from DICOM")

    class DatabaseStandIn:  # stand-in for ctkDICOMDatabase, which needs the Slicer application
        def fileForInstance(self, uid):
            return {"1.2.3": "/dicom/mr1.dcm"}[uid]

        def fileValue(self, path, tag):
            return {("/dicom/mr1.dcm", "0008,0060"): "MR"}[(path, tag)]

    assert widget_state.dicom_modality(node, DatabaseStandIn()) == ""  # not loaded from DICOM
    node.SetAttribute("DICOM.instanceUIDs", "1.2.3 1.2.4")
    assert widget_state.dicom_modality(node, DatabaseStandIn()) == "MR"
    assert widget_state.dicom_modality(node, None) == ""
    node.SetAttribute("DICOM.instanceUIDs", "9.9.9")  # the database has no such file
    assert widget_state.dicom_modality(node, DatabaseStandIn()) == ""
