"""Measurements for QA synthesis, as fact dicts in the shared Fact shape.

A fact dict has ``part`` (a joint/segment name or a list of two names), ``quantity``,
``value``, ``unit``, ``frame`` (or ``frames`` for an interval), ``visibility`` (the lowest
landmark visibility involved) and may carry ``axis`` or ``peaks``. Values are rounded so
that a stored fact re-derives exactly the answer it produced.

Coordinates: world landmarks (metres, MediaPipe: y down) turned into the body frame of
``models.body.body_frame`` (x = the person's left, y = up, z = forward). Vectorised over
frames.

One binning source: joint angles, torso inclination, the hands/feet offsets and the
posture labels are read from the pose describer's own fact table
(``models.describe.track_facts``, thresholds in ``resources/posecodes.json``), so a QA
answer and the description text of the same frame rest on the same numbers and the same
visibility gate. Facts taken from there carry ``measure`` (the describer's measurement id)
and ``bin`` (its label). Repetitions use ``models.motion``'s smoothing and the configured
angle prominence.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np

from ..body import body_frame
from ..describe import track_facts
from ..describe.config import config as posecodes
from ..describe.config import group
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


def _vis(world: np.ndarray, frame: int, names, seen=None) -> float:
    """Lowest visibility of ``names`` at ``frame`` (``seen``: a (frames, joints) visibility
    that overrides the landmarks' own, e.g. ``TrackMeasures.joint_vis``)."""
    v = [(world[frame, _idx(n), 3] if seen is None else seen[frame, _idx(n)]) for n in names]
    v = [float(x) for x in v if x == x]
    return min(v) if v else float("nan")


class TrackMeasures:
    """The describer's fact table and body-frame coordinates of a whole track, computed
    once (vectorised). Bins without hysteresis: QA skips values near a bin edge by more
    than the describer's hysteresis margin, so both agree on every asked value."""

    def __init__(self, world: np.ndarray, min_visibility: float = 0.5, track=None) -> None:
        self.world = world
        # the describer's per-frame facts (no hysteresis), checked against the image
        # landmarks when the track is given: the same facts ``describe --frame`` prints
        self.tf = track_facts(world if track is None else track, min_visibility, hysteresis=False)
        self.bc = body_coords(world)
        # per joint, what the describer counts as seen: a landmark outside the picture
        # has visibility 0 (``describe.agreement.outside_frame``); QA's own measurements
        # (heights, the knee pair, displacements, bends) gate on this too
        jv = getattr(self.tf, "joint_vis", None)
        self.joint_vis = (np.asarray(jv, dtype=np.float64) if jv is not None and len(jv) == len(world)
                          else np.nan_to_num(np.asarray(world[..., 3], dtype=np.float64), nan=0.0))

    def described(self, measure_id: str, frame: int) -> tuple[float, float, str | None]:
        """(value, visibility, bin label) of one describer measurement at ``frame``."""
        j = self.tf.column(measure_id)
        code = int(self.tf.codes[frame, j])
        label = group(self.tf.specs[j].group)["labels"][code] if code >= 0 else None
        return float(self.tf.values[frame, j]), float(self.tf.vis[frame, j]), label

    def postures(self, frame: int) -> list[str]:
        return [p for p, on in zip(self.tf.posture_labels, self.tf.postures[frame]) if on]


def _described_fact(m: TrackMeasures, measure_id: str, part, quantity: str, unit: str,
                    frame: int, **extra) -> dict | None:
    value, vis, label = m.described(measure_id, frame)
    return _fact(part, quantity, value, unit, frame, vis, measure=measure_id, bin=label, **extra)


def frame_facts(world: np.ndarray, frame: int, min_visibility: float,
                measures: TrackMeasures) -> list[dict]:
    """Angles, torso inclination, heights above the floor, left/up/forward offsets and the
    describer's posture labels at one frame (only values at or above the visibility gate);
    ``measures`` is the track's ``TrackMeasures`` (computed once per track)."""
    out = [_described_fact(measures, f"{j}_angle", j, "angle", "deg", frame)
           for j in ANGLE_JOINTS]
    out.append(_described_fact(measures, "torso_orientation", "torso", "inclination", "deg", frame))
    bc = measures.bc[frame]
    out += _height_facts(world, bc, frame, measures.joint_vis)
    out += _offset_facts(world, bc, frame, measures)
    out.append(_posture_fact(measures, frame))
    return [f for f in out if f is not None and f["visibility"] >= min_visibility]


def _posture_fact(m: TrackMeasures, frame: int) -> dict:
    """The describer's whole-body labels at this frame (what its text says)."""
    return {"part": "body", "quantity": "posture_labels", "value": None, "unit": "",
            "frame": int(frame), "visibility": 1.0, "labels": m.postures(frame)}


HEIGHT_PARTS = ("left_knee", "right_knee", "left_hip", "right_hip")
FLOOR_JOINTS = ("left_ankle", "right_ankle", "left_heel", "right_heel",
                "left_foot_index", "right_foot_index", "left_knee", "right_knee")


def _height_facts(world, bc, frame, seen=None) -> list:
    floor_idx = [_idx(n) for n in FLOOR_JOINTS]
    floor = np.nanmin(bc[floor_idx, 1]) if np.isfinite(bc[floor_idx, 1]).any() else np.nan
    vis_floor = _vis(world, frame, FLOOR_JOINTS[:4], seen)
    return [_fact(p, "height_above_floor", bc[_idx(p), 1] - floor, "m", frame,
                  min(vis_floor, _vis(world, frame, (p,), seen))) for p in HEIGHT_PARTS]


# (a, b, axis) -> the describer's measurement of the same offset (None: QA's own, the
# describer has no such pair). Feet are the describer's foot parts (ankle, heel, toe).
OFFSET_PAIRS = (("left_wrist", "right_wrist", "y", "hands_height"),
                ("left_foot", "right_foot", "z", "feet_front"),
                ("left_knee", "right_knee", "y", None),
                ("left_wrist", "nose", "y", "left_hand_above_head"),
                ("right_wrist", "nose", "y", "right_hand_above_head"))


def _offset_facts(world, bc, frame, m: TrackMeasures) -> list:
    axis_i = {"x": 0, "y": 1, "z": 2}
    out = []
    for a, b, ax, measure_id in OFFSET_PAIRS:
        if measure_id is not None:
            out.append(_described_fact(m, measure_id, [a, b], "offset", "m", frame, axis=ax))
            continue
        diff = bc[_idx(a), axis_i[ax]] - bc[_idx(b), axis_i[ax]]
        out.append(_fact([a, b], "offset", diff, "m", frame, _vis(world, frame, (a, b), m.joint_vis),
                         axis=ax))
    return out


def displacement_facts(world: np.ndarray, start: int, end: int, min_visibility: float,
                       measures: TrackMeasures) -> list[dict]:
    """Per tracked part: displacement from ``start`` to ``end`` along left/up/forward."""
    bc, be = measures.bc[start], measures.bc[end]
    out = []
    for p in TRACKED_PARTS:
        i = _idx(p)
        vis = min(_vis(world, start, (p,), measures.joint_vis), _vis(world, end, (p,), measures.joint_vis))
        for k, ax in enumerate("xyz"):
            out.append(_fact(p, "displacement", be[i, k] - bc[i, k], "m", None, vis,
                             axis=ax, frames=[int(start), int(end)]))
    return [f for f in out if f is not None and f["visibility"] >= min_visibility]


REP_JOINTS = ("left_elbow", "right_elbow", "left_knee", "right_knee")


def bend_prominence() -> float:
    """Degrees an angle must dip to count as a bend: the motion facts' angle prominence."""
    return float(posecodes()["motion"]["angle_prominence"])


def bend_events(signal: np.ndarray, fps: float) -> list[int]:
    """Frames where an angle signal bends: its minima with at least ``bend_prominence()``
    prominence, by the shared ``models.motion.count_repetitions`` (same gap filling,
    smoothing and minimum cycle length as the motion facts)."""
    return bend_cycles(signal, fps)[0]


def bend_cycles(signal: np.ndarray, fps: float) -> tuple[list[int], dict, float]:
    """(bend frames, ``motion.periodicity`` of the bends, margin in degrees). The margin is
    how far the count is from changing with the prominence: the weakest counted bend's
    prominence above ``bend_prominence()`` or the strongest uncounted dip's below it,
    whichever is closer (0 without any bend)."""
    from scipy.signal import find_peaks  # noqa: PLC0415

    from ..motion import _prominences, _runs, count_repetitions, periodicity  # noqa: PLC0415

    s = np.asarray(signal, dtype=np.float64)
    if np.isfinite(s).sum() < 3:
        return [], periodicity([], []), 0.0
    p = bend_prominence()
    _n, peaks, smoothed = count_repetitions(-s, fps, prominence=p)
    peaks = [int(k) for k in peaks]
    counted = _prominences(smoothed, peaks) if peaks else np.zeros(0)
    weaker = 0.0          # the strongest dip that did not count
    for a, b in _runs(np.isfinite(smoothed)):
        if b - a >= 3:
            found, props = find_peaks(smoothed[a:b], prominence=0.0)
            rest = [pr for k, pr in zip(found, props["prominences"]) if int(a + k) not in peaks]
            weaker = max([weaker] + [float(v) for v in rest if v < p])
    margin = min([p - weaker] + ([float(counted.min()) - p] if len(counted) else []))
    return peaks, periodicity(smoothed, peaks), round(margin, 3)


def repetition_facts(world: np.ndarray, fps: float, start: int, end: int,
                     min_visibility: float = 0.5, seen=None) -> list[dict]:
    """How many times each elbow/knee bends over [start, end) (angle signal cycles). A
    joint is counted only when it is seen throughout: below the visibility gate for no
    longer than the motion facts' ``max_gap_s`` at a time (a longer gap could hide a bend).
    ``seen``: a (frames, joints) visibility overriding the landmarks' own (a joint outside
    the picture is not seen). Each fact carries the bends' ``periodicity`` (its ``kind``)
    and ``margin_deg`` (see ``bend_cycles``)."""
    from ..motion import smooth  # noqa: PLC0415

    seg = np.array(world[start:end], dtype=np.float64)
    if seen is not None:
        seg[..., 3] = np.asarray(seen[start:end], dtype=np.float64)
    angles = joint_angles(seg, blazepose(), min_visibility)
    out = []
    for j in REP_JOINTS:
        sig = angles[j]
        if np.isnan(smooth(sig, fps)).any():
            continue  # unseen for longer than the motion facts' max gap: a bend may hide there
        events, period, margin = bend_cycles(sig, fps)
        vis_pts = seg[:, [_idx(n) for n in blazepose().angles[j]], 3]
        vis = float(np.nanmin(np.where(np.isfinite(sig)[:, None], vis_pts, np.nan)))
        out.append(_fact(j, "repetitions", len(events), "count", None, vis,
                         frames=[int(start), int(end)], peaks=[int(start + e) for e in events],
                         signal="angle", prominence_deg=bend_prominence(),
                         periodicity=period["kind"], margin_deg=margin))
    return [f for f in out if f is not None]
