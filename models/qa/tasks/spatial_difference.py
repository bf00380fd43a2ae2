"""spatial_difference: what changed in the body between frame A and frame B.

Two templates over joint-angle changes: what happens to one joint
(bends more / straightens / about the same; 8..30 degrees is ambiguous and skipped), and
which joint changes most (>= 45 degrees, every distractor changed under 15 degrees).
"""
from __future__ import annotations

from ...describe.config import group
from .common import Candidate, ClipFacts, Margin, find, part_name

TASK = "spatial_difference"
JOINTS = ("left_elbow", "right_elbow", "left_knee", "right_knee")
CLEAR, SAME, MOST, STILL = 30.0, 8.0, 45.0, 15.0
CHANGE = ("it bends more", "it straightens", "it stays about the same")
GROUP_MARGIN = float(group("angle")["margin"])
MIN_MARGIN = 5.0    # degrees past an edge of the change bands


def change_option(delta: float):
    if delta <= -CLEAR:
        return CHANGE[0]
    if delta >= CLEAR:
        return CHANGE[1]
    return CHANGE[2] if abs(delta) <= SAME else None


def deltas(facts: list, a: int, b: int) -> tuple[dict, list]:
    out, used = {}, []
    for j in JOINTS:
        fa, fb = find(facts, "angle", j, a), find(facts, "angle", j, b)
        if fa is not None and fb is not None:
            out[j] = fb["value"] - fa["value"]
            used += [fa, fb]
    return out, used


def most_changed(d: dict) -> tuple:
    if len(d) < 3:
        return None, []
    top = max(d, key=lambda j: abs(d[j]))
    if abs(d[top]) < MOST:
        return None, []
    return f"the {part_name(top)}", [f"the {part_name(j)}" for j in d if abs(d[j]) < STILL]


def _prefix(clip: ClipFacts, a: int, b: int) -> str:
    return f"From frame A ({clip.t(a):.2f} s) to frame B ({clip.t(b):.2f} s), "


def generate(clip: ClipFacts) -> list[Candidate]:
    out = []
    for a, b in clip.pairs:
        facts = clip.frames.get(a, []) + clip.frames.get(b, [])
        d, used = deltas(facts, a, b)
        common = dict(frame_a=a, frame_b=b, frames=[a, b])
        for j, delta in d.items():
            answer = change_option(delta)
            if answer is None:
                continue
            pair = [find(used, "angle", j, a), find(used, "angle", j, b)]
            q = _prefix(clip, a, b) + f"what happens to the person's {part_name(j)}?"
            out.append(Candidate(TASK, "joint_change", q, answer,
                                 [c for c in CHANGE if c != answer], pair,
                                 {"joint": j, "frame_a": a, "frame_b": b},
                                 key=(TASK, "joint", j, answer), **common))
        answer, wrong = most_changed(d)
        if answer is not None and len(wrong) >= 2:
            q = _prefix(clip, a, b) + "which joint changes its angle the most?"
            out.append(Candidate(TASK, "most_changed", q, answer, wrong, used,
                                 {"frame_a": a, "frame_b": b}, key=(TASK, "most", answer), **common))
    return out


def margin(facts: list, params: dict, answer: str) -> Margin | None:
    """Degrees the angle change is past the edge of its band (joint change), or the
    smaller of the top change over ``MOST`` and the distractors' under ``STILL``."""
    d, used = deltas(facts, params["frame_a"], params["frame_b"])
    if "joint" in params:
        j = params["joint"]
        if j not in d:
            return None
        used = [f for f in used if f["part"] == j]
        gap = SAME - abs(d[j]) if answer == CHANGE[2] else abs(d[j]) - CLEAR
    else:
        if len(d) < 3:
            return None
        top = max(d, key=lambda j: abs(d[j]))
        gap = min([abs(d[top]) - MOST] + [STILL - abs(v) for j, v in d.items() if abs(v) < STILL])
    return Margin(gap, "deg", GROUP_MARGIN, MIN_MARGIN, min(f["visibility"] for f in used))


def derive(facts: list, params: dict) -> str | None:
    d, _ = deltas(facts, params["frame_a"], params["frame_b"])
    if "joint" in params:
        return change_option(d[params["joint"]]) if params["joint"] in d else None
    return most_changed(d)[0]
