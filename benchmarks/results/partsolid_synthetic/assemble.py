"""Arm B's experiment package: 0.10.0's package (card, operating point, candidate classifier)
with the zone networks of a trained package, their SHA-256 entries updated.

Usage: assemble.py SHIPPED TRAINED OUT VERSION
"""
from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "LungTumorSeg"))

from lungtumorseg.models.package import load_package, sha256_of  # noqa: E402


def main() -> None:
    shipped, trained, out = (Path(a) for a in sys.argv[1:4])
    shutil.copytree(shipped, out)
    card = json.loads((out / "model.json").read_text(encoding="utf-8"))
    source = json.loads((trained / "model.json").read_text(encoding="utf-8"))
    for zone in card["zones"]["names"]:
        entry = source["weights"][zone]
        shutil.copyfile(trained / entry["file"], out / card["weights"][zone]["file"])
        target = out / card["weights"][zone]["file"]
        card["weights"][zone].update(sha256=sha256_of(target), bytes=target.stat().st_size)
    card["version"] = sys.argv[4]
    card["training"] = {**source["training"], "note": "networks of the trained package; the rest of the card is 0.10.0's"}
    (out / "model.json").write_text(json.dumps(card, indent=1) + "\n", encoding="utf-8")
    load_package(out).verify_all()
    print("wrote", out)


if __name__ == "__main__":
    main()
