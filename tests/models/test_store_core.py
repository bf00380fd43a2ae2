"""The project file: migrations, version checks, pose cache round trips, bad files."""
from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pytest

from models.errors import StoreError
from models.pose.track import PoseTrack
from models.store import SCHEMA_VERSION, Repository


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


def test_damage_scores_round_trip_and_tracks_without_them_still_load(project, tmp_path):
    track = _track()
    track.damage = np.array([0.01, 0.2, np.nan, 0.0, 0.05, 0.3], dtype=np.float32)
    project.save_track("dmg", track)
    back = project.load_track("dmg", "mediapipe-full", {"model_complexity": 1})
    np.testing.assert_array_equal(back.damage, track.damage)      # NaN: not measured
    for name in ("t.npz", "t.json"):
        track.save(tmp_path / name)
        np.testing.assert_array_equal(PoseTrack.load(tmp_path / name).damage, track.damage)
    old = _track()                                  # written before the scores were kept
    project.save_track("old", old)
    assert project.load_track("old", "mediapipe-full", {"model_complexity": 1}).damage is None
    old.save(tmp_path / "old.json")
    assert PoseTrack.load(tmp_path / "old.json").damage is None
    with pytest.raises(ValueError, match="damage"):
        PoseTrack(old.image, old.world, 25.0, 640, 480, damage=np.zeros(3))


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


# -- damaged content, odd paths, read-only and full disks ------------------------------------
def _store_track(repo, clip_path) -> str:
    from models.pose.extract import DEFAULT_BACKEND, _settings

    digest = repo.clip_hash(clip_path)
    track = _track(frames=5)
    track.backend, track.settings = DEFAULT_BACKEND, _settings(DEFAULT_BACKEND, None)
    repo.save_track(digest, track)
    return digest


def _npz(**arrays) -> bytes:
    import io
    import json as _json

    meta = {"fps": 25.0, "width": 640, "height": 480, "backend": "b", "backend_version": "",
            "settings": {}, "skeleton": "blazepose33", "frames_done": 5, "frames": 5}
    arrays.setdefault("meta", np.frombuffer(_json.dumps(meta).encode(), dtype=np.uint8))
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    return buf.getvalue()


