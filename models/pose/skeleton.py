"""Skeleton definitions loaded from ``resources/skeletons``."""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from .. import resources


@dataclass(frozen=True)
class Skeleton:
    id: str
    joints: tuple[str, ...]
    bones: tuple[tuple[int, int], ...]
    angles: dict  # angle name -> (joint a, vertex joint, joint c) names

    def index(self, name: str) -> int:
        return self.joints.index(name)

    @property
    def n(self) -> int:
        return len(self.joints)

    def side(self, joint: int) -> str:
        """'left', 'right' or 'centre' from the joint's name."""
        name = self.joints[joint]
        if name.startswith("left_"):
            return "left"
        if name.startswith("right_"):
            return "right"
        return "centre"

    def bone_side(self, bone: tuple[int, int]) -> str:
        a, b = (self.side(j) for j in bone)
        return a if a == b else "centre"

    @property
    def mirror_index(self) -> np.ndarray:
        """Index array that swaps every left joint with its right twin."""
        out = np.arange(self.n)
        for i, name in enumerate(self.joints):
            for a, b in (("left_", "right_"), ("right_", "left_")):
                if name.startswith(a):
                    out[i] = self.joints.index(b + name[len(a):])
        return out


@lru_cache(maxsize=None)
def blazepose() -> Skeleton:
    data = resources.load_json("skeletons", "blazepose33.json")
    return Skeleton(data["id"], tuple(data["joints"]),
                    tuple(tuple(b) for b in data["bones"]), dict(data["angles"]))


@lru_cache(maxsize=None)
def coco17() -> Skeleton:
    data = resources.load_json("skeletons", "coco17.json")
    bones = tuple((a - 1, b - 1) for a, b in data["skeleton_1based"])
    return Skeleton(data["id"], tuple(data["joints"]), bones, {})


def __getattr__(name: str):
    """``BLAZEPOSE_N``: the BlazePose joint count, read from its skeleton file."""
    if name == "BLAZEPOSE_N":
        return blazepose().n
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
