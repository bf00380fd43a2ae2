"""Describe, Compare frames and Motion panels offscreen on a real clip with synthetic poses."""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPointF
import pytest

from app.context import AppContext
from app.controllers.describe import FramePair, describe_controller
from models.describe.synth import SynthPose, track
from models.diff import describe_diff, diff_facts, displacements
from models.pose.track import PoseTrack
from tests.gui_support import picture_of


@pytest.fixture
def ctx(qtbot, tmp_path):
    from models.store import Repository

    c = AppContext(Repository(tmp_path / "gui.aastudio"))
    c.poses.auto_extract = False        # synthetic tracks only: no real extraction here
    yield c
    c.shutdown()


def _pair(a: SynthPose, b: SynthPose) -> FramePair:
    wa, wb = a.world(), b.world()
    facts = diff_facts(wa, wb, 1, 2)
    img = np.zeros((120, 160, 3), dtype=np.uint8)
    px = np.column_stack([80 + 100 * a.p[:, 0], 60 - 50 * a.p[:, 1], a.vis])
    return FramePair("a.mp4", 1, "b.mp4", 2, img, img, px, px, wa, wb, facts,
                     describe_diff(facts), displacements(wa, wb))


def test_comparison_view_draws_arrows_for_moved_joints_only(ctx, qtbot):
    from widgets.compare.frame_pair import FramePairPanel

    panel = FramePairPanel(ctx)
    qtbot.addWidget(panel)
    panel.resize(900, 600)
    panel.show()
    a = SynthPose()
    b = a.copy().move("left_wrist", (0, 0.3, 0.1)).move("right_knee", (0, 0, 0.03))
    panel.show_pair(_pair(a, b))
    panel.aligned.grab()
    assert panel.aligned.drawn_arrows == [15]              # the 3 cm knee shift gets none
    assert panel.tree.topLevelItemCount() == len(panel.pair.facts) >= 1
    assert "left hand" in panel.text.toPlainText()
    panel.show_pair(_pair(a, a.copy()))
    panel.aligned.grab()
    assert panel.aligned.drawn_arrows == []
    assert panel.text.toPlainText() == "No visible change."


def _open(ctx, qtbot, clip, poses):
    with qtbot.waitSignal(ctx.player.frameChanged, timeout=10000):
        ctx.player.open(str(clip("two_people_room.mp4")))
    n = ctx.player.frame_count
    w = track([poses(i) for i in range(n)]).astype(np.float32)
    img = w.copy()                      # image landmarks that agree with the world skeleton
    img[..., 0] = 0.5 + 0.25 * w[..., 0]
    img[..., 1] = 0.5 + 0.33 * w[..., 1]
    with qtbot.waitSignal(describe_controller(ctx).trackFactsReady, timeout=10000):
        ctx.player.set_track(PoseTrack(img, w, ctx.player.fps, 1920, 1080, backend="mediapipe"))


def test_describe_panel_text_facts_and_highlight(ctx, qtbot, clip):
    from widgets.describe.panel import DescribePanel

    panel = DescribePanel(ctx)
    qtbot.addWidget(panel)
    panel.show()
    def elbow_out(i):                   # a right-angle elbow in the image plane
        p = SynthPose()
        return p.set("left_wrist", p.get("left_elbow") + (0.26, 0, 0)).world()

    _open(ctx, qtbot, clip, elbow_out)
    panel.refresh()
    assert panel.text.toPlainText().startswith("The person is standing")
    assert "The left elbow is bent at a right angle" in panel.text.toPlainText()
    row = next(i for i, f in enumerate(panel.facts) if f.quantity == "left_elbow_angle")
    with qtbot.waitSignal(describe_controller(ctx).highlightJoints) as sig:
        panel.tree.topLevelItem(row).setSelected(True)
    assert sig.args[0] == (11, 13, 15)
    panel.copy_text()
    from PySide6.QtGui import QGuiApplication
    assert QGuiApplication.clipboard().text() == panel.text.toPlainText()


