"""Offscreen rendering of the video view: bones land on the pixels the pose says, the
threshold hides joints, tooltips name joints, the overlay always matches the frame shown,
and the transport slider seeks."""
from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QEvent, QPointF
from PySide6.QtWidgets import QGraphicsSceneHoverEvent

from models.pose.skeleton import blazepose
from tests.gui_support import ctx, synthetic_track  # noqa: F401

W, H = 640, 360
SK = blazepose()
LS, LE, RS, RE = (SK.index(n) for n in ("left_shoulder", "left_elbow", "right_shoulder",
                                        "right_elbow"))


def _pose(vis_left_elbow=0.9) -> np.ndarray:
    p = np.full((SK.n, 3), np.nan)
    p[LS] = (100, 100, 0.95)
    p[LE] = (300, 100, vis_left_elbow)   # horizontal left upper arm at y=100
    p[RS] = (100, 250, 0.95)
    p[RE] = (100, 340, 0.95)             # vertical right upper arm at x=100
    return p


@pytest.fixture
def view(qtbot):
    from widgets.video.view import VideoView

    v = VideoView()
    qtbot.addWidget(v)
    v.show_frame(np.zeros((H, W, 3), np.uint8), [_pose()])
    return v


def _rgb(img, x, y):
    c = img.pixelColor(x, y)
    return c.red(), c.green(), c.blue()


def _is_left_colour(rgb):   # orange
    r, g, b = rgb
    return r > 200 and 100 < g < 190 and b < 90


def _is_right_colour(rgb):  # blue
    r, g, b = rgb
    return r < 90 and 110 < g < 190 and b > 200


def test_bones_are_drawn_at_the_pose_pixels(view):
    img = view.render_scene()
    assert (img.width(), img.height()) == (W, H)
    for x in range(140, 261, 20):   # along the left upper arm, between the joint discs
        assert _is_left_colour(_rgb(img, x, 100)), (x, _rgb(img, x, 100))
        assert _rgb(img, x, 130) == (0, 0, 0)  # and nothing 30 px beside it
    for y in range(285, 306, 10):   # along the right upper arm
        assert _is_right_colour(_rgb(img, 100, y)), (y, _rgb(img, 100, y))
    assert _rgb(img, 500, 300) == (0, 0, 0)


def test_threshold_hides_low_visibility_joints(view):
    view.show_frame(None, [_pose(vis_left_elbow=0.3)])
    view.set_threshold(0.5)
    assert not view.skeleton.shown_joints()[LE]
    assert _rgb(view.render_scene(), 200, 100) == (0, 0, 0)  # bone to a hidden joint: gone
    view.set_threshold(0.2)
    assert view.skeleton.shown_joints()[LE]
    assert _is_left_colour(_rgb(view.render_scene(), 200, 100))


def test_overlay_toggle(view):
    view.set_overlay_visible(False)
    assert _rgb(view.render_scene(), 200, 100) == (0, 0, 0)
    view.set_overlay_visible(True)
    assert _is_left_colour(_rgb(view.render_scene(), 200, 100))


def test_hover_tooltip_names_the_joint(view):
    item = view.skeleton
    event = QGraphicsSceneHoverEvent(QEvent.Type.GraphicsSceneHoverMove)
    event.setPos(QPointF(302, 98))
    item.hoverMoveEvent(event)
    tip = item.toolTip()
    assert tip.splitlines()[0] == "left_elbow"
    assert "x 300.0 px, y 100.0 px" in tip and "visibility 0.90" in tip
    event.setPos(QPointF(500, 300))
    item.hoverMoveEvent(event)
    assert item.toolTip() == ""


def test_zoom_and_fit(view):
    view.resize(800, 450)
    view.fit()
    fitted = view.zoom
    view.set_zoom(2.0)
    assert view.zoom == pytest.approx(2.0)
    view.fit()
    assert view.zoom == pytest.approx(fitted)


