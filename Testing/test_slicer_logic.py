"""The run transaction (export -> child process -> import -> commit) on real MRML.

The child is the contract stand-in of the core CLI (``slicer_support/contract_cli.py``),
so success, failure, bad output and cancel can be provoked; the real core is exercised
by ``test_slicer_scenario.py``.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk

import slicer_env as senv

CONTRACT_PYTHON = str(Path(__file__).parent / "slicer_support" / "contract_python")


@pytest.fixture
def contract(monkeypatch, tmp_path):
    """Select the stand-in's behaviour: ``contract("slow")``; returns the args file."""
    monkeypatch.setenv("LTS_CONTRACT_PYTHON", sys.executable)
    monkeypatch.setenv("LTS_CONTRACT_ARGS", str(tmp_path / "args.json"))
    monkeypatch.setenv("LTS_CONTRACT_PIDFILE", str(tmp_path / "pids"))

    def select(mode: str) -> Path:
        monkeypatch.setenv("LTS_CONTRACT_MODE", mode)
        return tmp_path

    return select


def _ct(scene, lesions=((3, 7, 5, 15, 5, 15), (8, 10, 20, 24, 25, 30))):
    array = np.full((12, 36, 40), -800, np.int16)
    for z0, z1, y0, y1, x0, x1 in lesions:
        array[z0:z1, y0:y1, x0:x1] = 900
    image = sitk.GetImageFromArray(array)
    image.SetSpacing((0.7, 0.7, 5.0))
    image.SetOrigin((-14.0, 20.0, -30.0))
    image.SetDirection((0, 1, 0, -1, 0, 0, 0, 0, 1))
    return senv.add_volume_from_image(scene, image, "chest"), array


def _run(volume, tmp_path, **kwargs):
    from LungTumorSegLib import logic_core

    progress, log = [], []
    request = logic_core.RunRequest(input_volume=volume, **kwargs)
    run = logic_core.SegmentationRun(request, on_progress=lambda f, s: progress.append((f, s)),
                                     on_log=log.append, python=CONTRACT_PYTHON, temp_root=str(tmp_path))
    return run, progress, log


def _segment_names(node):
    seg = node.GetSegmentation()
    return [seg.GetSegment(s).GetName() for s in seg.GetSegmentIDs()]


def test_successful_run(slicer_env, contract, tmp_path):
    from LungTumorSegLib import volume_bridge

    workdir = contract("ok")
    volume, array = _ct(slicer_env.scene)
    checksum = volume_bridge.volume_checksum(volume)
    run, progress, log = _run(volume, tmp_path, threshold=0.3, min_lesion_mm3=12.5, threads=1)
    result = run.run(timeout_s=120)
    assert _segment_names(result.segmentation_node) == ["Lesion 1", "Lesion 2"]
    assert result.table_node.GetNumberOfRows() == 2
    assert volume_bridge.volume_checksum(volume) == checksum  # input untouched
    # progress is monotonic, ends at 1, and the child's stage text came through
    fractions = [f for f, _ in progress]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert any(stage == "inference middle zone" for _, stage in progress)
    assert "a free-text log line" in log
    # options reached the command line
    argv = json.loads((workdir / "args.json").read_text())
    assert argv[argv.index("--threshold") + 1] == "0.3"
    assert argv[argv.index("--min-lesion-mm3") + 1] == "12.5"
    assert "--model" in argv
    # temporary files removed
    assert not list(tmp_path.glob("LungTumorSeg-*"))


def test_rerun_reuses_output_nodes(slicer_env, contract, tmp_path):
    contract("ok")
    scene = slicer_env.scene
    volume, _ = _ct(scene)
    first, _, _ = _run(volume, tmp_path)
    r1 = first.run(timeout_s=120)
    nodes_after_first = scene.GetNumberOfNodes()
    second, _, _ = _run(volume, tmp_path, segmentation_node=r1.segmentation_node, table_node=r1.table_node)
    r2 = second.run(timeout_s=120)
    assert r2.segmentation_node is r1.segmentation_node and r2.table_node is r1.table_node
    assert scene.GetNumberOfNodes() == nodes_after_first
    assert _segment_names(r2.segmentation_node) == ["Lesion 1", "Lesion 2"]


