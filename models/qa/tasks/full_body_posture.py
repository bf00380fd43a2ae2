"""full_body_posture: the whole-body configuration at one moment.

Each posture is a rule over a few measurements (torso inclination, knee angles, heights
above the floor). The answer is the first posture whose rule holds; a distractor is a
posture whose rule is false even with every threshold loosened by a margin, so it is
provably wrong for these facts. 'Sitting' is never offered: it needs the chair.

The pose describer's own posture labels of the frame (the ``posture_labels`` fact, from
``models.describe``) must agree: the answer's label is among them and no distractor's
label is, so the description text and the QA answer never contradict each other.
"""
from __future__ import annotations

from typing import Optional

from .common import Candidate, ClipFacts, Margin, find, value

TASK = "full_body_posture"
MARGIN = {"deg": 5.0, "m": 0.03}
# posture -> list of (measurement, op, threshold, unit)
RULES = {
    "lying down": [("torso", ">=", 70.0, "deg"), ("torso", "<=", 110.0, "deg"),
                   ("hip_height_min", "<=", 0.3, "m")],
    "kneeling": [("torso", "<=", 40.0, "deg"), ("knee_height_min", "<=", 0.08, "m"),
                 ("knee_angle_min", "<=", 130.0, "deg")],
    "standing upright": [("torso", "<=", 15.0, "deg"), ("knee_angle_min", ">=", 160.0, "deg"),
                         ("knee_height_min", ">=", 0.3, "m")],
    "bending forward at the waist": [("torso", ">=", 30.0, "deg"), ("torso", "<=", 65.0, "deg"),
                                     ("knee_angle_min", ">=", 150.0, "deg")],
    "squatting": [("torso", "<=", 50.0, "deg"), ("knee_angle_max", "<=", 90.0, "deg"),
                  ("hip_height_min", "<=", 0.35, "m"), ("knee_height_min", ">=", 0.15, "m")],
}


# QA posture -> the describer's posture label (resources/posecodes.json "postures")
DESCRIBED = {"lying down": "lying", "kneeling": "kneeling", "standing upright": "standing",
             "bending forward at the waist": "bending over", "squatting": "squatting"}


def measurements(facts: list, frame: int) -> dict:
    def pair(q, a, b):
        va, vb = value(facts, q, a, frame), value(facts, q, b, frame)
        return None if va is None or vb is None else (va, vb)
    knees = pair("angle", "left_knee", "right_knee")
    kh = pair("height_above_floor", "left_knee", "right_knee")
    hh = pair("height_above_floor", "left_hip", "right_hip")
    described = find(facts, "posture_labels", "body", frame)
    return {"torso": value(facts, "inclination", "torso", frame),
            "described": None if described is None else list(described["labels"]),
            "knee_angle_min": knees and min(knees), "knee_angle_max": knees and max(knees),
            "knee_height_min": kh and min(kh), "hip_height_min": hh and min(hh)}


def holds(rule: list, m: dict, slack_sign: float = -1.0) -> Optional[bool]:
    """True/False, or None when a needed measurement is missing. ``slack_sign`` -1 = every
    threshold tightened by its margin (the answer must hold clearly), +1 = loosened."""
    for name, op, thr, unit in rule:
        v = m.get(name)
        if v is None:
            return None
        slack = slack_sign * MARGIN[unit]
        ok = v <= thr + slack if op == "<=" else v >= thr - slack
        if not ok:
            return False
    return True


def classify(m: dict) -> tuple[Optional[str], list[str]]:
    """(posture or None, postures provably not taken): the answer holds even with its
    thresholds tightened, each distractor fails even with its thresholds loosened."""
    answer = next((p for p, r in RULES.items() if holds(r, m, -1.0)), None)
    wrong = [p for p, r in RULES.items() if p != answer and holds(r, m, +1.0) is False]
    said = m.get("described")
    if said is not None:   # agree with the describer's text of the same frame
        answer = answer if answer is not None and DESCRIBED[answer] in said else None
        wrong = [p for p in wrong if DESCRIBED[p] not in said]
    return answer, wrong


def generate(clip: ClipFacts) -> list[Candidate]:
    out = []
    for frame, facts in clip.frames.items():
        answer, wrong = classify(measurements(facts, frame))
        if answer is None or len(wrong) < 2:
            continue
        used = [f for f in facts if _used(f)]
        q = f"In the frame at {clip.t(frame):.2f} s, what is the person's overall posture?"
        out.append(Candidate(TASK, "posture_rules", q, answer, wrong, used, {"frame": frame},
                             key=(TASK, answer), frame_a=frame, frames=[frame]))
    return out


def _used(f: dict) -> bool:
    if f["quantity"] in ("inclination", "posture_labels"):
        return True
    if f["quantity"] == "angle":
        return f["part"] in ("left_knee", "right_knee")
    return f["quantity"] == "height_above_floor"


def margin(facts: list, params: dict, answer: str) -> Margin | None:
    """The tightest of the answer's rule conditions: how far its measurement is past the
    threshold (in the condition's unit; the posture rules' own margin is the reference)."""
    m = measurements(facts, params["frame"])
    best = None
    for name, op, thr, unit in RULES.get(answer, []):
        v = m.get(name)
        if v is None:
            return None
        gap = v - thr if op == ">=" else thr - v
        if best is None or gap / MARGIN[unit] < best.ratio:
            best = Margin(gap, unit, MARGIN[unit], MARGIN[unit])
    if best is not None:
        best.visibility = min([f["visibility"] for f in facts
                               if _used(f) and f.get("frame") == params["frame"]] or [1.0])
    return best


def derive(facts: list, params: dict) -> str | None:
    return classify(measurements(facts, params["frame"]))[0]
