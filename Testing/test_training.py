"""Training: data discovery (MSD layout), deterministic splits, balanced patch sampling,
augmentation, and a tiny end-to-end run train → package → evaluate → resume.

The end-to-end run uses real phantoms, the real reduced UNETR (32³ windows) and the real
command line; it trains only a few steps, so it checks the machinery, not accuracy.
"""

from __future__ import annotations

import csv
import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk

from core_fixtures import tiny_phantom_config
from lungtumorseg.cli import main
from lungtumorseg.errors import DatasetError
from lungtumorseg.evaluation.fields import CASE_FIELDS, LESION_FIELDS, ZONE_FIELDS
from lungtumorseg.models.package import load_package
from lungtumorseg.phantoms import write_msd_dataset
from lungtumorseg.training.augment import augment_batch, build_augmentation
from lungtumorseg.training.dataset import discover_cases, split_cases
from lungtumorseg.training.prepare import ZoneCrop
from lungtumorseg.training.sampler import PatchSampler


def _touch_image(path: Path, value: int = 0) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    sitk.WriteImage(sitk.Image(4, 4, 4, sitk.sitkUInt8) + value, str(path))


def test_discover_msd_layout_ignores_resource_forks(tmp_path):
    for name in ("lung_001", "lung_003"):
        _touch_image(tmp_path / "imagesTr" / f"{name}.nii.gz")
        _touch_image(tmp_path / "labelsTr" / f"{name}.nii.gz")
    entries = [{"image": f"./imagesTr/{n}.nii.gz", "label": f"./labelsTr/{n}.nii.gz"}
               for n in ("lung_001", "._lung_002", "lung_003")]
    (tmp_path / "dataset.json").write_text(json.dumps({"training": entries}))
    cases = discover_cases(tmp_path)
    assert [c.name for c in cases] == ["lung_001", "lung_003"]
    assert cases[0].label == tmp_path / "labelsTr" / "lung_001.nii.gz"


def test_discover_plain_folder_pair_pairs_by_name(tmp_path):
    _touch_image(tmp_path / "images" / "a_0000.nii.gz")
    _touch_image(tmp_path / "images" / "b.nii.gz")
    _touch_image(tmp_path / "labels" / "a.nii.gz")
    _touch_image(tmp_path / "labels" / "b.nii.gz")
    _touch_image(tmp_path / "images" / "unlabelled.nii.gz")
    assert [c.name for c in discover_cases(tmp_path)] == ["a", "b"]


def test_discover_errors_name_the_problem(tmp_path):
    with pytest.raises(DatasetError, match="does not exist"):
        discover_cases(tmp_path / "missing")
    with pytest.raises(DatasetError, match="no labelled cases"):
        discover_cases(tmp_path)
    (tmp_path / "dataset.json").write_text(json.dumps({"training": [{"image": "./imagesTr/x.nii.gz", "label": "./labelsTr/x.nii.gz"}]}))
    with pytest.raises(DatasetError, match="x.nii.gz"):
        discover_cases(tmp_path)


def test_split_is_deterministic_and_folds_partition_the_data(tmp_path):
    from lungtumorseg.training.dataset import CasePaths

    cases = [CasePaths(f"c{i}", tmp_path / f"{i}", tmp_path / f"{i}") for i in range(23)]
    t1, v1 = split_cases(cases, 0.2, seed=3)
    t2, v2 = split_cases(cases, 0.2, seed=3)
    assert [c.name for c in v1] == [c.name for c in v2] and len(v1) == 5
    assert not {c.name for c in t1} & {c.name for c in v1}
    assert len(t1) + len(v1) == 23
    folds = [split_cases(cases, seed=3, fold=k)[1] for k in range(5)]
    names = [c.name for fold in folds for c in fold]
    assert sorted(names) == sorted(c.name for c in cases)  # every case validated exactly once
    with pytest.raises(DatasetError):
        split_cases(cases, fold=5)


def _crop_with_tumour(seed: int) -> ZoneCrop:
    rng = np.random.default_rng(seed)
    image = rng.random((1, 40, 80, 80)).astype(np.float16)
    label = np.zeros((40, 80, 80), np.uint8)
    label[20:24, 60:64, 10:14] = 1
    return ZoneCrop(image, label, (10, 30))


def test_sampler_balances_tumour_and_background():
    crops = [_crop_with_tumour(0), ZoneCrop(np.zeros((1, 40, 80, 80), np.float16), np.zeros((40, 80, 80), np.uint8), (10, 30))]
    always = PatchSampler(crops, (16, 16, 16), positive_ratio=1.0, seed=0)
    assert all(always.sample()[1].any() for _ in range(20))
    never = PatchSampler(crops, (16, 16, 16), positive_ratio=0.0, seed=0)
    with_tumour = sum(bool(never.sample()[1].any()) for _ in range(200))
    # Tumour is 64 of 256000 voxels: background-centred 16³ patches rarely hit it.
    assert with_tumour < 40
    images, labels = always.batch(3)
    assert images.shape == (3, 1, 16, 16, 16) and images.dtype == np.float32 and labels.shape == (3, 1, 16, 16, 16)


