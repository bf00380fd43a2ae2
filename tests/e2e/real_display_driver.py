"""Runs the desktop app (``widgets.gui_main.run_gui``, the real composition root) and plays
a short script in it, for tests/e2e/test_real_display.py. Started as a subprocess on a
real X server (QT_QPA_PLATFORM=xcb); reports to a JSON file.

    python real_display_driver.py ask OUT.json SHOT.png CHECKPOINT -- RUN_GUI_ARGS...
        wait for pose extraction of the opened clip, add CHECKPOINT in "Ask a model",
        press Ask, wait for the answer, grab the screen, close the window (exit 0)
    python real_display_driver.py layout-kill OUT.json -- RUN_GUI_ARGS...
        change the dock layout, wait until the settings file holds it, then SIGKILL itself
    python real_display_driver.py layout-read OUT.json -- RUN_GUI_ARGS...
        report the restored layout and close the window

A failed step writes {"error": ...} and exits 3.
"""
from __future__ import annotations

import json
import os
import signal
import sys
import time
import traceback
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
DEADLINE_S = {"ask": 480.0, "layout-kill": 60.0, "layout-read": 60.0}


def _window(app):
    from widgets.main_window import MainWindow

    return next((w for w in app.topLevelWidgets()
                 if isinstance(w, MainWindow) and w.isVisible()), None)


def _write(out: Path, data: dict) -> None:
    tmp = out.with_suffix(".part")
    tmp.write_text(json.dumps(data, indent=1))
    os.replace(tmp, out)


def _llvm_libraries() -> list[str]:
    with open("/proc/self/maps", encoding="utf-8") as fh:
        return sorted({line.split()[-1] for line in fh if "libLLVM" in line})


def ask_steps(app, out: Path, shot: str, checkpoint: str):
    yield "the main window", lambda: _window(app) is not None
    win = _window(app)
    ctx, seen = win.ctx, {}
    ctx.poses.finished.connect(lambda path: seen.setdefault("poses", path))
    ctx.poses.failed.connect(lambda path, msg: seen.setdefault("error", f"poses: {msg}"))
    yield "pose extraction", lambda: "poses" in seen or "error" in seen
    if "error" in seen:
        raise RuntimeError(seen["error"])
    track = ctx.player.track
    import numpy as np

    posed = int(np.isfinite(track.image[:, :, 0]).any(axis=1).sum())
    win.docks["ask"].raise_()
    panel = win.panels["ask"]
    panel.add_edit.setText(checkpoint)
    panel.add_button.click()
    panel.form.question.setText("What is the person doing?")
    panel.form.count.setValue(4)
    panel.form.max_tokens.setValue(8)
    ctrl = panel.controller
    ctrl.finished.connect(lambda rid, answers: seen.setdefault("answers", answers))
    ctrl.failed.connect(lambda rid, msg: seen.setdefault("error", f"ask: {msg}"))
    panel.ask_button.click()
    yield "the answer", lambda: "answers" in seen or "error" in seen
    if "error" in seen:
        raise RuntimeError(seen["error"])
    yield "the answer on screen", lambda: panel.answer.toPlainText() != ""
    answer = seen["answers"][0]
    grabbed = app.primaryScreen().grabWindow(0).save(shot)
    _write(out, {"platform": app.platformName(), "frames": len(track.image),
                 "frames_done": track.frames_done,
                 "frames_with_pose": posed, "pose_backend": track.backend,
                 "status": answer.status, "answer": answer.text,
                 "panel_text": panel.answer.toPlainText(), "panel_status": panel.status.text(),
                 "llvm_libraries": _llvm_libraries(), "triton_imported": "triton" in sys.modules,
                 "screen_grabbed": bool(grabbed)})
    if os.environ.get("AA_DRIVER_HOLD_S"):  # keep the window up (manual screenshots)
        until = time.monotonic() + float(os.environ["AA_DRIVER_HOLD_S"])
        yield "the hold time", lambda: time.monotonic() > until
    win.close()


def layout_kill_steps(app, out: Path):
    from PySide6.QtCore import Qt

    from app.settings import UserSettings

    yield "the main window", lambda: _window(app) is not None
    win = _window(app)
    win.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, win.docks["ask"])
    win.docks["angles"].hide()
    win.resize(1234, 777)
    state = lambda: bytes(win.saveState().toBase64()).decode()  # noqa: E731
    path = win.ctx.settings.path
    yield "the layout on disk", lambda: UserSettings(path).get("window_state") == state()
    _write(out, {"settings": str(path), "size": [win.width(), win.height()]})
    os.kill(os.getpid(), signal.SIGKILL)  # no closeEvent, no atexit: like a crash


def layout_read_steps(app, out: Path):
    yield "the main window", lambda: _window(app) is not None
    win = _window(app)
    yield "the window to settle", lambda: win.isVisible()
    _write(out, {"ask_area": win.dockWidgetArea(win.docks["ask"]).name,
                 "angles_visible": win.docks["angles"].isVisible(),
                 "clips_visible": win.docks["clips"].isVisible(),
                 "size": [win.width(), win.height()]})
    win.close()


class Script:
    """Advances a step generator whenever its current condition holds (polled)."""

    def __init__(self, app, steps, out: Path, limit_s: float) -> None:
        from PySide6.QtCore import QTimer

        self.app, self.steps, self.out = app, steps, out
        self.what, self.ready = "start", (lambda: True)
        self.deadline = time.monotonic() + limit_s
        self.timer = QTimer()
        self.timer.timeout.connect(self.tick)
        self.timer.start(50)

    def fail(self, message: str) -> None:
        self.timer.stop()
        _write(self.out, {"error": message})
        self.app.exit(3)

    def tick(self) -> None:
        try:
            if not self.ready():
                if time.monotonic() > self.deadline:
                    self.fail(f"timed out waiting for {self.what}")
                return
            self.what, self.ready = next(self.steps)
        except StopIteration:
            self.timer.stop()
        except Exception:  # noqa: BLE001 (reported to the test)
            self.fail(traceback.format_exc())


def main(argv: list[str]) -> int:
    sep = argv.index("--")
    mine, gui_args = argv[:sep], argv[sep + 1:]
    mode, out = mine[0], Path(mine[1])
    from PySide6.QtWidgets import QApplication

    import app as _workarounds  # noqa: F401 (PySide6 work-arounds before any Qt call)

    qapp = QApplication([sys.argv[0]])  # run_gui reuses it
    steps = {"ask": lambda: ask_steps(qapp, out, mine[2], mine[3]),
             "layout-kill": lambda: layout_kill_steps(qapp, out),
             "layout-read": lambda: layout_read_steps(qapp, out)}[mode]()
    script = Script(qapp, steps, out, DEADLINE_S[mode])  # noqa: F841 (kept alive while the app runs)
    from widgets.gui_main import run_gui

    return run_gui(gui_args)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
