"""Frame times on a real variable-frame-rate clip and on a clip with garbage in the middle.

The VFR clip (tests/media_tools.py, from tai_chi.mp4) holds 10 frames at 5 fps then 40 at 30 fps: frame 15
is shown at 2.1667 s, while "frame / average fps" would put it at 1.0 s. Every place that
turns frames into seconds (or back) must use the frames' own presentation times.
"""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from models.video import probe
from tests.conftest import CLIPS, REPO
from tests.media_tools import make_corrupt_clip, make_vfr_clip

SLOW, FAST = 10, 40


def cli(*args, timeout=300):
    return subprocess.run([sys.executable, str(REPO / "main.py"), *map(str, args)],
                          capture_output=True, text=True, timeout=timeout, cwd=REPO)


@pytest.fixture(scope="module")
def vfr(tmp_path_factory):
    path = tmp_path_factory.mktemp("vfr") / "vfr clip.mp4"
    pts = make_vfr_clip(CLIPS / "tai_chi.mp4", path, SLOW, FAST, step=2)
    return path, pts


@pytest.fixture(scope="module")
def vfr_track(vfr, tmp_path_factory):
    """Poses of the VFR clip, extracted once into a real project."""
    from models.pose.extract import extract_video
    from models.store import Repository

    repo = Repository(tmp_path_factory.mktemp("vfrp") / "p.aastudio")
    try:
        yield extract_video(vfr[0], repo), repo
    finally:
        repo.close()


@pytest.fixture(scope="module")
def corrupt(tmp_path_factory):
    path = tmp_path_factory.mktemp("bad") / "arm_wrestling_damaged.mp4"
    make_corrupt_clip(CLIPS / "arm_wrestling.mp4", path)
    return path


def _grab_times(path) -> list[float]:
    """Presentation times of the frames an FFmpeg reader decodes, in order."""
    import cv2

    cap = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG)
    seen = []
    while cap.grab():
        seen.append(cap.get(cv2.CAP_PROP_POS_MSEC) / 1000.0)
    cap.release()
    return seen


def _half_frame(pts, i) -> float:
    return 0.5 * min(np.diff(pts)[max(0, i - 1):i + 1])


# -- the clip really is what the test says --------------------------------------------------
def test_made_clip_is_variable_rate_for_an_ffmpeg_reader(vfr):
    path, pts = vfr
    np.testing.assert_allclose(_grab_times(path), pts, atol=1e-6)


def test_random_seeks_in_a_vfr_clip_match_sequential_decode(tmp_path):
    from models.video import VideoReader
    from tests.gui_support import sequential_frames

    path = tmp_path / "long vfr.mp4"
    make_vfr_clip(CLIPS / "tai_chi.mp4", path, 30, 150)
    order = [170, 5, 100, 29, 31, 60, 179, 0, 120, 45, 2, 150, 30, 1, 90]
    reference = sequential_frames(path, order)
    with VideoReader(path) as reader:
        for i in order:
            assert np.array_equal(reader.read(i), reference[i]), f"frame {i} differs"


# -- probe / info ---------------------------------------------------------------------------
def test_probe_reads_every_frames_presentation_time(vfr):
    path, pts = vfr
    info = probe(path)
    assert info.frame_count == SLOW + FAST and info.times.vfr
    for i in (0, 5, 10, 15, 49):
        assert abs(info.time_of(i) - pts[i]) < _half_frame(pts, i)
        assert info.frame_at(pts[i]) == i
    assert info.duration == pytest.approx(pts[-1] + 1 / 30, abs=1e-6)


def test_constant_rate_clip_is_not_called_variable(clip):
    info = probe(clip("arm_wrestling.mp4"))   # from the container's index
    assert not info.times.vfr and info.times.listed == 280 and info.times.stop is None
    assert info.time_of(140) == pytest.approx(5.0, abs=1e-6)
    checked = probe(clip("arm_wrestling.mp4"), check=True)   # every frame decoded
    assert not checked.times.vfr and checked.times.decoded == 280 and checked.times.stop is None


def test_info_says_the_clip_is_vfr(vfr, tmp_path):
    project = tmp_path / "p.aastudio"
    text = cli("info", vfr[0], "--project", project)
    assert text.returncode == 0, text.stderr
    assert "variable frame rate (5-30 fps)" in text.stdout
    doc = json.loads(cli("info", "--json", vfr[0], "--project", project).stdout)
    assert doc["vfr"] is True and doc["fps_range"] == [5.0, 30.0]
    assert doc["frames"] == SLOW + FAST and doc["decodable_frames"] == SLOW + FAST


