"""The desktop's batch pose extraction runs on the engine: the ``poses`` stage mapped by the
local runner, tracks kept by the project sink (real clips, real MediaPipe, real projects)."""
from __future__ import annotations

import json
import shutil
import sqlite3

import numpy as np

from models.engine.desktop import extract_many
from models.engine.merge import merge_run
from models.engine.project_sink import ProjectSink
from models.engine.run import run_config_file
from models.engine.runner import LocalRunner
from models.engine.stage import Item, Task, get_stage, result_key
from models.jobs import JobContext
from models.pose.extract import cached_track, decoded_frames, extract_video
from models.pose.registry import DEFAULT_BACKEND, get
from models.store import Repository
from tests.conftest import CLIPS

STREET = CLIPS / "street_pedestrians.mp4"
DRIBBLE = CLIPS / "basketball_dribble_portrait.mp4"   # 40 frames
MAKEUP = CLIPS / "closeup_makeup.avi"                 # 164 frames: two pose chunks


def _tracks(project) -> dict:
    con = sqlite3.connect(project)
    try:
        rows = con.execute("SELECT content_hash, backend, settings_key, backend_version, frames, "
                           "frames_done, complete, data FROM pose_tracks ORDER BY content_hash")
        return {r[0]: r[1:] for r in rows}
    finally:
        con.close()


def test_desktop_batch_fills_the_project_as_a_dataset_run_and_merge_do(tmp_path):
    folder = tmp_path / "clips"
    folder.mkdir()
    for clip in (STREET, DRIBBLE):
        shutil.copy(clip, folder / clip.name)
    clips = sorted(str(p) for p in folder.iterdir())
    desktop = tmp_path / "desktop.aastudio"
    result = dict(extract_many(clips, desktop, workers=2, open_repo=Repository))
    assert set(result.values()) == {"extracted"}

    cfg = tmp_path / "run.json"
    cfg.write_text(json.dumps({"run": {"manifest": str(folder), "output": str(tmp_path / "run")},
                               "runner": {"workers": 1}, "stages": {"poses": {}}}))
    run_config_file(cfg)
    merged = tmp_path / "merged.aastudio"
    assert merge_run(tmp_path / "run", merged)["tracks"] == 2

    a, b = _tracks(desktop), _tracks(merged)
    assert len(a) == 2 and a.keys() == b.keys()
    for digest in a:
        assert a[digest] == b[digest]          # same cache key, same npz bytes
        assert a[digest][5] == 1               # complete

    # the sink answers from the project: both poses tasks of the run are done there
    stage = get_stage("poses")
    params = stage.params({})
    repo = Repository(merged)
    try:
        tasks = [Task(key=result_key(d, stage, params), stage="poses",
                      item=Item(id=d, video=c, name=c), params=params)
                 for d, c in zip(sorted(a), clips)]
        sink = ProjectSink(repo, tasks)
        assert sink.done() == {t.key for t in tasks}
        assert set(sink.results([t.key for t in tasks])) == {t.key for t in tasks}
    finally:
        repo.close()


def test_a_cancelled_long_clip_resumes_from_its_checkpoint_with_the_same_poses(tmp_path):
    project = tmp_path / "p.aastudio"
    ctx = JobContext(on_progress=lambda done, _t, _m: done >= 140 and ctx.token.cancel())
    first = dict(extract_many([str(MAKEUP)], project, workers=1, ctx=ctx, open_repo=Repository))
    assert first == {str(MAKEUP): "cancelled"}
    repo = Repository(project)
    settings = get(DEFAULT_BACKEND).settings()
    digest = repo.clip_hash(MAKEUP)
    partial = repo.load_track(digest, DEFAULT_BACKEND, settings)
    # kept by the sink when the clip was cancelled (not only at the 64-frame checkpoints)
    assert partial is not None and not partial.complete and partial.frames_done >= 140
    before = decoded_frames()
    again = dict(extract_many([str(MAKEUP)], project, workers=1, open_repo=Repository))
    assert again == {str(MAKEUP): "extracted"}
    assert decoded_frames() - before < 164 - 100     # went on from frame 120, not from 0
    resumed = cached_track(repo, MAKEUP)
    repo.close()
    whole = Repository(tmp_path / "whole.aastudio")
    reference = extract_video(MAKEUP, whole)
    whole.close()
    assert resumed.complete and resumed.frames_done == reference.frames_done == 164
    np.testing.assert_array_equal(resumed.image, reference.image)
    np.testing.assert_array_equal(resumed.world, reference.world)


def test_project_sink_keeps_qa_records_once_and_knows_they_are_done(tmp_path):
    project = tmp_path / "p.aastudio"
    assert extract_many([str(STREET)], project, workers=1, open_repo=Repository)[0][1] == "extracted"
    repo = Repository(project)
    try:
        digest = repo.clip_hash(STREET)
        track = cached_track(repo, STREET)
        stage = get_stage("qa")
        params = stage.params({})
        item = Item(id=digest, video=str(STREET), name=STREET.name)
        task = Task(key=result_key(digest, stage, params), stage="qa", item=item, params=params,
                    upstream={"poses": {"track": track.to_npz_bytes()}})
        sink = ProjectSink(repo, [task])
        assert sink.done() == set()
        (outcome,) = list(LocalRunner(1).map(stage, [task], JobContext()))
        assert outcome.status == "ok", outcome.error
        sink.write(outcome)
        count = repo.qa_count()
        assert count == outcome.result["count"] > 0
        assert sink.done() == {task.key}
        assert repo.generation_done(outcome.result["video"], outcome.result["key"])
        sink.write(outcome)                          # written again: nothing doubles
        assert repo.qa_count() == count
    finally:
        repo.close()
