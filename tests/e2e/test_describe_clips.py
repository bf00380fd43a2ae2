"""Pose facts on every frame of every real test clip (one pose extraction per clip, shared
by the module): no self-contradictions, and one description per frame wherever it is shown
(the describe command, the GUI Describe panel, QA synthesis)."""
from __future__ import annotations

import numpy as np
import pytest

from models.describe import describe, pose_facts, track_facts
from models.describe.contradictions import contradictions

pytest.importorskip("mediapipe")


@pytest.fixture(scope="module")
def tracks(tmp_path_factory):
    from cli.describe import load_track
    from tests.conftest import CLIPS

    project = str(tmp_path_factory.mktemp("clips") / "p.aastudio")
    clips = sorted(p for p in CLIPS.iterdir() if p.suffix in (".mp4", ".avi"))
    assert len(clips) >= 9
    return {p.name: load_track(str(p), project) for p in clips}


def test_no_frame_of_any_clip_contradicts_itself(tracks):
    checked, found = 0, []
    for name, track in tracks.items():
        tf = track_facts(track, hysteresis=False)
        for i in range(len(track)):
            facts = tf.facts_at(i)
            checked += 1
            found += [f"{name}#{i}: {c}" for c in contradictions(facts)]
    assert checked >= 1000
    assert found == [], found[:10]


def test_claims_rest_on_visible_joints_inside_the_frame(tracks):
    for name, track in tracks.items():
        tf = track_facts(track, hysteresis=False)
        img = np.asarray(track.image, dtype=np.float64)
        vis = np.nan_to_num(np.asarray(track.world)[..., 3])
        for i in range(0, len(track), 5):
            for f in tf.facts_at(i):
                if f.kind in ("unknown", "posture") or not f.joints:
                    continue
                j = list(f.joints)
                assert vis[i, j].min() >= 0.5, (name, i, f.quantity)
                xy = img[i, j, :2]
                assert ((xy >= 0) & (xy <= 1)).all(), (name, i, f.quantity)


def _qa_view(track, frame):
    """What QA synthesis knows of one frame: (measurement id -> bin) and posture labels."""
    from models.qa import measure
    from models.qa.synth import SynthSettings

    s = SynthSettings()
    world = np.asarray(track.world)
    m = measure.TrackMeasures(world, s.min_visibility, track)
    facts = measure.frame_facts(world, frame, s.min_visibility, m)
    bins = {f["measure"]: f["bin"] for f in facts if f.get("measure")}
    labels = next(f["labels"] for f in facts if f["quantity"] == "posture_labels")
    return bins, set(labels)


@pytest.mark.parametrize("name,frame", [("tai_chi.mp4", 120), ("tai_chi.mp4", 255),
                                        ("weightlifting_clean_and_jerk.mp4", 60),
                                        ("two_people_room.mp4", 30)])
def test_one_description_per_frame_cli_gui_and_qa(tracks, name, frame, qtbot, tmp_path):
    from app.context import AppContext
    from app.controllers.describe import describe_controller
    from cli.describe import frame_doc
    from models.describe.config import group, measures
    from models.store import Repository

    track = tracks[name]
    text, doc = frame_doc(track, name, frame)
    cli = [(f["quantity"], f["bin"]) for f in doc["facts"]]

    ctx = AppContext(Repository(tmp_path / "gui.aastudio"))
    try:
        ctx.poses.auto_extract = False
        ctrl = describe_controller(ctx)
        with qtbot.waitSignal(ctrl.trackFactsReady, timeout=20000):
            ctx.player.set_track(track)
        gui = ctrl.facts(frame)
        assert [(f.quantity, f.bin) for f in gui] == cli
        assert ctrl.text(gui) == text
    finally:
        ctx.shutdown()

    qa_bins, qa_postures = _qa_view(track, frame)
    assert qa_postures == {b for q, b in cli if q == "posture"}
    said = dict(cli)
    spec = {m.id: m for m in measures()}
    for q, b in qa_bins.items():
        if b is None:
            assert q not in said
            continue
        silent = group(spec[q].group)["phrases"][group(spec[q].group)["labels"].index(b)] is None
        assert said.get(q) == (None if silent else b), q
    assert text == describe(pose_facts(track, frame))


def test_a_limb_swinging_between_behind_and_in_front_gets_no_angle_change(tracks):
    """tai_chi frame 0: left arm stretched back (shoulder 317 = extension); frame 255: raised
    in front (141). Whether it went past the hip or over the head cannot be told from two
    frames, so no shoulder-angle change is stated (it used to say "lowers the left arm a
    lot" while the picture shows it going up); the hand's own displacement still is."""
    from models.diff import describe_diff, diff_facts, frame_world

    t = tracks["tai_chi.mp4"]
    shoulder = {f: {x.quantity: x.value for x in pose_facts(t, f)}["left_shoulder_angle"]
                for f in (0, 255)}
    assert shoulder[0] > 180 > shoulder[255]
    facts = diff_facts(frame_world(t, 0, "A=", "tai"), frame_world(t, 255, "B=", "tai"), 0, 255)
    assert "left_shoulder_angle" not in [f.quantity for f in facts]
    text = describe_diff(facts)
    assert "lowers the left arm" not in text and "moves the left hand up" in text
