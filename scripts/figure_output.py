"""The common ending of the README figure scripts: title, layout, write the PNG, say where."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def save_figure(fig: Any, out: Path, title: str, title_size: float = 9, dpi: int = 90) -> None:
    """Give ``fig`` its title, lay it out, write it to ``out`` (folders made) and print the path."""
    fig.suptitle(title, fontsize=title_size)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=dpi)
    print(f"wrote {out}")
