"""Free-text claims about a body checked against the rule facts of the same frames.

A model's pose description or difference text is read clause by clause for the few claims
the rule facts can judge ("the left arm is raised above the head", "the right knee bends",
"the person is sitting"); each claim that the facts clearly refute becomes a contradiction.
Anything the reader does not recognise, a negated clause ("does not raise ...") and a
claim about a quantity the facts did not measure (hidden joint, unreliable frame) is left
alone: the check only speaks where text and facts overlap.

API
---
``text_claims(text) -> list[Claim]``: the recognised claims of a text.
``state_contradictions(text, tf, frames) -> list[dict]``: claims about the state of the
body refuted on every measured frame of ``frames`` (a description of a window is only
contradicted when no frame of the window supports it).
``change_contradictions(text, tf, frame_a, frame_b) -> list[dict]``: claims about a change
from frame A to frame B ("raises", "lowers", "bends", "straightens") refuted by the
measured change.

Each contradiction is ``{"claim", "kind", "side", "part", "state", "quantity", "fact",
"bin", "frame", "frames"}``: the clause, what was claimed, the fact that refutes it
("left_hand_above_head is 'below'"), the first refuting frame and all of them.
Sides are the person's own left and right, as in the facts.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Optional, Sequence

from .contradictions import EXCLUSIVE

__all__ = ["Claim", "change_contradictions", "state_contradictions", "text_claims"]

_CLAUSE = re.compile(r"[.;:!?,\n]|\b(?:and|while|whereas|but|then|as)\b", re.IGNORECASE)
_NEGATION = re.compile(r"\b(?:not|no|never|neither|nor|without|none)\b|n't\b", re.IGNORECASE)
_PART = re.compile(r"\b(left|right|both)\s+(arms?|hands?|elbows?|knees?|legs?|feet|foot)\b",
                   re.IGNORECASE)
_PARTS = {"arm": "arm", "arms": "arm", "hand": "arm", "hands": "arm", "elbow": "elbow",
          "elbows": "elbow", "knee": "knee", "knees": "knee", "leg": "leg", "legs": "leg",
          "foot": "foot", "feet": "foot"}


def _words(*ws: str) -> re.Pattern:
    return re.compile(r"\b(?:" + "|".join(ws) + r")\b", re.IGNORECASE)


_ABOVE_HEAD = _words(r"above (?:the|his|her|their) heads?", "overhead", r"over (?:the|his|her|their) heads?",
                     "raised high", "straight up", "up high")
_RAISED = _words("rais(?:e|es|ed|ing)", "lift(?:s|ed|ing)?", "up", "upward(?:s)?", "elevat(?:e|es|ed|ing)")
_LOWERED = _words("lower(?:s|ed|ing)?", "down", "downward(?:s)?", "hang(?:s|ing)?", "hung",
                  "drop(?:s|ped|ping)?",
                  r"(?:by|at) (?:the|his|her|their) sides?")
_BENT = _words("bend(?:s|ing)?", "bent", "flex(?:es|ed|ing)?", "fold(?:s|ed|ing)?")
_STRAIGHT = _words("straight", "straighten(?:s|ed|ing)?", "extend(?:s|ed|ing)?", "outstretched",
                   "locked")
_OFF_GROUND = _words("lift(?:s|ed|ing)?", "rais(?:e|es|ed|ing)", r"off the (?:ground|floor)", "in the air")
_ON_GROUND = _words(r"on the (?:ground|floor)", "planted", r"flat on")
_HEDGE = _words("slightly", "a little", "a bit", "somewhat", "partly", "partially", "almost", "nearly",
                "barely")
_POSTURE = {"standing": _words("stand(?:s|ing)?", "stood"),
            "sitting": _words("sit(?:s|ting)?", "seated", "sat"),
            "kneeling": _words("kneel(?:s|ing)?", "knelt"),
            "squatting": _words("squat(?:s|ting)?", "crouch(?:es|ed|ing)?"),
            "lying": _words("l(?:ie|ies|ying)", r"lying down")}

BENT_LABELS = ("completely bent", "bent more", "right angle")   # <= 105 degrees
ARM_DOWN = ("completely bent",)          # shoulder angle under 45 degrees: arm along the body
CHANGE_MIN_M = 0.10                      # hand height change (m) that refutes "raises"/"lowers"
CHANGE_MIN_DEG = 18.0                    # angle change that refutes "bends"/"straightens"


@dataclass(frozen=True)
class Claim:
    clause: str
    kind: str            # "state" | "change" | "posture"
    side: str            # "left" | "right" | "" (whole body)
    part: str            # arm, elbow, knee, leg, foot, body
    state: str           # above_head, raised, lowered, bent, straight, off_ground, on_ground, a posture


def _clauses(text: str) -> list[str]:
    return [c.strip() for c in _CLAUSE.split(text or "") if c and c.strip()]


def text_claims(text: str) -> list[Claim]:
    """The claims a text makes that the rule facts can judge (negated clauses skipped)."""
    out: list[Claim] = []
    for clause in _clauses(text):
        if _NEGATION.search(clause):
            continue
        parts = [(m.group(1).lower(), _PARTS[m.group(2).lower()]) for m in _PART.finditer(clause)]
        for side_word, part in parts:
            sides = ("left", "right") if side_word == "both" else (side_word,)
            for state in _part_states(clause, part):
                for side in sides:
                    kind = "change" if state in ("raises", "lowers", "bends", "straightens") else "state"
                    out.append(Claim(clause, kind, side, part, state))
        if not parts:
            for posture, pattern in _POSTURE.items():
                if pattern.search(clause):
                    out.append(Claim(clause, "posture", "", "body", posture))
    seen, unique = set(), []
    for c in out:
        key = (c.clause.lower(), c.side, c.part, c.state)
        if key not in seen:
            seen.add(key)
            unique.append(c)
    return unique


def _part_states(clause: str, part: str) -> list[str]:
    """The states (and changes) a clause claims for one body part."""
    states = []
    if part == "arm":
        if _ABOVE_HEAD.search(clause):
            states.append("above_head")
        elif _RAISED.search(clause):
            states.append("raised")
        if _LOWERED.search(clause) and not _RAISED.search(clause):
            states.append("lowered")
    if part in ("arm", "elbow", "leg", "knee") and not _HEDGE.search(clause):
        # a hedged bend ("slightly bent") lies next to "straight": too close to judge
        straight_up = re.search(r"\bstraight up\b", clause, re.IGNORECASE)
        if _BENT.search(clause):
            states.append("bent")
        elif _STRAIGHT.search(clause) and not straight_up:
            states.append("straight")
    if part in ("foot", "leg"):
        if _ON_GROUND.search(clause):
            states.append("on_ground")
        elif _OFF_GROUND.search(clause):
            states.append("off_ground")
    # the same verbs read as changes in a difference text
    verbs = {"above_head": "raises", "raised": "raises", "lowered": "lowers", "bent": "bends",
             "straight": "straightens"}
    changes = [verbs[s] for s in states if s in verbs and _is_verb(clause, s)]
    return states + changes


_UP_VERBS = _words("rais(?:e|es|ing)", "lift(?:s|ing)?", "mov(?:e|es|ing) up", "go(?:es)? up")
_VERB_FORMS = {"above_head": _UP_VERBS, "raised": _UP_VERBS,
               "lowered": _words("lower(?:s|ing)?", "drop(?:s|ping)?", "mov(?:e|es|ing) down",
                                 "go(?:es)? down"),
               "bent": _words("bend(?:s|ing)?", "flex(?:es|ing)?", "fold(?:s|ing)?"),
               "straight": _words("straighten(?:s|ing)?", "extend(?:s|ing)?")}


def _is_verb(clause: str, state: str) -> bool:
    return bool(_VERB_FORMS[state].search(clause))


# -- judging ---------------------------------------------------------------------------------
def _refuter(claim: Claim) -> list[tuple[str, tuple]]:
    """(measurement id, labels that refute the claim) for a state claim."""
    s = claim.side
    angle = {"arm": f"{s}_elbow_angle", "elbow": f"{s}_elbow_angle", "leg": f"{s}_knee_angle",
             "knee": f"{s}_knee_angle"}.get(claim.part)
    table: dict[str, list[tuple[str, tuple]]] = {
        "above_head": [(f"{s}_hand_above_head", ("below",)), (f"{s}_shoulder_angle", ARM_DOWN)],
        "raised": [(f"{s}_shoulder_angle", ARM_DOWN)],
        "lowered": [(f"{s}_hand_above_head", ("above",)), (f"{s}_hand_above_shoulder", ("above",))],
        "bent": [(angle, ("straight",))] if angle else [],
        "straight": [(angle, BENT_LABELS)] if angle else [],
        "off_ground": [(f"{s}_foot_ground", ("on the ground",))],
        "on_ground": [(f"{s}_foot_ground", ("off the ground",))],
    }
    return table.get(claim.state, [])


def _labels(tf, mid: str):
    try:
        return tf.labels(mid)
    except ValueError:
        return None


def _row(tf, frame: int) -> Optional[int]:
    i = int(frame) - int(getattr(tf, "first_frame", 0))
    return i if 0 <= i < len(tf) else None


def _entry(claim: Claim, quantity: str, fact: str, label, frames: list[int]) -> dict:
    return {"claim": claim.clause, "kind": claim.kind, "side": claim.side, "part": claim.part,
            "state": claim.state, "quantity": quantity, "fact": fact, "bin": label,
            "frame": int(frames[0]), "frames": [int(f) for f in frames]}


def state_contradictions(text: str, tf, frames: Sequence[int]) -> list[dict]:
    """State and posture claims of ``text`` refuted on every frame of ``frames`` where the
    facts measured the quantity (at least one)."""
    rows = [(int(f), _row(tf, f)) for f in frames]
    rows = [(f, r) for f, r in rows if r is not None]
    out: list[dict] = []
    for claim in text_claims(text):
        if claim.kind == "posture":
            hit = _posture_refuted(claim, tf, rows)
            if hit:
                out.append(hit)
            continue
        if claim.kind != "state":
            continue
        for mid, refuting in _refuter(claim):
            labels = _labels(tf, mid)
            if labels is None:
                continue
            seen = [(f, labels[r]) for f, r in rows if labels[r] is not None]
            if seen and all(lab in refuting for _, lab in seen):
                out.append(_entry(claim, mid, f"{mid} is '{seen[0][1]}'", seen[0][1],
                                  [f for f, _ in seen]))
                break
    return out


def _posture_refuted(claim: Claim, tf, rows) -> Optional[dict]:
    rivals = {b for a, b in EXCLUSIVE if a == claim.state} | {a for a, b in EXCLUSIVE if b == claim.state}
    labels = list(tf.posture_labels)
    hits, first = [], None
    for f, r in rows:
        held = {labels[j] for j in range(len(labels)) if tf.postures[r, j]}
        if not held:
            continue                      # no posture recognised: nothing to compare
        if claim.state in held or not (held & rivals):
            return None
        hits.append(f)
        first = first or sorted(held & rivals)[0]
    if not hits:
        return None
    return _entry(claim, "posture", f"posture is '{first}'", first, hits)


def change_contradictions(text: str, tf, frame_a: int, frame_b: int) -> list[dict]:
    """Change claims ("raises", "lowers", "bends", "straightens") refuted by the measured
    change from ``frame_a`` to ``frame_b``."""
    ra, rb = _row(tf, frame_a), _row(tf, frame_b)
    if ra is None or rb is None:
        return []
    out: list[dict] = []
    for claim in text_claims(text):
        if claim.kind != "change":
            continue
        s = claim.side
        if claim.state in ("raises", "lowers"):
            if claim.part != "arm":
                continue
            mid, limit, unit = f"{s}_hand_above_shoulder", CHANGE_MIN_M, "m"
            sign = 1.0 if claim.state == "raises" else -1.0
        else:
            part_mid = {"arm": f"{s}_elbow_angle", "elbow": f"{s}_elbow_angle",
                   "leg": f"{s}_knee_angle", "knee": f"{s}_knee_angle"}.get(claim.part)
            if part_mid is None:
                continue
            mid = part_mid
            limit, unit = CHANGE_MIN_DEG, "deg"
            sign = -1.0 if claim.state == "bends" else 1.0   # bending makes the angle smaller
        try:
            col = tf.column(mid)
        except ValueError:
            continue
        a, b = float(tf.values[ra, col]), float(tf.values[rb, col])
        if math.isnan(a) or math.isnan(b):
            continue
        change = b - a
        if sign * change < -limit:
            verb = "rises" if change > 0 else "drops"
            if unit == "deg":
                verb = "opens" if change > 0 else "closes"
            fact = f"{mid} {verb} by {abs(change):.2f} {unit} from frame {int(frame_a)} to {int(frame_b)}"
            entry = _entry(claim, mid, fact, None, [int(frame_a), int(frame_b)])
            entry["change"] = round(change, 4)
            entry["frame"] = int(frame_b)
            out.append(entry)
    return out
