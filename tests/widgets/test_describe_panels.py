"""Describe, Compare frames and Motion panels offscreen on a real clip with synthetic poses."""
from __future__ import annotations

import numpy as np
import pytest

from app.context import AppContext
from app.controllers.describe import FramePair, describe_controller
from models.describe.synth import SynthPose, track
from models.diff import describe_diff, diff_facts, displacements
from models.pose.track import PoseTrack


@pytest.fixture
def ctx(qtbot, tmp_path):
    from models.store import Repository

    c = AppContext(Repository(tmp_path / "gui.aastudio"))
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
    img = np.full_like(w, 0.5)
    with qtbot.waitSignal(describe_controller(ctx).trackFactsReady, timeout=10000):
        ctx.player.set_track(PoseTrack(img, w, ctx.player.fps, 1920, 1080, backend="mediapipe"))


def test_describe_panel_text_facts_and_highlight(ctx, qtbot, clip):
    from widgets.describe.panel import DescribePanel

    panel = DescribePanel(ctx)
    qtbot.addWidget(panel)
    panel.show()
    _open(ctx, qtbot, clip, lambda i: SynthPose().bend("left_elbow", 90).world())
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
