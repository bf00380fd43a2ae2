"""Main window usability: panels opened from the View menu come to the front, the docks
fit the window at the default size and at 1.5x scaling (a real subprocess with its own
screen), the Help menu sheets, Preferences, Reset Layout, floating docks off by default,
models that survive a restart, and Open Recent."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from tests.gui_support import ctx, dialogs_seen  # noqa: F401

T = 15000
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def window(qtbot, ctx, dialogs_seen):
    from widgets.main_window import MainWindow

    win = MainWindow(ctx)
    qtbot.addWidget(win)
    win.resize(1440, 900)
    win.show()
    qtbot.waitExposed(win)
    return win


def shown_whole(window, widget) -> bool:
    """``widget`` lies inside the window and inside every scroll viewport around it."""
    from PySide6.QtCore import QRect

    if not widget.isVisible():
        return False
    rect = QRect(widget.mapTo(window, widget.rect().topLeft()), widget.size())
    clip, parent = window.rect(), widget.parentWidget()
    while parent is not None and parent is not window:
        clip = clip.intersected(QRect(parent.mapTo(window, parent.rect().topLeft()),
                                      parent.size()))
        parent = parent.parentWidget()
    return clip.contains(rect)


def _in_front(window, panel_id: str) -> bool:
    """The panel is on screen in the window, not a tab hidden behind another one."""
    panel = window.panels[panel_id]
    return panel.isVisible() and not panel.visibleRegion().isEmpty() and \
        window.rect().intersects(window.docks[panel_id].geometry())


# -- View menu: what the user opens comes to the front -------------------------------------
@pytest.mark.parametrize("panel_id, behind", [("evaluation", "angles"), ("ask", "describe")])
def test_panel_opened_from_the_view_menu_is_raised_and_focused(qtbot, window, panel_id, behind):
    dock = window.docks[panel_id]
    dock.hide()
    qtbot.waitUntil(lambda: _in_front(window, behind), timeout=T)
    assert not _in_front(window, panel_id)
    dock.toggleViewAction().trigger()                # what View > <panel> does
    qtbot.waitUntil(lambda: _in_front(window, panel_id), timeout=T)
    assert not _in_front(window, behind)             # it is the tab shown, not hidden behind
    focus = window.focusWidget()
    assert focus is not None and window.panels[panel_id].isAncestorOf(focus)


# -- the right dock fits its buttons; Enter adds a model ------------------------------------
def test_right_dock_shows_generate_qa_and_add_at_the_default_size(qtbot, window, tmp_path):
    window.resize(1440, 900)     # the default size (larger than the offscreen test screen)
    qtbot.waitUntil(lambda: window.width() == 1440, timeout=T)
    window._size_docks()
    right = window.docks["describe"]
    window.docks["curation"].raise_()
    gen = window.panels["curation"].gen_btn
    qtbot.waitUntil(lambda: shown_whole(window, gen), timeout=T)
    assert window.video.width() > max(right.width(), window.docks["clips"].width())
    window.docks["ask"].raise_()
    ask = window.panels["ask"]
    qtbot.waitUntil(lambda: shown_whole(window, ask.add_button), timeout=T)
    assert shown_whole(window, ask.ask_button) and shown_whole(window, ask.save_button)
    assert shown_whole(window, ask.find_button)
    # Enter in the checkpoint field adds the model, like the Add button
    folder = str(tmp_path / "my-checkpoint")
    ask.add_edit.setFocus()
    qtbot.keyClicks(ask.add_edit, folder)
    qtbot.keyClick(ask.add_edit, Qt.Key.Key_Return)
    assert ask.picker.currentText() == folder and ask.add_edit.text() == ""


PROBE = r"""
import json, sys
from tests.widgets.test_window_layout_help import shown_whole
import app
from PySide6.QtCore import QByteArray
from PySide6.QtWidgets import QApplication
qapp = QApplication([])
from widgets.theme import apply_theme
apply_theme(qapp)
from app.context import AppContext
from app.settings import UserSettings
from models.store import Repository
from widgets.gui_main import _default_size
from widgets.main_window import MainWindow
settings = UserSettings(sys.argv[1])
ctx = AppContext(Repository(":memory:"), settings=settings)
ctx.poses.auto_extract = False
win = MainWindow(ctx)
win.resize(*_default_size(qapp, False))
restored = win.restore_layout()
win.show()
for _ in range(20):
    qapp.processEvents()
