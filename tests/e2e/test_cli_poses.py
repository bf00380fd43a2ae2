"""`main.py info` and `main.py extract-poses` in real subprocesses (no Qt imported)."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys

import cv2
import numpy as np
import pytest

from models.pose.track import PoseTrack
from models.video import content_hash
from tests.conftest import CLIPS, REPO, run_unprivileged

STREET = CLIPS / "street_pedestrians.mp4"


def cli(*args, timeout=180):
    return subprocess.run([sys.executable, str(REPO / "main.py"), *map(str, args)],
                          capture_output=True, text=True, timeout=timeout, cwd=REPO)


def one_error_line(result) -> str:
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:"), result.stderr
    return lines[0]


def test_info_text_and_json(tmp_path):
    project = tmp_path / "p.aastudio"
    text = cli("info", STREET, "--project", project)
    assert text.returncode == 0, text.stderr
    assert "frames        5" in text.stdout and "960x540" in text.stdout
    assert content_hash(STREET) in text.stdout and "poses         none" in text.stdout
    doc = json.loads(cli("info", "--json", STREET, "--project", project).stdout)
    assert doc["frames"] == 5 and doc["fps"] == 5.0 and doc["duration_s"] == 1.0
    assert (doc["width"], doc["height"]) == (960, 540) and doc["poses"] == "none"


def test_extract_writes_json_then_skips_cached(tmp_path):
    project, out = tmp_path / "p.aastudio", tmp_path / "street.json"
    first = cli("extract-poses", STREET, "--project", project, "--out", out)
    assert first.returncode == 0, first.stderr
    assert "100.0%" in first.stderr and "[####" in first.stderr  # the progress bar
    assert first.stdout.split()[0] == "extracted"
    track = PoseTrack.load(out)
    assert len(track) == 5 and track.complete and track.backend == "mediapipe-full"
    again = cli("extract-poses", STREET, "--project", project, "--out", tmp_path / "s.npz")
    assert again.returncode == 0 and again.stdout.split()[0] == "cached"
    np.testing.assert_allclose(PoseTrack.load(tmp_path / "s.npz").image, track.image, atol=1e-5)
    info = json.loads(cli("info", "--json", STREET, "--project", project).stdout)
    assert info["poses"] == "complete"
    assert info["reliable"] == {"frames": 5, "of": 5, "share": 1.0}   # share of reliable frames
    text = cli("info", STREET, "--project", project).stdout
    assert "reliable      5 of 5 frames (100%) have a reliable pose" in text


def test_folder_with_workers_is_resumable(tmp_path):
    folder = tmp_path / "dataset ü"
    folder.mkdir()
    shutil.copyfile(STREET, folder / "a street.mp4")
    writer = cv2.VideoWriter(str(folder / "flat.avi"), cv2.VideoWriter_fourcc(*"MJPG"), 10,
                             (160, 120))
    for _ in range(3):
        writer.write(np.full((120, 160, 3), 200, np.uint8))
    writer.release()
    (folder / "readme.txt").write_text("not a video")
    project, out = tmp_path / "p.aastudio", tmp_path / "out"
    first = cli("extract-poses", folder, "--workers", "2", "--project", project,
                "--out", out, "--format", "npz")
    assert first.returncode == 0, first.stderr
    assert sorted(p.name for p in out.iterdir()) == ["a street.poses.npz", "flat.poses.npz"]
    flat = PoseTrack.load(out / "flat.poses.npz")
    assert len(flat) == 3 and not flat.has_pose.any()  # nobody in the clip: all NaN
    again = cli("extract-poses", folder, "--project", project)
    assert [ln.split()[0] for ln in again.stdout.splitlines()] == ["cached", "cached"]


def test_no_qt_is_imported():
    code = ("import sys; sys.path.insert(0, %r); import main\n"
            "rc = main.main(['info', '--json', %r, '--project', %r])\n"
            "heavy = [m for m in ('PySide6', 'pyqtgraph', 'mediapipe', 'torch') if m in sys.modules]\n"
            "print('RC', rc, 'HEAVY', heavy)" % (str(REPO), str(STREET), ":memory:"))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, cwd=REPO)
    assert "RC 0 HEAVY []" in out.stdout, out.stderr


def test_extract_imports_no_qt(tmp_path):
    code = ("import sys; sys.path.insert(0, %r); import main\n"
            "rc = main.main(['extract-poses', '--quiet', %r, '--project', %r])\n"
            "print('RC', rc, 'QT', [m for m in sys.modules if m.startswith(('PySide6', 'pyqtgraph'))])\n"
            "print('MP', 'mediapipe' in sys.modules)"
            % (str(REPO), str(STREET), str(tmp_path / "p.aastudio")))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, cwd=REPO)
    assert "RC 0 QT []" in out.stdout and "MP True" in out.stdout, out.stderr


@pytest.mark.parametrize("make, message", [
    (lambda d: d / "missing.mp4", "File not found"),
    (lambda d: (d / "notes.txt").write_text("x") and d / "notes.txt", "Unsupported file type"),
    (lambda d: (d / "fake.mp4").write_text("text\n" * 100) and d / "fake.mp4",
     "not a readable video"),
    (lambda d: (d / "cut.mp4").write_bytes(STREET.read_bytes()[:50_000]) and d / "cut.mp4",
     "not a readable video"),
    (lambda d: d / "empty folder", "folder"),
])
def test_bad_input_one_line_and_nonzero_exit(tmp_path, make, message):
    (tmp_path / "empty folder").mkdir()
    path = make(tmp_path)
    for cmd in ("extract-poses", "info"):
        line = one_error_line(cli(cmd, path, "--project", tmp_path / "p.aastudio"))
        assert any(m in line for m in message.split("|")), line


def test_bad_options(tmp_path):
    line = one_error_line(cli("extract-poses", STREET, "--backend", "nope"))
    assert "Unknown pose backend 'nope'" in line
    line = one_error_line(cli("extract-poses", STREET, STREET.with_name("two_people_room.mp4"),
                              "--out", tmp_path / "one.json", "--project", tmp_path / "p"))
    assert "pass a folder" in line


def test_read_only_project(public_tmp):
    project = public_tmp / "ro.aastudio"
    first = cli("info", STREET, "--project", project)
    assert first.returncode == 0, first.stderr
    project.chmod(0o444)
    before = project.read_bytes()
    out = run_unprivileged(
        "import sys, main\n"
        f"sys.exit(main.main(['extract-poses', {str(STREET)!r}, '--project', {str(project)!r}]))\n")
    line = one_error_line(out)
    assert "read-only" in line
    assert project.read_bytes() == before
