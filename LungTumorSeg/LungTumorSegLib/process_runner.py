"""Run the core pipeline's command line in a separate process, with progress and cancel.

Why out of process: inference takes seconds to minutes; running it in Slicer's GUI thread
would freeze the application, and a Python thread cannot be killed safely. A child
process (Slicer's own Python running ``python -m lungtumorseg.cli predict ...``) keeps
Slicer responsive, reports progress on stdout, and can be cancelled by killing its whole
process tree.

The API is non-blocking (:meth:`PredictProcess.poll`, for a Qt timer) with a blocking
:meth:`PredictProcess.run` for tests and batch use. No Qt here.
"""

from __future__ import annotations

import os
import queue
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

MODULE_DIR = Path(__file__).resolve().parents[1]  # LungTumorSeg/ : holds lungtumorseg/


@dataclass
class PredictOptions:
    """Options of ``lungtumorseg.cli predict`` (None = the model card's default)."""

    model_dir: str | None = None
    threshold: float | None = None
    min_lesion_mm3: float | None = None
    min_peak_probability: float | None = None
    max_elongation: float | None = None  # math.inf = no limit
    max_mean_hu: float | None = None  # math.inf = no limit
    zone_limits: bool = True  # False: --no-zone-limits (the card's general limits alone)
    outline_growth: bool = True  # False: --no-outline-growth (the thresholded outlines)
    candidate_check: bool = True  # False: --no-candidate-check (every candidate the limits keep)
    candidate_cutoff: float | None = None  # --candidate-cutoff: the classifier's cut-off instead of the card's
    magnified_look: bool = True  # False: --no-magnified-look (skip the card's magnified second look)
    zone_overlap_mm: float | None = None
    threads: int | None = None
    probability_percent_path: str | None = None  # also write the probability map here, in whole percent
    # also write the magnified look's own map here, in whole percent (needs probability_percent_path and a look)
    magnified_percent_path: str | None = None
    extra_args: list[str] = field(default_factory=list)


def python_executable() -> str:
    """The Python that runs the core: ``PythonSlicer`` next to the Slicer executable inside
    the application (``sys.executable`` is the Slicer launcher there), else this Python."""
    try:
        import slicer  # noqa: F401

        app = getattr(slicer, "app", None)
        if app is not None:
            bin_dir = Path(app.applicationFilePath()).parent if hasattr(app, "applicationFilePath") else None
            for candidate in ([bin_dir / "PythonSlicer", bin_dir / "PythonSlicer.exe"] if bin_dir else []):
                if candidate.exists():
                    return str(candidate)
            found = shutil.which("PythonSlicer")
            if found:
                return found
    except ImportError:
        pass
    return sys.executable


def predict_command(input_path: str | Path, labels_path: str | Path, report_path: str | Path,
                    options: PredictOptions, python: str | None = None) -> list[str]:
    """The argument vector of one ``predict`` run."""
    cmd = [python or python_executable(), "-m", "lungtumorseg.cli", "predict", str(input_path),
           "-o", str(labels_path), "--report", str(report_path), "--progress", "lines"]
    if options.model_dir:
        cmd += ["--model", str(options.model_dir)]
    if options.threshold is not None:
        cmd += ["--threshold", f"{options.threshold:g}"]
    if options.min_lesion_mm3 is not None:
        cmd += ["--min-lesion-mm3", f"{options.min_lesion_mm3:g}"]
    if options.min_peak_probability is not None:
        cmd += ["--min-peak-probability", f"{options.min_peak_probability:g}"]
    if options.max_elongation is not None:
        cmd += ["--max-elongation", f"{options.max_elongation:g}"]
    if options.max_mean_hu is not None:
        cmd += ["--max-mean-hu", f"{options.max_mean_hu:g}"]
    if not options.zone_limits:
        cmd += ["--no-zone-limits"]
    if not options.outline_growth:
        cmd += ["--no-outline-growth"]
    if not options.candidate_check:
        cmd += ["--no-candidate-check"]
    if options.candidate_cutoff is not None:
        cmd += ["--candidate-cutoff", repr(float(options.candidate_cutoff))]
    if not options.magnified_look:
        cmd += ["--no-magnified-look"]
    if options.zone_overlap_mm is not None:
        cmd += ["--zone-overlap-mm", f"{options.zone_overlap_mm:g}"]
    if options.threads:
        cmd += ["--threads", str(int(options.threads))]
    if options.probability_percent_path:
        cmd += ["--probabilities", str(options.probability_percent_path), "--probability-percent"]
    if options.magnified_percent_path:
        if not options.probability_percent_path:
            raise ValueError("the magnified look's map is written only beside the probability map")
        cmd += ["--magnified-probabilities", str(options.magnified_percent_path)]
    return cmd + list(options.extra_args)


def child_environment(threads: int | None = None, module_dir: Path = MODULE_DIR) -> dict[str, str]:
    """Environment of the child: ``lungtumorseg`` importable, unbuffered output, thread caps."""
    env = dict(os.environ)
    paths = [str(module_dir)] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else [])
    env["PYTHONPATH"] = os.pathsep.join(paths)
    env["PYTHONUNBUFFERED"] = "1"
    # Sleeping, not spinning, idle OpenMP threads: Slicer itself and other programs share the
    # cores (see lungtumorseg.cli); a user's own setting wins.
    env.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    if threads:
        env["OMP_NUM_THREADS"] = str(int(threads))
    return env


@dataclass
class Progress:
    """Latest progress report of the child."""

    fraction: float = 0.0
    stage: str = "starting"


