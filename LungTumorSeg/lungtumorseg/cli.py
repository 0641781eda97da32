"""``lungtumorseg`` command line: predict, demo, phantom, train, install, relabel, info, evaluate.

Every user error ends with a one-line ``error: ...`` on stderr and a non-zero exit code
(2 bad input or model, 130 interrupted); outputs are written only when a run completes.
What the core logs (``logging``, INFO and up: e.g. which series of a DICOM folder was read)
is printed on stderr as one ``note: ...`` or ``warning: ...`` line each.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Iterator, Sequence

# Idle OpenMP threads sleep instead of spinning (set before torch is imported; a user's own
# setting wins). On 2 cores with another busy process, the example's inference took 194 s
# with spinning threads and 25 s with sleeping ones; on an idle machine both ~16 s.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from . import __version__
from .errors import CancelledError, LungTumorSegError
from .precision import PRECISIONS

if TYPE_CHECKING:  # the training stack (torch) is imported only by the commands that need it
    from .training.config import TrainConfig

EXIT_USER_ERROR = 2
EXIT_INTERRUPTED = 130


def _add_predict(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("predict", help="segment lung tumours in a CT (file or DICOM folder)")
    p.add_argument("input", type=Path, help="CT image: NIfTI, NRRD, MHA or a DICOM series folder")
    p.add_argument("-o", "--output", type=Path, required=True, help="lesion label image to write (0 background, 1..N lesions)")
    p.add_argument("--model", type=Path, default=None, help="model package folder (default: the shipped demo package)")
    p.add_argument("--threshold", type=float, default=None, help="probability threshold (default: the model card's)")
    p.add_argument("--min-lesion-mm3", type=float, default=None, help="drop lesions smaller than this (default: card)")
    p.add_argument("--min-peak-probability", type=float, default=None,
                   help="keep a lesion only if its highest probability reaches this (default: card)")
    p.add_argument("--max-elongation", type=float, default=None,
                   help="drop tube-shaped findings (vessels) more elongated than this; 1 = sphere (default: card)")
    p.add_argument("--max-mean-hu", type=float, default=None,
                   help="drop findings denser on average than this (bone, calcification, contrast-filled vessels); "
                        "inf = no limit (default: card)")
    p.add_argument("--no-zone-limits", action="store_true",
                   help="do not apply the card's zone limits (extra limits for lesions in one zone, e.g. a larger "
                        "minimum volume in the hilar middle zone)")
    p.add_argument("--no-outline-growth", action="store_true",
                   help="keep the thresholded outlines: do not grow the kept lesions into tumour-edge density "
                        "(the card's outline_growth)")
    p.add_argument("--no-candidate-check", action="store_true",
                   help="keep every candidate the limits keep: do not let the package's candidate classifier "
                        "(a second look at the image around each candidate) reject any")
    p.add_argument("--candidate-cutoff", type=float, default=None, metavar="C",
                   help="the candidate classifier's cut-off (0..1) instead of the model card's: lower keeps more "
                        "candidates (more sensitive, more false findings); each lesion's score is in the report")
    p.add_argument("--no-magnified-look", action="store_true",
                   help="skip the card's magnified second look (the networks shown the CT larger for small "
                        "nodules, confirmed by the candidate classifier): faster, fewer small nodules found")
    p.add_argument("--zone-overlap-mm", type=float, default=None, help="blend width between zones (default: card)")
    p.add_argument("--threads", type=int, default=None, help="CPU threads for torch")
    p.add_argument("--device", default="cpu",
                   help="where the zone networks run: cpu (default), cuda or cuda:N (a CUDA GPU torch can see; "
                        "the probability map is still assembled in CPU memory)")
    p.add_argument("--report", type=Path, default=None, help="write the lesion report (JSON)")
    p.add_argument("--probabilities", type=Path, default=None, help="also write the tumour probability map")
    p.add_argument("--probability-percent", action="store_true",
                   help="write the probability map in whole percent (uint8 0-100, rounded down: a quarter of the "
                        "size, same lesions for thresholds in whole percent)")
    p.add_argument("--magnified-probabilities", type=Path, default=None,
                   help="also write the magnified look's own map (in whole percent with --probability-percent): "
                        "relabel needs it to repeat a card's join of the magnified components touching the lesions")
    p.add_argument("--progress", choices=["bar", "lines", "none"], default="bar", help="progress display")


def _add_phantom(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("phantom", help="write synthetic chest CT phantoms with tumour masks")
    p.add_argument("outdir", type=Path)
    p.add_argument("--cases", type=int, default=1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--size", choices=["small", "full"], default="full")
    p.add_argument("--msd", action="store_true", help="write a Medical Segmentation Decathlon layout data set")
    p.add_argument("--full-every", type=int, default=0, help="with --msd and --size small: every k-th case full size")
    p.add_argument("--workers", type=int, default=1, help="parallel processes")
    p.add_argument("--kind-weights", type=float, nargs=3, default=None, metavar=("SOLID", "PART", "GGO"),
                   help="relative frequency of solid, part-solid and ground-glass tumours "
                        "(default 0.65 0.2 0.15)")


def _add_train(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train one UNETR per zone on MSD-layout data and write a model package")
    p.add_argument("data", type=Path, help="MSD folder (dataset.json, imagesTr, labelsTr) or images/labels folders")
    p.add_argument("-o", "--output", type=Path, required=True, help="model package folder to write")
    p.add_argument("--workdir", type=Path, default=None, help="cache + checkpoints (default: <output>.work)")
    p.add_argument("--device", default="cpu",
                   help="where training runs: cpu (default), cuda or cuda:N (a CUDA GPU torch can see); "
                        "on cuda the defaults are the standard UNETR and a longer schedule")
    p.add_argument("--name", default=None)
    p.add_argument("--version", dest="model_version", default=None)
    p.add_argument("--description", default=None)
    p.add_argument("--demo", action="store_true", help="mark the package as a demonstration (synthetic data)")
    p.add_argument("--single-model", action="store_true", help="one UNETR for the whole thorax instead of three zones")
    p.add_argument("--steps", type=int, default=None, help="training steps per zone")
    p.add_argument("--max-minutes", type=float, default=None, help="time budget per zone")
    p.add_argument("--batch-size", type=int, default=None)
    p.add_argument("--lr", type=float, default=None)
    p.add_argument("--roi", type=int, default=None, help="cubic patch size (multiple of 16)")
    p.add_argument("--feature-size", type=int, default=None,
                   help="width of UNETR's convolutional encoder/decoder (CPU default 8, GPU 16); with --init-from "
                        "a different width keeps the transformer weights and starts the convolutions fresh")
    p.add_argument("--spacing", type=float, default=None, help="isotropic model grid spacing in mm (default 1.5)")
    p.add_argument("--lung-channel", action="store_true", help="give the network the lung mask as a second input channel")
    p.add_argument("--blob-channel", action="store_true",
                   help="give the network a nodule-enhancement channel (multi-scale Hessian blob filter) as its "
                        "last input channel; with --init-from a model without it, the channel's weights start at zero")
    p.add_argument("--hard-negatives", choices=["lung", "dense"], default=None,
                   help="with --lung-channel: centre hard-negative patches on any lung voxel, or only on dense "
                        "lung structures (vessels, fissures) that look like nodules in one slice (default lung)")
    p.add_argument("--positive-ratio", type=float, default=None,
                   help="fraction of patches centred on tumour (default 0.5)")
    p.add_argument("--positive-sampling", choices=["voxel", "lesion"], default=None,
                   help="centre tumour patches on any tumour voxel of a case (voxel, the default: large masses "
                        "dominate) or on a lesion drawn uniformly, then a voxel in it (lesion: small and faint "
                        "nodules are seen as often as large ones)")
    p.add_argument("--faint-copies", type=int, default=None, metavar="N",
                   help="add N faint-tumour copies of every training case with tumour: its tumours faded towards "
                        "the surrounding lung (ground-glass look, some with a solid core), so the faint nodules a "
                        "network misses are seen more often (default 0)")
    p.add_argument("--loss", choices=("dice-ce", "tversky-ce"), default=None,  # training.losses.LOSSES (not imported: torch)
                   help="dice-ce (default): MONAI Dice + cross-entropy; tversky-ce: Tversky + cross-entropy with "
                        "false negatives weighted by --tversky-beta (fuller outlines, more recall)")
    p.add_argument("--tversky-beta", type=float, default=None,
                   help="with --loss tversky-ce: weight of false negatives, 0.5-1 favours recall (default 0.7)")
    p.add_argument("--keep-weights", choices=("best", "last"), default=None,
                   help="best (default): the weights of the best validation Dice; last: the final step's, no "
                        "early stopping (for a loss that moves probabilities away from validation's 0.5 level)")
    p.add_argument("--synthetic-copies", type=int, default=None, metavar="N",
                   help="add N synthetic-tumour copies of every training case: 2-4 new tumours of the phantom "
                        "engine's model (solid / part-solid / ground-glass 40/30/30 %%, median 14 mm) drawn into "
                        "its lungs, so the network sees many more tumours than the data set has (default 0)")
    p.add_argument("--synthetic-kind-weights", type=float, nargs=3, default=None, metavar=("SOLID", "PART", "GGO"),
                   help="with --synthetic-copies: relative frequency of solid, part-solid and ground-glass "
                        "synthetic tumours (default 0.4 0.3 0.3)")
    p.add_argument("--synthetic-diameter-mm", type=float, nargs=3, default=None, metavar=("LOW", "MEDIAN", "HIGH"),
                   help="with --synthetic-copies: the copies' tumour diameters, log-normal around MEDIAN and "
                        "clipped to LOW-HIGH mm (default 6 14 40; e.g. 5 8 20 for mostly small nodules)")
    p.add_argument("--synthetic-per-copy", type=int, nargs=2, default=None, metavar=("LOW", "HIGH"),
                   help="with --synthetic-copies: how many tumours each copy gets, drawn uniformly (default 2 4)")
    p.add_argument("--fresh-tumours", type=float, default=None, metavar="RATIO", dest="fresh_tumour_ratio",
                   help="with --lung-channel: cut this fraction of patches around a tumour drawn into a training "
                        "case's lungs as the patch is sampled (the law of --synthetic-copies' tumours), so the "
                        "network never sees the same drawn tumour twice (default 0)")
    p.add_argument("--lung-ratio", type=float, default=None,
                   help="with --lung-channel: fraction of hard-negative patches (default 0.3)")
    p.add_argument("--mine-negatives", type=float, default=None, metavar="RATIO", dest="mined_ratio",
                   help="with --init-from: centre this fraction of patches on the starting model's false "
                        "positives on the training crops (one inference pass before training)")
    p.add_argument("--val-every", type=int, default=None)
    p.add_argument("--fold", type=int, default=None, help="5-fold cross-validation fold (0-4)")
    p.add_argument("--seed", type=int, default=None, help="seed of weights, sampling and augmentation")
    p.add_argument("--split-seed", type=int, default=None,
                   help="seed of the train/validation split (default 0); keep it the same in every stage of a recipe")
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--precision", choices=list(PRECISIONS), default=None,
                   help="fp32 (default) or bf16: training forward passes under bfloat16 autocast, weights and "
                        "loss in float32 (on a CPU with AVX-512 BF16 or AMX a step takes about half the time; "
                        "validation stays float32)")
    p.add_argument("--init-from", type=Path, default=None, help="start from this package's weights (fine-tuning)")
    p.add_argument("--zone", action="append", default=None, help="train only this zone (repeatable); "
                   "zones can be trained by parallel processes, then a run without --zone writes the package")
    p.add_argument("--prepare-only", action="store_true", help="only prepare (cache) the zone crops")


def checked_device(name: str) -> str:
    """``--device`` checked before any work (see :func:`lungtumorseg.inference.resolve_device`), as
    torch spells it: a wrong or unavailable device is the one-line user error of :func:`main`,
    not a traceback from the first network call."""
    from .inference import resolve_device

    try:
        return str(resolve_device(name))
    except LungTumorSegError as error:
        raise LungTumorSegError(f"--device: {error}") from None


def _run_predict(args: argparse.Namespace) -> int:
    from .console import TerminalProgress
    from .io import read_image, write_image, write_text_atomic
    from .models.package import default_package_dir, load_package
    from .pipeline import SegmentOptions, segment

    device = checked_device(args.device)
    package = load_package(args.model or default_package_dir())
    if args.magnified_probabilities and (package.card.magnified_look is None or args.no_magnified_look):
        raise ValueError("--magnified-probabilities: the magnified look does not run ("
                         + ("--no-magnified-look given" if args.no_magnified_look else
                            f"{package.card.name} {package.card.version} has none") + ")")
    package.verify_all()
    if package.card.is_demo:
        print(f"note: model {package.card.name}: {package.card.warning}", file=sys.stderr)
    image = read_image(args.input)
    progress = TerminalProgress(args.progress)
    result = segment(
        image,
        package,
        SegmentOptions(args.threshold, args.min_lesion_mm3, args.zone_overlap_mm, args.threads, device,
                       args.min_peak_probability, args.max_elongation, args.max_mean_hu,
                       zone_limits=not args.no_zone_limits, outline_growth=not args.no_outline_growth,
                       candidate_check=not args.no_candidate_check, candidate_cutoff=args.candidate_cutoff,
                       magnified_look=not args.no_magnified_look),
        progress,
    )
    write_image(result.labels, args.output)
    if args.probabilities:
        from .relabel import probability_to_percent

        write_image(probability_to_percent(result.probability) if args.probability_percent else result.probability,
                    args.probabilities)
    if args.magnified_probabilities:
        import SimpleITK as sitk

        from .relabel import probability_to_percent

        magnified = result.magnified_probability
        if magnified is None:  # no lungs (in either look): an empty map, so a relabel joins nothing
            magnified = sitk.Image(result.probability.GetSize(), sitk.sitkFloat32)
            magnified.CopyInformation(result.probability)
        write_image(probability_to_percent(magnified) if args.probability_percent else magnified,
                    args.magnified_probabilities)
    if args.report:
        write_text_atomic(json.dumps(result.report(str(args.input), package), indent=2) + "\n", args.report)
    stream = sys.stderr if args.progress == "bar" else sys.stdout
    print(result.message, file=stream, flush=True)
    for lesion in result.lesions:
        print(f"  {lesion.summary()}", file=stream)
    return 0


def _run_phantom(args: argparse.Namespace) -> int:
    from .phantoms import PhantomConfig, make_phantom, write_case, write_msd_dataset

    cfg = PhantomConfig(size=args.size)
    if args.kind_weights is not None:
        cfg.tumour_kind_weights = tuple(args.kind_weights)
    cfg.validate()  # a ValueError is the one-line user error of main()
    if args.msd:
        write_msd_dataset(args.outdir, args.cases, args.seed, cfg,
                          progress=lambda i, n: print(f"phantom {i}/{n}", file=sys.stderr, flush=True),
                          workers=args.workers, full_every=args.full_every)
    else:
        for i in range(args.cases):
            seed = args.seed + i
            write_case(make_phantom(seed, cfg), args.outdir, f"phantom_{seed:05d}")
            print(f"phantom {i + 1}/{args.cases} (seed {seed})", file=sys.stderr, flush=True)
    print(f"wrote {args.cases} phantom case(s) to {args.outdir}")
    return 0


def train_config(args: argparse.Namespace) -> TrainConfig:
    """The training configuration ``lungtumorseg train``'s arguments ask for; a contradictory or
    out-of-range choice is refused here, before any data is read."""
    from .training.config import TrainConfig
    from .enhance import BlobFilter
    from .preprocess import input_channel_names
    from .models.network import reduced_unetr_config, standard_unetr_config

    device = checked_device(args.device)
    cfg = TrainConfig.for_device(
        device,
        name=args.name, version=args.model_version, description=args.description,
        steps=args.steps, max_minutes=args.max_minutes, batch_size=args.batch_size, lr=args.lr,
        val_every=args.val_every, fold=args.fold, hard_negatives=args.hard_negatives, seed=args.seed,
        split_seed=args.split_seed, threads=args.threads,
        init_from=str(args.init_from) if args.init_from else None,
        positive_ratio=args.positive_ratio, lung_ratio=args.lung_ratio, mined_ratio=args.mined_ratio,
        positive_sampling=args.positive_sampling, faint_copies=args.faint_copies, precision=args.precision,
        synthetic_copies=args.synthetic_copies, loss=args.loss, tversky_beta=args.tversky_beta,
        keep_weights=args.keep_weights,
        synthetic_kind_weights=list(args.synthetic_kind_weights) if args.synthetic_kind_weights else None,
        synthetic_median_diameter_mm=args.synthetic_diameter_mm[1] if args.synthetic_diameter_mm else None,
        synthetic_diameter_range_mm=([args.synthetic_diameter_mm[0], args.synthetic_diameter_mm[2]]
                                     if args.synthetic_diameter_mm else None),
        synthetic_per_copy=list(args.synthetic_per_copy) if args.synthetic_per_copy else None,
        fresh_tumour_ratio=args.fresh_tumour_ratio,
    )
    for count, flag in ((cfg.faint_copies, "--faint-copies"), (cfg.synthetic_copies, "--synthetic-copies")):
        if count < 0:
            raise LungTumorSegError(f"{flag} must be 0 or more")
    try:
        cfg.synthetic_tumours()  # refuses bad kind weights, diameters or counts, before any work
    except ValueError as error:
        raise LungTumorSegError(f"synthetic tumours (--synthetic-kind-weights, --synthetic-diameter-mm, "
                                f"--synthetic-per-copy): {error}") from None
    for given, flag in ((args.synthetic_kind_weights, "--synthetic-kind-weights"),
                        (args.synthetic_diameter_mm, "--synthetic-diameter-mm"),
                        (args.synthetic_per_copy, "--synthetic-per-copy")):
        if given and not (cfg.synthetic_copies or cfg.fresh_tumour_ratio):
            raise LungTumorSegError(f"{flag} needs --synthetic-copies or --fresh-tumours: it describes their tumours")
    for name, flag in (("positive_ratio", "--positive-ratio"), ("lung_ratio", "--lung-ratio"),
                       ("mined_ratio", "--mine-negatives"), ("fresh_tumour_ratio", "--fresh-tumours")):
        if not 0.0 <= getattr(cfg, name) <= 1.0:
            raise LungTumorSegError(f"{flag} must be between 0 and 1")
    if cfg.mined_ratio and not cfg.init_from:
        raise LungTumorSegError("--mine-negatives needs --init-from: it mines the starting model's false positives")
    if cfg.positive_ratio + cfg.lung_ratio + cfg.mined_ratio > 1.0:
        raise LungTumorSegError(
            f"--positive-ratio ({cfg.positive_ratio}), --lung-ratio ({cfg.lung_ratio}) and --mine-negatives "
            f"({cfg.mined_ratio}) together must not exceed 1; lower one of them")
    if args.demo:
        cfg.demo = True
    if args.single_model:
        cfg.zones = ["whole"]
    if args.spacing:
        cfg.spacing_mm = [float(args.spacing)] * 3
    if args.roi:
        if args.roi % 16:
            raise LungTumorSegError("--roi must be a multiple of 16 (UNETR's patch size)")
        make = standard_unetr_config if device.startswith("cuda") else reduced_unetr_config
        cfg.network = make(args.roi)
    if args.feature_size:  # after --roi, which replaces the network section
        if args.feature_size < 1 or args.feature_size % 4:
            raise LungTumorSegError("--feature-size must be a positive multiple of 4")
        cfg.network["feature_size"] = int(args.feature_size)
    if args.lung_channel:  # after --roi, which replaces the network section
        cfg.lung_channel = True
    if args.blob_channel:
        cfg.blob_channel = BlobFilter().to_card()
    cfg.network["in_channels"] = len(input_channel_names(cfg.lung_channel, cfg.blob_channel is not None))
    if cfg.fresh_tumour_ratio and not cfg.lung_channel:
        raise LungTumorSegError("--fresh-tumours needs --lung-channel: fresh tumours are placed inside the lung prior")
    if cfg.fresh_tumour_ratio >= 1.0:
        raise LungTumorSegError("--fresh-tumours must be below 1: the other patches hold the cases' own tumours "
                                "and backgrounds")
    return cfg


def _run_train(args: argparse.Namespace) -> int:
    from .training.run import run_training

    cfg = train_config(args)
    workdir = args.workdir or args.output.with_name(args.output.name + ".work")
    workdir.mkdir(parents=True, exist_ok=True)
    log_file = open(workdir / "train.log", "a", encoding="utf-8")

    def log(message: str) -> None:
        print(message, flush=True)
        print(message, file=log_file, flush=True)

    command = "lungtumorseg " + " ".join(args.argv)
    try:
        run_training(args.data, args.output, workdir, cfg, log, command, args.zone, args.prepare_only)
    finally:
        log_file.close()
    return 0


def _run_install(args: argparse.Namespace) -> int:
    from .models.install import install_from_folder, install_from_url

    source = str(args.source)
    if "://" in source:
        def progress(done: int, total: int) -> None:
            if total > 0:
                print(f"\rdownloading {100 * min(done, total) / total:5.1f}%", end="", file=sys.stderr, flush=True)

        package = install_from_url(source, args.dest, progress, overwrite=args.overwrite, sha256=args.sha256)
        print(file=sys.stderr)
    else:
        if args.sha256:
            raise LungTumorSegError("--sha256 checks a downloaded archive; a folder's weights are checked against "
                                    "its card anyway. Leave --sha256 out for a folder.")
        package = install_from_folder(source, args.dest, overwrite=args.overwrite)
    print(f"installed {package.card.name} {package.card.version} to {package.path} (weights verified)")
    if package.card.is_demo:
        print(f"note: {package.card.warning}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lungtumorseg",
        description="Region-wise UNETR lung tumour segmentation for chest CT (LungTumorSeg).",
    )
    parser.add_argument("--version", action="version", version=f"lungtumorseg {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    _add_predict(sub)
    _add_phantom(sub)
    _add_train(sub)
    install = sub.add_parser("install", help="verify and install a model package from a folder or a zip URL")
    install.add_argument("source", help="package folder, or URL of a zip holding one package")
    install.add_argument("--dest", type=Path, default=None, help="models folder (default: $LUNGTUMORSEG_MODELS or ~/.lungtumorseg/models)")
    install.add_argument("--overwrite", action="store_true",
                         help="replace an installed package of the same name (otherwise refused)")
    install.add_argument("--sha256", default=None, metavar="HEX",
                         help="the SHA-256 published for the zip; the download is refused if it differs")
    from .cli_demo import add_demo_parser
    from .cli_info import add_info_parser
    from .cli_relabel import add_relabel_parser

    add_demo_parser(sub)
    add_relabel_parser(sub)
    add_info_parser(sub)
    # evaluate needs nothing beyond the core's own dependencies (matplotlib, for its figures, is
    # imported only when they are drawn), so a failing import here is a bug and must show.
    from .evaluation.cli import add_evaluate_parser

    add_evaluate_parser(sub)
    return parser


def _terminate(signum, frame):  # noqa: ARG001
    raise KeyboardInterrupt


class _StderrNotes(logging.Handler):
    """Prints a core log record on stderr as one line: ``warning: ...`` for a warning or worse,
    ``note: ...`` below. ``sys.stderr`` is looked up per record, so a redirected stderr is used."""

    def emit(self, record: logging.LogRecord) -> None:
        prefix = "warning" if record.levelno >= logging.WARNING else "note"
        print(f"{prefix}: {record.getMessage()}", file=sys.stderr, flush=True)


@contextlib.contextmanager
def _core_messages_on_stderr() -> Iterator[None]:
    """While a command runs, the ``lungtumorseg`` loggers' INFO and higher records go to stderr;
    afterwards the logger is as it was (``main`` may run many times in one process)."""
    logger = logging.getLogger("lungtumorseg")
    handler, level = _StderrNotes(logging.INFO), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(argv)
    args.argv = argv  # recorded in model cards as the exact command
    signal.signal(signal.SIGTERM, _terminate)
    runners = {"predict": _run_predict, "phantom": _run_phantom, "train": _run_train,
               "install": _run_install}
    runner = runners.get(args.command) or getattr(args, "runner", None)
    try:
        with _core_messages_on_stderr():
            return runner(args)
    except (LungTumorSegError, ValueError) as exc:
        if isinstance(exc, CancelledError):
            print(f"error: {exc}", file=sys.stderr)
            return EXIT_INTERRUPTED
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USER_ERROR
    except OSError as exc:  # e.g. an output path that is a folder or not writable
        target = exc.filename2 or exc.filename
        print(f"error: {target}: {exc.strerror or exc}" if target else f"error: {exc}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("error: interrupted; nothing was written", file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
