"""Pose facts and text from synthetic poses of known geometry (no mediapipe)."""
from __future__ import annotations

import json
import re

import numpy as np
import pytest

from models.body import body_frame, mirror
from models.describe import Fact, describe, pose_facts, track_facts
from models.describe.synth import SynthPose, track
from models.pose.skeleton import blazepose
from models.pose.track import PoseTrack


def facts_by_q(world, **kw) -> dict:
    return {f.quantity: f for f in pose_facts(world, **kw)}


def bin_of(world, q):
    f = facts_by_q(world).get(q)
    return None if f is None else f.bin


def rotate_upper_body(p: SynthPose, fwd_deg=0.0, left_deg=0.0) -> SynthPose:
    """Tilt everything above the hips about the hip centre (forward / to the left)."""
    upper = [i for i, n in enumerate(p.sk.joints) if i <= 22]
    a, b = np.radians(fwd_deg), np.radians(left_deg)
    rx = np.array([[1, 0, 0], [0, np.cos(a), -np.sin(a)], [0, np.sin(a), np.cos(a)]])
    rz = np.array([[np.cos(b), np.sin(b), 0], [-np.sin(b), np.cos(b), 0], [0, 0, 1]])
    p.p[upper] = p.p[upper] @ rx.T @ rz.T
    return p


# --- body frame ------------------------------------------------------------------------------
def test_body_frame_axes_and_yaw():
    w = SynthPose().world(yaw=30)
    pts, yaw = body_frame(w)
    assert yaw == pytest.approx(30)
    assert pts[23, :3] == pytest.approx([0.1, 0, 0])      # left hip on +x
    assert pts[0, 1] > 0.5 and pts[0, 2] > 0              # nose up and forward
    nan = w.copy()
    nan[23] = np.nan
    p2, y2 = body_frame(nan)
    assert np.isnan(y2) and np.isnan(p2[:, :3]).all()


# --- exact bins from known geometry ---------------------------------------------------------
def test_right_angle_elbow_and_straight_knee():
    p = SynthPose().bend("left_elbow", 90).bend("right_knee", 170)
    f = facts_by_q(p.world())
    assert f["left_elbow_angle"].bin == "right angle"
    assert f["left_elbow_angle"].value == pytest.approx(90)
    assert f["right_knee_angle"].bin == "straight"
    assert f["right_knee_angle"].value == pytest.approx(170)
    assert f["left_elbow_angle"].joints == (11, 13, 15)


@pytest.mark.parametrize("edge,below,above", [
    (45, "completely bent", "bent more"), (75, "bent more", "right angle"),
    (105, "right angle", "bent less"), (135, "bent less", "slightly bent"),
    (160, "slightly bent", "straight")])
def test_angle_bin_edges_both_sides(edge, below, above):
    assert bin_of(SynthPose().bend("left_knee", edge - 0.01).world(), "left_knee_angle") == below
    assert bin_of(SynthPose().bend("left_knee", edge + 0.01).world(), "left_knee_angle") == above


def _hands_apart(d: float) -> np.ndarray:
    p = SynthPose()
    p.set("left_wrist", (d / 2, 0.2, 0.3)).set("right_wrist", (-d / 2, 0.2, 0.3))
    return p.world()


@pytest.mark.parametrize("d,label", [(0.1, "close"), (0.199, "close"), (0.201, "shoulder-width"),
                                     (0.399, "shoulder-width"), (0.401, "spread"),
                                     (0.799, "spread"), (0.801, "wide")])
def test_hand_distance_bins(d, label):
    f = facts_by_q(_hands_apart(d))["hands_distance"]
    assert f.bin == label and f.value == pytest.approx(d)


def test_raised_hand_is_above_head():
    p = SynthPose().raise_arm("right")
    f = facts_by_q(p.world())
    assert f["right_hand_above_head"].bin == "above"
    assert "left_hand_above_head" not in f
    assert "the right hand is raised above the head" in describe(pose_facts(p.world()))
    assert "right_hand_above_shoulder" in f            # a fact, but pruned from the text
    assert "above the shoulder" not in describe(pose_facts(p.world()))


