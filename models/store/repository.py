"""The one repository: every read and write of the project file goes through here.

Each aggregate (clips + poses, QA, model answers, ...) is a mixin in its own module; this
class composes them over one ``Database``. Every public write method is one transaction.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from .db import Database
from .repo_poses import PoseRepo
from .repo_qa import QARepo
from .repo_vlm import VLMRepo
from .repo_eval import EvalRepo

if TYPE_CHECKING:
    from ..pose.storage import ClipStore, PeopleStore, PoseStore
    from ..qa.storage import AnswerSource, EvalStore, QAPoseStore, QAStore
    from ..vlm.storage import AnswerStore, EndpointStore, SettingsStore


def default_project_path() -> Path:
    base = os.environ.get("ACTIONART_HOME") or os.path.join(
        os.environ.get("XDG_DATA_HOME") or os.path.expanduser("~/.local/share"), "ActionArtStudio")
    os.makedirs(base, exist_ok=True)
    return Path(base) / "project.aastudio"


class Repository(PoseRepo, QARepo, VLMRepo, EvalRepo):
    """``allow_read_only``: open a project the user may only read (commands that only
    read); its writes are then refused with a message naming the read-only file."""

    def __init__(self, path=None, allow_read_only: bool = False) -> None:
        self.path = str(path or default_project_path())
        self.db = Database(self.path, allow_read_only=allow_read_only)

    @property
    def read_only(self) -> bool:
        return self.db.read_only

    def close(self) -> None:
        self.db.close()


if TYPE_CHECKING:
    def _satisfies(repo: Repository) -> tuple[PoseStore, ClipStore, PeopleStore, QAStore,
                                              QAPoseStore, AnswerSource, EvalStore, AnswerStore,
                                              EndpointStore, SettingsStore]:
        """Never called: the type checker proves the repository provides what each consumer's
        protocol asks for (the importers' protocol is checked by the tests)."""
        return repo, repo, repo, repo, repo, repo, repo, repo, repo, repo
