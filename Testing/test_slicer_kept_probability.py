"""The probability map a run keeps in the scene, and "update lesions" from it (real MRML).

The child is the contract stand-in of the core CLI (``slicer_support/contract_cli.py``:
probability = HU mapped linearly from -800 HU (0 %) to 1200 HU (100 %), so 500 HU is 65 %);
the lesions are recomputed in-process by the core's real ``lesions_from_probability``. The
real core end to end is exercised by the shared scenario (``test_slicer_scenario.py``).
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import SimpleITK as sitk

import slicer_env as senv

from test_slicer_logic import CONTRACT_PYTHON, _ct, _segment_names, _state, contract  # noqa: F401


def _run(volume, tmp_path, **kwargs):
    from LungTumorSegLib import logic_core

    request = logic_core.RunRequest(input_volume=volume, **kwargs)
    return logic_core.SegmentationRun(request, python=CONTRACT_PYTHON, temp_root=str(tmp_path)).run(timeout_s=120)


def _voxels(node, volume):
    import slicer

    seg = node.GetSegmentation()
    return [int((slicer.util.arrayFromSegmentBinaryLabelmap(node, s, volume) > 0).sum()) for s in seg.GetSegmentIDs()]


def test_run_keeps_the_probability_map_on_the_input_grid(slicer_env, contract, tmp_path):
    import slicer

    from LungTumorSegLib import kept_probability, volume_bridge

    contract("ok")
    volume, array = _ct(slicer_env.scene)
    result = _run(volume, tmp_path)
    kept = kept_probability.kept_run(result.segmentation_node)
    assert kept is not None and kept.input_volume is volume
    node = kept.probability_node
    assert node in result.created_nodes and node.GetName() == "chest tumour probability (%)"
    assert volume_bridge.same_grid(volume_bridge.image_from_volume(node), volume)
    percent = slicer.util.arrayFromVolume(node)
    assert percent.dtype == np.uint8
    expected = np.floor(np.clip((array.astype(np.float64) + 800) / 2000, 0, 1) * 100 + 1e-9)
    np.testing.assert_array_equal(percent, expected)
    display = node.GetDisplayNode()
    assert (display.GetWindowLevelMin(), display.GetWindowLevelMax()) == (0.0, 100.0)
    assert display.GetColorNodeID() == kept_probability.PROBABILITY_COLOR_NODE_ID
    assert kept.record["model"]["name"] == "contract"


def test_update_lesions_with_the_runs_own_settings_reproduces_the_run(slicer_env, contract, tmp_path):
    from lungtumorseg.postprocess import LesionFilter
    from LungTumorSegLib import kept_probability, volume_bridge

    contract("ok")
    scene = slicer_env.scene
    volume, _ = _ct(scene)
    checksum = volume_bridge.volume_checksum(volume)
    result = _run(volume, tmp_path)
    names, voxels = _segment_names(result.segmentation_node), _voxels(result.segmentation_node, volume)
    n_nodes = scene.GetNumberOfNodes()
    # the stand-in's lesions are its voxels >= 500 HU, i.e. >= 65 %
    update = kept_probability.update_lesions(result.segmentation_node, 0.65, LesionFilter(), result.table_node)
    assert update.segmentation_node is result.segmentation_node and update.table_node is result.table_node
    assert _segment_names(update.segmentation_node) == names == ["Lesion 1", "Lesion 2"]
    assert _voxels(update.segmentation_node, volume) == voxels == [400, 40]
    assert scene.GetNumberOfNodes() == n_nodes  # nothing piled up
    assert volume_bridge.volume_checksum(volume) == checksum
    assert update.report["source"].startswith("kept probability map")
    assert [l["hu_mean"] for l in update.lesions] == [900.0, 900.0]


def test_update_lesions_with_a_larger_minimum_volume_drops_the_small_lesion(slicer_env, contract, tmp_path):
    from lungtumorseg.postprocess import LesionFilter
    from LungTumorSegLib import kept_probability

    contract("ok")
    volume, _ = _ct(slicer_env.scene)
    result = _run(volume, tmp_path)
    small_mm3 = 40 * 0.7 * 0.7 * 5.0  # lesion 2: 40 voxels
    update = kept_probability.update_lesions(result.segmentation_node, 0.65, LesionFilter(small_mm3 + 1.0),
                                             result.table_node)
    assert _segment_names(update.segmentation_node) == ["Lesion 1"]
    assert result.table_node.GetNumberOfRows() == 1
    record = kept_probability.kept_run(result.segmentation_node).record
    assert record["postprocessing"]["min_lesion_mm3"] == pytest.approx(small_mm3 + 1.0)
    # and back: the small lesion returns (the map was not changed by the update)
    kept_probability.update_lesions(result.segmentation_node, 0.65, LesionFilter(), result.table_node)
    assert _segment_names(result.segmentation_node) == ["Lesion 1", "Lesion 2"]


MIDDLE = {"middle": {"min_lesion_mm3": 850.0, "min_peak_probability": 0.6, "max_elongation": None,
                     "max_mean_hu": None}}
GENERAL = dict(min_lesion_mm3=10.0, min_peak_probability=0.2, max_elongation=3.0, max_mean_hu=200.0)


def test_update_rule_keeps_the_runs_zone_limits_on_top_of_the_general_limits():
    from lungtumorseg.postprocess import LesionFilter
    from LungTumorSegLib.kept_probability import update_rule

    record = {"card_zone_limits": MIDDLE, "postprocessing": {"threshold": 0.5, "min_lesion_mm3": 400.0}}
    rule = update_rule(record, None, True, **GENERAL)
    assert (rule.min_lesion_mm3, rule.min_peak_probability, rule.max_elongation, rule.max_mean_hu) == (
        10.0, 0.2, 3.0, 200.0)  # the user's general limits, not the run's
    assert rule.zone_limits == (("middle", LesionFilter(850.0, 0.6)),)
    assert rule.to_dict()["zone_limits"] == MIDDLE
    # unchecked: the general limits alone
    assert update_rule(record, None, False, **GENERAL) == LesionFilter(10.0, 0.2, 3.0, 200.0)


def test_update_rule_takes_the_zone_limits_of_the_run_before_those_of_the_selected_package():
    from LungTumorSegLib.kept_probability import update_rule

    other = {"lower": {"min_lesion_mm3": 99.0}}
    # recorded with the run (even "none") wins over the selected package
    assert dict(update_rule({"card_zone_limits": MIDDLE}, other, True, **GENERAL).zone_limits).keys() == {"middle"}
    assert update_rule({"card_zone_limits": {}}, other, True, **GENERAL).zone_limits == ()
    # a record without them (older scene): the zone limits its lesions were filtered with ...
    applied = {"postprocessing": {"threshold": 0.5, "zone_limits": MIDDLE}}
    assert dict(update_rule(applied, other, True, **GENERAL).zone_limits).keys() == {"middle"}
    # ... else the selected package's; no record at all, likewise
    assert dict(update_rule({"postprocessing": None}, other, True, **GENERAL).zone_limits).keys() == {"lower"}
    assert dict(update_rule(None, other, True, **GENERAL).zone_limits)["lower"].min_lesion_mm3 == 99.0
    assert update_rule(None, None, True, **GENERAL).zone_limits == ()


def test_update_lesions_applies_the_runs_zone_limits_unless_switched_off(slicer_env, contract, tmp_path):
    import json

    from LungTumorSegLib import kept_probability

    contract("ok")
    volume, _ = _ct(slicer_env.scene)
    result = _run(volume, tmp_path)
    node = result.segmentation_node
    # the stand-in finds no lungs; place them so that lesion 1 (980 mm³, 100 % peak) lies in the
    # middle zone and lesion 2 (98 mm³) in the upper zone
    z1, z2 = (lesion["centroid_lps_mm"][2] for lesion in result.lesions)
    assert z2 > z1 + 5.0
    record = kept_probability.kept_run(node).record
    record["context"]["lung_z_lps_mm"] = [z1 - 15.0, z1 + 15.0]
    record["card_zone_limits"] = {"middle": {"min_lesion_mm3": 2000.0}}
    node.SetAttribute(kept_probability.RUN_ATTRIBUTE, json.dumps(record))
    limits = dict(min_lesion_mm3=0.0, min_peak_probability=0.0, max_elongation=float("inf"),
                  max_mean_hu=float("inf"))

    def update(zone_limits: bool) -> list[float]:
        rule = kept_probability.update_rule(kept_probability.kept_run(node).record, None, zone_limits, **limits)
        return [round(l["volume_mm3"]) for l in kept_probability.update_lesions(node, 0.65, rule).lesions]

    assert update(True) == [98]  # the middle-zone lesion is below the middle zone's minimum
    assert kept_probability.kept_run(node).record["postprocessing"]["zone_limits"]["middle"]["min_lesion_mm3"] == 2000
    assert update(False) == [980, 98]
    assert "zone_limits" not in kept_probability.kept_run(node).record["postprocessing"]
    assert update(True) == [98]  # back on: the card's zone limits were kept with the run


def test_update_lesions_applies_the_packages_candidate_check_unless_switched_off(slicer_env, contract, tmp_path):
    """"Update lesions" with "Candidate check" checked lets the package's classifier reject a
    candidate; unchecked, no classifier is loaded and that candidate is a lesion again."""
    from lungtumorseg.errors import ModelPackageError
    from lungtumorseg.models.package import load_package
    from lungtumorseg.postprocess import LesionFilter
    from lungtumorseg.relabel import probability_from_percent
    from LungTumorSegLib import kept_probability, logic_core, volume_bridge
    from test_slicer_logic import _checked_package

    contract("ok")
    volume, _ = _ct(slicer_env.scene)
    result = _run(volume, tmp_path)
    node = result.segmentation_node
    kept = kept_probability.kept_run(node)
    every = kept_probability.update_lesions(node, 0.65, LesionFilter())  # no classifier: both candidates
    assert [round(l["volume_mm3"]) for l in every.lesions] == [980, 98]
    # the classifier's scores of the two candidates on the kept map; the card's cut-off between them
    check = load_package(_checked_package(tmp_path)).candidate_check()
    scores = check.scores(every.label_image, volume_bridge.image_from_volume(volume),
                          volume_bridge.image_from_volume(kept.probability_node), probability_from_percent)
    assert abs(scores[1] - scores[2]) > 1e-4, f"the test needs two different scores, got {scores}"
    cutoff = (scores[1] + scores[2]) / 2
    package = _checked_package(tmp_path, cutoff=cutoff, name="cut-between")
    survivor = 980 if scores[1] > scores[2] else 98

    def update(candidate_check: bool) -> list[int]:
        check = logic_core.candidate_check(package, candidate_check)  # as LungTumorSegLogic.updateLesions
        return [round(l["volume_mm3"]) for l in kept_probability.update_lesions(node, 0.65, LesionFilter(),
                                                                                 result.table_node, check=check).lesions]

    assert update(True) == [survivor]  # the classifier rejects the other candidate
    assert kept_probability.kept_run(node).record["postprocessing"]["candidate_check_cutoff"] == pytest.approx(cutoff)
    assert result.table_node.GetNumberOfRows() == 1
    assert update(False) == [980, 98]  # unchecked: every candidate the filter keeps
    assert "candidate_check_cutoff" not in kept_probability.kept_run(node).record["postprocessing"]
    assert update(True) == [survivor]  # checked again
    # unchecked loads nothing: a damaged classifier file is not even read
    weights = package / "candidate_check.safetensors"
    weights.write_bytes(weights.read_bytes()[::-1])
    with pytest.raises(ModelPackageError, match="candidate_check.safetensors"):
        logic_core.candidate_check(package, True)
    assert update(False) == [980, 98]


def test_invalid_threshold_is_refused_and_leaves_the_scene_unchanged(slicer_env, contract, tmp_path):
    """The core's own validation reaches the caller; segments and table stay as they were."""
    from lungtumorseg.postprocess import LesionFilter
    from LungTumorSegLib import kept_probability

    contract("ok")
    scene = slicer_env.scene
    volume, _ = _ct(scene)
    result = _run(volume, tmp_path)
    before = _state(scene, result.segmentation_node)
    with pytest.raises(ValueError, match="threshold"):
        kept_probability.update_lesions(result.segmentation_node, 0.0, LesionFilter(), result.table_node)
    assert _state(scene, result.segmentation_node) == before
    assert result.table_node.GetNumberOfRows() == 2


