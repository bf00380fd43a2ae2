"""movement_direction: the main direction a part moves over an interval (body axes).

Answer: the axis with the largest displacement (>= 0.15 m) when it clearly dominates (the
next axis moves under half as much). Distractors: the opposite direction, then directions
along axes that moved less than 0.05 m (movements that did not happen).
"""
from __future__ import annotations

from ...describe.config import config
from .common import Candidate, ClipFacts, Margin, find

TASK = "movement_direction"
# clear movement: the describer's first displacement bin ("slightly", 0.15 m); still:
# under a third of that; the main axis moves at least twice as much as any other
CLEAR = float(config()["diff"]["displacement"]["edges"][0])
STILL, DOMINANCE = 0.05, 0.5
MIN_MARGIN = 0.03   # metres: from the clear-movement edge, the dominance and the still axes
WORDS = {("x", 1): "towards the person's left", ("x", -1): "towards the person's right",
         ("y", 1): "up", ("y", -1): "down", ("z", 1): "forward", ("z", -1): "backward"}
PARTS = {"left_wrist": "left hand", "right_wrist": "right hand", "left_ankle": "left foot",
         "right_ankle": "right foot", "nose": "head"}


def _sign(v: float) -> int:
    return 1 if v > 0 else -1


def direction(disp: dict) -> tuple:
    """(answer or None, provably-wrong directions) from {axis: metres}."""
    if len(disp) < 3:
        return None, []
    ranked = sorted(disp, key=lambda a: -abs(disp[a]))
    top, second = ranked[0], ranked[1]
    if abs(disp[top]) < CLEAR or abs(disp[second]) > DOMINANCE * abs(disp[top]):
        return None, []
    answer = WORDS[(top, _sign(disp[top]))]
    wrong = [WORDS[(top, -_sign(disp[top]))]]
    wrong += [WORDS[(a, s)] for a in ranked[1:] if abs(disp[a]) < STILL for s in (1, -1)]
    return answer, wrong


def _disp(facts: list, part: str) -> tuple[dict, list]:
    found = [find(facts, "displacement", part, axis=a) for a in "xyz"]
    used = [f for f in found if f is not None]
    return {f["axis"]: f["value"] for f in used}, used


def generate(clip: ClipFacts) -> list[Candidate]:
    out = []
    for start, end, facts in clip.intervals:
        for part, label in PARTS.items():
            disp, used = _disp(facts, part)
            answer, wrong = direction(disp)
            if answer is None or len(wrong) < 2:
                continue
            s, e = clip.t(start), clip.t(end)
            q = (f"Between {s:.2f} s and {e:.2f} s, in which direction does the person's "
                 f"{label} mainly move (relative to the body)?")
            out.append(Candidate(TASK, "dominant_axis", q, answer, wrong, used, {"part": part},
                                 key=(TASK, part, answer),
                                 start_s=s, end_s=e, frames=[start, end]))
    return out


def margin(facts: list, params: dict, answer: str) -> Margin | None:
    """Metres the displacement is past the nearest of its edges: the clear movement, the
    dominance over the next axis, the stillness of the axes offered as distractors."""
    disp, used = _disp(facts, params["part"])
    if len(disp) < 3:
        return None
    ranked = sorted(disp, key=lambda a: -abs(disp[a]))
    top = abs(disp[ranked[0]])
    gaps = [top - CLEAR, DOMINANCE * top - abs(disp[ranked[1]])]
    gaps += [STILL - abs(disp[a]) for a in ranked[1:] if abs(disp[a]) < STILL]
    return Margin(min(gaps), "m", MIN_MARGIN, MIN_MARGIN, min(f["visibility"] for f in used))


def derive(facts: list, params: dict) -> str | None:
    return direction(_disp(facts, params["part"])[0])[0]
