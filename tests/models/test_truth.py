"""The gold truth set and its scorer (models.truth): the scorer's rules on hand-made facts,
the gold file itself, and the real pipeline on a few gold images with a pinned floor."""
from __future__ import annotations

import math
from pathlib import Path

import pytest

from models import truth

REPO = Path(__file__).resolve().parents[2]
GOLD = REPO / "tests" / "data" / "gold" / "labels.jsonl"


def subject(**kw) -> dict:
    s = {"bbox": [100, 100, 300, 500], "who": "", "full_body_pose_possible": True,
         "posture": ["standing"], "angles": {"left_elbow": [150, 180], "right_knee": [60, 100]},
         "torso": {"incline": [0, 15], "fb": [-10, 15], "lr": None},
         "facing": {"word": "away", "yaw": [145, 215]},
         "hand_vs_head": {"left": "below", "right": ["above", "level"]},
         "hand_higher": "right", "knee_higher": None, "not_visible": [], "hard": [], "note": ""}
    s.update(kw)
    return s


def fact(quantity, bin_, kind="angle", joints=(), parts=("x",)) -> dict:
    return {"kind": kind, "parts": list(parts), "quantity": quantity, "value": 0.0, "unit": "",
            "bin": bin_, "joints": list(joints)}


# -- rules on hand-made inputs --------------------------------------------------------------
def test_angle_claims_are_judged_by_bin_overlap():
    s = subject()
    assert truth.judge_fact(fact("left_elbow_angle", "straight"), s) == ("elbow angle", "correct")
    assert truth.judge_fact(fact("left_elbow_angle", "slightly bent"), s) == ("elbow angle", "correct")
    assert truth.judge_fact(fact("left_elbow_angle", "right angle"), s) == ("elbow angle", "wrong")
    assert truth.judge_fact(fact("right_knee_angle", "straight"), s) == ("knee angle", "wrong")
    assert truth.judge_fact(fact("right_knee_angle", "right angle"), s) == ("knee angle", "correct")
    # no gold range for the right elbow: not scored
    assert truth.judge_fact(fact("right_elbow_angle", "straight"), s) == ("elbow angle", "unscored")


def test_posture_hands_and_facing():
    s = subject()
    assert truth.judge_fact(fact("posture", "standing", kind="posture"), s)[1] == "correct"
    assert truth.judge_fact(fact("posture", "lying", kind="posture"), s)[1] == "wrong"
    assert truth.judge_fact(fact("left_hand_above_head", "above", kind="relative"), s)[1] == "wrong"
    assert truth.judge_fact(fact("right_hand_above_head", "level", kind="relative"), s)[1] == "correct"
    assert truth.judge_fact(fact("hands_height", "right higher", kind="relative"), s)[1] == "correct"
    assert truth.judge_fact(fact("hands_height", "left higher", kind="relative"), s)[1] == "wrong"
    # facing away covers both ends of the yaw circle
    assert truth.judge_fact(fact("turn", "facing away", kind="turn"), s)[1] == "correct"
    assert truth.judge_fact(fact("turn", "facing the camera", kind="turn"), s)[1] == "wrong"
    assert truth.judge_fact(fact("torso_orientation", "vertical up", kind="orientation"), s)[1] == "correct"
    assert truth.judge_fact(fact("torso_orientation", "horizontal", kind="orientation"), s)[1] == "wrong"
    assert truth.judge_fact(fact("lean_fb", "clearly forward", kind="lean_fb"), s)[1] == "wrong"
    assert truth.judge_fact(fact("lean_lr", "clearly left", kind="lean_lr"), s)[1] == "unscored"


def test_ghost_unposeable_and_hidden_joint_claims_are_wrong():
    ok = fact("left_elbow_angle", "straight", joints=(11, 13, 15))
    assert truth.judge_fact(ok, None)[1] == "wrong"                                  # ghost skeleton
    assert truth.judge_fact(ok, subject(full_body_pose_possible=False))[1] == "wrong"
    assert truth.judge_fact(ok, subject(not_visible=["left_wrist"]))[1] == "wrong"   # rests on a hidden joint
    other = fact("left_hand_to_hips", "close", kind="distance", joints=(15, 23, 24))
    assert truth.judge_fact(other, subject())[1] == "unscored"
    assert truth.judge_fact(other, subject(not_visible=["left_hip"]))[1] == "wrong"
    legs = fact("visibility", "not visible", kind="unknown", parts=("left_leg",))
    assert truth.judge_fact(legs, subject(not_visible=["left_ankle"]))[1] == "correct"
    assert truth.judge_fact(legs, subject())[1] == "unscored"


