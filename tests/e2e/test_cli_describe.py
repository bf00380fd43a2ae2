"""The describe / diff / motion commands on a real clip (one real pose extraction)."""
from __future__ import annotations

import json

import numpy as np
import pytest

from cli import run_cli
from cli.describe import load_track
from models.diff import check_compatible, frame_world
from models.describe import DescribeError, track_facts
from models.pose.track import PoseTrack

CLIP = "two_people_room.mp4"


@pytest.fixture(scope="module")
def real(tmp_path_factory):
    from tests.conftest import CLIPS

    project = str(tmp_path_factory.mktemp("proj") / "p.aastudio")
    video = str(CLIPS / CLIP)
    return video, project, load_track(video, project)


def cli(capsys, *argv):
    rc = run_cli(list(argv))
    out, err = capsys.readouterr()
    return rc, out, err


def test_descriptions_for_most_frames_and_facts_rest_on_visible_joints(real):
    _, _, track = real
    tf = track_facts(track)
    vis = np.nan_to_num(track.world[..., 3])
    described = 0
    for i in range(len(track)):
        facts = [f for f in tf.facts_at(i) if f.kind not in ("unknown",)]
        described += len(facts) >= 5
        for f in facts:
            if f.joints:
                assert vis[i, list(f.joints)].min() >= 0.5, (i, f.quantity)
    assert described >= 0.8 * len(track)


def test_describe_command_text_and_json(real, capsys):
    video, project, track = real
    rc, out, err = cli(capsys, "describe", video, "--frame", "10", "--project", project)
    assert rc == 0 and out.startswith("The person")
    rc, out, _ = cli(capsys, "describe", video, "--frame", "10", "--project", project, "--json")
    doc = json.loads(out)
    assert rc == 0 and doc["frame"] == 10 and len(doc["facts"]) >= 5
    assert doc["text"].startswith("The person")
    assert {"parts", "quantity", "value", "unit", "bin", "frame", "visibility"} <= set(doc["facts"][0])


def test_describe_bad_frame(real, capsys):
    video, project, track = real
    rc, out, err = cli(capsys, "describe", video, "--frame", "9999", "--project", project)
    assert rc != 0 and out == ""
    assert err.count("\n") == 1 and "out of range" in err and str(len(track)) in err


def test_diff_command(real, capsys):
    video, project, _ = real
    rc, out, _ = cli(capsys, "diff", video, "--a", "0", "--b", "60", "--project", project, "--json")
    doc = json.loads(out)
    assert rc == 0 and doc["frame_a"] == 0 and doc["frame_b"] == 60
    assert doc["text"].endswith(".") and all(f["extra"]["frame_b"] == 60 for f in doc["facts"])
    rc, out, _ = cli(capsys, "diff", video, "--a", "5", "--b", "5", "--project", project)
    assert rc == 0 and out.strip() == "No visible change."


def test_motion_command_and_bad_intervals(real, capsys):
    video, project, track = real
    rc, out, _ = cli(capsys, "motion", video, "--start", "0", "--end", "2.5", "--project", project,
                     "--json")
    doc = json.loads(out)
    assert rc == 0 and any(f["kind"] == "repetition" for f in doc["facts"])
    rc, out, err = cli(capsys, "motion", video, "--start", "1", "--end", "60", "--project", project)
    assert rc != 0 and "outside the clip" in err and err.count("\n") == 1
    rc, out, err = cli(capsys, "motion", video, "--start", "1", "--end", "1.1", "--project", project)
    assert rc != 0 and "shorter than one movement cycle" in err


def test_mixed_backends_and_missing_poses_are_refused():
    w = np.zeros((3, 33, 4), dtype=np.float32)
    a = PoseTrack(w, w, 30.0, 10, 10, backend="mediapipe")
    b = PoseTrack(w, w, 25.0, 10, 10, backend="other")
    with pytest.raises(DescribeError, match="different pose backends"):
        check_compatible(a, b, "a.mp4", "b.mp4")
    c = PoseTrack(w[:, :17], w[:, :17], 25.0, 10, 10, backend="mediapipe", skeleton="coco17")
    with pytest.raises(DescribeError, match="different skeletons"):
        check_compatible(a, c, "a.mp4", "c.mp4")
    check_compatible(a, PoseTrack(w, w, 25.0, 10, 10, backend="mediapipe"), "a", "d")  # fps may differ
    empty = PoseTrack.empty(4, fps=30.0, width=10, height=10)
    with pytest.raises(DescribeError, match="No pose was found on frame A=2"):
        frame_world(empty, 2, "A=", "x.mp4")


def test_motion_signal_choice_and_input_checked_before_extraction(real, capsys, tmp_path):
    video, project, track = real
    rc, out, _ = cli(capsys, "motion", video, "--start", "0", "--end", "2.5", "--project", project,
                     "--signal", "left knee angle", "--json")
    rep = next(f for f in json.loads(out)["facts"] if f["kind"] == "repetition")
    assert rc == 0 and rep["extra"]["signal"] == "left knee angle"
    rc, out, err = cli(capsys, "motion", video, "--start", "0", "--end", "2.5", "--project", project,
                       "--signal", "left toe height")
    assert rc != 0 and out == "" and err.count("\n") == 1 and "Unknown signal 'left toe height'" in err
    fresh = str(tmp_path / "fresh.aastudio")              # no cached poses: errors come first
    for argv, msg in ((("describe", video, "--frame", "72"), "Frame 72 is out of range"),
                      (("diff", video, "--a", "1", "--b", "-2"), "Frame B=-2 is out of range"),
                      (("motion", video, "--start", "2", "--end", "1"), "the end must come after")):
        rc, out, err = cli(capsys, *argv, "--project", fresh)
        assert rc != 0 and out == "" and err.count("\n") == 1 and msg in err, err
    from models.store import Repository
    repo = Repository(fresh)
    try:
        assert repo.track_status(repo.clip_hash(video)) == []  # nothing was extracted
    finally:
        repo.close()