def test_run_without_keeping_the_map_unlinks_an_old_one(slicer_env, contract, tmp_path):
    from lungtumorseg.postprocess import LesionFilter
    from LungTumorSegLib import kept_probability

    contract("ok")
    volume, _ = _ct(slicer_env.scene)
    first = _run(volume, tmp_path)
    assert kept_probability.kept_run(first.segmentation_node) is not None
    second = _run(volume, tmp_path, segmentation_node=first.segmentation_node, table_node=first.table_node,
                  keep_probability=False)
    assert kept_probability.kept_run(second.segmentation_node) is None
    with pytest.raises(ValueError, match="no kept probability map"):
        kept_probability.update_lesions(second.segmentation_node, 0.5, LesionFilter())


def test_rerun_reuses_the_probability_node(slicer_env, contract, tmp_path):
    from LungTumorSegLib import kept_probability

    contract("ok")
    scene = slicer_env.scene
    volume, _ = _ct(scene)
    first = _run(volume, tmp_path)
    node = kept_probability.kept_run(first.segmentation_node).probability_node
    n_nodes = scene.GetNumberOfNodes()
    second = _run(volume, tmp_path, segmentation_node=first.segmentation_node, table_node=first.table_node)
    assert kept_probability.kept_run(second.segmentation_node).probability_node is node
    assert scene.GetNumberOfNodes() == n_nodes


