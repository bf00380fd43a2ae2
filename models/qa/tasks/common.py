"""Shared pieces of the per-task QA generators: the candidate, the clip's facts, phrasing.

A generator module defines ``TASK``, ``generate(clip: ClipFacts) -> list[Candidate]`` and
``derive(facts, params) -> str | None`` (the correct option text recomputed from stored
facts alone; used by ``synth.rederive`` and the tests).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Optional

from ...video import FrameTimes

if TYPE_CHECKING:   # a type only: answerable imports the tasks
    from ..answerable import TrackContext


@dataclass
class Candidate:
    task: str
    template: str
    question: str
    answer: str
    distractors: list  # provably wrong options, best first
    facts: list
    params: dict
    key: tuple  # near-duplicate key: same key = same question in substance
    frame_a: Optional[int] = None
    frame_b: Optional[int] = None
    start_s: Optional[float] = None
    end_s: Optional[float] = None
    frames: list = field(default_factory=list)
    confidence: Optional[float] = None   # set by ``answerable.judge`` before it is stored
    margin: Optional["Margin"] = None
    referent: Optional[str] = None       # how the question names its person (several people)


@dataclass
class Margin:
    """How far an answer's value is from changing: its distance from the nearest bin edge
    (``value``, in ``unit``), the describer group's own margin in ``resources/posecodes.json``
    (``group``; the task's minimum where the describer has no such group), the least
    margin the task asks about (``minimum``) and the lowest visibility of the facts used."""
    value: float
    unit: str
    group: float
    minimum: float
    visibility: float = 1.0

    @property
    def ratio(self) -> float:
        return self.value / self.group if self.group > 0 else float("inf")


@dataclass
class ClipFacts:
    """Everything the generators may use about one clip: facts only, no arrays."""
    video: str
    fps: float
    frames: dict  # frame index -> list of fact dicts at that frame
    intervals: list  # (start, end, list of interval fact dicts)
    pairs: list  # (frame_a, frame_b)
    n_options: int = 4
    times: Optional[FrameTimes] = None  # the clip's frame times; None: frame / fps
    context: Optional["TrackContext"] = None  # reliability, stability

    def t(self, frame: int) -> float:
        """Seconds at which ``frame`` is shown (as questions state it)."""
        if self.times is not None:
            return round(self.times.time_of(frame), 2)
        return round(frame / self.fps, 2) if self.fps else float(frame)


def part_name(name: str) -> str:
    """'left_knee' -> "left knee"."""
    return name.replace("_", " ")


def find(facts: list, quantity: str, part=None, frame=None, axis=None) -> Optional[dict]:
    for f in facts:
        if f["quantity"] != quantity:
            continue
        if part is not None and f["part"] != part:
            continue
        if frame is not None and f.get("frame") != frame:
            continue
        if axis is not None and f.get("axis") != axis:
            continue
        return f
    return None


def value(facts: list, quantity: str, part=None, frame=None, axis=None) -> Optional[float]:
    f = find(facts, quantity, part, frame, axis)
    return None if f is None else f["value"]


def bin_of(v: float, edges: list) -> int:
    """Index of the bin of ``v`` given ascending upper edges (last bin open-ended)."""
    for i, e in enumerate(edges):
        if v <= e:
            return i
    return len(edges)


def near_edge(v: float, edges: list, margin: float) -> bool:
    return any(abs(v - e) < margin for e in edges)
