"""Measurements -> bin codes (with hysteresis) -> posture labels -> Fact objects.

API
---
``track_facts(world, min_visibility=None, hysteresis=True) -> TrackFacts``
    ``world``: a ``PoseTrack`` or world landmarks (frames, joints, 3|4), MediaPipe axes.
    Everything is computed for all frames in one vectorised pass; values of joints below
    the visibility threshold (default: the configured 0.5) are NaN and get no bin.
    Hysteresis keeps a frame in the previous bin while the value stays within the
    group's ``margin`` of the bin edge (vectorised Schmitt trigger: a value whose
    +-margin interval spans an edge inherits the bin of the last frame that did not).
``pose_facts(track_or_world, frame=None, min_visibility=None) -> list[Fact]``
    Facts of one frame (no hysteresis): ``frame`` picks a frame of a track/array; a
    single (joints, 3|4) frame needs none. Parts below the visibility threshold are not
    described; each such body region gives one ``kind="unknown"`` fact instead, and a
    frame with no pose gives a single unknown fact about the whole body.
"""
from __future__ import annotations

import numpy as np

from ..body import body_frame
from ..errors import StudioError
from ..pose.skeleton import blazepose
from .agreement import angle_doubts, outside_frame
from .config import bin_codes, config, group
from ..pose.reliability import one_frame, unreliable_frames
from .facts import Fact, TrackFacts, phrase_for
from .measure import measure, plan

# Regions named in "not visible" facts. They do not overlap, and no claim is made that rests
# on a joint of a region said to be not visible (a limb is either hidden or described).
UNKNOWN_REGIONS = {
    "head": (0, 7, 8), "shoulders": (11, 12), "hips": (23, 24),
    "left arm": (13, 15), "right arm": (14, 16),
    "left leg": (25, 27), "right leg": (26, 28),
}
POSTURES = ("lying", "sitting", "kneeling", "squatting", "standing", "bending over",
            "arms raised")


class DescribeError(StudioError):
    """Bad input for pose description, differences or motion facts."""


def as_world(track_or_world) -> np.ndarray:
    world = getattr(track_or_world, "world", track_or_world)
    w = np.asarray(world, dtype=np.float64)
    if w.ndim == 2:
        w = w[None]
    n = blazepose().n
    if w.ndim != 3 or w.shape[1] != n or w.shape[2] not in (3, 4):
        raise DescribeError(f"Expected BlazePose world landmarks (frames, {n}, 4), got {w.shape}.")
    return w


def _min_vis(min_visibility) -> float:
    return float(config()["min_visibility"] if min_visibility is None else min_visibility)


def _hysteresis(raw, lo, hi):
    frames, n = raw.shape
    forced = (lo == hi) | (raw < 0)
    idx = np.where(forced, np.arange(frames)[:, None], -1)
    last = np.maximum.accumulate(idx, axis=0)
    cand = raw[np.clip(last, 0, None), np.arange(n)]
    keep = ~forced & (last >= 0) & (cand >= lo) & (cand <= hi) & (cand >= 0)
    return np.where(keep, cand, raw)


def _codes(values: np.ndarray, specs, hysteresis: bool) -> np.ndarray:
    codes = np.empty(values.shape, dtype=np.int16)
    groups: dict = {}
    for j, m in enumerate(specs):
        groups.setdefault(m.group, []).append(j)
    for name, cols in groups.items():
        grp, v = group(name), values[:, cols]
        raw = _bins(v, grp)
        if hysteresis and len(v) > 1 and grp.get("margin"):
            lo, hi = _bins(v, grp, -grp["margin"]), _bins(v, grp, grp["margin"])
            raw = _hysteresis(raw, lo, hi)
        codes[:, cols] = raw
    return codes


def _bins(v, grp, margin=0.0):
    return bin_codes(v, grp, margin)


