"""Terminal progress output for the command line (a bar for people, lines for programs).

``lines`` mode prints ``PROGRESS <fraction> <stage>`` on stdout, flushed, one per update:
the Slicer module's out-of-process runner parses exactly this.
"""

from __future__ import annotations

import sys
import time


class TerminalProgress:
    """A progress callback ``(stage, fraction)`` that draws a bar or prints lines."""

    def __init__(self, mode: str = "bar", stream=None):
        self.mode = mode
        self.stream = stream or (sys.stdout if mode == "lines" else sys.stderr)
        self.start = time.perf_counter()
        self.last_stage = ""
        self.last_print = 0.0
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()

    def __call__(self, stage: str, fraction: float) -> None:
        if self.mode == "none":
            return
        if self.mode == "lines":
            print(f"PROGRESS {fraction:.4f} {stage}", file=self.stream, flush=True)
            return
        now = time.perf_counter()
        if not self.tty:
            if stage != self.last_stage:
                print(f"[{now - self.start:6.1f}s] {fraction * 100:5.1f}% {stage}", file=self.stream, flush=True)
                self.last_stage = stage
            return
        if now - self.last_print < 0.1 and fraction < 1.0 and stage == self.last_stage:
            return
        width = 30
        filled = int(round(width * fraction))
        bar = "#" * filled + "-" * (width - filled)
        print(f"\r[{bar}] {fraction * 100:5.1f}% {now - self.start:6.1f}s {stage[:40]:<40}", end="", file=self.stream, flush=True)
        self.last_stage, self.last_print = stage, now
        if fraction >= 1.0:
            print(file=self.stream, flush=True)
