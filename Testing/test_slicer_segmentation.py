"""Label image -> segmentation node and lesion table, on real MRML (slicer-core)."""

from __future__ import annotations

import numpy as np
import pytest
import SimpleITK as sitk

import slicer_env as senv


def _ct_and_labels(direction=(1, 0, 0, 0, 1, 0, 0, 0, 1)):
    """Anisotropic CT with two 'lesions' (label 1 big, label 2 small) on its grid."""
    ct = sitk.Image(40, 36, 12, sitk.sitkInt16) - 800
    ct.SetSpacing((0.7, 0.7, 5.0))
    ct.SetOrigin((-14.0, 20.0, -30.0))
    ct.SetDirection(direction)
    labels = np.zeros((12, 36, 40), np.uint16)
    labels[3:7, 5:15, 5:15] = 1
    labels[8:10, 20:24, 25:30] = 2
    lab = sitk.GetImageFromArray(labels)
    lab.CopyInformation(ct)
    return ct, lab, labels


def _segments(node):
    seg = node.GetSegmentation()
    return [seg.GetSegment(sid) for sid in seg.GetSegmentIDs()]


def _lesion_report(n=2):
    return [{"label": i, "voxels": 10, "volume_mm3": 24.5, "volume_ml": 0.0245, "centroid_lps_mm": [1, 2, 3],
             "long_axis_mm": 9.0, "short_axis_mm": 4.0, "zone": "upper", "side": "left", "hu_mean": 20.0,
             "hu_std": 5.0, "hu_min": -10.0, "hu_max": 60.0, "mean_probability": 0.8} for i in range(1, n + 1)]


def _write(env, ct_node, labels_image, **kwargs):
    from LungTumorSegLib import segmentation_writer as sw

    segmentation = sw.build_segmentation(labels_image, ct_node, _lesion_report())
    table = sw.build_table(_lesion_report())
    return sw.commit(env.scene, ct_node, segmentation, table, **kwargs)


def test_terminology_round_trips():
    pytest.importorskip("slicer")
    from LungTumorSegLib import segmentation_writer as sw

    entry = sw.terminology_string()
    assert entry.startswith("Segmentation category and type - DICOM master list~SCT^49755003^")
    codes = sw.parse_terminology(entry)
    assert codes["category"] == ("SCT", "49755003", "Morphologically Altered Structure")
    assert codes["type"] == ("SCT", "108369006", "Neoplasm")
    assert codes["region"] == ("SCT", "39607008", "Lung")


def test_segments_names_colours_terminology_and_voxels(slicer_env):
    import slicer
    from LungTumorSegLib import segmentation_writer as sw

    ct, lab, labels = _ct_and_labels()
    ct_node = senv.add_volume_from_image(slicer_env.scene, ct)
    committed = _write(slicer_env, ct_node, lab)
    node = committed.segmentation_node
    segs = _segments(node)
    assert [s.GetName() for s in segs] == ["Lesion 1", "Lesion 2"]
    colours = [tuple(round(c * 255) for c in s.GetColor()) for s in segs]
    assert len(set(colours)) == 2
    for s in segs:
        assert sw.parse_terminology(s.GetTerminology())["type"][1] == "108369006"
    for value, sid in zip((1, 2), node.GetSegmentation().GetSegmentIDs()):
        mask = slicer.util.arrayFromSegmentBinaryLabelmap(node, sid, ct_node)
        np.testing.assert_array_equal(mask > 0, labels == value)
    # the reference geometry is the input volume's
    geometry = node.GetSegmentation().GetConversionParameter("Reference image geometry")
    assert geometry, "reference image geometry not set"
    # table: one row per lesion with the report's values
    table = committed.table_node
    assert table.GetNumberOfRows() == 2
    assert table.GetCellText(0, 0) == "Lesion 1"
    assert table.GetColumnUnitLabel("Volume") == "ml"


def test_lesion_order_follows_the_report(slicer_env):
    from LungTumorSegLib import segmentation_writer as sw

    ct, lab, _ = _ct_and_labels()
    ct_node = senv.add_volume_from_image(slicer_env.scene, ct)
    report = list(reversed(_lesion_report()))
    segmentation = sw.build_segmentation(lab, ct_node, report)
    names = [segmentation.GetSegment(s).GetName() for s in segmentation.GetSegmentIDs()]
    assert names == ["Lesion 2", "Lesion 1"]


def test_label_image_on_another_grid_is_refused(slicer_env):
    from LungTumorSegLib import segmentation_writer as sw

    ct, lab, _ = _ct_and_labels()
    ct_node = senv.add_volume_from_image(slicer_env.scene, ct)
    lab.SetOrigin((0.0, 0.0, 0.0))
    with pytest.raises(ValueError, match="grid"):
        sw.build_segmentation(lab, ct_node, None)


