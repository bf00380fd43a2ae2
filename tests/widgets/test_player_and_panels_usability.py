"""Usability of the player and the panels: typing into number fields, go-to, A-B loop,
speed keys, marks on the seek bar, motion range and playhead, a clean overlay after a
seek to a frame without pose, panels cleared by a clip that cannot be opened, streamed
answers appended at the end, and the Describe panel following the shared threshold."""
from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt

from tests.gui_support import ctx, dialogs_seen, synthetic_track  # noqa: F401

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


def _type(qtbot, widget, text: str) -> None:
    widget.setFocus()
    widget.selectAll()
    qtbot.keyClicks(widget, text)


def test_visibility_threshold_can_be_typed(qtbot, ctx):
    from widgets.video.panel import VideoPanel

    panel = VideoPanel(ctx)
    qtbot.addWidget(panel)
    panel.show()
    box = panel.threshold_box
    _type(qtbot, box, "0.95")
    assert box.value() == pytest.approx(0.95)
    assert ctx.visibility_threshold == pytest.approx(0.95)
    assert panel.view.threshold == pytest.approx(0.95)
    _type(qtbot, box, "0.3")
    qtbot.keyClick(box, Qt.Key.Key_Return)
    assert ctx.visibility_threshold == pytest.approx(0.3)
    ctx.set_visibility_threshold(0.7)          # set elsewhere: the box follows
    assert box.value() == pytest.approx(0.7)


def test_streamed_text_is_appended_at_the_end(qtbot, ctx):
    from widgets.vlm.ask_panel import AskPanel

    panel = AskPanel(ctx)
    qtbot.addWidget(panel)
    panel.rid = 7
    chunk = panel.controller.chunk
    chunk.emit(7, 0, "The person raises")
    cursor = panel.answer.textCursor()          # the user clicks inside the answer
    cursor.setPosition(4)
    panel.answer.setTextCursor(cursor)
    chunk.emit(7, 0, " the left arm")
    chunk.emit(8, 0, " (another request)")
    chunk.emit(7, 0, ".")
    assert panel.answer.toPlainText() == "The person raises the left arm."


def _synthetic_world_track(qtbot, ctx, clip, poses, name="two_people_room.mp4", low=()):
    """Open a real clip and attach a track built from SynthPose worlds (joints ``low``
    get visibility 0.7); waits for the describe controller's cached facts."""
    from app.controllers.describe import describe_controller
    from models.describe.synth import track
    from models.pose.track import PoseTrack

    with qtbot.waitSignal(ctx.player.frameChanged, timeout=T):
        ctx.player.open(str(clip(name)))
    n = ctx.player.frame_count
    w = track([poses(i) for i in range(n)]).astype(np.float32)
    w[:, list(low), 3] = 0.7
    img = np.full_like(w, 0.5)
    img[..., 3] = w[..., 3]
    with qtbot.waitSignal(describe_controller(ctx).trackFactsReady, timeout=T):
        ctx.player.set_track(PoseTrack(img, w, ctx.player.fps, 1920, 1080, backend="mediapipe"))


def test_describe_panel_follows_the_visibility_threshold(qtbot, ctx, clip):
    from app.controllers.describe import describe_controller
    from models.describe.synth import SynthPose
    from widgets.describe.panel import DescribePanel

    panel = DescribePanel(ctx)
    qtbot.addWidget(panel)
    panel.show()
    _synthetic_world_track(qtbot, ctx, clip, lambda i: SynthPose().bend("left_elbow", 90).world(),
                           low=(11, 13, 15))
    panel.refresh()
    assert "left_elbow_angle" in [f.quantity for f in panel.facts]
    with qtbot.waitSignal(describe_controller(ctx).trackFactsReady, timeout=T):
        ctx.set_visibility_threshold(0.8)       # the overlay's threshold: 0.7 joints hidden
    qtbot.waitUntil(lambda: describe_controller(ctx)._tf is not None, timeout=T)
    panel.refresh()
    assert "left_elbow_angle" not in [f.quantity for f in panel.facts]
    assert "bent at a right angle" not in panel.text.toPlainText()
    with qtbot.waitSignal(describe_controller(ctx).trackFactsReady, timeout=T):
        ctx.set_visibility_threshold(0.6)
    panel.refresh()
    assert "left_elbow_angle" in [f.quantity for f in panel.facts]


def test_describe_panel_shows_the_bin_column_in_a_narrow_dock(qtbot, ctx, clip):
    from models.describe.synth import SynthPose
    from widgets.describe.panel import DescribePanel

    panel = DescribePanel(ctx)
    qtbot.addWidget(panel)
    panel.resize(440, 600)
    panel.show()
    _synthetic_world_track(qtbot, ctx, clip, lambda i: SynthPose().bend("left_knee", 100).world())
    panel.refresh()
    tree = panel.tree
    header = tree.header()
    bins = [tree.topLevelItem(i).text(2) for i in range(tree.topLevelItemCount())]
    widest = max(tree.fontMetrics().horizontalAdvance(b) for b in bins)
    visible = tree.viewport().width()
    for col in (1, 2, 3):         # value, bin and vis. whole, inside the visible width
        assert header.sectionViewportPosition(col) + header.sectionSize(col) <= visible
    assert header.sectionSize(2) >= widest
    assert not tree.horizontalScrollBar().isVisible()
