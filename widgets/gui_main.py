"""GUI composition: ``run_gui(argv) -> int`` (main.py calls it for every non-CLI invocation;
it lives in widgets/ because it builds the QApplication and the main window).

``main.py [VIDEO_OR_FOLDER] [--project FILE] [--screenshot OUT.png [--frame N]
[--wait-poses]]``. Without a path the bundled demo clip opens. Heavy packages (torch,
transformers, mediapipe) are never imported here; mediapipe loads inside the extraction
job. With ``--screenshot`` the window renders offscreen, waits for the clip (and poses if
asked), saves a PNG of the whole window and exits 0; any error prints one line on stderr
and exits non-zero.
"""
from __future__ import annotations

import argparse
import logging
import os
import sys
import time

PROCESS_START = time.perf_counter()


def build_parser() -> argparse.ArgumentParser:
    from cli import COMMANDS  # noqa: PLC0415

    p = argparse.ArgumentParser(
        prog="main.py", description="ActionArt Studio desktop app",
        epilog="headless commands (no window): " + ", ".join(COMMANDS)
        + ". Run 'main.py COMMAND --help' for one.")
    p.add_argument("path", nargs="?", help="video file or folder of videos (default: demo clip)")
    p.add_argument("--project", help="project file (default: the user's project)")
    p.add_argument("--screenshot", metavar="PNG", help="save a PNG of the window and exit")
    p.add_argument("--frame", type=int, default=None, help="frame to show in the screenshot")
    p.add_argument("--wait-poses", action="store_true",
                   help="with --screenshot: wait until poses are extracted/loaded")
    p.add_argument("--no-extract", action="store_true", help="do not extract poses automatically")
    p.add_argument("--size", default=None,
                   help="window size WxH (default: 1440x900, or most of a larger screen)")
    p.add_argument("--timeout", type=float, default=600.0, help="with --screenshot: give up after S s")
    return p


def _quiet_native_logs() -> None:
    """FFmpeg/OpenCV print to stderr on bad files; the app reports errors itself."""
    os.environ.setdefault("OPENCV_LOG_LEVEL", "ERROR")
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")
    os.environ.setdefault("GLOG_minloglevel", "2")      # mediapipe (inside extraction jobs)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    from models.pose.native_logs import NativeLogsMuted  # noqa: PLC0415 (no heavy imports)

    NativeLogsMuted().enter()  # for the whole session; ACTIONART_DEBUG=1 keeps them
    import faulthandler  # noqa: PLC0415

    # a native crash (SIGSEGV in a library) still names the Python frames on the real
    # stderr: file descriptor 2 itself may now lead to /dev/null
    faulthandler.enable(file=sys.stderr, all_threads=True)


def _qt_message_handler(mode, context, message) -> None:
    """Qt's chatter goes to the debug log; critical and fatal lines (e.g. a platform plugin
    that cannot load) still reach stderr, so a failed start is never silent."""
    from PySide6.QtCore import QtMsgType  # noqa: PLC0415

    if mode in (QtMsgType.QtCriticalMsg, QtMsgType.QtFatalMsg):
        sys.stderr.write(f"{message}\n")
        sys.stderr.flush()
    else:
        logging.getLogger("qt").debug("%s", message)


def _make_app(args, theme: str = "dark"):
    if args.screenshot:
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    import app as _app_fixes  # noqa: F401, PLC0415 (applies the PySide6 work-arounds before any Qt call)
    from PySide6.QtCore import qInstallMessageHandler  # noqa: PLC0415
    from PySide6.QtWidgets import QApplication  # noqa: PLC0415

    qInstallMessageHandler(_qt_message_handler)
    app = QApplication.instance() or QApplication([sys.argv[0] if sys.argv else "actionart"])
    app.setApplicationName("ActionArt Studio")
    app.setOrganizationName("ActionArtStudio")
    from widgets.theme import apply_theme  # noqa: PLC0415

    apply_theme(app, "dark" if args.screenshot else theme)  # screenshots: reproducible
    return app


def _size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
        return max(w, 640), max(h, 400)
    except ValueError:
        return 1440, 900


def _default_size(app, screenshot) -> tuple[int, int]:
    """1440x900 (screenshots: reproducible), or 90% of a larger screen so the video is big."""
    w, h = 1440, 900
    screen = None if screenshot else app.primaryScreen()
    if screen is not None:
        area = screen.availableGeometry()
        w, h = max(w, int(area.width() * 0.9)), max(h, int(area.height() * 0.9))
        w, h = min(w, area.width()), min(h, area.height())
    return w, h


def run_gui(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    _quiet_native_logs()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    from app.settings import UserSettings  # noqa: PLC0415

    settings = UserSettings()
    app = _make_app(args, str(settings.get("theme") or "dark"))
    from app.context import AppContext, open_project  # noqa: PLC0415
    from models.resources import demo_clip  # noqa: PLC0415
    from widgets.main_window import MainWindow  # noqa: PLC0415

    # File > Preferences may name a default project (used when --project is not given)
    repo, warning = open_project(args.project or settings.get("default_project") or None)
    ctx = AppContext(repo, settings=settings)
    ctx.poses.auto_extract = not args.no_extract
    window = MainWindow(ctx)
    window.resize(*(_size(args.size) if args.size else _default_size(app, args.screenshot)))
    window.keep_on_screen = not args.screenshot
    if not args.screenshot:  # screenshots use the default layout, so they are reproducible
        window.restore_layout()
        window.autosave_layout()  # kept on disk as it changes, not only on a clean quit
    shooter = None
    if args.screenshot:
        from widgets.screenshot import Screenshotter  # noqa: PLC0415

        shooter = Screenshotter(window, args.screenshot, args.frame, args.wait_poses,
                                args.timeout)
    window.show()
    if warning:
        ctx.message(warning, 0)
        ctx.warn("Project opened in memory", warning)
    window.open_path(args.path or demo_clip())
    if shooter is None:
        _quit_on_sigint(app)
    rc = shooter.run() if shooter is not None else app.exec()
    ctx.shutdown()
    return int(rc)


def _quit_on_sigint(app) -> None:
    """Ctrl+C in the terminal closes the app cleanly (Qt's loop hides Python signals
    unless the interpreter runs now and then: a 250 ms no-op timer gives it the chance)."""
    import signal  # noqa: PLC0415

    from PySide6.QtCore import QTimer  # noqa: PLC0415

    signal.signal(signal.SIGINT, lambda *_: app.closeAllWindows() or app.quit())
    timer = QTimer(app)
    timer.timeout.connect(lambda: None)
    timer.start(250)
