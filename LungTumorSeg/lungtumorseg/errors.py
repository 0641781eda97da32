"""Exceptions that carry a message written for the person running the tool.

Every failure a user can cause (a wrong path, a file that is not a CT, a damaged model
package) is raised as one of these so the command line can print one line and exit
non-zero, and the Slicer module can show the same text in its status area.
"""


class LungTumorSegError(Exception):
    """Base class: the message says what was wrong and what to do."""


class InputImageError(LungTumorSegError):
    """The input image cannot be read or is not a usable 3D CT."""


class ModelPackageError(LungTumorSegError):
    """A model package is missing, incomplete, tampered with or malformed."""


class PackageAlreadyInstalledError(ModelPackageError):
    """A package of the same folder name is installed; the caller may ask, then overwrite."""

    def __init__(self, message: str, path: str) -> None:
        super().__init__(message)
        self.path = path


class DatasetError(LungTumorSegError):
    """A training/evaluation data folder does not have the expected layout."""


class CancelledError(LungTumorSegError):
    """The user cancelled a long-running operation; nothing was written."""
