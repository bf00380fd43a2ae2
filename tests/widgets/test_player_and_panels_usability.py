"""Usability of the player and the panels: typing into number fields, go-to, A-B loop,
speed keys, marks on the seek bar, motion range and playhead, a clean overlay after a
seek to a frame without pose, panels cleared by a clip that cannot be opened, streamed
answers appended at the end, and the Describe panel following the shared threshold."""
from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt

from tests.gui_support import ctx, dialogs_seen, picture_of, synthetic_track, window  # noqa: F401
from tests.gui_support import open_in as _open

T = 15000


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
    img = picture_of(w, 1920, 1080)
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
    # (a fact on the left arm: its elbow angle itself is dropped, since the bent forearm
    # points at the camera and the picture cannot confirm the angle)
    assert "left_upper_arm_orientation" in [f.quantity for f in panel.facts]
    with qtbot.waitSignal(describe_controller(ctx).trackFactsReady, timeout=T):
        ctx.set_visibility_threshold(0.8)       # the overlay's threshold: 0.7 joints hidden
    qtbot.waitUntil(lambda: describe_controller(ctx)._tf is not None, timeout=T)
    panel.refresh()
    assert "left_upper_arm_orientation" not in [f.quantity for f in panel.facts]
    assert "bent at a right angle" not in panel.text.toPlainText()
    with qtbot.waitSignal(describe_controller(ctx).trackFactsReady, timeout=T):
        ctx.set_visibility_threshold(0.6)
    panel.refresh()
    assert "left_upper_arm_orientation" in [f.quantity for f in panel.facts]


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


def test_parse_position_frames_and_times():
    from widgets.video.transport import parse_position

    assert parse_position("120", 25.0) == 120
    assert parse_position("4.5 s", 20.0) == 90 and parse_position("4.5s", 20.0) == 90
    assert parse_position("0.5", 20.0) == 10                  # a decimal point: seconds
    assert parse_position("1:02.5", 10.0) == 625
    assert parse_position("00:01.00", 30.0) == 30
    for bad in ("", "abc", "1:2:3", "-4", "4 frames"):
        assert parse_position(bad, 25.0) is None


def test_go_to_a_typed_frame_or_time(qtbot, window, clip):
    _open(qtbot, window, clip("basketball_gym.mp4"))        # 300 frames at 29.97 fps
    player, bar = window.ctx.player, window.video.transport
    window.activateWindow()
    qtbot.keyClick(window, Qt.Key.Key_G, Qt.KeyboardModifier.ControlModifier)
    assert bar.goto.hasFocus()
    fps = player.fps
    for text, frame in (("120", 120), ("2.5 s", int(2.5 * fps)), ("0:09.5", int(9.5 * fps)),
                        ("9999", 299)):
        bar.goto.selectAll()
        qtbot.keyClicks(bar.goto, text)
        with qtbot.waitSignal(player.frameChanged, timeout=T,
                              check_params_cb=lambda i, f=frame: i == f):
            qtbot.keyClick(bar.goto, Qt.Key.Key_Return)
    bar.goto.selectAll()
    qtbot.keyClicks(bar.goto, "soon")
    qtbot.keyClick(bar.goto, Qt.Key.Key_Return)
    assert player.requested_frame == 299 and "d05050" in bar.goto.styleSheet()


def test_ab_loop_wraps_playback(qtbot, window, clip):
    _open(qtbot, window, clip("basketball_gym.mp4"))
    player, marks = window.ctx.player, window.ctx.marks
    window.actions_by_id["marks.loop"].trigger()             # no marks yet: stays off
    assert player.loop is None and not marks.looping
    assert "mark frames A and B" in window.statusBar().currentMessage()
    marks.mark_a(player.path, 40)
    marks.mark_b(player.path, 52)
    player.set_speed(2.0)
    seen = []
    player.frameChanged.connect(seen.append)
    window.actions_by_id["marks.loop"].trigger()
    assert player.loop == (40, 52) and player.playing and window.video.transport.loop_button.isChecked()
    qtbot.waitUntil(lambda: seen.count(52) + seen.count(51) >= 1 and len(seen) > 30, timeout=30000)
    player.pause()
    assert all(40 <= f <= 52 for f in seen[1:])              # never past B, back to A
    later = seen[seen.index(max(seen)):]
    assert any(f < 46 for f in later)                          # it wrapped round to A
    window.actions_by_id["marks.loop"].trigger()
    assert player.loop is None and not marks.looping


