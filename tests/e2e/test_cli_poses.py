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


def test_out_into_a_read_only_folder_is_one_error_line(public_tmp):
    """As a user who may not write there (root ignores permission bits): refused before
    extracting, nothing written, no traceback."""
    import os

    mine = public_tmp / "mine"
    ro = mine / "ro"
    ro.mkdir(parents=True)
    os.chown(mine, 65534, 65534)
    os.chown(ro, 65534, 65534)
    ro.chmod(0o555)
    for out in (ro, ro / "one.json", ro / "new" / "folder"):
        res = run_unprivileged(
            "import sys, main\n"
            f"sys.exit(main.main(['extract-poses', {str(STREET)!r}, '--quiet', '--project', "
            f"{str(mine / 'p.aastudio')!r}, '--out', {str(out)!r}]))\n")
        assert "read-only" in one_error_line(res) and "Traceback" not in res.stderr
        assert list(ro.iterdir()) == []


FSIZE_EXTRACT = """
import resource, signal, sys
sys.path.insert(0, {repo!r})
import main
from models.pose.track import PoseTrack
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)   # writes past the limit fail with EFBIG
real_save = PoseTrack.save


def limited_save(self, path):   # the limit starts once the project is done writing
    resource.setrlimit(resource.RLIMIT_FSIZE, ({limit}, {limit}))
    return real_save(self, path)


PoseTrack.save = limited_save
sys.exit(main.main(['extract-poses', {clip!r}, '--quiet', '--project', {project!r},
                    '--out', {out!r}]))
"""


def test_out_past_a_file_size_limit_keeps_the_old_file(tmp_path):
    """A real write limit (RLIMIT_FSIZE) in a child process, set just before the track file
    is written: one error line, the previous result untouched, no temp file left."""
    project = tmp_path / "p.aastudio"
    assert cli("extract-poses", STREET, "--project", project, "--quiet").returncode == 0
    for out in (tmp_path / "street.json", tmp_path / "folder"):
        target = out if out.suffix else out / "street_pedestrians.poses.json"
        target.parent.mkdir(exist_ok=True)
        target.write_text("earlier result")
        code = FSIZE_EXTRACT.format(repo=str(REPO), limit=4096, clip=str(STREET),
                                    project=str(project), out=str(out))
        res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             timeout=180, cwd=REPO)
        line = one_error_line(res)
        assert "file size limit" in line and "Traceback" not in res.stderr, res.stderr
        assert target.read_text() == "earlier result"
        assert not [p for p in tmp_path.rglob("*") if ".part" in p.name]


def test_workers_zero_is_rejected(tmp_path):
    for bad in ("0", "-2"):
        line = one_error_line(cli("extract-poses", STREET, "--workers", bad,
                                  "--project", tmp_path / "p.aastudio"))
        assert "--workers must be at least 1" in line


def test_synth_qa_extracting_poses_keeps_stderr_clean(tmp_path):
    out = cli("synth-qa", STREET, "--extract-poses", "--project", tmp_path / "p.aastudio")
    assert out.returncode == 0, out.stderr
    assert "QA items" in out.stdout
    assert out.stderr == ""  # no mediapipe / TFLite log lines


def _long_clip(path, repeats: int) -> str:
    """tai_chi.mp4 (300 frames) played ``repeats`` times: a clip a worker needs a while for."""
    from models.video import VideoReader

    with VideoReader(CLIPS / "tai_chi.mp4") as reader:
        frames = [cv2.cvtColor(f, cv2.COLOR_RGB2BGR) for _, f in reader.frames(0)]
        fps = reader.info.fps
    h, w = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (w, h))
    for _ in range(repeats):
        for f in frames:
            writer.write(f)
    writer.release()
    return str(path)


def _tracks(project) -> dict:
    import sqlite3

    con = sqlite3.connect(f"file:{project}?mode=ro", uri=True, timeout=10)
    try:
        return dict(con.execute("SELECT content_hash, frames_done FROM pose_tracks"))
    except sqlite3.OperationalError:  # the project is still being created
        return {}
    finally:
        con.close()


def _is_worker(proc) -> bool:
    import psutil

    try:
        return "spawn_main" in " ".join(proc.cmdline())
    except psutil.Error:  # a short-lived helper process already gone
        return False


