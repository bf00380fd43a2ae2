"""Spatial differences between two frames ("paircodes").

API
---
``diff_facts(world_a_frame, world_b_frame, frame_a=None, frame_b=None,
min_visibility=None) -> list[Fact]``
    Both inputs are one frame of MediaPipe world landmarks (joints, 3|4), from the same or
    from two clips. Each pose is put in its own body frame (hips at the origin, hip line
    along x), so per-joint displacements are measured after aligning at the hips and a
    whole-body turn shows only as the ``turn`` fact. Facts (``Fact.kind``):
    ``angle_change`` (elbows, knees, shoulders, hips), ``lean_change`` (lean, twist),
    ``distance_change`` (hands, elbows, knees, feet), ``displacement`` (head, shoulders,
    elbows, hands, knees, feet; ``extra["directions"]`` in body axes), ``turn``,
    ``posture_change``. Only joints visible in both frames count. A vs A gives [].
``describe_diff(facts) -> str``: e.g. "The person raises the right hand above the head
    and straightens the left knee; the body turns a quarter to the left."
``displacements(world_a_frame, world_b_frame) -> (joints, 3)``: aligned per-joint vectors
    (body axes of each pose, metres; NaN where unknown), used by the comparison view.
``frame_world(track, frame, label, video)`` / ``check_compatible(track_a, track_b, ...)``:
    input checks with one-line ``DescribeError`` messages (no pose, out of range, a 3-D
    pose that contradicts the image, mixed skeletons or backends).
"""
from __future__ import annotations


import numpy as np

from .body import body_frame
from .describe.build import POSTURES, DescribeError, as_world, posture_support, track_facts
from .describe.config import config, part_joints
from .describe.measure import SAGITTAL
from .pose.reliability import frame_reliability
from .describe.facts import Fact

AXIS_WORDS = (("left", "right"), ("up", "down"), ("forward", "back"))


def _cfg() -> dict:
    return config()["diff"]


def _bin(value: float, grp: dict) -> str | None:
    if np.isnan(value):
        return None
    idx = int(np.searchsorted(np.asarray(grp["edges"], dtype=float), abs(value), side="left"))
    return grp["labels"][idx]


def _pair(a, b):
    w = np.concatenate([as_world(a)[:1], as_world(b)[:1]])
    return w


def displacements(world_a_frame, world_b_frame) -> np.ndarray:
    pts, _ = body_frame(_pair(world_a_frame, world_b_frame))
    return pts[1, :, :3] - pts[0, :, :3]


def diff_facts(world_a_frame, world_b_frame, frame_a=None, frame_b=None,
               min_visibility=None) -> list[Fact]:
    w = _pair(world_a_frame, world_b_frame)
    tf = track_facts(w, min_visibility, hysteresis=False)
    ctx = {"frames": (frame_a, frame_b), "tf": tf, "w": w}
    out = _posture_change(ctx) + _turn(ctx)
    out += _angle_changes(ctx) + _distance_changes(ctx) + _displacement_facts(ctx)
    return out


def _fact(ctx, kind, parts, quantity, value, unit, label, vis, joints, region, side, extra):
    fa, fb = ctx["frames"]
    extra = dict(extra, frame_a=fa, frame_b=fb)
    return Fact(kind, tuple(parts), quantity, float(value), unit, label, fb, float(vis),
                tuple(joints), region, side, "", extra)


def _posture_change(ctx) -> list[Fact]:
    tf = ctx["tf"]
    main = lambda i: [p for k, p in enumerate(POSTURES[:6]) if tf.postures[i, k]]  # noqa: E731
    a, b = main(0), main(1)
    if not a or not b or a[0] == b[0]:
        return []
    (ja, va), (jb, vb) = posture_support(tf, 0, a[0]), posture_support(tf, 1, b[0])
    joints = tuple(dict.fromkeys(ja + jb))
    return [_fact(ctx, "posture_change", ("body",), "posture", 1.0, "", f"{a[0]} -> {b[0]}",
                  min(va, vb), joints, "body", "centre", {"a": a[0], "b": b[0]})]


def _turn(ctx) -> list[Fact]:
    tf = ctx["tf"]
    j = tf.column("turn")
    d = (tf.values[1, j] - tf.values[0, j] + 180.0) % 360.0 - 180.0
    label = _bin(d, _cfg()["turn"])
    if label is None:
        return []
    side = "left" if d > 0 else "right"
    return [_fact(ctx, "turn", ("body",), "turn", d, "deg", label, tf.vis[:, j].min(),
                  part_joints("hips"), "body", "centre", {"direction": side})]


def _angle_changes(ctx) -> list[Fact]:
    tf, out = ctx["tf"], []
    for j, m in enumerate(tf.specs):
        if m.type not in ("angle", "lean_fb", "lean_lr", "twist"):
            continue
        before, after = tf.values[0, j], tf.values[1, j]
        if m.group in SAGITTAL and (before > 180.0) != (after > 180.0):
            continue   # limb swung between behind and in front: over the top or past the hip?
        d = after - before
        label = _bin(d, _cfg()["angle_change"])
        if label is None:
            continue
        kind = "angle_change" if m.type == "angle" else "lean_change"
        out.append(_fact(ctx, kind, m.parts(), m.id, d, "deg", label, tf.vis[:, j].min(),
                         m.resting_joints(), m.region, m.side,
                         {"a": float(tf.values[0, j]), "b": float(tf.values[1, j])}))
    return out


