"""Draw the FROC curves of several models (``froc.json`` files written by
``benchmarks/froc_phantoms.py``) in one figure, to compare them at equal false-finding rates.

    python benchmarks/froc_compare.py LABEL=DIR/froc.json LABEL=DIR/froc.json ... -o compare.png
        [--curve "threshold only, tumours >= 10 mm"] [--curve "card limits, tumours >= 10 mm"]

Every file must have been made on the same cases (checked by the case and lesion counts).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "LungTumorSeg"))

from lungtumorseg.evaluation.fields import SYNTHETIC_NOTE  # noqa: E402
from lungtumorseg.evaluation.froc import FrocCurve  # noqa: E402
from lungtumorseg.evaluation.plots import plot_froc  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="+", metavar="LABEL=FROC.json")
    parser.add_argument("--curve", action="append", help="curve name(s) of froc.json (default: the two >= 10 mm ones)")
    parser.add_argument("-o", "--out", type=Path, required=True)
    args = parser.parse_args()
    names = args.curve or ["card limits, tumours >= 10 mm", "threshold only, tumours >= 10 mm"]
    curves, marks, synthetic, counts = {}, {}, True, set()
    for run in args.runs:
        label, _, path = run.partition("=")
        record = json.loads(Path(path).read_text(encoding="utf-8"))
        synthetic &= bool(record.get("synthetic"))
        for name in names:
            curve = FrocCurve.from_dict(record[name])
            counts.add((name, curve.n_cases, curve.n_lesions))
            key = f"{label}: {name} (t {record['threshold']:g})"
            curves[key] = curve
            if "card_point" in record[name]:
                point = record[name]["card_point"]
                marks[key] = (point["false_positives_per_case"], point["sensitivity"])
            print(f"{key}: CPM {curve.cpm():.3f}, " + ", ".join(
                f"{r}: {s:.2f}" for r, s in record[name]["sensitivity_at_fp_rate"].items()))
    if len({(n, c, l) for n, c, l in counts}) != len(names):
        parser.error(f"the files were not made on the same cases: {sorted(counts)}")
    plot_froc(curves, args.out, marks, SYNTHETIC_NOTE if synthetic else None)
    print(f"written {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