def test_rerun_on_another_ct_relinks_and_renames_the_map(slicer_env, contract, tmp_path):
    from LungTumorSegLib import kept_probability

    contract("ok")
    scene = slicer_env.scene
    first_ct, _ = _ct(scene)
    second_ct, _ = _ct(scene, lesions=((2, 5, 3, 9, 3, 9),))
    second_ct.SetName("follow-up")
    first = _run(first_ct, tmp_path)
    node = kept_probability.kept_run(first.segmentation_node).probability_node
    second = _run(second_ct, tmp_path, segmentation_node=first.segmentation_node, table_node=first.table_node)
    kept = kept_probability.kept_run(second.segmentation_node)
    assert kept.probability_node is node and kept.input_volume is second_ct
    assert node.GetName() == "follow-up tumour probability (%)"
    assert _segment_names(second.segmentation_node) == ["Lesion 1"]


def test_missing_probability_map_fails_the_run_and_leaves_the_scene_unchanged(slicer_env, contract, tmp_path):
    from LungTumorSegLib import process_runner

    contract("no_probability")
    scene = slicer_env.scene
    volume, _ = _ct(scene)
    before = _state(scene)
    with pytest.raises(process_runner.ProcessFailed, match="no probability map"):
        _run(volume, tmp_path)
    assert _state(scene) == before
    assert not list(tmp_path.glob("LungTumorSeg-*"))


