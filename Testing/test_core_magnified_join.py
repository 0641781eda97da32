"""The magnified look's join after the judgement (``lungtumorseg.magnify.join_touching``, card
option ``magnified_look.join_touching``): which voxels a lesion takes in, that it never decides
which lesions exist, that ``relabel`` (probability and percent maps), the pipeline and the CLI
all apply it alike, and that a run whose lesions were joined is not re-labelled without the
map. Real SimpleITK images, real (seeded random-weight) UNETR and MONAI ``Classifier``
networks for the pipeline and CLI runs."""

from __future__ import annotations

import json

import numpy as np
import pytest
import SimpleITK as sitk

from core_fixtures import package_copy, phantom, with_magnified_look  # noqa: F401  (fixtures)
from lungtumorseg.errors import ModelPackageError
from lungtumorseg.magnify import CARD_SECTION, MagnifiedLook, join_touching
from lungtumorseg.models import CARD_FILE, load_package
from lungtumorseg.pipeline import SegmentOptions, segment
from lungtumorseg.postprocess import LesionFilter
from lungtumorseg.relabel import (MAGNIFIED_JOIN_KEY, MeasureContext, lesions_from_percent, lesions_from_probability,
                                  probability_to_percent)
from test_core_cli import run_cli


def _labels(array: np.ndarray, spacing=(0.7, 0.8, 2.0)) -> sitk.Image:
    image = sitk.GetImageFromArray(array.astype(np.uint16))
    image.SetSpacing(spacing)
    image.SetOrigin((10.0, -20.0, 30.0))
    return image


def test_each_lesion_takes_in_the_components_touching_it_and_nothing_else():
    lab = np.zeros((10, 12, 24), np.uint16)
    lab[2:5, 2:5, 2:5] = 1  # 27 voxels
    lab[2:4, 2:4, 14:16] = 2  # 8 voxels
    above = np.zeros(lab.shape, bool)
    above[2:5, 2:5, 5:9] = True  # shares a face with lesion 1: 36 voxels join it
    above[2:4, 2:4, 10:14] = True  # shares a face with lesion 2: 16 voxels join it
    above[7:9, 8:10, 8:10] = True  # touches nothing: no new lesion
    above[3, 3, 3] = True  # inside lesion 1 already: nothing changes there
    before_lab, before_above = lab.copy(), above.copy()
    out = sitk.GetArrayFromImage(join_touching(_labels(lab), above))
    assert out.dtype == np.uint16
    assert np.bincount(out.ravel()).tolist() == [lab.size - 27 - 36 - 8 - 16, 27 + 36, 8 + 16]
    assert (out[2:5, 2:5, 2:9] == 1).all() and (out[2:4, 2:4, 10:16] == 2).all()
    assert (out[7:9, 8:10, 8:10] == 0).all()
    np.testing.assert_array_equal(lab, before_lab)
    np.testing.assert_array_equal(above, before_above)


def test_a_joined_lesion_is_renumbered_by_its_new_volume_and_a_shared_component_joins_the_larger():
    lab = np.zeros((8, 10, 30), np.uint16)
    lab[2:5, 2:5, 2:5] = 1  # 27 voxels, the larger
    lab[2:4, 2:4, 20:22] = 2  # 8 voxels
    above = np.zeros(lab.shape, bool)
    above[2:4, 2:4, 22:29] = True  # 28 voxels join lesion 2: now 36 > 27, it becomes lesion 1
    bridge = np.zeros(lab.shape, bool)
    bridge[3, 3, 5:20] = True  # one component touching both lesions: it joins the larger (first) one
    grown = sitk.GetArrayFromImage(join_touching(_labels(lab), above))
    assert (grown[2:4, 2:4, 20:29] == 1).all() and (grown[2:5, 2:5, 2:5] == 2).all()
    shared = sitk.GetArrayFromImage(join_touching(_labels(lab), bridge))
    assert (shared[3, 3, 2:20] == 1).all() and (shared[2:4, 2:4, 20:22] == 2).all()
    assert sorted(np.unique(shared)) == [0, 1, 2], "two lesions are never merged into one"


def test_a_halo_around_a_small_lesion_that_grazes_a_large_one_stays_with_the_small_one():
    lab = np.zeros((8, 12, 30), np.uint16)
    lab[2:6, 2:6, 2:6] = 1  # 64 voxels, the larger
    lab[3:5, 4:6, 12:14] = 2  # 8 voxels
    halo = np.zeros(lab.shape, bool)
    halo[2:6, 3:7, 6:16] = True  # wraps lesion 2; grazes lesion 1 at x = 6 (one face row only)
    out = sitk.GetArrayFromImage(join_touching(_labels(lab), halo))
    assert (out[3:5, 4:6, 12:14] == out[2, 3, 10]).all() and out[2, 3, 10] != out[3, 3, 3]
    assert (out[2:6, 2:6, 2:6] == out[3, 3, 3]).all()