def _state(scene, seg_node=None):
    from slicer_env import scene_snapshot

    names = _segment_names(seg_node) if seg_node is not None else None
    return {k: v[:2] for k, v in scene_snapshot(scene).items()}, names


def test_failure_leaves_scene_unchanged(slicer_env, contract, tmp_path):
    from LungTumorSegLib import process_runner, volume_bridge

    contract("ok")
    scene = slicer_env.scene
    volume, _ = _ct(scene)
    previous = _run(volume, tmp_path)[0].run(timeout_s=120)
    before = _state(scene, previous.segmentation_node)
    checksum = volume_bridge.volume_checksum(volume)

    contract("fail")
    run, _, log = _run(volume, tmp_path, segmentation_node=previous.segmentation_node,
                       table_node=previous.table_node)
    with pytest.raises(process_runner.ProcessFailed, match="not a CT image"):
        run.run(timeout_s=120)
    assert _state(scene, previous.segmentation_node) == before
    assert previous.table_node.GetNumberOfRows() == 2
    assert volume_bridge.volume_checksum(volume) == checksum
    assert not list(tmp_path.glob("LungTumorSeg-*"))


def test_bad_output_leaves_scene_unchanged(slicer_env, contract, tmp_path):
    contract("wrong_grid")
    scene = slicer_env.scene
    volume, _ = _ct(scene)
    before = _state(scene)
    with pytest.raises(ValueError, match="grid"):
        _run(volume, tmp_path)[0].run(timeout_s=120)
    assert _state(scene) == before
    assert not list(tmp_path.glob("LungTumorSeg-*"))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie is dead for our purposes
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().split()[2] != "Z"
    except FileNotFoundError:
        return False


@pytest.mark.skipif(os.name != "posix", reason="process-group kill is POSIX-specific here")
def test_cancel_mid_run_kills_the_tree_and_leaves_scene_unchanged(slicer_env, contract, tmp_path):
    from LungTumorSegLib import process_runner, volume_bridge

    workdir = contract("slow")
    scene = slicer_env.scene
    volume, _ = _ct(scene)
    before = _state(scene)
    checksum = volume_bridge.volume_checksum(volume)
    run, progress, _ = _run(volume, tmp_path)
    run.start()
    pidfile = workdir / "pids"
    deadline = time.monotonic() + 60
    while not (pidfile.exists() and pidfile.read_text().strip() and any(s == "inference upper zone" for _, s in progress)):
        assert run.poll() is None
        assert time.monotonic() < deadline, "the child never reported progress"
        time.sleep(0.05)
    child, grandchild = (int(p) for p in pidfile.read_text().split())
    assert _alive(grandchild)
    run.cancel()
    time.sleep(0.2)
    assert not _alive(child) and not _alive(grandchild)
    with pytest.raises(process_runner.Cancelled):
        run.poll()
    assert _state(scene) == before
    assert volume_bridge.volume_checksum(volume) == checksum
    assert not list(tmp_path.glob("LungTumorSeg-*"))


def test_progress_line_parsing():
    from LungTumorSegLib.process_runner import parse_progress

    assert parse_progress("PROGRESS 0.42 inference middle zone") == (0.42, "inference middle zone")
    assert parse_progress("PROGRESS 1.7 done") == (1.0, "done")
    assert parse_progress("PROGRESS x y") is None
    assert parse_progress("loading model") is None


