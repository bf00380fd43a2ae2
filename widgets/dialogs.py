"""Every dialog of the app goes through here, so tests (and --screenshot) can intercept.

``set_handler(fn)`` installs ``fn(kind, title, text, parent)``; while set, no dialog is
shown and ``fn`` decides (for questions/file pickers its return value is the answer).
Without a handler, messages are non-blocking ``QMessageBox.open()`` windows.
"""
from __future__ import annotations

import logging
from typing import Callable, Optional

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog, QMessageBox, QWidget

log = logging.getLogger(__name__)
Handler = Callable[[str, str, str, Optional[QWidget]], object]
_handler: Optional[Handler] = None
last_start = ""   # the start folder of the last file picker asked for (tests read it)
_ICONS = {"error": QMessageBox.Icon.Critical, "warning": QMessageBox.Icon.Warning,
          "info": QMessageBox.Icon.Information}


def set_handler(fn: Optional[Handler]) -> Optional[Handler]:
    """Install (or with None remove) the interceptor; returns the previous one."""
    global _handler
    previous, _handler = _handler, fn
    return previous


def message(kind: str, title: str, text: str, parent: Optional[QWidget] = None) -> None:
    """Show an error/warning/info message without blocking the event loop."""
    log.info("%s: %s: %s", kind, title, text)
    if _handler is not None:
        _handler(kind, title, text, parent)
        return
    box = QMessageBox(_ICONS.get(kind, QMessageBox.Icon.Information), title, text,
                      QMessageBox.StandardButton.Ok, parent)
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    box.open()


def error(title: str, text: str, parent: Optional[QWidget] = None) -> None:
    message("error", title, text, parent)


def warning(title: str, text: str, parent: Optional[QWidget] = None) -> None:
    message("warning", title, text, parent)


def open_file(parent: Optional[QWidget], caption: str, filters: str, start: str = "") -> str:
    """Path chosen by the user ('' when cancelled)."""
    global last_start
    last_start = start
    if _handler is not None:
        return str(_handler("open_file", caption, filters, parent) or "")
    path, _ = QFileDialog.getOpenFileName(parent, caption, start, filters)
    return path


def open_folder(parent: Optional[QWidget], caption: str, start: str = "") -> str:
    global last_start
    last_start = start
    if _handler is not None:
        return str(_handler("open_folder", caption, "", parent) or "")
    return QFileDialog.getExistingDirectory(parent, caption, start)
