"""Rewrite the file lists in LungTumorSeg/CMakeLists.txt from what is on disk.

Why: slicerMacroBuildScriptedModule installs only the files it is told about; a .py or
model file missing from the list works in the source tree but breaks the installed
extension. ``Testing/test_slicer_cmake.py`` fails when the lists are stale; this script
fixes them. Run: python scripts/update_module_cmake.py
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MODULE = REPO / "LungTumorSeg"
CMAKE = MODULE / "CMakeLists.txt"
SKIP_PARTS = {"__pycache__", ".pytest_cache"}


def _files() -> tuple[list[str], list[str]]:
    scripts, resources = [], []
    for path in sorted(MODULE.rglob("*")):
        rel = path.relative_to(MODULE)
        if not path.is_file() or SKIP_PARTS & set(rel.parts) or any(p.startswith(".") for p in rel.parts):
            continue
        if rel.as_posix() == "CMakeLists.txt":
            continue
        if rel.parts[0] == "Resources":  # every file, whatever its type: a model may bring new kinds
            resources.append(rel.as_posix())
        elif path.suffix == ".py":
            scripts.append(rel.as_posix())
    return scripts, resources


def expected_lists() -> dict[str, list[str]]:
    """Files that must be listed: {"MODULE_PYTHON_SCRIPTS": [...], "MODULE_PYTHON_RESOURCES": [...]}."""
    scripts, resources = _files()
    return {"MODULE_PYTHON_SCRIPTS": scripts, "MODULE_PYTHON_RESOURCES": resources}


def listed(text: str, variable: str) -> list[str]:
    """The entries of ``set(<variable> ...)`` in CMake ``text``."""
    match = re.search(rf"set\({variable}\s+(.*?)\)", text, re.S)
    if not match:
        return []
    entries = []
    for token in match.group(1).split():
        if token.startswith("#"):
            continue
        entries.append(token.replace("${MODULE_NAME}", "LungTumorSeg").strip('"'))
    return entries


def render(lists: dict[str, list[str]]) -> str:
    def block(variable: str) -> str:
        body = "\n".join(f"  {entry}" for entry in lists[variable])
        return f"set({variable}\n{body}\n  )"

    return f"""#-----------------------------------------------------------------------------
set(MODULE_NAME LungTumorSeg)

#-----------------------------------------------------------------------------
# Every file is listed explicitly (Testing/test_slicer_cmake.py checks it;
# regenerate with: python scripts/update_module_cmake.py)
{block("MODULE_PYTHON_SCRIPTS")}

{block("MODULE_PYTHON_RESOURCES")}

#-----------------------------------------------------------------------------
slicerMacroBuildScriptedModule(
  NAME ${{MODULE_NAME}}
  SCRIPTS ${{MODULE_PYTHON_SCRIPTS}}
  RESOURCES ${{MODULE_PYTHON_RESOURCES}}
  WITH_GENERIC_TESTS
  )

#-----------------------------------------------------------------------------
if(BUILD_TESTING)

  # Register the unittest subclass in the main script as a ctest.
  # Note that the test will also be available at runtime.
  slicer_add_python_unittest(SCRIPT ${{MODULE_NAME}}.py)

endif()
"""


if __name__ == "__main__":
    CMAKE.write_text(render(expected_lists()), encoding="utf-8")
    counts = {k: len(v) for k, v in expected_lists().items()}
    print(f"wrote {CMAKE.relative_to(REPO)}: {counts}", file=sys.stderr)
