"""Pose extraction on real clips with the real MediaPipe graph and a real project file."""
from __future__ import annotations

import dataclasses
import os
import shutil
import sqlite3

import cv2
import numpy as np
import pytest

from models.errors import Cancelled, StoreError, VideoError
from models.jobs import JobContext
from models.pose.backends.mediapipe_pose import pose_box, torso_centre
from models.pose.damage import damage_score
from models.engine.desktop import extract_many
from models.pose.extract import (CHUNK_FRAMES, CHUNK_WARMUP, cached_track, decoded_frames,
                                 extract_video)
from models.pose.registry import DEFAULT_BACKEND, get
from models.pose.reliability import thresholds
from models.store import Repository
from models.video import VideoReader
from tests.conftest import CLIPS

ROOM = CLIPS / "two_people_room.mp4"
STREET = CLIPS / "street_pedestrians.mp4"
GYM = CLIPS / "basketball_gym.mp4"  # 300 frames; the tracker loses and finds the player
L_SH, R_SH, L_HIP, R_HIP = 11, 12, 23, 24


def write_video(path, frames, fps=25.0, fourcc="mp4v") -> str:
    h, w = frames[0].shape[:2] if len(frames) else (240, 320)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), fps, (w, h))
    for f in frames:
        writer.write(f)
    writer.release()
    return str(path)


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    repo = Repository(tmp_path_factory.mktemp("poses") / "p.aastudio")
    yield repo
    repo.close()


@pytest.fixture(scope="module")
def room(store):
    """two_people_room.mp4 extracted once (72 frames, 1080p, two people)."""
    return extract_video(ROOM, store)


def test_pose_found_on_most_frames(room):
    assert len(room) == 72 and room.complete
    assert room.image.shape == room.world.shape == (72, 33, 4)
    assert room.has_pose.mean() >= 0.9
    pose = room.image[room.has_pose]
    assert np.isfinite(room.world[room.has_pose]).all()
    assert ((pose[:, :, :2] > -0.2) & (pose[:, :, :2] < 1.2)).all()
    assert room.backend == DEFAULT_BACKEND and "0.10.21" in room.backend_version


def test_shoulders_above_hips_on_upright_frames(room):
    img = room.image[room.has_pose]
    vis = img[:, [L_SH, R_SH, L_HIP, R_HIP], 3].min(axis=1) > 0.5
    assert vis.sum() >= 50
    shoulders_y = img[vis][:, [L_SH, R_SH], 1].mean(axis=1)
    hips_y = img[vis][:, [L_HIP, R_HIP], 1].mean(axis=1)
    assert (shoulders_y < hips_y - 0.05).all()  # image y grows downwards
    world = room.world[room.has_pose][vis]      # MediaPipe world: y points down too
    assert (world[:, [L_SH, R_SH], 1].mean(axis=1) < world[:, [L_HIP, R_HIP], 1].mean(axis=1)).all()


def test_subject_path_has_no_jumps(room):
    """The hip centre moves smoothly: the track never switches to the other person."""
    idx = np.flatnonzero(room.has_pose)
    hips = room.image[idx][:, [L_HIP, R_HIP], :2].mean(axis=1) * (room.width, room.height)
    size = max(np.ptp(room.pixels(int(idx[0]))[:, 1]), 1.0)
    steps = np.linalg.norm(np.diff(hips, axis=0), axis=1) / np.diff(idx)
    assert steps.max() < 0.1 * size


