"""Calibration procedures: which operating-point limits are free, over which grid, by which rule.

A procedure turns a set of calibration cases (their :class:`~.candidates.CaseCandidates`)
into an :class:`~.calibration.OperatingPoint`. The more limits a procedure may choose, the
better its point fits the cases it was chosen on, and the more of that fit may be luck;
:mod:`lungtumorseg.evaluation.cross_validation` measures how each one does on cases it did
not choose on. ``scripts/calibrate_threshold.py --procedure`` writes a procedure's point into
a card.
"""

from __future__ import annotations

from dataclasses import dataclass
import itertools
import math
from typing import Any, Sequence

import numpy as np

from ..postprocess import LesionFilter
from ..zones import ZONE_NAMES
from .calibration import OperatingPoint, choose_operating_point, refine_zone_limits, summarise_curves
from .candidates import CaseCandidates, curve_from_candidates

THRESHOLDS = tuple(float(t) for t in np.round(np.arange(0.10, 0.86, 0.05), 2))
MIN_VOLUMES_MM3 = (30.0, 60.0, 120.0, 250.0, 400.0)  # equivalent diameters 3.9, 4.9, 6.1, 7.8, 9.1 mm
# Beyond 400 mm³ (benchmarks/results/grown_size_cv): 10.5 and 11.7 mm; a 10 mm sphere is 524 mm³.
WIDE_MIN_VOLUMES_MM3 = MIN_VOLUMES_MM3 + (600.0, 850.0)
MIN_PEAKS = (0.0, 0.6, 0.7, 0.8, 0.9)
# Grid limits are plausibility limits, not search ranges: below a threshold of 0.10 outlines
# follow the map's noise floor, and an elongation limit under 1.75 would reject ordinary
# oval nodules (a sphere is 1, a 2:1 ellipsoid 2, a 3:1 ellipsoid 3).
MAX_ELONGATIONS = (math.inf, 4.0, 3.0, 2.5, 2.0, 1.75)
# A mean density above 150 HU is bone, calcification or a contrast-filled vessel: lung cancer
# measures ~20-60 HU and malignant nodules enhance by 15-60 HU with contrast (Swensen et al.,
# Radiology 2000). Lower caps would start to reject enhancing tumours on real scans, whatever
# synthetic phantoms (0-60 HU tumours) would allow.
MAX_MEAN_HUS = (math.inf, 150.0)
TOLERANCE = 0.005
# Extra limits a zone may get on top of the chosen point; only those that tighten it are tried.
ZONE_LIMITS = tuple(LesionFilter(v, p) for p in (0.0, 0.5, 0.6, 0.7, 0.8, 0.9)
                    for v in (250.0, 400.0, 600.0, 850.0, 1200.0, 1700.0))


def filter_grid(
    volumes: Sequence[float], peaks: Sequence[float] = (0.0,), elongations: Sequence[float] = (math.inf,),
    densities: Sequence[float] = (math.inf,), size_after_growth: bool = False,
) -> tuple[LesionFilter, ...]:
    """Every combination of the limits, the most permissive first (on a full tie of the
    calibration rule the earlier filter wins); ``size_after_growth``: the volumes judge the
    grown outline."""
    return tuple(LesionFilter(v, p, e, h, size_after_growth=size_after_growth)
                 for h, e, p, v in itertools.product(densities, elongations, peaks, volumes))


@dataclass(frozen=True)
class CalibrationProcedure:
    """The free limits of an operating point and the rule that chooses them."""

    name: str
    description: str
    thresholds: tuple[float, ...]
    filters: tuple[LesionFilter, ...]
    zone_limits: tuple[LesionFilter, ...] = ()
    rule: str = "lesion-f1"
    tolerance: float = TOLERANCE

    def summarise(self, cases: Sequence[CaseCandidates]) -> dict[str, np.ndarray]:
        """The cases' pooled measures at every (threshold, filter) pair of the grid
        (:func:`~.calibration.summarise_curves`), before any zone limit."""
        if not cases:
            raise ValueError("no calibration cases to choose on")
        return summarise_curves([curve_from_candidates(c, self.filters, self.thresholds) for c in cases])

    def start(self, summary: dict[str, np.ndarray]) -> OperatingPoint:
        """The grid's best point by the rule, from :meth:`summarise`'s table (before zone limits)."""
        return choose_operating_point(summary, self.thresholds, self.filters, self.tolerance, self.rule)

    def refine(self, cases: Sequence[CaseCandidates], point: OperatingPoint,
               zones: Sequence[str] = ZONE_NAMES) -> tuple[OperatingPoint, list[dict[str, Any]]]:
        """``point`` with this procedure's extra limits per zone, and one record per zone of what
        was added there (see :func:`~.calibration.refine_zone_limits`); unchanged without them."""
        if not self.zone_limits:
            return point, []
        threshold = point.threshold

        def evaluate(filters: list[LesionFilter]) -> dict[str, np.ndarray]:
            return summarise_curves([curve_from_candidates(c, filters, [threshold]) for c in cases])

        return refine_zone_limits(evaluate, point, zones, self.zone_limits, self.tolerance, self.rule)

    def choose(self, cases: Sequence[CaseCandidates],
               zones: Sequence[str] = ZONE_NAMES) -> tuple[OperatingPoint, list[dict[str, Any]]]:
        """The point this procedure picks on ``cases``: :meth:`start`, then :meth:`refine`."""
        return self.refine(cases, self.start(self.summarise(cases)), zones)


_SHAPE_AND_DENSITY = filter_grid(MIN_VOLUMES_MM3, MIN_PEAKS, MAX_ELONGATIONS, MAX_MEAN_HUS)
_WIDE = dict(volumes=WIDE_MIN_VOLUMES_MM3, peaks=MIN_PEAKS, elongations=MAX_ELONGATIONS, densities=MAX_MEAN_HUS)

#: The procedures ``scripts/calibrate_threshold.py --procedure`` offers
#: (benchmarks/results/operating_point_cv), fewest free limits first: the order in which
#: :func:`~.cross_validation.choose_procedure` breaks a near-tie.
PROCEDURES: dict[str, CalibrationProcedure] = {p.name: p for p in (
    CalibrationProcedure("threshold-volume", "threshold x minimum volume", THRESHOLDS, filter_grid(MIN_VOLUMES_MM3)),
    CalibrationProcedure("plain", "threshold x minimum volume x minimum peak", THRESHOLDS,
                         filter_grid(MIN_VOLUMES_MM3, MIN_PEAKS)),
    CalibrationProcedure("no-zone-limits", "threshold x minimum volume x minimum peak x maximum elongation x maximum "
                         "density", THRESHOLDS, _SHAPE_AND_DENSITY),
    CalibrationProcedure("no-zone-limits-wide", "as no-zone-limits, minimum volumes up to 850 mm3", THRESHOLDS,
                         filter_grid(**_WIDE)),
    CalibrationProcedure("grown-size", "as no-zone-limits-wide, the minimum volume judged on the grown outline "
                         "(needs candidates measured with outline growth)", THRESHOLDS,
                         filter_grid(**_WIDE, size_after_growth=True)),
    CalibrationProcedure("full", "threshold x minimum volume x minimum peak x maximum elongation x maximum density, "
                         "then extra limits per zone (demo 0.6.0-0.8.0)", THRESHOLDS, _SHAPE_AND_DENSITY, ZONE_LIMITS),
)}