def _crop_with_large_and_small_lesion() -> ZoneCrop:
    """A 20³-voxel mass, a 3³-voxel nodule and a 2-voxel sliver, far apart."""
    label = np.zeros((40, 120, 120), np.uint8)
    label[10:30, 10:30, 10:30] = 1  # 8000 voxels
    label[19:22, 90:93, 90:93] = 1  # 27 voxels
    label[0, 119, 0:2] = 1  # 2 voxels: too small to be drawn as a lesion of its own
    return ZoneCrop(np.zeros((1, *label.shape), np.float16), label, (0, 39))


def test_lesion_sampling_draws_small_nodules_as_often_as_large_masses():
    crop = _crop_with_large_and_small_lesion()

    def small_nodule_share(positive_sampling: str) -> float:
        sampler = PatchSampler([crop], (8, 8, 8), positive_ratio=1.0, seed=3, positive_sampling=positive_sampling)
        # A patch centred in the mass holds at least 4³ = 64 of its voxels; one centred on
        # the nodule (or the sliver) holds at most 27 tumour voxels.
        return float(np.mean([sampler.sample()[1].sum() <= 27 for _ in range(400)]))

    by_voxel = small_nodule_share("voxel")
    by_lesion = small_nodule_share("lesion")
    assert by_voxel < 0.02  # 27 of 8029 tumour voxels
    assert 0.4 < by_lesion < 0.6  # one of two lesions (the sliver is not a lesion)


def test_lesion_sampling_is_refused_under_an_unknown_name():
    with pytest.raises(ValueError, match="positive_sampling"):
        PatchSampler([_crop_with_tumour(0)], (8, 8, 8), 1.0, seed=0, positive_sampling="component")


def test_sampler_pads_crops_smaller_than_the_patch():
    small = ZoneCrop(np.ones((1, 8, 8, 8), np.float16), np.ones((8, 8, 8), np.uint8), (0, 7))
    image, label = PatchSampler([small], (16, 16, 16), 0.5, seed=1).sample()
    assert image.shape == (1, 16, 16, 16) and label.shape == (16, 16, 16)
    assert label.sum() == 8**3  # the padding is background, the crop is kept whole


def test_augmentation_moves_the_lung_prior_with_the_image_but_never_rescales_it():
    crop = _crop_with_tumour(3)
    prior = (crop.label > 0).astype(np.float16)[None]
    two_channel = ZoneCrop(np.concatenate([crop.image, prior]), crop.label, crop.core_z)
    images, labels = PatchSampler([two_channel], (32, 32, 32), 1.0, seed=4).batch(4)
    out_images, out_labels = augment_batch(build_augmentation(11, elastic_prob=0.5), images, labels)
    assert out_images.shape == images.shape
    assert set(np.unique(out_images[:, 1])) <= {0.0, 1.0}  # prior stays a mask
    # The prior was made equal to the tumour label, so spatial transforms must keep them equal.
    assert np.array_equal(out_images[:, 1] > 0.5, out_labels[:, 0] > 0)


def test_augmentation_is_seeded_and_keeps_labels_binary():
    crop = _crop_with_tumour(1)
    images, labels = PatchSampler([crop], (32, 32, 32), 1.0, seed=2).batch(2)
    a = augment_batch(build_augmentation(7, elastic_prob=1.0), images, labels)
    b = augment_batch(build_augmentation(7, elastic_prob=1.0), images, labels)
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    assert set(np.unique(a[1])) <= {0, 1}
    assert a[0].shape == images.shape


def drop_checkpoints(work: Path) -> None:
    """Delete a finished run's checkpoints (~124 MB per zone with the optimiser state): the
    fine-tuning runs below would otherwise hold ~1 GB of disk at once (a CI disk ran out)."""
    shutil.rmtree(work / "checkpoints")