def test_wheel_zooms_and_drag_pans(qtbot, view):
    from PySide6.QtCore import QPoint, QPointF, Qt
    from PySide6.QtGui import QWheelEvent
    from PySide6.QtWidgets import QApplication

    view.resize(800, 450)
    view.show()
    view.fit()
    fitted = view.zoom
    centre = QPointF(400, 225)
    for _ in range(6):
        wheel = QWheelEvent(centre, view.viewport().mapToGlobal(centre), QPoint(0, 0),
                            QPoint(0, 120), Qt.MouseButton.NoButton,
                            Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase, False)
        QApplication.sendEvent(view.viewport(), wheel)
    assert view.zoom == pytest.approx(fitted * 1.15 ** 6, rel=1e-3)
    before = view.mapToScene(view.viewport().rect().center())
    qtbot.mousePress(view.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(400, 225))
    for x in (380, 340, 300):
        qtbot.mouseMove(view.viewport(), pos=QPoint(x, 205))
    qtbot.mouseRelease(view.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(300, 205))
    after = view.mapToScene(view.viewport().rect().center())
    assert after.x() > before.x() + 20 and after.y() > before.y() + 5  # the image moved with the hand


def test_overlay_always_belongs_to_the_displayed_frame(qtbot, ctx, clip):
    from widgets.video.panel import VideoPanel

    panel = VideoPanel(ctx)
    qtbot.addWidget(panel)
    player = ctx.player
    with qtbot.waitSignal(player.frameChanged, timeout=10000):
        player.open(clip("arm_wrestling.mp4"))
    track = synthetic_track(player.frame_count, 340, 256, no_pose=[9])
    player.set_track(track)
    nose = SK.index("nose")
    checked = []

    def check(frame):  # runs right after the panel drew this frame
        drawn = panel.view.skeleton.pose
        if frame == 9:
            assert drawn is None and panel.view.message_item.text() == "no pose"
        else:
            assert drawn[nose, 0] == pytest.approx(track.pixels(frame)[nose, 0])
        checked.append(frame)
    player.frameChanged.connect(check)
    for target in (5, 9, 120, 121, 3, 279):
        with qtbot.waitSignal(player.frameChanged, timeout=10000,
                              check_params_cb=lambda i, t=target: i == t):
            player.seek(target)
    assert checked[-1] == 279 and 9 in checked


def test_overlay_poses_taken_once_per_track_equal_the_players_for_every_track(qtbot, ctx,
                                                                            clip):
    """The panel takes a complete track's pixel poses once: what it draws is still
    ``player.pose(frame)`` exactly, for each frame, after a track change, and for a
    partial track (frames not extracted yet: none)."""
    from widgets.video.panel import VideoPanel

    panel = VideoPanel(ctx)
    qtbot.addWidget(panel)
    player = ctx.player
    with qtbot.waitSignal(player.frameChanged, timeout=10000):
        player.open(clip("arm_wrestling.mp4"))
    n = player.frame_count
    partial = synthetic_track(n, 320, 240)
    partial.frames_done = 100
    for track in (synthetic_track(n, 340, 256, no_pose=[9]),
                  synthetic_track(n, 1280, 720, no_pose=[5, 120]), partial):
        player.set_track(track)
        for frame in (5, 9, 120, 0, n - 1):
            panel._on_frame(frame)
            drawn, want = panel.view.skeleton.pose, player.pose(frame)
            if want is None:
                assert drawn is None, (frame, track.width)
            else:
                assert np.array_equal(drawn, want, equal_nan=True), (frame, track.width)
    assert player.pose(120) is None and player.pose(9) is not None     # partial: none


def test_transport_label_is_the_open_clips_after_another_clip(qtbot, ctx, clip):
    """The label's clip part (frame count, length) is worked out once per clip: after
    another clip opens it is that clip's, and each frame's time is the clip's own."""
    from widgets.video.transport import TransportBar, format_time

    bar = TransportBar(ctx)
    qtbot.addWidget(bar)
    player = ctx.player
    for name in ("basketball_gym.mp4", "two_people_room.mp4", "basketball_gym.mp4"):
        with qtbot.waitSignal(player.frameChanged, timeout=10000):
            player.open(clip(name))
        info = player.video_info
        for frame in (0, 5, info.frame_count - 1):
            bar._on_frame(frame)
            assert bar.label.text() == (f"frame {frame} / {info.frame_count - 1}   "
                                        f"{format_time(info.time_of(frame))} / "
                                        f"{format_time(info.duration)}"), name


