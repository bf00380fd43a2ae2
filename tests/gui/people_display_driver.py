"""Shows the two-person clip with every person on a real X server, for
tests/gui/test_people_display.py: the main window on PROJECT (its people already
extracted) in every-person mode, the People panel in front, a frame where both people are
seen; grabs the X screen to SHOT.png and reports where each person's badge and swatch are
on the screen to OUT.json.

    python people_display_driver.py PROJECT CLIP OUT.json SHOT.png

A failed step writes {"error": ...} and exits 3.
"""
from __future__ import annotations

import json
import os
import sys
import traceback
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))


def main(project: str, clip: str, out: str, shot: str) -> int:
    import numpy as np

    import app  # noqa: F401 (the PySide6 guard first)
    from PySide6.QtCore import QPoint
    from PySide6.QtWidgets import QApplication

    from app.context import AppContext
    from app.controllers.poses import MODE_KEY
    from app.settings import UserSettings
    from models.store import Repository
    from widgets import dialogs
    from widgets.main_window import MainWindow
    from widgets.theme import apply_theme

    sys.path.insert(0, str(REPO / "scripts"))
    from gui_pictures import settle, wait  # noqa: PLC0415

    qapp = QApplication.instance() or QApplication(["people-display"])
    apply_theme(qapp)
    seen_dialogs: list = []
    dialogs.set_handler(lambda kind, title, text, parent: seen_dialogs.append(text))
    settings = UserSettings(Path(out).with_suffix(".settings.json"))
    settings.set(MODE_KEY, True)
    ctx = AppContext(Repository(project), settings=settings)
    ctx.poses.auto_extract = False
    win = MainWindow(ctx)
    win.resize(1500, 940)
    win.move(0, 0)
    win.show()
    player = ctx.player
    win.open_path(os.path.abspath(clip))
    wait(player.trackChanged, condition=lambda: len(player.people) >= 2)
    if len(player.people) < 2:
        raise RuntimeError(f"people not attached: {sorted(player.people)}")
    both = np.flatnonzero(player.people[0].has_pose & player.people[1].has_pose)
    frame = int(both[len(both) // 2])
    player.seek(frame)
    wait(player.frameChanged, condition=lambda: player.current_frame == frame)
    win.show_panel("people")
    settle(800)
    view, panel = win.video.view, win.panels["people"]
    badges = {}
    for label in view.labels:
        if not label.isVisible() or label.person is None:
            continue
        rect = label.boundingRect().adjusted(2, 2, -2, -2)
        inside = view.mapFromScene(label.pos())      # the badge's anchor, in view pixels
        # a point in the badge's fill: its left part, away from the number and the rim
        local = QPoint(int(inside.x() + rect.left() + 4), int(inside.y() + rect.center().y()))
        glob = view.viewport().mapToGlobal(local)
        badges[str(label.person)] = [glob.x(), glob.y()]
    swatches = {}
    for person, row in panel.rows.items():
        c = row.swatch.mapToGlobal(row.swatch.rect().center())
        swatches[str(person)] = [c.x(), c.y()]
    grabbed = qapp.primaryScreen().grabWindow(0)
    ok = grabbed.save(shot, "PNG")
    dpr = grabbed.devicePixelRatio()
    report = {"platform": qapp.platformName(), "frame": frame, "persons": panel.persons(),
              "coverage": {str(p): r.coverage.text() for p, r in panel.rows.items()},
              "panel_visible": panel.isVisible() and not panel.visibleRegion().isEmpty(),
              "badges": badges, "swatches": swatches, "shot_saved": ok, "dpr": dpr,
              "drawn": sorted(i.person for i in view.skeletons
                              if i.pose is not None and i.isVisible()),
              "dialogs": seen_dialogs}
    Path(out).write_text(json.dumps(report, indent=1))
    win.close()
    ctx.shutdown()
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(*sys.argv[1:5]))
    except Exception:  # noqa: BLE001 (reported to the test)
        Path(sys.argv[3]).write_text(json.dumps({"error": traceback.format_exc()}))
        sys.exit(3)