def test_command_and_environment():
    from LungTumorSegLib import process_runner

    options = process_runner.PredictOptions(model_dir="/m", threshold=0.5, zone_overlap_mm=8, threads=2)
    cmd = process_runner.predict_command("in.nrrd", "out.nrrd", "r.json", options, python="py")
    assert cmd[:5] == ["py", "-m", "lungtumorseg.cli", "predict", "in.nrrd"]
    assert cmd[cmd.index("--zone-overlap-mm") + 1] == "8" and cmd[cmd.index("--progress") + 1] == "lines"
    assert "--min-lesion-mm3" not in cmd  # unset options are the card's business
    env = process_runner.child_environment(threads=2)
    assert env["PYTHONPATH"].split(os.pathsep)[0] == str(senv.MODULE_DIR)
    assert env["OMP_NUM_THREADS"] == "2"


def test_command_carries_the_lesion_filter_and_no_limit_as_infinity():
    import math

    from LungTumorSegLib import process_runner

    options = process_runner.PredictOptions(min_peak_probability=0.6, max_elongation=math.inf, max_mean_hu=150.0)
    cmd = process_runner.predict_command("in.nrrd", "out.nrrd", "r.json", options, python="py")
    assert float(cmd[cmd.index("--min-peak-probability") + 1]) == 0.6
    assert float(cmd[cmd.index("--max-mean-hu") + 1]) == 150.0
    assert float(cmd[cmd.index("--max-elongation") + 1]) == math.inf  # what argparse's float() reads back
    plain = process_runner.predict_command("in.nrrd", "out.nrrd", "r.json", process_runner.PredictOptions(), python="py")
    assert "--max-elongation" not in plain and "--min-peak-probability" not in plain and "--max-mean-hu" not in plain


@pytest.mark.parametrize("option, flag", [("zone_limits", "--no-zone-limits"),
                                          ("outline_growth", "--no-outline-growth"),
                                          ("candidate_check", "--no-candidate-check"),
                                          ("magnified_look", "--no-magnified-look")])
def test_command_switches_a_card_option_off_only_when_asked(option, flag):
    from LungTumorSegLib import process_runner

    on = process_runner.predict_command("in.nrrd", "out.nrrd", "r.json", process_runner.PredictOptions(), python="py")
    off = process_runner.predict_command("in.nrrd", "out.nrrd", "r.json",
                                         process_runner.PredictOptions(**{option: False}), python="py")
    assert flag not in on
    assert off.count(flag) == 1 and [a for a in off if a != flag] == on


def test_command_carries_a_candidate_cut_off_exactly_and_only_when_given():
    from LungTumorSegLib import process_runner

    plain = process_runner.predict_command("in.nrrd", "out.nrrd", "r.json", process_runner.PredictOptions(), python="py")
    assert "--candidate-cutoff" not in plain
    cutoff = 0.4891751557588577  # no digit lost on the way to the child's argparse
    cmd = process_runner.predict_command("in.nrrd", "out.nrrd", "r.json",
                                         process_runner.PredictOptions(candidate_cutoff=cutoff), python="py")
    assert float(cmd[cmd.index("--candidate-cutoff") + 1]) == cutoff


