"""Rendering of difference facts (``models.diff``) as one or two English clauses.

API: ``render_diff(facts) -> str``. Verb clauses about the person come first ("The
person raises the right hand above the head and bends both knees"), then clauses about
parts ("the hands move closer together; the body turns a quarter to the left"). Twins
with the same change merge into plurals; an elbow/knee displacement in the same
direction as its hand/foot is left out (implied).

``render_diff(facts, subject=...)`` names the person with ``subject`` (a referent such as
"the person on the left"; the default keeps the single-person text): "The person on the
left raises their right hand", or, with part clauses only, "The hands of the person on the
left move closer together". The body's own sides read "their left hand", so they never run
into the picture's side of the referent.
"""
from __future__ import annotations

from .describe.config import config, display_name
from .describe.referents import SINGLE, capitalised
from .describe.text import merge_subjects, of_subject

WORDS = {"left": "to the left", "right": "to the right", "up": "up", "down": "down",
         "forward": "forward", "back": "back"}
ANGLE_OBJECT = {"elbow": "elbow", "knee": "knee", "shoulder": "arm", "hip": "hip"}
END_OF = {"elbow": "hand", "knee": "foot"}


def _join(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _adv(label: str) -> str:
    return config()["diff"]["adverbs"].get(label, "")


def _verb_clause(f):
    """(template with {obj}, noun, side, suffix) for person-verb facts, else None."""
    verbs = config()["diff"]["verbs"]
    if f.kind == "displacement":
        noun = display_name(f.parts[0]).split(" ")[-1]
        dirs = f.extra.get("directions") or []
        if dirs in (["up"], ["down"]):
            tpl = verbs[dirs[0]] + " {obj}"
            tail = " above the head" if f.extra.get("above_head") else ""
        else:
            tpl, tail = "moves {obj}" + (" " + _join([WORDS[d] for d in dirs]) if dirs else ""), ""
        return tpl, noun, f.side, tail + _adv(f.bin)
    if f.kind == "angle_change":
        joint = f.quantity.split("_")[1]
        verb = verbs[joint][0 if f.value < 0 else 1]
        return verb + " {obj}", ANGLE_OBJECT[joint], f.side, _adv(f.bin)
    if f.kind == "posture_change":
        return f"goes from {f.extra['a']} to {f.extra['b']}", "", "centre", ""
    return None


def _subject_clause(f) -> str:
    adv = _adv(f.bin)
    if f.kind == "distance_change":
        how = "closer together" if f.value < 0 else "further apart"
        return f"{f.extra['subject']} move{adv} {how}"
    if f.kind == "turn":
        if f.bin == "around":
            return "the body turns around"
        return f"the body turns {f.bin} to the {f.extra['direction']}"
    what = {"lean_fb": ("leans further back", "leans further forward"),
            "lean_lr": ("leans more to the right", "leans more to the left"),
            "twist": ("twists to the right", "twists to the left")}[f.quantity]
    return f"the torso {what[1 if f.value > 0 else 0]}{adv}"


def _implied(f, facts) -> bool:
    if f.kind == "angle_change" and f.quantity.endswith("_shoulder_angle"):
        way = "up" if f.value > 0 else "down"
        return any(g.kind == "displacement" and g.parts[0] == f"{f.side}_hand" and
                   (g.extra.get("directions") or [None])[0] == way for g in facts)
    if f.kind == "distance_change" and f.quantity in ("elbows_distance", "knees_distance"):
        other = "hands_distance" if f.quantity == "elbows_distance" else "feet_distance"
        return any(g.quantity == other and (g.value > 0) == (f.value > 0) for g in facts)
    if f.kind != "displacement":
        return False
    kind = f.parts[0].split("_")[-1]
    if kind == "shoulder":
        return any(g.kind == "lean_change" for g in facts)
    if kind not in END_OF:
        return False
    end = f"{f.side}_{END_OF[kind]}"
    first = (f.extra.get("directions") or [None])[0]
    return any(g.kind == "displacement" and g.parts[0] == end and
               (g.extra.get("directions") or [None])[0] == first for g in facts)


def _merge(clauses: list[tuple], whose: str = "the") -> list[str]:
    out, used = [], set()
    for i, (tpl, noun, side, tail) in enumerate(clauses):
        if i in used:
            continue
        same = lambda c: (c[1:] == (noun, "right", tail) and  # noqa: E731
                          sorted(c[0].split()) == sorted(tpl.split()))  # directions in any order
        twin = next((k for k, c in enumerate(clauses) if k not in used and k != i and same(c)),
                    None) if side == "left" else None
        if twin is not None:
            used.add(twin)
            obj = f"both {noun}s" if noun != "foot" else "both feet"
        else:
            obj = f"{whose} {side} {noun}" if side in ("left", "right") else f"{whose} {noun}"
        out.append(tpl.format(obj=obj) + tail)
        used.add(i)
    return out


def render_diff(facts, subject: str = SINGLE) -> str:
    single = subject == SINGLE
    if not facts:
        return "No visible change." if single else f"No visible change in {subject}."
    kept = [f for f in facts if not _implied(f, facts)]
    order = {"body": 0, "arms": 1, "torso": 2, "legs": 3}
    kept.sort(key=lambda f: order.get(f.region, 4))
    verbs = [c for c in (_verb_clause(f) for f in kept) if c is not None]
    rank = {"distance_change": 0, "lean_change": 1, "turn": 2}
    rest = sorted((f for f in kept if _verb_clause(f) is None), key=lambda f: rank.get(f.kind, 3))
    subjects = merge_subjects([_subject_clause(f) for f in rest])
    parts = []
    if verbs:
        parts.append(capitalised(subject) + " " + _join(_merge(verbs, "the" if single else "their")))
    elif subjects and not single:
        subjects[0] = of_subject(subjects[0], subject)
    if subjects:
        parts.append(_join(subjects))
    text = "; ".join(parts)
    return text[0].upper() + text[1:] + "."