@pytest.mark.parametrize("blob,problem", [
    (b"garbage bytes, not an archive", "not a readable archive"),
    (lambda good: good[:len(good) // 2], "not a readable archive"),                 # cut short
    (_npz(image=np.zeros((3, 33, 4)), world=np.zeros((3, 33, 4))), "holds 3 frames"),  # truncated
    (_npz(image=np.zeros((5, 33, 4)), world=np.zeros((5, 33, 3))), "cannot be decoded"),
    (_npz(image=np.zeros((5, 33, 4))), "not image, world and meta"),
    (_npz(image=np.zeros((5, 33, 4)), world=np.zeros((5, 33, 4)),
          meta=np.frombuffer(b"{not json", dtype=np.uint8)), "cannot be decoded"),
    (_npz(image=np.zeros((5, 33, 4)), world=np.zeros((5, 33, 4)),
          damage=np.zeros(100_000, np.float32)), "declares more data"),
    (_npz(image=np.zeros((5, 33, 4)), world=np.zeros((5, 33, 4)),
          damage=np.zeros(4, np.float32)), "cannot be decoded"),
])
def test_damaged_pose_blob_is_one_store_error_naming_the_clip(project, clip, blob, problem):
    from models.errors import ProjectDamaged

    path = clip("street_pedestrians.mp4")
    digest = _store_track(project, path)
    good = project.db.query("SELECT data FROM pose_tracks")[0][0]
    with project.db.write() as conn:
        conn.execute("UPDATE pose_tracks SET data=?", (blob(good) if callable(blob) else blob,))
    from models.pose.extract import DEFAULT_BACKEND, _settings

    with pytest.raises(ProjectDamaged) as err:
        project.load_track(digest, DEFAULT_BACKEND, _settings(DEFAULT_BACKEND, None))
    assert problem in str(err.value) and str(path) in str(err.value)
    assert project.drop_damaged_track(digest, DEFAULT_BACKEND, _settings(DEFAULT_BACKEND, None))
    assert project.track_status(digest) == []


@pytest.mark.parametrize("options,answer,problem", [
    ("not json[", 0, "options are not valid JSON"), ('{"a": 1}', 0, "not a list"),
    ('["only one"]', 0, "at least two"), ('["a", 2]', 0, "at least two"),
    ('["a", "b"]', 5, "answer index 5")])
def test_damaged_qa_row_is_one_store_error_naming_the_item(project, options, answer, problem):
    from models.errors import ProjectDamaged
    from models.qa.record import QARecord

    project.add_qa_items([QARecord("q1", "body_part_pose", "c.mp4", "Q?", ["a", "b"], 0),
                          QARecord("q2", "body_part_pose", "c.mp4", "R?", ["c", "d"], 1)])
    with project.db.write() as conn:
        conn.execute("UPDATE qa_items SET options=?, answer_index=? WHERE qa_id='q1'",
                     (options, answer))
    for call in (project.qa_records, lambda: project.qa_record("q1"),
                 lambda: project.qa_questions("c.mp4"),
                 lambda: project.qa_answer_positions(["body_part_pose"], "rule")):
        with pytest.raises(ProjectDamaged, match=f"QA item q1 .*{problem}"):
            call()
    damaged: list = []
    assert [r.qa_id for r in project.qa_records(None, damaged)] == ["q2"]
    assert damaged[0][0] == "q1"


def test_provenance_json_of_wrong_shape_is_damaged(project):
    from models.errors import ProjectDamaged
    from models.qa.record import QARecord

    project.add_qa_items([QARecord("q1", "t", "c.mp4", "Q?", ["a", "b"], 0)])
    with project.db.write() as conn:
        conn.execute("UPDATE qa_items SET frame_indices='\"12\"'")
    with pytest.raises(ProjectDamaged, match="frame_indices is a JSON str, not a list"):
        project.qa_records()


@pytest.mark.parametrize("drop", ["schema_version", "qa_items", "pose_tracks"])
def test_project_with_a_dropped_table_is_refused_untouched(tmp_path, drop):
    from models.errors import ProjectDamaged

    path = tmp_path / "p.aastudio"
    repo = Repository(path)
    repo.set_setting("k", "v")
    repo.close()
    conn = sqlite3.connect(path)
    conn.execute(f"DROP TABLE {drop}")
    conn.commit()
    conn.close()
    before = path.read_bytes()
    with pytest.raises(ProjectDamaged, match="not a valid ActionArt project|is damaged") as err:
        Repository(path)
    assert (drop in str(err.value)) or drop == "schema_version"
    assert path.read_bytes() == before
    conn = sqlite3.connect(path)  # nothing re-created over the data
    names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    conn.close()
    assert drop not in names and "project_settings" in names


def test_someone_elses_sqlite_file_is_refused_untouched(tmp_path):
    from models.errors import ProjectDamaged

    path = tmp_path / "other.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE clips (x)")
    conn.commit()
    conn.close()
    before = path.read_bytes()
    with pytest.raises(ProjectDamaged, match="not a valid ActionArt project"):
        Repository(path)
    assert path.read_bytes() == before


def test_fifo_and_device_are_refused_without_blocking(tmp_path):
    import os
    import subprocess
    import sys

    fifo = tmp_path / "pipe.aastudio"
    os.mkfifo(fifo)
    code = ("import sys; sys.path.insert(0, %r)\n"
            "from models.store import Repository\nfrom models.errors import StoreError\n"
            "for p in sys.argv[1:]:\n"
            "    try:\n        Repository(p)\n    except StoreError as e:\n        print(e)\n"
            % str(Path(__file__).resolve().parents[2]))
    out = subprocess.run([sys.executable, "-c", code, str(fifo), "/dev/null"],
                         capture_output=True, text=True, timeout=60)
    lines = out.stdout.splitlines()
    assert len(lines) == 2, out
    assert "named pipe (FIFO)" in lines[0] and "character device" in lines[1]


def test_read_only_project_file_opens_for_reading(public_tmp):
    from tests.conftest import run_unprivileged

    path = public_tmp / "ro.aastudio"
    repo = Repository(path)
    repo.set_setting("k", "v")
    repo.close()
    path.chmod(0o444)
    before = path.read_bytes()
    out = run_unprivileged(
        "from models.store import Repository\n"
        "from models.errors import StoreError\n"
        "try:\n"
        f"    Repository({str(path)!r})\n"
        "except StoreError as e:\n"
        "    print('refused:', e)\n"
        f"repo = Repository({str(path)!r}, allow_read_only=True)\n"
        "print('read:', repo.read_only, repo.get_setting('k'))\n"
        "try:\n"
        "    repo.set_setting('k', 'w')\n"
        "except StoreError as e:\n"
        "    print('write:', e)\n")
    assert out.returncode == 0, out.stderr
    assert "refused:" in out.stdout and "read-only" in out.stdout
    assert "read: True v" in out.stdout
    assert "write: Project file" in out.stdout and "is read-only; nothing was changed" in out.stdout
    assert path.read_bytes() == before


def test_project_in_a_read_only_folder_opens_for_reading(public_tmp):
    from tests.conftest import run_unprivileged

    folder = public_tmp / "ro"
    folder.mkdir()
    path = folder / "p.aastudio"
    repo = Repository(path)
    repo.set_setting("k", [1, 2])
    repo.close()
    folder.chmod(0o555)
    out = run_unprivileged(
        f"from models.store import Repository\nrepo = Repository({str(path)!r}, allow_read_only=True)\n"
        "print('read:', repo.get_setting('k'))\n")
    assert out.returncode == 0, out.stderr
    assert "read: [1, 2]" in out.stdout
    assert sorted(p.name for p in folder.iterdir()) == ["p.aastudio"]


FILL = """
import sys
sys.path.insert(0, {root!r})
from models.errors import StoreError
from models.qa.record import QARecord
from models.store import Repository
path = sys.argv[1]
try:
    repo = Repository(path)
    for i in range(100000):
        repo.add_qa_items([QARecord(f"q{{i}}_{{j}}", "t", "c.mp4", f"Q {{i}} {{j}}?" + "x" * 400,
                                    ["a", "b"], 0) for j in range(20)])
except StoreError as e:
    print("error:", e)
"""


def _mount_tmpfs(where) -> bool:
    import os
    import subprocess

    if os.geteuid() != 0:
        return False
    res = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(where)],
                         capture_output=True, timeout=30)
    return res.returncode == 0


