"""The desktop app on a real X server (Xvfb, Qt's xcb platform), each run a subprocess
started through ``widgets.gui_main.run_gui`` by tests/e2e/real_display_driver.py.

The rest of the suite runs offscreen without $DISPLAY; here mediapipe finds a display and
creates an EGL context, which loads Mesa and the system libLLVM into the process, and then
the Ask panel's first local model imports torch (and through it Triton, which carries its
own LLVM). That crashed the app with SIGSEGV until models.native_libs. Xvfb is installed by
scripts/bootstrap.sh: a missing one fails these tests rather than skipping them.
"""
from __future__ import annotations

import importlib.util
import json
import os
import select
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.vlm_fixtures import tiny_ckpt  # noqa: F401

REPO = Path(__file__).resolve().parents[2]
DRIVER = Path(__file__).with_name("real_display_driver.py")
MESA_EGL_VENDOR = "/usr/share/glvnd/egl_vendor.d/50_mesa.json"


@pytest.fixture(scope="module")
def x_display():
    """A private Xvfb server; yields its DISPLAY string (":N", a free number it chose)."""
    xvfb = shutil.which("Xvfb")
    if xvfb is None:
        pytest.fail("Xvfb is not installed: run scripts/bootstrap.sh as root (or apt-get "
                    "install xvfb xauth); the real-display tests need it")
    read_end, write_end = os.pipe()
    proc = subprocess.Popen([xvfb, "-displayfd", str(write_end), "-screen", "0", "1600x1000x24",
                             "-nolisten", "tcp", "-noreset"], pass_fds=(write_end,),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    os.close(write_end)
    number = b""
    deadline = time.monotonic() + 30
    while not number.endswith(b"\n") and time.monotonic() < deadline:
        ready, _, _ = select.select([read_end], [], [], 1.0)
        if ready:
            chunk = os.read(read_end, 16)
            if not chunk:
                break
            number += chunk
    os.close(read_end)
    if not number.strip().isdigit():
        proc.kill()
        err = proc.communicate(timeout=10)[1].decode(errors="replace")
        pytest.fail(f"Xvfb did not start: {err.strip()[-500:]}")
    yield f":{int(number)}"
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


def _run(display: str, home: Path, *args: str, timeout: float = 600):
    env = dict(os.environ, DISPLAY=display, QT_QPA_PLATFORM="xcb", HF_HUB_OFFLINE="1",
               XDG_CONFIG_HOME=str(home / "config"), ACTIONART_HOME=str(home / "home"),
               PYTHONFAULTHANDLER="1")
    env.pop("ACTIONART_DEBUG", None)
    if os.path.isfile(MESA_EGL_VENDOR):  # Xvfb's GL is Mesa's, whatever else is installed
        env["__EGL_VENDOR_LIBRARY_FILENAMES"] = MESA_EGL_VENDOR
    return subprocess.run([sys.executable, str(DRIVER), *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=timeout, check=False)


def _report(res, out: Path) -> dict:
    detail = f"rc={res.returncode}\nstderr:\n{res.stderr[-4000:]}"
    assert out.is_file(), "the app wrote no report\n" + detail
    data = json.loads(out.read_text())
    assert "error" not in data, data["error"] + "\n" + detail
    return data


def test_extract_poses_then_ask_a_local_model(x_display, tmp_path, clip, tiny_ckpt):
    out, shot = tmp_path / "ask.json", tmp_path / "screen.png"
    res = _run(x_display, tmp_path, "ask", str(out), str(shot), str(tiny_ckpt("qwen2_5_vl")),
               "--", "--project", str(tmp_path / "p.aastudio"), str(clip("arm_wrestling.mp4")))
    assert res.returncode == 0, (f"the app died (rc={res.returncode}; -11 is SIGSEGV)\n"
                                 + res.stderr[-4000:])
    data = _report(res, out)
    assert data["platform"] == "xcb"
    assert data["frames"] == data["frames_done"] == 280 and data["frames_with_pose"] > 100
    assert data["pose_backend"].startswith("mediapipe")
    # what made the crash possible was really there: the system LLVM (mediapipe's EGL on
    # this display), then Triton imported by the model load
    assert any("libLLVM" in p for p in data["llvm_libraries"]), data["llvm_libraries"]
    assert data["triton_imported"] or importlib.util.find_spec("triton") is None
    assert data["status"] == "ok" and data["answer"]
    assert data["panel_text"] == data["answer"] and "TTFT" in data["panel_status"]
    assert data["screen_grabbed"] and shot.stat().st_size > 10_000


def test_layout_survives_a_kill(x_display, tmp_path, clip):
    out = tmp_path / "kill.json"
    gui = ["--", "--project", str(tmp_path / "p.aastudio"), "--no-extract",
           str(clip("street_pedestrians.mp4"))]
    res = _run(x_display, tmp_path, "layout-kill", str(out), *gui)
    assert res.returncode == -signal.SIGKILL, (out.read_text() if out.is_file() else "") \
        + res.stderr[-4000:]
    killed = _report(res, out)
    settings = json.loads(Path(killed["settings"]).read_text())  # complete JSON on disk
    assert settings["window_state"] and settings["window_geometry"]
    out2 = tmp_path / "read.json"
    res2 = _run(x_display, tmp_path, "layout-read", str(out2), *gui)
    assert res2.returncode == 0, res2.stderr[-4000:]
    restored = _report(res2, out2)
    assert restored["ask_area"] == "LeftDockWidgetArea"
    assert not restored["angles_visible"] and restored["clips_visible"]
    assert restored["size"] == killed["size"]
