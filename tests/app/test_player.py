"""PlayerController + FramePump on real clips: exact frames, stale requests, playback."""
from __future__ import annotations

import numpy as np

from tests.gui_support import ctx, sequential_frames, synthetic_track  # noqa: F401

TIMEOUT = 10000


def _open(qtbot, player, path):
    with qtbot.waitSignal(player.frameChanged, timeout=TIMEOUT):
        player.open(path)
    assert player.current_frame == 0


def _seek(qtbot, player, index):
    with qtbot.waitSignal(player.frameChanged, timeout=TIMEOUT,
                          check_params_cb=lambda i: i == index):
        player.seek(index)


def test_seek_shows_exactly_the_frame_asked_for(qtbot, ctx, clip):
    path = clip("arm_wrestling.mp4")
    order = [0, 5, 200, 57, 279, 3, 150, 151, 100]
    reference = sequential_frames(path, order)
    player = ctx.player
    _open(qtbot, player, path)
    for i in order:
        _seek(qtbot, player, i)
        assert player.current_frame == i
        assert np.array_equal(player.current_image, reference[i]), f"frame {i} differs"


def test_step_jump_home_end(qtbot, ctx, clip):
    player = ctx.player
    _open(qtbot, player, clip("basketball_gym.mp4"))
    fps = player.fps
    with qtbot.waitSignal(player.frameChanged, timeout=TIMEOUT, check_params_cb=lambda i: i == 2):
        player.step(1)
        player.step(1)  # steps accumulate on the requested frame, not the shown one
    with qtbot.waitSignal(player.frameChanged, timeout=TIMEOUT):
        player.jump(1.0)
    assert player.current_frame == 2 + round(fps)
    with qtbot.waitSignal(player.frameChanged, timeout=TIMEOUT):
        player.seek_end()
    assert player.current_frame == player.frame_count - 1
    with qtbot.waitSignal(player.frameChanged, timeout=TIMEOUT):
        player.step(5)  # clamped at the last frame
    assert player.current_frame == player.frame_count - 1
    with qtbot.waitSignal(player.frameChanged, timeout=TIMEOUT):
        player.seek_start()
    assert player.current_frame == 0


def test_stale_requests_are_dropped_and_latest_wins(qtbot, ctx, clip):
    path = clip("two_people_room.mp4")  # 1080p: decoding is slower than requesting
    player = ctx.player
    _open(qtbot, player, path)
    shown = []
    player.frameChanged.connect(shown.append)
    with qtbot.waitSignal(player.frameChanged, timeout=TIMEOUT, check_params_cb=lambda i: i == 60):
        for i in range(1, 61):
            player.seek(i)
    pump = player.pump
    assert pump.dropped > 0
    assert pump.decoded < 61
    assert shown == sorted(shown) and shown[-1] == 60  # never goes back to an older request
    assert np.array_equal(player.current_image, sequential_frames(path, [60])[60])
    # a late result carrying an older request id is ignored
    player._on_frame(pump.generation, 1, 3, np.zeros((2, 2, 3), np.uint8))
    assert player.current_frame == 60


def test_frames_of_a_previous_clip_are_ignored(qtbot, ctx, clip):
    player = ctx.player
    _open(qtbot, player, clip("arm_wrestling.mp4"))
    old_generation = player.pump.generation
    _open(qtbot, player, clip("street_pedestrians.mp4"))
    player._on_frame(old_generation, 10 ** 9, 4, np.zeros((2, 2, 3), np.uint8))
    assert player.current_image.shape == (540, 960, 3)


def test_playback_runs_to_the_end_and_stops(qtbot, ctx, clip):
    player = ctx.player
    _open(qtbot, player, clip("street_pedestrians.mp4"))  # 5 frames at 5 fps
    player.set_speed(2.0)
    frames = []
    player.frameChanged.connect(frames.append)
    with qtbot.waitSignal(player.playingChanged, timeout=TIMEOUT,
                          check_params_cb=lambda playing: playing is False):
        player.play()
    qtbot.waitUntil(lambda: player.current_frame == 4, timeout=TIMEOUT)
    assert frames == sorted(frames) and frames[-1] == 4 and len(frames) >= 2
    assert not player.playing


def test_speed_is_clamped(ctx):
    ctx.player.set_speed(10)
    assert ctx.player.speed == 2.0
    ctx.player.set_speed(0.01)
    assert ctx.player.speed == 0.25