def test_failure_while_keeping_the_map_rolls_back_the_whole_commit(slicer_env, contract, tmp_path, monkeypatch):
    """A failure after the segments were committed (here: linking the map) must still leave
    the scene as it was: new nodes removed, a reused node's segments restored."""
    from LungTumorSegLib import kept_probability

    contract("ok")
    scene = slicer_env.scene
    volume, _ = _ct(scene)
    before_first = _state(scene)

    def broken(*args, **kwargs):
        raise RuntimeError("simulated failure while keeping the map")

    working = kept_probability.commit_probability
    monkeypatch.setattr(kept_probability, "commit_probability", broken)
    with pytest.raises(RuntimeError, match="simulated"):
        _run(volume, tmp_path)
    assert _state(scene) == before_first

    monkeypatch.setattr(kept_probability, "commit_probability", working)
    previous = _run(volume, tmp_path, threshold=0.3)
    names = _segment_names(previous.segmentation_node)
    monkeypatch.setattr(kept_probability, "commit_probability", broken)
    with pytest.raises(RuntimeError, match="simulated"):
        _run(volume, tmp_path, segmentation_node=previous.segmentation_node, table_node=previous.table_node)
    assert _segment_names(previous.segmentation_node) == names
    assert previous.table_node.GetNumberOfRows() == 2