def parse_progress(line: str) -> tuple[float, str] | None:
    """``"PROGRESS 0.42 inference middle zone"`` -> ``(0.42, "inference middle zone")``."""
    parts = line.strip().split(maxsplit=2)
    if len(parts) < 2 or parts[0] != "PROGRESS":
        return None
    try:
        fraction = float(parts[1])
    except ValueError:
        return None
    return min(max(fraction, 0.0), 1.0), (parts[2] if len(parts) > 2 else "")


class ProcessFailed(RuntimeError):
    """The child ended with an error; ``message`` is the person-readable reason."""

    def __init__(self, message: str, returncode: int | None, stderr: str = ""):
        super().__init__(message)
        self.returncode = returncode
        self.stderr = stderr


class Cancelled(RuntimeError):
    """The run was cancelled by the user."""


class PredictProcess:
    """One running child process.

    ``on_progress(fraction, stage)`` and ``on_log(line)`` are called from :meth:`poll`
    (i.e. in the caller's thread — the GUI thread in Slicer), never from reader threads.
    """

    def __init__(self, command: Sequence[str], env: dict[str, str] | None = None,
                 on_progress: Callable[[float, str], None] | None = None,
                 on_log: Callable[[str], None] | None = None, cwd: str | None = None):
        self.command = list(command)
        self.on_progress = on_progress
        self.on_log = on_log
        self.progress = Progress()
        self.log_lines: list[str] = []
        self.stderr_lines: list[str] = []
        self.cancelled = False
        self._lines: "queue.Queue[tuple[str, str | None]]" = queue.Queue()
        kwargs: dict = {}
        if os.name == "posix":
            kwargs["start_new_session"] = True  # own process group: cancel kills the whole tree
        else:
            kwargs["creationflags"] = getattr(subprocess, "CREATE_NEW_PROCESS_GROUP", 0) | getattr(
                subprocess, "CREATE_NO_WINDOW", 0)
        self.process = subprocess.Popen(self.command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                        stdin=subprocess.DEVNULL, env=env, cwd=cwd, text=True,
                                        encoding="utf-8", errors="replace", bufsize=1, **kwargs)
        self._readers = [threading.Thread(target=self._pump, args=(self.process.stdout, "out"), daemon=True),
                         threading.Thread(target=self._pump, args=(self.process.stderr, "err"), daemon=True)]
        for reader in self._readers:
            reader.start()

    def _pump(self, stream, kind: str) -> None:
        for line in iter(stream.readline, ""):
            self._lines.put((kind, line.rstrip("\r\n")))
        self._lines.put((kind, None))

    def _drain(self) -> None:
        while True:
            try:
                kind, line = self._lines.get_nowait()
            except queue.Empty:
                return
            if line is None:
                continue
            if kind == "err":
                self.stderr_lines.append(line)
                if self.on_log:
                    self.on_log(line)
                continue
            parsed = parse_progress(line)
            if parsed is not None:
                self.progress = Progress(*parsed)
                if self.on_progress:
                    self.on_progress(*parsed)
            else:
                self.log_lines.append(line)
                if self.on_log:
                    self.on_log(line)

    def poll(self) -> int | None:
        """Deliver pending output to the callbacks; the exit code once finished, else None."""
        self._drain()
        code = self.process.poll()
        if code is not None:
            for reader in self._readers:
                reader.join(timeout=5)
            self._drain()
        return code

    def cancel(self, grace_s: float = 3.0) -> None:
        """Stop the child and all its descendants (SIGTERM then SIGKILL; taskkill /T on Windows)."""
        self.cancelled = True
        if self.process.poll() is not None:
            return
        if os.name == "posix":
            try:
                os.killpg(self.process.pid, signal.SIGTERM)
            except ProcessLookupError:
                return
            try:
                self.process.wait(timeout=grace_s)
            except subprocess.TimeoutExpired:
                pass
            try:
                os.killpg(self.process.pid, signal.SIGKILL)  # stragglers in the group, too
            except ProcessLookupError:
                pass
        else:
            subprocess.run(["taskkill", "/F", "/T", "/PID", str(self.process.pid)], capture_output=True)
        self.process.wait()

    def error_message(self) -> str:
        """The child's own ``error: ...`` line when there is one, else its last stderr lines."""
        for line in reversed(self.stderr_lines):
            if line.lower().startswith("error:"):
                return line[len("error:"):].strip()
        tail = [l for l in self.stderr_lines if l.strip()][-5:]
        return "\n".join(tail) if tail else f"the segmentation process ended with code {self.process.returncode}"

    def check(self, code: int) -> None:
        """Raise :class:`Cancelled` / :class:`ProcessFailed` for an unsuccessful exit code."""
        if self.cancelled or code == 130:
            raise Cancelled("segmentation cancelled")
        if code != 0:
            raise ProcessFailed(self.error_message(), code, "\n".join(self.stderr_lines))

    def run(self, timeout_s: float | None = None, interval_s: float = 0.1,
            should_cancel: Callable[[], bool] | None = None) -> None:
        """Block until the child ends (polling like the GUI does); raise on failure/cancel."""
        start = time.monotonic()
        while True:
            code = self.poll()
            if code is not None:
                self.check(code)
                return
            if should_cancel is not None and should_cancel():
                self.cancel()
            elif timeout_s is not None and time.monotonic() - start > timeout_s:
                self.cancel()
                raise ProcessFailed(f"the segmentation took longer than {timeout_s:.0f} s and was stopped", None)
            time.sleep(interval_s)