def test_bin_intervals_follow_the_describer_binning():
    from models.describe.config import bin_codes, group

    for name in ("angle", "turn", "lean_fb", "above", "torso_orientation"):
        g = group(name)
        for v in (-170.0, -100.0, -40.0, -20.0, -3.0, 0.0, 0.1, 12.0, 33.0, 90.0, 140.0, 179.0):
            code = int(bin_codes([v], g)[0])
            lo, hi = truth.bin_interval(g, code)
            assert lo <= v <= hi, (name, v, code, lo, hi)
    assert truth.bin_interval(group("turn"), 8) == (160.0, math.inf)
    assert truth.overlaps((150.0, math.inf), (-200, -170), wrap=True)


def test_skeleton_subject_matching():
    rec = {"subjects": [subject(bbox=[0, 0, 100, 200]), subject(bbox=[300, 0, 400, 200])],
           "others": [[150, 0, 250, 200]]}
    assert truth.match_subject(rec, (350, 100))[1]["bbox"] == [300, 0, 400, 200]
    assert truth.match_subject(rec, (200, 100)) == ("other", None)
    assert truth.match_subject(rec, (600, 100)) == ("ghost", None)
    assert truth.match_subject(rec, None) == ("ghost", None)


def test_frame_tally_counts_ghosts_coverage_and_flags():
    rec = {"id": "x@0", "subjects": [subject()], "others": []}
    doc = {"facts": [fact("left_elbow_angle", "straight"), fact("posture", "lying", kind="posture")]}
    t = truth.Tally()
    truth.tally_frame(t, rec, truth.judge_frame(doc, (200, 300), rec))
    r = t.report()
    assert r["claims"]["elbow angle"]["correct"] == 1 and r["claims"]["posture"]["wrong"] == 1
    assert r["coverage"]["elbow angle"] == {"asserted": 1, "present": 1, "coverage": 1.0}
    assert r["coverage"]["knee angle"]["asserted"] == 0
    truth.tally_frame(t, rec, truth.judge_frame(doc, (900, 900), rec))       # ghost skeleton
    assert t.report()["claims"]["elbow angle"]["wrong"] == 1
    bad = {"id": "y@0", "subjects": [subject(full_body_pose_possible=False)], "others": []}
    truth.tally_frame(t, bad, truth.judge_frame(dict(doc, reliable=False), (200, 300), bad))
    f = t.report()["frames"]
    assert (f["gold_unreliable"], f["flagged_unreliable"], f["ghost"]) == (1, 1, 1)
    assert truth.is_flagged(None, "The 3-D pose on frame 3 of a.mp4 contradicts the image (...)")
    assert not truth.is_flagged({"facts": []})


def test_qa_items_are_checked_against_the_labels():
    s = subject()
    assert truth.judge_qa("body_part_pose", {"joint": "left_elbow"}, "straight", s)[1] == "correct"
    assert truth.judge_qa("body_part_pose", {"joint": "left_elbow"}, "sharply bent", s)[1] == "wrong"
    assert truth.judge_qa("full_body_posture", {}, "lying down", s)[1] == "wrong"
    assert truth.judge_qa("full_body_posture", {}, "standing upright", s)[1] == "correct"
    p = {"parts": ["left_wrist", "nose"], "axis": "y"}
    assert truth.judge_qa("relative_position", p, "below the head", s)[1] == "correct"
    assert truth.judge_qa("relative_position", p, "above the head", s)[1] == "wrong"
    assert truth.judge_qa("relative_position", p, "above the head", None)[1] == "wrong"


def test_bad_gold_files_are_refused(tmp_path):
    p = tmp_path / "g.jsonl"
    p.write_text('{"id": "a", "source": "s", "frame": 0, "size": [1, 1], '
                 '"subjects": [{"bbox": [0, 0, 1, 1]}]}\n')
    with pytest.raises(truth.TruthError, match="lacks"):
        truth.load_gold(p)
    p.write_text("{not json\n")
    with pytest.raises(truth.TruthError, match="line 1"):
        truth.load_gold(p)


