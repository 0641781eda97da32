"""The meaning of every column and field the evaluation writes (copied into summary.json).

One place for the definitions so the CSV headers, ``summary.json`` and the documentation
cannot drift apart.
"""

from __future__ import annotations

from .metrics import SLICEWISE_NOTE

SYNTHETIC_NOTE = "synthetic phantoms — not clinical accuracy"

VOXEL_FIELDS: dict[str, str] = {
    "dice": "volume Dice 2|P∩T|/(|P|+|T|); 1 when both masks are empty, 0 when exactly one is",
    "iou": "Jaccard index |P∩T|/|P∪T|; same edge rules as Dice",
    "recall": "sensitivity TP/(TP+FN); nan (undefined) when the truth is empty",
    "precision": "TP/(TP+FP); nan (undefined) when the prediction is empty",
    "accuracy": "(TP+TN)/all voxels of the scan (or zone); dominated by background",
    "specificity": "TN/(TN+FP); dominated by background",
    "slicewise_dice": "mean Dice over axial slices containing truth or prediction (1 if none). " + SLICEWISE_NOTE,
    "hd95_mm": "95th-percentile symmetric Hausdorff distance between surfaces (MONAI), mm; "
               "0 when both masks are empty, inf when exactly one is",
    "asd_mm": "symmetric average surface distance (MONAI), mm; 0 both empty, inf exactly one empty",
    "truth_volume_ml": "true tumour volume (voxel count x voxel volume), mL",
    "pred_volume_ml": "predicted tumour volume, mL",
    "volume_error_ml": "predicted minus true volume, mL",
    "volume_error_pct": "100 x (predicted - true) / true volume; nan when the truth is empty",
    "rmse": "root mean square difference between the binary prediction and the truth mask "
            "over all voxels (as in the founding reports; equals sqrt(1 - accuracy))",
    "rmse_probability": "root mean square difference between the tumour probability map and "
                        "the truth mask over all voxels (nan when no probability map)",
    "tp": "true-positive voxels", "fp": "false-positive voxels",
    "fn": "false-negative voxels", "tn": "true-negative voxels",
}

DETECTION_FIELDS: dict[str, str] = {
    "n_truth_lesions": "connected components (6-connectivity) of the truth",
    "n_detected": "truth lesions overlapped by a predicted lesion with IoU >= detection_min_iou",
    "n_pred_lesions": "connected components of the prediction",
    "n_false_positive": "predicted lesions overlapping no truth lesion",
    "lesion_sensitivity": "n_detected / n_truth_lesions; nan without truth lesions",
}

CASE_FIELDS: dict[str, str] = {
    "case": "case name (image file name without extension)",
    "status": "pipeline status: ok, or no_lungs (then the prediction is empty)",
    **VOXEL_FIELDS,
    **DETECTION_FIELDS,
    "lung_z_lo_mm": "inferior end of the lungs used for the zone split, LPS z mm",
    "lung_z_hi_mm": "superior end of the lungs used for the zone split, LPS z mm",
    "lung_extent_source": "where the lung extent came from: truth, pipeline, zone_boxes or image",
    "seconds": "wall time of the segmentation run for this case",
}

ZONE_FIELDS: dict[str, str] = {
    "case": CASE_FIELDS["case"],
    "zone": "upper, middle or lower third of the lungs' superior-inferior extent; voxels "
            "above the lungs count as upper, below as lower",
    **{k: v + " (within the zone)" for k, v in VOXEL_FIELDS.items()},
    "zone_voxels": "number of scan voxels in the zone",
    **{k: v + " (lesions whose centroid is in the zone)" for k, v in DETECTION_FIELDS.items()},
}

LESION_FIELDS: dict[str, str] = {
    "case": CASE_FIELDS["case"],
    "kind": "truth (reference lesion) or predicted",
    "index": "component number within its mask, 1..N in scan order",
    "voxels": "voxel count",
    "volume_ml": "volume, mL",
    "diameter_mm": "equivalent-sphere diameter (6V/pi)^(1/3), mm",
    "size_bin": "<10mm, 10-20mm, 20-30mm or >=30mm by diameter_mm",
    "zone": "zone of the centroid",
    "matched": "truth: detected; predicted: overlaps a truth lesion (False = false positive)",
    "best_iou": "best IoU with one component of the other mask (0 if none overlaps)",
    "n_overlapping": "number of components of the other mask it overlaps",
    "peak_probability": "highest tumour probability inside the lesion (nan without a probability map); "
                        "a missed truth lesion with a low peak was not seen by the network, one with a high "
                        "peak was removed by the threshold or the lesion filters",
    "centroid_l_mm": "centroid, LPS x (right to left), mm",
    "centroid_p_mm": "centroid, LPS y (anterior to posterior), mm",
    "centroid_s_mm": "centroid, LPS z (inferior to superior), mm",
}

SUMMARY_FIELDS: dict[str, str] = {
    "schema": "format identifier of this file",
    "synthetic": "true when the data are synthetic phantoms (dataset.json says so or --synthetic)",
    "data_note": "how to read the numbers (synthetic phantoms are not clinical accuracy)",
    "dataset": "data folder, its dataset.json name/description, cases found and evaluated",
    "model": "model package path, name, version, demo flag and warning",
    "settings": "threshold, detection_min_iou, limit, threads, size bins",
    "cases": "counts: evaluated, pipeline found no lungs, tumour-free truth",
    "voxel": "per metric over cases: mean, sd (sample), median, min, max, n (finite), n_nan "
             "(undefined, skipped), n_inf (unbounded, out of mean/sd), ci95 (bootstrap of the mean)",
    "pooled": "overlap metrics from the confusion counts summed over all cases (large tumours weigh more)",
    "zones": "per zone: the same 'voxel' and 'pooled' blocks plus lesion detection in that zone",
    "lesions": "detection pooled over cases: truth lesions, detected, sensitivity, predicted, "
                "false positives, false positives per case, and by size bin",
    "slicewise_dice_note": "why slice-wise Dice differs from volume Dice",
    "edge_cases": "how empty masks are scored",
    "fields": "these descriptions, and those of every CSV column",
    "files": "output files written",
    "seconds": "total wall time",
}

EDGE_CASES = (
    "empty truth and empty prediction: Dice/IoU 1, HD95/ASD 0, recall/precision undefined (nan); "
    "exactly one empty: Dice/IoU 0, HD95/ASD inf (unbounded). nan values are skipped and counted "
    "(n_nan), inf values are left out of mean/sd and counted (n_inf). CSV writes nan/inf, JSON null."
)


def all_fields() -> dict[str, dict[str, str]]:
    """Every documented field, grouped by output file."""
    return {
        "summary.json": SUMMARY_FIELDS,
        "metrics_cases.csv": CASE_FIELDS,
        "metrics_zones.csv": ZONE_FIELDS,
        "lesions.csv": LESION_FIELDS,
    }
