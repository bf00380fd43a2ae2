"""Whether a QA item can be answered from the pose: its confidence, its margin, and the
reasons it must not be asked.

An item is *answerable* when every rule holds (each broken rule is one reason code):

* ``unreliable_frame``: a frame it rests on, a frame of its stability window or (intervals)
  any frame between its start and end is unreliable (``models.pose.reliability``) or has
  no pose;
* ``not_visible``: a joint its answer uses is below the visibility gate or outside the
  picture (the describer's own gate: ``describe.track_facts`` with ``outside_frame``) on
  one of those frames;
* ``low_margin``: its value is closer to a bin edge than the task's minimum margin
  (``Margin``; each generator's ``margin(facts, params, answer)``);
* ``unstable``: the answer differs on a frame within ``STABLE_S`` seconds (by the clip's
  frame times) of a frame it rests on: a fact that flips within a few frames; or there
  are too few such frames to tell (fewer than ``STABLE_S`` of frames on both sides
  together, e.g. a one-frame clip or a still image);
* ``not_periodic``: a repetition count whose bends do not clearly repeat
  (``models.motion.periodicity``; one single movement counts as one);
* ``changed``: the answer re-derived from the track is not the stored one.

``confidence`` = lowest visibility of the facts used over the window x
``min(1, margin / (2 x the task's minimum margin))``: 0.5 x visibility at the minimum
margin, the full visibility from twice that.

API
---
``TrackContext(track_or_world, fps=None, times=None, min_visibility=0.5)``: what the checks
    need of one track, computed once (reliability, the describer's facts, frame times).
``judge(task, params, answer, frames, facts=None, ctx=None) -> Verdict``: the rules for one
    item (``frames``: the frames it rests on, ``[start, end]`` for intervals). Without a
    context only the margin of ``facts`` is checked.
``judge_record(record, ctx) -> Verdict``: the same for a stored ``QARecord``, re-derived
    from the track (``qa-check``; for an item about one of several people, ``ctx`` is that
    person's track).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from . import measure
from .tasks import GENERATORS
from .tasks.common import Margin

STABLE_S = 0.2          # the answer must hold within this many seconds of its frames
REASONS = {"unreliable_frame": "unreliable frame", "not_visible": "joint not visible",
           "low_margin": "value within a margin of a bin edge",
           "unstable": "answer flips within a few frames",
           "not_periodic": "repetition not clearly periodic",
           "changed": "answer differs from the track"}
INTERVAL_TASKS = ("movement_direction", "repetition_count")


@dataclass
class Verdict:
    confidence: Optional[float] = None
    margin: Optional[Margin] = None
    reasons: list = field(default_factory=list)   # (code, detail)

    @property
    def ok(self) -> bool:
        return not self.reasons

    def add(self, code: str, detail: str) -> None:
        if code not in {c for c, _ in self.reasons}:
            self.reasons.append((code, detail))


class TrackContext:
    """One track's reliability, visibility-gated facts and frame times (computed once)."""

    def __init__(self, track_or_world, fps: Optional[float] = None, times=None,
                 min_visibility: float = 0.5, measures=None) -> None:
        from ..pose.reliability import unreliable_frames  # noqa: PLC0415
        from .synth import reliable_world  # noqa: PLC0415

        track = track_or_world if hasattr(track_or_world, "world") else None
        if track is not None:
            self.world = measures.world if measures is not None else reliable_world(track)
            fps = track.fps if fps is None else fps
            times = track.timeline if times is None and getattr(track, "times", None) is not None \
                else times
            judged = unreliable_frames(track)
        else:
            self.world, judged = np.asarray(track_or_world), None
        self.fps, self.times, self.mv = float(fps or 0.0), times, float(min_visibility)
        n = len(self.world)
        no_pose = np.isnan(self.world[:, :, 0]).all(axis=1)
        self.bad = no_pose | (judged[0] if judged is not None else False)
        self.why = [(judged[1][i] if judged is not None and judged[1][i] else "no pose")
                    for i in range(n)]
        self.m = measures or measure.TrackMeasures(self.world, self.mv, track)
        self._frame_facts: dict = {}

    def __len__(self) -> int:
        return len(self.world)

    def t(self, frame: int) -> float:
        if self.times is not None:
            return float(self.times.time_of(int(frame)))
        return frame / self.fps if self.fps else float(frame)

    def window(self, frame: int) -> list[int]:
        """Frames within ``STABLE_S`` seconds of ``frame`` (inside the clip), ``frame`` first."""
        t0, out = self.t(frame), [int(frame)]
        for step in (-1, 1):
            f = frame + step
            while 0 <= f < len(self) and abs(self.t(f) - t0) <= STABLE_S + 1e-9:
                out.append(int(f))
                f += step
        return out

    def frame_facts(self, frame: int) -> list:
        if frame not in self._frame_facts:
            self._frame_facts[frame] = measure.frame_facts(self.world, frame, self.mv, self.m)
        return self._frame_facts[frame]

    def interval_facts(self, start: int, end: int) -> list:
        return measure.displacement_facts(self.world, start, end, self.mv, self.m)


