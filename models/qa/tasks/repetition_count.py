"""repetition_count: how many times a joint bends over an interval (angle-signal cycles).

The count is the number of bend events stored in the fact (``peaks``); distractors are
neighbouring counts (n-1, n+1, n+2, n-2), all different from n.
"""
from __future__ import annotations

from .common import Candidate, ClipFacts, find, part_name

TASK = "repetition_count"
MIN_COUNT = 1


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
            n = len(f["peaks"])
            s, e = clip.t(start), clip.t(end)
            q = (f"Between {s:.2f} s and {e:.2f} s, how many times does the person bend "
                 f"their {part_name(f['part'])}?")
            out.append(Candidate(TASK, "bend_cycles", q, count_text(n), neighbours(n), [f],
                                 {"joint": f["part"]}, key=(TASK, f["part"], start, end),
                                 start_s=s, end_s=e, frames=[start, end]))
    return out


def derive(facts: list, params: dict) -> str | None:
    f = find(facts, "repetitions", params["joint"])
    return None if f is None else count_text(len(f["peaks"]))