def test_every_option_the_logic_can_send_is_understood_by_the_real_cli_and_by_the_stand_in():
    """``process_runner.predict_command`` with every option away from its default: the real
    ``predict`` parser reads back each value, and the contract stand-in the run tests use accepts
    the same command (so a new option cannot break either silently)."""
    import dataclasses
    import importlib.util
    import math

    from lungtumorseg.cli import build_parser
    from LungTumorSegLib import process_runner

    spec = importlib.util.spec_from_file_location("contract_cli", Path(__file__).parent / "slicer_support" /
                                                  "contract_cli.py")
    contract_cli = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(contract_cli)
    values = dict(model_dir="/models/p", threshold=0.35, min_lesion_mm3=40.0, min_peak_probability=0.6,
                  max_elongation=math.inf, max_mean_hu=150.0, zone_limits=False, outline_growth=False,
                  candidate_check=False, candidate_cutoff=0.4891751557588577, magnified_look=False,
                  zone_overlap_mm=12.5, threads=3,
                  probability_percent_path="p.nrrd", magnified_percent_path="m.nrrd")
    defaults = process_runner.PredictOptions()
    for field in dataclasses.fields(process_runner.PredictOptions):
        if field.name != "extra_args":
            assert values[field.name] != getattr(defaults, field.name), f"{field.name} must be exercised here"
    cmd = process_runner.predict_command("in.nrrd", "out.nrrd", "r.json", process_runner.PredictOptions(**values),
                                         python="py")
    real = build_parser().parse_args(cmd[3:])
    assert (str(real.model), real.threshold, real.min_lesion_mm3) == ("/models/p", 0.35, 40.0)
    assert real.min_peak_probability == 0.6
    assert (real.max_elongation, real.max_mean_hu, real.zone_overlap_mm, real.threads) == (math.inf, 150.0, 12.5, 3)
    assert real.no_zone_limits and real.no_outline_growth and real.no_candidate_check and real.no_magnified_look
    assert real.candidate_cutoff == values["candidate_cutoff"] and real.probability_percent
    assert str(real.probabilities) == "p.nrrd" and real.progress == "lines"
    assert str(real.magnified_probabilities) == "m.nrrd"
    stand_in = contract_cli.build_parser().parse_args(cmd[4:])
    assert stand_in.candidate_cutoff == values["candidate_cutoff"] and stand_in.no_outline_growth
    assert stand_in.no_magnified_look and stand_in.magnified_probabilities == "m.nrrd"
    with pytest.raises(ValueError, match="only beside the probability map"):
        process_runner.predict_command("in.nrrd", "out.nrrd", "r.json", process_runner.PredictOptions(
            **dict(values, probability_percent_path=None)), python="py")


def _zoned_package(tmp_path):
    """A package folder whose card sets a larger minimum size in the middle zone."""
    from test_slicer_model_packages import _package

    folder = _package(tmp_path / "packages" / "zoned")
    card = json.loads((folder / "model.json").read_text())
    card["postprocessing"]["zone_limits"] = {"middle": {"min_lesion_mm3": 850, "min_peak_probability": 0.6}}
    (folder / "model.json").write_text(json.dumps(card))
    return folder


def test_run_request_zone_limits_reach_the_child_and_the_card_limits_are_kept(slicer_env, contract, tmp_path):
    from LungTumorSegLib import kept_probability, logic_core

    workdir = contract("ok")
    package = _zoned_package(tmp_path)
    volume, _ = _ct(slicer_env.scene)
    run, _, _ = _run(volume, tmp_path, model_dir=str(package), zone_limits=False)
    result = run.run(timeout_s=120)
    argv = json.loads((workdir / "args.json").read_text())
    assert "--no-zone-limits" in argv and argv[argv.index("--model") + 1] == str(package)
    # the card's zone limits are kept with the run although it did not apply them: an update can
    # switch them back on
    record = kept_probability.kept_run(result.segmentation_node).record
    assert record["card_zone_limits"] == logic_core.card_zone_limits(package)
    assert record["card_zone_limits"]["middle"]["min_lesion_mm3"] == 850.0
    run, _, _ = _run(volume, tmp_path, model_dir=str(package), segmentation_node=result.segmentation_node)
    run.run(timeout_s=120)
    assert "--no-zone-limits" not in json.loads((workdir / "args.json").read_text())


def test_card_zone_limits_of_a_package(tmp_path):
    from LungTumorSegLib import logic_core

    assert logic_core.card_zone_limits(_zoned_package(tmp_path))["middle"]["min_peak_probability"] == 0.6
    assert logic_core.card_zone_limits(tmp_path / "no-such-package") == {}


#: A small candidate classifier (MONAI ``Classifier``) for test packages; seeded random weights.
CLASSIFIER_NETWORK = {"channels": [4, 8], "strides": [2, 2], "num_res_units": 1, "dropout": None}


def _checked_package(tmp_path, cutoff: float = 0.5, seed: int = 1, name: str = "checked"):
    """A package folder whose card carries a candidate classifier (seeded random weights, real
    safetensors file) with cut-off ``cutoff``."""
    import torch

    from lungtumorseg.candidate_check import build_classifier
    from lungtumorseg.models.package import attach_candidate_check
    from test_slicer_model_packages import _package

    folder = _package(tmp_path / "packages" / name)
    torch.manual_seed(seed)
    state = build_classifier(CLASSIFIER_NETWORK).state_dict()
    attach_candidate_check(folder, state, {"cutoff": cutoff, "network": CLASSIFIER_NETWORK,
                                           "training": "seeded random weights (test)"})
    return folder