# -- one item --------------------------------------------------------------------------------
def _confidence(m) -> Optional[float]:
    if m is None or m.minimum <= 0:
        return None
    return round(float(max(0.0, min(1.0, m.value / (2 * m.minimum))) * min(1.0, m.visibility)), 3)


def _variants(task: str, params: dict, frames: list, ctx: TrackContext):
    """(facts, params) of the item at each frame combination of its stability windows."""
    if task == "spatial_difference":
        a, b = params["frame_a"], params["frame_b"]
        for a2 in ctx.window(a):
            yield ctx.frame_facts(a2) + ctx.frame_facts(b), dict(params, frame_a=a2, frame_b=b)
        for b2 in ctx.window(b)[1:]:
            yield ctx.frame_facts(a) + ctx.frame_facts(b2), dict(params, frame_a=a, frame_b=b2)
    elif task == "movement_direction":
        s, e = frames[0], frames[-1]
        for s2 in ctx.window(s):
            if s2 < e:
                yield ctx.interval_facts(s2, e), params
        for e2 in ctx.window(e)[1:]:
            if e2 > s:
                yield ctx.interval_facts(s, e2), params
    else:
        f = params["frame"]
        for f2 in ctx.window(f):
            yield ctx.frame_facts(f2), dict(params, frame=f2)


def _anchors(task: str, params: dict, frames: list) -> list[int]:
    """The frames an item's answer is read at."""
    if task == "movement_direction":
        return [int(frames[0]), int(frames[-1])]
    if task == "spatial_difference":
        return [int(params["frame_a"]), int(params["frame_b"])]
    return [int(params["frame"])]


def _span(task: str, params: dict, frames: list, ctx: TrackContext) -> list[int]:
    """Every frame the item rests on: its windows, and the whole of an interval."""
    if task in INTERVAL_TASKS:
        s, e = int(frames[0]), int(frames[-1])
        last = min(e if task == "movement_direction" else e - 1, len(ctx) - 1)
        out = set(range(s, last + 1)) | set(ctx.window(s))
        if task == "movement_direction":
            out |= set(ctx.window(e))
        return sorted(out)
    keys = ("frame_a", "frame_b") if task == "spatial_difference" else ("frame",)
    return sorted({f for k in keys for f in ctx.window(params[k])})


