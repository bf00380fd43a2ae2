"""Measurements for QA synthesis, as fact dicts in the shared Fact shape.

A fact dict has ``part`` (a joint/segment name or a list of two names), ``quantity``,
``value``, ``unit``, ``frame`` (or ``frames`` for an interval), ``visibility`` (the lowest
landmark visibility involved) and may carry ``axis`` or ``peaks``. Values are rounded so
that a stored fact re-derives exactly the answer it produced.

Coordinates: world landmarks (metres, MediaPipe: y down) turned into the body frame of
``models.body.body_frame`` (x = the person's left, y = up, z = forward). Vectorised over
frames.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np

from ..body import body_frame
from ..geometry import joint_angles
from ..pose.skeleton import blazepose

ANGLE_JOINTS = ("left_elbow", "right_elbow", "left_knee", "right_knee", "left_hip", "right_hip")
TRACKED_PARTS = ("left_wrist", "right_wrist", "left_ankle", "right_ankle", "nose")


@lru_cache(maxsize=None)
def _idx(name: str) -> int:
    return blazepose().index(name)


def body_coords(world: np.ndarray) -> np.ndarray:
    """(frames, joints, 3) in the body frame of ``models.body``: x = the person's left,
    y = up, z = forward, origin mid-hip, yaw removed per frame (metres)."""
    points, _yaw = body_frame(world)
    return points[..., :3]


def _fact(part, quantity, value, unit, frame, vis, **extra) -> dict | None:
    if value is None or not np.isfinite(value) or not np.isfinite(vis):
        return None
    d = {"part": part, "quantity": quantity, "value": round(float(value), 3), "unit": unit,
         "frame": None if frame is None else int(frame), "visibility": round(float(vis), 3)}
    d.update(extra)
    return d


def _vis(world: np.ndarray, frame: int, names) -> float:
    v = [world[frame, _idx(n), 3] for n in names]
    v = [float(x) for x in v if x == x]
    return min(v) if v else float("nan")


class TrackMeasures:
    """Angles and body-frame coordinates of a whole track, computed once (vectorised)."""

    def __init__(self, world: np.ndarray, min_visibility: float = 0.5) -> None:
        self.world = world
        self.angles = joint_angles(world, blazepose(), min_visibility)
        self.bc = body_coords(world)


def frame_facts(world: np.ndarray, frame: int, min_visibility: float = 0.5,
                measures: TrackMeasures | None = None) -> list[dict]:
    """Angles, torso inclination, heights above the floor and left/up/forward offsets."""
    sk = blazepose()
    if measures is None:
        measures = TrackMeasures(world[frame:frame + 1], min_visibility)
        world, frame, shown = world[frame:frame + 1], 0, frame
    else:
        shown = frame
    out = [_fact(j, "angle", measures.angles[j][frame], "deg", shown,
                 _vis(world, frame, sk.angles[j])) for j in ANGLE_JOINTS]
    bc = measures.bc[frame]
    out.append(_torso_fact(world, bc, frame))
    out += _height_facts(world, bc, frame)
    out += _offset_facts(world, bc, frame)
    for f in out:
        if f is not None:
            f["frame"] = int(shown)
    return [f for f in out if f is not None and f["visibility"] >= min_visibility]


def _torso_fact(world, bc, frame) -> dict | None:
    mid_sh = (bc[_idx("left_shoulder")] + bc[_idx("right_shoulder")]) / 2
    mid_hip = (bc[_idx("left_hip")] + bc[_idx("right_hip")]) / 2
    v = mid_sh - mid_hip
    with np.errstate(invalid="ignore"):
        incl = np.degrees(np.arccos(np.clip(v[1] / np.linalg.norm(v), -1, 1)))
    names = ("left_shoulder", "right_shoulder", "left_hip", "right_hip")
    return _fact("torso", "inclination", incl, "deg", frame, _vis(world, frame, names))


HEIGHT_PARTS = ("left_knee", "right_knee", "left_hip", "right_hip")
FLOOR_JOINTS = ("left_ankle", "right_ankle", "left_heel", "right_heel",
                "left_foot_index", "right_foot_index", "left_knee", "right_knee")


def _height_facts(world, bc, frame) -> list:
    floor_idx = [_idx(n) for n in FLOOR_JOINTS]
    floor = np.nanmin(bc[floor_idx, 1]) if np.isfinite(bc[floor_idx, 1]).any() else np.nan
    vis_floor = _vis(world, frame, FLOOR_JOINTS[:4])
    return [_fact(p, "height_above_floor", bc[_idx(p), 1] - floor, "m", frame,
                  min(vis_floor, _vis(world, frame, (p,)))) for p in HEIGHT_PARTS]


OFFSET_PAIRS = (("left_wrist", "right_wrist", "y"), ("left_ankle", "right_ankle", "z"),
                ("left_knee", "right_knee", "y"), ("left_wrist", "nose", "y"),
                ("right_wrist", "nose", "y"))


def _offset_facts(world, bc, frame) -> list:
    axis_i = {"x": 0, "y": 1, "z": 2}
    out = []
    for a, b, ax in OFFSET_PAIRS:
        diff = bc[_idx(a), axis_i[ax]] - bc[_idx(b), axis_i[ax]]
        out.append(_fact([a, b], "offset", diff, "m", frame, _vis(world, frame, (a, b)), axis=ax))
    return out


def displacement_facts(world: np.ndarray, start: int, end: int, min_visibility: float = 0.5,
                       measures: TrackMeasures | None = None) -> list[dict]:
    """Per tracked part: displacement from ``start`` to ``end`` along left/up/forward."""
    if measures is not None:
        bc, be = measures.bc[start], measures.bc[end]
    else:
        bc, be = body_coords(world[[start, end]])
    out = []
    for p in TRACKED_PARTS:
        i = _idx(p)
        vis = min(_vis(world, start, (p,)), _vis(world, end, (p,)))
        for k, ax in enumerate("xyz"):
            out.append(_fact(p, "displacement", be[i, k] - bc[i, k], "m", None, vis,
                             axis=ax, frames=[int(start), int(end)]))
    return [f for f in out if f is not None and f["visibility"] >= min_visibility]


REP_JOINTS = ("left_elbow", "right_elbow", "left_knee", "right_knee")
BEND_PROMINENCE_DEG = 30.0  # a bend counts when the angle dips at least this much


def bend_events(signal: np.ndarray, fps: float) -> list[int]:
    """Frames where an angle signal bends (its minima with at least
    ``BEND_PROMINENCE_DEG`` prominence), by the shared ``models.motion.count_repetitions``."""
    from ..motion import count_repetitions  # noqa: PLC0415 (scipy is imported lazily there)

    s = np.asarray(signal, dtype=np.float64)
    if np.isfinite(s).sum() < 3:
        return []
    _n, peaks, _smoothed = count_repetitions(-s, fps, prominence=BEND_PROMINENCE_DEG)
    return [int(p) for p in peaks]


def repetition_facts(world: np.ndarray, fps: float, start: int, end: int,
                     min_visibility: float = 0.5) -> list[dict]:
    """How many times each elbow/knee bends over [start, end) (angle signal cycles)."""
    seg = world[start:end]
    angles = joint_angles(seg, blazepose(), min_visibility)
    out = []
    for j in REP_JOINTS:
        sig = angles[j]
        if np.isfinite(sig).mean() < 0.9:
            continue  # too many frames below the visibility threshold
        events = bend_events(sig, fps)
        vis = float(np.nanmin(seg[:, [_idx(n) for n in blazepose().angles[j]], 3]))
        out.append(_fact(j, "repetitions", len(events), "count", None, vis,
                         frames=[int(start), int(end)], peaks=[int(start + e) for e in events],
                         signal="angle"))
    return [f for f in out if f is not None]
