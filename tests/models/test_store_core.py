"""The project file: migrations, version checks, pose cache round trips, bad files."""
from __future__ import annotations

import sqlite3

import numpy as np
import pytest

from models.errors import StoreError
from models.pose.track import PoseTrack
from models.store import SCHEMA_VERSION, Repository
from models.store.db import Database


def _track(frames=6, seed=0) -> PoseTrack:
    rng = np.random.default_rng(seed)
    img = rng.random((frames, 33, 4)).astype(np.float32)
    img[2] = np.nan  # a frame without a pose
    return PoseTrack(img, img * 2 - 1, fps=25.0, width=640, height=480,
                     backend="mediapipe-full", backend_version="0.10.21",
                     settings={"model_complexity": 1})


def test_new_file_is_wal_and_fully_migrated(tmp_path):
    repo = Repository(tmp_path / "p.aastudio")
    assert repo.db.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert repo.db.version() == SCHEMA_VERSION
    names = [r[0] for r in repo.db.query("SELECT name FROM schema_version ORDER BY version")]
    assert names[0] == "0001_initial" and len(names) == SCHEMA_VERSION


def test_migration_from_version_1_keeps_data(tmp_path, clip):
    path = tmp_path / "old.aastudio"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE schema_version (version INTEGER PRIMARY KEY, name TEXT NOT NULL, "
                 "applied_at TEXT NOT NULL DEFAULT 'x')")
    from models.store.db import _migrations, _split_sql

    for stmt in _split_sql(_migrations()[0][2]):
        conn.execute(stmt)
    conn.execute("INSERT INTO schema_version(version, name) VALUES (1, '0001_initial')")
    conn.execute("INSERT INTO project_settings VALUES ('k', '\"v\"')")
    conn.commit()
    conn.close()
    repo = Repository(path)
    assert repo.db.version() == SCHEMA_VERSION
    assert repo.get_setting("k") == "v"


def test_track_round_trip_is_exact(project):
    track = _track()
    project.save_track("abc", track)
    back = project.load_track("abc", "mediapipe-full", {"model_complexity": 1})
    np.testing.assert_array_equal(back.image, track.image)
    np.testing.assert_array_equal(back.world, track.world)
    assert (back.fps, back.width, back.height, back.backend_version) == (25.0, 640, 480, "0.10.21")
    assert back.has_pose.tolist() == [True, True, False, True, True, True]


def test_cache_key_includes_settings_and_backend(project):
    project.save_track("abc", _track())
    assert project.load_track("abc", "mediapipe-full", {"model_complexity": 2}) is None
    assert project.load_track("abc", "other", {"model_complexity": 1}) is None
    assert project.load_track("zzz", "mediapipe-full", {"model_complexity": 1}) is None


def test_partial_track_is_kept_but_not_served_as_complete(project):
    t = _track()
    t.frames_done = 3
    project.save_track("abc", t)
    key = ("abc", "mediapipe-full", {"model_complexity": 1})
    assert project.load_track(*key, complete_only=True) is None
    assert project.load_track(*key).frames_done == 3
    t.frames_done = len(t)
    project.save_track("abc", t)
    assert project.load_track(*key, complete_only=True).complete


def test_clip_rows_and_hash_cache(project, clip):
    from models.video import probe

    info = probe(clip("street_pedestrians.mp4"))
    cid = project.upsert_clip(info)
    assert project.upsert_clip(info) == cid
    row = project.clip_by_path(clip("street_pedestrians.mp4"))
    assert (row["frames"], row["width"], row["height"]) == (5, 960, 540)
    assert project.clip_hash(clip("street_pedestrians.mp4")) == row["content_hash"]


def test_newer_schema_is_refused_and_file_untouched(tmp_path):
    path = tmp_path / "future.aastudio"
    Repository(path).close()
    conn = sqlite3.connect(path)
    conn.execute("INSERT INTO schema_version(version, name) VALUES (999, 'future')")
    conn.commit()
    conn.close()
    before = path.read_bytes()
    with pytest.raises(StoreError, match="newer"):
        Repository(path)
    assert path.read_bytes() == before


def test_not_sqlite_is_refused(tmp_path):
    path = tmp_path / "notes.aastudio"
    path.write_text("just some text, definitely not a database")
    with pytest.raises(StoreError, match="not an ActionArt project"):
        Repository(path)
    assert path.read_text().startswith("just some text")


def test_read_only_project_file_is_refused(public_tmp):
    from tests.conftest import run_unprivileged

    path = public_tmp / "ro.aastudio"
    Repository(path).close()
    path.chmod(0o444)
    before = path.read_bytes()
    out = run_unprivileged(
        "from models.store import Repository\n"
        "from models.errors import StoreError\n"
        "try:\n"
        f"    Repository({str(path)!r})\n"
        "except StoreError as e:\n"
        "    print('refused:', e)\n")
    assert out.returncode == 0, out.stderr
    assert "refused:" in out.stdout and "read-only" in out.stdout
    assert path.read_bytes() == before


def test_locked_project_reports_lock(tmp_path):
    path = tmp_path / "locked.aastudio"
    repo = Repository(path)
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")
    try:
        repo.db.busy_timeout_s = 0.2
        repo.db.close()
        with pytest.raises(StoreError, match="locked"):
            repo.set_setting("x", 1)
    finally:
        other.execute("ROLLBACK")
        other.close()
    repo.set_setting("x", 1)
    assert repo.get_setting("x") == 1
