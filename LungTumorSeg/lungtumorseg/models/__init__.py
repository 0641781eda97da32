"""Model packages: a card (``model.json``) plus one safetensors weight file per zone.

Importing this package does not import torch: listing, verifying and installing packages
is cheap; torch is loaded when a network is built or weights are read or written.
"""

from .install import install_from_folder, install_from_url
from .package import (
    CARD_FILE,
    ModelCard,
    ModelPackage,
    default_package_dir,
    list_packages,
    load_package,
    save_package,
    user_models_dir,
)

__all__ = [
    "CARD_FILE",
    "ModelCard",
    "ModelPackage",
    "build_unetr",
    "default_package_dir",
    "install_from_folder",
    "install_from_url",
    "list_packages",
    "load_package",
    "save_package",
    "user_models_dir",
]


def __getattr__(name: str):
    if name == "build_unetr":  # lazy: needs torch and MONAI
        from .network import build_unetr

        return build_unetr
    raise AttributeError(name)