def test_motion_panel_counts_and_plots_cycles(ctx, qtbot, clip):
    from widgets.describe.motion import MotionPanel

    panel = MotionPanel(ctx)
    qtbot.addWidget(panel)
    panel.show()
    fps = 28.0

    def squat(i):
        knee = 170 - 50 * (1 - np.cos(2 * np.pi * 3 * i / 72))
        return SynthPose().bend("left_knee", knee).bend("right_knee", knee).world()

    _open(ctx, qtbot, clip, squat)
    fps = ctx.player.fps
    panel.set_interval(0.0, 71 / fps)
    panel.analyse()
    rep = next(f for f in panel.facts if f.kind == "repetition")
    assert rep.value == 3
    xs, ys = panel.peaks.getData()
    assert len(xs) == 3
    assert "goes through 3 cycles" in panel.text.toPlainText()
    panel.set_interval(1.0, 1.05)
    panel.analyse()
    assert "shorter than one movement cycle" in panel.text.toPlainText()
    assert len(panel.peaks.getData()[0]) == 0


def test_compare_without_poses_says_why(ctx, qtbot, clip):
    from widgets.compare.frame_pair import FramePairPanel

    panel = FramePairPanel(ctx)
    qtbot.addWidget(panel)
    video = str(clip("two_people_room.mp4"))
    with qtbot.waitSignal(describe_controller(ctx).pairFailed, timeout=10000) as sig:
        ctx.marks.mark_a(video, 3)
        ctx.marks.mark_b(video, 9)
    assert "extract poses for that clip first" in sig.args[0]
    assert panel.text.toPlainText() == sig.args[0]
    assert panel.aligned.arrow_joints() == []
    assert panel.aligned.placeholder.startswith("No comparison")
    assert "/" not in sig.args[0].split("for ", 1)[-1]        # clip named by its file name only


def test_describe_panel_follows_seeking(ctx, qtbot, clip):
    from models.describe import describe, pose_facts, track_facts
    from widgets.describe.panel import DescribePanel

    panel = DescribePanel(ctx)
    qtbot.addWidget(panel)
    panel.show()
    _open(ctx, qtbot, clip, lambda i: SynthPose().bend("left_knee", 40 + 2 * i).world())
    for frame in (5, 60):
        with qtbot.waitSignal(ctx.player.frameChanged, timeout=10000):
            ctx.player.seek(frame)
        assert panel.header.text().startswith(f"Frame {frame} ")
        # one description per frame: what ``describe --frame N`` prints (no track hysteresis)
        assert panel.text.toPlainText() == describe(pose_facts(ctx.player.track, frame))
        assert panel.facts == pose_facts(ctx.player.track, frame)
    assert panel.text.toPlainText() == describe(track_facts(ctx.player.track, hysteresis=False).facts_at(60))


def test_describe_panel_follows_playback_and_lands_on_the_paused_frame(ctx, qtbot, clip):
    from models.describe import describe, pose_facts
    from widgets.describe.panel import DescribePanel

    panel = DescribePanel(ctx)
    qtbot.addWidget(panel)
    panel.show()
    _open(ctx, qtbot, clip, lambda i: SynthPose().bend("left_knee", 40 + 2 * i).world())
    panel.interval_ms = 0            # every update allowed: it must describe the newest frame
    shown, described = [], []

    def on_frame(i):     # connected after the panel: it has already updated for frame i
        shown.append(i)
        described.append(int(panel.header.text().split(" ")[1]))
    ctx.player.frameChanged.connect(on_frame)
    ctx.player.set_speed(2.0)
    ctx.player.play()
    qtbot.waitUntil(lambda: len(shown) >= 30, timeout=20000)
    ctx.player.pause()
    qtbot.waitUntil(lambda: not ctx.player.playing, timeout=5000)
    frame = ctx.player.current_frame
    qtbot.waitUntil(lambda: panel.header.text().startswith(f"Frame {frame} "), timeout=5000)
    assert panel.text.toPlainText() == describe(pose_facts(ctx.player.track, frame))
    # what it shows while playing is the frame on screen when it updated: never a frame
    # ahead of the video, never going back, and it keeps up
    assert all(d <= i for d, i in zip(described, shown))
    assert described == sorted(described) and len(set(described)) > 5


