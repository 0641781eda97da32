"""Detection by phantom tumour type: which kinds of tumour a model finds and which it misses.

A synthetic phantom's ``meta/<case>.json`` (written by :mod:`lungtumorseg.phantoms`) says
what every tumour is: its ``kind`` (solid, part-solid, ground-glass), ``location``
(peripheral, juxtapleural, central) and ``zone``. The evaluation's ``lesions.csv`` says
which truth lesions were found. This joins the two, so a benchmark can say e.g. "ground-glass
nodules: 3 of 8 found", which points training at what it misses.

Each phantom tumour is matched to the truth lesion (a connected component of the label)
whose centroid is nearest its centre, within the tumour's radius plus ``MATCH_MARGIN_MM``;
tumours that merged into one component share that component's outcome. Real data sets have
no such meta files: this is a phantom-only diagnostic.
"""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from pathlib import Path
from typing import Iterable

import numpy as np

MATCH_MARGIN_MM = 5.0
GROUPINGS = ("kind", "location", "zone")


def _truth_lesions_by_case(lesions_csv: Path) -> dict[str, list[tuple[np.ndarray, bool]]]:
    """(LPS centroid, matched) of every truth lesion, by case."""
    out: dict[str, list[tuple[np.ndarray, bool]]] = defaultdict(list)
    with open(lesions_csv, newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            if row["kind"] != "truth":
                continue
            centroid = np.array([float(row[f"centroid_{a}_mm"]) for a in "lps"])
            out[row["case"]].append((centroid, row["matched"] == "True"))
    return out


def tumour_outcomes(lesions_csv: Path, meta_dir: Path, cases: Iterable[str] | None = None) -> list[dict]:
    """One record per phantom tumour: case, kind, location, zone, diameter_mm, detected.

    ``detected`` is None when no truth lesion lies near the tumour's centre (e.g. a tumour the
    label's resampling reduced to nothing), so it counts in no denominator.
    """
    truth = _truth_lesions_by_case(lesions_csv)
    names = sorted(truth) if cases is None else list(cases)
    records = []
    for case in names:
        meta_file = meta_dir / f"{case}.json"
        if not meta_file.is_file():
            continue
        meta = json.loads(meta_file.read_text(encoding="utf-8"))
        for tumour in meta.get("tumours", []):
            centre = np.asarray(tumour["centre_lps_mm"], dtype=float)
            reach = float(tumour["diameter_mm"]) / 2 + MATCH_MARGIN_MM
            distances = [float(np.linalg.norm(c - centre)) for c, _ in truth.get(case, [])]
            nearest = int(np.argmin(distances)) if distances else -1
            detected = truth[case][nearest][1] if nearest >= 0 and distances[nearest] <= reach else None
            records.append({"case": case, "kind": tumour.get("kind"), "location": tumour.get("location"),
                            "zone": tumour.get("zone"), "diameter_mm": float(tumour["diameter_mm"]),
                            "detected": detected})
    return records


def detection_by(records: list[dict], grouping: str, min_diameter_mm: float = 0.0) -> dict[str, dict]:
    """{group: {"detected": n, "total": n, "sensitivity": n/total}} over tumours of at least
    ``min_diameter_mm`` whose outcome is known, groups sorted by name."""
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for record in records:
        if record["detected"] is None or record["diameter_mm"] < min_diameter_mm:
            continue
        entry = counts[str(record[grouping])]
        entry[0] += int(record["detected"])
        entry[1] += 1
    return {group: {"detected": found, "total": total, "sensitivity": found / total}
            for group, (found, total) in sorted(counts.items())}


def detection_table(records: list[dict], min_diameter_mm: float = 0.0) -> dict[str, dict[str, dict]]:
    """``detection_by`` for every grouping (kind, location, zone)."""
    return {grouping: detection_by(records, grouping, min_diameter_mm) for grouping in GROUPINGS}