def test_speed_keys_change_the_speed(qtbot, window, clip):
    _open(qtbot, window, clip("basketball_gym.mp4"))
    player, bar = window.ctx.player, window.video.transport
    window.activateWindow()
    qtbot.keyClick(window, Qt.Key.Key_BracketRight)
    assert player.speed == 1.25 and bar.speed.currentData() == 1.25
    qtbot.keyClick(window, Qt.Key.Key_BracketRight)
    assert player.speed == 1.5
    for _ in range(8):
        qtbot.keyClick(window, Qt.Key.Key_BracketLeft)
    assert player.speed == 0.25 and bar.speed.currentText() == "0.25x"
    qtbot.keyClick(window, Qt.Key.Key_Equal)
    assert player.speed == 1.0 and bar.speed.currentData() == 1.0


def test_marks_show_on_the_seek_bar_and_in_the_status_bar(qtbot, window, clip):
    from widgets.video.transport import MARK_COLORS

    _open(qtbot, window, clip("basketball_gym.mp4"))
    player, slider = window.ctx.player, window.video.transport.slider
    with qtbot.waitSignal(player.frameChanged, timeout=T):
        player.seek(60)
    window.actions_by_id["marks.a"].trigger()
    assert "Frame A marked: frame 60" in window.statusBar().currentMessage()
    window.ctx.marks.mark_b(player.path, 240)
    label = window.status.marks_label.text()
    assert "A: frame 60 · 2.00 s" in label and "B: frame 240" in label
    assert slider.marks == {"A": 60, "B": 240}
    img = slider.grab().toImage()
    for name, frame in (("A", 60), ("B", 240)):
        x = slider.x_of(frame)
        colours = {img.pixelColor(x, y).rgb() for y in range(img.height())}
        assert MARK_COLORS[name].rgb() in colours, name
    x_a = slider.x_of(60)
    assert MARK_COLORS["B"].rgb() not in {img.pixelColor(x_a, y).rgb() for y in range(img.height())}
    window.ctx.marks.clear()
    assert slider.marks == {} and window.status.marks_label.text() == ""


def test_motion_range_defaults_to_the_clip_or_the_marks(qtbot, ctx, clip):
    from widgets.describe.motion import MotionPanel

    panel = MotionPanel(ctx)
    qtbot.addWidget(panel)
    panel.show()
    with qtbot.waitSignal(ctx.player.frameChanged, timeout=T):
        ctx.player.open(str(clip("basketball_gym.mp4")))       # 300 frames
    fps = ctx.player.fps
    assert panel.start.value() == 0.0 and panel.end.value() == pytest.approx(299 / fps, abs=0.01)
    ctx.marks.mark_a(ctx.player.path, 60)
    ctx.marks.mark_b(ctx.player.path, 30)
    with qtbot.waitSignal(ctx.player.frameChanged, timeout=T):
        ctx.player.open(str(clip("arm_wrestling.mp4")))        # marks of another clip
    assert panel.end.value() == pytest.approx((ctx.player.frame_count - 1) / ctx.player.fps, abs=0.01)
    with qtbot.waitSignal(ctx.player.frameChanged, timeout=T):
        ctx.player.open(str(clip("basketball_gym.mp4")))
    assert panel.start.value() == pytest.approx(30 / fps, abs=0.01)
    assert panel.end.value() == pytest.approx(60 / fps, abs=0.01)


