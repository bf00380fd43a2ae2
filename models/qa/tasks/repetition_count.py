"""repetition_count: how many times a joint bends over an interval (angle-signal cycles).

The count is the number of bend events stored in the fact (``peaks``); distractors are
neighbouring counts (n-1, n+1, n+2, n-2), all different from n. Asked only when the bends
clearly repeat (``models.motion.periodicity``: "periodic") or are one single movement
(counted once), and when no bend is within ``MIN_MARGIN`` degrees of the prominence that
counts it (the count would change).
"""
from __future__ import annotations

from ...describe.config import group
from .common import Candidate, ClipFacts, Margin, find, part_name

TASK = "repetition_count"
MIN_COUNT = 1
ASKED = ("periodic", "single")
MIN_MARGIN = 5.0    # degrees of prominence between the count and the next possible count


def count_text(n: int) -> str:
    return {1: "once", 2: "twice"}.get(n, f"{n} times")


def neighbours(n: int) -> list[str]:
    return [count_text(k) for k in (n + 1, n - 1, n + 2, n - 2, n + 3) if k >= 1 and k != n]


def generate(clip: ClipFacts) -> list[Candidate]:
    out = []
    for start, end, facts in clip.intervals:
        for f in facts:
            if f["quantity"] != "repetitions" or f["value"] < MIN_COUNT:
                continue
            if f.get("periodicity") not in ASKED or f.get("margin_deg", 0.0) < MIN_MARGIN:
                continue
            n = len(f["peaks"])
            s, e = clip.t(start), clip.t(end)
            q = (f"Between {s:.2f} s and {e:.2f} s, how many times does the person bend "
                 f"their {part_name(f['part'])}?")
            out.append(Candidate(TASK, "bend_cycles", q, count_text(n), neighbours(n), [f],
                                 {"joint": f["part"]}, key=(TASK, f["part"], start, end),
                                 start_s=s, end_s=e, frames=[start, end]))
    return out


def margin(facts: list, params: dict, answer: str) -> Margin | None:
    """Degrees of bend prominence between the count and the next possible count."""
    f = find(facts, "repetitions", params["joint"])
    if f is None or f.get("margin_deg") is None:
        return None
    return Margin(float(f["margin_deg"]), "deg", float(group("angle")["margin"]), MIN_MARGIN,
                  f["visibility"])


def derive(facts: list, params: dict) -> str | None:
    f = find(facts, "repetitions", params["joint"])
    return None if f is None else count_text(len(f["peaks"]))
