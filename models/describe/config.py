"""The posecode configuration (``resources/posecodes.json``) turned into measurement specs.

API
---
``config() -> dict``: the raw JSON (cached).
``measures() -> tuple[Measure, ...]``: every measurement, ``{side}`` entries expanded to
left then right, in the file's order (= the fixed order facts are listed in).
``part_joints(name) -> tuple[int, ...]``: BlazePose joint indices a part name stands for
(a part from the ``parts`` table or a plain joint name).
``display_name(name) -> str``: "left_hand" -> "left hand".
``bin_codes(values, group, margin=0.0)``: vectorised bin codes (int, -1 = unknown).
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from .. import resources
from ..pose.skeleton import blazepose

SIDES = ("left", "right")


@dataclass(frozen=True)
class Measure:
    id: str
    type: str
    group: str
    region: str
    subject: str
    side: str = "centre"
    pair: str = ""          # id with the side removed (twins share it)
    plural: str = ""
    noun: str = ""
    a: str = ""
    b: str = ""
    b_name: str = ""
    axis: str = ""
    joints: tuple = ()      # joint names for angles / explicit joint lists
    frm: str = ""
    to: str = ""
    part: str = ""
    upright_only: bool = False   # stated only while the torso is within 45 deg of upright

    def parts(self) -> tuple[str, ...]:
        """The body parts this measurement is about (the fact's subject parts)."""
        if self.type == "angle":
            return (self.joints[1],)
        if self.type in ("distance", "relative"):
            return (self.a, self.b)
        if self.type == "orientation":
            return (self.frm, self.to)
        if self.type == "ground":
            return (self.part,)
        if self.type == "turn":
            return ("body",)
        return ("torso",)

    def names(self) -> list[str]:
        """Joint / part names the value is computed from (a distance is measured in the
        person's shoulder widths, so it also rests on both shoulders)."""
        names = list(self.joints)
        names += [n for n in (self.a, self.b, self.frm, self.to, self.part) if n]
        if self.type == "distance":
            names += [n for n in ("left_shoulder", "right_shoulder") if n not in names]
        return names

    def resting_joints(self) -> tuple[int, ...]:
        """Joint indices whose visibility this measurement rests on."""
        out: list[int] = []
        for n in self.names():
            out.extend(j for j in part_joints(n) if j not in out)
        return tuple(out)


@lru_cache(maxsize=None)
def config() -> dict:
    return resources.load_json("posecodes.json")


def _fill(value, side: str):
    if isinstance(value, str):
        return value.replace("{side}", side)
    if isinstance(value, list):
        return tuple(_fill(v, side) for v in value)
    return value


def _make(entry: dict, side: str) -> Measure:
    e = {k: _fill(v, side) for k, v in entry.items() if not k.startswith("_")}
    e["frm"] = e.pop("from", "")
    pair = entry["id"].replace("{side}_", "") if "{side}" in entry["id"] else ""
    e["joints"] = tuple(e.get("joints", ()))
    return Measure(side=side if pair else "centre", pair=pair, **e)


@lru_cache(maxsize=None)
def measures() -> tuple[Measure, ...]:
    out: list[Measure] = []
    for entry in config()["measurements"]:
        sides = SIDES if "{side}" in entry["id"] else ("",)
        out.extend(_make(entry, s) for s in sides)
    return tuple(out)


@lru_cache(maxsize=None)
def part_joints(name: str) -> tuple[int, ...]:
    sk = blazepose()
    parts = config()["parts"]
    if name in parts:
        return tuple(sk.index(j) for j in parts[name])
    if name in ("body", "torso"):
        return tuple(sk.index(j) for j in ("left_shoulder", "right_shoulder", "left_hip", "right_hip"))
    return (sk.index(name),)


def display_name(name: str) -> str:
    return config()["names"].get(name, name.replace("_", " "))


def group(name: str) -> dict:
    return config()["groups"][name]


def bin_codes(values: np.ndarray, grp: dict, margin: float = 0.0) -> np.ndarray:
    """Bin codes of ``values + margin``; -1 where the value is NaN.

    Unsigned: code i covers (edges[i-1], edges[i]] (an edge belongs to the lower bin).
    Signed: |value| is binned the same way, then codes run from the most negative bin (0)
    through the middle bin (len(edges)) to the most positive one (2*len(edges)), so codes
    grow with the value and mirror exactly under a sign change."""
    edges = np.asarray(grp["edges"], dtype=np.float64)
    v = np.asarray(values, dtype=np.float64) + margin
    nan = np.isnan(v)
    if grp.get("signed"):
        idx = np.searchsorted(edges, np.abs(np.nan_to_num(v)), side="left")
        code = len(edges) + np.where(v < 0, -idx, idx)
    else:
        code = np.searchsorted(edges, np.nan_to_num(v), side="left")
    return np.where(nan, -1, code).astype(np.int16)
