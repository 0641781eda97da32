"""Make one MSD folder of links from several phantom MSD folders (PLAN.md: the card's 60 training
phantoms + 120 new ones), renaming each source's cases ``lung_<offset + index>`` so names never
collide; ``dataset.json`` lists every case and keeps each source's phantom seeds.

Usage: combine.py OUT SOURCE:OFFSET [SOURCE:OFFSET ...]   (offset 0 keeps a source's names)
"""
from __future__ import annotations

import json
import sys
from pathlib import Path


def main() -> None:
    out = Path(sys.argv[1])
    (out / "imagesTr").mkdir(parents=True, exist_ok=True)
    (out / "labelsTr").mkdir(exist_ok=True)
    manifest: dict = {}
    training, seeds = [], []
    for spec in sys.argv[2:]:
        folder, offset_text = spec.rsplit(":", 1)
        source, offset = Path(folder).resolve(), int(offset_text)
        info = json.loads((source / "dataset.json").read_text(encoding="utf-8"))
        manifest = manifest or {k: v for k, v in info.items() if k not in ("training", "seeds", "sizes", "seed")}
        seeds += info.get("seeds", [])
        for index, entry in enumerate(info["training"]):
            name = f"lung_{offset + index:03d}.nii.gz" if offset else Path(entry["image"]).name
            for key, folder in (("image", "imagesTr"), ("label", "labelsTr")):
                link = out / folder / name
                if not link.exists():
                    link.symlink_to(source / entry[key])
            training.append({"image": f"./imagesTr/{name}", "label": f"./labelsTr/{name}"})
    manifest.update(training=training, numTraining=len(training), seeds=seeds)
    (out / "dataset.json").write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
    print(f"{len(training)} cases in {out}")


if __name__ == "__main__":
    main()
