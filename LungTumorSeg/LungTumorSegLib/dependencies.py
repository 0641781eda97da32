"""Python packages the core needs inside Slicer, with pinned minimum versions.

Why plain data: the Widget asks before installing (``slicer.util.pip_install``), torch
comes from the PyTorch extension's installer, and tests check this list against
``pyproject.toml`` without Slicer. SimpleITK and numpy ship with Slicer.
"""

from __future__ import annotations

import importlib.util

TORCH_REQUIREMENT = ">=2.2"

#: import name -> pip requirement (minimum versions match pyproject.toml)
PIP_REQUIREMENTS: dict[str, str] = {
    "monai": "monai>=1.4",
    "safetensors": "safetensors>=0.4",
    "einops": "einops>=0.7",
    "scipy": "scipy>=1.10",
}


def missing_packages(find_spec=importlib.util.find_spec) -> list[str]:
    """Import names (torch first) that are not importable in this Python."""
    names = ["torch", *PIP_REQUIREMENTS]
    return [name for name in names if find_spec(name) is None]


def pip_requirements(names: list[str]) -> list[str]:
    """pip requirement strings for the missing import names (torch excluded: PyTorch extension)."""
    return [PIP_REQUIREMENTS[name] for name in names if name in PIP_REQUIREMENTS]
