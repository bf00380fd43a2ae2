"""Difference facts (paircodes) between two synthetic frames with known changes."""
from __future__ import annotations

import numpy as np
import pytest

from models.describe.synth import SynthPose
from models.diff import describe_diff, diff_facts, displacements


def arm_forward() -> SynthPose:
    p = SynthPose()
    s = p.get("left_shoulder")
    return p.set("left_elbow", s + (0, 0, 0.28)).set("left_wrist", s + (0, 0, 0.54))


def test_a_vs_a_gives_nothing():
    w = arm_forward().world(yaw=33)
    assert diff_facts(w, w) == []
    assert describe_diff([]) == "No visible change."
    assert np.nanmax(np.abs(displacements(w, w))) == 0


def test_moving_the_head_gives_exactly_that_fact():
    a = SynthPose()
    b = a.copy().move("nose", (0, 0, 0.25))
    facts = diff_facts(a.world(), b.world(), 3, 9)
    assert [(f.kind, f.quantity, f.bin) for f in facts] == [("displacement", "head_displacement", "slightly")]
    f = facts[0]
    assert f.value == pytest.approx(0.25)
    assert f.extra["directions"] == ["forward"]
    assert (f.extra["frame_a"], f.extra["frame_b"]) == (3, 9)
    assert f.joints == (0,)
    assert describe_diff(facts) == "The person moves the head forward slightly."


def test_moving_the_wrist_gives_exactly_its_consequences():
    a = arm_forward()
    b = a.copy().move("left_wrist", (0, 0.26, -0.26))        # forearm now points up
    facts = {f.quantity: f for f in diff_facts(a.world(), b.world())}
    assert set(facts) == {"left_elbow_angle", "left_hand_displacement"}
    assert facts["left_elbow_angle"].value == pytest.approx(-90)
    assert facts["left_elbow_angle"].bin == "much"
    assert facts["left_hand_displacement"].value == pytest.approx(0.26 * np.sqrt(2))
    assert facts["left_hand_displacement"].bin == "slightly"
    assert sorted(facts["left_hand_displacement"].extra["directions"]) == ["back", "up"]
    text = describe_diff(list(facts.values()))
    assert text == "The person bends the left elbow a lot and moves the left hand up and back slightly."


@pytest.mark.parametrize("d,label", [(0.149, None), (0.151, "slightly"), (0.399, "slightly"),
                                     (0.401, "clearly")])
def test_displacement_bin_edges(d, label):
    a = SynthPose()
    facts = diff_facts(a.world(), a.copy().move("nose", (0, d, 0)).world())
    assert [f.bin for f in facts] == ([label] if label else [])


def test_whole_body_turn_is_only_the_turn():
    p = arm_forward().bend("right_knee", 100)
    facts = diff_facts(p.world(), p.world(yaw=90))
    assert [(f.kind, f.bin, f.extra["direction"]) for f in facts] == [("turn", "a quarter", "left")]
    assert facts[0].value == pytest.approx(90)
    assert describe_diff(facts) == "The body turns a quarter to the left."
    around = diff_facts(p.world(yaw=-100), p.world(yaw=70))
    assert [(f.bin, f.extra["direction"]) for f in around] == [("around", "left")]


def test_translation_and_distance_changes():
    a = SynthPose()
    assert diff_facts(a.world(), a.world(shift=(2, 0, 1))) == []
    b = a.copy().move("left_wrist", (0.3, 0, 0)).move("right_wrist", (-0.3, 0, 0))
    facts = {f.quantity: f for f in diff_facts(a.world(), b.world())}
    assert facts["hands_distance"].value == pytest.approx(0.6)
    assert facts["hands_distance"].bin == "clearly"
    text = describe_diff(list(facts.values()))
    assert "the hands move further apart" in text
    assert "moves both hands" not in text or "to the left" not in text


def test_raise_hand_above_head_and_posture_change():
    a = SynthPose()
    b = a.copy().raise_arm("right").bend("left_knee", 90).bend("right_knee", 90)
    facts = diff_facts(a.world(), b.world(yaw=-80))
    kinds = {f.kind for f in facts}
    assert {"posture_change", "turn", "angle_change", "displacement"} <= kinds
    text = describe_diff(facts)
    assert text.startswith("The person goes from standing to kneeling, raises the right hand above the head")
    assert "bends both knees" in text
    assert text.endswith("the body turns a quarter to the right.")


def test_invisible_joints_do_not_count():
    a = SynthPose()
    b = a.copy().move("nose", (0, 0, 0.3))
    b.vis[0] = 0.2
    assert diff_facts(a.world(), b.world()) == []


def test_difference_text_shares_the_subject():
    from models.describe.facts import Fact
    from models.diff_text import render_diff

    def lean(q, value):
        return Fact("lean_change", ("torso",), q, value, "deg", "clearly", 2, 1.0, (), "torso",
                    "centre", "", {})
    text = render_diff([lean("lean_fb", -25.0), lean("twist", -30.0)])
    assert text == "The torso leans further back and twists to the right."


def test_twins_moving_the_same_ways_merge_whatever_the_order():
    from models.describe.facts import Fact
    from models.diff_text import render_diff

    def foot(side, dirs):
        return Fact("displacement", (f"{side}_foot",), f"{side}_foot_displacement", 0.2, "m",
                    "slightly", 2, 1.0, (), "legs", side, "", {"directions": dirs})
    assert render_diff([foot("left", ["back", "up"]), foot("right", ["up", "back"])]) == \
        "The person moves both feet back and up slightly."
    assert render_diff([foot("left", ["back", "up"]), foot("right", ["up", "left"])]) == \
        ("The person moves the left foot back and up slightly and moves the right foot up and to "
         "the left slightly.")
