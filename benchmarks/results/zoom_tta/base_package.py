"""The package this experiment's scripts look through: the one without a magnified look.

Session 29 ran them with the shipped demo 0.10.0. Since 0.11.0 ships the look, they read
``$ZOOM_TTA_PACKAGE`` (a folder holding 0.10.0, e.g. from ``git archive 07cfe39``) and refuse a
package that already has a look: its maps' cache key differs from the cached 0.10.0 maps, and
its pipeline would run the look inside the "normal" map.
"""
from __future__ import annotations

import os

from lungtumorseg.models.package import ModelPackage, default_package_dir, load_package

ENV = "ZOOM_TTA_PACKAGE"


def base_package() -> ModelPackage:
    """``$ZOOM_TTA_PACKAGE`` or the shipped demo package; exits when it has a magnified look."""
    package = load_package(os.environ.get(ENV) or default_package_dir())
    if package.card.magnified_look is not None:
        raise SystemExit(f"{package.card.name} {package.card.version} already has a magnified look: set {ENV} to a "
                         "package without one (demo 0.10.0: git archive 07cfe39 LungTumorSeg/Resources/Models)")
    return package
