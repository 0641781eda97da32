"""Model packages: a card (``model.json``) plus one safetensors weight file per zone."""

from .package import (
    CARD_FILE,
    ModelCard,
    ModelPackage,
    default_package_dir,
    list_packages,
    load_package,
    save_package,
)
from .network import build_unetr

__all__ = [
    "CARD_FILE",
    "ModelCard",
    "ModelPackage",
    "build_unetr",
    "default_package_dir",
    "list_packages",
    "load_package",
    "save_package",
]