@pytest.mark.slow
def test_tiny_training_run_writes_a_package_that_evaluate_reads(tmp_path):
    data = tmp_path / "data"
    write_msd_dataset(data, 3, 700, tiny_phantom_config())
    out = tmp_path / "model"
    args = ["train", str(data), "-o", str(out), "--steps", "2", "--val-every", "1", "--roi", "32",
            "--spacing", "4", "--threads", "1", "--seed", "5", "--name", "tiny-test", "--demo", "--lung-channel"]
    assert main(args) == 0
    package = load_package(out)
    package.verify_all()
    card = package.card.raw
    # --roi replaces the network section; the lung prior's second channel must survive it.
    assert card["network"]["in_channels"] == 2 and card["network"]["img_size"] == [32, 32, 32]
    assert card["demo"] is True and "not for clinical use" in card["warning"]
    assert card["training"]["command"].startswith("lungtumorseg train")
    assert card["training"]["config"]["steps"] == 2
    assert set(card["metrics"]["validation"]) == {"upper", "middle", "lower"}
    assert len(card["training"]["validation_cases"]) == 1

    # Resume: the same command with more steps continues from the checkpoint.
    log = out.with_name("model.work") / "train.log"
    assert main(args[:5] + ["3"] + args[6:]) == 0
    assert "resumed at step 2" in log.read_text()
    assert load_package(out).card.raw["metrics"]["validation"]["upper"]["steps"] == 3

    # Fine-tuning from that package: the new card says what it started from.
    tuned = tmp_path / "tuned"
    tuned_args = ["train", str(data), "-o", str(tuned), "--steps", "1", "--val-every", "1", "--roi", "32",
                  "--spacing", "4", "--threads", "1", "--seed", "5", "--lung-channel", "--single-model",
                  "--init-from", str(out), "--mine-negatives", "0.3", "--lung-ratio", "0.2",
                  "--positive-sampling", "lesion", "--faint-copies", "1"]
    assert main(tuned_args) == 0
    tuned_card = load_package(tuned).card.raw
    assert tuned_card["zones"]["names"] == ["whole"]
    assert tuned_card["training"]["config"]["mined_ratio"] == 0.3
    assert tuned_card["training"]["config"]["positive_sampling"] == "lesion"
    assert card["training"]["config"]["positive_sampling"] == "voxel"  # the default
    tuned_log = (tmp_path / "tuned.work" / "train.log").read_text()
    assert "mined false positives of the starting model" in tuned_log
    # Faint copies are made for the training cases with tumour (2 of the 3 tiny phantoms are
    # training cases) and are recorded; mining skips them (it counts only the originals).
    assert tuned_card["training"]["config"]["faint_copies"] == 1
    copies = int(re.search(r"prepared (\d+)/\d+ faint-tumour copies", tuned_log).group(1))
    assert 1 <= copies <= 2
    assert "of 2 training crops" in tuned_log
    # The starting weights are validated first and compete with the fine-tuned ones.
    assert "of the starting weights (step 0)" in (tmp_path / "tuned.work" / "train.log").read_text()
    whole = tuned_card["metrics"]["validation"]["whole"]
    assert whole["history"][0]["step"] == 0 and whole["best_step"] in (0, 1)
    assert whole["best_validation_dice"] == max(h["val_dice"] for h in whole["history"])
    source = tuned_card["training"]["initialised_from"]
    assert source["name"] == "tiny-test" and source["validation"]["upper"]["steps"] == 3
    # Same split (the split seed does not follow --seed): nothing it validates on was learned by its start.
    assert tuned_card["training"]["validation_cases"] == card["training"]["validation_cases"]
    assert tuned_card["training"]["validation_cases_seen_by_starting_weights"] == []
    drop_checkpoints(tmp_path / "tuned.work")
    # The same fine-tune again from scratch: the mined false positives are read back, not mined again.
    shutil.rmtree(tuned)
    assert main(tuned_args) == 0
    rerun_log = (tmp_path / "tuned.work" / "train.log").read_text()[len(tuned_log):]
    assert re.search(r"mined false positives of the starting model: \d+ sampled voxels in .* \(read from .*mined-",
                     rerun_log)
    drop_checkpoints(tmp_path / "tuned.work")

    # A different split validates on a case the starting weights were trained on: reported, not hidden.
    other_seed = next(s for s in range(1, 50)
                      if split_cases(discover_cases(data), 0.15, s)[1][0].name not in card["training"]["validation_cases"])
    leaky = tmp_path / "leaky"
    assert main(["train", str(data), "-o", str(leaky), "--steps", "1", "--val-every", "1", "--roi", "32",
                 "--spacing", "4", "--threads", "1", "--seed", "5", "--lung-channel", "--single-model",
                 "--init-from", str(out), "--split-seed", str(other_seed)]) == 0
    leaky_training = load_package(leaky).card.raw["training"]
    expected = sorted(set(leaky_training["validation_cases"]) & set(card["training"]["train_cases"]))
    assert expected and leaky_training["validation_cases_seen_by_starting_weights"] == expected
    assert "were trained on 1 of these validation cases" in (tmp_path / "leaky.work" / "train.log").read_text()
    drop_checkpoints(tmp_path / "leaky.work")

    # A wider decoder: the transformer is carried over, the convolutions start fresh, and the
    # half-new network is not entered as "the starting weights" in the keep-the-start rule.
    wide = tmp_path / "wide"
    assert main(["train", str(data), "-o", str(wide), "--steps", "1", "--val-every", "1", "--roi", "32",
                 "--spacing", "4", "--threads", "1", "--seed", "5", "--lung-channel", "--single-model",
                 "--feature-size", "16", "--init-from", str(out)]) == 0
    wide_card = load_package(wide).card.raw
    wide_log = (tmp_path / "wide.work" / "train.log").read_text()
    assert wide_card["network"]["feature_size"] == 16 and "start fresh because their shapes differ" in wide_log
    assert "of the starting weights (step 0)" not in wide_log
    assert [h["step"] for h in wide_card["metrics"]["validation"]["whole"]["history"]] == [1]
    drop_checkpoints(tmp_path / "wide.work")

    # A nodule-enhancement channel added to a lung-channel model: its input weights start at
    # zero, so the starting network is the source model and competes as "the starting weights".
    blob = tmp_path / "blob"
    assert main(["train", str(data), "-o", str(blob), "--steps", "1", "--val-every", "1", "--roi", "32",
                 "--spacing", "4", "--threads", "1", "--seed", "5", "--lung-channel", "--blob-channel",
                 "--single-model", "--init-from", str(out), "--precision", "bf16"]) == 0
    blob_package = load_package(blob)
    # bfloat16 training is recorded in the card (float32 is the default).
    assert blob_package.card.raw["training"]["config"]["precision"] == "bf16"
    assert card["training"]["config"]["precision"] == "fp32"
    assert blob_package.card.raw["network"]["in_channels"] == 3
    assert blob_package.card.blob_filter is not None and blob_package.card.raw["preprocessing"]["input_channels"][-1] \
        .startswith("nodule enhancement")
    assert "of the starting weights (step 0)" in (tmp_path / "blob.work" / "train.log").read_text()
    drop_checkpoints(tmp_path / "blob.work")

    report = tmp_path / "evaluation"
    assert main(["evaluate", "--data", str(data), "--model", str(out), "-o", str(report), "--threads", "1"]) == 0
    summary = json.loads((report / "summary.json").read_text())
    assert summary["synthetic"] is True and summary["cases"]["n_evaluated"] == 3
    for name, fields in (("metrics_cases.csv", CASE_FIELDS), ("metrics_zones.csv", ZONE_FIELDS), ("lesions.csv", LESION_FIELDS)):
        with open(report / name) as fh:
            header = next(csv.reader(fh))
        assert header == list(fields), name
    assert (report / "dice_per_case.png").stat().st_size > 5000