def test_killing_the_parent_ends_its_workers(tmp_path):
    import os
    import signal
    import time

    import psutil

    clips = [_long_clip(tmp_path / f"long{n}.mp4", n) for n in (3, 4)]  # other bytes
    project = tmp_path / "p.aastudio"
    parent = subprocess.Popen([sys.executable, str(REPO / "main.py"), "extract-poses", "--quiet",
                               "--workers", "2", *clips, "--project", str(project)],
                              cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    workers: list = []
    try:
        deadline = time.monotonic() + 240
        while len(_tracks(project) if project.exists() else {}) < 2:  # both runners posing
            assert parent.poll() is None and time.monotonic() < deadline
            time.sleep(0.2)
        workers = [p for p in psutil.Process(parent.pid).children(recursive=True)
                   if _is_worker(p)]
        assert workers
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait(timeout=30)
        at_kill = _tracks(project)
        _, alive = psutil.wait_procs(workers, timeout=10)
        assert not alive, "worker processes outlived their parent"
        time.sleep(1.0)
        assert _tracks(project) == at_kill  # nothing written after the parent died
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()
        for p in workers:
            try:
                p.kill()
            except psutil.NoSuchProcess:
                pass


def test_rerun_with_workers_while_opencv_loads_in_a_thread(tmp_path):
    """The project already knows the clips, so the first import of OpenCV in the CLI
    process happens on a runner thread. Reproduce the race: the worker is started just
    while OpenCV's loader has its folder on sys.path (the window is widened)."""
    project = tmp_path / "p.aastudio"
    one = tmp_path / "one.avi"
    writer = cv2.VideoWriter(str(one), cv2.VideoWriter_fourcc(*"MJPG"), 10, (160, 120))
    for _ in range(2):
        writer.write(np.full((120, 160, 3), 90, np.uint8))
    writer.release()
    for clip in (STREET, one):
        assert cli("info", clip, "--project", project).returncode == 0
    code = (
        "import importlib.abc, sys, threading, time\n"
        "import main\n"
        "from multiprocessing import spawn\n"
        "window = threading.Event()\n"
        "class SlowOpenCV(importlib.abc.MetaPathFinder):\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'cv2' and getattr(sys, 'OpenCV_LOADER', False):\n"
        "            window.set()  # OpenCV's loader has its folder on sys.path now\n"
        "            time.sleep(2)\n"
        "        return None\n"
        "sys.meta_path.insert(0, SlowOpenCV())\n"
        "real = spawn.get_preparation_data\n"
        "def prepared_in_the_window(name):\n"
        "    window.wait(20)\n"
        "    return real(name)\n"
        "spawn.get_preparation_data = prepared_in_the_window\n"
        f"sys.exit(main.main(['extract-poses', '--workers', '2', {str(STREET)!r}, {str(one)!r},"
        f" '--project', {str(project)!r}]))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=180, cwd=REPO)
    assert out.returncode == 0, out.stderr
    assert [ln.split()[0] for ln in out.stdout.splitlines()] == ["extracted", "extracted"]


def test_dead_worker_is_one_error_line_naming_its_error(tmp_path):
    shadow = tmp_path / "shadow"
    shadow.mkdir()  # breaks every new interpreter (the CLI process has typing already)
    (shadow / "typing.py").write_text("raise ImportError('typing is shadowed for this test')\n")
    one = tmp_path / "one.avi"
    writer = cv2.VideoWriter(str(one), cv2.VideoWriter_fourcc(*"MJPG"), 10, (160, 120))
    writer.write(np.full((120, 160, 3), 90, np.uint8))
    writer.release()
    code = ("import sys, typing\n"
            f"sys.path.insert(0, {str(shadow)!r})\n"
            "import main\n"
            f"sys.exit(main.main(['extract-poses', '--quiet', '--workers', '2', {str(STREET)!r},"
            f" {str(one)!r}, '--project', {str(tmp_path / 'p.aastudio')!r}]))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=180, cwd=REPO)
    line = one_error_line(out)  # stderr is muted for native logs: the cause still shows
    # the exit status when the dead worker was reaped in time (a busy machine may not)
    assert line.startswith(("error: one.avi: worker process exited with code 1",
                            "error: one.avi: worker process ended unexpectedly"))
    assert "ImportError: typing is shadowed for this test" in line
    assert out.stdout.split()[0] == "extracted"  # the other clip, on the CLI's own thread
