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

Besides whether a tumour was found, each group counts the tumours the network *responded*
to: peak tumour probability inside the tumour of at least ``RESPONSE_PEAK``. A tumour it
responded to but did not report was removed by the threshold or the lesion filters (an
operating-point question); one it did not respond to is a question for training.
"""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from pathlib import Path
from typing import Iterable

import numpy as np

MATCH_MARGIN_MM = 5.0
RESPONSE_PEAK = 0.5
GROUPINGS = ("kind", "size", "location", "zone")
SIZE_GROUPS = ((10.0, "< 10 mm"), (20.0, "10-20 mm"), (float("inf"), ">= 20 mm"))  # by the phantom's diameter


# Display order of the groups a phantom writes (unknown names follow, sorted)
GROUP_ORDER = ("solid", "part-solid", "ground-glass", *(name for _, name in SIZE_GROUPS),
               "peripheral", "juxtapleural", "central", "upper", "middle", "lower")


def _display_order(group: str) -> tuple[int, str]:
    return (GROUP_ORDER.index(group) if group in GROUP_ORDER else len(GROUP_ORDER), group)


def size_group(diameter_mm: float) -> str:
    """The ``size`` group of a tumour of this planned diameter."""
    return next(name for limit, name in SIZE_GROUPS if diameter_mm < limit)


def _truth_lesions_by_case(lesions_csv: Path) -> dict[str, list[tuple[np.ndarray, bool, float]]]:
    """(LPS centroid, matched, peak probability or nan) of every truth lesion, by case."""
    out: dict[str, list[tuple[np.ndarray, bool, float]]] = defaultdict(list)
    with open(lesions_csv, newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            if row["kind"] != "truth":
                continue
            centroid = np.array([float(row[f"centroid_{a}_mm"]) for a in "lps"])
            peak = float(row.get("peak_probability") or "nan")  # absent in tables from before it was recorded
            out[row["case"]].append((centroid, row["matched"] == "True", peak))
    return out


def tumour_outcomes(lesions_csv: Path, meta_dir: Path, cases: Iterable[str] | None = None) -> list[dict]:
    """One record per phantom tumour: case, kind, size, location, zone, diameter_mm, detected,
    peak_probability (of its truth lesion; nan when unknown).

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
            distances = [float(np.linalg.norm(c - centre)) for c, _, _ in truth.get(case, [])]
            nearest = int(np.argmin(distances)) if distances else -1
            near = nearest >= 0 and distances[nearest] <= reach
            diameter = float(tumour["diameter_mm"])
            records.append({"case": case, "kind": tumour.get("kind"), "size": size_group(diameter),
                            "location": tumour.get("location"), "zone": tumour.get("zone"), "diameter_mm": diameter,
                            "detected": truth[case][nearest][1] if near else None,
                            "peak_probability": truth[case][nearest][2] if near else float("nan")})
    return records


def detection_by(records: list[dict], grouping: str, min_diameter_mm: float = 0.0) -> dict[str, dict]:
    """{group: {"detected": n, "total": n, "sensitivity": n/total, "responded": n}} over
    tumours of at least ``min_diameter_mm`` whose outcome is known, groups in ``GROUP_ORDER``.
    ``responded`` counts peak probability >= ``RESPONSE_PEAK`` (tumours of unknown peak
    count as not responded)."""
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    for record in records:
        if record["detected"] is None or record["diameter_mm"] < min_diameter_mm:
            continue
        entry = counts[str(record[grouping])]
        entry[0] += int(record["detected"])
        entry[1] += 1
        entry[2] += int(record.get("peak_probability", float("nan")) >= RESPONSE_PEAK)
    return {group: {"detected": found, "total": total, "sensitivity": found / total, "responded": responded}
            for group, (found, total, responded) in sorted(counts.items(), key=lambda item: _display_order(item[0]))}


def detection_table(records: list[dict], min_diameter_mm: float = 0.0) -> dict[str, dict[str, dict]]:
    """``detection_by`` for every grouping (kind, size, location, zone)."""
    return {grouping: detection_by(records, grouping, min_diameter_mm) for grouping in GROUPINGS}