def test_subject_lock_refuses_the_other_person():
    """Hide the followed person for 20 frames: the graph alone jumps to the other person;
    the locked estimator reports no pose instead, then picks the subject up again."""
    from models.video import VideoReader

    with VideoReader(ROOM) as r:
        frames = [f for _, f in r.frames(0, 30)]
    h, w = frames[0].shape[:2]
    est = get(DEFAULT_BACKEND).create({})
    try:
        first = est.process(frames[0], 0)[0]
        x0, y0, x1, y1 = pose_box(first, w, h).astype(int)
        hidden = [f.copy() for f in frames[:20]]
        for f in hidden:
            f[max(0, y0 - 80):y1 + 80, max(0, x0 - 25):x1 + 25] = 128
        seq = frames[1:10] + hidden + frames[10:30]
        centres = []
        for i, f in enumerate(seq, start=1):
            found = est.process(f, int(i * 1000 / 28))
            centres.append(None if found is None else torso_centre(found[0], w, h))
        assert est.rejected >= 1  # the graph did find the other person
    finally:
        est.close()
    start = torso_centre(first, w, h)
    size = y1 - y0
    for c in centres:
        assert c is None or np.linalg.norm(c - start) < 0.3 * size
    assert all(c is None for c in centres[11:29])      # subject hidden: no pose
    assert sum(c is not None for c in centres[29:]) >= 15  # subject back: found again


def test_cache_hit_does_not_decode(store, room, tmp_path):
    before = decoded_frames()
    again = extract_video(ROOM, store)
    assert decoded_frames() == before
    np.testing.assert_array_equal(again.image, room.image)
    copy = tmp_path / "renamed copy.mp4"   # same bytes, other name: same content hash
    shutil.copyfile(ROOM, copy)
    hit = cached_track(store, copy)
    assert hit is not None and decoded_frames() == before
    np.testing.assert_array_equal(hit.world, room.world)
    assert cached_track(store, ROOM, settings={"min_detection_confidence": 0.9}) is None


def test_damage_score_tells_a_smeared_picture_from_clean_ones():
    """arm_wrestling's frames 229-267 are wrecked by decoding errors (vertical smears from
    the decoder's concealment); the clean frames around them, and clean footage of every
    size, stay well below the threshold of the reliability cue."""
    limit = thresholds()["damage_max"]
    with VideoReader(CLIPS / "arm_wrestling.mp4") as r:
        scores = {i: damage_score(r.read(i)) for i in (200, 228, 229, 244, 252, 255, 268, 279)}
    assert all(scores[i] > 1.15 * limit for i in (229, 244, 252, 255)), scores
    assert all(scores[i] < 0.5 * limit for i in (200, 228, 268, 279)), scores
    for name in ("tai_chi.mp4", "two_people_room.mp4", "basketball_dribble_portrait.mp4"):
        with VideoReader(CLIPS / name) as r:
            assert damage_score(r.read(10)) < 0.85 * limit, name
    assert damage_score(np.zeros((4, 4, 3), np.uint8)) == 0.0       # smaller than a block
    assert damage_score(np.full((240, 320, 3), 90, np.uint8)) == 0.0  # flat: no streaks


def test_track_cached_without_damage_scores_is_served_as_it_is(tmp_path, room):
    """Scoring pictures changed no backend setting: a track cached before the scores were
    kept still hits the cache (no decoding) and simply has none."""
    repo = Repository(tmp_path / "old.aastudio")
    old = dataclasses.replace(room, damage=None)
    repo.save_track(repo.clip_hash(ROOM), old)
    before = decoded_frames()
    hit = extract_video(ROOM, repo)
    assert decoded_frames() == before and hit.damage is None
    np.testing.assert_array_equal(hit.image, room.image)
    assert room.damage is not None and (room.damage < thresholds()["damage_max"]).all()
    repo.close()


def test_cancel_half_way_then_resume_matches_uninterrupted(tmp_path):
    """A 300-frame clip cancelled past its first chunk and resumed gives exactly the
    poses of an uninterrupted run (the tracking graph's state is rebuilt the same way)."""
    full = extract_video(GYM, Repository(tmp_path / "full.aastudio"))
    assert len(full) == 300 and full.complete
    repo = Repository(tmp_path / "resume.aastudio")
    cut = CHUNK_FRAMES + 22  # inside the second chunk
    ctx = JobContext(on_progress=lambda done, total, _m: done >= cut and ctx.token.cancel())
    with pytest.raises(Cancelled, match="resumes"):
        extract_video(GYM, repo, ctx=ctx, checkpoint_every=16)
    digest = repo.clip_hash(GYM)
    partial = repo.load_track(digest, DEFAULT_BACKEND, get(DEFAULT_BACKEND).settings())
    assert partial is not None and partial.frames_done == cut and not partial.complete
    assert cached_track(repo, GYM) is None
    before = decoded_frames()
    resumed = extract_video(GYM, repo)
    # resumed from the chunk boundary, with the warm-up frames before it: no frame twice
    assert decoded_frames() - before == 300 - (CHUNK_FRAMES - CHUNK_WARMUP)
    assert resumed.complete and len(resumed) == len(full)
    assert resumed.has_pose.sum() == full.has_pose.sum()
    np.testing.assert_array_equal(resumed.has_pose, full.has_pose)
    np.testing.assert_array_equal(resumed.image, full.image)  # NaN where both have none
    np.testing.assert_array_equal(resumed.world, full.world)
    assert np.isfinite(full.damage).all()                 # every frame's picture scored
    np.testing.assert_array_equal(resumed.damage, full.damage)
    repo.close()


