"""Every person on a real X server (Xvfb, Qt's xcb platform): the window, in a subprocess
(tests/gui/people_display_driver.py), shows the two-person clip with its people, and the
grabbed X screen holds the People panel's two colour swatches and each person's numbered
badge in that person's colour, two different colours."""
from __future__ import annotations

import json
import os
import subprocess
import sys

from PySide6.QtGui import QImage

from models.engine.desktop import extract_people
from models.store import Repository
from tests.conftest import CLIPS, REPO
from tests.e2e.test_real_display import x_display  # noqa: F401
from widgets.video.overlay import person_color

DRIVER = REPO / "tests" / "gui" / "people_display_driver.py"
ROOM = CLIPS / "two_people_room.mp4"


def close(rgb, color, tol: int = 40) -> bool:
    return all(abs(a - b) <= tol for a, b in zip(rgb, (color.red(), color.green(), color.blue())))


def colour_near(img: QImage, xy, color, radius: int = 2) -> bool:
    """Some pixel within ``radius`` of ``xy`` is ``color`` (anti-aliased edges aside)."""
    x, y = xy
    for dx in range(-radius, radius + 1):
        for dy in range(-radius, radius + 1):
            c = img.pixelColor(x + dx, y + dy)
            if close((c.red(), c.green(), c.blue()), color):
                return True
    return False


def test_people_panel_and_every_person_render_on_x(x_display, tmp_path):  # noqa: F811
    project = tmp_path / "room.aastudio"
    repo = Repository(project)
    try:
        assert sorted(extract_people(ROOM, repo)) == [0, 1]
    finally:
        repo.close()
    out, shot = tmp_path / "people.json", tmp_path / "screen.png"
    env = dict(os.environ, DISPLAY=x_display, QT_QPA_PLATFORM="xcb",
               XDG_CONFIG_HOME=str(tmp_path / "config"), ACTIONART_HOME=str(tmp_path / "home"))
    res = subprocess.run([sys.executable, str(DRIVER), str(project), str(ROOM), str(out),
                          str(shot)], cwd=REPO, env=env, capture_output=True, text=True,
                         timeout=300, check=False)
    assert out.is_file(), f"rc={res.returncode}\n{res.stderr[-3000:]}"
    data = json.loads(out.read_text())
    assert "error" not in data, data["error"] + res.stderr[-3000:]
    assert res.returncode == 0 and data["platform"] == "xcb"
    assert data["persons"] == [0, 1] and data["panel_visible"] and data["dialogs"] == []
    assert data["coverage"]["0"] == "72/72 frames" and data["coverage"]["1"].endswith("/72 frames")
    assert data["drawn"] == [0, 1] and data["shot_saved"]
    img = QImage(str(shot))
    assert not img.isNull() and data["dpr"] == 1.0
    colors = {p: person_color(int(p)) for p in ("0", "1")}
    assert not close((colors["0"].red(), colors["0"].green(), colors["0"].blue()), colors["1"])
    for person in ("0", "1"):
        assert colour_near(img, data["swatches"][person], colors[person]), \
            (person, data["swatches"][person], img.pixelColor(*data["swatches"][person]).name())
        assert colour_near(img, data["badges"][person], colors[person]), \
            (person, data["badges"][person], img.pixelColor(*data["badges"][person]).name())
