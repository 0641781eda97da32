"""Pool full-size held-out runs into the issue's four numbers, with the same ``criteria`` as
``benchmarks/heldout_phantoms.py``.

The full-size phantoms were evaluated in parts (one run of the whole 48 takes about two hours):
seeds 10000-10007 here, 10008-10023 in ``rest/``, 10024-10047 in ``rest2/``. Case names are
unique across the parts (``lung_000`` .. ``lung_047``), so the pooled tables are the tables one
run over all of them would have written.

Usage:
    python benchmarks/results/heldout_full/combine.py            # the 24 of session 38 -> criteria_24.json
    python benchmarks/results/heldout_full/combine.py --all 48   # all three parts -> criteria_48.json
    python benchmarks/results/heldout_full/combine.py --all 48 --write-card MODEL_DIR
        # also store them as the card's metrics.heldout_phantoms_full_size

Synthetic phantoms: not clinical accuracy.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))

from heldout_phantoms import criteria, meets_targets, write_card_block  # noqa: E402
from lungtumorseg.evaluation.fields import SYNTHETIC_NOTE  # noqa: E402
from lungtumorseg.evaluation.plots import plot_detection_by_tumour_type  # noqa: E402
from lungtumorseg.evaluation.tumour_types import detection_table, tumour_outcomes  # noqa: E402

#: the card's small-grid run of the same seeds (case names match: lung_NNN is seed 10000 + NNN at both sizes)
SMALL = HERE.parent / "heldout48"

#: the phantoms' own description of their tumours (``meta/lung_NNN.json`` of the generated folders, copied here)
META = HERE / "meta"

#: parts of the full-size run: folder and the seeds its cases were made from
PARTS = {24: [(HERE, (10000, 10007)), (HERE / "rest", (10008, 10023))],
         48: [(HERE, (10000, 10007)), (HERE / "rest", (10008, 10023)), (HERE / "rest2", (10024, 10047))]}


def pooled_csv(name: str, folders: list[Path], out: Path, cases: set[str] | None = None) -> None:
    """``name`` of every folder (only the rows of ``cases``, when given), one header, rows in
    folder order; refuses a case seen twice."""
    rows, header, seen = [], None, set()
    for folder in folders:
        with open(folder / name) as fh:
            reader = csv.DictReader(fh)
            header = header or reader.fieldnames
            part = [row for row in reader if cases is None or row["case"] in cases]
        if name == "metrics_cases.csv":
            names = {row["case"] for row in part}
            if names & seen:
                raise SystemExit(f"{folder}: cases {sorted(names & seen)} are already in an earlier part")
            seen |= names
        rows.extend(part)
    with open(out / name, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=header)
        writer.writeheader()
        writer.writerows(rows)


def small_grid_numbers(n_cases: int) -> dict:
    """The same criteria on the card's small-grid run, restricted to the first ``n_cases`` seeds:
    the paired comparison (same patients and tumours, other grid)."""
    cases = {f"lung_{i:03d}" for i in range(n_cases)}
    with tempfile.TemporaryDirectory() as tmp:
        for name in ("metrics_cases.csv", "lesions.csv"):
            pooled_csv(name, [SMALL], Path(tmp), cases)
        return criteria(Path(tmp))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--all", type=int, choices=sorted(PARTS), default=24, help="how many phantoms to pool")
    parser.add_argument("--write-card", type=Path, default=None, metavar="MODEL_DIR",
                        help="store the pooled numbers in this package's card (metrics.heldout_phantoms_full_size)")
    args = parser.parse_args()
    parts = PARTS[args.all]
    with tempfile.TemporaryDirectory() as tmp:
        for name in ("metrics_cases.csv", "lesions.csv"):
            pooled_csv(name, [folder for folder, _ in parts], Path(tmp))
        numbers = criteria(Path(tmp))
        outcomes = tumour_outcomes(Path(tmp) / "lesions.csv", META)
    if numbers["n_cases"] != args.all:
        raise SystemExit(f"pooled {numbers['n_cases']} cases, expected {args.all}")
    numbers["detection_by_phantom_tumour"] = {"all": detection_table(outcomes), "ge_10mm": detection_table(outcomes, 10.0)}
    plot_detection_by_tumour_type(numbers["detection_by_phantom_tumour"]["all"],
                                  HERE / f"detection_by_tumour_type_{args.all}.png", SYNTHETIC_NOTE)
    numbers["held_out_seeds"] = [parts[0][1][0], parts[-1][1][1]]
    numbers["phantom_size"] = "full"
    numbers["precision"] = "fp32"
    numbers["meets_targets"] = meets_targets(numbers)
    numbers["note"] = ("synthetic phantoms: checks the software and the demo weights, not clinical accuracy; "
                       f"pooled from {len(parts)} runs of benchmarks/heldout_phantoms.py --size full "
                       "(benchmarks/results/heldout_full/RESULTS.md)")
    numbers["small_grid_same_seeds"] = small_grid_numbers(numbers["n_cases"])
    (HERE / f"criteria_{args.all}.json").write_text(json.dumps(numbers, indent=2) + "\n")
    print(json.dumps(numbers, indent=2))
    if args.write_card is not None:
        command = "python benchmarks/results/heldout_full/combine.py " + " ".join(sys.argv[1:])
        for_card = {k: v for k, v in numbers.items() if k != "small_grid_same_seeds"}  # the card has that block itself
        key = write_card_block(args.write_card, for_card, command)
        print(f"metrics.{key} written to {args.write_card / 'model.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
