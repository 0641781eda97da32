"""One segmentation run on a volume node, as a transaction on the MRML scene.

Steps: export the input volume to a temporary file -> run the core's command line out of
process (progress, log, cancel) -> read the label image and the report -> build the
segmentation and lesion table off-scene -> commit them to the scene.

Why a transaction: a failed or cancelled run must leave the scene exactly as it was (no
new nodes, a previous output untouched), and temporary files must not accumulate. All
failure-prone work happens before the scene is touched; the commit itself restores the
previous content if it fails half-way. The input volume node is only read.

No Qt: the Widget drives :class:`SegmentationRun` from a timer, tests and the demo call
:meth:`SegmentationRun.run`.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import SimpleITK as sitk

from lungtumorseg.relabel import MAGNIFIED_JOIN_KEY

from . import kept_probability, model_packages, process_runner, segmentation_writer, volume_bridge

DEFAULT_MODEL_DIR = Path(__file__).resolve().parents[1] / "Resources" / "Models" / "lungtumorseg-demo-phantom"

# Share of the progress bar taken by the child process (the rest: export and import).
_EXPORT_SHARE, _PROCESS_SHARE = 0.03, 0.92


def _package_info(model_dir: str | Path | None) -> model_packages.PackageInfo | None:
    """A model package's description (default package when ``None``); None when unreadable."""
    try:
        return model_packages.read_package(model_dir or DEFAULT_MODEL_DIR)
    except ValueError:
        return None


def lesion_terminology(model_dir: str | Path | None = None) -> str:
    """The serialised lesion terminology of a model package's card (default package when
    ``None``; the lung-neoplasm entry when the card cannot be read or has none)."""
    info = _package_info(model_dir)
    if info is None:
        return segmentation_writer.terminology_string()
    return segmentation_writer.terminology_from_card(info.lesion_terminology)


def card_zone_limits(model_dir: str | Path | None = None) -> dict:
    """The zone limits of a model package's card (default package when ``None``), in the
    card's form ``{"middle": {"min_lesion_mm3": ..., ...}}``; empty when it has none or
    cannot be read."""
    info = _package_info(model_dir)
    return dict(info.zone_limits) if info else {}


def card_outline_growth(model_dir: str | Path | None = None) -> dict | None:
    """The outline growth of a model package's card (default package when ``None``) in the
    card's form ``{"min_hu", "max_hu", "max_distance_mm"}``; None when it has none or cannot
    be read."""
    info = _package_info(model_dir)
    return dict(info.outline_growth) if info and info.outline_growth else None


def card_candidate_cutoff(model_dir: str | Path | None = None) -> float | None:
    """The cut-off of a model package's candidate classifier (default package when ``None``),
    read from its card without loading the classifier; None when it has none or cannot be read."""
    info = _package_info(model_dir)
    return info.candidate_check_cutoff if info else None


def card_magnified_join(model_dir: str | Path | None = None) -> bool:
    """Whether a model package's magnified look joins its touching components to the lesions
    (``magnified_look.join_touching``; default package when ``None``): a run then keeps the
    look's map too, so "update lesions" repeats the join. False when it has no look or cannot be read."""
    info = _package_info(model_dir)
    return bool(info and info.magnified_look and info.magnified_look.get("join_touching", False))


def candidate_check(model_dir: str | Path | None = None, enabled: bool = True, cutoff: float | None = None):
    """The candidate classifier of a model package (default package when ``None``), which
    "update lesions" applies as the run did, at ``cutoff`` (None: its card's); None when the
    card has none, or when ``enabled`` is False ("Candidate check" unchecked: nothing is
    loaded). Loading it needs torch (installed with the module's dependencies); a damaged
    package raises :class:`lungtumorseg.errors.ModelPackageError` naming the file."""
    if not enabled:
        return None
    from lungtumorseg.candidate_check import with_cutoff
    from lungtumorseg.models.package import load_package

    check = load_package(model_dir or DEFAULT_MODEL_DIR).candidate_check()
    return None if check is None else with_cutoff(check, cutoff)


@dataclass
class RunRequest:
    """What to segment and how. ``None`` options mean "the model card's default"."""

    input_volume: object
    model_dir: str | Path | None = None
    threshold: float | None = None
    min_lesion_mm3: float | None = None
    min_peak_probability: float | None = None
    max_elongation: float | None = None  # math.inf = no limit
    max_mean_hu: float | None = None  # math.inf = no limit
    zone_overlap_mm: float | None = None
    threads: int | None = None
    segmentation_node: object | None = None  # reuse (replace segments) when given
    table_node: object | None = None
    output_name: str | None = None
    show3d: bool = False
    keep_probability: bool = True  # keep the probability map for "update lesions" (see kept_probability)
    zone_limits: bool = True  # apply the card's zone limits (False: the general limits alone)
    outline_growth: bool = True  # grow kept lesions' outlines as the card says (False: thresholded outlines)
    candidate_check: bool = True  # let the card's candidate classifier judge the candidates (False: keep them all)
    candidate_cutoff: float | None = None  # its cut-off instead of the card's (None: the card's)
    magnified_look: bool = True  # run the card's magnified second look, when it has one (False: skip it)


