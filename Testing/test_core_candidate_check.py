"""The candidate classifier (``lungtumorseg.candidate_check``): patches centred on the candidate
whatever the image's orientation, judged candidates removed before outline growth, the
classifier stored in and refused from a model package like the zone weights, and the
pipeline applying it (and not, when asked). Real MONAI ``Classifier`` networks (seeded random
weights), real SimpleITK images."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import SimpleITK as sitk
import torch

from core_fixtures import package_copy, phantom, shared_package_dir  # noqa: F401  (fixture)
from lungtumorseg.candidate_check import (PATCH_VOXELS, CandidateCheck, JudgedCandidates, build_classifier,
                                         candidate_patches)
from lungtumorseg.errors import ModelPackageError
from lungtumorseg.models import CARD_FILE, load_package
from lungtumorseg.models.package import CANDIDATE_CHECK, attach_candidate_check
from lungtumorseg.outline import OutlineGrowth
from lungtumorseg.pipeline import SegmentOptions, segment
from lungtumorseg.postprocess import LesionFilter, label_lesions

NETWORK = {"channels": [4, 8], "strides": [2, 2], "num_res_units": 1, "dropout": None}


def _section(cutoff: float = 0.5) -> dict:
    return {"cutoff": cutoff, "network": NETWORK, "training": "seeded random weights (test)"}


def _state(seed: int = 0) -> dict[str, torch.Tensor]:
    torch.manual_seed(seed)
    return build_classifier(NETWORK).state_dict()


def _ball_image(direction: tuple[float, ...], flip_axes: tuple[int, ...]) -> tuple[sitk.Image, sitk.Image, np.ndarray]:
    """A 1 × 1 × 2.5 mm CT (−850 HU) with a 6 mm ball of 40 HU centred at LPS (10, −20, 30);
    the voxels are stored in the order ``direction`` says (``flip_axes``: numpy axes reversed)."""
    size_zyx = (24, 60, 60)
    spacing = (1.0, 1.0, 2.5)
    centre = np.array([10.0, -20.0, 30.0])
    image = sitk.Image([size_zyx[2], size_zyx[1], size_zyx[0]], sitk.sitkFloat32)
    image.SetSpacing(spacing)
    image.SetDirection(direction)
    # put the image's centre voxel near the ball so the ball is inside whatever the direction
    d = np.array(direction).reshape(3, 3)
    middle = np.array([(s - 1) / 2 for s in image.GetSize()])
    image.SetOrigin(tuple(centre + np.array([0.3, -0.2, 0.7]) - d @ (middle * np.array(spacing))))
    index = np.indices(size_zyx).reshape(3, -1)[::-1].T.astype(float)  # (x, y, z) indices
    lps = np.asarray(image.GetOrigin()) + (d @ (index * np.array(spacing)).T).T
    ball = (np.linalg.norm(lps - centre, axis=1) <= 6.0).reshape(size_zyx)
    hu = np.where(ball, 40.0, -850.0).astype(np.float32)
    ct = sitk.GetImageFromArray(hu)
    ct.CopyInformation(image)
    probability = sitk.GetImageFromArray(np.where(ball, 0.9, 0.05).astype(np.float32))
    probability.CopyInformation(image)
    labels = sitk.GetImageFromArray(ball.astype(np.uint16))
    labels.CopyInformation(image)
    return ct, probability, labels


def test_a_patch_is_centred_on_its_candidate_and_does_not_depend_on_the_voxel_order():
    lps = _ball_image((1, 0, 0, 0, 1, 0, 0, 0, 1), ())
    ras = _ball_image((-1, 0, 0, 0, -1, 0, 0, 0, 1), ())
    (present, a), (_, b) = candidate_patches(lps[2], lps[0], lps[1]), candidate_patches(ras[2], ras[0], ras[1])
    assert present == [1] and a.shape == (1, 3, PATCH_VOXELS, PATCH_VOXELS, PATCH_VOXELS)
    mask = a[0, 2] > 0.5
    centre = (PATCH_VOXELS - 1) / 2
    np.testing.assert_allclose(np.argwhere(mask).mean(axis=0), [centre] * 3, atol=0.6)
    # the ball's volume (6 mm radius) seen at 1.5 mm voxels
    assert mask.sum() * 1.5 ** 3 == pytest.approx(4 / 3 * math.pi * 6.0 ** 3, rel=0.2)
    # CT channel: 40 HU inside (window -1000..400 -> 0..1), lung outside; probability channel too
    core = (slice(15, 17),) * 3  # the central 2 x 2 x 2 voxels (the edge is blurred by interpolation)
    assert a[0, 0][core] == pytest.approx(np.full((2, 2, 2), (40 + 1000) / 1400), abs=0.01)
    assert a[0, 0][0, 0, 0] == pytest.approx((-850 + 1000) / 1400, abs=0.01)
    assert a[0, 1][core] == pytest.approx(np.full((2, 2, 2), 0.9), abs=0.01)
    assert a[0, 1][0, 0, 0] == pytest.approx(0.05, abs=0.01)
    # the same anatomy stored right-to-left gives the same patch (patches are in LPS axes)
    np.testing.assert_allclose(a, b, atol=2e-3)


def test_a_candidate_in_a_cropped_label_image_sees_the_whole_ct():
    ct, probability, labels = _ball_image((1, 0, 0, 0, 1, 0, 0, 0, 1), ())
    (_, whole) = candidate_patches(labels, ct, probability)
    crop = sitk.RegionOfInterest(labels, [20, 20, 10], [20, 20, 7])  # a box around the ball
    (_, cropped) = candidate_patches(crop, ct, probability)
    np.testing.assert_array_equal(whole, cropped)


def test_the_score_is_the_mean_over_the_eight_flips_so_flipping_the_patch_does_not_change_it():
    check = CandidateCheck(build_classifier(NETWORK).eval(), 0.5)
    rng = np.random.default_rng(3)
    patches = rng.random((4, 3, PATCH_VOXELS, PATCH_VOXELS, PATCH_VOXELS)).astype(np.float32)
    scores = check.scores_of_patches(patches)
    assert scores.shape == (4,) and np.all((scores > 0) & (scores < 1))
    np.testing.assert_allclose(check.scores_of_patches(patches[:, :, ::-1, :, ::-1].copy()), scores, atol=1e-5)
    assert len(set(np.round(scores, 6))) > 1, "different patches should get different scores"


def _two_balls() -> tuple[sitk.Image, sitk.Image]:
    """Probability 0.9 in two 4 mm balls on a 1 mm grid (labels 1 = the larger one), CT 40 HU there."""
    zz, yy, xx = np.mgrid[:30, :30, :60]
    big = (zz - 15) ** 2 + (yy - 15) ** 2 + (xx - 15) ** 2 <= 25
    small = (zz - 15) ** 2 + (yy - 15) ** 2 + (xx - 45) ** 2 <= 16
    prob = sitk.GetImageFromArray(np.where(big | small, 0.9, 0.0).astype(np.float32))
    ct = sitk.GetImageFromArray(np.where(big | small, 40.0, -850.0).astype(np.float32))
    return prob, ct


def test_a_judge_removes_the_candidates_it_rejects_before_the_outlines_grow():
    prob, ct = _two_balls()
    seen: list[list[int]] = []

    def reject_the_largest(labels: sitk.Image) -> set[int]:
        seen.append(sorted(int(v) for v in np.unique(sitk.GetArrayViewFromImage(labels)) if v))
        return {1}

    growth = LesionFilter(min_lesion_mm3=10.0, outline_growth=OutlineGrowth(-900.0, 100.0, 1.0))
    kept = sitk.GetArrayFromImage(label_lesions(prob, 0.5, growth, ct=ct, judge=reject_the_largest))
    everything = sitk.GetArrayFromImage(label_lesions(prob, 0.5, growth, ct=ct))
    assert seen == [[1, 2]], "the judge sees the components the limits kept, labelled by size"
    assert set(np.unique(kept)) == {0, 1}
    # the survivor (the small ball) is relabelled 1 and grown exactly as without a judge
    np.testing.assert_array_equal(kept > 0, everything == 2)
    assert (kept > 0).sum() > (sitk.GetArrayFromImage(prob)[:, :, 30:] > 0.5).sum(), "its outline grew"


def test_each_kept_lesion_carries_the_score_that_kept_it_after_relabelling_and_growth():
    prob, ct = _two_balls()
    growth = LesionFilter(min_lesion_mm3=10.0, outline_growth=OutlineGrowth(-900.0, 100.0, 1.0))
    candidates = label_lesions(prob, 0.5, LesionFilter(min_lesion_mm3=10.0))
    torch.manual_seed(5)
    check = CandidateCheck(build_classifier(NETWORK).eval(), 0.0)
    scores = check.scores(candidates, ct, prob)
    assert set(scores) == {1, 2} and scores[1] != scores[2]
    # keep both: the scores follow their candidates
    judged = JudgedCandidates(check, ct, prob)
    both = label_lesions(prob, 0.5, growth, ct=ct, judge=judged.judge)
    assert judged.lesion_scores(both) == pytest.approx(scores)
    # keep only the better-scored one: it is relabelled 1 and its outline grows, its score goes with it
    check.cutoff = (scores[1] + scores[2]) / 2
    survivor = max(scores, key=scores.get)
    judged = JudgedCandidates(check, ct, prob)
    one = label_lesions(prob, 0.5, growth, ct=ct, judge=judged.judge)
    assert set(np.unique(sitk.GetArrayViewFromImage(one))) == {0, 1}
    np.testing.assert_array_equal(sitk.GetArrayFromImage(one)[sitk.GetArrayFromImage(candidates) == survivor], 1)
    assert judged.lesion_scores(one) == {1: pytest.approx(scores[survivor])}
    assert JudgedCandidates(check, ct, prob).lesion_scores(one) == {}, "nothing judged yet, no scores"


def test_the_checks_own_verdict_decides_so_a_variant_check_is_honoured():
    """The pipeline asks the check for its verdict (``CandidateCheck.judge``) instead of
    re-applying the cut-off, so a check that overrides the decision (e.g. the experiment's
    confidence bypass) keeps its candidates, and their scores are reported."""
    prob, ct = _two_balls()
    torch.manual_seed(5)

    class KeepAll(CandidateCheck):
        def judge(self, labels, ct, probability, to_probability=None):
            scores, _ = super().judge(labels, ct, probability, to_probability)
            return scores, set()

    strict = KeepAll(build_classifier(NETWORK).eval(), 1.01)  # a cut-off no score reaches
    judged = JudgedCandidates(strict, ct, prob)
    kept = label_lesions(prob, 0.5, LesionFilter(min_lesion_mm3=10.0), judge=judged.judge)
    assert set(np.unique(sitk.GetArrayViewFromImage(kept))) == {0, 1, 2}
    assert set(judged.lesion_scores(kept)) == {1, 2} and max(judged.lesion_scores(kept).values()) < 1.01


def test_a_package_carries_its_candidate_classifier_and_refuses_a_damaged_one(package_copy):  # noqa: F811
    package = attach_candidate_check(package_copy, _state(), _section(0.4))
    check = package.candidate_check()
    assert isinstance(check, CandidateCheck) and check.cutoff == 0.4
    for name, tensor in _state().items():  # stored as given
        torch.testing.assert_close(check.network.state_dict()[name], tensor)
    package.verify_all()
    f = package_copy / "candidate_check.safetensors"
    data = bytearray(f.read_bytes())
    data[len(data) // 2] ^= 0x01
    f.write_bytes(bytes(data))
    damaged = load_package(package_copy)
    with pytest.raises(ModelPackageError, match="candidate_check.safetensors.*SHA-256"):
        damaged.candidate_check()
    with pytest.raises(ModelPackageError, match="candidate_check.safetensors"):
        damaged.verify_all()
    damaged.load_network("upper")  # the zone networks are not affected


@pytest.mark.parametrize("change, match", [
    (lambda raw: raw["weights"].pop(CANDIDATE_CHECK), "lists no weights"),
    (lambda raw: raw[CANDIDATE_CHECK].pop("cutoff"), "cutoff"),
    (lambda raw: raw[CANDIDATE_CHECK].update(cutoff=1.5), "cutoff 1.5"),
    (lambda raw: raw[CANDIDATE_CHECK]["network"].update(strides=[2]), "different lengths"),
])
def test_a_card_with_a_broken_candidate_section_is_refused(package_copy, change, match):  # noqa: F811
    attach_candidate_check(package_copy, _state(), _section())
    raw = json.loads((package_copy / CARD_FILE).read_text())
    change(raw)
    (package_copy / CARD_FILE).write_text(json.dumps(raw))
    with pytest.raises(ModelPackageError, match=match):
        load_package(package_copy)


def test_a_package_without_one_has_no_candidate_check():
    assert load_package(shared_package_dir()).candidate_check() is None


def test_the_pipeline_lets_the_classifier_judge_and_can_be_told_not_to(package_copy):  # noqa: F811
    case = phantom(2)
    options = dict(threads=1, threshold=0.62, min_lesion_mm3=30.0, min_peak_probability=0.7, max_elongation=3.2)
    without = segment(case.image, load_package(package_copy), SegmentOptions(**options))
    assert len(without.lesions) >= 3, "the fixture needs a few candidates"
    # a cut-off between the candidates' scores: the classifier must keep some and reject others
    package = attach_candidate_check(package_copy, _state(1), _section())
    check = package.candidate_check()
    scores = sorted(check.scores(without.labels, case.image, without.probability).values())
    check.cutoff = float(np.median(scores))
    judged = segment(case.image, package, SegmentOptions(**options))
    assert judged.candidate_cutoff == check.cutoff
    assert judged.report("case", package)["postprocessing"]["candidate_check_cutoff"] == check.cutoff
    expected = sum(s >= check.cutoff for s in scores)
    assert 0 < len(judged.lesions) == expected < len(without.lesions)
    kept_voxels = sitk.GetArrayFromImage(judged.labels) > 0
    assert kept_voxels.any() and not (kept_voxels & (sitk.GetArrayFromImage(without.labels) == 0)).any()
    # every reported lesion carries the score of the candidate it was (the lesion table's column)
    by_label = check.scores(without.labels, case.image, without.probability)
    before, after = sitk.GetArrayFromImage(without.labels), sitk.GetArrayFromImage(judged.labels)
    for lesion in judged.lesions:
        source = np.unique(before[after == lesion.label])
        assert len(source) == 1 and source[0] > 0
        assert lesion.candidate_score == pytest.approx(by_label[int(source[0])], abs=1e-6)
        assert lesion.candidate_score >= check.cutoff
        assert lesion.summary().endswith(f", candidate score {lesion.candidate_score:.2f}")
    assert [lesion.to_dict()["candidate_score"] for lesion in without.lesions] == [None] * len(without.lesions)
    assert "candidate score" not in without.lesions[0].summary()
    off = segment(case.image, package, SegmentOptions(**options, candidate_check=False))
    np.testing.assert_array_equal(sitk.GetArrayFromImage(off.labels), sitk.GetArrayFromImage(without.labels))
    assert off.candidate_cutoff is None
    # the user's own cut-off: 0 keeps every candidate, the card's check itself stays as it was
    lenient = segment(case.image, package, SegmentOptions(**options, candidate_cutoff=0.0))
    assert len(lenient.lesions) == len(without.lesions) and lenient.candidate_cutoff == 0.0
    assert package.candidate_check().cutoff == check.cutoff
    strict = segment(case.image, package, SegmentOptions(**options, candidate_cutoff=scores[-1]))
    assert len(strict.lesions) == 1 and strict.lesions[0].candidate_score == pytest.approx(scores[-1], abs=1e-6)
    for bad, match in ((dict(candidate_cutoff=1.5), "between 0 and 1"),
                       (dict(candidate_cutoff=0.3, candidate_check=False), "no candidate classifier")):
        with pytest.raises(ValueError, match=match):
            segment(case.image, package, SegmentOptions(**options, **bad))


def _cli(argv: list) -> tuple[int, str]:
    """``lungtumorseg`` in-process: (exit code, stdout + stderr); restores the SIGTERM handler."""
    import contextlib
    import io
    import signal

    from lungtumorseg.cli import main

    out, old = io.StringIO(), signal.getsignal(signal.SIGTERM)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
            code = main([str(a) for a in argv])
    finally:
        signal.signal(signal.SIGTERM, old)
    return code, out.getvalue()


def test_relabel_judges_like_predict_with_the_runs_package_and_says_when_it_needs_it(package_copy, tmp_path):  # noqa: F811
    from core_fixtures import phantom_file

    attach_candidate_check(package_copy, _state(1), _section(0.5))
    ct = phantom_file(2)
    limits = ["--threshold", "0.62", "--min-lesion-mm3", "30", "--min-peak-probability", "0.7", "--max-elongation", "3.2"]
    code, out = _cli(["predict", ct, "-o", tmp_path / "run.nii.gz", "--model", package_copy, "--report",
                      tmp_path / "run.json", "--probabilities", tmp_path / "p.nrrd", "--progress", "none",
                      "--threads", "1", *limits])
    assert code == 0, out
    run = json.loads((tmp_path / "run.json").read_text())
    assert run["postprocessing"]["candidate_check_cutoff"] == 0.5
    code, out = _cli(["relabel", ct, tmp_path / "p.nrrd", "-o", tmp_path / "re.nii.gz", "--run-report",
                      tmp_path / "run.json", "--model", package_copy, "--report", tmp_path / "re.json"])
    assert code == 0, out
    np.testing.assert_array_equal(sitk.GetArrayFromImage(sitk.ReadImage(str(tmp_path / "re.nii.gz"))),
                                  sitk.GetArrayFromImage(sitk.ReadImage(str(tmp_path / "run.nii.gz"))))
    assert json.loads((tmp_path / "re.json").read_text())["postprocessing"]["candidate_check_cutoff"] == 0.5
    # without the package the run used, relabel refuses (the test package is not the shipped one) ...
    code, out = _cli(["relabel", ct, tmp_path / "p.nrrd", "-o", tmp_path / "x.nii.gz", "--run-report", tmp_path / "run.json"])
    assert code != 0 and "--model" in out and not (tmp_path / "x.nii.gz").exists()
    # ... unless told to keep every candidate, which keeps at least the run's lesions
    code, out = _cli(["relabel", ct, tmp_path / "p.nrrd", "-o", tmp_path / "all.nii.gz", "--run-report",
                      tmp_path / "run.json", "--no-candidate-check"])
    assert code == 0, out
    every = sitk.GetArrayFromImage(sitk.ReadImage(str(tmp_path / "all.nii.gz"))) > 0
    judged = sitk.GetArrayFromImage(sitk.ReadImage(str(tmp_path / "run.nii.gz"))) > 0
    assert judged.any() and not (judged & ~every).any()
    # --candidate-cutoff 0 keeps every candidate (as no check), and the new report records it ...
    code, out = _cli(["relabel", ct, tmp_path / "p.nrrd", "-o", tmp_path / "c0.nii.gz", "--run-report",
                      tmp_path / "run.json", "--model", package_copy, "--candidate-cutoff", "0",
                      "--report", tmp_path / "c0.json"])
    assert code == 0, out
    np.testing.assert_array_equal(sitk.GetArrayFromImage(sitk.ReadImage(str(tmp_path / "c0.nii.gz"))) > 0, every)
    report = json.loads((tmp_path / "c0.json").read_text())
    assert report["postprocessing"]["candidate_check_cutoff"] == 0.0
    assert all(0.0 <= lesion["candidate_score"] <= 1.0 for lesion in report["lesions"])
    # ... and is then the default of a relabel of that report (the run's settings are the defaults)
    code, out = _cli(["relabel", ct, tmp_path / "p.nrrd", "-o", tmp_path / "again.nii.gz", "--run-report",
                      tmp_path / "c0.json", "--model", package_copy])
    assert code == 0, out
    np.testing.assert_array_equal(sitk.GetArrayFromImage(sitk.ReadImage(str(tmp_path / "again.nii.gz"))) > 0, every)
    # a cut-off with the check switched off is a contradiction: refused, nothing written
    code, out = _cli(["relabel", ct, tmp_path / "p.nrrd", "-o", tmp_path / "no.nii.gz", "--run-report",
                      tmp_path / "run.json", "--no-candidate-check", "--candidate-cutoff", "0.3"])
    assert code != 0 and "no candidate classifier" in out and not (tmp_path / "no.nii.gz").exists()
