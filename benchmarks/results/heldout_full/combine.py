"""Pool the two full-size held-out runs (seeds 10000-10007 here, 10008-10023 in ``rest/``) into
the issue's four numbers, with the same ``criteria`` as ``benchmarks/heldout_phantoms.py``.

Usage: python benchmarks/results/heldout_full/combine.py  (writes criteria_24.json here).
Synthetic phantoms: not clinical accuracy.
"""

from __future__ import annotations

import csv
import json
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))

from heldout_phantoms import criteria  # noqa: E402


def pooled_csv(name: str, folders: list[Path], out: Path) -> None:
    """``name`` of every folder, one header, rows in folder order."""
    rows, header = [], None
    for folder in folders:
        with open(folder / name) as fh:
            reader = csv.DictReader(fh)
            header = header or reader.fieldnames
            rows.extend(reader)
    with open(out / name, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=header)
        writer.writeheader()
        writer.writerows(rows)


def main() -> int:
    folders = [HERE, HERE / "rest"]
    with tempfile.TemporaryDirectory() as tmp:
        for name in ("metrics_cases.csv", "lesions.csv"):
            pooled_csv(name, folders, Path(tmp))
        numbers = criteria(Path(tmp))
    numbers["held_out_seeds"] = [10000, 10023]
    numbers["phantom_size"] = "full"
    numbers["note"] = "synthetic phantoms: checks the software and the demo weights, not clinical accuracy"
    (HERE / "criteria_24.json").write_text(json.dumps(numbers, indent=2) + "\n")
    print(json.dumps(numbers, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
