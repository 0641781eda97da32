"""The magnified second look (``lungtumorseg.magnify``, ``lungtumorseg.network_pass``): which
candidates only the magnified map offers, what the candidate classifier's confirmation adds to
the map, the look's card section and its refusals, the magnified pass landing on the input
grid, and the pipeline running the look (and not, when asked). Real UNETR and MONAI
``Classifier`` networks with seeded random weights, real SimpleITK images; one test replaces
the UNETRs by the suite's 100 HU threshold network (``threshold_networks``, named as such) so
where the map must be is known."""

from __future__ import annotations

import json

import numpy as np
import pytest
import SimpleITK as sitk
import torch

from core_fixtures import (  # noqa: F401  (fixtures)
    TEST_CLASSIFIER, classifier_state, package_copy, phantom, shared_package_dir, threshold_networks,
    with_magnified_look)
from lungtumorseg.candidate_check import CandidateCheck, build_classifier, with_cutoff
from lungtumorseg.errors import ModelPackageError
from lungtumorseg.evaluation.probability_cache import cache_key, cached_confirmed, store_probability
from lungtumorseg.magnify import CARD_SECTION, MagnifiedLook, add_confirmed, magnified_only_candidates
from lungtumorseg.models import CARD_FILE, load_package
from lungtumorseg.magnify import KEPT_AT_ANY_CUTOFF, ConfirmedCheck, scores_keeping_confirmed
from lungtumorseg.models.package import attach_magnified_look
from lungtumorseg.relabel import MeasureContext, lesions_from_percent, lesions_from_probability, probability_to_percent
from lungtumorseg.network_pass import network_pass
from lungtumorseg.pipeline import SegmentOptions, segment
from lungtumorseg.progress import ProgressSpan
from lungtumorseg.zones import ZoneSpec

def test_only_components_the_normal_map_does_not_touch_and_large_enough_are_candidates():
    normal = np.zeros((20, 20, 20), np.float32)
    magnified = np.zeros_like(normal)
    magnified[2:6, 2:6, 2:6] = 0.9  # 64 voxels, alone: a candidate
    magnified[10:14, 10:14, 10:14] = 0.8  # 64 voxels, touched by the normal map below: not one
    normal[13, 13, 13] = 0.6
    magnified[16:18, 2:4, 2:4] = 0.9  # 8 voxels: too small
    magnified[2:6, 14:18, 14:18] = 0.7  # 64 voxels, alone: a candidate
    magnified[2:6, 14:18, 10] = 0.3  # below the threshold: not part of anything
    magnified[10:14, 2:6, 2:6] = 0.9  # 64 voxels sharing a face with the normal component below: not one
    normal[14, 3, 3] = 0.7
    labels = magnified_only_candidates(magnified, normal, 0.5, min_voxels=10)
    assert labels.dtype == np.int32 and sorted(np.unique(labels)) == [0, 1, 2]
    assert (labels[2:6, 2:6, 2:6] > 0).all() and (labels[2:6, 14:18, 14:18] > 0).all()
    assert labels[2, 2, 2] != labels[2, 14, 14]
    assert (labels > 0).sum() == 128
    assert not magnified_only_candidates(np.zeros_like(normal), normal, 0.5, 1).any()


def _ct_with_two_balls() -> tuple[sitk.Image, np.ndarray, np.ndarray]:
    """A 1.5 mm CT of lung (-850 HU) with a 9 mm ball of 30 HU and a 12 mm one of -300 HU, a
    normal map that sees neither and a magnified map that sees both."""
    z, y, x = np.indices((40, 60, 60))
    ct = np.full((40, 60, 60), -850.0, np.float32)
    magnified = np.full(ct.shape, 0.02, np.float32)
    for centre, r2, hu in (((20, 20, 18), 9, 30.0), ((20, 40, 42), 16, -300.0)):
        ball = (z - centre[0]) ** 2 + (y - centre[1]) ** 2 + (x - centre[2]) ** 2 <= r2
        ct[ball] = hu
        magnified[ball] = 0.95
    image = sitk.GetImageFromArray(ct)
    image.SetSpacing((1.5, 1.5, 1.5))
    image.SetOrigin((-40.0, 10.0, 100.0))
    return image, np.full(ct.shape, 0.05, np.float32), magnified


