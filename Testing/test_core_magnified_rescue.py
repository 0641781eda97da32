"""The magnified look's rescue of rejected candidates (``lungtumorseg.rescue``, card option
``magnified_look.rescue_rejected``): which candidates it reviews, that the look's cut-off decides,
that the kept lesion says so, and that ``relabel`` (probability and percent maps), the pipeline
and the CLI all do it alike. Real SimpleITK images and real (seeded random-weight) MONAI
``Classifier`` and UNETR networks; cut-offs set around the scores the networks give."""

from __future__ import annotations

import json

import numpy as np
import pytest
import SimpleITK as sitk

from core_fixtures import TEST_CLASSIFIER, classifier_state, package_copy, phantom, with_magnified_look  # noqa: F401
from lungtumorseg.candidate_check import CandidateCheck, build_classifier
from lungtumorseg.errors import ModelPackageError
from lungtumorseg.magnify import MagnifiedLook
from lungtumorseg.measure import MAGNIFIED, RESCUED
from lungtumorseg.models import load_package
from lungtumorseg.pipeline import SegmentOptions, segment
from lungtumorseg.postprocess import LesionFilter
from lungtumorseg.relabel import (MAGNIFIED_RESCUE_KEY, MeasureContext, lesions_from_percent, lesions_from_probability,
                                  probability_to_percent)
from lungtumorseg.rescue import joined_candidate
from test_core_cli import run_cli

RULE = LesionFilter(min_lesion_mm3=30.0)


def _check(cutoff: float, seed: int = 1) -> CandidateCheck:
    net = build_classifier(TEST_CLASSIFIER)
    net.load_state_dict(classifier_state(seed))
    return CandidateCheck(net.eval(), cutoff)


def _image(array: np.ndarray, like: sitk.Image | None = None) -> sitk.Image:
    image = sitk.GetImageFromArray(array)
    if like is None:
        image.SetSpacing((1.5, 1.5, 1.5))
        image.SetOrigin((-30.0, 12.0, 40.0))
    else:
        image.CopyInformation(like)
    return image


def _scene():
    """A lung CT with a 24 mm ground-glass ball whose core the normal map marks, and a solid
    blob the normal map marks that the magnified map does not touch; the magnified map marks
    the whole ball."""
    z, y, x = np.indices((40, 50, 50))
    ball = (z - 20) ** 2 + (y - 20) ** 2 + (x - 20) ** 2 <= 64
    core = (z - 20) ** 2 + (y - 20) ** 2 + (x - 20) ** 2 <= 9
    blob = (z - 20) ** 2 + (y - 40) ** 2 + (x - 40) ** 2 <= 9
    ct = np.full(ball.shape, -850.0, np.float32)
    ct[ball] = -500.0
    ct[blob] = 20.0
    image = _image(ct)
    normal = _image(np.where(core | blob, 0.9, 0.02).astype(np.float32), image)
    magnified = _image(np.where(ball, 0.8, 0.03).astype(np.float32), image)
    return image, normal, magnified, ball, blob


def test_a_candidate_is_joined_with_the_components_overlapping_or_touching_it_only():
    candidate = np.zeros((6, 6, 12), bool)
    candidate[2:4, 2:4, 2:4] = True
    components = np.zeros(candidate.shape, np.int32)
    components[2:4, 2:4, 4:6] = 1  # shares a face
    components[3, 3, 3] = 2  # overlaps
    components[2:4, 2:4, 8:10] = 3  # apart
    joined = joined_candidate(candidate, components)
    assert joined.sum() == 8 + 8 and joined[2:4, 2:4, 2:6].all() and not joined[..., 8:].any()
    components[components < 3] = 0
    assert joined_candidate(candidate, components) is None


def test_the_looks_cut_off_decides_which_rejected_candidate_is_kept_and_it_says_so():
    image, normal, magnified, ball, blob = _scene()
    reject_all = _check(1.0)  # a sigmoid never reaches 1: the card's classifier rejects every candidate
    look_probe = _check(0.0, seed=7)
    assert lesions_from_probability(normal, image, 0.45, RULE, check=reject_all, magnified=magnified)[1] == []
    # the look's score of the core joined with the ball, as the look's classifier gives it
    score = look_probe.scores(_image(ball.astype(np.uint8), image), image, magnified)[1]
    labels, lesions = lesions_from_probability(normal, image, 0.45, RULE, check=reject_all, magnified=magnified,
                                               rescue=_check(score, seed=7))
    assert len(lesions) == 1, "the blob the magnified map does not touch stays rejected"
    np.testing.assert_array_equal(sitk.GetArrayFromImage(labels) > 0, ball)
    assert lesions[0].found_by == RESCUED and lesions[0].candidate_score == pytest.approx(score)
    assert "kept by the magnified look after the candidate check rejected it" in lesions[0].summary()
    above = _check(min(score + 1e-6, 0.999999), seed=7)
    assert lesions_from_probability(normal, image, 0.45, RULE, check=reject_all, magnified=magnified,
                                    rescue=above)[1] == []
    # percent maps (as relabel and "Update lesions" keep them) give the same lesion
    percent, percent_lesions = lesions_from_percent(probability_to_percent(normal), image, 0.45, RULE,
                                                    check=reject_all,
                                                    magnified_percent=probability_to_percent(magnified),
                                                    rescue=_check(score, seed=7))
    np.testing.assert_array_equal(sitk.GetArrayFromImage(percent), sitk.GetArrayFromImage(labels))
    assert percent_lesions[0].found_by == RESCUED