avail = qapp.primaryScreen().availableGeometry()
out = {"restored": restored, "screen": [avail.width(), avail.height()],
       "window": [win.x(), win.y(), win.width(), win.height()],
       "inside": avail.contains(win.frameGeometry()),
       "frame": [win.frameGeometry().x(), win.frameGeometry().y(), win.frameGeometry().width(),
                 win.frameGeometry().height()],
       "min": [win.minimumSizeHint().width(), win.minimumSizeHint().height()]}
for pid, name in (("ask", "add_button"), ("curation", "gen_btn"), ("ask", "ask_button")):
    win.docks[pid].raise_()
    for _ in range(20):
        qapp.processEvents()
    out[pid + "." + name] = shown_whole(win, getattr(win.panels[pid], name))
out["video"] = [win.video.width(), win.video.height()]
win.save_layout()
print(json.dumps(out))
ctx.shutdown()
"""


def _probe(tmp_path, screen, scale, settings_path):
    config = tmp_path / "screen.json"
    config.write_text(json.dumps({"screens": [{
        "name": "s0", "x": 0, "y": 0, "width": screen[0], "height": screen[1],
        "logicalDpi": 96, "physicalDpi": 96, "logicalBaseDpi": 96}]}))
    env = dict(os.environ, QT_QPA_PLATFORM=f"offscreen:configfile={config}",
               QT_SCALE_FACTOR=str(scale), PYTHONPATH=str(REPO))
    run = subprocess.run([sys.executable, "-c", PROBE, str(settings_path)], cwd=REPO, env=env,
                         capture_output=True, text=True, timeout=180, check=False)
    assert run.returncode == 0, run.stderr[-2000:]
    return json.loads(run.stdout.strip().splitlines()[-1])


# 1920x1200 at 1.5x is 1280x800: every button shows. 1366x768 at 1.5x is 911x512, less
# than the video's own controls and both side panels need: the window still fits the
# screen and the panels scroll.
@pytest.mark.parametrize("screen, all_shown", [((1920, 1200), True), ((1366, 768), False)])
def test_layout_fits_at_1_5x_scaling_and_a_bigger_restored_window_is_clamped(tmp_path, screen,
                                                                             all_shown):
    fresh = _probe(tmp_path, screen, 1.5, tmp_path / "first-start.json")
    assert not fresh["restored"] and fresh["inside"], json.dumps(fresh)
    assert fresh["min"][0] <= fresh["screen"][0] and fresh["min"][1] <= fresh["screen"][1]
    if all_shown:
        assert fresh["ask.add_button"] and fresh["curation.gen_btn"] and fresh["ask.ask_button"]
    # a layout saved on a big unscaled screen, restored at 1.5x on this one
    settings = tmp_path / "settings.json"
    big = _probe(tmp_path, (2560, 1600), 1.0, settings)
    assert big["window"][2] > fresh["screen"][0]
    restored = _probe(tmp_path, screen, 1.5, settings)
    assert restored["restored"] and restored["inside"], json.dumps(restored)
    if all_shown:
        assert restored["ask.add_button"] and restored["curation.gen_btn"]
    assert restored["video"][0] > 0.3 * restored["screen"][0]


# -- Help menu, Preferences, Reset Layout, dock features -------------------------------------
def _sheet(window, title):
    from widgets.help import HelpSheet

    sheets = [s for s in window.findChildren(HelpSheet) if s.windowTitle() == title]
    return sheets[0] if sheets else None


def test_help_menu_shortcut_sheet_about_and_models(qtbot, window):
    menus = [a.text() for a in window.menuBar().actions()]
    assert menus[-1] == "&Help"
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=T)
    qtbot.keyClick(window.video.view, Qt.Key.Key_Question)   # "?" opens the sheet
    qtbot.waitUntil(lambda: _sheet(window, "Keyboard shortcuts") is not None, timeout=T)
    text = _sheet(window, "Keyboard shortcuts").plain()
    for expected in ("Ctrl+O", "Space", "Mark Frame A", "Fit Video", "Ctrl+Z", "QA curation"):
        assert expected in text, expected
    window.actions_by_id["help.about"].trigger()
    about = _sheet(window, "About ActionArt Studio").plain()
    from PySide6 import __version__ as pyside

    assert "PySide6" in about and pyside in about and sys.version.split()[0] in about and "LGPL" in about
    assert "OpenCV" in about
    assert "open-mmlab/mmaction2" in about and "Apache License" in about  # demo clip notice
    window.actions_by_id["help.models"].trigger()
    models = _sheet(window, "How to get a model").plain()
    assert "hf download HuggingFaceTB/SmolVLM2-256M-Video-Instruct" in models
    assert "huggingface-cli download" in models and "Qwen/Qwen2.5-VL-3B-Instruct" in models
    from models.vlm.local import hub_cache_dir

    assert str(hub_cache_dir()) in models and "does not read free questions" in models


def test_preferences_folders_servers_device_theme_project(qtbot, window, tmp_path, dialogs_seen):
    from PySide6.QtWidgets import QApplication

    from models.vlm.discovery import user_folders
    from widgets.preferences import PreferencesDialog

    window.actions_by_id["file.preferences"].trigger()
    dlg = window.findChild(PreferencesDialog)
    assert dlg is not None and dlg.isVisible()
    folder = tmp_path / "models"
    folder.mkdir()
    assert dlg.add_folder(str(folder)) and user_folders(window.ctx.repo) == [str(folder)]
    assert dlg.folder_list.item(0).text() == str(folder)
    # a key is never stored: a URL with credentials or a key in the variable field is refused
    dlg.server_url.setText("http://user:secret@127.0.0.1:9/v1#m")
    assert not dlg.add_server() and window.ctx.repo.endpoints() == []
    dlg.server_url.setText("http://127.0.0.1:9/v1#m")
    dlg.server_key_env.setText("sk-12345")
    assert not dlg.add_server() and window.ctx.repo.endpoints() == []
    dlg.server_name.setText("lab")
    dlg.server_key_env.setText("LAB_API_KEY")
    assert dlg.add_server()
    ep = window.ctx.repo.endpoints()[0]
    assert (ep["name"], ep["base_url"], ep["api_key_env"]) == ("lab", "http://127.0.0.1:9/v1",
                                                               "LAB_API_KEY")
    assert len([d for d in dialogs_seen if d[0] == "error"]) == 2
    dlg.device_box.setCurrentText("cpu")
    assert window.ctx.settings.get("vlm.device") == "cpu"
    qapp = QApplication.instance()
    palette, sheet, style = qapp.palette(), qapp.styleSheet(), qapp.style().name()
    try:
        dlg.theme_box.setCurrentText("light")
        light = qapp.palette().window().color().lightness()
        assert window.ctx.settings.get("theme") == "light" and qapp.styleSheet() == ""
        dlg.theme_box.setCurrentText("dark")
        assert qapp.palette().window().color().lightness() < light - 100
        assert window.ctx.settings.get("theme") == "dark" and "QDockWidget" in qapp.styleSheet()
    finally:
        qapp.setStyle(style)
        qapp.setPalette(palette)
        qapp.setStyleSheet(sheet)
    dlg.project_edit.setText(str(tmp_path / "other.aastudio"))
    dlg.save_project()
    assert window.ctx.settings.get("default_project") == str(tmp_path / "other.aastudio")
    dlg.close()


def test_default_project_from_preferences_is_opened_at_start(tmp_path):
    from app.settings import UserSettings

    project = tmp_path / "chosen.aastudio"
    config = tmp_path / "cfg"
    UserSettings(config / "ActionArtStudio" / "settings.json").set("default_project", str(project))
    out = tmp_path / "shot.png"
    env = dict(os.environ, XDG_CONFIG_HOME=str(config), QT_QPA_PLATFORM="offscreen")
    run = subprocess.run([sys.executable, "main.py", "--screenshot", str(out), "--no-extract"],
                         cwd=REPO, env=env, capture_output=True, text=True, timeout=180,
                         check=False)
    assert run.returncode == 0, run.stderr[-2000:]
    assert project.is_file() and project.stat().st_size > 0


def test_reset_layout_and_docks_not_floatable_by_default(qtbot, window, ctx):
    from PySide6.QtWidgets import QDockWidget

    from widgets.main_window import MainWindow

    floatable = QDockWidget.DockWidgetFeature.DockWidgetFloatable
    assert all(not (d.features() & floatable) for d in window.docks.values())
    assert all(d.features() & QDockWidget.DockWidgetFeature.DockWidgetMovable
               for d in window.docks.values())
    window.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, window.docks["ask"])
    window.docks["clips"].hide()
    window.docks["evaluation"].show()
    window.actions_by_id["view.reset_layout"].trigger()
    qtbot.waitUntil(lambda: window.docks["clips"].isVisible(), timeout=T)
    assert window.dockWidgetArea(window.docks["ask"]) == Qt.DockWidgetArea.RightDockWidgetArea
    assert not window.docks["evaluation"].isVisible()
    assert _in_front(window, "describe") and _in_front(window, "angles")
    # View > Allow Floating Panels turns it on, and it is remembered
    window.actions_by_id["view.floatable"].trigger()
    assert all(d.features() & floatable for d in window.docks.values())
    second = MainWindow(ctx)
    qtbot.addWidget(second)
    assert second.actions_by_id["view.floatable"].isChecked()
    assert all(d.features() & floatable for d in second.docks.values())


# -- models: discovery in Ask/Compare, remembered additions, the rule describer --------------
def test_added_models_and_servers_are_remembered_after_a_restart(qtbot, ctx, tmp_path):
    from app.context import AppContext
    from app.controllers.vlm import vlm_controller
    from app.settings import UserSettings
    from widgets.vlm.ask_panel import AskPanel

    panel = AskPanel(ctx)
    qtbot.addWidget(panel)
    folder = str(tmp_path / "ckpt")
    for spec in (folder, "http://127.0.0.1:8000/v1#qwen"):
        panel.add_edit.setText(spec)
        panel.add_edit.returnPressed.emit()
    panel.add_edit.setText("http://me:pw@127.0.0.1:8000/v1#qwen")   # never stored
    panel.add_button.click()
    assert "credentials" in panel.status.text()
    on_disk = ctx.settings.path.read_text()
    assert "pw@" not in on_disk and folder in on_disk
    again = AppContext(ctx.repo, settings=UserSettings(ctx.settings.path))
    try:
        labels = [c.label for c in vlm_controller(again).choices]
        assert folder in labels and any("qwen" in label for label in labels)
        # Forget removes an added model for good
        ctrl = vlm_controller(again)
        choice = next(c for c in ctrl.choices if c.label == folder)
        assert ctrl.forget_choice(choice)
        assert folder not in UserSettings(ctx.settings.path).get("vlm.added_models")
    finally:
        again.player.close()
        again.jobs.shutdown(wait=True)


def test_find_models_in_ask_and_compare_and_the_model_help(qtbot, ctx, tmp_path):
    from models.vlm.discovery import add_folder
    from widgets.vlm.ask_panel import AskPanel
    from widgets.vlm.compare_view import CompareView

    panel, view = AskPanel(ctx), CompareView(ctx)
    qtbot.addWidget(panel)
    qtbot.addWidget(view)
    qtbot.waitUntil(lambda: "Only the rule-based describer" in panel.status.text(), timeout=T)
    ckpt = tmp_path / "folder" / "smolish"
    ckpt.mkdir(parents=True)
    (ckpt / "config.json").write_text(json.dumps({"model_type": "smolvlm",
                                                  "architectures": ["SmolVLMForConditionalGeneration"]}))
    add_folder(ctx.repo, tmp_path / "folder")
    with qtbot.waitSignal(panel.controller.choicesChanged, timeout=T):
        view.find_button.click()
    found = [view.pickers[0].itemText(i) for i in range(view.pickers[0].count())]
    runnable = [c for c in panel.controller.choices if c.kind == "transformers"]
    assert [c.settings["model"] for c in runnable] == [str(ckpt)] or not runnable
    with qtbot.waitSignal(panel.controller.choicesChanged, timeout=T):
        panel.find_button.click()
    assert len(found) == view.pickers[0].count()
    panel.help_button.click()        # no window around it: a sheet of its own
    from widgets.help import HelpSheet

    sheets = panel.findChildren(HelpSheet)
    assert sheets and "hf download" in sheets[0].plain()


def test_rule_describer_says_it_does_not_read_a_free_question(clip):
    from models.describe.synth import SynthPose, track
    from models.pose.track import PoseTrack
    from models.vlm.frames import FrameSelection
    from models.vlm.many import generate_one
    from models.vlm.rule_backend import RuleBackend
    from models.vlm.service import AskSpec, prepare

    import numpy as np

    w = track([SynthPose().world() for _ in range(280)])
    tr = PoseTrack(np.full_like(w, 0.5), w.astype(np.float32), 25.0, 340, 256, backend="mediapipe")
    video = str(clip("arm_wrestling.mp4"))
    backend = RuleBackend(tr)
    asked = prepare(AskSpec(video, "Is the man holding a cup?", "free",
                            selection=FrameSelection(count=3)), track=tr)
    text = generate_one(backend, asked.request).text
    assert text.startswith("The rule-based describer does not read questions")
    assert "cup" not in text.lower()
    plain = prepare(AskSpec(video, "", "pose_description", selection=FrameSelection(count=3)),
                    track=tr)
    assert "does not read" not in generate_one(backend, plain.request).text


# -- Open Recent ----------------------------------------------------------------------------
def test_open_recent_lists_only_what_opened_sits_above_quit_and_remembers_the_folder(
        qtbot, window, clip, tmp_path, dialogs_seen):
    from widgets import dialogs

    bad = tmp_path / "broken.mp4"
    bad.write_bytes(b"not a video at all" * 100)
    with qtbot.waitSignal(window.ctx.player.openFailed, timeout=T):
        window.open_path(bad)
    assert str(bad) not in window.ctx.settings.recent_files()
    good = clip("street_pedestrians.mp4")
    previous = dialogs.set_handler(lambda kind, title, text, parent: str(good))
    try:
        with qtbot.waitSignal(window.ctx.player.clipChanged, timeout=T):
            window.open_video_dialog()
        assert window.ctx.settings.recent_files() == [str(good)]
        window.open_video_dialog()
        assert dialogs.last_start == str(good.parent)         # the last folder
    finally:
        dialogs.set_handler(previous)
    gone = tmp_path / "gone.mp4"
    window.ctx.settings.add_recent_file(gone)                  # deleted since
    window._fill_recent()
    assert [a.text() for a in window._recent_menu.actions()] == [str(good)]
    file_menu = window.menuBar().actions()[0].menu()
    entries = file_menu.actions()
    recent = window._recent_menu.menuAction()
    assert entries.index(recent) < entries.index(window.actions_by_id["file.quit"])
    assert entries.index(recent) == entries.index(window.actions_by_id["file.open_folder"]) + 1
