"""Progress reporting and cancellation shared by every long-running stage.

A stage reports ``(stage text, fraction 0..1 of the whole run)`` through a callback; a
cancel check is a callable returning True when the user asked to stop. Stages poll it at
fine granularity (every sliding window) and raise :class:`CancelledError`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

from .errors import CancelledError

ProgressCallback = Callable[[str, float], None]
CancelCheck = Callable[[], bool]


@dataclass
class ProgressSpan:
    """Maps a stage's own 0..1 progress into its slice [start, end] of the whole run."""

    callback: Optional[ProgressCallback]
    start: float
    end: float
    cancel: Optional[CancelCheck] = None

    def report(self, stage: str, fraction: float) -> None:
        self.check_cancel()
        if self.callback is not None:
            f = min(max(fraction, 0.0), 1.0)
            self.callback(stage, self.start + (self.end - self.start) * f)

    def check_cancel(self) -> None:
        if self.cancel is not None and self.cancel():
            raise CancelledError("cancelled by the user; nothing was written")

    def sub(self, start: float, end: float) -> "ProgressSpan":
        """A nested span covering [start, end] of this one."""
        width = self.end - self.start
        return ProgressSpan(self.callback, self.start + width * start, self.start + width * end, self.cancel)