def _reused_state(segmentation_node, table_node):
    """What a re-run may change on the nodes it reuses (see ``scene_transaction``)."""
    import slicer
    import vtk

    from LungTumorSegLib import kept_probability

    scene = segmentation_node.GetScene()
    sh = slicer.vtkMRMLSubjectHierarchyNode.GetSubjectHierarchyNode(scene)
    kept = kept_probability.kept_run(segmentation_node)
    matrix = vtk.vtkMatrix4x4()
    kept.probability_node.GetIJKToRASMatrix(matrix)
    seg = segmentation_node.GetSegmentation()
    return {
        "segments": _segment_names(segmentation_node),
        "geometry": seg.GetConversionParameter("Reference image geometry"),
        "transform": segmentation_node.GetTransformNodeID(),
        "parent": sh.GetItemParent(sh.GetItemByDataNode(segmentation_node)),
        "run record": segmentation_node.GetAttribute(kept_probability.RUN_ATTRIBUTE),
        "input link": segmentation_node.GetNodeReferenceID(kept_probability.INPUT_ROLE),
        "map name": kept.probability_node.GetName(),
        "map transform": kept.probability_node.GetTransformNodeID(),
        "map voxels": slicer.util.arrayFromVolume(kept.probability_node).copy().tolist(),
        "map grid": [matrix.GetElement(i, j) for i in range(4) for j in range(4)],
        "rows": table_node.GetNumberOfRows(),
    }


def test_failed_rerun_on_another_ct_puts_every_reused_node_back(slicer_env, contract, tmp_path, monkeypatch):
    """A re-run into the previous run's nodes that fails late (here: styling the reused map,
    after its voxels, grid and name were replaced) restores those nodes completely: segments,
    reference geometry, transform, place in the subject hierarchy, run record and links, and
    the map's voxels, grid and name. The same re-run without the failure changes all of them,
    so each comparison can fail."""
    import slicer

    from LungTumorSegLib import kept_probability

    contract("ok")
    scene = slicer_env.scene
    volume, _ = _ct(scene)
    first = _run(volume, tmp_path, threshold=0.3)
    array = np.full((10, 30, 34), -800, np.int16)
    array[2:6, 4:12, 6:14] = 900
    image = sitk.GetImageFromArray(array)
    image.SetSpacing((0.8, 0.8, 3.0))
    image.SetOrigin((5.0, -3.0, 12.0))
    other = senv.add_volume_from_image(scene, image, "other chest")
    transform = scene.AddNewNodeByClass("vtkMRMLLinearTransformNode", "patient position")
    other.SetAndObserveTransformNodeID(transform.GetID())
    sh = slicer.vtkMRMLSubjectHierarchyNode.GetSubjectHierarchyNode(scene)
    folder = sh.CreateFolderItem(sh.GetSceneItemID(), "second study")
    sh.CreateItem(folder, other)  # the application's plugins would create the item; headless, the test does

    before, nodes_before = _reused_state(first.segmentation_node, first.table_node), scene.GetNumberOfNodes()

    def broken(node):
        raise RuntimeError("simulated failure while styling the map")

    working = kept_probability.style_probability_node
    monkeypatch.setattr(kept_probability, "style_probability_node", broken)
    with pytest.raises(RuntimeError, match="simulated"):
        _run(other, tmp_path, segmentation_node=first.segmentation_node, table_node=first.table_node)
    assert _reused_state(first.segmentation_node, first.table_node) == before
    assert scene.GetNumberOfNodes() == nodes_before

    monkeypatch.setattr(kept_probability, "style_probability_node", working)
    _run(other, tmp_path, segmentation_node=first.segmentation_node, table_node=first.table_node)
    after = _reused_state(first.segmentation_node, first.table_node)
    assert [k for k in before if before[k] == after[k]] == []