def test_sampler_draws_hard_negatives_inside_the_lung_prior():
    crop = _crop_with_tumour(5)
    lung = np.zeros((1, 40, 80, 80), np.float16)
    lung[0, 10:31, 5:35, 40:75] = 1  # a lung block away from the tumour (which sits at y 60-63)
    two_channel = ZoneCrop(np.concatenate([crop.image, lung]), crop.label, crop.core_z)
    sampler = PatchSampler([two_channel], (8, 8, 8), positive_ratio=0.0, seed=0, lung_ratio=1.0)
    centres_in_lung = 0
    for _ in range(50):
        image, _ = sampler.sample()
        centres_in_lung += image[1, 4, 4, 4] > 0.5
    assert centres_in_lung == 50


def test_dense_hard_negatives_centre_on_vessels_never_on_tumour():
    crop = _crop_with_tumour(6)
    image = np.zeros((2, 40, 80, 80), np.float16)
    image[1, 10:31, 5:75, 5:75] = 1  # lung prior around both the vessel and the tumour
    image[0, 10:31, 30:32, 30:32] = 0.6  # a dense tube (vessel) running through the zone core
    image[0][crop.label > 0] = 0.6  # the tumour is just as dense
    sampler = PatchSampler([ZoneCrop(image, crop.label, crop.core_z)], (8, 8, 8), positive_ratio=0.0, seed=0,
                           lung_ratio=1.0, dense_level=0.4)
    for _ in range(30):
        patch, label = sampler.sample()
        assert patch[0, 4, 4, 4] >= 0.4 and label[4, 4, 4] == 0  # on the vessel, never the tumour


def test_false_positive_voxels_are_away_from_tumour_and_inside_the_core():
    from lungtumorseg.training.mining import false_positive_voxels

    label = np.zeros((30, 40, 40), np.uint8)
    label[10:14, 10:14, 10:14] = 1
    probability = np.zeros(label.shape, np.float32)
    probability[9:15, 9:15, 9:15] = 0.9  # the tumour, a voxel too wide: not a false positive
    probability[10:14, 30:34, 30:34] = 0.9  # a "vessel" the model calls tumour
    probability[25:28, 30:34, 5:9] = 0.9  # a false positive outside the zone core
    probability[10:14, 20:24, 30:34] = 0.4  # below the threshold
    vox = false_positive_voxels(probability, label, core_z=(5, 20), threshold=0.5, clearance=2, stride=1)
    assert len(vox) == 4 * 4 * 4
    assert (vox[:, 1] >= 30).all() and (vox[:, 2] >= 30).all()


