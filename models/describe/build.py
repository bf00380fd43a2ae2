"""Measurements -> bin codes (with hysteresis) -> posture labels -> Fact objects.

API
---
``track_facts(world, min_visibility=None, hysteresis=True) -> TrackFacts``
    ``world``: a ``PoseTrack`` or world landmarks (frames, 33, 3|4), MediaPipe axes.
    Everything is computed for all frames in one vectorised pass; values of joints below
    the visibility threshold (default: the configured 0.5) are NaN and get no bin.
    Hysteresis keeps a frame in the previous bin while the value stays within the
    group's ``margin`` of the bin edge (vectorised Schmitt trigger: a value whose
    +-margin interval spans an edge inherits the bin of the last frame that did not).
``pose_facts(track_or_world, frame=None, min_visibility=None) -> list[Fact]``
    Facts of one frame (no hysteresis): ``frame`` picks a frame of a track/array; a
    single (33, 3|4) frame needs none. Parts below the visibility threshold are not
    described; each such body region gives one ``kind="unknown"`` fact instead, and a
    frame with no pose gives a single unknown fact about the whole body.
"""
from __future__ import annotations

import numpy as np

from ..body import body_frame
from ..errors import StudioError
from .config import bin_codes, config, group
from ..pose.reliability import one_frame, unreliable_frames
from .facts import Fact, TrackFacts, phrase_for
from .measure import measure, plan

UNKNOWN_REGIONS = {
    "head": (0, 7, 8), "torso": (11, 12, 23, 24),
    "left arm": (11, 13, 15), "right arm": (12, 14, 16),
    "left leg": (23, 25, 27), "right leg": (24, 26, 28),
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
    if w.ndim != 3 or w.shape[1] != 33 or w.shape[2] not in (3, 4):
        raise DescribeError(f"Expected BlazePose world landmarks (frames, 33, 4), got {w.shape}.")
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


def _postures(values, specs):
    c = {m.id: j for j, m in enumerate(specs)}
    t = config()["postures"]
    col = lambda k: values[:, c[k]]  # noqa: E731
    pair = lambda k: (col("left_" + k), col("right_" + k))  # noqa: E731
    g = group("ground_feet")["edges"][0]
    with np.errstate(invalid="ignore"):
        torso, hips = col("torso_orientation"), col("hips_ground")
        (kl, kr), (tl, tr), (sl, sr) = pair("knee_angle"), pair("thigh_orientation"), pair("shin_orientation")
        gl, gr = pair("foot_ground")
        feet_down = (gl <= g) | (gr <= g)
        upright = torso <= t["upright_torso_max"]
        lying = (torso >= t["lying_torso_min"]) & (torso <= 180 - t["lying_torso_min"]) & (hips <= t["lying_hips_max"])
        kneel = ((col("left_knee_ground") <= g) | (col("right_knee_ground") <= g)) & ~lying
        flat = 90 - t["sitting_thigh_min"]
        sit = ((np.abs(tl - 90) <= flat) & (np.abs(tr - 90) <= flat) & (sl >= t["sitting_shin_down_min"])
               & (sr >= t["sitting_shin_down_min"]) & (np.maximum(kl, kr) <= t["sitting_knee_max"])
               & upright & ~kneel & ~lying)
        squat = ((np.maximum(kl, kr) <= t["squat_knee_max"]) & (hips <= t["squat_hips_max"])
                 & feet_down & ~sit & ~kneel & ~lying)
        stand = (np.minimum(kl, kr) >= t["standing_knee_min"]) & upright & feet_down & ~kneel & ~lying
        bend = (torso >= t["bending_torso_min"]) & ~lying
        clear = group("above")["edges"][-1]
        up = (col("left_hand_above_head") > clear) & (col("right_hand_above_head") > clear)
    return np.stack([lying, sit, kneel, squat, stand, bend, up], axis=1)


POSTURE_USES = {
    "lying": ("torso_orientation", "hips_ground"),
    "sitting": ("torso_orientation", "{s}_knee_angle", "{s}_thigh_orientation", "{s}_shin_orientation"),
    "kneeling": ("{s}_knee_ground",),
    "squatting": ("hips_ground", "{s}_knee_angle", "{s}_foot_ground"),
    "standing": ("torso_orientation", "{s}_knee_angle", "{s}_foot_ground"),
    "bending over": ("torso_orientation",),
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
    if bad.any():
        w = w.copy()
        w[bad, :, :3] = np.nan          # not a trustworthy pose: measure nothing there
    mv = _min_vis(min_visibility)
    pts, yaw = body_frame(w)
    values, vis = measure(pts, yaw, mv)
    vis = np.nan_to_num(vis, nan=0.0)
    values = np.where(vis >= mv, values, np.nan)
    specs = plan().specs
    codes = _codes(values, specs, hysteresis)
    flags = _postures(values, specs)
    jvis = w[..., 3] if w.shape[-1] > 3 else np.where(np.isnan(w[..., 0]), 0.0, 1.0)
    tf = TrackFacts(specs, values, codes, vis, flags, POSTURES, first_frame)
    tf.joint_vis = np.nan_to_num(jvis, nan=0.0)
    tf.min_visibility = mv
    tf.unreliable = bad
    tf.unreliable_reasons = why
    return tf


def facts_from_row(tf: TrackFacts, i: int) -> list[Fact]:
    frame = tf.first_frame + i
    if getattr(tf, "unreliable", None) is not None and tf.unreliable[i]:
        reasons = getattr(tf, "unreliable_reasons", None)
        return [unreliable_fact(frame, reasons[i] if reasons else "")]
    out = _unknown_facts(tf, i, frame)
    if out and out[0].parts == ("body",):
        return out
    out = _posture_facts(tf, i, frame) + out
    for j, m in enumerate(tf.specs):
        code = int(tf.codes[i, j])
        phrase = phrase_for(m, code) if code >= 0 else None
        if phrase is None:
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
            out.append(Fact("posture", ("body",), "posture", 1.0, "", label, frame, vis, joints,
                            "body", "centre", phrases[label]))
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
            out.append(Fact("unknown", (name.replace(" ", "_"),), "visibility", v, "",
                            "not visible", frame, v, joints, "body", side,
                            f"the {name} is not visible"))
    return out


def pose_facts(track_or_world, frame=None, min_visibility=None) -> list[Fact]:
    """Facts of one frame (see module docstring)."""
    w = as_world(track_or_world)
    if frame is None:
        if len(w) != 1:
            raise DescribeError(f"Pick a frame: the track has {len(w)} frames.")
        frame, sel = 0, w
    elif len(w) == 1:
        frame, sel = int(frame), w
    else:
        if not 0 <= int(frame) < len(w):
            raise DescribeError(f"Frame {frame} is out of range (the clip has {len(w)} frames).")
        frame = int(frame)
        sel = _one_frame(track_or_world, w, frame)
    return track_facts(sel, min_visibility, hysteresis=False, first_frame=frame).facts_at(0)


def _one_frame(track, w: np.ndarray, frame: int):
    """Frame ``frame`` alone, keeping its reliability judgement (made on the whole track)."""
    if unreliable_frames(track) is None:
        return w[frame:frame + 1]
    return one_frame(track, frame)
