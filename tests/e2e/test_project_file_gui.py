"""The GUI with a project file it cannot use: locked by another program (detected within a
second, not after the store's 10 s busy wait) or read-only for the user. Either way the
window opens on an in-memory project with a warning, and the file is left untouched."""
from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import run_unprivileged

REPO = Path(__file__).resolve().parents[2]


def _locked(path: Path, exclusive_mode: bool) -> sqlite3.Connection:
    from models.store import Repository

    Repository(path).close()
    other = sqlite3.connect(path, isolation_level=None)
    if exclusive_mode:  # another program that keeps the whole file to itself
        other.execute("PRAGMA locking_mode = EXCLUSIVE")
    other.execute("BEGIN EXCLUSIVE")
    return other


@pytest.mark.parametrize("exclusive_mode", [False, True])
def test_open_project_detects_a_lock_and_falls_back(tmp_path, exclusive_mode):
    from app.context import open_project

    path = tmp_path / "locked.aastudio"
    other = _locked(path, exclusive_mode)
    try:
        repo, warning = open_project(path)
        assert repo.path == ":memory:" and "locked" in warning
        repo.set_setting("k", 1)  # the in-memory project works while the file stays locked
        assert repo.get_setting("k") == 1
    finally:
        other.execute("ROLLBACK")
        other.close()
    repo2, warning2 = open_project(path)  # lock released: the file opens normally
    assert warning2 is None and repo2.path == str(path)
    repo2.close()


def test_gui_on_a_locked_project_opens_in_memory(tmp_path, clip):
    path = tmp_path / "locked.aastudio"
    other = _locked(path, exclusive_mode=True)
    out = tmp_path / "shot.png"
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", ACTIONART_HOME=str(tmp_path))
    try:
        res = subprocess.run([sys.executable, str(REPO / "main.py"), "--screenshot", str(out),
                              "--project", str(path), "--no-extract",
                              str(clip("street_pedestrians.mp4"))], cwd=REPO, env=env,
                             capture_output=True, text=True, timeout=120)
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert res.returncode == 0, res.stderr
    assert "locked by another program" in res.stderr and "in-memory project" in res.stderr
    assert out.is_file()


def test_gui_on_a_read_only_project_opens_in_memory(public_tmp, clip):
    from models.store import Repository

    public_tmp.chmod(0o777)  # the folder is writable for the user, the file is not
    path = public_tmp / "ro project.aastudio"
    Repository(path).close()
    path.chmod(0o444)
    before = path.read_bytes()
    out = public_tmp / "shot.png"
    code = ("import os, sys\n"
            f"os.environ.update(QT_QPA_PLATFORM='offscreen', ACTIONART_HOME={str(public_tmp)!r},"
            f" XDG_CONFIG_HOME={str(public_tmp / 'config')!r})\n"
            "from widgets.gui_main import run_gui\n"
            f"rc = run_gui(['--screenshot', {str(out)!r}, '--project', {str(path)!r},"
            f" '--no-extract', {str(clip('street_pedestrians.mp4'))!r}])\n"
            "print('rc', rc)\n")
    res = run_unprivileged(code, cwd=public_tmp)
    assert "rc 0" in res.stdout, res.stderr
    assert "read-only" in res.stderr and "in-memory project" in res.stderr
    assert out.is_file() and path.read_bytes() == before