def test_kept_candidates_are_not_reviewed_and_without_a_check_nothing_is_rescued():
    image, normal, magnified, ball, blob = _scene()
    keep_all = _check(0.0)
    labels, lesions = lesions_from_probability(normal, image, 0.45, RULE, check=keep_all, magnified=magnified,
                                               rescue=_check(0.0, seed=7))
    assert sorted(lesion.found_by for lesion in lesions) == ["zone networks", "zone networks"]
    plain, _ = lesions_from_probability(normal, image, 0.45, RULE, check=keep_all, magnified=magnified)
    np.testing.assert_array_equal(sitk.GetArrayFromImage(labels), sitk.GetArrayFromImage(plain))
    # the rescue reviews a classifier's rejections on the magnified map: without either, refused
    with pytest.raises(ValueError, match="it needs the classifier and the magnified map"):
        lesions_from_probability(normal, image, 0.45, RULE, magnified=magnified, rescue=_check(0.0, seed=7))
    with pytest.raises(ValueError, match="it needs the classifier and the magnified map"):
        lesions_from_percent(probability_to_percent(normal), image, 0.45, RULE, check=_check(1.0),
                             rescue=_check(0.0, seed=7))


def test_a_fragment_is_not_judged_by_the_magnified_component_of_the_lesion_beside_it():
    """A kept lesion and a rejected fragment beside it, both inside one magnified component:
    the component belongs to the kept lesion, so the fragment is not reviewed with it and stays
    rejected; the lesion takes the component in."""
    z, y, x = np.indices((30, 40, 40))
    kept = (z - 15) ** 2 + (y - 15) ** 2 + (x - 15) ** 2 <= 16  # radius 4
    fragment = (z == 15) & (y == 15) & (x >= 21) & (x <= 24)  # 4 voxels, 2 voxels from the lesion
    slab = (np.abs(z - 15) <= 5) & (np.abs(y - 15) <= 5) & (x >= 10) & (x <= 26)
    image = _image(np.where(slab, -500.0, -850.0).astype(np.float32))
    normal = _image(np.where(kept | fragment, 0.9, 0.02).astype(np.float32), image)
    magnified = _image(np.where(slab, 0.8, 0.03).astype(np.float32), image)
    # the card's classifier rejects both; the lesion is kept as a candidate the look confirmed
    point = image.TransformIndexToPhysicalPoint((15, 15, 15)) + (0.97,)
    out, lesions = lesions_from_probability(normal, image, 0.45, LesionFilter(min_lesion_mm3=1.0),
                                            MeasureContext(confirmed_lps=(point,)), check=_check(0.999999),
                                            magnified=magnified, rescue=_check(0.0, seed=7))
    assert [lesion.found_by for lesion in lesions] == [MAGNIFIED]
    np.testing.assert_array_equal(sitk.GetArrayFromImage(out) > 0, slab | kept)


def test_the_card_option_needs_the_join_and_is_read_and_written(package_copy):  # noqa: F811
    look = MagnifiedLook.from_card({"zoom": 1.5, "cutoff": 0.9, "join_touching": True, "rescue_rejected": True})
    assert look.rescue_rejected and MagnifiedLook.from_card(look.to_card()) == look
    assert MagnifiedLook(join_touching=True).to_card()["rescue_rejected"] is False
    with pytest.raises(ValueError, match="rescue_rejected needs join_touching"):
        MagnifiedLook(rescue_rejected=True)
    with pytest.raises(ValueError, match="rescue_rejected must be true or false, got 1"):
        MagnifiedLook(join_touching=True, rescue_rejected=1)
    with pytest.raises(ModelPackageError, match="rescue_rejected needs join_touching"):
        load_package(with_magnified_look(package_copy, rescue=True))


