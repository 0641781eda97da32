"""Writing CSV and JSON results with explicit non-finite values, atomically.

CSV: floats with 6 significant digits, ``nan``/``inf``/``-inf`` spelled out (Python's
``float()`` and pandas read them back), booleans as ``True``/``False``, missing as empty.
JSON: strict (RFC 8259) — ``nan``/``inf`` become ``null``; the summary's ``n_nan``/``n_inf``
counts say how many were undefined or unbounded.
"""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

from ..io import write_text_atomic


def format_cell(value: Any) -> str:
    """One CSV cell."""
    if value is None:
        return ""
    if isinstance(value, (bool, np.bool_)):
        return "True" if value else "False"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        v = float(value)
        if math.isnan(v):
            return "nan"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return f"{v:.6g}"
    return str(value)


def write_csv(rows: Iterable[Mapping[str, Any]], columns: Sequence[str], path: Path) -> Path:
    """Write ``rows`` with exactly ``columns`` (missing keys → empty cells)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([format_cell(row.get(c)) for c in columns])
    return write_text_atomic(buffer.getvalue(), path)


def json_safe(value: Any) -> Any:
    """A copy with non-finite floats → None and numpy scalars/arrays → Python types."""
    if isinstance(value, Mapping):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if isinstance(value, np.ndarray):
        return json_safe(value.tolist())
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        v = float(value)
        return v if math.isfinite(v) else None
    if isinstance(value, Path):
        return str(value)
    return value


def write_json(data: Any, path: Path) -> Path:
    """Strict JSON (``allow_nan=False`` after :func:`json_safe`), indented."""
    return write_text_atomic(json.dumps(json_safe(data), indent=2, allow_nan=False) + "\n", path)