@dataclass
class RunResult:
    """Outcome of a successful run."""

    segmentation_node: object
    table_node: object | None
    report: dict
    label_image: sitk.Image
    elapsed_s: float
    created_nodes: list = field(default_factory=list)

    @property
    def lesions(self) -> list[dict]:
        return list(self.report.get("lesions", []))


class SegmentationRun:
    """Drives one run. Use :meth:`start`, then :meth:`poll` until it returns a result
    (or raises), or :meth:`cancel`; or simply :meth:`run` to block."""

    def __init__(self, request: RunRequest,
                 on_progress: Callable[[float, str], None] | None = None,
                 on_log: Callable[[str], None] | None = None,
                 python: str | None = None, temp_root: str | None = None):
        self.request = request
        self.on_progress = on_progress or (lambda fraction, stage: None)
        self.on_log = on_log or (lambda line: None)
        self.python = python
        self.temp_root = temp_root
        self.workdir: Path | None = None
        self.process: process_runner.PredictProcess | None = None
        self.started_at = 0.0
        self.result: RunResult | None = None

    # -- paths -------------------------------------------------------------------------
    @property
    def input_path(self) -> Path:
        return self.workdir / "input.nrrd"

    @property
    def labels_path(self) -> Path:
        return self.workdir / "labels.nrrd"

    @property
    def report_path(self) -> Path:
        return self.workdir / "report.json"

    @property
    def probability_path(self) -> Path:
        return self.workdir / "probability.nrrd"

    @property
    def magnified_path(self) -> Path:
        return self.workdir / "magnified.nrrd"

    # -- lifecycle ---------------------------------------------------------------------
    def start(self) -> None:
        """Export the input volume and start the child process (the scene is not touched)."""
        volume = self.request.input_volume
        if volume is None:
            raise ValueError("select an input volume first")
        self.started_at = time.monotonic()
        self.workdir = Path(tempfile.mkdtemp(prefix="LungTumorSeg-", dir=self.temp_root))
        try:
            self.on_progress(0.0, "exporting the input volume")
            image = volume_bridge.image_from_volume(volume)
            sitk.WriteImage(image, str(self.input_path), useCompression=False)
            options = process_runner.PredictOptions(
                model_dir=str(self.request.model_dir or DEFAULT_MODEL_DIR),
                threshold=self.request.threshold, min_lesion_mm3=self.request.min_lesion_mm3,
                min_peak_probability=self.request.min_peak_probability, max_elongation=self.request.max_elongation,
                max_mean_hu=self.request.max_mean_hu, zone_limits=self.request.zone_limits,
                outline_growth=self.request.outline_growth, candidate_check=self.request.candidate_check,
                candidate_cutoff=self.request.candidate_cutoff if self.request.candidate_check else None,
                magnified_look=self.request.magnified_look, zone_overlap_mm=self.request.zone_overlap_mm, threads=self.request.threads,
                probability_percent_path=str(self.probability_path) if self.request.keep_probability else None,
                magnified_percent_path=str(self.magnified_path) if self._keeps_magnified_map() else None)
            command = process_runner.predict_command(self.input_path, self.labels_path, self.report_path,
                                                     options, python=self.python)
            self.on_log("running: " + " ".join(command[1:]))
            self.process = process_runner.PredictProcess(
                command, env=process_runner.child_environment(self.request.threads),
                on_progress=self._child_progress, on_log=self.on_log)
        except BaseException:
            self._cleanup()
            raise

    def _keeps_magnified_map(self) -> bool:
        """A run keeps the magnified look's map when it keeps its probability map, the look runs
        and the card's look joins its touching components (what "update lesions" must repeat)."""
        return bool(self.request.keep_probability and self.request.magnified_look
                    and card_magnified_join(self.request.model_dir))

    def _child_progress(self, fraction: float, stage: str) -> None:
        self.on_progress(_EXPORT_SHARE + _PROCESS_SHARE * fraction, stage)

    def poll(self) -> RunResult | None:
        """Forward progress; when the child has ended, import its result and return it.

        Raises :class:`process_runner.Cancelled` / :class:`process_runner.ProcessFailed` or
        an import error; in every failure case the scene is unchanged and temp files are gone.
        """
        if self.result is not None:
            return self.result
        if self.process is None:
            raise RuntimeError("start() the run first")
        code = self.process.poll()
        if code is None:
            return None
        try:
            self.process.check(code)
            self.on_progress(_EXPORT_SHARE + _PROCESS_SHARE, "loading the result")
            self.result = self._import_result()
            self.on_progress(1.0, "done")
            return self.result
        finally:
            self._cleanup()

    def cancel(self) -> None:
        """Stop the child process tree and remove temporary files; the scene is untouched."""
        try:
            if self.process is not None:
                self.process.cancel()
        finally:
            self._cleanup()

    def run(self, timeout_s: float | None = None, interval_s: float = 0.1,
            should_cancel: Callable[[], bool] | None = None) -> RunResult:
        """Blocking run (tests, batch). ``should_cancel()`` is polled like a Cancel button."""
        self.start()
        try:
            while True:
                result = self.poll()
                if result is not None:
                    return result
                if should_cancel is not None and should_cancel():
                    self.cancel()
                    raise process_runner.Cancelled("segmentation cancelled")
                if timeout_s is not None and time.monotonic() - self.started_at > timeout_s:
                    self.cancel()
                    raise process_runner.ProcessFailed(
                        f"the segmentation took longer than {timeout_s:.0f} s and was stopped", None)
                time.sleep(interval_s)
        except BaseException:
            self.cancel()  # idempotent: kills a still-running child, removes temp files
            raise

    def _cleanup(self) -> None:
        if self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)

    # -- import ------------------------------------------------------------------------
    def _import_result(self) -> RunResult:
        request = self.request
        volume = request.input_volume
        if not self.labels_path.exists():
            raise process_runner.ProcessFailed("the segmentation process wrote no label image", 0)
        labels = sitk.ReadImage(str(self.labels_path))
        report = json.loads(self.report_path.read_text(encoding="utf-8")) if self.report_path.exists() else {}
        if not volume_bridge.same_grid(labels, volume, tolerance=1e-2):
            raise ValueError("the label image returned by the core is not on the input grid")
        # snap to the exact input geometry (file formats may round the matrix slightly)
        spacing, origin, direction = volume_bridge.geometry_from_matrix(volume_bridge.ijk_to_ras_matrix(volume))
        labels.SetSpacing(spacing)
        labels.SetOrigin(origin)
        labels.SetDirection(direction)
        segmentation = segmentation_writer.build_segmentation(labels, volume, report.get("lesions"),
                                                              terminology=lesion_terminology(request.model_dir))
        table = segmentation_writer.build_table(report.get("lesions", []))
        percent = self._read_probability(labels) if request.keep_probability else None
        joined = bool((report.get("postprocessing") or {}).get(MAGNIFIED_JOIN_KEY))
        if percent is not None and joined and not self._keeps_magnified_map():
            raise process_runner.ProcessFailed(
                "the segmentation process joined the magnified look's map to its lesions, but this run did not ask "
                "for that map (does the model package's card still say so?)", 0)
        magnified = (self._read_probability(labels, self.magnified_path, "magnified look's map")
                     if percent is not None and joined else None)
        zone_limits = card_zone_limits(request.model_dir) if percent is not None else None
        outline_growth = card_outline_growth(request.model_dir) if percent is not None else None
        candidate_cutoff = card_candidate_cutoff(request.model_dir) if percent is not None else None
        model_path = str(Path(request.model_dir or DEFAULT_MODEL_DIR).resolve())

        def keep_or_forget_probability(segmentation_node) -> list:
            if percent is None:
                kept_probability.forget(segmentation_node)
                return []
            return kept_probability.commit_probability(volume.GetScene(), volume, segmentation_node, percent,
                                                       kept_probability.run_record(
                                                           report, zone_limits, outline_growth,
                                                           candidate_cutoff, model_path), magnified)

        previous = kept_probability.kept_run(request.segmentation_node)
        committed = segmentation_writer.commit_with_rollback(
            volume.GetScene(), volume, segmentation, table, request.segmentation_node, request.table_node,
            request.output_name, request.show3d, then=keep_or_forget_probability,
            also_reused=previous.nodes if previous is not None else [])
        kept_probability.remove_unlinked_magnified(committed.segmentation_node, previous)
        return RunResult(committed.segmentation_node, committed.table_node, report, labels,
                         time.monotonic() - self.started_at, committed.created)

    def _read_probability(self, labels: sitk.Image, path: Path | None = None,
                          what: str = "probability map") -> sitk.Image:
        """The child's percent probability map (``path``: another one, e.g. the magnified look's,
        named ``what`` in messages), snapped to the label image's (= input) grid."""
        path = path or self.probability_path
        if not path.exists():
            raise process_runner.ProcessFailed(f"the segmentation process wrote no {what}", 0)
        percent = sitk.ReadImage(str(path))
        if percent.GetSize() != labels.GetSize():
            raise ValueError(f"the {what} returned by the core is not on the input grid")
        if percent.GetPixelID() != sitk.sitkUInt8:
            raise ValueError(f"the {what} returned by the core is not in whole percent (uint8)")
        percent.CopyInformation(labels)
        return percent