def test_run_records_its_model_package_and_updates_use_it_while_it_is_the_same_package(slicer_env, contract,
                                                                                        tmp_path):
    """"Update lesions" judges a run's candidates with the package that made the run, not with
    whatever is selected now; a folder that no longer holds that package (or none) falls back
    to the selection."""
    import json
    import shutil

    from LungTumorSegLib import kept_probability, model_packages

    contract("ok")
    volume, _ = _ct(slicer_env.scene)
    result = _run(volume, tmp_path)
    record = json.loads(result.segmentation_node.GetAttribute(kept_probability.RUN_ATTRIBUTE))
    demo = str(model_packages.DEMO_PACKAGE.resolve())
    assert record["model_path"] == demo
    # the stand-in child reports itself as model "contract 0": not the package in that folder
    assert kept_probability.run_model_dir(record, "/selected/other") == "/selected/other"
    info = model_packages.read_package(demo)
    record = dict(record, model={"name": info.name, "version": info.version})  # as the real core reports it
    assert kept_probability.run_model_dir(record, "/selected/other") == demo

    copy = tmp_path / "copy"
    shutil.copytree(model_packages.DEMO_PACKAGE, copy)
    same = dict(record, model_path=str(copy))
    assert kept_probability.run_model_dir(same, "/selected/other") == str(copy)
    card = json.loads((copy / "model.json").read_text())
    card["version"] = card["version"] + "-retrained"
    (copy / "model.json").write_text(json.dumps(card))
    assert kept_probability.run_model_dir(same, "/selected/other") == "/selected/other"  # another package now
    assert kept_probability.run_model_dir(dict(record, model_path=str(tmp_path / "gone")), None) is None
    assert kept_probability.run_model_dir({k: v for k, v in record.items() if k != "model_path"}, "/s") == "/s"
    assert kept_probability.run_model_dir(None, "/s") == "/s"


def test_percent_threshold_matches_update_exactly_at_whole_percent(slicer_env, contract, tmp_path):
    """Thresholds in whole percent select exactly the voxels whose map value reaches them."""
    import slicer

    from lungtumorseg.postprocess import LesionFilter
    from LungTumorSegLib import kept_probability

    contract("ok")
    volume, array = _ct(slicer_env.scene)
    result = _run(volume, tmp_path)
    percent = slicer.util.arrayFromVolume(kept_probability.kept_run(result.segmentation_node).probability_node)
    for threshold in (0.65, 0.85):
        update = kept_probability.update_lesions(result.segmentation_node, threshold, LesionFilter())
        label = sitk.GetArrayFromImage(update.label_image) > 0
        np.testing.assert_array_equal(label, percent >= round(threshold * 100))
    update = kept_probability.update_lesions(result.segmentation_node, 0.86, LesionFilter())
    assert update.lesions == []  # the stand-in's lesions (900 HU) are 85 %


def test_probability_overlay_in_the_slice_views(slicer_env, contract, tmp_path):
    from LungTumorSegLib import kept_probability

    contract("ok")
    scene = slicer_env.scene
    volume, _ = _ct(scene)
    composites = [scene.AddNewNodeByClass("vtkMRMLSliceCompositeNode") for _ in range(3)]
    other = scene.AddNewNodeByClass("vtkMRMLScalarVolumeNode", "something else")
    composites[2].SetForegroundVolumeID(other.GetID())
    result = _run(volume, tmp_path)
    node_id = kept_probability.kept_run(result.segmentation_node).probability_node.GetID()
    assert kept_probability.show_overlay(result.segmentation_node, True, opacity=0.4)
    assert all(c.GetForegroundVolumeID() == node_id and c.GetForegroundOpacity() == 0.4 for c in composites)
    composites[2].SetForegroundVolumeID(other.GetID())  # the user picked another foreground in one view
    assert kept_probability.show_overlay(result.segmentation_node, False)
    assert [c.GetForegroundVolumeID() for c in composites] == [None, None, other.GetID()]
    plain = scene.AddNewNodeByClass("vtkMRMLSegmentationNode")
    assert not kept_probability.show_overlay(plain, True)