def test_frame_times_are_stored_in_the_project(vfr, project):
    path, pts = vfr
    info = project.clip_info(path)
    np.testing.assert_allclose(info.times.pts, pts, atol=1e-6)
    row = project.db.query("SELECT declared, decoded, vfr FROM frame_times")[0]
    assert tuple(row) == (SLOW + FAST, -1, 1)   # read from the index: not decoded yet
    checked = project.clip_info(path, check=True)
    np.testing.assert_allclose(checked.times.pts, pts, atol=1e-6)
    row = project.db.query("SELECT declared, decoded, vfr FROM frame_times")[0]
    assert tuple(row) == (SLOW + FAST, SLOW + FAST, 1)
    import models.video as video

    video._SCANS.clear()   # a second look reads the project, it does not decode again
    again = project.clip_info(path)
    assert not video._SCANS
    np.testing.assert_allclose(again.times.pts, pts, atol=1e-9)


# -- pose tracks, descriptions, QA ------------------------------------------------------------
def test_pose_track_carries_frame_times_and_saves_them(vfr, vfr_track, tmp_path):
    from models.pose.track import PoseTrack

    path, pts = vfr
    track, _repo = vfr_track
    np.testing.assert_allclose(track.times, pts, atol=1e-6)
    for suffix in (".json", ".npz"):
        track.save(tmp_path / f"t{suffix}")
        back = PoseTrack.load(tmp_path / f"t{suffix}")
        assert back.time_of(15) == pytest.approx(pts[15], abs=1e-6)


def test_qa_question_times_are_the_frames_presentation_times(vfr, vfr_track):
    import re

    from models.qa.synth import SynthSettings, synthesize_track

    path, pts = vfr
    track, _repo = vfr_track
    records = synthesize_track(track, "vfr.mp4", SynthSettings(per_clip=40))
    timed = [(r, float(m.group(1))) for r in records
             if r.frame_a is not None and (m := re.search(r"at (\d+\.\d+) s", r.question))]
    assert timed, "no question names a frame time"
    for rec, said in timed:
        assert abs(said - pts[rec.frame_a]) <= _half_frame(pts, rec.frame_a), rec.question
    for rec in records:
        frames = rec.provenance.frame_indices
        if rec.start_s is not None and frames:
            assert abs(rec.start_s - pts[frames[0]]) <= _half_frame(pts, frames[0])
            assert abs(rec.end_s - pts[frames[-1]]) <= _half_frame(pts, frames[-1])


def test_cli_describe_reports_the_frames_time(vfr, vfr_track, tmp_path):
    path, pts = vfr
    _track, repo = vfr_track
    out = cli("describe", path, "--frame", 15, "--json", "--project", repo.path)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["time_s"] == pytest.approx(pts[15], abs=1e-3)


def test_motion_interval_is_placed_by_frame_times(vfr, vfr_track):
    from models.motion import motion_facts

    path, pts = vfr
    track, _repo = vfr_track
    facts = motion_facts(track, track.fps, float(pts[SLOW]), float(pts[-1]))
    assert facts and facts[0].extra["start_frame"] == SLOW
    assert facts[0].extra["end_frame"] == SLOW + FAST - 1


def test_rule_baseline_finds_the_frame_a_question_names(vfr, vfr_track):
    from models.vlm.rule_mcq import _asked_frames

    path, pts = vfr
    track, _repo = vfr_track
    q = f"In the frame at {pts[15]:.2f} s, how is the person's left knee?"
    assert _asked_frames(q, track.timeline, len(track)) == [15]


# -- exports --------------------------------------------------------------------------------
def test_export_window_uses_frame_times(vfr):
    from models.export.media import Media, window_frames
    from models.export.base import ExportOptions
    from models.qa.record import QARecord

    path, pts = vfr
    assert window_frames(probe(path), pts[5], pts[20]) == (5, 20)
    rec = QARecord("q1", "movement_direction", path.name, "Where?", ["a", "b"], 0,
                   float(pts[5]), float(pts[20]))
    picked = [i for i, _ in Media(None, ExportOptions(video_root=str(path.parent))).frames(rec, 4)]
    assert picked[0] == 5 and picked[-1] == 20


def test_cut_clip_shows_each_frame_at_its_own_time(vfr, tmp_path):
    from models.export.media import cut_clip
    from models.video import VideoReader

    path, pts = vfr
    dst = tmp_path / "cut.mp4"
    written = cut_clip(path, dst, None, None)
    out_pts = np.array(_grab_times(dst))
    assert written == len(out_pts)
    with VideoReader(path) as src:
        source = [f.astype(np.int16) for _, f in src.frames()]
    with VideoReader(dst) as cut:
        for i in (3, 7, 12, 30, 45):   # source frame i should be on screen at pts[i]
            k = int(np.searchsorted(out_pts, pts[i] + 1e-3, side="right")) - 1
            img = cut.read(k).astype(np.int16)
            err = [np.abs(img - f).mean() for f in source]
            assert int(np.argmin(err)) == i, f"at {pts[i]:.3f} s the cut shows frame {np.argmin(err)}"