def test_describe_panel_updates_at_a_bounded_rate_while_playing_and_exactly_when_paused(
        ctx, qtbot, clip):
    from models.describe import describe, pose_facts
    from widgets.describe.panel import DescribePanel

    panel = DescribePanel(ctx)
    qtbot.addWidget(panel)
    panel.show()
    _open(ctx, qtbot, clip, lambda i: SynthPose().bend("left_knee", 40 + 2 * i).world())
    panel.refresh()
    before = panel.header.text()
    assert panel.interval_ms >= 250     # at most 4 new descriptions a second while playing
    panel.interval_ms = 600_000       # one update owed, not due during this test
    shown, headers = [], []

    def on_frame(i):
        shown.append(i)
        headers.append(panel.header.text())
    ctx.player.frameChanged.connect(on_frame)
    ctx.player.set_speed(2.0)
    ctx.player.play()
    qtbot.waitUntil(lambda: len(shown) >= 10, timeout=20000)
    assert set(headers) == {before}          # playing frames do not rebuild the panel each
    ctx.player.pause()                       # pausing describes the frame it stops on, at once
    frame = ctx.player.current_frame
    assert panel.header.text().startswith(f"Frame {frame} ")
    assert panel.text.toPlainText() == describe(pose_facts(ctx.player.track, frame))
    for n in (1, 1, -3):                     # stepped: each frame exact, no waiting
        with qtbot.waitSignal(ctx.player.frameChanged, timeout=10000):
            ctx.player.step(n)
        frame = ctx.player.current_frame
        assert panel.header.text().startswith(f"Frame {frame} ")
        assert panel.text.toPlainText() == describe(pose_facts(ctx.player.track, frame))
        assert panel.facts == pose_facts(ctx.player.track, frame)


def _save_synthetic_track(ctx, path, poses, fps):
    from models.pose.extract import DEFAULT_BACKEND, _settings
    from models.video import VideoInfo  # noqa: F401  (the clip is probed by clip_hash)

    w = track(poses).astype(np.float32)
    img = picture_of(w, 960, 540)
    t = PoseTrack(img, w, fps, 960, 540, backend=DEFAULT_BACKEND, settings=_settings(DEFAULT_BACKEND, None))
    ctx.repo.save_track(ctx.repo.clip_hash(path), t)
    return t


def test_compare_frames_across_two_clips_with_different_fps(ctx, qtbot, clip):
    """A from the open 28 fps clip, B from a 5 fps clip whose poses are only in the store;
    A/B marked from the angle plot's menu and the panel's button."""
    from models.pose.extract import DEFAULT_BACKEND, _settings
    from widgets.compare.frame_pair import FramePairPanel
    from widgets.plots.angles import AnglePlotPanel

    other = str(clip("street_pedestrians.mp4"))
    moved = SynthPose().move("left_wrist", (0, 0.35, 0.1))
    _save_synthetic_track(ctx, other, [moved] * 5, 5.0)
    with qtbot.waitSignal(ctx.player.frameChanged, timeout=10000):
        ctx.player.open(str(clip("two_people_room.mp4")))
    n = ctx.player.frame_count
    w = track([SynthPose()] * n).astype(np.float32)
    ctx.player.set_track(PoseTrack(picture_of(w, 1920, 1080), w, ctx.player.fps, 1920, 1080,
                                   backend=DEFAULT_BACKEND, settings=_settings(DEFAULT_BACKEND, None)))
    panel, plot = FramePairPanel(ctx), AnglePlotPanel(ctx)
    qtbot.addWidget(panel)
    qtbot.addWidget(plot)
    panel.resize(1000, 600)
    panel.show()
    plot._menu(7.2, QPointF(panel.mapToGlobal(panel.rect().center())))
    plot._last_menu.actions()[0].trigger()              # "Mark frame A here (7)"
    assert ctx.marks.a == (str(clip("two_people_room.mp4")), 7)
    with qtbot.waitSignal(describe_controller(ctx).pairReady, timeout=20000):
        ctx.marks.mark_b(other, 3)
    pair = panel.pair
    assert (pair.frame_a, pair.path_b, pair.frame_b) == (7, other, 3)
    assert pair.image_a.shape[:2] == (1080, 1920) and pair.image_b.shape[:2] == (540, 960)
    assert "raises the left hand" in panel.text.toPlainText()
    panel.aligned.grab()
    assert panel.aligned.drawn_arrows == [15]
    assert "A #7" in panel.view_a.message_item.text() and "B #3" in panel.view_b.message_item.text()


