#!/usr/bin/env python3
"""Pictures of the app's views (the README's docs/*.png and before/after checks).

Opens the real main window on a project and a clip, waits for the clip and its poses,
then for each requested view puts it in front, fills it with the project's data and saves
a PNG of it (``<out>/<name>.png``). Run it on a real display (or under Xvfb)::

    xvfb-run -a -s '-screen 0 1920x1200x24' env QT_QPA_PLATFORM=xcb \\
        .venv/bin/python scripts/gui_pictures.py --project P.aastudio --out DIR CLIP

Views: window (1920x1200, frame --frame), evaluation (the panel, runs shown and two
compared), curation (the window with the QA curation tab and Compare frames), motion
(the panel with the clip's whole range analysed); evaluation-docked (the window with
the Evaluation tab in front at the bottom). With ``--root`` each view is also
grabbed from the X server (``import -window root``) as ``<name>-root.png``.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
VIEWS = ("window", "evaluation-docked", "evaluation", "curation", "motion")


def wait(signal, timeout_ms: int = 60000, condition=None) -> None:
    from PySide6.QtCore import QEventLoop, QTimer

    if condition is not None and condition():
        return
    loop = QEventLoop()

    def check(*_):
        if condition is None or condition():
            loop.quit()
    signal.connect(check)
    QTimer.singleShot(timeout_ms, loop.quit)
    loop.exec()
    signal.disconnect(check)


def settle(ms: int = 400) -> None:
    from PySide6.QtCore import QEventLoop, QTimer
    from PySide6.QtWidgets import QApplication

    loop = QEventLoop()
    QTimer.singleShot(ms, loop.quit)
    loop.exec()
    QApplication.processEvents()


def save(widget, out: Path, name: str, root: bool) -> None:
    settle()
    path = out / f"{name}.png"
    if not widget.grab().save(str(path), "PNG"):
        raise SystemExit(f"error: cannot write {path}")
    print(path)
    if root and os.environ.get("DISPLAY"):
        subprocess.run(["import", "-window", "root", str(out / f"{name}-root.png")], check=False)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("clip")
    p.add_argument("--project", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--frame", type=int, default=40)
    p.add_argument("--views", default=",".join(VIEWS))
    p.add_argument("--root", action="store_true", help="also grab the X screen")
    args = p.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    import app  # noqa: F401 (the PySide6 guard first)
    from PySide6.QtWidgets import QApplication

    from app.context import AppContext
    from app.settings import UserSettings
    from models.store import Repository
    from widgets import dialogs
    from widgets.main_window import MainWindow
    from widgets.theme import apply_theme

    qapp = QApplication.instance() or QApplication(["gui_pictures"])
    apply_theme(qapp)
    dialogs.set_handler(lambda kind, title, text, parent: print(f"{kind}: {text}", file=sys.stderr))
    ctx = AppContext(Repository(args.project), settings=UserSettings(out / "settings.json"))
    win = MainWindow(ctx)
    win.resize(1920, 1200)
    win.show()
    player = ctx.player
    win.open_path(os.path.abspath(args.clip))
    wait(player.trackChanged, condition=lambda: player.track is not None and player.track.complete)
    player.seek(args.frame)
    wait(player.frameChanged, condition=lambda: player.current_frame == args.frame)
    for name in args.views.split(","):
        if name == "window":
            save(win, out, "window", args.root)
        elif name == "evaluation-docked":      # in its bottom tab, as the window opens it
            panel, dock = win.panels["evaluation"], win.docks["evaluation"]
            dock.show()
            dock.raise_()
            runs = [r["id"] for r in panel.controller.runs()][:2]
            panel.select_runs(runs)
            panel.show_runs(runs)
            save(win, out, "evaluation-docked", args.root)
        elif name == "evaluation":
            panel, dock = win.panels["evaluation"], win.docks["evaluation"]
            dock.setFloating(True)
            dock.show()
            dock.resize(1700, 700)
            runs = [r["id"] for r in panel.controller.runs()][:2]
            panel.select_runs(runs)
            panel.show_runs(runs)
            panel.compare_selected()
            save(dock, out, "evaluation", args.root)
            dock.hide()
        elif name == "curation":
            panel = win.panels["curation"]
            win.docks["curation"].show()
            win.docks["curation"].raise_()
            win.docks["compare"].show()
            rows = [r for r in range(panel.model.rowCount())
                    if (panel.model._row(r) or {}).get("task") == "spatial_difference"]
            panel.select_row(rows[0] if rows else 0)
            settle(1500)
            win.panels["compare"]._on_marks()
            win.docks["compare"].raise_()
            from PySide6.QtWidgets import QSplitter  # noqa: PLC0415

            panel.findChild(QSplitter).setSizes([300, 640])   # the editor and its facts table
            settle(1500)
            save(win, out, "curation", args.root)
            win.docks["compare"].hide()
        elif name == "motion":
            panel, dock = win.panels["motion"], win.docks["motion"]
            dock.setFloating(True)
            dock.show()
            dock.resize(1300, 620)
            settle()
            panel.analyse()
            save(dock, out, "motion", args.root)
            dock.hide()
    ctx.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