def _distance_changes(ctx) -> list[Fact]:
    tf, out = ctx["tf"], []
    w = np.asarray(ctx["w"], dtype=np.float64)
    sw = np.linalg.norm(w[:, 11, :3] - w[:, 12, :3], axis=-1)   # the facts' unit, in metres
    for j, m in enumerate(tf.specs):
        if m.group != "distance":
            continue
        va, vb = tf.values[0, j] * sw[0], tf.values[1, j] * sw[1]
        d = vb - va
        label = _bin(d, _cfg()["distance_change"])
        if label is not None:
            out.append(_fact(ctx, "distance_change", m.parts(), m.id, d, "m", label,
                             tf.vis[:, j].min(), m.resting_joints(), m.region, "centre",
                             {"a": float(va), "b": float(vb), "subject": m.subject}))
    return out


def _directions(d: np.ndarray) -> list[str]:
    cfg, mag = _cfg()["displacement"], float(np.linalg.norm(d))
    order = np.argsort(-np.abs(d))
    return [AXIS_WORDS[k][0 if d[k] > 0 else 1] for k in order
            if abs(d[k]) >= cfg["axis_min"] and abs(d[k]) >= cfg["axis_ratio"] * mag]


def _displacement_facts(ctx) -> list[Fact]:
    pts, _ = body_frame(ctx["w"])
    mv = ctx["tf"].min_visibility
    vis = np.nan_to_num(ctx["w"][..., 3], nan=0.0) if ctx["w"].shape[-1] > 3 else np.ones(ctx["w"].shape[:2])
    out = []
    for name in _cfg()["parts"]:
        joints = list(part_joints(name))
        v = float(vis[:, joints].min())
        if v < mv:
            continue
        d = pts[1, joints, :3].mean(axis=0) - pts[0, joints, :3].mean(axis=0)
        label = _bin(float(np.linalg.norm(d)), _cfg()["displacement"])
        if label is None:
            continue
        side = name.split("_")[0] if name.startswith(("left_", "right_")) else "centre"
        region = "arms" if any(k in name for k in ("hand", "elbow", "shoulder")) else \
            "legs" if any(k in name for k in ("knee", "foot")) else "body"
        out.append(_fact(ctx, "displacement", (name,), name + "_displacement",
                         float(np.linalg.norm(d)), "m", label, v, joints, region, side,
                         {"vector": [round(float(x), 4) for x in d],
                          "directions": _directions(d), "above_head": _above_head(ctx, name)}))
    return out


def _above_head(ctx, name: str) -> bool:
    """The hand ends above the head in B and was not there in A."""
    if not name.endswith("_hand"):
        return False
    tf = ctx["tf"]
    j = tf.column(name.replace("_hand", "_hand_above_head"))
    clear = config()["groups"]["above"]["edges"][-1]
    a, b = tf.values[0, j], tf.values[1, j]
    return bool(b > clear and not a > clear)


def frame_world(track, frame: int, label: str, video: str) -> np.ndarray:
    """World landmarks of one frame of a ``PoseTrack``, or a one-line ``DescribeError``."""
    if not 0 <= frame < len(track):
        raise DescribeError(f"Frame {label}{frame} is out of range: {video} has {len(track)} frames.")
    if not track.has_pose[frame]:
        raise DescribeError(f"No pose was found on frame {label}{frame} of {video}.")
    ok, reasons = frame_reliability(track, frame)
    if not ok:
        raise DescribeError(f"Frame {label}{frame} of {video} is not described: "
                            f"{reasons[0]['text']}; pick another frame.")
    return track.world[frame]


def check_compatible(ta, tb, name_a: str, name_b: str) -> None:
    """Refuse A/B tracks whose landmarks do not mean the same thing (fps may differ:
    frames are compared one by one, each in its own clip's time)."""
    if ta.skeleton != tb.skeleton or ta.world.shape[1] != tb.world.shape[1]:
        raise DescribeError(f"{name_a} and {name_b} use different skeletons "
                            f"({ta.skeleton} vs {tb.skeleton}); extract both with the same backend.")
    if ta.backend != tb.backend:
        raise DescribeError(f"{name_a} and {name_b} come from different pose backends "
                            f"({ta.backend} vs {tb.backend}); extract both with the same backend.")


def describe_diff(facts, subject: str = "the person") -> str:
    """The text of ``facts`` about ``subject`` (``diff_text.render_diff``)."""
    from .diff_text import render_diff  # noqa: PLC0415
    return render_diff(list(facts), subject)


__all__ = ["check_compatible", "describe_diff", "diff_facts", "displacements", "frame_world"]