def _postures(values, specs, pts):
    """Posture flags (frames, P) and lying / kneeling variants (frames,) from the written
    conditions of ADR 0009 (every threshold in ``posecodes.json`` "postures")."""
    c = {m.id: j for j, m in enumerate(specs)}
    t = config()["postures"]
    col = lambda k: values[:, c[k]]  # noqa: E731
    pair = lambda k: (col("left_" + k), col("right_" + k))  # noqa: E731
    g = t["contact_max"]
    with np.errstate(invalid="ignore"):
        torso, hips, lean = col("torso_orientation"), col("hips_ground"), col("lean_fb")
        (kl, kr), (tl, tr) = pair("knee_angle"), pair("thigh_orientation")
        (gl, gr), (nl, nr), (hl, hr) = pair("foot_ground"), pair("knee_ground"), pair("hand_ground")
        feet_down = (gl <= g) | (gr <= g)
        both_feet_seen = ~np.isnan(gl) & ~np.isnan(gr)
        upright = torso <= t["upright_torso_max"]
        # lying: hips on / near the floor and the torso (or the straight legs) along it
        legs_along = ((np.abs(tl - 90) <= 30) & (np.abs(tr - 90) <= 30)
                      & (np.minimum(kl, kr) >= t["standing_knee_min"]))
        hips_ext = (col("left_hip_angle") > 180) | (col("right_hip_angle") > 180)
        lying = (hips <= t["lying_hips_max"]) & (
            ((torso >= t["lying_torso_min"]) & (torso <= 180 - t["lying_torso_min"]))
            | (legs_along & hips_ext & (torso >= t["upright_torso_max"])))
        # kneeling: a knee on the floor AND that knee flexed, the hips above the knees
        kneel_l = (nl <= g) & (kl <= t["kneeling_knee_max"])
        kneel_r = (nr <= g) & (kr <= t["kneeling_knee_max"])
        kneel = (kneel_l | kneel_r) & (hips > np.fmin(nl, nr)) & ~lying
        hands_down = (hl <= g) & (hr <= g)
        on_all_fours = kneel & hands_down & (torso >= t["hands_knees_torso_min"])
        # sitting needs a support cue: hips on the floor, or a seat (hips raised but behind
        # the feet so far that the feet cannot carry the body's weight)
        behind = _behind_feet(pts)
        thighs_flat = ((np.abs(tl - 90) <= t["sitting_thigh_max_tilt"])
                       & (np.abs(tr - 90) <= t["sitting_thigh_max_tilt"]))
        knees_sit = ((np.minimum(kl, kr) >= t["sitting_knee_min"])
                     & (np.maximum(kl, kr) <= t["sitting_knee_max"]))
        flexed = ((col("left_hip_angle") <= t["sitting_hip_max"])
                  & (col("right_hip_angle") <= t["sitting_hip_max"]))
        on_floor = (hips <= t["sitting_floor_hips_max"]) & (torso <= t["sitting_torso_max"]) & flexed
        on_seat = ((hips >= t["sitting_seat_hips_min"]) & thighs_flat & knees_sit
                   & (torso <= t["sitting_torso_max"]) & (behind >= t["sitting_behind_feet_min"]))
        sit = (on_floor | on_seat) & ~kneel & ~lying
        squat = ((np.maximum(kl, kr) <= t["squat_knee_max"]) & (hips > g) & (hips <= t["squat_hips_max"])
                 & feet_down & (torso <= t["lying_torso_min"]) & ~sit & ~kneel & ~lying)
        stand = ((np.minimum(kl, kr) >= t["standing_knee_min"]) & upright & feet_down & both_feet_seen
                 & (hips >= t["standing_hips_min"]) & ~kneel & ~lying & ~sit & ~squat)
        # bending over: forward flexion only (leaning back is the lean fact)
        bend = ((torso >= t["bending_torso_min"]) & (lean >= t["bending_lean_min"])
                & ~lying & ~on_all_fours)
        clear = group("above")["edges"][-1]
        up = (col("left_hand_above_head") > clear) & (col("right_hand_above_head") > clear)
    variant = np.full(len(values), "", dtype=object)
    variant[on_all_fours] = "hands and knees"
    lv = _lying_variant(pts, t)
    variant[lying] = lv[lying]
    return np.stack([lying, sit, kneel, squat, stand, bend, up], axis=1), variant


# rough segment masses (fractions of the body): trunk, head, each arm, thigh, shank + foot
_MASS = (((11, 12, 23, 24), 0.5), ((0,), 0.08), ((11, 15), 0.05), ((12, 16), 0.05),
         ((23, 25), 0.1), ((24, 26), 0.1), ((25, 27), 0.06), ((26, 28), 0.06))


def _behind_feet(pts) -> np.ndarray:
    """How far (m) the body's centre of mass (segment model ``_MASS``) is behind the
    rearmost heel/toe along the body's forward axis; NaN when a point is missing. A body
    balanced on its feet has it over them; well behind them, a seat carries the weight."""
    z = pts[..., 2]
    com = sum(w * z[:, list(j)].mean(axis=1) for j, w in _MASS)
    with np.errstate(invalid="ignore"):
        return z[:, [29, 30, 31, 32]].min(axis=1) - com


def _lying_variant(pts, t) -> np.ndarray:
    """"prone" / "supine" / "side" from the chest normal and the hip line (body frame)."""
    p = pts[..., :3]
    left = p[:, [11, 23]].mean(axis=1) - p[:, [12, 24]].mean(axis=1)
    up = p[:, [11, 12]].mean(axis=1) - p[:, [23, 24]].mean(axis=1)
    chest = np.cross(left, up)
    with np.errstate(invalid="ignore", divide="ignore"):
        cy = chest[:, 1] / np.linalg.norm(chest, axis=1)
        ly = np.abs(left[:, 1]) / np.linalg.norm(left, axis=1)
    out = np.full(len(p), "", dtype=object)
    out[cy <= -t["lying_face_min"]] = "prone"
    out[cy >= t["lying_face_min"]] = "supine"
    out[ly >= t["lying_side_min"]] = "side"
    return out