def test_seg_nrrd_write_read_round_trip(slicer_env, tmp_path):
    import slicer
    from LungTumorSegLib import segmentation_writer as sw

    ct, lab, labels = _ct_and_labels(direction=(0, 1, 0, -1, 0, 0, 0, 0, 1))
    ct_node = senv.add_volume_from_image(slicer_env.scene, ct)
    node = _write(slicer_env, ct_node, lab).segmentation_node
    path = tmp_path / "out.seg.nrrd"
    storage = slicer.vtkMRMLSegmentationStorageNode()
    storage.SetFileName(str(path))
    assert storage.WriteData(node)
    loaded = slicer.modules.segmentations.logic().LoadSegmentationFromFile(str(path), False, "loaded")
    assert loaded is not None
    before, after = _segments(node), _segments(loaded)
    assert [s.GetName() for s in after] == [s.GetName() for s in before]
    assert [s.GetTerminology() for s in after] == [s.GetTerminology() for s in before]
    for a, b in zip(after, before):
        np.testing.assert_allclose(a.GetColor(), b.GetColor(), atol=1e-6)
    for value, sid in zip((1, 2), loaded.GetSegmentation().GetSegmentIDs()):
        mask = slicer.util.arrayFromSegmentBinaryLabelmap(loaded, sid, ct_node)
        np.testing.assert_array_equal(mask > 0, labels == value)


def test_rerun_replaces_segments_in_the_same_node(slicer_env):
    from LungTumorSegLib import segmentation_writer as sw

    scene = slicer_env.scene
    ct, lab, _ = _ct_and_labels()
    ct_node = senv.add_volume_from_image(scene, ct)
    first = _write(slicer_env, ct_node, lab)
    count = scene.GetNumberOfNodesByClass("vtkMRMLSegmentationNode")
    # second run finds only one lesion
    one = sitk.BinaryThreshold(lab, 1, 1, 1, 0)
    one = sitk.Cast(one, sitk.sitkUInt16)
    second = sw.commit(scene, ct_node, sw.build_segmentation(one, ct_node, None), sw.build_table(_lesion_report(1)),
                       segmentation_node=first.segmentation_node, table_node=first.table_node)
    assert second.segmentation_node is first.segmentation_node and second.created == []
    assert scene.GetNumberOfNodesByClass("vtkMRMLSegmentationNode") == count
    assert [s.GetName() for s in _segments(second.segmentation_node)] == ["Lesion 1"]
    assert second.table_node.GetNumberOfRows() == 1


def test_empty_label_image_gives_an_empty_segmentation(slicer_env):
    from LungTumorSegLib import segmentation_writer as sw

    ct, lab, _ = _ct_and_labels()
    ct_node = senv.add_volume_from_image(slicer_env.scene, ct)
    empty = sitk.Image(lab.GetSize(), sitk.sitkUInt16)
    empty.CopyInformation(lab)
    committed = sw.commit(slicer_env.scene, ct_node, sw.build_segmentation(empty, ct_node, []), sw.build_table([]))
    assert committed.segmentation_node.GetSegmentation().GetNumberOfSegments() == 0
    assert committed.table_node.GetNumberOfRows() == 0


def test_output_sits_beside_the_input_in_the_subject_hierarchy(slicer_env):
    import slicer

    scene = slicer_env.scene
    ct, lab, _ = _ct_and_labels()
    ct_node = senv.add_volume_from_image(scene, ct)
    sh = slicer.vtkMRMLSubjectHierarchyNode.GetSubjectHierarchyNode(scene)
    study = sh.CreateStudyItem(sh.CreateSubjectItem(sh.GetSceneItemID(), "Patient"), "Study")
    sh.CreateItem(study, ct_node)
    node = _write(slicer_env, ct_node, lab).segmentation_node
    assert sh.GetItemParent(sh.GetItemByDataNode(node)) == study


def test_closed_surface_when_show3d(slicer_env):
    ct, lab, _ = _ct_and_labels()
    ct_node = senv.add_volume_from_image(slicer_env.scene, ct)
    node = _write(slicer_env, ct_node, lab, show3d=True).segmentation_node
    assert node.GetSegmentation().ContainsRepresentation("Closed surface")
    sid = node.GetSegmentation().GetNthSegmentID(0)
    poly = node.GetSegmentation().GetSegment(sid).GetRepresentation("Closed surface")
    assert poly.GetNumberOfPoints() > 0