def test_crop_to_person_keeps_the_skeleton_in_view():
    from widgets.compare.frame_pair import crop_to_person

    img = np.zeros((1080, 1920, 3), dtype=np.uint8)
    px = np.full((33, 3), np.nan)
    px[:, 0], px[:, 1], px[:, 2] = np.linspace(900, 1000, 33), np.linspace(300, 700, 33), 0.9
    px[5, 2] = 0.1                                          # an invisible joint does not count
    px[5, :2] = (10, 10)
    crop, shifted = crop_to_person(img, px)
    assert crop.shape[0] < 1080 and crop.shape[1] < 1920
    ok = px[:, 2] >= 0.5
    assert (shifted[ok, :2] >= 0).all()
    assert (shifted[ok, 0] < crop.shape[1]).all() and (shifted[ok, 1] < crop.shape[0]).all()
    assert crop_to_person(img, None)[0] is img


def test_motion_interval_from_marks_region_and_signal_choice(ctx, qtbot, clip):
    from widgets.describe.motion import MotionPanel

    panel = MotionPanel(ctx)
    qtbot.addWidget(panel)
    panel.show()

    def squat(i):
        knee = 170 - 50 * (1 - np.cos(2 * np.pi * 3 * i / 72))
        return SynthPose().bend("left_knee", knee).bend("right_knee", knee).world()

    _open(ctx, qtbot, clip, squat)
    fps, path = ctx.player.fps, ctx.player.path
    ctx.marks.mark_a(path, 0)
    ctx.marks.mark_b(path, 47)                                # marks in this clip: interval follows
    # the clip is variable-rate (30 fps with one 0.2 s gap after frame 65): frame 47 is
    # shown at 47/30 s, not at 47 / average fps
    assert panel.start.value() == 0.0 and panel.end.value() == pytest.approx(47 / 30, abs=0.01)
    assert next(f for f in panel.facts if f.kind == "repetition").value == 2
    panel.region.setRegion((0.0, 71 / fps))                   # dragging the region re-analyses
    panel.region.sigRegionChangeFinished.emit(panel.region)
    assert panel.end.value() == pytest.approx(71 / fps, abs=0.01)
    rep = next(f for f in panel.facts if f.kind == "repetition")
    assert rep.value == 3 and len(panel.labels) == 3
    assert "3 cycles counted" in panel.plot.plotItem.titleLabel.text
    panel.signal.setCurrentText("right hand height")          # a flat signal: no cycles on it
    panel.analyse()
    rep = next(f for f in panel.facts if f.kind == "repetition")
    assert rep.extra["signal"] == "right hand height" and rep.value == 0
    assert len(panel.peaks.getData()[0]) == 0


def test_highlight_ring_drawn_around_the_joints_and_hidden_while_nothing_is_ringed(qtbot):
    from PySide6.QtCore import QRectF

    from widgets.describe.highlight import HighlightItem
    from widgets.video.view import VideoView

    view = VideoView()
    qtbot.addWidget(view)
    view.set_overlay_visible(False)              # the ring alone on a black frame
    view.show_frame(np.zeros((360, 640, 3), np.uint8), [])
    item = HighlightItem()
    view.scene().addItem(item)
    pose = np.full((33, 3), np.nan)
    pose[13] = (300, 180, 0.9)
    pose[15] = (500, 100, 0.2)                   # too faint to ring
    bounds = QRectF(0, 0, 640, 360)

    def yellow(img, x, y):
        c = img.pixelColor(x, y)
        return c.red() > 200 and c.green() > 180 and c.blue() < 120
    assert not item.isVisible()                  # nothing ringed yet: not even painted
    item.set_state(pose, (13, 15), bounds)
    img = view.render_scene()
    assert item.isVisible() and item.ringed() == [13]
    assert yellow(img, 308, 180) and yellow(img, 292, 180) and not yellow(img, 300, 180)
    assert not any(yellow(img, 500 + dx, 100) for dx in range(-10, 11))
    item.set_state(pose, (), bounds)             # cleared: hidden again, no ring left
    img = view.render_scene()
    assert not item.isVisible() and not yellow(img, 308, 180)


