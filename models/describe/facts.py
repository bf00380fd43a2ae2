"""Structured facts and the vectorised per-track fact table.

API
---
``Fact``: one statement about the body. ``kind`` (measurement type or "posture",
"unknown", a diff/motion kind), ``parts`` (subject part names), ``quantity`` (the
measurement id), ``value`` + ``unit``, ``bin`` (label from the configuration), ``frame``,
``visibility`` (lowest visibility of the joints it rests on), ``joints`` (their BlazePose
indices), ``region``, ``side``, ``phrase`` (the rendered clause), ``extra`` (dict).
``to_dict()`` gives a JSON-able dict; ``Fact.from_dict`` reads it back.

``TrackFacts``: values / bin codes / visibility as (frames, M) arrays for every
measurement, the posture labels as (frames, P) booleans, and ``facts_at(i)``.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from .config import Measure, display_name, group


@dataclass(frozen=True)
class Fact:
    kind: str
    parts: tuple
    quantity: str
    value: float
    unit: str
    bin: str
    frame: int | None = None
    visibility: float = 1.0
    joints: tuple = ()
    region: str = "body"
    side: str = "centre"
    phrase: str = ""
    extra: dict = field(default_factory=dict, compare=False, hash=False)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["parts"] = list(self.parts)
        d["joints"] = [int(j) for j in self.joints]
        d["value"] = None if self.value is None or math.isnan(self.value) else round(float(self.value), 4)
        d["visibility"] = round(float(self.visibility), 4)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "Fact":
        d = dict(d)
        d["parts"] = tuple(d["parts"])
        d["joints"] = tuple(d["joints"])
        d["value"] = float("nan") if d["value"] is None else d["value"]
        return cls(**d)


def phrase_for(m: Measure, label_code: int) -> str | None:
    """The clause for one measurement in one bin, or None for a silent bin."""
    tpl = group(m.group)["phrases"][label_code]
    if tpl is None:
        return None
    return render(tpl, m, m.subject)


def render(tpl: str, m: Measure, subject: str) -> str:
    be = "are" if subject.endswith(("s", "feet")) else "is"
    return tpl.format(subject=subject, be=be, noun=m.noun, b=m.b_name or display_name(m.b))


@dataclass
class TrackFacts:
    specs: tuple
    values: np.ndarray      # (frames, M)
    codes: np.ndarray       # (frames, M) int16, -1 = not measured / not visible
    vis: np.ndarray         # (frames, M)
    postures: np.ndarray    # (frames, P) bool
    posture_labels: tuple
    first_frame: int = 0
    # set by ``track_facts`` once measured (not constructor arguments)
    joint_vis: np.ndarray = field(init=False, repr=False, compare=False)   # (frames, joints)
    min_visibility: float = field(init=False, repr=False, compare=False)
    unreliable: np.ndarray = field(init=False, repr=False, compare=False)  # (frames,) bool
    variants: Any = field(init=False, repr=False, compare=False)
    unreliable_reasons: list = field(init=False, repr=False, compare=False)

    def __len__(self) -> int:
        return len(self.values)

    def column(self, mid: str) -> int:
        return [m.id for m in self.specs].index(mid)

    def labels(self, mid: str) -> np.ndarray:
        """Bin label per frame of one measurement (None where unknown)."""
        j = self.column(mid)
        labels = np.array(list(group(self.specs[j].group)["labels"]) + [None], dtype=object)
        return labels[self.codes[:, j]]

    def facts_at(self, i: int) -> list[Fact]:
        from .build import facts_from_row  # noqa: PLC0415
        return facts_from_row(self, i)