def test_sampler_centres_mined_patches_on_the_false_positives():
    crop = _crop_with_tumour(7)
    mined = [np.array([[15, 5, 70], [25, 40, 40]])]
    sampler = PatchSampler([crop], (8, 8, 8), positive_ratio=0.0, seed=0, mined_voxels=mined, mined_ratio=1.0)
    marked = crop.image.copy()
    for z, y, x in mined[0]:
        marked[0, z, y, x] = 7.0  # find the centres again in the patches
    sampler.crops = [ZoneCrop(marked, crop.label, crop.core_z)]
    for _ in range(20):
        patch, _ = sampler.sample()
        assert patch[0, 4, 4, 4] == 7.0
    with pytest.raises(ValueError):
        PatchSampler([crop], (8, 8, 8), 0.5, seed=0, mined_voxels=[], mined_ratio=0.3)


def test_mining_without_a_starting_model_is_refused(tmp_path, capsys):
    assert main(["train", str(tmp_path), "-o", str(tmp_path / "m"), "--mine-negatives", "0.3"]) != 0
    assert "--mine-negatives needs --init-from" in capsys.readouterr().err
    assert main(["train", str(tmp_path), "-o", str(tmp_path / "m"), "--positive-ratio", "0.6",
                 "--lung-ratio", "0.6"]) != 0
    assert "must not exceed 1" in capsys.readouterr().err


def test_dense_level_follows_the_intensity_window():
    from lungtumorseg.training.config import TrainConfig

    assert TrainConfig().dense_level() is None
    cfg = TrainConfig(hard_negatives="dense", dense_hu=-500.0, window_hu=[-1000.0, 500.0])
    assert cfg.dense_level() == pytest.approx(500.0 / 1500.0)
    with pytest.raises(ValueError):
        TrainConfig(hard_negatives="vessels").dense_level()


def test_transfer_weights_keeps_the_transformer_when_the_decoder_is_wider():
    import torch

    from lungtumorseg.models.network import build_unetr, reduced_unetr_config
    from lungtumorseg.training.trainer import transfer_weights

    torch.manual_seed(0)
    source_cfg = reduced_unetr_config(32)  # CT only, decoder width 8
    target_cfg = {**reduced_unetr_config(32), "in_channels": 2, "feature_size": 16}
    source, target = build_unetr(source_cfg).state_dict(), build_unetr(target_cfg)
    state, fresh = transfer_weights(source, target.state_dict())
    target.load_state_dict(state)  # every tensor has the target's shape

    vit_keys = [k for k in source if k.startswith("vit.") and "patch_embeddings.weight" not in k]
    assert vit_keys and all(torch.equal(state[k], source[k]) for k in vit_keys)
    embed = "vit.patch_embedding.patch_embeddings.weight"
    assert torch.equal(state[embed][:, :1], source[embed]) and not state[embed][:, 1:].any()
    assert not any(k.startswith("vit.") for k in fresh)
    assert "out.conv.conv.weight" in fresh and state["out.conv.conv.weight"].shape[1] == 16
    assert all(state[k].shape != source[k].shape for k in fresh if k in source)


def test_an_added_input_channel_starts_at_zero_so_the_network_computes_what_its_source_did():
    import torch

    from lungtumorseg.models.network import build_unetr, reduced_unetr_config
    from lungtumorseg.training.trainer import transfer_weights

    torch.manual_seed(1)
    source = build_unetr({**reduced_unetr_config(32), "in_channels": 2}).eval()
    target = build_unetr({**reduced_unetr_config(32), "in_channels": 3}).eval()
    state, fresh = transfer_weights(source.state_dict(), target.state_dict())
    target.load_state_dict(state)
    assert fresh == []
    x = torch.rand(1, 3, 32, 32, 32)
    with torch.no_grad():
        assert torch.allclose(target(x), source(x[:, :2]), atol=1e-5)
        assert not torch.allclose(target(x), build_unetr({**reduced_unetr_config(32), "in_channels": 3}).eval()(x))


def test_bf16_training_step_computes_nearly_the_float32_gradient_and_keeps_float32_weights():
    """``--precision bf16`` runs the forward pass under bfloat16 autocast: the gradient of one
    DiceCE step must point where the float32 one does, and weights must stay float32."""
    import torch
    from monai.losses import DiceCELoss

    from lungtumorseg.models.network import build_unetr, reduced_unetr_config
    from lungtumorseg.training.config import TrainConfig
    from lungtumorseg.training.trainer import training_autocast

    torch.manual_seed(0)
    net = build_unetr({**reduced_unetr_config(32), "in_channels": 2}).train()
    x = torch.rand(2, 2, 32, 32, 32, generator=torch.Generator().manual_seed(1))
    y = torch.zeros(2, 1, 32, 32, 32, dtype=torch.int64)
    y[:, :, 10:20, 12:22, 8:18] = 1
    loss_fn = DiceCELoss(to_onehot_y=True, softmax=True, batch=True)
    gradients = {}
    for precision in ("fp32", "bf16"):
        net.zero_grad(set_to_none=True)
        with training_autocast(TrainConfig(precision=precision)):
            logits = net(x)
        assert logits.dtype == (torch.bfloat16 if precision == "bf16" else torch.float32)
        loss_fn(logits.float(), y).backward()
        gradients[precision] = torch.cat([p.grad.flatten() for p in net.parameters() if p.grad is not None])
    assert all(p.dtype == torch.float32 for p in net.parameters())
    cosine = torch.nn.functional.cosine_similarity(gradients["fp32"], gradients["bf16"], dim=0)
    assert cosine > 0.98, f"bf16 gradient direction differs from float32: cosine {cosine:.4f}"
    with pytest.raises(ValueError, match="precision must be one of"):
        training_autocast(TrainConfig(precision="fp16"))