def test_describe_rows_follow_other_facts_in_place_and_keep_the_selected_fact(ctx, qtbot, clip):
    """Another set of facts (more, fewer, reordered) updates the rows there are instead of
    rebuilding the list: every row shows its fact, the selected fact stays selected
    wherever it moves, a dropped one leaves nothing selected."""
    from PySide6.QtCore import Qt

    from widgets.describe.panel import DescribePanel, fact_row

    panel = DescribePanel(ctx)
    qtbot.addWidget(panel)
    panel.show()
    _open(ctx, qtbot, clip, lambda i: SynthPose().bend("left_knee", 40 + 2 * i).world())
    panel.refresh()
    facts = list(panel.facts)
    assert len(facts) >= 6
    tree = panel.tree

    def shown():
        return [[tree.topLevelItem(i).text(c) for c in range(4)]
                for i in range(tree.topLevelItemCount())]

    def selected():
        return [tree.topLevelItem(i).data(0, Qt.ItemDataRole.UserRole)
                for i in range(tree.topLevelItemCount()) if tree.topLevelItem(i).isSelected()]
    first = tree.topLevelItem(0)
    tree.topLevelItem(3).setSelected(True)
    pick = facts[3].quantity
    for other in (facts[1:], facts[::-1], facts[:4] + facts[5:], facts + facts[:0]):
        panel._show(other, "text")
        assert shown() == [fact_row(f) for f in other]
        assert selected() == [pick]
        assert tree.topLevelItem(0) is first          # the row there was, not a new one
    panel._show(facts[4:], "text")                     # the selected fact is gone
    assert shown() == [fact_row(f) for f in facts[4:]] and selected() == []
    assert tree.currentItem() is None
    panel._show([], "")
    assert tree.topLevelItemCount() == 0


def test_describe_facts_and_text_kept_per_frame_equal_fresh_ones_and_follow_changes(
        ctx, qtbot, clip):
    """A frame's facts and text, once worked out from the cached track facts, are kept
    (a looped interval replays them): they equal the fresh ones, and a new threshold or
    a new track is described afresh."""
    from models.describe import describe, pose_facts

    ctrl = describe_controller(ctx)
    _open(ctx, qtbot, clip, lambda i: SynthPose().bend("left_knee", 40 + 2 * i).world())
    player = ctx.player
    for _ in range(2):                                  # worked out, then kept
        for frame in (3, 40, 3):
            facts = ctrl.facts(frame)
            assert facts == pose_facts(player.track, frame, ctrl.min_visibility)
            assert ctrl.text(facts) == describe(pose_facts(player.track, frame,
                                                           ctrl.min_visibility))
    assert ctrl.facts(40) is ctrl.facts(40)             # kept, not worked out again
    assert ctrl.text(list(ctrl.facts(40))) == ctrl.text(ctrl.facts(40))  # equal facts: same text
    kept = ctrl.facts(40)
    with qtbot.waitSignal(ctrl.trackFactsReady, timeout=10000):
        ctx.set_visibility_threshold(0.97)              # another threshold: described afresh
    qtbot.waitUntil(lambda: ctrl._tf is not None, timeout=10000)
    assert ctrl.facts(40) is not kept
    assert ctrl.facts(40) == pose_facts(player.track, 40, 0.97)
    _open(ctx, qtbot, clip, lambda i: SynthPose().bend("right_elbow", 30 + i).world())
    assert ctrl.facts(40) == pose_facts(player.track, 40, ctrl.min_visibility)
    assert ctrl.text(ctrl.facts(40)) == describe(pose_facts(player.track, 40,
                                                            ctrl.min_visibility))