def test_pure_extraction_hands_checkpoints_to_a_callback_and_resumes_from_one(room, tmp_path):
    """``pose_clip`` writes nothing: partial tracks go to the caller's callback (also on
    cancel), and resuming from the last one gives the uninterrupted track."""
    from models.pose.extract import pose_clip

    copy = tmp_path / "room.mp4"
    shutil.copyfile(ROOM, copy)
    kept: list = []

    def keep(track):
        kept.append(dataclasses.replace(track, image=track.image.copy(), world=track.world.copy()))

    ctx = JobContext(on_progress=lambda done, total, _m: done >= 40 and ctx.token.cancel())
    with pytest.raises(Cancelled):
        pose_clip(copy, ctx=ctx, checkpoint=keep, checkpoint_every=16)
    assert [t.frames_done for t in kept] == [16, 32, 40]       # every 16 frames, then the cancel
    done = pose_clip(copy, previous=kept[-1], checkpoint=keep, checkpoint_every=16)
    assert not done.trimmed and done.info.frame_count == len(done.track) == 72
    np.testing.assert_array_equal(done.track.image, room.image)
    np.testing.assert_array_equal(done.track.world, room.world)
    assert sorted(os.listdir(tmp_path)) == ["room.mp4"]         # nothing written beside the clip


def test_one_frame_and_no_person_clips(tmp_path, store):
    one = write_video(tmp_path / "one.mp4", [np.full((240, 320, 3), 90, np.uint8)])
    track = extract_video(one, store)
    assert len(track) == 1 and track.complete and not track.has_pose.any()
    rng = np.random.default_rng(0)
    noise = [rng.integers(0, 255, (240, 320, 3), dtype=np.uint8) for _ in range(12)]
    track = extract_video(write_video(tmp_path / "noise.mp4", noise), store)
    assert len(track) == 12 and track.complete
    assert np.isnan(track.image).all() and np.isnan(track.world).all()