def test_feature_size_must_be_a_multiple_of_four(tmp_path, capsys):
    assert main(["train", str(tmp_path), "-o", str(tmp_path / "m"), "--feature-size", "6"]) != 0
    assert "--feature-size must be a positive multiple of 4" in capsys.readouterr().err


def test_another_window_size_interpolates_the_position_embedding_instead_of_starting_it_fresh():
    import torch

    from lungtumorseg.models.network import build_unetr, reduced_unetr_config
    from lungtumorseg.training.trainer import resize_position_embedding, transfer_weights

    torch.manual_seed(2)
    source = build_unetr(reduced_unetr_config(48)).state_dict()  # 3³ tokens
    target = build_unetr(reduced_unetr_config(64))  # 4³ tokens
    state, fresh = transfer_weights(source, target.state_dict())
    target.load_state_dict(state)
    key = "vit.patch_embedding.position_embeddings"
    assert fresh == [] and state[key].shape == (1, 64, source[key].shape[2])
    # Each corner token of the 4³ grid lies nearest the matching corner of the 3³ grid, and
    # a smooth (linear) embedding stays linear after resampling.
    old = source[key][0].reshape(3, 3, 3, -1)
    new = state[key][0].reshape(4, 4, 4, -1)
    corner_old, corner_new = old[0, 0, 0], new[0, 0, 0]
    assert torch.linalg.norm(corner_new - corner_old) < torch.linalg.norm(corner_new - old[1, 1, 1])
    ramp = torch.arange(27, dtype=torch.float32).reshape(3, 3, 3)  # 9z + 3y + x
    linear = ramp.reshape(1, 27, 1).repeat(1, 1, 4)
    resized = resize_position_embedding(linear, 64)[0, :, 0].reshape(4, 4, 4)
    # interior steps of the 4³ grid are 3/4 of the 3³ grid's (the edges are clamped)
    assert float(resized[2, 1, 1] - resized[1, 1, 1]) == pytest.approx(9 * 0.75)
    assert float(resized[1, 2, 1] - resized[1, 1, 1]) == pytest.approx(3 * 0.75)
    assert float(resized[1, 1, 2] - resized[1, 1, 1]) == pytest.approx(1 * 0.75)
    assert resize_position_embedding(torch.zeros(1, 10, 4), 64) is None  # not a cubic grid


def test_a_one_zone_run_holds_only_its_zone_in_memory_but_caches_every_zone(tmp_path):
    from lungtumorseg.training.config import TrainConfig
    from lungtumorseg.training.run import prepare_all

    data = tmp_path / "data"
    write_msd_dataset(data, 3, 710, tiny_phantom_config())
    cases = discover_cases(data)
    cfg = TrainConfig(spacing_mm=[4.0, 4.0, 4.0], lung_channel=True)
    upper = prepare_all(cases, cfg, tmp_path / "work", lambda line: None, workers=1, faint_copies=1, zones=["upper"])
    assert upper and all(list(p.zones) == ["upper"] for p in upper)
    cached = sorted((tmp_path / "work").glob("cache-*/lung_*.npz"))
    assert len(cached) == len(cases)
    with np.load(cached[0]) as arrays:
        assert {f"{z}_image" for z in cfg.zones} <= set(arrays.files)
    # From the cache, every zone again; the faint copies are those of a full run (cases with
    # tumour in any zone), whichever zone a run keeps.
    full = prepare_all(cases, cfg, tmp_path / "work", lambda line: None, workers=1, faint_copies=1)
    assert all(list(p.zones) == list(cfg.zones) for p in full)
    assert [p.name for p in full] == [p.name for p in upper]
    assert any("~faint" in p.name for p in full)
    for a, b in zip(upper, full):
        assert np.array_equal(a.zones["upper"].image, b.zones["upper"].image)