def test_extract_poses_json_export_has_frame_times(vfr, tmp_path):
    path, pts = vfr
    out = tmp_path / "poses.json"
    res = cli("extract-poses", path, "--project", tmp_path / "p.aastudio", "--out", out,
              "--quiet", "--workers", 1)
    assert res.returncode == 0, res.stderr
    doc = json.loads(out.read_text())
    np.testing.assert_allclose(doc["times"], pts, atol=1e-5)


# -- player ---------------------------------------------------------------------------------
def test_player_shows_presentation_times_and_jumps_by_them(qtbot, vfr, project, tmp_path):
    from app.context import AppContext
    from app.settings import UserSettings

    path, pts = vfr
    ctx = AppContext(project, settings=UserSettings(tmp_path / "settings.json"))
    ctx.poses.auto_extract = False
    try:
        player = ctx.player
        with qtbot.waitSignal(player.frameChanged, timeout=20000):
            player.open(path)
        assert player.time_of(15) == pytest.approx(pts[15], abs=1e-6)
        assert player.video_info.duration == pytest.approx(pts[-1] + 1 / 30, abs=1e-6)
        with qtbot.waitSignal(player.frameChanged, timeout=10000,
                              check_params_cb=lambda i: i == 5):
            player.jump(1.0)   # frame 5 is shown at 1.0 s
        with qtbot.waitSignal(player.frameChanged, timeout=10000,
                              check_params_cb=lambda i: i == 15):
            player.seek(15)
        from widgets.video.transport import format_time

        assert format_time(player.time_of()) == format_time(pts[15])
    finally:
        ctx.shutdown()


# -- a clip with garbage in the middle ----------------------------------------------------
def test_probe_says_where_decoding_stops(corrupt):
    quick = probe(corrupt)   # the index only: it cannot know, and claims nothing
    assert quick.frame_count == 280 and quick.times.decoded is None and not quick.times.stop
    assert "decodable_frames" not in quick.as_dict() and "decode_stopped" not in quick.as_dict()
    info = probe(corrupt, check=True)
    t = info.times
    assert info.frame_count == 280 and 0 < t.decoded < 280 and t.stop
    doc = info.as_dict()
    assert doc["decodable_frames"] == t.decoded
    assert doc["decode_stopped"]["frame"] == t.decoded
    assert doc["decode_stopped"]["time_s"] == pytest.approx(t.decoded / 28.0, abs=0.02)


def test_info_and_extract_on_damaged_clip_say_what_happened(corrupt, tmp_path):
    project = tmp_path / "p.aastudio"
    n = len(_grab_times(corrupt))
    assert 0 < n < 280
    before = cli("info", corrupt, "--project", project)
    assert before.returncode == 0 and "Traceback" not in before.stderr, before.stderr
    assert f"280 declared, {n} decodable" in before.stdout
    assert f"stops at frame {n} ({n / 28:.2f} s) of 280" in before.stdout
    ext = cli("extract-poses", corrupt, "--project", project, "--quiet", "--workers", 1)
    assert ext.returncode == 0 and "Traceback" not in ext.stderr, ext.stderr
    assert f"poses for {n} of 280 frames: decoding stops at frame {n}" in ext.stdout
    after = cli("info", corrupt, "--project", project)
    poses = [ln for ln in after.stdout.splitlines() if ln.startswith("poses")][0]
    assert "complete" not in poses and f"{n}/280" in poses, poses
    doc = json.loads(cli("info", "--json", corrupt, "--project", project).stdout)
    assert doc["frames"] == 280 and doc["decodable_frames"] == n
    assert "complete" not in doc["poses"]


def test_extract_alone_on_damaged_clip_says_where_decoding_stops(corrupt, tmp_path):
    """Extraction decodes every frame anyway: without an `info` first it still tells the
    user, and the project keeps what it found."""
    from models.store import Repository

    project = tmp_path / "p.aastudio"
    n = len(_grab_times(corrupt))
    ext = cli("extract-poses", corrupt, "--project", project, "--quiet", "--workers", 1)
    assert ext.returncode == 0 and "Traceback" not in ext.stderr, ext.stderr
    assert f"poses for {n} of 280 frames: decoding stops at frame {n}" in ext.stdout
    repo = Repository(project)
    try:
        row = repo.db.query("SELECT declared, decoded, stop_reason FROM frame_times")[0]
    finally:
        repo.close()
    assert (row["declared"], row["decoded"]) == (280, n) and row["stop_reason"]
    after = cli("info", corrupt, "--project", project)
    assert f"280 declared, {n} decodable" in after.stdout
