"""Errors of the QA area; each message is one user-facing line."""
from __future__ import annotations

from ..errors import StudioError


class QAError(StudioError):
    """A QA item cannot be created, edited or generated as asked."""


class CaptionImportError(StudioError):
    """A caption file is malformed; the message names the line. Nothing was imported."""


class NoPosesError(StudioError):
    """Generation from pose facts was asked for a clip that has no extracted poses."""