@pytest.mark.parametrize("dy,label", [(0.049, "level"), (0.051, None), (0.149, None),
                                      (0.151, "left higher"), (-0.151, "right higher")])
def test_relative_height_bins(dy, label):
    p = SynthPose().move("left_wrist", (0, dy, 0))
    assert bin_of(p.world(), "hands_height") == label


@pytest.mark.parametrize("deg,label", [(9.9, "vertical up"), (10.1, None), (79.9, None),
                                       (80.1, "horizontal"), (99.9, "horizontal"),
                                       (100.1, None), (170.1, "vertical down")])
def test_segment_orientation_bins(deg, label):
    p = SynthPose()
    a = np.radians(deg)
    p.set("left_wrist", p.get("left_elbow") + 0.26 * np.array([0, np.cos(a), np.sin(a)]))
    assert bin_of(p.world(), "left_forearm_orientation") == label


def test_ground_edge_both_sides():
    # the foot's mean point (ankle, heel, toe) is 0.03 m above the lowest joint (a toe)
    base = SynthPose()
    assert facts_by_q(base.world())["left_foot_ground"].value == pytest.approx(0.03)
    lift = 0.1 - 0.03
    assert bin_of(SynthPose().move("left_ankle", (0, lift - 0.001, 0)).world(),
                  "left_foot_ground") == "on the ground"
    assert bin_of(SynthPose().move("left_ankle", (0, lift + 0.001, 0)).world(),
                  "left_foot_ground") == "off the ground"


@pytest.mark.parametrize("deg,label", [(14.9, None), (15.1, "slightly forward"),
                                       (29.9, "slightly forward"), (30.1, "clearly forward"),
                                       (-20, "slightly back")])
def test_lean_forward_back(deg, label):
    assert bin_of(rotate_upper_body(SynthPose(), fwd_deg=deg).world(), "lean_fb") == label


def test_lean_left_and_turn():
    p = rotate_upper_body(SynthPose(), left_deg=35)
    assert bin_of(p.world(), "lean_lr") == "clearly left"
    assert bin_of(SynthPose().world(yaw=70), "turn") == "quarter left"
    assert bin_of(SynthPose().world(yaw=-30), "turn") == "slightly right"
    assert bin_of(SynthPose().world(yaw=170), "turn") == "facing away"


# --- postures ------------------------------------------------------------------------------
def _postures(p: SynthPose) -> set:
    return {f.bin for f in pose_facts(p.world()) if f.kind == "posture"}


def test_posture_labels():
    assert _postures(SynthPose()) == {"standing"}
    up = SynthPose().raise_arm("left").raise_arm("right")
    assert _postures(up) == {"standing", "arms raised"}
    kneel = SynthPose().bend("left_knee", 90).bend("right_knee", 90)
    assert _postures(kneel) == {"kneeling"}
    sit, squat = SynthPose(), SynthPose()
    for s in ("left", "right"):
        x = 0.1 if s == "left" else -0.1
        sit.set(f"{s}_knee", (x, 0, 0.42)).set(f"{s}_ankle", (x, -0.45, 0.42))
        squat.set(f"{s}_knee", (x, 0, 0.42)).set(f"{s}_ankle", (x, -0.35, 0.15))
    assert _postures(sit) == {"sitting"}
    assert _postures(squat) == {"squatting"}
    lying = SynthPose()
    lying.p = lying.p @ np.array([[1, 0, 0], [0, 0, -1], [0, 1, 0]]).T   # feet forward, face up
    assert "lying" in _postures(lying)


# --- symmetry and invariance ----------------------------------------------------------------------
def _swap(s: str) -> str:
    """Swap side words ('right angle' is a bin name, not a side)."""
    s = re.sub(r"left", "\0", s)
    s = re.sub(r"right(?! angle)", "left", s)
    return s.replace("\0", "right")


def _canon(facts, swap=False) -> set:
    t = _swap if swap else (lambda s: s)
    return {(f.kind, t(f.quantity), frozenset(t(p) for p in f.parts), t(f.bin),
             round(abs(f.value), 6)) for f in facts}