def judge(task: str, params: dict, answer: str, frames: list, facts: Optional[list] = None,
          ctx: Optional[TrackContext] = None) -> Verdict:
    """Check one item (see the module docstring); ``facts``: the facts it was derived from
    (used when there is no ``ctx``; with one, everything is re-derived from the track)."""
    gen = GENERATORS[task]
    v = Verdict()
    if ctx is None:
        v.margin = gen.margin(facts or [], params, answer)
        if v.margin is None:
            v.add("not_visible", "the facts the answer needs are missing")
        elif v.margin.value < v.margin.minimum:
            v.add("low_margin", _margin_text(v.margin))
        v.confidence = _confidence(v.margin)
        return v
    top = len(ctx) + (1 if task == "repetition_count" else 0)     # its end is exclusive
    if not frames or any(not 0 <= int(f) < top for f in frames):
        v.add("changed", "a frame of the item is outside the track")
        return v
    bad = [f for f in _span(task, params, frames, ctx) if ctx.bad[f]]
    if bad:
        v.add("unreliable_frame", f"frame {bad[0]}: {ctx.why[bad[0]]}")
        return v
    if task != "repetition_count":
        need = max(1, int(STABLE_S * ctx.fps))
        few = [f for f in _anchors(task, params, frames) if len(ctx.window(f)) - 1 < need]
        if few:
            v.add("unstable", f"too few frames around frame {few[0]} to tell whether the "
                  f"answer holds for {STABLE_S:g} s")
    if task == "repetition_count":
        return _judge_repetition(params, answer, frames, ctx, v)
    vis = 1.0
    for i, (facts2, params2) in enumerate(_variants(task, params, frames, ctx)):
        m = gen.margin(facts2, params2, answer)
        if m is None:
            v.add("not_visible", "a joint the answer uses is not visible"
                  + ("" if i == 0 else " on a neighbouring frame"))
            break
        vis = min(vis, m.visibility)
        now = gen.derive(facts2, params2)
        if i == 0:
            v.margin = m
            if m.value < m.minimum:
                v.add("low_margin", _margin_text(m))
            if now is not None and now != answer:
                v.add("changed", f"the track now gives {now!r}")
        elif now != answer:
            v.add("unstable", f"{now or 'no clear answer'} within {STABLE_S:g} s")
    if v.margin is not None:
        v.margin.visibility = vis
    v.confidence = _confidence(v.margin)
    return v


def _judge_repetition(params, answer, frames, ctx, v: Verdict) -> Verdict:
    from .tasks.common import find  # noqa: PLC0415

    gen = GENERATORS["repetition_count"]
    s, e = int(frames[0]), int(frames[-1])
    facts = measure.repetition_facts(ctx.world, ctx.fps, s, e, ctx.mv, ctx.m.joint_vis)
    f = find(facts, "repetitions", params["joint"])
    if f is None:
        v.add("not_visible", f"the {params['joint'].replace('_', ' ')} is not seen throughout")
        return v
    v.margin = gen.margin(facts, params, answer)
    if f.get("periodicity") not in gen.ASKED:
        v.add("not_periodic", f"{len(f['peaks'])} bends that do not repeat regularly")
    if v.margin.value < v.margin.minimum:
        v.add("low_margin", _margin_text(v.margin))
    now = gen.derive(facts, params)
    if now != answer:
        v.add("changed", f"the track now gives {now!r}")
    v.confidence = _confidence(v.margin)
    return v


def _margin_text(m) -> str:
    return f"{m.value:.3g} {m.unit} from a bin edge (at least {m.minimum:g} {m.unit} needed)"


def judge_record(record, ctx: TrackContext) -> Verdict:
    """``judge`` for a stored item, re-derived from ``ctx`` (its track)."""
    prov = record.provenance
    gp = prov.generation_params or {}
    params = gp.get("params")
    if record.task not in GENERATORS or not isinstance(params, dict):
        return Verdict()
    from .person_text import generic_option, personal  # noqa: PLC0415

    frames = list(prov.frame_indices or [])
    if not frames:
        frames = [f for f in (record.frame_a, record.frame_b) if f is not None]
    answer = record.answer_text
    if personal(record.person_referent):   # the generators' wording of the person's answer
        answer = generic_option(answer)
    try:
        return judge(record.task, params, answer, frames, prov.facts, ctx)
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        v = Verdict()
        v.add("changed", f"cannot be re-derived ({type(exc).__name__})")
        return v
