"""The main window with its panels: clip list of a real folder, angle plot seeking and
marks, keyboard transport, COCO import browser, and every bad input as a dialog."""
from __future__ import annotations

import shutil

import numpy as np
import pytest
from PySide6.QtCore import QPointF, Qt

from models.video import probe
from tests.gui_support import ctx, dialogs_seen, synthetic_track  # noqa: F401
from widgets.video.transport import format_time

T = 15000


@pytest.fixture
def window(qtbot, ctx, dialogs_seen):
    from widgets.main_window import MainWindow

    win = MainWindow(ctx)
    qtbot.addWidget(win)
    win.resize(1200, 800)
    win.show()
    return win


def _open(qtbot, win, path):
    with qtbot.waitSignal(win.ctx.player.frameChanged, timeout=T):
        assert win.open_path(path)


def test_clip_list_shows_the_folder_with_durations(qtbot, window, clips_dir):
    _open(qtbot, window, clips_dir)
    qtbot.waitUntil(lambda: window.ctx.dataset.loaded, timeout=T)
    panel = window.panels["clips"]
    rows = panel.row_texts()
    assert len(rows) == 4
    for path, row in zip(sorted(clips_dir.glob("*.mp4")), rows):
        info = probe(path)
        assert row[0].splitlines()[0] == path.name
        assert row[1] == format_time(info.duration)
        assert f"{info.width}x{info.height}" in row[0] and "fps" in row[0]
        assert row[2] == "none"
    assert window.ctx.settings.recent_folders() == [str(clips_dir)]
    # clicking a row opens that clip
    item = panel.tree.topLevelItem(3)
    with qtbot.waitSignal(window.ctx.player.clipChanged, timeout=T) as blocker:
        panel.tree.itemClicked.emit(item, 0)
    assert blocker.args[0].endswith("two_people_room.mp4")


def _plot_click(qtbot, panel, frame, button=Qt.MouseButton.LeftButton):
    scene_pos = panel.viewbox.mapViewToScene(QPointF(frame, 90))
    pos = panel.plot.mapFromScene(scene_pos)
    qtbot.mouseClick(panel.plot.viewport(), button, pos=pos)


def test_angle_plot_curves_gaps_and_click_seek(qtbot, window, clip):
    _open(qtbot, window, clip("arm_wrestling.mp4"))
    player = window.ctx.player
    player.set_track(synthetic_track(player.frame_count, 340, 256, no_pose=range(100, 120)))
    panel = window.panels["angles"]
    x, y = panel.curves["left_elbow"].getData()
    assert len(x) == player.frame_count and np.isnan(y[100:120]).all()
    assert np.isfinite(y[:100]).all()
    with qtbot.waitSignal(player.frameChanged, timeout=T, check_params_cb=lambda i: 140 <= i <= 160):
        _plot_click(qtbot, panel, 150)
    assert abs(player.current_frame - 150) <= 2  # one screen pixel is ~0.3 frame here
    assert panel.cursor.value() == player.current_frame
    with qtbot.waitSignal(player.frameChanged, timeout=T):
        panel.seek_x(42.4)
    assert player.current_frame == 42


def test_marks_from_keys_and_plot(qtbot, window, clip):
    _open(qtbot, window, clip("arm_wrestling.mp4"))
    player, marks = window.ctx.player, window.ctx.marks
    with qtbot.waitSignal(player.frameChanged, timeout=T):
        player.seek(20)
    window.actions_by_id["marks.a"].trigger()
    marks.mark_b(frame=60)
    panel = window.panels["angles"]
    assert marks.a == (player.path, 20)
    assert panel.mark_lines["A"].isVisible() and panel.mark_lines["A"].value() == 20
    assert panel.mark_lines["B"].value() == 60


def test_keyboard_transport(qtbot, window, clip):
    _open(qtbot, window, clip("basketball_gym.mp4"))
    player = window.ctx.player
    window.activateWindow()
    for key, mod, expected in ((Qt.Key.Key_Right, Qt.KeyboardModifier.NoModifier, 1),
                               (Qt.Key.Key_Right, Qt.KeyboardModifier.ShiftModifier, 31),
                               (Qt.Key.Key_Left, Qt.KeyboardModifier.NoModifier, 30),
                               (Qt.Key.Key_End, Qt.KeyboardModifier.NoModifier, 299),
                               (Qt.Key.Key_Home, Qt.KeyboardModifier.NoModifier, 0)):
        with qtbot.waitSignal(player.frameChanged, timeout=T,
                              check_params_cb=lambda i, e=expected: i == e):
            qtbot.keyClick(window, key, mod)
    with qtbot.waitSignal(player.playingChanged, timeout=T):
        qtbot.keyClick(window, Qt.Key.Key_Space)
    assert player.playing
    window.actions_by_id["play.toggle"].trigger()
    assert not player.playing


