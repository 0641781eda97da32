"""Per-lesion measurements on the input grid: volume, RECIST-style axes, zone, side, HU.

Volumes are voxel count × voxel volume (not a smoothed surface, which under-reads). The
long axis follows RECIST 1.1 (Eisenhauer et al., Eur J Cancer 2009): the longest diameter
in an axial plane, over all axial planes; the short axis is the longest width perpendicular
to it in the same plane. Planes are patient-axial (constant LPS z), whatever the scan's
voxel order.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import SimpleITK as sitk
from scipy import ndimage as ndi
from scipy.spatial import ConvexHull, QhullError

from .postprocess import label_elongation, voxel_box_covariance
from .zones import zone_of_position


#: ``Lesion.found_by`` of a lesion only the magnified second look saw.
MAGNIFIED = "magnified look"


@dataclass
class Lesion:
    """One lesion of a label image (fields are what reports and tables show)."""

    label: int
    voxels: int
    volume_mm3: float
    volume_ml: float
    centroid_lps_mm: list[float]
    long_axis_mm: float
    short_axis_mm: float
    zone: str
    side: str
    hu_mean: float
    hu_std: float
    hu_min: float
    hu_max: float
    mean_probability: float
    peak_probability: float = float("nan")
    elongation: float = float("nan")  # 1 = round; see lungtumorseg.postprocess
    #: the candidate classifier's score of the finding (0..1; None when no check judged it);
    #: see lungtumorseg.candidate_check
    candidate_score: float | None = None
    #: what found it: "zone networks", or "magnified look" for a candidate only the magnified
    #: second look saw (lungtumorseg.magnify)
    found_by: str = "zone networks"
    #: the volume (mL) the magnified look's join added to the outline (lungtumorseg.magnify.join_touching);
    #: None when no join ran
    joined_ml: float | None = None

    def to_dict(self) -> dict:
        return asdict(self)

    def summary(self) -> str:
        """One terminal line: label, volume, long axis, zone, side (and the candidate score)."""
        score = "" if self.candidate_score is None else f", candidate score {self.candidate_score:.2f}"
        look = ", found by the magnified look" if self.found_by == MAGNIFIED else ""
        joined = f", {self.joined_ml:.2f} mL of it added by the magnified look" if self.joined_ml else ""
        return (f"lesion {self.label}: {self.volume_ml:.2f} mL, long axis {self.long_axis_mm:.1f} mm, "
                f"{self.zone} zone, {self.side}{score}{look}{joined}")


def _hull_points(points: np.ndarray) -> np.ndarray:
    if len(points) < 4:
        return points
    try:
        return points[ConvexHull(points).vertices]
    except QhullError:  # collinear points
        return points


def axial_axes_mm(points_lps: np.ndarray, slab_mm: float, pixel_mm: float) -> tuple[float, float]:
    """RECIST long and short axis (mm) from the LPS positions of a lesion's voxel centres.

    Voxels are grouped into axial planes of thickness ``slab_mm``; centre-to-centre
    distances get one ``pixel_mm`` added for the voxels' own extent.
    """
    best_long, best_short = 0.0, 0.0
    planes = np.round(points_lps[:, 2] / slab_mm).astype(np.int64)
    for plane in np.unique(planes):
        pts = _hull_points(points_lps[planes == plane, :2])
        if len(pts) == 1:
            long_axis, short_axis = 0.0, 0.0
        else:
            diff = pts[:, None, :] - pts[None, :, :]
            d2 = (diff**2).sum(-1)
            i, j = np.unravel_index(np.argmax(d2), d2.shape)
            long_axis = float(np.sqrt(d2[i, j]))
            direction = (pts[j] - pts[i]) / max(long_axis, 1e-9)
            normal = np.array([-direction[1], direction[0]])
            proj = pts @ normal
            short_axis = float(proj.max() - proj.min())
        if long_axis + pixel_mm > best_long:
            best_long, best_short = long_axis + pixel_mm, short_axis + pixel_mm
    return best_long, best_short


def measure_lesions(
    labels: sitk.Image,
    ct: sitk.Image,
    probability: sitk.Image | None,
    lung_z_lps_mm: tuple[float, float] | None,
    midline_x_lps_mm: float | None,
) -> list[Lesion]:
    """Measure every lesion (label > 0) of ``labels``; all images share the input grid."""
    shape = sitk.LabelShapeStatisticsImageFilter()
    shape.Execute(labels)
    hu_stats = sitk.LabelStatisticsImageFilter()
    hu_stats.SetUseHistograms(False)  # mean/min/max/sigma only: histograms cost most of the time
    hu_stats.Execute(sitk.Cast(ct, sitk.sitkFloat32), labels)
    prob_stats = None
    if probability is not None:
        prob_stats = sitk.LabelStatisticsImageFilter()
        prob_stats.SetUseHistograms(False)  # mean/min/max/sigma only: histograms cost most of the time
        prob_stats.Execute(probability, labels)
    label_array = sitk.GetArrayFromImage(labels)
    spacing = np.array(labels.GetSpacing())
    direction = np.array(labels.GetDirection()).reshape(3, 3)
    origin = np.array(labels.GetOrigin())
    index_to_lps = direction * spacing  # columns: physical step per i, j, k
    # Axial slab thickness: the largest physical z-step of one voxel along any axis.
    slab = max(float(np.abs(index_to_lps[2]).max()), 1e-3)
    pixel = float(np.sort(spacing)[:2].mean())
    voxel_mm3 = float(np.prod(spacing))
    box_covariance = voxel_box_covariance(labels.GetSpacing(), labels.GetDirection())
    # Bounding boxes: scanning the whole volume once per lesion is quadratic in practice.
    boxes = ndi.find_objects(label_array.astype(np.int64, copy=False))
    lesions = []
    for lab in sorted(shape.GetLabels()):
        box = boxes[lab - 1]
        kji = np.argwhere(label_array[box] == lab) + np.array([s.start for s in box])
        lps = origin + kji[:, ::-1] @ index_to_lps.T
        long_axis, short_axis = axial_axes_mm(lps, slab, pixel)
        centroid = list(shape.GetCentroid(lab))
        zone = zone_of_position(centroid[2], lung_z_lps_mm) if lung_z_lps_mm else "unknown"
        side = "unknown"
        if midline_x_lps_mm is not None:
            side = "right" if centroid[0] < midline_x_lps_mm else "left"
        voxels = int(shape.GetNumberOfPixels(lab))
        lesions.append(
            Lesion(
                label=int(lab),
                voxels=voxels,
                volume_mm3=voxels * voxel_mm3,
                volume_ml=voxels * voxel_mm3 / 1000.0,
                centroid_lps_mm=[float(c) for c in centroid],
                long_axis_mm=long_axis,
                short_axis_mm=short_axis,
                zone=zone,
                side=side,
                hu_mean=float(hu_stats.GetMean(lab)),
                hu_std=float(hu_stats.GetSigma(lab)),
                hu_min=float(hu_stats.GetMinimum(lab)),
                hu_max=float(hu_stats.GetMaximum(lab)),
                mean_probability=float(prob_stats.GetMean(lab)) if prob_stats else float("nan"),
                peak_probability=float(prob_stats.GetMaximum(lab)) if prob_stats else float("nan"),
                elongation=label_elongation(shape, lab, box_covariance),
            )
        )
    return lesions