def test_collecting_zones_trained_in_parallel_loads_no_crops_of_finished_zones(tmp_path, monkeypatch):
    """Zones trained by separate ``--zone`` runs are collected into the package by a run
    without ``--zone``; it must not load their crops (at 1.0 mm all three zones of 60 cases
    would take ~15 GB) and must write exactly the weights the zone runs kept."""
    import torch

    from lungtumorseg.training import run as run_module

    data = tmp_path / "data"
    write_msd_dataset(data, 3, 720, tiny_phantom_config())
    out, work = tmp_path / "model", tmp_path / "work"
    args = ["train", str(data), "-o", str(out), "--workdir", str(work), "--steps", "1", "--val-every", "1",
            "--roi", "32", "--spacing", "4", "--threads", "1", "--seed", "5", "--lung-channel"]
    for zone in ("upper", "middle", "lower"):
        assert main(args + ["--zone", zone]) == 0
    assert not out.exists()  # a subset of zones writes no package

    kept_zones = []
    real_prepare_all = run_module.prepare_all

    def recording_prepare_all(*a, **kw):  # a spy: the real preparation runs
        kept_zones.append(kw.get("zones"))
        return real_prepare_all(*a, **kw)

    monkeypatch.setattr(run_module, "prepare_all", recording_prepare_all)
    assert main(args) == 0
    assert kept_zones == [[], []]  # training and validation cases: no zone's crops held
    log = (work / "train.log").read_text()
    assert "already trained: their crops are not loaded" in log
    package = load_package(out)
    package.verify_all()
    for zone in ("upper", "middle", "lower"):
        best = torch.load(work / "checkpoints" / f"{zone}.pt", map_location="cpu", weights_only=True)["best_state"]
        written = package.load_network(zone, "cpu").state_dict()
        # Packages store float16 weights (models/package.py): compare at that precision.
        assert all(torch.equal(written[k], best[k].half().float()) for k in best)

    # More steps: every zone is pending again and its crops are loaded.
    kept_zones.clear()
    assert main(args[:7] + ["2"] + args[8:]) == 0
    assert kept_zones[0] == ["upper", "middle", "lower"]


def test_synthetic_tumour_copies_add_new_labelled_tumours_to_every_case(tmp_path):
    """``--synthetic-copies``: each training case (with tumour or not) gets copies with new
    tumours drawn into its lungs (training.insertion); the copies are marked so mining skips
    them, and are cached apart from the originals under their parameters."""
    from lungtumorseg.training.config import TrainConfig
    from lungtumorseg.training.run import prepare_all

    data = tmp_path / "data"
    write_msd_dataset(data, 2, 720, tiny_phantom_config())
    cases = discover_cases(data)
    cfg = TrainConfig(spacing_mm=[4.0, 4.0, 4.0], lung_channel=True, synthetic_copies=2)
    prepared = prepare_all(cases, cfg, tmp_path / "work", lambda line: None, workers=1, synthetic_copies=2)
    names = [p.name for p in prepared]
    assert names[:2] == [c.name for c in cases]
    assert sorted(names[2:]) == sorted(f"{c.name}~synthetic{k}" for c in cases for k in (1, 2))
    by_name = {p.name: p for p in prepared}
    for case in cases:
        original = by_name[case.name]
        tumour_original = sum(int(z.label.sum()) for z in original.zones.values())
        for k in (1, 2):
            copy = by_name[f"{case.name}~synthetic{k}"]
            assert all(z.is_copy for z in copy.zones.values())
            assert sum(int(z.label.sum()) for z in copy.zones.values()) > tumour_original
        assert not any(z.is_copy for z in original.zones.values())
    one, two = by_name[f"{cases[0].name}~synthetic1"], by_name[f"{cases[0].name}~synthetic2"]
    assert not np.array_equal(one.zones["upper"].label, two.zones["upper"].label) or \
        not np.array_equal(one.zones["lower"].label, two.zones["lower"].label)
    assert len(list((tmp_path / "work").glob("cache-*/synthetic-*/*~synthetic*.npz"))) == 4
    # From the cache: the same copies again
    again = prepare_all(cases, cfg, tmp_path / "work", lambda line: None, workers=1, synthetic_copies=2)
    assert [p.name for p in again] == names
    assert np.array_equal(again[2].zones["middle"].image, prepared[2].zones["middle"].image)


def test_synthetic_kind_weights_reach_the_training_configuration(tmp_path, capsys):
    """``--synthetic-kind-weights``: the real parser's values become the copies' kind weights
    (and the card's training config); weights no tumour kind can be drawn from, or weights
    without copies to weight, are refused before any data is read."""
    from lungtumorseg.cli import build_parser, train_config

    base = ["train", str(tmp_path), "-o", str(tmp_path / "m")]
    cfg = train_config(build_parser().parse_args(base + ["--synthetic-copies", "2",
                                                         "--synthetic-kind-weights", "0.25", "0.5", "0.25"]))
    assert cfg.synthetic_copies == 2 and cfg.synthetic_kind_weights == [0.25, 0.5, 0.25]
    assert cfg.synthetic_tumours().kind_weights == (0.25, 0.5, 0.25)
    assert cfg.to_dict()["synthetic_kind_weights"] == [0.25, 0.5, 0.25]
    assert train_config(build_parser().parse_args(base)).synthetic_kind_weights == [0.4, 0.3, 0.3]
    assert main(base + ["--synthetic-copies", "1", "--synthetic-kind-weights", "0", "0", "0"]) != 0
    assert "--synthetic-kind-weights" in capsys.readouterr().err
    assert main(base + ["--synthetic-kind-weights", "0.2", "0.5", "0.3"]) != 0
    assert "needs --synthetic-copies" in capsys.readouterr().err
    assert not (tmp_path / "m.work").exists()  # refused before the work folder is made