def test_truncated_avi_is_trimmed_to_decodable_frames(tmp_path, store):
    rng = np.random.default_rng(1)
    frames = [rng.integers(0, 255, (240, 320, 3), dtype=np.uint8) for _ in range(20)]
    full = write_video(tmp_path / "full.avi", frames, fourcc="MJPG")
    data = open(full, "rb").read()
    cut = tmp_path / "cut.avi"
    cut.write_bytes(data[: len(data) // 2])
    track = extract_video(cut, store)
    assert 0 < len(track) < 20 and track.complete and track.frames_done == len(track)
    assert store.clip_by_path(cut)["frames"] == len(track)
    assert extract_video(cut, store).image.shape == track.image.shape  # cached, trimmed


@pytest.mark.parametrize("make, message", [
    (lambda d: d / "missing.mp4", "not found"),
    (lambda d: (d / "notes.txt").write_text("hi") and d / "notes.txt", "Unsupported file type"),
    (lambda d: (d / "text.mp4").write_text("not a video\n" * 50) and d / "text.mp4",
     "not a readable video"),
    (lambda d: write_video(d / "zero.mp4", []), "not a readable video|no decodable|empty"),
    (lambda d: (d / "trunc.mp4").write_bytes(ROOM.read_bytes()[:300_000]) and d / "trunc.mp4",
     "not a readable video"),
])
def test_bad_videos_raise_one_line_errors(tmp_path, store, make, message):
    path = make(tmp_path)
    n_tracks = len(store.db.query("SELECT id FROM pose_tracks"))
    with pytest.raises(VideoError, match=message) as err:
        extract_video(path, store)
    assert "\n" not in str(err.value)
    assert len(store.db.query("SELECT id FROM pose_tracks")) == n_tracks  # nothing written


def test_path_with_spaces_and_non_ascii(tmp_path, store):
    folder = tmp_path / "clips with spaces ü"
    folder.mkdir()
    target = folder / "straße – 步行者.mp4"
    shutil.copyfile(STREET, target)
    track = extract_video(target, store)
    assert len(track) == 5 and track.complete
    assert store.clip_by_path(target)["path"] == os.path.abspath(target)


def test_locked_project_fails_cleanly_then_works(tmp_path):
    path = tmp_path / "locked.aastudio"
    repo = Repository(path)
    repo.db.conn.execute("PRAGMA busy_timeout = 200")  # fail fast in the test
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(StoreError, match="locked"):
            extract_video(STREET, repo)
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert extract_video(STREET, repo).complete  # nothing half-written blocks the retry
    repo.close()


def test_extract_many_with_worker_processes_resumes(tmp_path):
    one = write_video(tmp_path / "one.mp4", [np.full((120, 160, 3), 60, np.uint8)])
    project = tmp_path / "batch.aastudio"
    paths = [str(STREET), one, str(tmp_path / "missing.mp4")]
    seen = []
    ctx = JobContext(on_progress=lambda done, total, _m: seen.append((done, total)))
    result = dict(extract_many(paths, project, workers=2, ctx=ctx, open_repo=Repository))
    assert result[str(STREET)] == "extracted" and result[one] == "extracted"
    assert result[paths[2]].startswith("error: File not found")
    assert seen[-1][0] == seen[-1][1] == 6
    again = dict(extract_many(paths, project, workers=2, open_repo=Repository))
    assert again[str(STREET)] == again[one] == "cached"
    repo = Repository(project)
    assert len(cached_track(repo, STREET)) == 5
    # the same batch on two runner threads of this process gives the same tracks
    threaded = tmp_path / "threads.aastudio"
    assert set(dict(extract_many(paths[:2], threaded, workers=2, threads=2,
                                     open_repo=Repository)).values()) == {"extracted"}
    repo2 = Repository(threaded)
    a, b = cached_track(repo, STREET), cached_track(repo2, STREET)
    assert (a.has_pose == b.has_pose).all()
    assert np.allclose(a.image, b.image, atol=1e-4, equal_nan=True)
    repo.close()
    repo2.close()


def test_multi_person_backend_finds_both_people_and_keeps_the_subject(room, store):
    from models.video import VideoReader

    with VideoReader(ROOM) as r:
        frames = [f for _, f in r.frames(0, 8)]
    h, w = frames[0].shape[:2]
    est = get("mediapipe-multi").create({})
    try:
        counts = [len(est.process_all(f)) for f in frames]
        subject = [est.process(f, i * 36) for i, f in enumerate(frames)]
    finally:
        est.close()
    assert max(counts) == 2
    ref = np.flatnonzero(room.has_pose[:8])
    for i in ref:  # same person as the default (tracking) backend follows
        assert subject[i] is not None
        gap = torso_centre(subject[i][0], w, h) - torso_centre(room.image[i], w, h)
        assert np.linalg.norm(gap) < 0.03 * w
    track = extract_video(STREET, store, backend_id="mediapipe-multi")
    assert track.complete and track.has_pose.sum() >= 4 and track.backend == "mediapipe-multi"
    assert cached_track(store, STREET, backend_id="mediapipe-multi") is not None
    other = cached_track(store, STREET)  # the default backend's cache entry is separate
    assert other is None or other.backend == DEFAULT_BACKEND


def test_extract_many_cancelled_before_start_leaves_nothing_then_resumes(tmp_path):
    one = write_video(tmp_path / "one.mp4", [np.full((120, 160, 3), 60, np.uint8)])
    project = tmp_path / "batch.aastudio"
    ctx = JobContext()
    ctx.token.cancel()
    result = dict(extract_many([str(STREET), one], project, workers=2, ctx=ctx,
                                open_repo=Repository))
    assert set(result.values()) == {"cancelled"}
    repo = Repository(project)
    assert cached_track(repo, STREET) is None and cached_track(repo, one) is None
    result = dict(extract_many([str(STREET), one], project, workers=1, open_repo=Repository))
    assert set(result.values()) == {"extracted"}
    assert len(cached_track(repo, one)) == 1
    repo.close()


def test_extract_many_cancel_mid_run_reaches_worker_processes(tmp_path):
    import struct

    copy = tmp_path / "room copy.mp4"  # other bytes (an MP4 'free' box), same frames
    copy.write_bytes(ROOM.read_bytes() + struct.pack(">I", 12) + b"free" + b"copy")
    project = tmp_path / "batch.aastudio"
    paths = [str(ROOM), str(copy), str(STREET)]
    # this process's thread can report at most 72 + 5 frames: 100 needs the worker's
    ctx = JobContext(on_progress=lambda done, _t, _m: done >= 100 and ctx.token.cancel())
    result = dict(extract_many(paths, project, workers=2, ctx=ctx, threads=1,
                                open_repo=Repository))  # 1 process
    assert "cancelled" in result.values()
    repo = Repository(project)
    settings = get(DEFAULT_BACKEND).settings()
    partial = [repo.load_track(repo.clip_hash(p), DEFAULT_BACKEND, settings) for p in paths[:2]]
    assert any(t is not None and 0 < t.frames_done < 72 for t in partial)
    again = dict(extract_many(paths, project, workers=2, open_repo=Repository))
    assert set(again.values()) <= {"cached", "extracted"}
    assert all(cached_track(repo, p).complete for p in paths)
    repo.close()


def test_partial_track_of_another_model_version_is_restarted(tmp_path):
    from models.pose.track import PoseTrack

    repo = Repository(tmp_path / "v.aastudio")
    settings = get(DEFAULT_BACKEND).settings()
    stale = PoseTrack.empty(5, fps=5.0, width=960, height=540, backend=DEFAULT_BACKEND,
                            settings=settings)
    stale.image[:3] = stale.world[:3] = 0.5  # bogus poses from "an older model"
    stale.frames_done, stale.backend_version = 3, "mediapipe 0.0.1 / old"
    repo.save_track(repo.clip_hash(STREET), stale)
    before = decoded_frames()
    track = extract_video(STREET, repo)
    assert decoded_frames() - before == 5 and track.complete
    assert "0.10.21" in track.backend_version and not (track.image[:3] == 0.5).all()
    repo.close()


def _standing(cx: float, cy: float, h: float = 0.4) -> np.ndarray:
    """A crude upright (33, 4) pose centred at (cx, cy), height h (normalised)."""
    pose = np.zeros((33, 4), np.float32)
    pose[:, 0], pose[:, 1], pose[:, 3] = cx, np.linspace(cy - h / 2, cy + h / 2, 33), 1.0
    pose[[L_SH, R_SH], 1], pose[[L_HIP, R_HIP], 1] = cy - h / 6, cy + h / 6
    return pose


def test_subject_gate_rules():
    from models.pose.backends.mediapipe_pose import SubjectGate, mask_outside, uncrop

    gate = SubjectGate(jump=0.35, speed=0.25, reacquire_s=2.0)
    w, h = 1000, 1000
    assert gate.accepts(_standing(0.2, 0.5), w, h, 0)  # nobody followed yet: anyone
    gate.update(_standing(0.2, 0.5), w, h, 0)          # subject 400 px tall
    assert gate.accepts(_standing(0.3, 0.5), w, h, 40)       # 100 px: a plausible step
    assert not gate.accepts(_standing(0.6, 0.5), w, h, 40)   # 400 px: somebody else
    assert not gate.accepts(_standing(0.6, 0.5), w, h, 1900)
    assert gate.accepts(_standing(0.6, 0.5), w, h, 2000)     # unseen 2 s: re-acquire
    x0, y0, x1, y1 = gate.search_box(w, h, 0)
    assert x0 < 200 < x1 and y0 < 300 and y1 > 700
    assert gate.search_box(w, h, 1000)[0] < x0                # grows while unseen
    frame = np.full((h, w, 3), 255, np.uint8)
    masked = mask_outside(frame, (x0, y0, x1, y1))
    assert masked[500, 200].tolist() == [255] * 3 and masked[500, 900].tolist() == [114] * 3
    crop_pose = np.array([[0.5, 0.5, 0.1, 1.0]], np.float32)
    np.testing.assert_allclose(uncrop(crop_pose, (100, 200, 300, 600), w, h)[0],
                               [0.2, 0.4, 0.02, 1.0], rtol=1e-6)


def test_cache_lookup_of_a_never_extracted_clip_hashes_the_file_once(tmp_path, monkeypatch):
    import models.store.repo_poses as repo_poses

    video = tmp_path / "copy.mp4"
    shutil.copyfile(STREET, video)
    repo = Repository(tmp_path / "p.aastudio")
    hashed = []
    real_hash = repo_poses.content_hash
    monkeypatch.setattr(repo_poses, "content_hash", lambda p: hashed.append(p) or real_hash(p))
    assert cached_track(repo, video) is None and cached_track(repo, video) is None
    assert len(hashed) == 1  # the second lookup read the stored hash
    row = repo.clip_by_path(video)
    assert row["content_hash"] == real_hash(video) and row["frames"] > 0 and row["width"] > 0
    os.utime(video, (1_000_000_000, 1_000_000_000))  # the file changed: hash again
    assert repo.clip_hash(video) == row["content_hash"] and len(hashed) == 2
    bad = tmp_path / "text.mp4"
    bad.write_text("not a video")  # hashed, but a file that does not decode is not recorded
    assert len(repo.clip_hash(bad)) == 32 and repo.clip_by_path(bad) is None
    repo.close()


def test_worker_started_while_opencv_loader_has_its_folder_on_sys_path(tmp_path, monkeypatch):
    """OpenCV's loader puts its package folder on sys.path while it loads; a worker
    spawned in that moment must still start (not import ``cv2/typing`` as ``typing``)."""
    import importlib.util
    import sys

    cv2_folder = os.path.dirname(importlib.util.find_spec("cv2").origin)
    monkeypatch.setattr(sys, "path", [sys.path[0], cv2_folder, *sys.path[1:]])
    one = write_video(tmp_path / "one.mp4", [np.full((120, 160, 3), 60, np.uint8)])
    result = dict(extract_many([str(STREET), one], tmp_path / "p.aastudio", workers=2,
                               threads=1, open_repo=Repository))  # STREET on this thread, one in a worker
    assert result == {str(STREET): "extracted", one: "extracted"}


def test_dead_worker_fails_its_clip_with_the_cause_and_the_batch_goes_on(tmp_path,
                                                                         monkeypatch):
    """A worker that dies while starting: its clip gets an error naming the worker's own
    error, the batch does not raise and this process's thread does the other clips."""
    import sys

    shadow = tmp_path / "shadow"
    shadow.mkdir()  # a module every new interpreter imports, broken (this one has it)
    (shadow / "typing.py").write_text("raise ImportError('typing is shadowed for this test')\n")
    monkeypatch.setattr(sys, "path", [str(shadow), *sys.path])
    clips = [write_video(tmp_path / f"c{i}.mp4", [np.full((120, 160, 3), 60, np.uint8)] * n)
             for i, n in enumerate((3, 1, 1, 1))]
    result = dict(extract_many(clips, tmp_path / "p.aastudio", workers=2, threads=1,
                                open_repo=Repository))
    failed = [s for s in result.values() if s.startswith("error")]
    assert len(failed) == 1, result
    assert "worker process exited with code 1" in failed[0]
    assert "ImportError: typing is shadowed for this test" in failed[0]
    assert "\n" not in failed[0]
    assert sum(s == "extracted" for s in result.values()) == 3