def test_full_disk_is_a_clear_message(tmp_path):
    """A real full drive (a 1 MiB tmpfs; root can mount one here). Where mounting is not
    allowed the drive is simulated by a file size limit (RLIMIT_FSIZE, SIGXFSZ ignored)."""
    import os
    import resource
    import signal
    import subprocess
    import sys

    root = str(Path(__file__).resolve().parents[2])
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    mounted = _mount_tmpfs(mnt)
    try:
        project = mnt / "p.aastudio"
        limit = None if mounted else (
            lambda: (signal.signal(signal.SIGXFSZ, signal.SIG_IGN),
                     resource.setrlimit(resource.RLIMIT_FSIZE, (1 << 20, 1 << 20))))
        out = subprocess.run([sys.executable, "-c", FILL.format(root=root), str(project)],
                             capture_output=True, text=True, timeout=300, preexec_fn=limit)
        assert "Traceback" not in out.stderr, out.stderr
        # a write past a size limit is an I/O error to SQLite, not a full disk
        assert out.stdout.startswith("error: Disk full") if mounted else \
            out.stdout.startswith("error: Disk I/O error") and "may be full" in out.stdout, out.stdout
        if mounted:  # a closed project on a drive filled to the last byte, opened again
            from models.qa.record import QARecord

            for f in mnt.iterdir():
                f.unlink()
            repo = Repository(project)
            repo.add_qa_items([QARecord("q1", "t", "c.mp4", "Q?", ["a", "b"], 0)])
            repo.close()
            try:
                with open(mnt / "filler", "wb") as fh:
                    while True:
                        fh.write(b"\0" * 4096)
                        fh.flush()
            except OSError:
                pass
            code = ("import sys; sys.path.insert(0, %r)\nimport main\n"
                    "sys.exit(main.main(['qa-check', '--project', %r]))\n" % (root, str(project)))
            res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                 timeout=120)
            lines = res.stderr.strip().splitlines()
            assert res.returncode == 2 and len(lines) == 1, res.stderr
            assert lines[0].startswith("error: Disk full: the drive holding"), lines[0]
            os.remove(mnt / "filler")
            repo = Repository(project)  # space again: the project is intact
            assert repo.qa_count() == 1
            repo.close()
    finally:
        if mounted:
            subprocess.run(["umount", "-l", str(mnt)], capture_output=True, timeout=30)
