"""Rendering of temporal facts (``models.motion``) as English.

API: ``render_motion(facts) -> str``: movement directions, then the repetition count with
the signal it was counted on, then the order of movement onsets ("the knees start
bending; just after, the left hand starts rising").

``render_motion(facts, subject=...)`` names the person with ``subject`` (a referent such as
"the person on the left"; the default keeps the single-person text) once, in the first
sentence: "The left hand of the person on the left moves up ..." or "No part of the person
on the left moves clearly from start to end."
"""
from __future__ import annotations

from .describe.config import config
from .describe.referents import SINGLE
from .describe.text import merge_subjects, of_subject

WORDS = {"left": "to the left", "right": "to the right", "up": "up", "down": "down",
         "forward": "forward", "back": "back"}
MAX_ONSETS = 5


def _join(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _cap(text: str) -> str:
    return text[0].upper() + text[1:]


def _movement(f) -> str:
    adv = " slightly" if f.bin == "slightly" else ""
    if f.quantity == "body_height":
        return f"the body {'rises' if f.value > 0 else 'lowers'}{adv}"
    if f.quantity == "body_sideways":
        return f"the body moves{adv} towards the {f.extra['directions'][0]}"
    dirs = [WORDS[d] for d in f.extra.get("directions", [])]
    name = f.parts[0].replace("_", " ")
    return f"the {name} moves{adv}" + (" " + _join(dirs) if dirs else "")


def _repetition(f) -> str:
    n = int(f.value)
    if n == 0:
        return (f"No repeated movement was found (the strongest signal, the {f.extra['signal']}, "
                "has no repeated cycle).")
    per = f.extra.get("period_s")
    each = f" (about {per:.1f} s each)" if per else ""
    return f"The {f.extra['signal']} goes through {n} cycle{'s' if n != 1 else ''}{each}."


def _merge_onsets(onsets) -> list[tuple[str, str, float]]:
    """(subject, verb, time) with left/right twins starting together merged."""
    sim = config()["motion"]["simultaneous_s"]
    out, used = [], set()
    for i, f in enumerate(onsets):
        if i in used:
            continue
        part = f.parts[0].replace("_", " ")
        subject = f"the {part}"
        if f.side == "left":
            base = part[len("left "):]
            for k, g in enumerate(onsets):
                if k not in used and g.side == "right" and g.parts[0].endswith(base.replace(" ", "_")) \
                        and g.bin == f.bin and abs(g.value - f.value) <= sim:
                    used.add(k)
                    subject = "both " + ("feet" if base == "foot" else base + "s")
                    break
        used.add(i)
        out.append((subject, f.bin, f.value))
    return out


def _order(onsets) -> str:
    cfg = config()["motion"]
    items = _merge_onsets(onsets)[:MAX_ONSETS]
    if not items:
        return ""
    clauses, prev = [], None
    for subject, verb, t in items:
        start = "start" if subject.startswith("both") or subject.endswith("s") else "starts"
        clause = f"{subject} {start} {verb} at {t:.2f} s"
        if prev is not None:
            gap = t - prev
            rel = ("at the same time" if gap <= cfg["simultaneous_s"] else
                   "just after" if gap <= cfg["just_after_s"] else "then")
            clause = f"{rel}, {clause}" if rel != "at the same time" else f"{clause} ({rel})"
        clauses.append(clause)
        prev = t
    return _cap("; ".join(clauses)) + "."


def _moves(facts) -> list[str]:
    """Movement clauses, left/right twins with the same direction merged."""
    items = [f for f in facts if f.kind == "movement"]
    out, used = [], set()
    for i, f in enumerate(items):
        if i in used:
            continue
        twin = next((k for k, g in enumerate(items) if f.side == "left" and g.side == "right"
                     and g.parts[0] == f.parts[0].replace("left", "right") and g.bin == f.bin
                     and g.extra.get("directions") == f.extra.get("directions")), None)
        text = _movement(f)
        if twin is not None:
            used.add(twin)
            noun = f.parts[0].split("_", 1)[1]
            both = "both feet" if noun == "foot" else f"both {noun}s"
            text = text.replace(f"the left {noun} moves", f"{both} move")
        out.append(text)
    return out


def render_motion(facts, subject: str = SINGLE) -> str:
    moves = _moves(facts)
    moves += [f"the body turns {f.bin} to the {f.extra['direction']}" if f.bin != "around"
              else "the body turns around" for f in facts if f.kind == "turn"]
    moves = merge_subjects(moves)
    if moves and subject != SINGLE:
        moves[0] = of_subject(moves[0], subject)
    whose = "" if subject == SINGLE else f" of {subject}"
    out = ([_cap(_join(moves)) + "."] if moves
           else [f"No part{whose} moves clearly from start to end."])
    out += [_repetition(f) for f in facts if f.kind == "repetition"]
    order = _order([f for f in facts if f.kind == "onset"])
    return " ".join(out + ([order] if order else []))