def test_a_map_on_another_grid_is_refused():
    with pytest.raises(ValueError, match="not on the same grid"):
        join_touching(_labels(np.ones((4, 4, 4))), np.ones((4, 4, 5), bool))


def _ct_and_maps() -> tuple[sitk.Image, np.ndarray, np.ndarray]:
    """A 1.5 mm lung CT with a 24 mm ground-glass ball (-500 HU); the normal map marks only its
    core, the magnified map the whole ball plus a detached blob elsewhere."""
    z, y, x = np.indices((40, 50, 50))
    ball = (z - 20) ** 2 + (y - 20) ** 2 + (x - 20) ** 2 <= 64
    core = (z - 20) ** 2 + (y - 20) ** 2 + (x - 20) ** 2 <= 9
    blob = (z - 20) ** 2 + (y - 40) ** 2 + (x - 40) ** 2 <= 9
    ct = np.full(ball.shape, -850.0, np.float32)
    ct[ball] = -500.0
    image = sitk.GetImageFromArray(ct)
    image.SetSpacing((1.5, 1.5, 1.5))
    normal = np.where(core, 0.9, 0.02).astype(np.float32)
    magnified = np.where(ball | blob, 0.8, 0.03).astype(np.float32)
    return image, normal, magnified


def _as_image(array: np.ndarray, like: sitk.Image) -> sitk.Image:
    image = sitk.GetImageFromArray(array)
    image.CopyInformation(like)
    return image


def test_relabelling_joins_only_with_the_magnified_map_and_percent_maps_give_the_same_lesions():
    image, normal, magnified = _ct_and_maps()
    rule = LesionFilter(min_lesion_mm3=30.0)
    plain, plain_lesions = lesions_from_probability(_as_image(normal, image), image, 0.45, rule)
    joined, joined_lesions = lesions_from_probability(_as_image(normal, image), image, 0.45, rule,
                                                      magnified=_as_image(magnified, image))
    core = normal >= 0.45
    ball = (magnified >= 0.45) & (np.indices(normal.shape)[2] < 30)
    assert len(plain_lesions) == len(joined_lesions) == 1, "the join decides no lesion (the blob is not one)"
    np.testing.assert_array_equal(sitk.GetArrayFromImage(plain) > 0, core)
    np.testing.assert_array_equal(sitk.GetArrayFromImage(joined) > 0, ball)
    assert joined_lesions[0].volume_mm3 == pytest.approx(ball.sum() * 1.5 ** 3)
    assert joined_lesions[0].joined_ml == pytest.approx((ball.sum() - core.sum()) * 1.5 ** 3 / 1000, abs=1e-4)
    assert plain_lesions[0].joined_ml is None
    assert "mL of it added by the magnified look" in joined_lesions[0].summary()
    percent, _ = lesions_from_percent(probability_to_percent(_as_image(normal, image)), image, 0.45, rule,
                                      magnified_percent=probability_to_percent(_as_image(magnified, image)))
    np.testing.assert_array_equal(sitk.GetArrayFromImage(percent), sitk.GetArrayFromImage(joined))
    other = sitk.GetImageFromArray(magnified[:, :, :-1])
    with pytest.raises(ValueError, match="magnified look's map and the CT image are not on the same voxel grid"):
        lesions_from_probability(_as_image(normal, image), image, 0.45, rule, magnified=other)


def test_the_card_option_is_read_written_and_refused_when_not_true_or_false(package_copy):  # noqa: F811
    assert MagnifiedLook.from_card({"zoom": 1.5, "cutoff": 0.9}).join_touching is False
    look = MagnifiedLook.from_card({"zoom": 1.5, "cutoff": 0.9, "join_touching": True})
    assert look.join_touching and MagnifiedLook.from_card(look.to_card()) == look
    with_magnified_look(package_copy, join=True)
    assert load_package(package_copy).card.magnified_look.join_touching
    raw = json.loads((package_copy / CARD_FILE).read_text())
    raw[CARD_SECTION]["join_touching"] = "yes"
    (package_copy / CARD_FILE).write_text(json.dumps(raw))
    with pytest.raises(ModelPackageError, match="join_touching must be true or false, got 'yes'"):
        load_package(package_copy)


