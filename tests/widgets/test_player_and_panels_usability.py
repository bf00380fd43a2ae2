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
