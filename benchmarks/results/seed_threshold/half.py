"""Make DATA_a or DATA_b beside an MSD folder DATA: the same images, a dataset.json listing the first or
second half of its cases, so two 1-thread processes can map one set (usage: half.py DATA a|b)."""
import json, os, sys
from pathlib import Path
data, half = Path(sys.argv[1]), sys.argv[2]
ds = json.load(open(data / "dataset.json"))
n = len(ds["training"])
part = ds["training"][: n // 2] if half == "a" else ds["training"][n // 2:]
out = data.parent / f"{data.name}_{half}"
out.mkdir(exist_ok=True)
for sub in ("imagesTr", "labelsTr"):
    if not (out / sub).exists():
        os.symlink(data / sub, out / sub)
(out / "dataset.json").write_text(json.dumps(dict(ds, training=part, numTraining=len(part)), indent=1))
