"""body_part_pose: how bent one joint is at one moment (joint-angle bins).

Bins and wording are the pose describer's (``resources/posecodes.json``, group "angle"):
the option texts are its phrases without the subject ("sharply bent"), so a QA answer
reads exactly like the description of the same frame.
"""
from __future__ import annotations

import re

from ...describe.config import group
from .common import Candidate, ClipFacts, Margin, bin_of, find, near_edge, part_name

TASK = "body_part_pose"
JOINTS = ("left_elbow", "right_elbow", "left_knee", "right_knee", "left_hip", "right_hip")


def _group(joint: str) -> dict:
    """The describer's bin group of a joint's angle (hips: "hip_angle")."""
    return group("hip_angle" if joint.endswith("_hip") else "angle")


def edges_for(joint: str) -> list[float]:
    return [float(e) for e in _group(joint)["edges"]]


def labels_for(joint: str) -> list[str]:
    """Option texts per bin: the describer's phrase without its subject; a silent bin
    (no phrase) falls back to the plain "angle" wording."""
    plain = group("angle")["phrases"]
    phrases = [p or plain[i] for i, p in enumerate(_group(joint)["phrases"])]
    return [re.sub(r"^\{subject\} \{be\} ", "", p) for p in phrases]


def margin_for(joint: str) -> float:
    """Values this close to a bin edge are not asked about; wider than the describer's
    hysteresis margin, so its track-level bins cannot differ on an asked value."""
    return max(7.0, 1.5 * float(_group(joint).get("margin", 0)))


def label_for(angle: float, joint: str = "left_knee") -> str:
    return labels_for(joint)[bin_of(angle, edges_for(joint))]


def _distractors(correct: int, labels: list[str]) -> list[str]:
    """Far bins first (the opposite end), then nearer ones; never the correct bin."""
    order = sorted((i for i in range(len(labels)) if i != correct),
                   key=lambda i: (-abs(i - correct), i))
    far = [i for i in order if abs(i - correct) >= 2]
    near = [i for i in order if abs(i - correct) == 1]
    return [labels[i] for i in far[:2] + near + far[2:]]


def generate(clip: ClipFacts) -> list[Candidate]:
    out = []
    for frame, facts in clip.frames.items():
        for joint in JOINTS:
            f = find(facts, "angle", joint)
            edges, labels = edges_for(joint), labels_for(joint)
            if f is None or near_edge(f["value"], edges, margin_for(joint)):
                continue
            correct = bin_of(f["value"], edges)
            q = f"In the frame at {clip.t(frame):.2f} s, how is the person's {part_name(joint)}?"
            out.append(Candidate(TASK, "joint_angle_bin", q, labels[correct],
                                 _distractors(correct, labels), [f],
                                 {"joint": joint, "frame": frame},
                                 key=(TASK, joint, correct), frame_a=frame, frames=[frame]))
    return out


def margin(facts: list, params: dict, answer: str) -> Margin | None:
    """Degrees from the nearest bin edge (None: the angle is not known)."""
    joint = params["joint"]
    f = find(facts, "angle", joint, params["frame"])
    if f is None:
        return None
    gap = min(abs(f["value"] - e) for e in edges_for(joint))
    return Margin(gap, "deg", float(_group(joint).get("margin", 0)) or margin_for(joint),
                  margin_for(joint), f["visibility"])


def derive(facts: list, params: dict) -> str | None:
    f = find(facts, "angle", params["joint"], params["frame"])
    return None if f is None else label_for(f["value"], params["joint"])
