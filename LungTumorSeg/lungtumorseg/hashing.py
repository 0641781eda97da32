"""SHA-256 of a file: the one checksum that guards model weights, downloads and the example CT.

Standard library only, so modules that must import before torch or SimpleITK are installed
(the Slicer sample registration, ``lungtumorseg.example``) can use it.
"""

from __future__ import annotations

import hashlib
from pathlib import Path


def sha256_of(path: str | Path) -> str:
    """Hex SHA-256 of the file at ``path``, read in 1 MiB blocks (large weights never sit in memory whole)."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
