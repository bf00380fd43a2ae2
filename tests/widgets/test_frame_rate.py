"""Bounded-rate panels while playing: no slot runs per played frame (the updates come from
a timer, for the newest frame), every frame is followed at once when paused, and the
describe highlight listens to frames only while it rings joints."""
from __future__ import annotations

from PySide6.QtCore import SIGNAL

from tests.gui_support import ctx  # noqa: F401

T = 15000
FRAME_CHANGED = SIGNAL("frameChanged(int)")


def _opened(qtbot, ctx, clip):
    player = ctx.player
    with qtbot.waitSignal(player.frameChanged, timeout=T):
        player.open(clip("basketball_gym.mp4"))
    return player


def test_frame_rate_calls_no_slot_per_played_frame_and_follows_the_newest_frame(
        qtbot, ctx, clip):
    from widgets.rate import FrameRate

    player = _opened(qtbot, ctx, clip)
    base = player.receivers(FRAME_CHANGED)
    seen = []
    rates = [FrameRate(player, seen.append, interval_ms=40) for _ in range(3)]
    assert player.receivers(FRAME_CHANGED) == base + 3       # paused: each frame at once
    with qtbot.waitSignal(player.frameChanged, timeout=T):
        player.seek(5)
    assert seen == [5, 5, 5]
    shown = []
    player.frameChanged.connect(shown.append)
    player.play()
    assert player.receivers(FRAME_CHANGED) == base + 1       # playing: only ``shown``
    qtbot.waitUntil(lambda: len(shown) >= 40, timeout=T)
    playing_updates = list(seen[3:])
    assert playing_updates, "no update while playing"
    assert all(f in shown for f in playing_updates)          # frames that were on screen
    assert playing_updates == sorted(playing_updates)        # never going back
    assert sum(r.calls for r in rates) - 3 < 3 * len(shown)  # fewer updates than frames
    player.pause()
    assert player.receivers(FRAME_CHANGED) == base + 4       # paused again: at once
    frame = player.current_frame
    assert seen[-3:] == [frame] * 3                          # the frame playback stopped on
    with qtbot.waitSignal(player.frameChanged, timeout=T):
        player.step(1)
    assert seen[-3:] == [frame + 1] * 3
    for r in rates:
        r.deleteLater()


def test_frame_rate_made_while_playing_starts_on_its_timer(qtbot, ctx, clip):
    from widgets.rate import FrameRate

    player = _opened(qtbot, ctx, clip)
    base = player.receivers(FRAME_CHANGED)
    player.play()
    seen = []
    rate = FrameRate(player, seen.append, interval_ms=20)
    assert player.receivers(FRAME_CHANGED) == base
    qtbot.waitUntil(lambda: len(seen) >= 2, timeout=T)
    player.pause()
    assert seen[-1] == player.current_frame
    assert player.receivers(FRAME_CHANGED) == base + 1
    rate.deleteLater()


def test_highlight_follows_frames_only_while_it_rings_joints(qtbot, ctx, clip):
    from app.controllers.describe import describe_controller
    from widgets.describe.highlight import attach_highlight
    from widgets.video.view import VideoView

    player = _opened(qtbot, ctx, clip)
    view = VideoView()
    qtbot.addWidget(view)
    base = player.receivers(FRAME_CHANGED)
    item = attach_highlight(view, ctx)
    assert player.receivers(FRAME_CHANGED) == base           # nothing ringed: not listening
    ctrl = describe_controller(ctx)
    ctrl.highlight([11, 13])
    qtbot.waitUntil(lambda: item.joints == (11, 13), timeout=T)
    assert player.receivers(FRAME_CHANGED) == base + 1
    ctrl.highlight([])
    qtbot.waitUntil(lambda: item.joints == (), timeout=T)
    assert player.receivers(FRAME_CHANGED) == base
    assert not item.isVisible()