def test_synthetic_tumour_sizes_and_counts_reach_the_copies(tmp_path, capsys):
    """``--synthetic-diameter-mm`` and ``--synthetic-per-copy``: the real parser's values become
    the copies' size law and tumour count, the copies' tumours then stay inside that range,
    and an impossible range or a size without copies is refused, naming the flag."""
    import numpy as np
    from lungtumorseg.cli import build_parser, train_config

    base = ["train", str(tmp_path), "-o", str(tmp_path / "m")]
    cfg = train_config(build_parser().parse_args(base + ["--synthetic-copies", "2", "--synthetic-diameter-mm",
                                                         "5", "8", "20", "--synthetic-per-copy", "3", "6"]))
    spec = cfg.synthetic_tumours()
    assert (spec.diameter_mm, spec.median_diameter_mm, spec.per_copy) == ((5.0, 20.0), 8.0, (3, 6))
    assert cfg.to_dict()["synthetic_diameter_range_mm"] == [5.0, 20.0]
    rng = np.random.default_rng(34)
    plans = [spec.plan(rng) for _ in range(400)]
    assert {len(p) for p in plans} == {3, 4, 5, 6}
    sizes = np.array([t["diameter_mm"] for p in plans for t in p])
    assert sizes.min() >= 5.0 and sizes.max() <= 20.0
    assert 7.0 < float(np.median(sizes)) < 9.0
    assert (sizes < 10.0).mean() > 0.55  # mostly small nodules, unlike the default law (median 14 mm)
    default = train_config(build_parser().parse_args(base)).synthetic_tumours()
    assert (default.diameter_mm, default.median_diameter_mm, default.per_copy) == ((6.0, 40.0), 14.0, (2, 4))
    assert main(base + ["--synthetic-copies", "1", "--synthetic-diameter-mm", "10", "8", "20"]) != 0
    assert "--synthetic-diameter-mm" in capsys.readouterr().err
    assert main(base + ["--synthetic-per-copy", "2", "3"]) != 0
    assert "--synthetic-per-copy needs --synthetic-copies" in capsys.readouterr().err
    assert not (tmp_path / "m.work").exists()  # refused before the work folder is made


def test_mined_false_positives_are_cached_per_weights_and_crops(tmp_path):
    """Mining costs an inference pass over every training crop (~27 min per zone for the card's
    recipe): a second run from the same weights on the same crops reads it back instead, and any
    change to the weights, the crops or the threshold mines again."""
    import torch

    from lungtumorseg.models.network import build_unetr, reduced_unetr_config
    from lungtumorseg.training.mining import cached_false_positives, mine_false_positives

    torch.manual_seed(0)
    net = build_unetr({**reduced_unetr_config(16), "hidden_size": 48, "mlp_dim": 96}).eval()
    with torch.no_grad():
        net.out.conv.conv.bias.copy_(torch.tensor([-1.0, 1.0]))  # leans to "tumour": some false positives
    rng = np.random.default_rng(1)
    crops = [ZoneCrop(rng.normal(size=(1, 20, 24, 24)).astype(np.float16), np.zeros((20, 24, 24), np.uint8), (2, 17))
             for _ in range(2)]
    crops[1].label[5:9, 5:9, 5:9] = 1
    passes = []
    net.register_forward_hook(lambda *_: passes.append(1))
    cache = tmp_path / "mined"

    first, source = cached_false_positives(net, crops, (16, 16, 16), "cpu", 0.5, cache)
    assert source is None and passes and len(list(cache.glob("mined-*.npz"))) == 1
    fresh = mine_false_positives(net, crops, (16, 16, 16), "cpu", 0.5)
    assert sum(len(v) for v in fresh) > 0
    assert all(np.array_equal(a, b) for a, b in zip(first, fresh))

    passes.clear()
    again, source = cached_false_positives(net, crops, (16, 16, 16), "cpu", 0.5, cache)
    assert not passes and source is not None and source.parent == cache  # read, not mined
    assert all(np.array_equal(a, b) for a, b in zip(again, fresh))

    crops[0].label[10:12, 10:12, 10:12] = 1  # another label: mined again
    cached_false_positives(net, crops, (16, 16, 16), "cpu", 0.5, cache)
    assert passes and len(list(cache.glob("mined-*.npz"))) == 2
    passes.clear()
    cached_false_positives(net, crops, (16, 16, 16), "cpu", 0.7, cache)  # another threshold
    with torch.no_grad():
        net.out.conv.conv.bias.add_(0.1)  # other weights
    cached_false_positives(net, crops, (16, 16, 16), "cpu", 0.7, cache)
    assert len(list(cache.glob("mined-*.npz"))) == 4 and not list(cache.glob("*.partial*"))