POSTURE_USES = {
    "lying": ("torso_orientation", "hips_ground"),
    "sitting": ("torso_orientation", "hips_ground", "{s}_knee_angle", "{s}_thigh_orientation"),
    "kneeling": ("{s}_knee_ground", "{s}_knee_angle", "hips_ground"),
    "squatting": ("hips_ground", "{s}_knee_angle", "{s}_foot_ground"),
    "standing": ("torso_orientation", "hips_ground", "{s}_knee_angle", "{s}_foot_ground"),
    "bending over": ("torso_orientation", "lean_fb"),
    "arms raised": ("{s}_hand_above_head",),
}


def posture_support(tf: TrackFacts, i: int, label: str) -> tuple[tuple, float]:
    """(joints, lowest visibility) of the visible measurements a posture label rests on."""
    joints: list[int] = []
    vis = 1.0
    for q in POSTURE_USES[label]:
        for side in (("left", "right") if "{s}" in q else ("",)):
            j = tf.column(q.replace("{s}", side))
            if tf.vis[i, j] >= tf.min_visibility:
                joints += [k for k in tf.specs[j].resting_joints() if k not in joints]
                vis = min(vis, float(tf.vis[i, j]))
    return tuple(joints), vis


def track_facts(world, min_visibility=None, hysteresis: bool = True,
                first_frame: int = 0) -> TrackFacts:
    """Every measurement, bin and posture label for every frame (see module docstring)."""
    w = as_world(world)
    judged = unreliable_frames(world)   # None for bare world arrays
    bad, why = judged if judged is not None else (np.zeros(len(w), dtype=bool), [""] * len(w))
    image = _image(world, len(w))
    if bad.any() or image is not None:
        w = w.copy()
        w[bad, :, :3] = np.nan          # not a trustworthy pose: measure nothing there
    if image is not None:
        if w.shape[-1] == 3:
            w = np.concatenate([w, np.ones(w.shape[:2] + (1,))], axis=-1)
        w[..., 3] = np.where(outside_frame(image), 0.0, w[..., 3])   # guessed, not seen
    mv = _min_vis(min_visibility)
    pts, yaw = body_frame(w)
    values, vis = measure(pts, yaw, mv)
    vis = np.nan_to_num(vis, nan=0.0)
    values = np.where(vis >= mv, values, np.nan)
    specs = plan().specs
    if image is not None:
        size = (float(getattr(world, "width", 1) or 1), float(getattr(world, "height", 1) or 1))
        values = np.where(angle_doubts(w, image, size, specs, blazepose().index), np.nan, values)
    values = _gate_head(_gate_upright(values, specs), specs, pts)
    codes = _codes(values, specs, hysteresis)
    flags, variants = _postures(values, specs, pts)
    jvis = w[..., 3] if w.shape[-1] > 3 else np.where(np.isnan(w[..., 0]), 0.0, 1.0)
    tf = TrackFacts(specs, values, codes, vis, flags, POSTURES, first_frame)
    tf.joint_vis = np.nan_to_num(jvis, nan=0.0)
    tf.min_visibility = mv
    tf.unreliable = bad
    tf.variants = variants
    tf.unreliable_reasons = why
    return tf


def _image(world, frames: int):
    """Image landmarks (frames, joints, >=2) of a track-like input, or None."""
    image = getattr(world, "image", None)
    if image is None:
        return None
    img = np.asarray(image, dtype=np.float64)
    if img.ndim == 2:
        img = img[None]
    return img if img.shape[:2] == (frames, blazepose().n) else None


def _gate_upright(values, specs):
    """"In front of / behind the body" is only said of a torso within 45 deg of upright."""
    cols = [j for j, m in enumerate(specs) if m.upright_only]
    if not cols:
        return values
    torso = values[:, [m.id for m in specs].index("torso_orientation")]
    with np.errstate(invalid="ignore"):
        return _keep_where(values, cols, torso <= 45.0)


HEAD_ABOVE_SHOULDERS_M = 0.05   # the nose at least this much above the higher shoulder


def _gate_head(values, specs, pts):
    """A hand is only compared with the head while the head is above the shoulders: a bowed
    head (bending over, leaning on a table) is no reference for "above the head", and the
    hand would read as above the head while level with its shoulder."""
    cols = [j for j, m in enumerate(specs) if m.id.endswith("_hand_above_head")]
    if not cols:
        return values
    with np.errstate(invalid="ignore"):
        shoulders = np.fmax(pts[:, 11, 1], pts[:, 12, 1])
        return _keep_where(values, cols, pts[:, 0, 1] >= shoulders + HEAD_ABOVE_SHOULDERS_M)