def test_confirmed_candidates_take_the_magnified_values_and_nothing_else_changes():
    image, normal, magnified = _ct_with_two_balls()
    net = build_classifier(TEST_CLASSIFIER)
    net.load_state_dict(classifier_state())
    check = CandidateCheck(net.eval(), 0.5)
    normal_before, magnified_before = normal.copy(), magnified.copy()
    everything = add_confirmed(normal, magnified, image, 0.5, 30.0, check, MagnifiedLook(1.5, 0.0))
    assert len(everything.scores) == 2 and everything.confirmed == {1, 2}
    inside = everything.candidates > 0
    np.testing.assert_array_equal(everything.probability[inside], magnified[inside])
    np.testing.assert_array_equal(everything.probability[~inside], normal[~inside])
    # a cut-off between the two scores confirms exactly the higher one
    low, high = sorted(everything.scores.values())
    assert low < high, "the seeded classifier must score the two balls differently"
    between = add_confirmed(normal, magnified, image, 0.5, 30.0, check, MagnifiedLook(1.5, (low + high) / 2))
    winner = max(between.scores, key=between.scores.get)
    assert between.confirmed == {winner}
    changed = between.probability != normal
    assert changed.any() and (between.candidates[changed] == winner).all()
    # a minimum volume above the balls' leaves no candidate and the normal map as it was
    none = add_confirmed(normal, magnified, image, 0.5, 1e5, check, MagnifiedLook(1.5, 0.0))
    assert none.scores == {} and np.array_equal(none.probability, normal)
    np.testing.assert_array_equal(normal, normal_before)
    np.testing.assert_array_equal(magnified, magnified_before)


@pytest.mark.parametrize("section, match", [
    ({"zoom": 1.0, "cutoff": 0.9}, "zoom must be above 1"),
    ({"zoom": 4.0, "cutoff": 0.9}, "at most 3, got 4"),
    ({"zoom": 1.5, "cutoff": 1.0}, "cut-off must be in"),
    ({"cutoff": 0.9}, "needs a zoom and a cutoff, got"),
    ({}, "needs a zoom and a cutoff, got"),
    ("on", "needs a zoom and a cutoff, got 'on'"),
    ({"zoom": 1.5, "cutoff": 0.9, "network": TEST_CLASSIFIER}, "lists no weights"),
])
def test_a_card_with_a_broken_magnified_look_is_refused(package_copy, section, match):  # noqa: F811
    with_magnified_look(package_copy)
    raw = json.loads((package_copy / CARD_FILE).read_text())
    raw[CARD_SECTION] = section
    (package_copy / CARD_FILE).write_text(json.dumps(raw))
    with pytest.raises(ModelPackageError, match=match):
        load_package(package_copy)


def test_a_look_without_a_candidate_classifier_is_refused_and_a_complete_one_is_read(package_copy):  # noqa: F811
    plain = load_package(package_copy)
    assert plain.card.magnified_look is None and plain.magnified_check() is None
    card_before = (package_copy / CARD_FILE).read_text()
    with pytest.raises(ModelPackageError, match="candidate_check"):
        attach_magnified_look(package_copy, {"zoom": 1.5, "cutoff": 0.9})
    assert (package_copy / CARD_FILE).read_text() == card_before, "a refused look leaves the package as it was"
    assert not any(p.name.startswith(".tmp-") for p in package_copy.parent.iterdir())
    package = load_package(with_magnified_look(package_copy, zoom=2.0, cutoff=0.8))
    assert package.card.magnified_look == MagnifiedLook(2.0, 0.8)
    with pytest.raises(ValueError, match="both its weights and its network"):
        attach_magnified_look(package_copy, {"zoom": 1.5, "cutoff": 0.9}, classifier_state(7))
    # without a network of its own the look confirms with the candidate classifier, at its own cut-off
    check, look_check = package.candidate_check(), package.magnified_check()
    assert look_check.cutoff == 0.8 and look_check.network is check.network
    # its maps are not those of the same weights without the look
    check_sha = package.card.raw["weights"]["candidate_check"]["sha256"][:6]
    assert cache_key(package, []) == cache_key(plain, []) + f"-z2c0.8w{check_sha}"


