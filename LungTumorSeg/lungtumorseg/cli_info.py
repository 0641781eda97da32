"""``lungtumorseg info``: what a model package is, in words, before anyone trusts its output.

The summary says what the package is for and its warning, which networks and weights it has
(weights verified against the card first), its lesion settings, and what its card measured on
held-out data, each number beside its target (``lungtumorseg.models.accuracy``). ``--json``
prints the card itself, for scripts.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any, Mapping


def add_info_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("info", help="show a model package's card (verifies its weights)")
    p.add_argument("--model", type=Path, default=None, help="package folder (default: the shipped demo package)")
    p.add_argument("--json", action="store_true", help="print the whole card (without its training record) as JSON")
    p.set_defaults(runner=run_info)


def summary_lines(card: Mapping[str, Any], folder: Path, demo: bool, warning: str) -> list[str]:
    """The human summary of a verified package's card, one line per fact."""
    from .models.accuracy import heldout_lines

    net, post = card.get("network", {}) or {}, card.get("postprocessing", {}) or {}
    spacing = (card.get("preprocessing", {}) or {}).get("spacing_mm")
    zones = ", ".join((card.get("zones", {}) or {}).get("names", []))
    lines = [f"{card.get('name')} {card.get('version')}" + (" (demo)" if demo else ""), f"  folder: {folder}"]
    if warning:
        lines.append(f"  WARNING: {warning}")
    if card.get("intended_use"):
        lines.append(f"  intended use: {card['intended_use']}")
    lines += [
        f"  networks: one {net.get('architecture', '?')} per zone ({zones}), hidden size {net.get('hidden_size', '?')}, "
        f"windows of {net.get('img_size', '?')} voxels at {spacing} mm",
        f"  weights: {', '.join(entry['file'] for entry in card['weights'].values())}: SHA-256 verified",
        f"  lesions: probability >= {post.get('threshold', '?')}, at least {post.get('min_lesion_mm3', '?')} mm3",
        "  measured:",
    ]
    lines += [f"    {line}" for line in heldout_lines(card) or ["no held-out measurement recorded: accuracy unknown"]]
    lines.append("  (the whole card: lungtumorseg info --json)")
    return lines


def run_info(args: argparse.Namespace) -> int:
    from .models.package import default_package_dir, load_package

    package = load_package(args.model or default_package_dir())
    package.verify_all()
    card = package.card.raw
    if args.json:
        print(json.dumps({k: v for k, v in card.items() if k != "training"}, indent=2))
    else:
        print("\n".join(summary_lines(card, Path(package.path), package.card.is_demo, package.card.warning)))
    return 0