def test_the_pipeline_and_the_cli_join_as_relabel_does_and_relabel_needs_the_map(package_copy, tmp_path):  # noqa: F811
    case = phantom(2)
    options = SegmentOptions(threads=1, threshold=0.62, min_lesion_mm3=30.0)
    # the card's classifier keeps every normal candidate and the look confirms every one of its own
    package = load_package(with_magnified_look(package_copy, zoom=1.5, cutoff=0.0, check_cutoff=0.0, join=True))
    result = segment(case.image, package, options)
    report = result.report("case", package)
    assert report["postprocessing"][MAGNIFIED_JOIN_KEY] is True and result.magnified_probability is not None
    rule = package.card.lesion_filter.overridden(min_lesion_mm3=30.0)
    context = MeasureContext.from_report(report)
    unjoined, unjoined_lesions = lesions_from_probability(result.probability, case.image, 0.62, rule, context,
                                                          package.candidate_check())
    rejoined, _ = lesions_from_probability(result.probability, case.image, 0.62, rule, context,
                                           package.candidate_check(), result.magnified_probability)
    labels = sitk.GetArrayFromImage(result.labels)
    np.testing.assert_array_equal(sitk.GetArrayFromImage(rejoined), labels)
    assert len(result.lesions) == len(unjoined_lesions) > 0, "the join keeps which lesions exist"
    before = sitk.GetArrayFromImage(unjoined) > 0
    assert (labels[before] > 0).all() and (labels > 0).sum() > before.sum(), \
        "the random-weight networks' magnified map must widen at least one lesion"
    # the CLI: predict writes the magnified map; relabel refuses the run without it and repeats it with it
    image_file = tmp_path / "ct.nrrd"
    sitk.WriteImage(case.image, str(image_file))
    out = {name: tmp_path / name for name in ("labels.nrrd", "report.json", "p.nrrd", "m.nrrd", "again.nrrd")}
    code, _, err = run_cli(["predict", image_file, "-o", out["labels.nrrd"], "--model", package_copy,
                            "--threshold", "0.62", "--min-lesion-mm3", "30", "--threads", "1",
                            "--report", out["report.json"], "--probabilities", out["p.nrrd"], "--probability-percent",
                            "--magnified-probabilities", out["m.nrrd"], "--progress", "none"])
    assert code == 0, err
    np.testing.assert_array_equal(sitk.GetArrayFromImage(sitk.ReadImage(str(out["labels.nrrd"]))), labels)
    assert sitk.ReadImage(str(out["m.nrrd"])).GetPixelID() == sitk.sitkUInt8
    relabel = ["relabel", image_file, out["p.nrrd"], "-o", out["again.nrrd"], "--run-report", out["report.json"],
               "--model", package_copy]
    code, _, err = run_cli(relabel)
    assert code != 0 and "give --magnified-probabilities" in err and not out["again.nrrd"].exists()
    code, _, err = run_cli(relabel + ["--magnified-probabilities", out["m.nrrd"]])
    assert code == 0, err
    np.testing.assert_array_equal(sitk.GetArrayFromImage(sitk.ReadImage(str(out["again.nrrd"]))), labels)
    code, _, err = run_cli(relabel + ["--no-magnified-join"])
    assert code == 0, err
    np.testing.assert_array_equal(sitk.GetArrayFromImage(sitk.ReadImage(str(out["again.nrrd"]))) > 0, before)
    # a map given for a run that did not join would change its lesions: refused
    unjoined_report = json.loads(out["report.json"].read_text())
    del unjoined_report["postprocessing"][MAGNIFIED_JOIN_KEY]
    (tmp_path / "unjoined.json").write_text(json.dumps(unjoined_report))
    code, _, err = run_cli(["relabel", image_file, out["p.nrrd"], "-o", tmp_path / "refused.nrrd", "--run-report",
                            tmp_path / "unjoined.json", "--model", package_copy, "--magnified-probabilities", out["m.nrrd"]])
    assert code != 0 and "did not join the magnified look's components" in err
    assert not (tmp_path / "refused.nrrd").exists()
    code, _, err = run_cli(["predict", image_file, "-o", tmp_path / "x.nrrd", "--model", package_copy,
                            "--no-magnified-look", "--magnified-probabilities", tmp_path / "y.nrrd"])
    assert code != 0 and "the magnified look does not run (--no-magnified-look given)" in err
    assert not (tmp_path / "x.nrrd").exists()


def test_the_map_cache_keeps_the_magnified_map_beside_the_probability_map(tmp_path):
    from lungtumorseg.evaluation.probability_cache import cached_magnified, store_probability

    image, normal, magnified = _ct_and_maps()
    store_probability(tmp_path, "lung_000", "key", normal, (0.0, 50.0), (), _as_image(magnified, image))
    store_probability(tmp_path, "lung_001", "key", normal, (0.0, 50.0))
    np.testing.assert_array_equal(cached_magnified(tmp_path, "lung_000", "key"),
                                  magnified.astype(np.float16).astype(np.float32))
    assert cached_magnified(tmp_path, "lung_001", "key") is None
    assert cached_magnified(tmp_path, "lung_002", "key") is None