# -- the gold file --------------------------------------------------------------------------
def test_gold_set_is_complete_and_well_formed():
    recs = truth.load_gold(GOLD)
    assert len(recs) >= 150
    assert len({r["source"].rsplit("/", 2)[-2] if "keypoints" in r["source"] else r["source"]
                for r in recs}) >= 10
    for r in recs:
        assert (REPO / r["source"]).is_file(), r["source"]
    hard = {h for r in recs for s in r["subjects"] for h in s["hard"]}
    for case in ("side view", "close-up", "legs out of frame", "two people", "face covered by hair"):
        assert case in hard


# -- the real pipeline on a few gold images -------------------------------------------------
SUBSET = ("h36m/", "mpi_inf_3dhp/", "coco/000000000785", "images/camera", "ochuman/000817")
FLOOR_PRECISION = 0.89   # measured 0.919 (57 of 62 mapped claims) when pinned (was 0.887)
# QA items need their answer confirmed on the neighbouring frames (models.qa.answerable):
# a still image gives none. On clips: measured 0.987 on the whole gold set (223 of 226
# scored items; before the answerability rules 0.872, 327 of 375, images included)
FLOOR_QA = 0.93          # on QA_CLIPS: measured 0.951 (58 of 61; the 3 wrong on a ghost skeleton)
QA_CLIPS = ("clips/two_people_room", "clips/basketball_dribble_portrait")


def test_scorer_on_real_gold_images_keeps_the_floor():
    pytest.importorskip("mediapipe")
    from cli.describe import frame_doc

    recs = [r for r in truth.load_gold(GOLD) if any(k in r["id"] for k in SUBSET)]
    assert len(recs) == 11
    t = truth.run(recs, lambda tr, v, f: frame_doc(tr, v, f), REPO)
    r = t.report()
    assert r["frames"]["total"] == 11
    assert r["overall"]["correct"] + r["overall"]["wrong"] >= 40
    assert r["overall"]["precision"] >= FLOOR_PRECISION, r["claims"]
    assert r["qa_overall"]["correct"] + r["qa_overall"]["wrong"] == 0, r["qa"]   # still images


# Boxes re-measured on the decoded pictures (the old ones lay beside the people they name):
# the program's skeleton is on the named person, so it must be matched to that subject.
REMEASURED = {"keypoints/aic/ff945ae2e729f24eea992814639d59b3bdec8bd8@0": "player in light blue",
              "keypoints/posetrack18/videos/000001_mpiinew_test/000001_mpiinew_test@0": "player in white",
              "keypoints/posetrack18/videos/000001_mpiinew_test/000001_mpiinew_test@2": "player in white"}


def test_remeasured_gold_boxes_hold_the_skeleton_of_the_named_person():
    pytest.importorskip("mediapipe")
    from cli.describe import frame_doc

    recs = [r for r in truth.load_gold(GOLD) if r["id"] in REMEASURED]
    assert len(recs) == len(REMEASURED)
    tracks = truth.load_tracks(recs, REPO)
    for r in recs:
        track = tracks[r["source"]]
        _text, doc = frame_doc(track, r["source"], r["frame"])
        centre = truth.skeleton_centre(track.image[r["frame"]], track.width, track.height)
        j = truth.judge_frame(doc, centre, r)
        assert j.status == "subject", (r["id"], centre)
        assert j.subject["who"].startswith(REMEASURED[r["id"]]), (r["id"], j.subject["who"])
        assert j.subject["full_body_pose_possible"]


@pytest.mark.slow
def test_qa_on_real_gold_clips_keeps_the_floor():
    pytest.importorskip("mediapipe")
    from cli.describe import frame_doc

    recs = [r for r in truth.load_gold(GOLD) if any(k in r["id"] for k in QA_CLIPS)]
    assert len(recs) == 29
    r = truth.run(recs, lambda tr, v, f: frame_doc(tr, v, f), REPO).report()
    q = r["qa_overall"]
    assert q["correct"] + q["wrong"] >= 40, r["qa"]
    assert q["precision"] >= FLOOR_QA, r["qa"]