def _bad_inputs(tmp_path, clip):
    text = tmp_path / "notes as video.mp4"
    text.write_text("just text")
    truncated = tmp_path / "trunc ü.mp4"
    truncated.write_bytes(clip("arm_wrestling.mp4").read_bytes()[:60000])
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    doc = tmp_path / "clip.txt"
    doc.write_text("x")
    return {"missing": tmp_path / "nope.mp4", "text": text, "truncated": truncated,
            "empty": empty, "extension": doc}


def test_bad_inputs_show_one_line_dialogs_and_the_app_goes_on(qtbot, window, dialogs_seen,
                                                              tmp_path, clip):
    player = window.ctx.player
    for name, path in _bad_inputs(tmp_path, clip).items():
        dialogs_seen.clear()
        if window.open_path(path):  # accepted for decoding: the failure is asynchronous
            with qtbot.waitSignal(player.openFailed, timeout=T):
                pass
        qtbot.waitUntil(lambda: len(dialogs_seen) == 1, timeout=T)
        kind, _title, text = dialogs_seen[0]
        assert kind == "error" and "\n" not in text and path.name in text, (name, text)
    empty_dir = tmp_path / "no videos"
    empty_dir.mkdir()
    dialogs_seen.clear()
    assert not window.open_path(empty_dir)
    assert dialogs_seen[0][0] == "warning"
    _open(qtbot, window, clip("street_pedestrians.mp4"))  # still works afterwards
    assert player.frame_count == 5


def test_path_with_spaces_and_non_ascii(qtbot, window, tmp_path, clip):
    odd = tmp_path / "dossier été" / "clip été 1.mp4"
    odd.parent.mkdir()
    shutil.copy(clip("street_pedestrians.mp4"), odd)
    _open(qtbot, window, odd)
    assert window.ctx.player.path == str(odd)


def test_broken_panel_is_skipped_with_a_status_message(qtbot, window):
    from widgets.panels import PanelSpec

    before = set(window.panels)
    window.build_panels([PanelSpec("broken", "Broken", "widgets.does_not_exist:Panel")])
    assert set(window.panels) == before
    assert "Broken" in window.statusBar().currentMessage()


def test_coco_import_shows_images_with_skeletons(qtbot, window, tmp_path):
    from tests.conftest import COCO

    browser = window.show_coco(COCO / "test_coco.json")
    qtbot.addWidget(browser)
    assert browser.images.count() == 4
    total = 0
    for row in range(4):
        browser.images.setCurrentRow(row)
        im = browser.dataset.images[row]
        drawn = [s.pose for s in browser.view.skeletons if s.pose is not None]
        assert len(drawn) == len(im.persons)
        total += len(drawn)
        assert browser.view.message_item.text() == ""  # the photo was found and shown
    assert total == 14
    bad = tmp_path / "bad.json"
    bad.write_text('{"images": 3}')
    assert window.show_coco(bad) is None


def test_pose_progress_and_cancel_in_status_bar(qtbot, window, clip):
    """Real extraction of the 5-frame clip through the GUI; then cancel a second run."""
    ctx = window.ctx
    _open(qtbot, window, clip("street_pedestrians.mp4"))
    with qtbot.waitSignal(ctx.poses.finished, timeout=120000):
        ctx.poses.extract()
        assert window.progress.isVisible() and window.cancel_button.isVisible()
    assert not window.progress.isVisible()
    assert ctx.player.track is not None and ctx.player.track.complete
    assert "Poses of street_pedestrians.mp4" in window.statusBar().currentMessage()
    _open(qtbot, window, clip("arm_wrestling.mp4"))
    ctx.poses.extract()
    with qtbot.waitSignal(ctx.poses.cancelled, timeout=T):
        window.cancel_button.click()
    assert not window.progress.isVisible()
    assert "cancelled" in window.statusBar().currentMessage().lower()