def _classifier_check(cutoff: float = 0.0):
    from core_fixtures import TEST_CLASSIFIER, classifier_state
    from lungtumorseg.candidate_check import CandidateCheck, build_classifier

    net = build_classifier(TEST_CLASSIFIER)
    net.load_state_dict(classifier_state())
    return CandidateCheck(net.eval(), cutoff)


def test_scores_and_found_by_follow_each_lesion_when_the_join_renumbers_them():
    """Lesion A is larger as judged, B larger once joined: the final numbers swap, and each
    lesion keeps its own candidate score, "found by" and added volume."""
    image, _, _ = _ct_and_maps()
    z, y, x = np.indices((40, 50, 50))
    a = (z - 20) ** 2 + (y - 12) ** 2 + (x - 12) ** 2 <= 16  # radius 4
    b = (z - 20) ** 2 + (y - 36) ** 2 + (x - 36) ** 2 <= 9  # radius 3
    halo = (z - 20) ** 2 + (y - 36) ** 2 + (x - 36) ** 2 <= 49  # radius 7 around b
    normal = np.where(a | b, 0.9, 0.02).astype(np.float32)
    magnified = np.where(halo, 0.8, 0.03).astype(np.float32)
    point = image.TransformIndexToPhysicalPoint((36, 36, 20)) + (0.97,)
    context = MeasureContext(confirmed_lps=(point,))
    rule = LesionFilter(min_lesion_mm3=30.0)
    check = _classifier_check()
    judged, judged_lesions = lesions_from_probability(_as_image(normal, image), image, 0.45, rule, context, check)
    joined, joined_lesions = lesions_from_probability(_as_image(normal, image), image, 0.45, rule, context, check,
                                                      _as_image(magnified, image))
    before, after = sitk.GetArrayFromImage(judged), sitk.GetArrayFromImage(joined)
    assert before[20, 12, 12] == 1 and before[20, 36, 36] == 2
    assert after[20, 36, 36] == 1 and after[20, 12, 12] == 2, "the joined lesion is now the larger"
    by_label = {lesion.label: lesion for lesion in judged_lesions}
    new = {lesion.label: lesion for lesion in joined_lesions}
    assert new[1].candidate_score == by_label[2].candidate_score and new[2].candidate_score == by_label[1].candidate_score
    assert new[1].found_by == by_label[2].found_by == "magnified look"
    assert new[2].found_by == by_label[1].found_by == "zone networks"
    assert new[1].joined_ml == pytest.approx((halo.sum() - b.sum()) * 1.5 ** 3 / 1000, abs=1e-4)
    assert new[2].joined_ml == 0.0


def test_a_point_the_join_takes_in_does_not_make_a_lesion_found_by_the_look():
    """A confirmed candidate a limit removed (here a larger minimum volume) sits next to a lesion
    of the zone networks; the magnified component bridging the two joins it to that lesion, which
    still says it was found by the zone networks."""
    image, _, _ = _ct_and_maps()
    z, y, x = np.indices((40, 50, 50))
    a = (z - 20) ** 2 + (y - 20) ** 2 + (x - 20) ** 2 <= 25
    small = (z == 20) & (y == 20) & (x >= 28) & (x <= 29)
    normal = np.where(a | small, 0.9, 0.02).astype(np.float32)
    bridge = a | small | ((z == 20) & (y == 20) & (x >= 20) & (x <= 29))
    magnified = np.where(bridge, 0.8, 0.03).astype(np.float32)
    point = image.TransformIndexToPhysicalPoint((29, 20, 20)) + (0.99,)
    context = MeasureContext(confirmed_lps=(point,))
    rule = LesionFilter(min_lesion_mm3=100.0)  # drops the 2-voxel candidate
    labels, lesions = lesions_from_probability(_as_image(normal, image), image, 0.45, rule, context,
                                               _classifier_check(), _as_image(magnified, image))
    assert len(lesions) == 1 and sitk.GetArrayFromImage(labels)[20, 20, 29] == 1, "the join took the point in"
    assert lesions[0].found_by == "zone networks"


def test_a_ct_without_lungs_writes_an_empty_magnified_map(package_copy, tmp_path):  # noqa: F811
    from core_fixtures import real_data

    with_magnified_look(package_copy, join=True)
    abdomen = real_data("abdomen_ct_3mm.nii.gz")
    code, _, err = run_cli(["predict", abdomen, "-o", tmp_path / "l.nrrd", "--model", package_copy, "--threads", "1",
                            "--magnified-probabilities", tmp_path / "m.nrrd", "--progress", "none"])
    assert code == 0, err
    written, ct = sitk.ReadImage(str(tmp_path / "m.nrrd")), sitk.ReadImage(str(abdomen))
    assert written.GetSize() == ct.GetSize() and not sitk.GetArrayViewFromImage(written).any()
