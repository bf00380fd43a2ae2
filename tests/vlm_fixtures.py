"""Tiny VLM checkpoints for the tests, built once per test session (offline, ~0.5 MB each).

``tiny_checkpoint(family)`` returns the folder of a real ``save_pretrained`` checkpoint of
that family (tokenizer trained with ``tokenizers``, the family's processor with image and
video processor and chat template, tiny random weights): see ``models/vlm/tiny.py``.
Import the fixtures into a test module: ``from tests.vlm_fixtures import tiny_ckpt``.
"""
from __future__ import annotations

import atexit
import shutil
import tempfile
import threading
from pathlib import Path

import pytest

from models.vlm.tiny import FAMILIES, build_tiny_checkpoint

ALL_FAMILIES = tuple(FAMILIES)
_ROOT: list[Path] = []
_BUILT: dict[str, Path] = {}
_LOCK = threading.Lock()


def _root() -> Path:
    if not _ROOT:
        _ROOT.append(Path(tempfile.mkdtemp(prefix="aa_tiny_vlm_")))
        atexit.register(shutil.rmtree, _ROOT[0], True)
    return _ROOT[0]


def tiny_checkpoint(family: str) -> Path:
    with _LOCK:
        if family not in _BUILT:
            _BUILT[family] = build_tiny_checkpoint(family, _root() / family, seed=0)
        return _BUILT[family]


@pytest.fixture(scope="session")
def tiny_ckpt():
    return tiny_checkpoint


def copy_checkpoint(family: str, dest: Path, drop=()) -> Path:
    """A copy of a tiny checkpoint without the files named in ``drop``."""
    shutil.copytree(tiny_checkpoint(family), dest)
    for name in drop:
        (dest / name).unlink()
    return dest
