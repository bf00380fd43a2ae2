"""Shared fixtures: paths to the real test material and isolated project files."""
from __future__ import annotations

import atexit
import os
import shutil
import sys
import tempfile
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# Hugging Face `datasets` keys its cache by file paths that pytest's numbered temp folders
# reuse, so a cache shared across runs can serve an earlier run's export: one per session.
os.environ["HF_DATASETS_CACHE"] = tempfile.mkdtemp(prefix="actionart-hf-datasets-")
atexit.register(shutil.rmtree, os.environ["HF_DATASETS_CACHE"], True)
REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
SHARED = Path(os.environ.get("ACTIONART_TEST_DATA", REPO / "tests" / "data"))
CLIPS = SHARED / "clips"
COCO = SHARED / "keypoints" / "coco"


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path_factory, monkeypatch):
    """Never touch the user's real project or settings."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("ACTIONART_HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / "config"))
    return home


@pytest.fixture
def clips_dir() -> Path:
    assert CLIPS.is_dir(), f"test clips missing at {CLIPS}"
    return CLIPS


@pytest.fixture
def clip(clips_dir):
    return lambda name: clips_dir / name


@pytest.fixture
def project(tmp_path):
    from models.store import Repository

    repo = Repository(tmp_path / "test.aastudio")
    yield repo
    repo.close()


def run_unprivileged(code: str, cwd=REPO, timeout=120):
    """Run ``python -c code`` as an unprivileged user when we are root (root ignores
    permission bits, so read-only files are only read-only for someone else)."""
    import subprocess

    cmd = [sys.executable, "-c", "import sys; sys.path.insert(0, %r)\n" % str(REPO) + code]
    if os.geteuid() == 0:
        cmd = ["setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups"] + cmd
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout)


@pytest.fixture
def public_tmp():
    """A temp folder any user can enter (pytest's own tmp root is private to root)."""
    import shutil
    import tempfile

    d = Path(tempfile.mkdtemp(prefix="aastudio-"))
    d.chmod(0o755)
    yield d
    shutil.rmtree(d, ignore_errors=True)
