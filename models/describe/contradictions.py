"""Self-contradictions within one frame's facts (an automatic check over whole clips).

API
---
``contradictions(facts) -> list[str]``: one line per pair of facts that cannot both be true
(empty = consistent). Rules:

* a region is "not visible" while a claim rests on one of its joints;
* two whole-body postures that exclude each other (standing with sitting, kneeling,
  squatting or lying; lying with sitting, kneeling or squatting; sitting with squatting);
* "bending over" with the torso upright, leaning back, or with "standing";
* "standing" with both feet off the ground; "kneeling" with both knees straight;
* "raising both arms" while a hand is not above the head; a hand above the head but
  not above (or level with) its own shoulder;
* one measurement stated twice with different bins.
"""
from __future__ import annotations

EXCLUSIVE = [("standing", "sitting"), ("standing", "kneeling"), ("standing", "squatting"),
             ("standing", "lying"), ("lying", "sitting"), ("lying", "kneeling"),
             ("lying", "squatting"), ("sitting", "squatting"), ("standing", "bending over")]


def contradictions(facts) -> list[str]:
    facts = list(facts)
    out: list[str] = []
    hidden = {}
    for f in facts:
        if f.kind == "unknown":
            for j in f.joints:
                hidden[int(j)] = f.phrase
    bins: dict = {}
    for f in facts:
        if f.kind == "unknown":
            continue
        clash = sorted({int(j) for j in f.joints} & set(hidden))
        if clash:
            out.append(f"'{f.phrase}' rests on joint {clash[0]} while '{hidden[clash[0]]}'")
        if f.kind != "posture":
            if f.quantity in bins and bins[f.quantity] != f.bin:
                out.append(f"{f.quantity} is both '{bins[f.quantity]}' and '{f.bin}'")
            bins[f.quantity] = f.bin
    postures = {f.bin for f in facts if f.kind == "posture"}
    for a, b in EXCLUSIVE:
        if a in postures and b in postures:
            out.append(f"posture '{a}' with '{b}'")
    if "bending over" in postures:
        if bins.get("torso_orientation") == "vertical up":
            out.append("bending over with an upright torso")
        if bins.get("lean_fb") in ("slightly back", "clearly back"):
            out.append(f"bending over while the torso leans {bins['lean_fb']}")
    if "standing" in postures and \
            bins.get("left_foot_ground") == bins.get("right_foot_ground") == "off the ground":
        out.append("standing with both feet off the ground")
    if "kneeling" in postures and bins.get("left_knee_angle") == bins.get("right_knee_angle") == "straight":
        out.append("kneeling with both knees straight")
    for side in ("left", "right"):
        head = bins.get(f"{side}_hand_above_head")
        if "arms raised" in postures and head is not None and head != "above":
            out.append(f"raising both arms while the {side} hand is at head height")
        if head == "above" and bins.get(f"{side}_hand_above_shoulder") not in (None, "above"):
            out.append(f"the {side} hand is above the head but not above the shoulder")
    return out