def test_run_request_candidate_check_reaches_the_child_and_the_cards_cutoff_is_kept(slicer_env, contract, tmp_path):
    from LungTumorSegLib import kept_probability, logic_core

    workdir = contract("ok")
    package = _checked_package(tmp_path, cutoff=0.4)
    volume, _ = _ct(slicer_env.scene)
    run, _, _ = _run(volume, tmp_path, model_dir=str(package), candidate_check=False)
    result = run.run(timeout_s=120)
    assert "--no-candidate-check" in json.loads((workdir / "args.json").read_text())
    # the card's cut-off is kept with the run although its classifier did not judge
    record = kept_probability.kept_run(result.segmentation_node).record
    assert record["card_candidate_check_cutoff"] == logic_core.card_candidate_cutoff(package) == 0.4
    run, _, _ = _run(volume, tmp_path, model_dir=str(package), segmentation_node=result.segmentation_node)
    run.run(timeout_s=120)
    assert "--no-candidate-check" not in json.loads((workdir / "args.json").read_text())
    # the user's cut-off reaches the child; with the check off it is not sent
    run, _, _ = _run(volume, tmp_path, model_dir=str(package), segmentation_node=result.segmentation_node,
                     candidate_cutoff=0.25)
    run.run(timeout_s=120)
    args = json.loads((workdir / "args.json").read_text())
    assert float(args[args.index("--candidate-cutoff") + 1]) == 0.25
    run, _, _ = _run(volume, tmp_path, model_dir=str(package), segmentation_node=result.segmentation_node,
                     candidate_check=False, candidate_cutoff=0.25)
    run.run(timeout_s=120)
    assert "--candidate-cutoff" not in json.loads((workdir / "args.json").read_text())
    # a package without one: "none" is recorded
    plain, _, _ = _run(volume, tmp_path, model_dir=str(_zoned_package(tmp_path)))
    plain_record = kept_probability.kept_run(plain.run(timeout_s=120).segmentation_node).record
    assert "card_candidate_check_cutoff" in plain_record and plain_record["card_candidate_check_cutoff"] is None


def test_card_candidate_cutoff_and_the_classifier_of_a_package(tmp_path):
    from lungtumorseg.candidate_check import CandidateCheck
    from LungTumorSegLib import logic_core

    package = _checked_package(tmp_path, cutoff=0.3)
    assert logic_core.card_candidate_cutoff(package) == 0.3
    assert logic_core.card_candidate_cutoff(_zoned_package(tmp_path)) is None
    assert logic_core.card_candidate_cutoff(tmp_path / "no-such-package") is None
    check = logic_core.candidate_check(package)
    assert isinstance(check, CandidateCheck) and check.cutoff == 0.3
    assert logic_core.candidate_check(package, enabled=False) is None
    moved = logic_core.candidate_check(package, cutoff=0.7)  # the panel's cut-off; the card's stays
    assert moved.cutoff == 0.7 and logic_core.candidate_check(package).cutoff == 0.3
    assert logic_core.candidate_check(package, enabled=False, cutoff=0.7) is None
    assert logic_core.candidate_check(_zoned_package(tmp_path / "other")) is None  # the card has none


def test_child_openmp_threads_sleep_unless_the_user_says_otherwise(monkeypatch):
    from LungTumorSegLib import process_runner

    monkeypatch.delenv("OMP_WAIT_POLICY", raising=False)
    assert process_runner.child_environment()["OMP_WAIT_POLICY"] == "PASSIVE"
    monkeypatch.setenv("OMP_WAIT_POLICY", "ACTIVE")
    assert process_runner.child_environment()["OMP_WAIT_POLICY"] == "ACTIVE"