def test_motion_plot_has_a_playhead_and_click_seeks(qtbot, ctx, clip):
    from PySide6.QtCore import QPoint

    from models.describe.synth import SynthPose
    from widgets.describe.motion import MotionPanel

    panel = MotionPanel(ctx)
    qtbot.addWidget(panel)
    panel.resize(900, 400)
    panel.show()

    def squat(i):
        knee = 170 - 50 * (1 - np.cos(2 * np.pi * 3 * i / 72))
        return SynthPose().bend("left_knee", knee).bend("right_knee", knee).world()

    _synthetic_world_track(qtbot, ctx, clip, squat)
    fps = ctx.player.fps
    assert panel.facts, panel.text.toPlainText()             # analysed over the whole clip
    with qtbot.waitSignal(ctx.player.frameChanged, timeout=T):
        ctx.player.seek(30)
    assert panel.playhead.isVisible() and panel.playhead.value() == pytest.approx(30 / fps)
    vb = panel.plot.getPlotItem().getViewBox()
    scene_pt = vb.mapViewToScene(vb.mapToView(vb.boundingRect().center()))
    scene_pt = vb.mapViewToScene(pg_point(50 / fps, vb.viewRange()[1][0] + 0.1 * (
        vb.viewRange()[1][1] - vb.viewRange()[1][0])))
    widget_pt = panel.plot.mapFromScene(scene_pt)
    with qtbot.waitSignal(ctx.player.frameChanged, timeout=T) as sig:
        qtbot.mouseClick(panel.plot.viewport(), Qt.MouseButton.LeftButton,
                         pos=QPoint(int(widget_pt.x()), int(widget_pt.y())))
    assert abs(sig.args[0] - 50) <= 1
    assert panel.playhead.value() == pytest.approx(sig.args[0] / fps)


def pg_point(x, y):
    from PySide6.QtCore import QPointF

    return QPointF(x, y)


def test_no_stale_skeleton_outside_the_image_after_a_seek_to_a_no_pose_frame(qtbot):
    from PySide6.QtWidgets import QApplication

    from models.pose.skeleton import blazepose
    from widgets.video.view import VideoView

    sk = blazepose()
    view = VideoView()
    qtbot.addWidget(view)
    view.resize(900, 300)                       # 640x360 image: background left and right
    view.show()
    qtbot.waitExposed(view)
    image = np.full((360, 640, 3), 90, np.uint8)
    pose = np.full((sk.n, 3), np.nan)
    pose[sk.index("left_shoulder")] = (600, 100, 0.95)
    pose[sk.index("left_elbow")] = (760, 100, 0.95)   # estimated 120 px beyond the right edge
    view.show_frame(image, [pose])
    qtbot.wait(100)
    view.show_frame(image, [], "no pose")       # the next frame has no pose
    qtbot.wait(100)
    # What is on screen now (the window's backing store, not a fresh repaint):
    shot = QApplication.primaryScreen().grabWindow(view.winId()).toImage()
    background = view.backgroundBrush().color().rgb()
    right = view.mapFromScene(640, 0).x() + 3
    for x in range(right, min(shot.width(), view.mapFromScene(800, 0).x())):
        for y in range(view.mapFromScene(0, 80).y(), view.mapFromScene(0, 120).y()):
            assert shot.pixelColor(x, y).rgb() == background, (x, y)
    # and with a pose shown, nothing of it is drawn outside the image either
    view.show_frame(image, [pose])
    out = view.grab().toImage()
    assert out.pixelColor(view.mapFromScene(700, 100)).rgb() == background
    assert out.pixelColor(view.mapFromScene(620, 100)).rgb() != background   # inside: drawn


def test_a_file_that_cannot_be_opened_clears_the_previous_clip(qtbot, window, clip, tmp_path):
    from models.describe.synth import SynthPose

    window.docks["motion"].show()
    _synthetic_world_track(qtbot, window.ctx, clip, lambda i: SynthPose().bend("left_knee", 60 + i).world())
    panels = window.panels
    player = window.ctx.player
    with qtbot.waitSignal(player.frameChanged, timeout=T):
        player.seek(10)
    panels["describe"].refresh()
    panels["motion"].analyse()
    assert panels["describe"].facts and panels["motion"].text.toPlainText()
    assert "two_people_room" in window.windowTitle()
    bad = tmp_path / "broken.mp4"
    bad.write_bytes(clip("arm_wrestling.mp4").read_bytes()[:40000])
    with qtbot.waitSignal(player.openFailed, timeout=T):
        window.open_path(bad)
    qtbot.wait(50)
    assert "two_people_room" not in window.windowTitle()
    assert window.video.view.frame_item.image().isNull() and window.video.view.skeleton.pose is None
    assert panels["describe"].facts == [] and panels["describe"].tree.topLevelItemCount() == 0
    assert panels["describe"].header.text() == "No frame"
    assert panels["motion"].text.toPlainText() == "" and panels["motion"].facts == []
    assert len(panels["motion"].curve.getData()[0] or []) == 0
    assert all(len(c.getData()[0] or []) == 0 for c in panels["angles"].curves.values())
    assert window.video.transport.label.text() == "no clip"