def test_the_pipeline_and_the_cli_rescue_as_relabel_does(package_copy, tmp_path):  # noqa: F811
    case = phantom(2)
    # the card's classifier rejects every normal candidate, the look's keeps whatever it reviews
    package = load_package(with_magnified_look(package_copy, zoom=1.5, cutoff=0.0, check_cutoff=0.999999, own=True,
                                               join=True, rescue=True))
    options = SegmentOptions(threads=1, threshold=0.62, min_lesion_mm3=30.0)
    result = segment(case.image, package, options)
    report = result.report("case", package)
    assert report["postprocessing"][MAGNIFIED_RESCUE_KEY] == 0.0
    rescued = [lesion for lesion in result.lesions if lesion.found_by == RESCUED]
    assert rescued, "the random-weight networks' magnified map must touch a rejected normal candidate"
    assert "kept by the magnified look after the candidate check rejected" in result.message
    image_file = tmp_path / "ct.nrrd"
    sitk.WriteImage(case.image, str(image_file))
    out = {name: tmp_path / name for name in ("labels.nrrd", "report.json", "p.nrrd", "m.nrrd", "again.nrrd")}
    code, _, err = run_cli(["predict", image_file, "-o", out["labels.nrrd"], "--model", package_copy,
                            "--threshold", "0.62", "--min-lesion-mm3", "30", "--threads", "1",
                            "--report", out["report.json"], "--probabilities", out["p.nrrd"], "--probability-percent",
                            "--magnified-probabilities", out["m.nrrd"], "--progress", "none"])
    assert code == 0, err
    labels = sitk.GetArrayFromImage(result.labels)
    np.testing.assert_array_equal(sitk.GetArrayFromImage(sitk.ReadImage(str(out["labels.nrrd"]))), labels)
    relabel = ["relabel", image_file, out["p.nrrd"], "-o", out["again.nrrd"], "--run-report", out["report.json"],
               "--model", package_copy, "--report", tmp_path / "again.json"]
    code, _, err = run_cli(relabel + ["--magnified-probabilities", out["m.nrrd"]])
    assert code == 0, err
    np.testing.assert_array_equal(sitk.GetArrayFromImage(sitk.ReadImage(str(out["again.nrrd"]))), labels)
    again = json.loads((tmp_path / "again.json").read_text())
    assert again["postprocessing"][MAGNIFIED_RESCUE_KEY] == 0.0
    # lesion by lesion: the same one rescued, with the same look score
    assert [(lesion["label"], lesion["found_by"]) for lesion in again["lesions"]] == \
        [(lesion.label, lesion.found_by) for lesion in result.lesions]
    assert [lesion["candidate_score"] for lesion in again["lesions"]] == \
        pytest.approx([lesion.candidate_score for lesion in result.lesions], abs=1e-6)
    # without a run report, --model's card decides, as in a predict with that package
    code, _, err = run_cli(["relabel", image_file, out["p.nrrd"], "-o", tmp_path / "bare.nrrd", "--model", package_copy,
                            "--threshold", "0.62", "--magnified-probabilities", out["m.nrrd"],
                            "--report", tmp_path / "bare.json"])
    assert code == 0, err
    assert json.loads((tmp_path / "bare.json").read_text())["postprocessing"][MAGNIFIED_RESCUE_KEY] == 0.0
    # without the magnified map there is no rescue: only the look's own confirmed candidates remain
    code, _, err = run_cli(relabel + ["--no-magnified-join"])
    assert code == 0, err
    plain = json.loads((tmp_path / "again.json").read_text())
    assert MAGNIFIED_RESCUE_KEY not in plain["postprocessing"]
    assert not any(lesion["found_by"] == RESCUED for lesion in plain["lesions"])
    assert len(plain["lesions"]) == len(result.lesions) - len(rescued)


def test_a_froc_scorer_keeps_at_every_cut_off_what_the_look_would_rescue():
    from lungtumorseg.rescue import scores_keeping_rescued

    image, normal, magnified, ball, blob = _scene()
    check = _check(0.5)
    # the candidates on a crop of the grid, as the FROC labels them
    index, size = [5, 5, 5], [40, 40, 30]
    crop = sitk.RegionOfInterest(sitk.Cast(sitk.ConnectedComponent(normal >= 0.45), sitk.sitkUInt16), size, index)
    plain = check.scores(crop, image, normal)
    lab = sitk.GetArrayFromImage(crop)
    core_label = int(lab[15, 15, 15])  # the ball's centre (20, 20, 20) in the crop
    blob_label = int(lab[15, 35, 35])
    assert {core_label, blob_label} == set(plain)
    kept = scores_keeping_rescued(check.scores, _check(0.0, seed=7), magnified, 0.45, 0.5, 1.0)(crop, image, normal)
    assert kept == {core_label: 1.0, blob_label: plain[blob_label]}
    strict = scores_keeping_rescued(check.scores, _check(0.999999, seed=7), magnified, 0.45, 0.5, 1.0)(crop, image,
                                                                                                     normal)
    assert strict == plain