def test_slider_seeks_and_follows(qtbot, ctx, clip):
    from widgets.video.transport import TransportBar

    bar = TransportBar(ctx)
    qtbot.addWidget(bar)
    player = ctx.player
    with qtbot.waitSignal(player.frameChanged, timeout=10000):
        player.open(clip("basketball_gym.mp4"))
    assert bar.slider.maximum() == player.frame_count - 1
    with qtbot.waitSignal(player.frameChanged, timeout=10000, check_params_cb=lambda i: i == 30):
        bar.slider.setValue(30)
    assert player.current_frame == 30
    assert bar.label.text().startswith("frame 30 / 299")
    with qtbot.waitSignal(player.frameChanged, timeout=10000):
        player.seek(200)
    assert bar.slider.value() == 200 and player.current_frame == 200


def test_background_only_around_the_frame(qtbot):
    from PySide6.QtCore import QRectF

    from widgets.video.view import VideoView, outside

    parts = outside(QRectF(0, 0, 100, 100), QRectF(10, 20, 50, 30))
    assert sum(r.width() * r.height() for r in parts) == 100 * 100 - 50 * 30
    assert outside(QRectF(0, 0, 10, 10), QRectF(20, 20, 5, 5)) == [QRectF(0, 0, 10, 10)]
    v = VideoView()
    qtbot.addWidget(v)
    v.resize(800, 600)
    v.show()
    frame = np.zeros((180, 320, 3), np.uint8)
    frame[...] = (200, 30, 30)
    v.show_frame(frame, [])
    v.fit()
    shot = v.viewport().grab().toImage()
    assert _rgb(shot, 400, 300) == (200, 30, 30)                # the frame
    assert _rgb(shot, 400, 20) == (24, 25, 28)                  # letterbox: background
    inside_edge = v.mapFromScene(QRectF(0, 0, 320, 180)).boundingRect()
    assert _rgb(shot, 400, inside_edge.top() + 2) == (200, 30, 30)
    # the strips filled are kept per exposed rectangle: a frame of another shape (bars at
    # the sides now, none above) and another window size get their own
    for size, (w, h) in (((800, 600), (120, 240)), ((500, 700), (320, 180))):
        v.resize(*size)
        tall = np.zeros((h, w, 3), np.uint8)
        tall[...] = (30, 200, 30)
        v.clear()
        v.show_frame(tall, [])
        v.fit()
        for _ in range(2):                       # and frame after frame of that shape
            v.show_frame(tall, [])
            shot = v.viewport().grab().toImage()
            edge = v.mapFromScene(QRectF(0, 0, w, h)).boundingRect()
            assert _rgb(shot, size[0] // 2, size[1] // 2) == (30, 200, 30)
            assert _rgb(shot, size[0] // 2, edge.top() + 2) == (30, 200, 30)
            assert _rgb(shot, edge.left() + 2, size[1] // 2) == (30, 200, 30)
            bar = (5, size[1] // 2) if h > w else (size[0] // 2, 5)
            assert _rgb(shot, *bar) == (24, 25, 28)


def test_unreliable_pose_is_drawn_dashed_grey_with_the_reason_in_the_tooltip(view):
    view.show_frame(np.zeros((H, W, 3), np.uint8), [_pose()], "", ["torso not visible"])
    img = view.render_scene()
    along = [_rgb(img, x, 100) for x in range(130, 271)]     # the left upper arm
    assert not any(_is_left_colour(c) for c in along)          # not the side colour
    grey = [c for c in along if c[0] == c[1] == c[2] and 100 <= c[0] <= 200]
    gaps = [c for c in along if c == (0, 0, 0)]
    assert len(grey) > 30 and len(gaps) > 10                   # dashes: grey with gaps
    item = view.skeleton
    event = QGraphicsSceneHoverEvent(QEvent.Type.GraphicsSceneHoverMove)
    event.setPos(QPointF(302, 98))
    item.hoverMoveEvent(event)
    assert item.toolTip().splitlines()[:2] == ["Pose not reliable: torso not visible", "left_elbow"]
    event.setPos(QPointF(200, 101))                            # on the bone, between joints
    item.hoverMoveEvent(event)
    assert item.toolTip() == "Pose not reliable: torso not visible"
    view.show_frame(None, [_pose()], "")                       # reliable again: side colours
    assert _is_left_colour(_rgb(view.render_scene(), 200, 100))


def test_panel_marks_an_unreliable_frame(qtbot, ctx, clip):
    from widgets.video.panel import VideoPanel

    panel = VideoPanel(ctx)
    qtbot.addWidget(panel)
    player = ctx.player
    with qtbot.waitSignal(player.frameChanged, timeout=10000):
        player.open(clip("arm_wrestling.mp4"))
    track = synthetic_track(player.frame_count, 340, 256)
    track.image[7, [23, 24], 3] = 0.1           # frame 7: hips unseen
    player.set_track(track)
    for target, why in ((7, "torso not visible"), (8, "")):
        with qtbot.waitSignal(player.frameChanged, timeout=10000,
                              check_params_cb=lambda i, t=target: i == t):
            player.seek(target)
        assert panel.view.skeleton.unreliable == why
        assert panel.view.message_item.text() == (f"pose not reliable: {why}" if why else "")


def test_a_scaled_down_copy_keeps_the_scene_in_full_frame_pixels(view):
    small = np.zeros((H // 4, W // 4, 4), np.uint8)   # B, G, R, X at a quarter size
    small[..., 1] = 200                                 # green
    view.show_frame(small, [_pose()], source=(W, H))
    assert view.frame_item.boundingRect().size().toTuple() == (W, H)
    assert view.frame_item.image().size().toTuple() == (W // 4, H // 4)
    img = view.render_scene()
    assert (img.width(), img.height()) == (W, H)
    assert _rgb(img, 500, 300) == (0, 200, 0)            # the copy covers the whole frame
    assert _is_left_colour(_rgb(img, 200, 100))          # the bone where the pose says
    view.show_frame(np.zeros((H, W, 3), np.uint8), [_pose()])   # full resolution again
    assert view.frame_item.image().size().toTuple() == (W, H)
    assert _rgb(view.render_scene(), 500, 300) == (0, 0, 0)


def test_display_size_follows_zoom_and_is_none_when_zoomed_in(qtbot, ctx):
    from widgets.video.panel import VideoPanel

    panel = VideoPanel(ctx)
    qtbot.addWidget(panel)
    panel.resize(700, 500)
    panel.show()
    view = panel.view
    view.show_frame(np.zeros((1080, 1920, 3), np.uint8), [])
    view.set_zoom(0.25)
    assert view.display_size() == (480, 270) == ctx.player.display_size
    view.fit()
    w, h = ctx.player.display_size
    assert w <= view.viewport().width() + 1 and h <= view.viewport().height() + 1
    assert abs(w / h - 16 / 9) < 0.02 and w >= view.viewport().width() - 8 or \
        h >= view.viewport().height() - 8
    view.set_zoom(1.0)           # 1:1 or closer: the view needs every pixel
    assert view.display_size() is None and ctx.player.display_size is None
    view.set_zoom(2.0)
    assert ctx.player.display_size is None


def test_transport_label_and_slider_bounded_rate_while_playing_exact_when_paused(qtbot, ctx,
                                                                                  clip):
    from widgets.video.transport import TransportBar

    bar = TransportBar(ctx)
    qtbot.addWidget(bar)
    player = ctx.player
    with qtbot.waitSignal(player.frameChanged, timeout=10000):
        player.open(clip("basketball_gym.mp4"))
    bar.rate.interval_ms = 600_000         # one update when playing starts, the next not due
    seen = []

    def on_frame(i):   # connected after the bar: it has had its say about frame i
        if player.playing:
            seen.append((i, bar.label.text(), bar.slider.value()))
    player.frameChanged.connect(on_frame)
    player.play()
    qtbot.waitUntil(lambda: len(seen) >= 10, timeout=20000)
    assert len({(text, value) for _i, text, value in seen}) == 1, seen  # not one per frame
    assert len({i for i, _t, _v in seen}) >= 10
    player.pause()                         # pausing shows the frame it stops on, at once
    frame = player.current_frame
    assert bar.label.text().startswith(f"frame {frame} / 299")
    assert bar.slider.value() == frame
    for n in (1, 1, -3):                   # stepped: each frame exact, no waiting
        with qtbot.waitSignal(player.frameChanged, timeout=10000):
            player.step(n)
        frame = player.current_frame
        assert bar.label.text().startswith(f"frame {frame} / 299")
        assert bar.slider.value() == frame


def test_transport_while_playing_follows_the_video_and_catches_up(qtbot, ctx, clip):
    from widgets.video.transport import TransportBar

    bar = TransportBar(ctx)
    qtbot.addWidget(bar)
    player = ctx.player
    with qtbot.waitSignal(player.frameChanged, timeout=10000):
        player.open(clip("basketball_gym.mp4"))
    bar.rate.interval_ms = 60
    shown, labelled = [], []

    def on_frame(i):
        shown.append(i)
        labelled.append(int(bar.label.text().split()[1]))
    player.frameChanged.connect(on_frame)
    player.play()
    qtbot.waitUntil(lambda: len(shown) >= 40, timeout=20000)
    player.pause()
    # never a frame ahead of the video, never going back, and it keeps moving
    assert all(lab <= i for lab, i in zip(labelled, shown))
    assert labelled == sorted(labelled) and len(set(labelled)) > 3
    assert bar.rate.calls < len(shown)     # fewer updates than frames
    assert bar.label.text().startswith(f"frame {player.current_frame} / ")


def test_panel_judges_a_track_once_not_per_frame_and_a_new_track_again(qtbot, ctx, clip,
                                                                     monkeypatch):
    import models.pose.reliability as reliability
    from widgets.video.panel import VideoPanel

    calls = []
    real = reliability.judge
    monkeypatch.setattr(reliability, "judge", lambda t: calls.append(t) or real(t))
    panel = VideoPanel(ctx)
    qtbot.addWidget(panel)
    player = ctx.player
    with qtbot.waitSignal(player.frameChanged, timeout=10000):
        player.open(clip("arm_wrestling.mp4"))
    track = synthetic_track(player.frame_count, 340, 256)
    track.image[7, [23, 24], 3] = 0.1           # frame 7: hips unseen
    player.set_track(track)

    def show(target):
        with qtbot.waitSignal(player.frameChanged, timeout=10000,
                              check_params_cb=lambda i, t=target: i == t):
            player.seek(target)
        return panel.view.skeleton.unreliable
    calls.clear()
    assert [show(f) for f in (6, 7, 8, 9, 7)] == ["", "torso not visible", "", "",
                                                  "torso not visible"]
    assert len(calls) <= 1                      # not one judgement of the whole track per frame
    other = synthetic_track(player.frame_count, 340, 256)
    other.image[9, [23, 24], 3] = 0.1           # another track: frame 9 unseen, 7 fine
    player.set_track(other)
    assert [show(f) for f in (7, 9)] == ["", "torso not visible"]
    track.frames_done = 8                       # the same track object grown (partial -> more)
    player.set_track(track)
    assert [show(f) for f in (7, 8)] == ["torso not visible", ""]


def test_a_frame_at_its_own_size_on_screen_is_copied_pixel_for_pixel(qtbot):
    from PySide6.QtCore import QSizeF
    from PySide6.QtGui import QImage, QPainter

    from widgets.video.view import FrameItem, to_qimage

    rng = np.random.default_rng(3)
    small = rng.integers(0, 256, (45, 80, 4), dtype=np.uint8)   # B, G, R, X, 1-pixel detail
    small[..., 3] = 255
    item = FrameItem()
    item.set_image(to_qimage(small), small, QSizeF(320, 180))   # stands for a 320x180 frame

    def render(scale, dx=3, dy=2):
        out = QImage(90, 60, QImage.Format.Format_RGB32)
        out.fill(0)
        p = QPainter(out)
        p.translate(dx, dy)
        p.scale(scale, scale)
        used = item._blit(p)
        item.paint(p, None)
        p.end()
        return used, out
    used, out = render(0.25)            # the frame lands at the copy's own size
    assert used
    got = np.array([[out.pixelColor(x + 3, y + 2).getRgb()[:3] for x in range(80)]
                    for y in range(45)])
    assert (got == small[..., [2, 1, 0]]).all()
    assert not render(0.5)[0]           # zoomed in: Qt scales it


def test_transport_label_keeps_its_size_for_every_frame_of_the_clip(qtbot, ctx, clip):
    """Sized for the clip's widest frame text when it opens: a frame number with more
    digits later (e.g. while playing) never re-lays out the window around it."""
    from widgets.video.transport import TransportBar

    bar = TransportBar(ctx)
    qtbot.addWidget(bar)
    bar.show()
    player = ctx.player
    with qtbot.waitSignal(player.frameChanged, timeout=10000):
        player.open(clip("basketball_gym.mp4"))
    assert bar.label.text().startswith("frame 0 / 299")
    size = bar.label.size()
    for frame in (8, 99, 188, 299):
        with qtbot.waitSignal(player.frameChanged, timeout=10000):
            player.seek(frame)
        assert bar.label.text().startswith(f"frame {frame} / 299")
        assert bar.label.minimumSize() == bar.label.maximumSize() == size, frame
        assert bar.label.sizeHint().width() <= size.width()


def test_a_transparent_picture_shows_the_view_background_through_it(qtbot):
    """The viewport paints no background of its own (the frame covers it): a picture
    with transparent pixels gets the view's background under them, all over."""
    from PySide6.QtGui import QColor, QImage

    from widgets.video.view import VideoView

    v = VideoView()
    qtbot.addWidget(v)
    v.resize(400, 300)
    v.show()
    picture = QImage(160, 90, QImage.Format.Format_ARGB32)
    picture.fill(QColor(0, 0, 0, 0))
    for x in range(80):                                  # left half opaque green
        for y in range(90):
            picture.setPixelColor(x, y, QColor(20, 200, 40))
    v.show_picture(picture)
    shot = v.viewport().grab().toImage()
    centre = v.mapFromScene(QPointF(40, 45))
    clear = v.mapFromScene(QPointF(120, 45))
    assert _rgb(shot, centre.x(), centre.y()) == (20, 200, 40)
    assert _rgb(shot, clear.x(), clear.y()) == (24, 25, 28)
    assert _rgb(shot, 200, 5) == (24, 25, 28)            # letterbox


def test_transport_updates_repaint_the_bar_not_the_video_panel_around_it(qtbot, ctx):
    """The frame label and the seek bar change ~30 times a second while playing: their
    repaint starts at the (opaque) transport bar, never at the panel or window behind it."""
    from PySide6.QtCore import QEvent, QObject
    from PySide6.QtWidgets import QApplication

    from widgets.steady import reserve_text, set_steady_text
    from widgets.video.panel import VideoPanel

    panel = VideoPanel(ctx)
    qtbot.addWidget(panel)
    panel.resize(800, 600)
    panel.show()
    qtbot.waitExposed(panel)
    bar = panel.transport
    painted = []

    class Paints(QObject):
        def eventFilter(self, obj, event):  # noqa: N802
            if event.type() == QEvent.Type.Paint:
                painted.append(obj)
            return False
    spy = Paints()
    reserve_text(bar.label, "frame 99 / 99")             # as a clip's opening does
    QApplication.processEvents()
    QApplication.instance().installEventFilter(spy)
    try:
        qtbot.wait(50)                                   # what showing it left to paint
        painted.clear()
        for text in ("frame 1 / 99", "frame 2 / 99", "frame 3 / 99"):
            set_steady_text(bar.label, text)
            bar.slider.setValue(bar.slider.value() + 1)
            QApplication.processEvents()
    finally:
        QApplication.instance().removeEventFilter(spy)
    assert bar.label in painted and bar in painted
    assert panel not in painted and panel.view.viewport() not in painted
    shot = panel.grab().toImage()                        # the bar keeps the window's colour
    assert shot.pixelColor(bar.x() + bar.width() - 3, bar.y() + 3) == \
        panel.palette().color(panel.backgroundRole())


def test_seek_bar_value_changes_repaint_the_handle_stretch_as_a_full_repaint_draws_it(qtbot):
    """A new value repaints only the stretch the handle left and reached: what is on
    screen afterwards is the bar drawn afresh, for small and large moves either way."""
    from PySide6.QtCore import QPoint
    from PySide6.QtWidgets import QApplication, QVBoxLayout, QWidget

    from widgets.video.transport import MarkedSlider

    top = QWidget()
    qtbot.addWidget(top)
    slider = MarkedSlider()
    QVBoxLayout(top).addWidget(slider)
    slider.setRange(0, 299)
    top.resize(700, 60)
    top.show()
    qtbot.waitExposed(top)
    painted = []
    for value in (1, 2, 3, 40, 39, 299, 0, 150):
        slider.setValue(value)
        QApplication.processEvents()
        at = slider.mapTo(top, QPoint(0, 0))
        screen = top.screen().grabWindow(top.winId(), at.x(), at.y(), slider.width(),
                                         slider.height()).toImage()
        afresh = top.grab(slider.geometry()).toImage().convertToFormat(screen.format())
        assert screen == afresh, value
        painted.append(screen)
    assert painted[0] != painted[-1]
