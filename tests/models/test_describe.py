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


SW = 0.36   # the synthetic person's shoulder width (m): distances are in shoulder widths


@pytest.mark.parametrize("d,label", [(0.3, "close"), (0.599, "close"), (0.601, None),
                                     (0.801, "shoulder-width"), (1.299, "shoulder-width"),
                                     (1.301, None), (1.601, "spread"), (2.499, "spread"),
                                     (2.501, "wide")])
def test_hand_distance_bins(d, label):
    f = facts_by_q(_hands_apart(d * SW)).get("hands_distance")
    assert (None if f is None else f.bin) == label
    if f is not None:
        assert f.value == pytest.approx(d) and f.unit == "sw"
        assert {11, 12} <= set(f.joints)          # rests on the shoulders it is measured in


def test_hands_a_quarter_metre_apart_are_not_shoulder_width():
    """Seen on real footage: hands 0.24 m apart were "about shoulder-width apart"."""
    assert bin_of(_hands_apart(0.24), "hands_distance") != "shoulder-width"
    wide = SynthPose()
    for side, x in (("left", 0.3), ("right", -0.3)):        # a broad person, same hands
        wide.set(f"{side}_shoulder", (x, 0.5, 0))
    wide.set("left_wrist", (0.12, 0.2, 0.3)).set("right_wrist", (-0.12, 0.2, 0.3))
    assert bin_of(wide.world(), "hands_distance") == "close"