def test_pose_belongs_to_the_requested_frame(qtbot, ctx, clip):
    player = ctx.player
    _open(qtbot, player, clip("arm_wrestling.mp4"))
    track = synthetic_track(player.frame_count, 340, 256, no_pose=[7])
    player.set_track(track)
    _seek(qtbot, player, 40)
    assert np.allclose(player.pose()[0, :2], track.pixels(40)[0, :2])
    assert player.pose(7) is None
    track.frames_done = 20  # partial track: later frames are not known yet
    assert player.pose(30) is None and player.pose(10) is not None


def test_unreadable_files_emit_open_failed(qtbot, ctx, tmp_path):
    fake = tmp_path / "notes.mp4"
    fake.write_text("this is not a video")
    with qtbot.waitSignal(ctx.player.openFailed, timeout=TIMEOUT) as blocker:
        ctx.player.open(fake)
    assert "notes.mp4" in blocker.args[1] and "\n" not in blocker.args[1]
    with qtbot.waitSignal(ctx.player.openFailed, timeout=TIMEOUT) as blocker:
        ctx.player.open(tmp_path / "missing.mp4")
    assert "not found" in blocker.args[1]
    assert ctx.player.video_info is None


def test_marks_default_to_the_displayed_frame(qtbot, ctx, clip):
    _open(qtbot, ctx.player, clip("arm_wrestling.mp4"))
    _seek(qtbot, ctx.player, 12)
    with qtbot.waitSignal(ctx.marks.changed):
        ctx.marks.mark_a()
    ctx.marks.mark_b(frame=30)
    assert ctx.marks.a == (ctx.player.path, 12)
    assert ctx.marks.frames_in(ctx.player.path) == {"A": 12, "B": 30}
    ctx.marks.clear()
    assert ctx.marks.a is None and ctx.marks.b is None


def test_failed_open_after_a_good_clip_leaves_no_stale_clip(qtbot, ctx, clip, tmp_path):
    player = ctx.player
    _open(qtbot, player, clip("street_pedestrians.mp4"))
    player.set_track(synthetic_track(5, 960, 540))
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"\x00" * 4096)
    with qtbot.waitSignal(player.trackChanged, timeout=TIMEOUT):
        player.open(bad)
    assert player.video_info is None and player.track is None and player.path is None
    player.seek(3)  # no clip: ignored, no crash
    assert player.current_frame == -1


def test_playing_frames_come_at_display_size_and_a_pause_shows_full_resolution(qtbot, ctx, clip):
    path = clip("arm_wrestling.mp4")
    player = ctx.player
    _open(qtbot, player, path)
    full = player.current_size
    assert player.current_image.shape[:2] == (full[1], full[0])
    player.set_display_size((full[0] // 2, full[1] // 2))
    seen = []

    def on_frame(i):
        seen.append((i, player.current_image.copy(), player.current_size))
        if len(seen) == 6:
            player.pause()
    player.frameChanged.connect(on_frame)
    with qtbot.waitSignal(player.playingChanged, timeout=TIMEOUT,
                          check_params_cb=lambda playing: playing is False):
        player.play()
    qtbot.waitUntil(lambda: player.current_image.shape[:2] == (full[1], full[0]), timeout=TIMEOUT)
    playing = [(i, img) for i, img, size in seen if img.shape[:2] != (full[1], full[0])]
    assert playing and all(size == full for _i, _img, size in seen)
    reference = sequential_frames(path, {i for i, _ in playing} | {player.current_frame})
    for i, img in playing:    # scaled down, and of exactly the frame announced
        assert img.shape == (full[1] // 2, full[0] // 2, 4)
        import cv2
        want = cv2.resize(reference[i], (img.shape[1], img.shape[0]),
                          interpolation=cv2.INTER_NEAREST)
        assert np.array_equal(img[..., 2::-1], want), f"frame {i} differs"
    assert np.array_equal(player.current_image, reference[player.current_frame])


def test_without_a_display_size_playing_frames_stay_full_resolution(qtbot, ctx, clip):
    player = ctx.player
    _open(qtbot, player, clip("street_pedestrians.mp4"))
    player.set_display_size(None)        # e.g. the view is zoomed in
    shapes = []
    player.frameChanged.connect(lambda _i: shapes.append(player.current_image.shape))
    with qtbot.waitSignal(player.playingChanged, timeout=TIMEOUT,
                          check_params_cb=lambda playing: playing is False):
        player.play()
    assert shapes and set(shapes) == {(540, 960, 3)}
