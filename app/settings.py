"""User settings (recent files and folders, view preferences) as one JSON file.

Stored under ``$XDG_CONFIG_HOME/ActionArtStudio/settings.json`` (``~/.config`` when unset).
Writes are atomic (temp file + rename) so a crash never leaves a half-written file; an
unreadable file is ignored (defaults are used) rather than stopping the app.
"""
from __future__ import annotations

import contextlib
import json
import logging
import os
import tempfile
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)
MAX_RECENT = 10


def config_dir() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.expanduser("~/.config")
    return Path(base) / "ActionArtStudio"


class UserSettings:
    """Small key/value store plus most-recently-used lists. Not a QObject on purpose."""

    def __init__(self, path=None) -> None:
        self.path = Path(path) if path else config_dir() / "settings.json"
        self._data: dict[str, Any] = self._load()

    def _load(self) -> dict:
        try:
            with open(self.path, encoding="utf-8") as fh:
                data = json.load(fh)
            return data if isinstance(data, dict) else {}
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            log.warning("ignoring unreadable settings file %s: %s", self.path, exc)
            return {}

    def save(self) -> bool:
        """Write atomically (a private temp file, flushed to disk, then renamed over the
        old one); returns False (and logs) when the folder is not writable."""
        tmp = None
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=self.path.name + ".", suffix=".tmp",
                                       dir=self.path.parent)
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(self._data, fh, indent=1, sort_keys=True)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.path)
            return True
        except OSError as exc:
            log.warning("cannot save settings to %s: %s", self.path, exc)
            if tmp is not None:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
            return False

    # -- plain values ---------------------------------------------------------------------
    def get(self, key: str, default: Any = None) -> Any:
        return self._data.get(key, default)

    def set(self, key: str, value: Any, save: bool = True) -> None:
        self._data[key] = value
        if save:
            self.save()

    # -- recent lists -----------------------------------------------------------------------
    def _recent(self, key: str) -> list[str]:
        items = self._data.get(key) or []
        return [p for p in items if isinstance(p, str)]

    def _push(self, key: str, path) -> None:
        path = os.path.abspath(str(path))
        items = [p for p in self._recent(key) if p != path]
        self.set(key, [path] + items[: MAX_RECENT - 1])

    def recent_files(self) -> list[str]:
        return self._recent("recent_files")

    def recent_folders(self) -> list[str]:
        return self._recent("recent_folders")

    def add_recent_file(self, path) -> None:
        self._push("recent_files", path)

    def add_recent_folder(self, path) -> None:
        self._push("recent_folders", path)

    def remove_recent(self, path) -> None:
        """Drop ``path`` from both recent lists (it failed to open or is gone)."""
        path = os.path.abspath(str(path))
        changed = False
        for key in ("recent_files", "recent_folders"):
            items = self._recent(key)
            if path in items:
                self._data[key] = [p for p in items if p != path]
                changed = True
        if changed:
            self.save()

    def clear_recent(self) -> None:
        self._data.pop("recent_files", None)
        self._data.pop("recent_folders", None)
        self.save()
