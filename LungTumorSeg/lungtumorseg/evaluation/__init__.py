"""Evaluation of LungTumorSeg models against reference segmentations.

Modules, one responsibility each:

* ``metrics``   voxel metrics (Dice, IoU, recall, precision, accuracy, specificity, RMSE,
                HD95, ASD, volume error, slice-wise Dice) and their empty-mask rules;
* ``lesions``   lesion-level detection and sensitivity by size;
* ``geometry``  voxel index → patient (LPS) position;
* ``zones``     per-zone (upper/middle/lower) metrics and where the lung extent comes from;
* ``case``      ``evaluate_prediction``: everything for one case, no network needed;
* ``stats``     mean ± sd / median over cases and the seeded bootstrap CI;
* ``aggregate`` summary blocks over cases and pooled;
* ``fields``    definition of every output column/field;
* ``tables``    CSV/JSON writers (nan/inf explicit in CSV, null in JSON);
* ``plots``     figures; ``report`` the data-set run; ``cli`` ``lungtumorseg evaluate``.

Choosing and judging a package's operating point (threshold and lesion limits):

* ``candidates``        every lesion candidate of a case measured once per threshold;
* ``calibration``       scores of (threshold, filter) pairs and the choice rules;
* ``procedures``        which limits are free, over which grid (``PROCEDURES``);
* ``cross_validation``  how a procedure's point holds on cases it was not chosen on;
* ``calibration_data``  calibration cases (seed-checked) and their candidates;
* ``targets``           the demo weights' four accuracy targets;
* ``froc``, ``outline_calibration``, ``probability_cache``, ``tumour_types``: FROC curves,
  outline growth, cached probability maps, detection by phantom tumour kind.

Slice-wise vs volume Dice: slice-wise Dice weights every axial slice equally, so the small
end slices of a lesion (where partial-volume errors are large) count as much as the big
central slices, and slices with only false positives count as 0.

Results on synthetic phantoms are labelled "synthetic phantoms — not clinical accuracy".
"""

from .case import evaluate_prediction
from .lesions import SIZE_BINS, detect_lesions, equivalent_diameter_mm, sensitivity_by_size, size_bin
from .metrics import (
    SLICEWISE_NOTE,
    confusion,
    overlap_metrics,
    rmse,
    slicewise_dice,
    surface_distances,
    volume_metrics,
    voxel_metrics,
)
from .stats import bootstrap_ci, describe

__all__ = [
    "SIZE_BINS", "SLICEWISE_NOTE", "bootstrap_ci", "confusion", "describe", "detect_lesions",
    "equivalent_diameter_mm", "evaluate_prediction", "overlap_metrics", "rmse", "sensitivity_by_size",
    "size_bin", "slicewise_dice", "surface_distances", "volume_metrics", "voxel_metrics",
]