def _keep_where(values, cols: list, ok):
    """``values`` with columns ``cols`` blanked (NaN: no claim) on the frames where ``ok`` is false."""
    values = values.copy()
    values[:, cols] = np.where(ok[:, None], values[:, cols], np.nan)
    return values


def facts_from_row(tf: TrackFacts, i: int) -> list[Fact]:
    frame = tf.first_frame + i
    if getattr(tf, "unreliable", None) is not None and tf.unreliable[i]:
        reasons = getattr(tf, "unreliable_reasons", None)
        return [unreliable_fact(frame, reasons[i] if reasons else "")]
    out = _unknown_facts(tf, i, frame)
    if out and out[0].parts == ("body",):
        return out
    hidden = {j for f in out for j in f.joints}     # a limb is either "not visible" or described
    out = [f for f in _posture_facts(tf, i, frame) if not hidden & set(f.joints)] + out
    for j, m in enumerate(tf.specs):
        code = int(tf.codes[i, j])
        phrase = phrase_for(m, code) if code >= 0 else None
        if phrase is None or hidden & set(m.resting_joints()):
            continue
        out.append(Fact(m.type, m.parts(), m.id, float(tf.values[i, j]), group(m.group)["unit"],
                        group(m.group)["labels"][code], frame, float(tf.vis[i, j]),
                        m.resting_joints(), m.region, m.side, phrase))
    return out


def unreliable_fact(frame, reason: str = "") -> Fact:
    """The one marker of a frame whose pose is not trustworthy (``models.pose.reliability``):
    it asserts nothing about the body, its phrase says why the frame is not described."""
    return Fact("unknown", ("body",), "reliability", 0.0, "", "unreliable", frame,
                0.0, (), "body", "centre", reason or "the pose is not reliable")


def _posture_facts(tf: TrackFacts, i: int, frame: int) -> list[Fact]:
    phrases = config()["postures"]["phrases"]
    out = []
    for k, label in enumerate(tf.posture_labels):
        if tf.postures[i, k]:
            joints, vis = posture_support(tf, i, label)
            variant = str(getattr(tf, "variants", [""] * (i + 1))[i] or "")
            phrase = phrases[label]
            if variant and label in ("lying", "kneeling"):
                phrase = config()["postures"]["variants"][variant]
            out.append(Fact("posture", ("body",), "posture", 1.0, "", label, frame, vis, joints,
                            "body", "centre", phrase, {"variant": variant} if variant else {}))
    return out


def _unknown_facts(tf: TrackFacts, i: int, frame: int) -> list[Fact]:
    jv = tf.joint_vis[i]
    if not (jv >= tf.min_visibility).any():
        return [Fact("unknown", ("body",), "visibility", float(jv.max()), "", "not visible",
                     frame, float(jv.max()), (), "body", "centre", "no person is visible")]
    out = []
    for name, joints in UNKNOWN_REGIONS.items():
        v = float(jv[list(joints)].min())
        if v < tf.min_visibility:
            side = name.split()[0] if " " in name else "centre"
            region = {"head": "body", "shoulders": "torso", "hips": "torso"}.get(name, name.split()[-1] + "s")
            out.append(Fact("unknown", (name.replace(" ", "_"),), "visibility", v, "",
                            "not visible", frame, v, joints, region, side,
                            f"the {name} is not visible"))
    return out


def pose_facts(track_or_world, frame=None, min_visibility=None) -> list[Fact]:
    """Facts of one frame (see module docstring)."""
    w = as_world(track_or_world)
    if frame is None:
        if len(w) != 1:
            raise DescribeError(f"Pick a frame: the track has {len(w)} frames.")
        frame, sel = 0, track_or_world
    elif len(w) == 1:
        frame, sel = int(frame), track_or_world
    else:
        if not 0 <= int(frame) < len(w):
            raise DescribeError(f"Frame {frame} is out of range (the clip has {len(w)} frames).")
        frame = int(frame)
        sel = _one_frame(track_or_world, w, frame)
    return track_facts(sel, min_visibility, hysteresis=False, first_frame=frame).facts_at(0)


def frame_track(track, frame: int):
    """Frame ``frame`` of a track as a one-frame track (world and image landmarks)."""
    return _one_frame(track, as_world(track), int(frame))


def _one_frame(track, w: np.ndarray, frame: int):
    """Frame ``frame`` alone, keeping its reliability judgement (made on the whole track)."""
    if unreliable_frames(track) is None:
        return w[frame:frame + 1]
    return one_frame(track, frame)
