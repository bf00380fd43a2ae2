"""Facts -> readable English, deterministically.

API
---
``prune(facts) -> list[Fact]``: drops facts implied by others (a straight knee when the
thigh and shin are both vertical, a hand "above the shoulder" when it is above the head,
an upright torso or grounded feet when the person is standing, ...).
``describe(facts, subject="the person") -> str``: pruned facts rendered by body region
(whole body, torso, arms, legs), twins merged into plurals when both sides share a bin
("both knees are bent at a right angle"), unknown regions stated last ("The legs are not
visible.").

``subject`` is how the text names the person (a referent from ``describe.referents``, e.g.
"the person on the left"). The default keeps the single-person text. Another subject is
named once, in the first sentence: "The person on the left is standing, ..." or, without
a posture sentence, on the first body part ("The left elbow of the person on the left is
bent ..."): the body's own sides come first and the picture's place after "of", so the two
"left"s never run together.
"""
from __future__ import annotations

from .config import config, measures
from .facts import Fact, render
from .referents import SINGLE, capitalised

_SPECS = None


def _spec(mid: str):
    global _SPECS
    if _SPECS is None:
        _SPECS = {m.id: m for m in measures()}
    return _SPECS.get(mid)


def _bins(facts) -> dict:
    return {f.quantity: f.bin for f in facts if f.kind not in ("posture", "unknown")}


def _implied(f: Fact, b: dict, postures: set) -> bool:
    q, side = f.quantity, f.side
    hang = lambda s, a, c: b.get(f"{s}_{a}_orientation") == b.get(f"{s}_{c}_orientation") \
        and b.get(f"{s}_{a}_orientation") in ("vertical down", "vertical up")  # noqa: E731
    if q.endswith("_knee_angle") and f.bin == "straight" and hang(side, "thigh", "shin"):
        return True
    if q.endswith("_elbow_angle") and f.bin == "straight" and hang(side, "upper_arm", "forearm"):
        return True
    if q.endswith(("_upper_arm_orientation", "_forearm_orientation")) and f.bin == "vertical up" \
            and b.get(f"{side}_shoulder_angle") == "straight" and b.get(f"{side}_elbow_angle") == "straight":
        return True
    if q.endswith("_hand_above_shoulder") and b.get(f"{side}_hand_above_head") in ("above", "level"):
        return True
    if q.endswith("_hand_above_head") and f.bin == "below" and \
            b.get(f"{side}_hand_above_shoulder") != "level":
        return True        # a hand below the head says little unless it is at shoulder height
    if q.endswith("_hand_to_hips") and b.get(f"{side}_forearm_orientation") == "vertical down":
        return True
    if postures & {"standing", "sitting"} and q == "torso_orientation" and f.bin == "vertical up":
        return True
    if "standing" in postures and q.endswith("_foot_ground") and f.bin == "on the ground":
        return True
    if q == "feet_height" and f.bin == "level" and b.get("left_foot_ground") == "on the ground" \
            and b.get("right_foot_ground") == "on the ground":
        return True
    if q.startswith("lean_fb") and postures & {"lying", "bending over"}:
        return True
    pairs = {"elbows_distance": "hands_distance", "knees_distance": "feet_distance"}
    return q in pairs and b.get(pairs[q]) == f.bin


def prune(facts) -> list[Fact]:
    b = _bins(facts)
    postures = {f.bin for f in facts if f.kind == "posture"}
    return [f for f in facts if f.kind in ("posture", "unknown") or not _implied(f, b, postures)]