def asymmetric_pose() -> SynthPose:
    p = SynthPose().bend("left_elbow", 90).bend("right_knee", 120).raise_arm("right")
    p.move("left_ankle", (0.05, 0, 0.2))
    return rotate_upper_body(p, fwd_deg=18, left_deg=20)


def test_mirror_swaps_sides_of_every_fact_and_nothing_else():
    w = asymmetric_pose().world(yaw=40)
    facts = pose_facts(w)
    mirrored = pose_facts(mirror(w, blazepose().mirror_index))
    assert len(facts) > 20
    assert _canon(mirrored) == _canon(facts, swap=True)
    assert _canon(mirrored) != _canon(facts)


def test_rotation_about_vertical_changes_only_turn():
    p = asymmetric_pose()
    base = {f.quantity: f for f in pose_facts(p.world())}
    for yaw in (25, 90, -135):
        rot = {f.quantity: f for f in pose_facts(p.world(yaw=yaw))}
        assert set(rot) == set(base)
        changed = {q for q in base if (rot[q].bin, round(rot[q].value, 6)) !=
                   (base[q].bin, round(base[q].value, 6))}
        assert changed == {"turn"}


def test_translation_changes_nothing():
    p = asymmetric_pose()
    a, b = pose_facts(p.world()), pose_facts(p.world(shift=(1.5, -2.0, 3.0)))
    assert [(f.quantity, f.bin) for f in a] == [(f.quantity, f.bin) for f in b]
    assert [f.value for f in a] == pytest.approx([f.value for f in b], abs=1e-9)


def image_of(w: np.ndarray, scale=(0.25, 0.33)) -> np.ndarray:
    """Normalised image landmarks that agree with world landmarks (weak perspective)."""
    img = np.array(w, dtype=np.float32, copy=True)
    img[..., 0] = 0.5 + scale[0] * w[..., 0]
    img[..., 1] = 0.5 + scale[1] * w[..., 1]
    return img


def test_image_scaling_does_not_change_world_facts():
    w = track([asymmetric_pose()] * 2)
    t1 = PoseTrack(image_of(w), w, 30.0, 640, 480)
    t2 = PoseTrack(image_of(w, (0.5 * 0.75, 0.5 * 0.7)), w, 30.0, 1920, 1080)
    facts = pose_facts(t1, 1)
    assert facts == pose_facts(t2, 1) == pose_facts(t1.world, 1) and len(facts) > 10


# --- world-vs-image consistency ---------------------------------------------------------------
def test_world_skeleton_contradicting_the_image_is_not_described():
    from models.describe.consistency import inconsistent_frames

    w = track([SynthPose().bend("left_elbow", 90)] * 4)
    img = image_of(w)
    flipped = w.copy()
    flipped[1, :, 1] *= -1                  # frame 1: world skeleton upside down
    flipped[2, :, 0] *= -1                  # frame 2: world skeleton mirrored left/right
    t = PoseTrack(img, flipped, 30.0, 640, 480)
    assert list(inconsistent_frames(t)) == [False, True, True, False]
    tf = track_facts(t)
    for i in (1, 2):
        facts = tf.facts_at(i)
        assert [f.quantity for f in facts] == ["reliability"] == [f.quantity for f in pose_facts(t, i)]
        assert describe(facts) == "Not described: 3-D pose contradicts the image."
    assert describe(tf.facts_at(3)) == describe(pose_facts(w, 3))   # consistent frames unchanged
    assert "upside down" in describe(pose_facts(flipped, 1))        # what the check prevents
    side = SynthPose().world(yaw=90)        # a side view has no left/right offset: never flagged
    side_w = track([side])
    side_img = image_of(side_w)
    side_img[..., 0] = 0.5 - 0.25 * side_w[..., 0]
    assert not inconsistent_frames(PoseTrack(side_img, side_w, 30.0, 640, 480)).any()


