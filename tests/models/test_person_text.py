"""Describe, diff and motion texts about one of several people: the subject phrase names
the person, the default keeps the single-person text, and the body's own sides never run
into the picture's side of the referent."""
from __future__ import annotations

import numpy as np

from models.describe import describe, pose_facts
from models.describe.doc import frame_doc
from models.describe.synth import SynthPose, track
from models.diff import describe_diff, diff_facts
from models.motion import describe_motion, motion_facts
from tests.models.qa_poses import raising_hand, track_from

LEFT = "the person on the left"
FPS = 30.0


def test_describe_names_the_subject_in_the_posture_sentence():
    facts = pose_facts(SynthPose().bend("left_elbow", 90).world())
    plain = describe(facts)
    assert plain.startswith("The person is standing") and describe(facts, "the person") == plain
    text = describe(facts, LEFT)
    assert text.startswith("The person on the left is standing, facing the camera.")
    assert text[len("The person on the left is"):] == plain[len("The person is"):]
    assert "the person on the left's" not in text.lower()


def test_describe_without_posture_names_the_first_body_part():
    facts = [f for f in pose_facts(SynthPose().bend("left_elbow", 90).world())
             if f.kind not in ("posture", "turn")]
    plain = describe(facts)
    assert not plain.lower().startswith("the person")
    text = describe(facts, LEFT)
    first = text.split(".")[0]
    # the body side first, the picture side after "of": never "the person on the left's left"
    assert " of the person on the left " in first and first.split(" of ")[0] in plain
    assert text.count("the person on the left") == 1
    assert "'s" not in text


def test_describe_unknowns_and_no_pose_name_the_subject():
    w = np.full((33, 4), np.nan)
    assert describe(pose_facts(w)) == "No person is visible."
    assert describe(pose_facts(w), LEFT) == "The person on the left is not visible."
    w = SynthPose().world()
    w[23:, 3] = 0.0      # hips and legs unseen, no posture
    facts = [f for f in pose_facts(w) if f.kind not in ("posture", "turn")
             and f.region not in ("torso", "arms")]
    assert describe(facts) == "The legs are not visible."
    assert describe(facts, LEFT) == "The legs of the person on the left are not visible."


def test_frame_doc_passes_the_subject():
    t = raising_hand(30)
    text, doc = frame_doc(t, "clip.mp4", 10)
    named, named_doc = frame_doc(t, "clip.mp4", 10, subject=LEFT)
    assert doc["reliable"] and text.startswith("The person is standing")
    assert named == text.replace("The person", "The person on the left", 1)
    assert named_doc == doc
    bad = track_from(np.full((3, 33, 4), np.nan))
    text, doc = frame_doc(bad, "clip.mp4", 1, subject=LEFT)
    assert not doc["reliable"] and text.startswith("The person on the left is not described: ")


def test_diff_names_the_subject_and_their_own_sides():
    a = SynthPose()
    b = a.copy().raise_arm("right")
    facts = diff_facts(a.world(), b.world())
    plain = describe_diff(facts)
    assert plain.startswith("The person raises the right hand")
    text = describe_diff(facts, LEFT)
    assert text.startswith("The person on the left raises their right hand")
    assert describe_diff(facts, "the person") == plain
    assert describe_diff([], LEFT) == "No visible change in the person on the left."
    assert describe_diff([]) == "No visible change."


def test_diff_with_part_clauses_only_names_the_subject_once():
    from models.describe.facts import Fact
    from models.diff_text import render_diff

    def lean(q, value):
        return Fact("lean_change", ("torso",), q, value, "deg", "clearly", 2, 1.0, (), "torso",
                    "centre", "", {})
    facts = [lean("lean_fb", -25.0), lean("twist", -30.0)]
    plain = render_diff(facts)
    text = render_diff(facts, LEFT)
    assert plain.startswith("The torso ")
    assert text.startswith("The torso of the person on the left ")
    assert text.replace(" of the person on the left", "") == plain


def test_motion_names_the_subject_once():
    w = track([SynthPose()] * 30 + [SynthPose().raise_arm("left")] * 40)
    facts = motion_facts(w, FPS, 0, 2.0)
    plain = describe_motion(facts)
    text = describe_motion(facts, LEFT)
    assert plain.startswith("The left hand moves up")
    assert text.startswith("The left hand of the person on the left moves up")
    assert text.replace(" of the person on the left", "", 1) == plain
    still = motion_facts(track([SynthPose()] * 60), FPS, 0, 1.5)
    assert describe_motion(still, LEFT).startswith(
        "No part of the person on the left moves clearly from start to end.")
