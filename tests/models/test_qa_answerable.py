"""Only answerable QA: every item carries a confidence and a margin; no item from an
unreliable frame, a joint not visible or outside the picture, a value within a margin of a
bin edge, a fact that flips within a few frames, or bends that do not clearly repeat; and
qa-check reports such items in a project made before these rules."""
from __future__ import annotations

import json

import numpy as np
import pytest

from models.pose.skeleton import blazepose
from models.qa import answerable, checks, measure
from models.qa.record import QARecord
from models.qa.synth import (SynthSettings, reliable_world, synthesize_clip, synthesize_track,
                             to_record)
from models.qa.tasks import repetition_count
from models.qa.tasks.common import Candidate, ClipFacts
from tests.models.qa_poses import elbow_pumping, elbow_track

FPS = 25.0


def _flicker(frames=100):
    """The right elbow switches between a right angle and slightly bent every 2 frames."""
    return elbow_track(np.where((np.arange(frames) // 2) % 2 == 0, 80.0, 140.0), FPS)


def _irregular(frames=150):
    """Three bends of the right elbow at irregular times and of different depths."""
    a = np.full(frames, 170.0)
    for at, depth, width in ((15, 90.0, 4), (35, 60.0, 4), (130, 120.0, 5)):
        k = np.arange(frames)
        a -= (170.0 - depth) * np.exp(-0.5 * ((k - at) / width) ** 2)
    return elbow_track(a, FPS)


def test_items_carry_confidence_and_margin(project):
    recs = synthesize_track(elbow_pumping(cycles=3), "pump.mp4", SynthSettings(per_clip=60))
    assert len({r.task for r in recs}) >= 4
    for r in recs:
        p = r.provenance
        assert 0 < p.confidence <= 1 and p.margin is not None and p.margin_unit in ("deg", "m")
        assert p.margin_ratio == pytest.approx(p.margin / answerable.judge(
            r.task, p.generation_params["params"], r.answer_text, p.frame_indices, p.facts
        ).margin.group, rel=1e-2)
    project.add_qa_items(recs)
    back = {r.qa_id: r for r in project.qa_records()}
    for r in recs:
        assert back[r.qa_id].provenance == r.provenance          # stored and read back
        assert QARecord.from_dict(json.loads(json.dumps(r.to_dict()))).provenance.confidence \
            == r.provenance.confidence
    old = recs[0].to_dict()
    for k in ("confidence", "margin", "margin_unit", "margin_ratio"):
        del old["provenance"][k]
    assert QARecord.from_dict(old).provenance.confidence is None  # older items still load


def test_no_item_on_a_fact_that_flips_within_a_few_frames():
    recs = synthesize_track(_flicker(), "flicker.mp4", SynthSettings(per_clip=200))
    assert recs and not [r.question for r in recs if "right elbow" in r.question]
    steady = synthesize_track(elbow_track(np.full(100, 80.0), FPS), "steady.mp4",
                              SynthSettings(per_clip=200))
    assert [r for r in steady if r.task == "body_part_pose" and "right elbow" in r.question
            and r.answer_text == "bent at a right angle"]


def test_no_item_within_a_margin_of_a_bin_edge():
    def offset(frame, v):
        return {"part": ["left_wrist", "right_wrist"], "quantity": "offset", "value": v, "unit": "m",
                "frame": frame, "visibility": 0.9, "axis": "y"}
    facts = ClipFacts("v.mp4", FPS, {1: [offset(1, 0.16)], 2: [offset(2, 0.3)], 3: [offset(3, 0.04)]},
                      [], [])
    recs = synthesize_clip(facts, SynthSettings(tasks=("relative_position",), per_clip=10))
    # 0.16 m and 0.04 m are within 0.03 m of the band edges (0.15, 0.05)
    assert [r.provenance.frame_indices for r in recs] == [[2]]
    assert recs[0].provenance.margin == pytest.approx(0.15)


def test_no_item_on_a_joint_outside_the_picture():
    track = elbow_track(np.full(100, 80.0), FPS)
    track.image[:, :, 1] += 0.45        # the legs below the bottom edge, yet "visible"
    assert (track.image[:, blazepose().index("left_knee"), 1] > 1).all()
    assert (track.image[:, blazepose().index("left_hip"), 1] < 1).all()
    recs = synthesize_track(track, "cut.mp4", SynthSettings(per_clip=200))
    assert recs and not [r.question for r in recs if "knee" in r.question]
    assert not [r for r in recs if r.task == "full_body_posture"]   # rests on both knees


def test_periodicity_tells_a_repetition_from_irregular_peaks():
    from models.motion import count_repetitions, periodicity

    rng = np.random.default_rng(0)
    t = np.arange(180) / 30.0
    sig = 120 - 40 * np.cos(2 * np.pi * 4 * t / 6) + rng.normal(0, 3, len(t))
    _n, peaks, s = count_repetitions(sig, 30.0, prominence=20)
    assert len(peaks) == 4 and periodicity(s, peaks)["kind"] == "periodic"
    bumps = sum(h * np.exp(-0.5 * ((np.arange(180) - c) / 6) ** 2)
                for c, h in ((20, 80), (70, 35), (160, 60)))
    _n, peaks, s = count_repetitions(100 + bumps, 30.0, prominence=20)
    assert len(peaks) == 3 and periodicity(s, peaks)["kind"] == "irregular"
    _n, peaks, s = count_repetitions(100 + 80 * np.exp(-0.5 * ((np.arange(180) - 90) / 10) ** 2),
                                     30.0, prominence=20)
    assert periodicity(s, peaks)["kind"] == "single"


def test_repetition_items_only_for_clearly_periodic_bends():
    s = SynthSettings(tasks=("repetition_count",), per_clip=10)
    assert synthesize_track(_irregular(), "irregular.mp4", s) == []
    recs = synthesize_track(elbow_pumping(cycles=4, frames=120), "pump.mp4", s)
    assert [r.answer_text for r in recs] == ["4 times"]
    assert recs[0].provenance.confidence > 0.5


def _old_style(task, video, question, answer, wrong, facts, params, frames, **kw):
    """A record as synthesis made it before the answerability rules (no confidence)."""
    c = Candidate(task, "old", question, answer, wrong, facts, params, key=(task,), frames=frames, **kw)
    return to_record(c, video, [answer] + wrong, 0, SynthSettings())


def test_qa_check_reports_old_items_that_break_the_rules():
    flicker, bends = _flicker(), _irregular()
    f = 41                                      # a right angle, slightly bent 1 frame later
    ctx = answerable.TrackContext(flicker)
    angle = [x for x in ctx.frame_facts(f) if x["quantity"] == "angle" and x["part"] == "right_elbow"]
    assert angle and 75 + 7 <= angle[0]["value"] <= 105 - 7
    flips = _old_style("body_part_pose", "flicker.mp4", "In the frame at 1.64 s, how is the "
                       "person's right elbow?", "bent at a right angle", ["straight"], angle,
                       {"joint": "right_elbow", "frame": f}, [f], frame_a=f)
    reps = measure.repetition_facts(reliable_world(bends), FPS, 0, len(bends))
    rep = [x for x in reps if x["part"] == "right_elbow"][0]
    assert rep["value"] == 3 and rep["periodicity"] == "irregular"
    counted = _old_style("repetition_count", "bends.mp4", "Between 0.00 s and 6.00 s, how many "
                         "times does the person bend their right elbow?", "3 times",
                         repetition_count.neighbours(3), [rep], {"joint": "right_elbow"},
                         [0, len(bends)], start_s=0.0, end_s=6.0)
    good = synthesize_track(elbow_pumping(cycles=3), "pump.mp4", SynthSettings(per_clip=20))
    assert good
    tracks = {"flicker.mp4": flicker, "bends.mp4": bends, "pump.mp4": elbow_pumping(cycles=3)}
    flags, unchecked = checks.answerability_flags([flips, counted] + good + [
        QARecord("x1", "body_part_pose", "gone.mp4", "q?", ["a", "b"], 0)], tracks.get)
    assert set(flags) == {flips.qa_id, counted.qa_id} and unchecked == []
    assert any(w.startswith("not answerable: answer flips within a few frames") for w in flags[flips.qa_id])
    assert any(w.startswith("not answerable: repetition not clearly periodic") for w in flags[counted.qa_id])


def test_qa_check_reports_an_item_on_a_frame_next_to_an_unreliable_one():
    track = elbow_track(np.full(100, 80.0), FPS)
    track.world[50:53] = np.nan                 # no pose on frames 50-52
    track.image[50:53] = np.nan
    ctx = answerable.TrackContext(track)
    facts = [x for x in ctx.frame_facts(54) if x["quantity"] == "angle" and x["part"] == "right_elbow"]
    old = _old_style("body_part_pose", "gap.mp4", "In the frame at 2.16 s, how is the person's "
                     "right elbow?", "bent at a right angle", ["straight"], facts,
                     {"joint": "right_elbow", "frame": 54}, [54], frame_a=54)
    flags, _ = checks.answerability_flags([old], {"gap.mp4": track}.get)
    assert flags[old.qa_id][0].startswith("not answerable: unreliable frame (frame 50")
    new = synthesize_track(track, "gap.mp4", SynthSettings(per_clip=200))
    k = int(answerable.STABLE_S * FPS)
    assert new and all(not 50 - k <= f <= 52 + k for r in new if r.task != "repetition_count"
                       for f in r.provenance.frame_indices)


# -- real clips -----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def real_tracks(tmp_path_factory):
    pytest.importorskip("mediapipe")
    from models.pose.extract import extract_video
    from models.store import Repository
    from tests.conftest import CLIPS

    path = tmp_path_factory.mktemp("answerable") / "clips.aastudio"
    repo = Repository(path)
    try:
        out = {name: extract_video(CLIPS / name, repo)
               for name in ("weightlifting_clean_and_jerk.mp4", "basketball_gym.mp4")}
    finally:
        repo.close()
    return path, out


@pytest.mark.slow
def test_weightlifting_is_one_movement_not_three_cycles(real_tracks):
    from models.motion import motion_facts

    track = real_tracks[1]["weightlifting_clean_and_jerk.mp4"]
    dur = track.timeline.duration(len(track))
    rep = [f for f in motion_facts(track, track.fps, 0, dur - 0.01) if f.kind == "repetition"]
    assert len(rep) == 1 and rep[0].value == 1, (rep[0].value, rep[0].extra["signal"])
    recs = synthesize_track(track, "wl.mp4", SynthSettings(tasks=("repetition_count",), per_clip=20))
    assert all(r.answer_text == "once" for r in recs), [(r.question, r.answer_text) for r in recs]


@pytest.mark.slow
def test_real_clip_items_keep_clear_of_unreliable_frames(real_tracks):
    from models.pose.reliability import judge

    track = real_tracks[1]["basketball_gym.mp4"]
    ok = judge(track).ok
    assert 0 < ok.mean() < 1                     # the clip has both kinds of frames
    recs = synthesize_track(track, "gym.mp4", SynthSettings(per_clip=200, max_frames=40))
    ctx = answerable.TrackContext(track)
    assert recs
    for r in recs:
        p = r.provenance
        span = answerable._span(r.task, p.generation_params["params"], p.frame_indices, ctx)
        assert ok[span].all(), (r.question, [f for f in span if not ok[f]][:3])
        assert p.confidence is not None and p.margin is not None


@pytest.mark.slow
def test_qa_check_cli_on_a_project_made_before_the_rules(real_tracks, capsys):
    from main import main
    from models.store import Repository

    path, tracks = real_tracks
    track = tracks["weightlifting_clean_and_jerk.mp4"]
    reps = measure.repetition_facts(reliable_world(track), track.fps, 0, len(track))
    bad = [f for f in reps if f["value"] >= 2 and f["periodicity"] == "irregular"]
    assert bad                                   # what the old synthesis counted
    olds = [_old_style("repetition_count", "weightlifting_clean_and_jerk.mp4",
                       f"Between 0.00 s and 10.00 s, how many times does the person bend their "
                       f"{f['part'].replace('_', ' ')}?", repetition_count.count_text(int(f["value"])),
                       repetition_count.neighbours(int(f["value"])), [f], {"joint": f["part"]},
                       [0, len(track)], start_s=0.0, end_s=10.0) for f in bad]
    good = synthesize_track(track, "weightlifting_clean_and_jerk.mp4", SynthSettings(per_clip=8))
    repo = Repository(path)
    try:
        repo.add_qa_items(olds + good)
    finally:
        repo.close()
    capsys.readouterr()
    assert main(["qa-check", "--project", str(path), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    flagged = {q for q, why in report["flags"].items() if any("not answerable" in w for w in why)}
    assert flagged == {r.qa_id for r in olds}
    assert report["flag_counts"]["not answerable: repetition not clearly periodic"] == len(olds)
    assert report["unchecked_no_poses"] == 0
    assert main(["qa-check", "--project", str(path)]) == 0
    assert "not answerable: repetition not clearly periodic" in capsys.readouterr().out