def _join(items: list[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def _limb_clauses(facts: list[Fact]) -> list[str]:
    """One clause per fact, twins with equal bins merged into a plural clause."""
    b = {(f.quantity): f for f in facts}
    out, done = [], set()
    for f in facts:
        if f.quantity in done:
            continue
        m = _spec(f.quantity)
        twin = None
        if m is not None and m.pair and f.side == "left":
            twin = b.get("right_" + m.pair)
        if twin is not None and twin.bin == f.bin and m.plural:
            tpl = config()["groups"][m.group]["phrases"][config()["groups"][m.group]["labels"].index(f.bin)]
            out.append(render(tpl, m, m.plural))
            done.add(twin.quantity)
        else:
            out.append(f.phrase)
        done.add(f.quantity)
    return merge_subjects(_merge_hanging(out))


VERBS = ("is", "are", "leans", "lean", "twists", "twist", "hangs", "hang", "faces", "face",
         "moves", "move", "turns", "turn", "rises", "rise", "lowers", "lower")


def _split(clause: str):
    """(subject, verb, rest) of a clause, or (None, None, clause) when no known verb."""
    words = clause.split(" ")
    for k, w in enumerate(words[1:], start=1):
        if w in VERBS:
            return " ".join(words[:k]), w, " ".join(words[k + 1:])
    return None, None, clause


def merge_subjects(clauses: list[str], per: int = 3) -> list[str]:
    """Clauses about the same subject share it, adjacent or not (the merged clause stands
    where the subject first appears): 'the left hand is raised above the head, close to
    the head and higher than the right hand'; 'the torso leans back and twists to the right'.
    A verb repeated from the previous piece is dropped."""
    groups: list[list] = []
    open_by_subject: dict = {}
    for c in clauses:
        subject, verb, rest = _split(c)
        key = None if subject is None else "the " + subject[5:] if subject.startswith("both ") else subject
        g = open_by_subject.get(key) if key is not None else None
        if g is None or len(g[1]) >= per:
            g = [subject, []]
            groups.append(g)
            if key is not None:
                open_by_subject[key] = g
        g[1].append((verb, rest))
    out = []
    for subject, pieces in groups:
        if subject is None:
            out.append(pieces[0][1])
            continue
        words, prev = [], None
        for verb, rest in pieces:
            words.append(rest if verb == prev else f"{verb} {rest}")
            prev = verb
        out.append(f"{subject} " + _join(words))
    return out


_HANGING = (("upper arm", "forearm", ("arms hang", "arm hangs"), "straight down"),
            ("thigh", "shin", ("legs are", "leg is"), "straight and vertical"))


def _merge_hanging(clauses: list[str]) -> list[str]:
    """'X upper arm(s) ... pointing down' + 'X forearm(s) ... pointing down' -> 'X arm(s) hang(s)'
    (and thigh + shin -> leg)."""
    for subj in ("both", "the left", "the right"):
        both = subj == "both"
        be = "s are" if both else " is"
        for upper, lower, (plural, single), rest in _HANGING:
            up = f"{subj} {upper}{be} pointing straight down"
            low = f"{subj} {lower}{be} pointing straight down"
            if up in clauses and low in clauses:
                clauses[clauses.index(up)] = f"{subj} {plural if both else single} {rest}"
                clauses.remove(low)
    return clauses


def _sentences(clauses: list[str], per: int = 3) -> list[str]:
    out = []
    for k in range(0, len(clauses), per):
        chunk = clauses[k:k + per]
        # a clause that already holds "and" is set off with semicolons ("a; b and c; d")
        if len(chunk) == 2 and " and " in chunk[0]:
            text = chunk[0] + ", and " + chunk[1]
        else:
            text = "; ".join(chunk) if any(" and " in c for c in chunk[:-1]) else _join(chunk)
        out.append(text[0].upper() + text[1:] + ".")
    return out


def _participle(phrase: str) -> str:
    p = phrase[len("the person "):]
    return "facing" + p[len("faces"):] if p.startswith("faces") else p[len("is "):]


def _body_sentence(facts: list[Fact], subject: str = SINGLE) -> list[str]:
    postures = [f.phrase for f in facts if f.kind == "posture"]
    turn = [f.phrase for f in facts if f.kind == "turn"]
    if postures:
        text = capitalised(subject) + " is " + _join(postures)
        return [text + (", " + _participle(turn[0]) if turn else "") + "."]
    if turn and turn[0].startswith(SINGLE + " "):
        return [capitalised(subject) + turn[0][len(SINGLE):] + "."]
    return ["T" + turn[0][1:] + "."] if turn else []


def of_subject(clause: str, subject: str) -> str:
    """``clause`` with its grammatical subject (a body part) tied to ``subject``: 'the left
    elbow is bent' -> 'the left elbow of the person on the left is bent'. A clause without a
    known verb is introduced by the subject instead ('the person on the left: ...')."""
    part, verb, rest = _split(clause)
    if part is None:
        return f"{subject}: {clause}"
    return f"{part} of {subject} {verb} {rest}"


def _unknown_sentence(facts: list[Fact], subject: str = SINGLE) -> list[str]:
    names = [f.parts[0].replace("_", " ") for f in facts]
    for limb in ("arm", "leg"):
        if f"left {limb}" in names and f"right {limb}" in names:
            names.remove(f"right {limb}")
            names[names.index(f"left {limb}")] = f"{limb}s"
    if not names:
        return []
    be = "are" if len(names) > 1 or names[0].endswith("s") else "is"
    whose = "" if subject == SINGLE else f" of {subject}"
    text = _join([f"the {n}" for n in names]) + f"{whose} {be} not visible"
    return [text[0].upper() + text[1:] + "."]


def not_described(reason: str, subject: str = SINGLE) -> str:
    """The text of a frame whose pose is not reliable (never a fact about the body)."""
    why = reason or "the pose is not reliable"
    if subject != SINGLE:
        return f"{capitalised(subject)} is not described: {why}."
    return f"Not described: {why}."


def describe(facts, subject: str = SINGLE) -> str:
    """The facts of one frame as text about ``subject`` (see the module docstring)."""
    facts = list(facts)
    marker = next((f for f in facts if f.quantity == "reliability"), None)
    if marker is not None:
        return not_described(marker.phrase, subject)
    if any(f.kind == "unknown" and f.parts == ("body",) for f in facts):
        return "No person is visible." if subject == SINGLE else \
            f"{capitalised(subject)} is not visible."
    facts = prune(facts)
    regions = config()["regions"]
    known = [f for f in facts if f.kind != "unknown"]
    out = _body_sentence([f for f in known if f.kind in ("posture", "turn")], subject)
    named = bool(out) or subject == SINGLE
    for region in regions[1:]:
        sel = [f for f in known if f.region == region or (region == "torso" and f.region == "body"
                                                         and f.kind not in ("posture", "turn"))]
        clauses = _limb_clauses(sel)
        if clauses and not named:
            clauses[0], named = of_subject(clauses[0], subject), True
        out += _sentences(clauses)
    out += _unknown_sentence([f for f in facts if f.kind == "unknown"],
                             SINGLE if named else subject)
    return " ".join(out)