def test_a_look_with_its_own_classifier_stores_checks_and_loads_it(package_copy):  # noqa: F811
    package = load_package(with_magnified_look(package_copy, cutoff=0.7, own=True))
    look_check = package.magnified_check()
    assert look_check.cutoff == 0.7 and look_check.network is not package.candidate_check().network
    for name, tensor in classifier_state(7).items():
        torch.testing.assert_close(look_check.network.state_dict()[name], tensor)
    package.verify_all()
    f = package_copy / f"{CARD_SECTION}.safetensors"
    data = bytearray(f.read_bytes())
    data[len(data) // 2] ^= 0x01
    f.write_bytes(bytes(data))
    with pytest.raises(ModelPackageError, match=f"{CARD_SECTION}.safetensors"):
        load_package(package_copy).verify_all()
    # attached again without a classifier of its own, the look's weights go with it
    f.write_bytes(bytes(data[:len(data) // 2] + bytearray([data[len(data) // 2] ^ 0x01]) + data[len(data) // 2 + 1:]))
    without = attach_magnified_look(package_copy, {"zoom": 1.5, "cutoff": 0.7})
    assert CARD_SECTION not in without.card.raw["weights"] and not f.exists()
    assert without.magnified_check().network is without.candidate_check().network
    with_magnified_look(package_copy, cutoff=0.7, own=True)
    raw = json.loads((package_copy / CARD_FILE).read_text())
    raw["weights"].pop(CARD_SECTION)
    (package_copy / CARD_FILE).write_text(json.dumps(raw))
    with pytest.raises(ModelPackageError, match="lists no weights"):
        load_package(package_copy)


def _check(cutoff: float) -> CandidateCheck:
    net = build_classifier(TEST_CLASSIFIER)
    net.load_state_dict(classifier_state())
    return CandidateCheck(net.eval(), cutoff)


def test_a_confirmed_candidate_is_kept_with_its_score_however_the_classifier_judges_it():
    image, normal, magnified = _ct_with_two_balls()
    probability = sitk.GetImageFromArray(magnified)
    probability.CopyInformation(image)
    labels = sitk.GetImageFromArray((magnified > 0.5).astype(np.uint32) * np.where(np.indices(magnified.shape)[2] < 30, 1, 2))
    labels.CopyInformation(image)
    inside_first = image.TransformIndexToPhysicalPoint((18, 20, 20))  # x, y, z of the first ball's centre
    strict = _check(1.0)  # rejects every candidate
    scores, rejected = strict.judge(labels, image, probability)
    assert rejected == {1, 2}
    confirmed = ConfirmedCheck(strict.network, 1.0, ((*inside_first, 0.97),))
    scores_c, rejected_c = confirmed.judge(labels, image, probability)
    assert rejected_c == {2} and scores_c[1] == pytest.approx(max(scores[1], 0.97)) and scores_c[2] == scores[2]
    # through the lesion labelling, from a context as a report carries it
    context = MeasureContext.from_report(MeasureContext(None, None, ((*inside_first, 0.97),)).to_dict())
    assert context.confirmed_lps == ((*inside_first, 0.97),)
    _, kept = lesions_from_probability(probability, image, 0.5, load_package(shared_package_dir()).card.lesion_filter
                                       .overridden(outline_growth=False), context, strict)
    _, none = lesions_from_probability(probability, image, 0.5, load_package(shared_package_dir()).card.lesion_filter
                                       .overridden(outline_growth=False), MeasureContext(), strict)
    assert len(kept) == 1 and kept[0].candidate_score == pytest.approx(max(scores[1], 0.97)) and none == []
    # a user's cut-off for the candidate classifier keeps the confirmed candidate all the same
    assert with_cutoff(confirmed, 0.2).judge(labels, image, probability)[1] <= {2}
    assert kept[0].found_by == "magnified look" and kept[0].summary().endswith("found by the magnified look")
    assert np.linalg.norm(np.subtract(kept[0].centroid_lps_mm, inside_first)) < 2.0


def test_a_froc_scores_a_confirmed_candidate_as_kept_at_every_cut_off_and_the_cache_keeps_its_point(tmp_path):
    image, _, magnified = _ct_with_two_balls()
    probability = sitk.GetImageFromArray(magnified)
    probability.CopyInformation(image)
    labels = sitk.GetImageFromArray((magnified > 0.5).astype(np.uint32) * np.where(np.indices(magnified.shape)[2] < 30, 1, 2))
    labels.CopyInformation(image)
    point = (*image.TransformIndexToPhysicalPoint((18, 20, 20)), 0.97)  # inside the first ball
    outside_grid = (1000.0, 1000.0, 1000.0, 0.99)
    check = _check(0.5)
    plain = check.scores(labels, image, probability)
    kept = scores_keeping_confirmed(check, (point, outside_grid))(labels, image, probability)
    assert kept[1] == KEPT_AT_ANY_CUTOFF == 1.0 and plain[1] < 1.0
    assert kept[2] == plain[2], "a candidate holding no point keeps the classifier's score"
    assert scores_keeping_confirmed(check, ())(labels, image, probability) == plain
    # the points travel through the map cache beside the lungs' extent
    store_probability(tmp_path, "lung_000", "key", magnified, (0.0, 50.0), (point,))
    store_probability(tmp_path, "lung_001", "key", magnified, (0.0, 50.0))
    assert cached_confirmed(tmp_path, "lung_000", "key") == (tuple(float(v) for v in point),)
    assert cached_confirmed(tmp_path, "lung_001", "key") == ()
    assert cached_confirmed(tmp_path, "lung_002", "key") == (), "a case not cached has no points"


def test_the_magnified_pass_finds_dense_tissue_where_the_normal_pass_does(threshold_networks):  # noqa: F811
    case = phantom(2)
    package = load_package(shared_package_dir())
    spec = ZoneSpec(overlap_mm=15.0, margin_mm=20.0, context_mm=16.0)
    normal = network_pass(case.image, package, spec, ProgressSpan(None, 0.0, 1.0))
    magnified = network_pass(case.image, package, spec, ProgressSpan(None, 0.0, 1.0), zoom=2.0)
    assert magnified.canonical.GetSpacing() == pytest.approx([s / 2 for s in package.card.spacing_mm])
    assert magnified.probability.GetSize() == case.image.GetSize()
    assert magnified.probability.GetOrigin() == case.image.GetOrigin()
    a = sitk.GetArrayFromImage(normal.probability) > 0.5
    b = sitk.GetArrayFromImage(magnified.probability) > 0.5
    assert a.sum() > 100, "the threshold network must mark the phantom's dense tissue"
    dice = 2 * (a & b).sum() / (a.sum() + b.sum())
    assert dice > 0.8
    # the lungs are found on the finer grid in true millimetres: the same volume
    assert magnified.lungs.volume_ml == pytest.approx(normal.lungs.volume_ml, rel=0.1)


def test_the_pipeline_runs_the_cards_look_and_skips_it_when_asked(package_copy):  # noqa: F811
    case = phantom(2)
    options = dict(threads=1, threshold=0.62, min_lesion_mm3=30.0)
    plain = segment(case.image, load_package(package_copy), SegmentOptions(**options, candidate_check=False))
    # the card's classifier rejects every normal candidate; the look confirms all of its own
    package = load_package(with_magnified_look(package_copy, zoom=1.5, cutoff=0.0, check_cutoff=0.99))
    stages: list[str] = []
    looked = segment(case.image, package, SegmentOptions(**options), lambda stage, f: stages.append(stage))
    summary = looked.report("case", package)["magnified_look"]
    assert summary["zoom"] == 1.5 and summary["cutoff"] == 0.0
    assert summary["confirmed"] == summary["candidates"], "cut-off 0 confirms every candidate"
    assert any(s.startswith("magnified look: inference") for s in stages)
    assert "magnified_look" in looked.timings_s
    before = sitk.GetArrayFromImage(plain.probability)
    after = sitk.GetArrayFromImage(looked.probability)
    assert (after >= before).all(), "the look only adds"
    assert summary["candidates"] > 0, "the random-weight networks must leave the look something to add"
    assert (after > before).any()
    # the lesions are the confirmed candidates the lesion limits keep, each holding its point
    report = looked.report("case", package)
    points = report["confirmed_by_magnified_look"]
    assert len(points) == summary["confirmed"]
    labels = sitk.GetArrayFromImage(looked.labels)
    held = {int(labels[tuple(looked.labels.TransformPhysicalPointToIndex(p[:3])[::-1])]) for p in points}
    assert len(looked.lesions) > 0 and {lesion.label for lesion in looked.lesions} <= held
    assert {lesion.found_by for lesion in looked.lesions} == {"magnified look"}
    assert plain.lesions and {lesion.found_by for lesion in plain.lesions} == {"zone networks"}
    assert f"({len(looked.lesions)} by the magnified second look)" in looked.message
    assert "magnified" not in plain.message
    # a saved map re-labelled with the report's context keeps them (the Slicer module's "update lesions")
    again, _ = lesions_from_probability(looked.probability, case.image, 0.62, package.card.lesion_filter.overridden(
        min_lesion_mm3=30.0), MeasureContext.from_report(report), package.candidate_check())
    np.testing.assert_array_equal(sitk.GetArrayFromImage(again), labels)
    kept_percent, _ = lesions_from_percent(probability_to_percent(looked.probability), case.image, 0.62,
                                           package.card.lesion_filter.overridden(min_lesion_mm3=30.0),
                                           MeasureContext.from_report(report), package.candidate_check())
    np.testing.assert_array_equal(sitk.GetArrayFromImage(kept_percent) > 0, labels > 0)
    skipped_stages: list[tuple[str, float]] = []
    skipped = segment(case.image, package, SegmentOptions(**options, magnified_look=False),
                      lambda stage, f: skipped_stages.append((stage, f)))
    assert skipped.report("case", package)["magnified_look"] is None
    assert not any("magnified" in s for s, _ in skipped_stages)
    # without the look the run reports progress exactly as it always did
    for pair in (("resampling to the model grid", 0.0), ("finding the lungs", 0.06), ("superposing zones", 0.9),
                 ("labelling lesions", 0.95), ("done", 1.0)):
        assert pair in [(s, round(f, 6)) for s, f in skipped_stages], pair
    np.testing.assert_array_equal(sitk.GetArrayFromImage(skipped.probability), before)
    # the look is its own switch: with the candidate check off it still runs and confirms
    unchecked = segment(case.image, package, SegmentOptions(**options, candidate_check=False))
    assert unchecked.magnified_look["confirmed"] == summary["confirmed"]
