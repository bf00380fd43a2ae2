"""relative_position: which of two parts is higher / further forward at one moment.

Offsets beyond +-0.15 m are clear, within +-0.05 m aligned, in between ambiguous (not
asked), with the edges of the describer's "height_pair" edges). Hands, feet and hand vs
head offsets are the describer's own measurements (feet = ankle, heel and toe). The options
are the two sides and 'about the same'.
"""
from __future__ import annotations

from ...describe.config import group
from .common import Candidate, ClipFacts, Margin, find

TASK = "relative_position"
ALIGNED, CLEAR = (float(e) for e in group("height_pair")["edges"])  # the describer's bins
GROUP_MARGIN = float(group("height_pair")["margin"])
MIN_MARGIN = 0.03   # metres beyond the band's edge: a few times the describer's own margin
# (part a, part b, axis) -> question, option if a > b, option if b > a, option if aligned
PHRASES = {
    ("left_wrist", "right_wrist", "y"): ("which of the person's hands is higher?",
                                         "the left hand", "the right hand",
                                         "both hands are at about the same height"),
    ("left_foot", "right_foot", "z"): ("which of the person's feet is further forward?",
                                       "the left foot", "the right foot",
                                       "both feet are about level"),
    # items of synthesis version 1 (ankles only) still re-derive
    ("left_ankle", "right_ankle", "z"): ("which of the person's feet is further forward?",
                                         "the left foot", "the right foot",
                                         "both feet are about level"),
    ("left_knee", "right_knee", "y"): ("which of the person's knees is higher?",
                                       "the left knee", "the right knee",
                                       "both knees are at about the same height"),
    ("left_wrist", "nose", "y"): ("where is the person's left hand relative to the head?",
                                  "above the head", "below the head", "at about head height"),
    ("right_wrist", "nose", "y"): ("where is the person's right hand relative to the head?",
                                   "above the head", "below the head", "at about head height"),
}


def option_for(v: float, phrases: tuple):
    if v > CLEAR:
        return phrases[1]
    if v < -CLEAR:
        return phrases[2]
    if abs(v) <= ALIGNED:
        return phrases[3]
    return None


def generate(clip: ClipFacts) -> list[Candidate]:
    out = []
    for frame, facts in clip.frames.items():
        for (a, b, ax), ph in PHRASES.items():
            f = find(facts, "offset", [a, b], axis=ax)
            answer = None if f is None else option_for(f["value"], ph)
            if answer is None:
                continue
            wrong = [o for o in ph[1:] if o != answer]
            q = f"In the frame at {clip.t(frame):.2f} s, {ph[0]}"
            out.append(Candidate(TASK, "offset_sign", q, answer, wrong, [f],
                                 {"parts": [a, b], "axis": ax, "frame": frame},
                                 key=(TASK, a, b, ax, answer), frame_a=frame, frames=[frame]))
    return out


def margin(facts: list, params: dict, answer: str) -> Margin | None:
    """Metres from the edge of the answer's band (negative inside the ambiguous band)."""
    a, b = params["parts"]
    f = find(facts, "offset", [a, b], params["frame"], params["axis"])
    if f is None:
        return None
    v = abs(f["value"])
    gap = v - CLEAR if v > CLEAR else ALIGNED - v if v <= ALIGNED else -min(v - ALIGNED, CLEAR - v)
    return Margin(gap, "m", GROUP_MARGIN, MIN_MARGIN, f["visibility"])


def derive(facts: list, params: dict) -> str | None:
    a, b = params["parts"]
    f = find(facts, "offset", [a, b], params["frame"], params["axis"])
    return None if f is None else option_for(f["value"], PHRASES[(a, b, params["axis"])])
