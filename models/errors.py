"""Errors the core raises for bad input. Each carries a one-line, user-facing message."""


class StudioError(Exception):
    """Base class: ``str(err)`` is a complete sentence fit for a dialog or stderr."""


class VideoError(StudioError):
    """A video cannot be opened or decoded."""


class StoreError(StudioError):
    """The project file cannot be opened, read or written."""


class ProjectDamaged(StoreError):
    """The project file opens but its content is damaged: a missing table, an undecodable
    pose blob, a QA row whose JSON columns do not parse or have the wrong shape."""


class PoseError(StudioError):
    """Pose extraction or import failed."""


class BackendUnavailable(StudioError):
    """A backend's required packages or files are missing."""


class Cancelled(StudioError):
    """A job stopped because the user cancelled it."""
