"""The lesion table: one row per lesion, from the core's report JSON.

Why separate: the same columns feed the Slicer table node, ``lesions.csv`` of the demo and
the tests, so they are defined once. Pure Python (no Slicer, no Qt).

Centroids are shown in RAS (Slicer's patient coordinates; the core reports LPS).
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any, Iterable

#: (column title, unit, value type, function lesion-dict -> value)
COLUMNS: list[tuple[str, str, type, Any]] = [
    ("Lesion", "", str, lambda l: f"Lesion {l['label']}"),
    ("Label", "", int, lambda l: int(l["label"])),
    ("Volume", "ml", float, lambda l: float(l["volume_ml"])),
    ("Volume mm3", "mm3", float, lambda l: float(l["volume_mm3"])),
    ("Long axis", "mm", float, lambda l: float(l["long_axis_mm"])),
    ("Short axis", "mm", float, lambda l: float(l["short_axis_mm"])),
    ("Zone", "", str, lambda l: str(l.get("zone", ""))),
    ("Side", "", str, lambda l: str(l.get("side", ""))),
    ("Centroid R", "mm", float, lambda l: -float(l["centroid_lps_mm"][0])),
    ("Centroid A", "mm", float, lambda l: -float(l["centroid_lps_mm"][1])),
    ("Centroid S", "mm", float, lambda l: float(l["centroid_lps_mm"][2])),
    ("HU mean", "HU", float, lambda l: float(l["hu_mean"])),
    ("HU std", "HU", float, lambda l: float(l["hu_std"])),
    ("HU min", "HU", float, lambda l: float(l["hu_min"])),
    ("HU max", "HU", float, lambda l: float(l["hu_max"])),
    ("Mean probability", "", float, lambda l: float(l.get("mean_probability", float("nan")))),
    ("Peak probability", "", float, lambda l: float(l.get("peak_probability", float("nan")))),
    ("Elongation", "", float, lambda l: float(l.get("elongation", float("nan")))),
    # the candidate classifier's score (nan when the run had no candidate check)
    ("Candidate score", "", float, lambda l: float("nan") if l.get("candidate_score") is None
     else float(l["candidate_score"])),
    # "magnified look" for a lesion only the card's magnified second look saw
    ("Found by", "", str, lambda l: str(l.get("found_by", "zone networks"))),
    # the volume the magnified look's join added to the outline (nan when no join ran)
    ("Added by magnified look", "ml", float, lambda l: float("nan") if l.get("joined_ml") is None
     else float(l["joined_ml"])),
    ("Voxels", "", int, lambda l: int(l["voxels"])),
]


def column_names() -> list[str]:
    """Column titles in display order."""
    return [name for name, _, _, _ in COLUMNS]


def rows(lesions: Iterable[dict]) -> list[list]:
    """One list of typed values per lesion, in the report's order (decreasing volume)."""
    return [[getter(lesion) for _, _, _, getter in COLUMNS] for lesion in lesions]


def write_csv(lesions: Iterable[dict], path: str | Path) -> Path:
    """Write the lesion table as CSV (header with units in brackets)."""
    path = Path(path)
    header = [f"{name} [{unit}]" if unit else name for name, unit, _, _ in COLUMNS]
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        for row in rows(lesions):
            writer.writerow([f"{v:.3f}" if isinstance(v, float) else v for v in row])
    return path
