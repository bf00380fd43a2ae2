"""body_part_pose: how bent one joint is at one moment (joint-angle bins, SPEC section 4)."""
from __future__ import annotations

from .common import Candidate, ClipFacts, bin_of, find, near_edge, part_name

TASK = "body_part_pose"
EDGES = [45.0, 75.0, 105.0, 135.0, 160.0]
LABELS = ["fully bent", "sharply bent", "bent at about a right angle", "partly bent",
          "slightly bent", "straight"]
MARGIN_DEG = 7.0  # values this close to a bin edge are not asked about
JOINTS = ("left_elbow", "right_elbow", "left_knee", "right_knee", "left_hip", "right_hip")


def label_for(angle: float) -> str:
    return LABELS[bin_of(angle, EDGES)]


def _distractors(correct: int) -> list[str]:
    """Far bins first (the opposite end), then nearer ones; never the correct bin."""
    order = sorted((i for i in range(len(LABELS)) if i != correct),
                   key=lambda i: (-abs(i - correct), i))
    far = [i for i in order if abs(i - correct) >= 2]
    near = [i for i in order if abs(i - correct) == 1]
    return [LABELS[i] for i in far[:2] + near + far[2:]]


def generate(clip: ClipFacts) -> list[Candidate]:
    out = []
    for frame, facts in clip.frames.items():
        for joint in JOINTS:
            f = find(facts, "angle", joint)
            if f is None or near_edge(f["value"], EDGES, MARGIN_DEG):
                continue
            correct = bin_of(f["value"], EDGES)
            q = f"In the frame at {clip.t(frame):.2f} s, how is the person's {part_name(joint)}?"
            out.append(Candidate(TASK, "joint_angle_bin", q, LABELS[correct],
                                 _distractors(correct), [f], {"joint": joint, "frame": frame},
                                 key=(TASK, joint, correct), frame_a=frame, frames=[frame]))
    return out


def derive(facts: list, params: dict) -> str | None:
    f = find(facts, "angle", params["joint"], params["frame"])
    return None if f is None else label_for(f["value"])