def test_kept_map_survives_saving_and_reloading_the_scene(slicer_env, contract, tmp_path):
    """Save the scene (MRML + NRRD / .seg.nrrd files, as Slicer's "Save" does), load it into a
    new scene: the links, the run record and the map come back, and Update lesions works there."""
    import slicer

    from lungtumorseg.postprocess import LesionFilter
    from LungTumorSegLib import kept_probability

    contract("ok")
    scene = slicer_env.scene
    volume, _ = _ct(scene)
    result = _run(volume, tmp_path)
    kept = kept_probability.kept_run(result.segmentation_node)
    for node, suffix in ((volume, ".nrrd"), (kept.probability_node, ".nrrd"), (result.segmentation_node, ".seg.nrrd")):
        if node.GetStorageNode() is None:
            node.AddDefaultStorageNode()
        node.GetStorageNode().SetFileName(str(tmp_path / f"{node.GetID()}{suffix}"))
        assert node.GetStorageNode().WriteData(node)
    scene.SetURL(str(tmp_path / "scene.mrml"))
    assert scene.Commit()

    reloaded = slicer.vtkMRMLScene()
    reloaded.SetURL(str(tmp_path / "scene.mrml"))
    assert reloaded.Connect()
    segmentation = reloaded.GetFirstNodeByName(result.segmentation_node.GetName())
    again = kept_probability.kept_run(segmentation)
    assert again is not None and again.record == kept.record
    assert again.input_volume.GetName() == "chest"
    np.testing.assert_array_equal(slicer.util.arrayFromVolume(again.probability_node),
                                  slicer.util.arrayFromVolume(kept.probability_node))
    update = kept_probability.update_lesions(segmentation, 0.65, LesionFilter())
    assert _segment_names(segmentation) == ["Lesion 1", "Lesion 2"] and len(update.lesions) == 2


def test_update_rule_keeps_the_outline_growth_the_run_applied():
    from LungTumorSegLib.kept_probability import update_rule

    growth = {"min_hu": -550.0, "max_hu": 100.0, "max_distance_mm": 4.0}
    record = {"card_zone_limits": {}, "postprocessing": {"threshold": 0.1, "outline_growth": growth}}
    assert update_rule(record, None, True, **GENERAL).to_dict()["outline_growth"] == growth
    # a run with growth switched off (--no-outline-growth) is updated without it
    assert update_rule({"postprocessing": {"threshold": 0.1}}, None, True, **GENERAL).outline_growth is None


def test_update_rule_switches_the_cards_outline_growth_recorded_with_the_run_on_and_off():
    from LungTumorSegLib.kept_probability import run_record, update_rule

    growth = {"min_hu": -550.0, "max_hu": 100.0, "max_distance_mm": 4.0}
    report = {"threshold": 0.1, "postprocessing": {"threshold": 0.1}}  # the run had --no-outline-growth
    record = run_record(report, {}, growth)
    assert update_rule(record, None, True, **GENERAL).to_dict()["outline_growth"] == growth  # checked again: on
    assert update_rule(record, None, True, outline_growth=False, **GENERAL).outline_growth is None
    # recorded "none" wins over the selected package's growth
    assert update_rule(run_record(report, {}, None), None, True, package_outline_growth=growth,
                       **GENERAL).outline_growth is None
    # an older scene without the record: the selected package's
    assert update_rule({"postprocessing": {"threshold": 0.1}}, None, True, package_outline_growth=growth,
                       **GENERAL).to_dict()["outline_growth"] == growth


def _joining_package(tmp_path):
    """A package folder whose card's magnified look joins its touching components (seeded random
    classifiers, real safetensors files)."""
    from core_fixtures import with_magnified_look
    from test_slicer_model_packages import _package

    return with_magnified_look(_package(tmp_path / "packages" / "joining"), join=True)