# --- visibility, partial and empty poses ------------------------------------------------------------
def test_low_visibility_joints_give_no_facts_and_are_named():
    p = asymmetric_pose()
    p.vis[[25, 27, 29, 31]] = 0.3           # left knee, ankle, heel, toe
    facts = pose_facts(p.world())
    for f in facts:
        if f.kind != "unknown":
            assert min(p.vis[list(f.joints)]) >= 0.5, f.quantity
            assert f.visibility >= 0.5
    assert [f.parts for f in facts if f.kind == "unknown"] == [("left_leg",)]
    assert describe(facts).endswith("The left leg is not visible.")
    assert not any(f.quantity == "left_knee_angle" for f in facts)
    assert any(f.quantity == "right_knee_angle" for f in facts)


def test_frame_without_pose():
    w = np.full((33, 4), np.nan)
    facts = pose_facts(w)
    assert [f.kind for f in facts] == ["unknown"]
    assert describe(facts) == "No person is visible."


# --- text ----------------------------------------------------------------------------------
def test_text_plural_order_and_pruning():
    p = SynthPose().bend("left_knee", 90).bend("right_knee", 90)
    text = describe(pose_facts(p.world()))
    assert "Both knees are bent at a right angle" in text
    assert text.index("kneeling") < text.index("knees are bent") < text.index("feet")
    standing = pose_facts(SynthPose().world())
    assert any(f.quantity == "left_knee_angle" and f.bin == "straight" for f in standing)
    text = describe(standing)
    assert "knee" not in text.split("legs are straight")[0]   # implied by vertical thigh+shin
    assert text == describe(standing)                           # deterministic
    assert text.startswith("The person is standing, facing the camera.")


def test_fact_json_round_trip():
    facts = pose_facts(asymmetric_pose().world(), frame=7)
    doc = json.loads(json.dumps([f.to_dict() for f in facts]))
    assert [Fact.from_dict(d) for d in doc][0].frame == 7
    back = [Fact.from_dict(d) for d in doc]
    assert [(f.quantity, f.bin, f.joints) for f in back] == [(f.quantity, f.bin, f.joints) for f in facts]
    assert {"parts", "quantity", "value", "unit", "bin", "frame", "visibility"} <= set(doc[0])


# --- track level ---------------------------------------------------------------------------
def test_track_facts_match_per_frame_facts():
    poses = [SynthPose().bend("left_elbow", a).bend("right_knee", 200 - a) for a in (40, 70, 100, 130, 170)]
    w = track(poses)
    tf = track_facts(w, hysteresis=False)
    assert tf.values.shape == (5, len(tf.specs))
    for i in range(5):
        assert tf.facts_at(i) == pose_facts(w, i)
    assert list(tf.labels("left_elbow_angle")) == ["completely bent", "bent more", "right angle",
                                                   "bent less", "straight"]


def test_hysteresis_keeps_bins_near_an_edge():
    angles = [100, 104, 106, 103, 107, 115, 106, 104, 100]
    w = track([SynthPose().bend("left_knee", a) for a in angles])
    plain = list(track_facts(w, hysteresis=False).labels("left_knee_angle"))
    held = list(track_facts(w).labels("left_knee_angle"))
    assert plain == ["right angle", "right angle", "bent less", "right angle", "bent less",
                     "bent less", "bent less", "right angle", "right angle"]
    assert held == ["right angle"] * 5 + ["bent less"] * 3 + ["right angle"]


def test_clauses_about_one_subject_merge_even_when_not_adjacent():
    from models.describe.text import merge_subjects

    clauses = ["the hands are close together", "the left hand is at head height",
               "the hands are at the same height", "both knees are straight",
               "the knees are close together", "the torso leans slightly back",
               "the torso twists clearly to the right"]
    assert merge_subjects(clauses) == [
        "the hands are close together and at the same height", "the left hand is at head height",
        "both knees are straight and close together",
        "the torso leans slightly back and twists clearly to the right"]
    raised = SynthPose().raise_arm("left").raise_arm("right")
    text = describe(pose_facts(raised.world()))
    for subject in ("the hands", "both hands", "the arms", "both arms"):
        assert text.lower().count(subject + " ") <= 1, (subject, text)
