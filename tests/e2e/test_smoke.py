"""End to end: main.py in a subprocess, offscreen, renders a real clip to a PNG and exits."""
from __future__ import annotations

import os
import struct
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _run(args, home, timeout=180):
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", ACTIONART_HOME=str(home),
               XDG_CONFIG_HOME=str(home / "config"))
    return subprocess.run([sys.executable, str(REPO / "main.py"), *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=timeout)


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()[:24]
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


def test_screenshot_of_a_real_clip(tmp_path, clip):
    out = tmp_path / "shot.png"
    res = _run(["--screenshot", str(out), "--frame", "30", "--no-extract",
                str(clip("two_people_room.mp4"))], tmp_path)
    assert res.returncode == 0, res.stderr
    w, h = _png_size(out)
    assert w >= 1000 and h >= 600 and out.stat().st_size > 50_000


def test_screenshot_waits_for_real_poses_and_caches_them(tmp_path, clip):
    out = tmp_path / "poses.png"
    args = ["--screenshot", str(out), "--wait-poses", str(clip("street_pedestrians.mp4"))]
    res = _run(args, tmp_path)
    assert res.returncode == 0, res.stderr
    assert out.stat().st_size > 20_000
    for chatter in ("TensorFlow Lite", "absl", "W0000", "I0000"):  # mediapipe's fd-2 logs
        assert chatter not in res.stderr, res.stderr
    from models.store import Repository

    repo = Repository(tmp_path / "project.aastudio")
    digest = repo.clip_hash(clip("street_pedestrians.mp4"))
    assert [r["complete"] for r in repo.track_status(digest)] == [1]
    repo.close()


def test_bad_file_exits_non_zero_with_one_line(tmp_path):
    fake = tmp_path / "text renamed.mp4"
    fake.write_text("not a video at all")
    res = _run(["--screenshot", str(tmp_path / "x.png"), str(fake)], tmp_path)
    assert res.returncode != 0
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "text renamed.mp4" in lines[0], res.stderr
    assert not (tmp_path / "x.png").exists()


def test_unusable_project_falls_back_to_memory(tmp_path, clip):
    bad_project = tmp_path / "broken.aastudio"
    bad_project.write_text("not sqlite")
    out = tmp_path / "mem.png"
    res = _run(["--screenshot", str(out), "--project", str(bad_project), "--no-extract",
                str(clip("street_pedestrians.mp4"))], tmp_path)
    assert res.returncode == 0, res.stderr
    assert "in-memory project" in res.stderr and out.is_file()
    assert bad_project.read_text() == "not sqlite"  # never touched


def test_gui_start_imports_no_heavy_library(tmp_path):
    code = ("import sys, os\n"
            "from PySide6.QtWidgets import QApplication\n"
            "app = QApplication([])\n"
            "from app.context import AppContext, open_project\n"
            "from widgets.main_window import MainWindow\n"
            "repo, _ = open_project(None)\n"
            "w = MainWindow(AppContext(repo)); w.show(); app.processEvents()\n"
            "print(','.join(m for m in ('torch', 'transformers', 'mediapipe') if m in sys.modules))\n")
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", ACTIONART_HOME=str(tmp_path))
    res = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True,
                         text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == ""
