"""The one repository: every read and write of the project file goes through here.

Each aggregate (clips + poses, QA, model answers, ...) is a mixin in its own module; this
class composes them over one ``Database``. Every public write method is one transaction.
"""
from __future__ import annotations

import os
from pathlib import Path

from .db import Database
from .repo_poses import PoseRepo
from .repo_qa import QARepo
from .repo_vlm import VLMRepo
from .repo_eval import EvalRepo


def default_project_path() -> Path:
    base = os.environ.get("ACTIONART_HOME") or os.path.join(
        os.environ.get("XDG_DATA_HOME") or os.path.expanduser("~/.local/share"), "ActionArtStudio")
    os.makedirs(base, exist_ok=True)
    return Path(base) / "project.aastudio"


class Repository(PoseRepo, QARepo, VLMRepo, EvalRepo):
    def __init__(self, path=None) -> None:
        self.path = str(path or default_project_path())
        self.db = Database(self.path)

    def close(self) -> None:
        self.db.close()