def test_raised_hand_is_above_head():
    p = SynthPose().raise_arm("right")
    f = facts_by_q(p.world())
    assert f["right_hand_above_head"].bin == "above"
    assert f["left_hand_above_head"].bin == "below"          # a fact, pruned from the text
    assert "below the head" not in describe(pose_facts(p.world()))
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
    # a foot rests on its lowest point (heel or toe): the toe is the floor here
    base = SynthPose()
    assert facts_by_q(base.world())["left_foot_ground"].value == pytest.approx(0.0)
    assert bin_of(SynthPose().move("left_ankle", (0, 0.099, 0)).world(),
                  "left_foot_ground") == "on the ground"
    assert bin_of(SynthPose().move("left_ankle", (0, 0.101, 0)).world(),
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
    assert facts == pose_facts(t2, 1) and len(facts) > 10
    # with the image at hand, only claims the image cannot back are dropped (the left
    # forearm and the right shin point along the camera axis: those angles rest on depth)
    world_only = pose_facts(t1.world, 1)
    assert set(facts) < set(world_only)
    assert {f.quantity for f in world_only} - {f.quantity for f in facts} == {
        "left_elbow_angle", "right_knee_angle"}


# --- world-vs-image consistency ---------------------------------------------------------------
def test_world_skeleton_contradicting_the_image_is_not_described():
    from models.pose.consistency import inconsistent_frames

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
    assert describe(tf.facts_at(3)) == describe(pose_facts(t, 3))   # consistent frames described
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


# --- rules that match anatomy (errors seen on real footage) ------------------------------------
def _rot_x(p: SynthPose, deg: float, joints=None) -> SynthPose:
    """Rotate joints (default: all) about the x axis through the hip centre; + tips +y to +z."""
    a = np.radians(deg)
    r = np.array([[1, 0, 0], [0, np.cos(a), -np.sin(a)], [0, np.sin(a), np.cos(a)]])
    idx = list(range(33)) if joints is None else joints
    p.p[idx] = p.p[idx] @ r.T
    return p


def _facts(p: SynthPose):
    return pose_facts(p.world())


def _posture_phrases(facts) -> dict:
    return {f.bin: f.phrase for f in facts if f.kind == "posture"}


def test_cobra_pose_is_lying_face_down_not_kneeling():
    """Prone, hips on the mat, chest raised, both knees straight and near the floor."""
    from models.describe.contradictions import contradictions

    p = _rot_x(SynthPose(), 90)                          # lying face down along +z
    _rot_x(p, -50, list(range(23)))                      # chest raised 50 deg off the mat
    facts = _facts(p)
    postures = _posture_phrases(facts)
    assert "kneeling" not in postures
    assert postures.get("lying") == "lying face down"
    assert contradictions(facts) == []


def test_leaning_back_is_not_bending_over():
    facts = pose_facts(rotate_upper_body(SynthPose(), fwd_deg=-50).world())
    q = {f.quantity: f.bin for f in facts}
    assert q["lean_fb"] == "clearly back"
    assert "bending over" not in _posture_phrases(facts)
    forward = pose_facts(rotate_upper_body(SynthPose(), fwd_deg=50).world())
    assert _posture_phrases(forward)["bending over"] == "bending forward"


def _deep_squat() -> SynthPose:
    """Overhead squat: knees at 62 deg above the hips, shins vertical, torso 25 deg forward
    (the old rules read thighs near horizontal + vertical shins + upright torso as a chair)."""
    p = rotate_upper_body(SynthPose().raise_arm("left").raise_arm("right"), fwd_deg=25)
    for s, x in (("left", 1), ("right", -1)):
        p.set(f"{s}_knee", (0.17 * x, 0.21, 0.4)).set(f"{s}_ankle", (0.15 * x, -0.24, 0.4))
    return p


def test_deep_overhead_squat_is_squatting_not_sitting():
    p = _deep_squat()
    knee = facts_by_q(p.world())["left_knee_angle"].value
    assert knee < 70
    assert set(_posture_phrases(_facts(p))) == {"squatting", "arms raised"}
    chair = SynthPose()                                      # on a chair: hips behind the feet
    for s, x in (("left", 1), ("right", -1)):
        chair.set(f"{s}_knee", (0.1 * x, 0, 0.44)).set(f"{s}_ankle", (0.1 * x, -0.45, 0.44))
    assert set(_posture_phrases(_facts(chair))) == {"sitting"}


def test_leg_behind_the_body_is_an_extended_hip_not_a_flexed_one():
    p = SynthPose().set("left_knee", (0.1, -0.42, -0.17)).set("left_ankle", (0.1, -0.84, -0.34))
    f = facts_by_q(p.world())
    assert f["left_hip_angle"].bin == "extended" and "flexed" not in f["left_hip_angle"].phrase
    front = SynthPose().set("left_knee", (0.1, -0.42, 0.17)).set("left_ankle", (0.1, -0.84, 0.34))
    assert facts_by_q(front.world())["left_hip_angle"].bin == "slightly bent"     # flexed
    assert "slightly flexed" in facts_by_q(front.world())["left_hip_angle"].phrase
    back_arm = SynthPose().set("left_elbow", (0.18, 0.3, -0.2)).set("left_wrist", (0.18, 0.1, -0.4))
    assert facts_by_q(back_arm.world())["left_shoulder_angle"].bin == "extended"


def test_a_full_profile_is_a_quarter_turn():
    assert bin_of(SynthPose().world(yaw=-55), "turn") == "quarter right"
    assert bin_of(SynthPose().world(yaw=50), "turn") == "quarter left"
    assert bin_of(SynthPose().world(yaw=30), "turn") == "slightly left"


def _hands_and_knees() -> SynthPose:
    p = rotate_upper_body(SynthPose(), fwd_deg=90)           # torso horizontal
    for s, x in (("left", 0.18), ("right", -0.18)):
        z = p.get(f"{s}_shoulder")[2]
        p.set(f"{s}_elbow", (x, -0.215, z)).set(f"{s}_wrist", (x, -0.43, z))
        p.set(f"{s}_ankle", (x * 0.6, -0.45, -0.45))            # shins along the floor
    return p


def test_hands_planted_under_the_shoulders_are_not_behind_the_body():
    facts = _facts(_hands_and_knees())
    assert not any(f.quantity.endswith("_hand_in_front") for f in facts)
    postures = _posture_phrases(facts)
    assert postures == {"kneeling": "on hands and knees"}


def test_a_foot_flat_on_the_mat_is_on_the_ground_under_a_tilted_camera():
    p = _rot_x(SynthPose(), -90)                         # lying on the back along -z
    p.p[:, 1] -= p.p[:, 1].min()
    _rot_x(p, 15)                                        # camera pitched by 15 deg
    f = facts_by_q(p.world())
    assert f["left_foot_ground"].bin == f["right_foot_ground"].bin == "on the ground"
    assert _posture_phrases(list(f.values()))["lying"] == "lying on the back"


def test_a_hidden_limb_is_not_described():
    from models.describe.contradictions import contradictions

    p = SynthPose()
    p.vis[[15, 17, 19, 21]] = 0.2                        # left hand hidden
    facts = _facts(p)
    hidden = [f for f in facts if f.kind == "unknown"]
    assert [f.parts for f in hidden] == [("left_arm",)]
    assert not any({13, 15} & set(f.joints) for f in facts if f.kind != "unknown")
    assert "left upper arm" not in describe(facts)
    assert contradictions(facts) == []


def _image_track(world_seen: np.ndarray, world_3d: np.ndarray) -> PoseTrack:
    """A track whose image landmarks are the projection of ``world_seen`` while its world
    landmarks are ``world_3d`` (the 3-D estimate that may disagree with the picture)."""
    w = track([world_3d])
    return PoseTrack(image_of(track([world_seen])), w, 30.0, 640, 480)


def test_side_view_elbow_angle_the_image_contradicts_is_dropped():
    seen = SynthPose().bend("left_elbow", 57).world(yaw=90)     # the picture: ~57 deg
    guess = SynthPose().bend("left_elbow", 88).world(yaw=90)    # the 3-D estimate: 88 deg
    assert bin_of(guess, "left_elbow_angle") == "right angle"  # what was said before
    facts = {f.quantity: f for f in pose_facts(_image_track(seen, guess), 0)}
    assert "left_elbow_angle" not in facts
    agree = {f.quantity: f for f in pose_facts(_image_track(seen, seen), 0)}
    assert agree["left_elbow_angle"].bin == "bent more"          # in the image plane: kept


def test_front_rack_elbows_pointing_at_the_camera_are_not_called_partly_bent():
    p = SynthPose()
    for s, x in (("left", 0.18), ("right", -0.18)):
        p.set(f"{s}_elbow", (x, 0.45, 0.27)).set(f"{s}_wrist", (x * 0.8, 0.62, 0.1))
    w = p.world()
    assert bin_of(w, "left_elbow_angle") in ("bent more", "completely bent", "right angle", "bent less")
    facts = {f.quantity for f in pose_facts(_image_track(w, w), 0)}
    assert "left_elbow_angle" not in facts and "right_elbow_angle" not in facts


def test_a_bowed_head_is_no_reference_for_a_hand_above_the_head():
    """Leaning over a table with the head below the shoulders, a hand level with its shoulder
    is not "above the head" (a contradiction the clip check found on arm wrestling)."""
    up = SynthPose().raise_arm("right").world()
    assert bin_of(up, "right_hand_above_head") == "above"
    bowed = np.array(up, copy=True)
    nose = 0
    shoulder_y = bowed[[11, 12], 1].mean()        # MediaPipe world axes: y points down
    bowed[nose, 1] = shoulder_y + 0.10            # the head sinks below the shoulders
    assert "right_hand_above_head" not in facts_by_q(bowed)
    assert "arms raised" not in {f.bin for f in pose_facts(bowed) if f.kind == "posture"}