def test_lesion_csv(tmp_path):
    from LungTumorSegLib import lesion_table

    path = lesion_table.write_csv(_lesion_report(), tmp_path / "lesions.csv")
    lines = path.read_text().splitlines()
    assert lines[0].startswith("Lesion,Label,Volume [ml]")
    assert len(lines) == 3
    row = lines[1].split(",")
    assert row[0] == "Lesion 1" and float(row[8]) == -1.0  # centroid R = -L
    # the candidate classifier's score: its own column, "nan" when the run had no candidate check
    score = lines[0].split(",").index("Candidate score")
    assert row[score] == "nan"
    scored = [dict(lesion, candidate_score=0.8766) for lesion in _lesion_report()]
    assert lesion_table.write_csv(scored, tmp_path / "s.csv").read_text().splitlines()[1].split(",")[score] == "0.877"
    # the volume the magnified look's join added: "nan" without a join, the report's value with one
    added = lines[0].split(",").index("Added by magnified look [ml]")
    assert row[added] == "nan"
    joined = [dict(lesion, joined_ml=0.4321) for lesion in _lesion_report()]
    assert lesion_table.write_csv(joined, tmp_path / "j.csv").read_text().splitlines()[1].split(",")[added] == "0.432"


def test_terminology_from_the_model_card():
    pytest.importorskip("slicer")
    from LungTumorSegLib import segmentation_writer as sw

    card = {"category": {"scheme": "SCT", "code": "49755003", "meaning": "Morphologically Altered Structure"},
            "type": {"scheme": "SCT", "code": "126713003", "meaning": "Neoplasm of lung"},
            "anatomic_region": {"scheme": "SCT", "code": "39607008", "meaning": "Lung"}}
    codes = sw.parse_terminology(sw.terminology_from_card(card))
    assert codes["type"] == ("SCT", "126713003", "Neoplasm of lung")
    assert codes["region"] == ("SCT", "39607008", "Lung")
    assert sw.parse_terminology(sw.terminology_from_card(None))["type"][1] == "108369006"
    assert sw.parse_terminology(sw.terminology_from_card({"type": {}}))["type"][1] == "108369006"


def test_show_in_3d_adds_and_removes_the_closed_surface_after_a_run(slicer_env):
    """The "Show 3D" box acts on the current output at once, leaving the labelmap as it is."""
    import slicer

    from LungTumorSegLib import segmentation_writer as sw

    ct, lab, _ = _ct_and_labels()
    ct_node = senv.add_volume_from_image(slicer_env.scene, ct)
    node = _write(slicer_env, ct_node, lab, show3d=False).segmentation_node
    seg = node.GetSegmentation()
    voxels = [int(slicer.util.arrayFromSegmentBinaryLabelmap(node, s, ct_node).sum()) for s in seg.GetSegmentIDs()]
    assert not seg.ContainsRepresentation("Closed surface")
    sw.show_in_3d(node, True)
    assert seg.ContainsRepresentation("Closed surface")
    assert all(seg.GetSegment(s).GetRepresentation("Closed surface").GetNumberOfPoints() > 0
               for s in seg.GetSegmentIDs())
    sw.show_in_3d(node, False)
    assert not seg.ContainsRepresentation("Closed surface")
    assert [int(slicer.util.arrayFromSegmentBinaryLabelmap(node, s, ct_node).sum())
            for s in seg.GetSegmentIDs()] == voxels


def test_lesion_colours_stay_distinct_beyond_the_palette():
    """A case with many lesions (metastases) gets one colour per lesion, not a repeat every 16;
    colours are multiples of 1/255 so that they survive .seg.nrrd exactly."""
    from LungTumorSegLib import segmentation_writer as sw

    colours = [sw.lesion_color(i) for i in range(100)]
    assert len(set(colours)) == 100
    assert colours[:len(sw.PALETTE_255)] == [tuple(c / 255.0 for c in rgb) for rgb in sw.PALETTE_255]
    for colour in colours:
        assert all(0.0 <= c <= 1.0 and abs(c * 255 - round(c * 255)) < 1e-9 for c in colour)


def test_lesion_terminology_is_one_standard_entry_in_card_and_segments():
    """The demo card, new cards and the segments all name a lesion with the same codes: a
    segmentation type of DICOM CID 7159 (Neoplasm), region Lung, not a disorder concept."""
    pytest.importorskip("slicer")
    import json

    from LungTumorSegLib import model_packages
    from LungTumorSegLib import segmentation_writer as sw
    from lungtumorseg import terminology

    assert terminology.LESION_TYPE == ("SCT", "108369006", "Neoplasm")
    card = json.loads((model_packages.DEMO_PACKAGE / "model.json").read_text())
    assert card["labels"]["1"]["terminology"] == terminology.LESION_TERMINOLOGY
    from_card = sw.parse_terminology(sw.terminology_from_card(card["labels"]["1"]["terminology"]))
    default = sw.parse_terminology(sw.terminology_string())
    assert from_card == default
    assert default["category"] == ("SCT", "49755003", "Morphologically Altered Structure")
    assert default["region"] == ("SCT", "39607008", "Lung")