def test_a_joined_run_keeps_the_magnified_map_and_update_repeats_the_join(slicer_env, contract, tmp_path):
    """The child's lesions took in the magnified look's touching components (the contract's
    ``joined`` mode grows each by one voxel in-plane): the run keeps that map beside the
    probability map, and Update lesions at the run's settings gives the run's lesions again —
    not the narrower ones of the probability map alone."""
    import slicer

    from lungtumorseg.postprocess import LesionFilter
    from LungTumorSegLib import kept_probability, logic_core

    args = contract("joined") / "args.json"
    package = _joining_package(tmp_path)
    assert logic_core.card_magnified_join(package) and not logic_core.card_magnified_join(tmp_path / "none")
    volume, array = _ct(slicer_env.scene)
    result = _run(volume, tmp_path, model_dir=str(package))
    assert "--magnified-probabilities" in json.loads(args.read_text())
    kept = kept_probability.kept_run(result.segmentation_node)
    assert kept.magnified_node is not None and kept.magnified_node in result.created_nodes
    assert kept.magnified_node.GetName() == "chest magnified look probability (%)"
    assert kept.record["postprocessing"]["magnified_join"] is True
    run_voxels = _voxels(result.segmentation_node, volume)
    assert sum(run_voxels) > int((array >= 500).sum()), "the contract's join grows the lesions"
    update = kept_probability.update_lesions(result.segmentation_node, 0.5, LesionFilter())
    assert update.report["postprocessing"]["magnified_join"] is True
    assert _voxels(result.segmentation_node, volume) == run_voxels
    assert np.array_equal(slicer.util.arrayFromVolume(kept.magnified_node) > 0,
                          sitk.GetArrayFromImage(sitk.BinaryDilate(sitk.GetImageFromArray((array >= 500)
                                                                                           .astype(np.uint8)),
                                                                   [1, 1, 0])) > 0)
    # a re-run that does not join (the look switched off) unlinks the magnified map and removes it
    scene = slicer_env.scene
    contract("ok")
    again = _run(volume, tmp_path, model_dir=str(package), magnified_look=False,
                 segmentation_node=result.segmentation_node)
    assert "--magnified-probabilities" not in json.loads(args.read_text())
    assert kept_probability.kept_run(again.segmentation_node).magnified_node is None
    assert kept.magnified_node.GetScene() is None and scene.GetFirstNodeByName(
        "chest magnified look probability (%)") is None
    assert sum(_voxels(again.segmentation_node, volume)) == int((array >= 500).sum())


def test_a_joined_run_whose_magnified_map_is_missing_fails_and_leaves_the_scene_unchanged(slicer_env, contract,
                                                                                          tmp_path):
    from LungTumorSegLib import process_runner
    from test_slicer_model_packages import _package

    contract("joined")
    scene = slicer_env.scene
    volume, _ = _ct(scene)
    plain = _package(tmp_path / "packages" / "plain")
    before = _state(scene)
    # a package without a joining look: the logic asks for no magnified map, yet the child says it joined
    with pytest.raises(process_runner.ProcessFailed, match="joined the magnified look's map to its lesions, but this "
                                                             "run did not ask for that map"):
        _run(volume, tmp_path, model_dir=str(plain))
    assert _state(scene) == before


def test_a_joined_rerun_reuses_the_magnified_node(slicer_env, contract, tmp_path):
    from LungTumorSegLib import kept_probability

    contract("joined")
    package = _joining_package(tmp_path)
    volume, _ = _ct(slicer_env.scene)
    first = _run(volume, tmp_path, model_dir=str(package))
    node = kept_probability.kept_run(first.segmentation_node).magnified_node
    again = _run(volume, tmp_path, model_dir=str(package), segmentation_node=first.segmentation_node)
    assert kept_probability.kept_run(again.segmentation_node).magnified_node is node
    assert node not in again.created_nodes
    assert slicer_env.scene.GetNodesByName("chest magnified look probability (%)").GetNumberOfItems() == 1


@pytest.mark.parametrize("damage", ["delete", "empty"])
def test_update_refuses_a_joined_run_whose_magnified_map_is_gone_and_changes_nothing(slicer_env, contract, tmp_path,
                                                                                       damage):
    """Updating without the map would silently narrow the outlines: it is refused with what to do."""
    from lungtumorseg.postprocess import LesionFilter
    from LungTumorSegLib import kept_probability

    contract("joined")
    package = _joining_package(tmp_path)
    volume, _ = _ct(slicer_env.scene)
    result = _run(volume, tmp_path, model_dir=str(package))
    kept = kept_probability.kept_run(result.segmentation_node)
    if damage == "delete":
        slicer_env.scene.RemoveNode(kept.magnified_node)
    else:
        kept.magnified_node.SetAndObserveImageData(None)
    voxels = _voxels(result.segmentation_node, volume)
    before = _state(slicer_env.scene, result.segmentation_node)
    with pytest.raises(ValueError, match="magnified look's map, which is no longer in the scene"):
        kept_probability.update_lesions(result.segmentation_node, 0.5, LesionFilter())
    assert _state(slicer_env.scene, result.segmentation_node) == before
    assert _voxels(result.segmentation_node, volume) == voxels
    assert kept_probability.show_overlay(result.segmentation_node, True), "the probability map itself is still fine"
