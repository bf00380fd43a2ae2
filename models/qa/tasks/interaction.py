"""Multiple-choice QA about two people at once, from ``models.describe.interaction`` facts.

Not one of the single-person generators of ``GENERATORS`` (those take one track's
``ClipFacts``): ``interaction_items(tracks, video, settings, seed)`` takes every person of
a clip ({person number: PoseTrack}) and returns finished ``QARecord``s of four sub-tasks
(``resources/taxonomy.json``, generator "pairs"):

* ``interaction_contact``: "At 1.20 s, do the hands of A and B touch?" (yes / no);
* ``interaction_facing``: "... how do A and B stand towards each other?" (face each
  other / face away from each other / face the same way);
* ``interaction_height``: "... who is higher in the frame, A or B?" (the two referents /
  about the same height);
* ``interaction_approach``: "Between 0.50 s and 2.00 s, do A and B move closer together,
  further apart, or keep their distance?".

An item is only made when its fact is determinate (no "cannot be told" option exists) and
both people can be named (``models.describe.referents``) over the item's frames. The record
keeps ``person`` / ``person_referent`` for A (the one named first); B's number and phrase
are in ``provenance.generation_params["params"]``. The answer is recomputed from the stored
fact by ``derive``; ``recheck`` re-derives it from the people's tracks (``qa-check``).
"""
from __future__ import annotations

import zlib
from itertools import combinations
from typing import Mapping, Optional

import numpy as np

from ...describe import interaction as ix
from ...describe.referents import referents
from ..record import Provenance, QARecord, stable_qa_id
from .common import Candidate

CONTACT, FACING, HEIGHT, APPROACH = ("interaction_contact", "interaction_facing",
                                     "interaction_height", "interaction_approach")
TASKS = (CONTACT, FACING, HEIGHT, APPROACH)
VERSION = "1"
YES, NO = "yes", "no"
FACING_OPTIONS = {"face each other": "they face each other",
                  "face away from each other": "they face away from each other",
                  "face the same way": "they both face the same way"}
LEVEL_OPTION = "both are at about the same height"
APPROACH_OPTIONS = {"closer": "they move closer together", "apart": "they move further apart",
                    "same": "they keep their distance"}


def _t(track, frame: int) -> float:
    return round(float(track.time_of(frame)), 2)


@ix.judged_once
def _frames(tracks: Mapping[int, object], a: int, b: int, k: int) -> list[int]:
    """Up to ``k`` frames, evenly spread, on which both people have a usable pose."""
    ta, tb = tracks[a], tracks[b]
    n = min(len(ta.image), len(tb.image))   # type: ignore[attr-defined]
    both = [f for f in range(n) if not ix.usable(ta, f) and not ix.usable(tb, f)]
    if len(both) <= k:
        return both
    return [both[int(i)] for i in np.linspace(0, len(both) - 1, k).round().astype(int)]


def _frame_candidates(tracks, a, b, frame, mv) -> list[Candidate]:
    a, b = ix.left_first(tracks, a, b, frame, frame + 1)
    names = referents(tracks, frame, frame + 1)
    na, nb = names.get(a), names.get(b)
    if na is None or nb is None:
        return []
    facts = ix.pair_facts(tracks[a], tracks[b], frame, (a, b), mv)
    t = _t(tracks[a], frame)
    base = {"persons": [a, b], "referents": [na, nb], "frame": frame}
    out = []
    f = ix.find(facts, "hands_touch")
    if f is not None and f.known:
        q = f"At {t:.2f} s, do the hands of {na} and {nb} touch?"
        ans = derive_contact(f.to_dict())
        out.append(_cand(CONTACT, "hands_touch", q, ans, [NO if ans == YES else YES], f, base,
                         frame))
    f = ix.find(facts, "facing")
    if f is not None and f.known:
        q = f"At {t:.2f} s, how do {na} and {nb} stand towards each other?"
        ans = FACING_OPTIONS[f.label]
        out.append(_cand(FACING, "facing", q, ans,
                         [o for o in FACING_OPTIONS.values() if o != ans], f, base, frame))
    f = ix.find(facts, "higher")
    if f is not None and f.known:
        q = f"At {t:.2f} s, who is higher in the frame: {na} or {nb}?"
        opts = {"a": na, "b": nb, "level": LEVEL_OPTION}
        ans = opts[f.label]
        out.append(_cand(HEIGHT, "higher", q, ans, [o for o in opts.values() if o != ans], f,
                         base, frame))
    return out


def _cand(task, template, question, answer, wrong, fact, params, frame) -> Candidate:
    return Candidate(task, template, question, answer, wrong, [fact.to_dict()], dict(params),
                     key=(task, *params["persons"], answer, frame // 8),
                     frame_a=frame, frames=[frame])


def _windows(tracks, a, b, fps: float, window_s: float) -> list[tuple[int, int]]:
    n = min(len(tracks[a].image), len(tracks[b].image))
    win = max(4, int(round(window_s * fps)))
    return [(s, s + win) for s in range(0, n - win + 1, max(1, win // 2))]


def _window_candidates(tracks, a, b, start, end, mv) -> list[Candidate]:
    a, b = ix.left_first(tracks, a, b, start, end)
    names = referents(tracks, start, end)
    na, nb = names.get(a), names.get(b)
    if na is None or nb is None:
        return []
    f = ix.approach_fact(tracks[a], tracks[b], start, end, (a, b), mv)
    if not f.known:
        return []
    ta = tracks[a]
    t0, t1 = _t(ta, start), _t(ta, end - 1)
    q = (f"Between {t0:.2f} s and {t1:.2f} s, do {na} and {nb} move closer together, "
         "further apart, or keep their distance?")
    ans = APPROACH_OPTIONS[f.label]
    params = {"persons": [a, b], "referents": [na, nb], "start": start, "end": end}
    return [Candidate(APPROACH, "approach", q, ans,
                      [o for o in APPROACH_OPTIONS.values() if o != ans], [f.to_dict()], params,
                      key=(APPROACH, a, b, ans, start), frame_a=start, frame_b=end - 1,
                      start_s=t0, end_s=t1, frames=[start, end - 1])]


# -- re-deriving an answer from the stored fact ------------------------------------------
def derive_contact(fact: dict) -> Optional[str]:
    return None if fact.get("state") is None else YES if fact["state"] else NO


def derive(task: str, facts: list, params: dict) -> Optional[str]:
    """The correct option text recomputed from the stored fact alone (None: cannot)."""
    if not facts:
        return None
    f = facts[0]
    if f.get("state") is None:
        return None
    if task == CONTACT:
        return derive_contact(f)
    if task == FACING:
        return FACING_OPTIONS.get(f.get("label", ""))
    if task == HEIGHT:
        na, nb = params["referents"]
        return {"a": na, "b": nb, "level": LEVEL_OPTION}.get(f.get("label", ""))
    if task == APPROACH:
        return APPROACH_OPTIONS.get(f.get("label", ""))
    return None


@ix.judged_once
def recheck(record, tracks: Mapping[int, object]) -> tuple[Optional[str], str]:
    """Re-derive a stored item's answer from the people's tracks now (``tracks``: {person
    number: PoseTrack} of its clip): (the option text the tracks give, None when they no
    longer tell; "" or why not). Missing people give (None, reason)."""
    gp = record.provenance.generation_params or {}
    params = gp.get("params") or {}
    persons = [int(p) for p in params.get("persons", [])]
    if len(persons) != 2 or any(p not in tracks for p in persons):
        return None, f"person {persons} not stored" if persons else "no persons in the item"
    a, b = persons
    mv = gp.get("min_visibility", 0.5)
    mv = float(mv) if isinstance(mv, (int, float)) else 0.5
    if record.task == APPROACH:
        start, end = int(params["start"]), int(params["end"])
        names = referents(tracks, start, end)
        fact = ix.approach_fact(tracks[a], tracks[b], start, end, (a, b), mv)
    else:
        frame = int(params["frame"])
        names = referents(tracks, frame, frame + 1)
        kind = {CONTACT: "hands_touch", FACING: "facing", HEIGHT: "higher"}.get(record.task)
        found = ix.find(ix.pair_facts(tracks[a], tracks[b], frame, (a, b), mv), kind or "")
        if found is None:
            return None, "the fact is not measured any more"
        fact = found
    if [names.get(a), names.get(b)] != list(params.get("referents", [])):
        return None, "the people are not named the same way any more"
    if not fact.known:
        return None, f"cannot tell any more ({fact.reason})"
    return derive(record.task, [fact.to_dict()], params), ""


# -- records -----------------------------------------------------------------------------
@ix.judged_once
def candidates(tracks: Mapping[int, object], settings=None) -> list[Candidate]:
    """Every determinate, nameable candidate over every pair of people."""
    from ..synth import SynthSettings  # noqa: PLC0415

    s = settings or SynthSettings()
    out: list[Candidate] = []
    for a, b in combinations(sorted(tracks), 2):
        for frame in _frames(tracks, a, b, s.max_frames):
            out.extend(_frame_candidates(tracks, a, b, frame, s.min_visibility))
        fps = float(getattr(tracks[a], "fps", 0) or 0)
        if fps > 0:
            for start, end in _windows(tracks, a, b, fps, s.window_s):
                out.extend(_window_candidates(tracks, a, b, start, end, s.min_visibility))
    return out


def interaction_items(tracks: Mapping[int, object], video: str, settings=None,
                      seed: Optional[int] = None, balancer=None,
                      tasks=TASKS, seen_questions=()) -> list[QARecord]:
    """Multiple-choice records about pairs of people of one clip (``settings``: a
    ``SynthSettings`` for per_clip, n_options, max_frames, window_s, min_visibility and
    seed; ``seed`` overrides its seed; ``seen_questions``: items already stored for the
    clip, not asked again). Deterministic for a given seed and clip."""
    from ..synth import Balancer, SynthSettings, select  # noqa: PLC0415

    s = settings or SynthSettings()
    seed = s.seed if seed is None else int(seed)
    rng = np.random.default_rng([seed, zlib.crc32(video.encode("utf-8"))])
    balancer = balancer or Balancer()
    cands = [c for c in candidates(tracks, s) if c.task in tasks]
    out = []
    for c in select(cands, s.per_clip, tasks, rng, seen_questions):
        options, answer = balancer.arrange(c, s.n_options, rng)
        out.append(_record(c, tracks, video, options, answer, s, seed))
    return out


def _record(c: Candidate, tracks, video, options, answer, s, seed) -> QARecord:
    a, b = c.params["persons"]
    qa_id = stable_qa_id(c.task, video, c.frame_a, c.frame_b, c.start_s, c.end_s, c.question,
                         a, b)
    track = tracks[a]
    params = {"template": c.template, "params": c.params, "n_options": s.n_options,
              "min_visibility": s.min_visibility, "interaction_version": VERSION}
    prov = Provenance(generation_params=params, seed=seed, frame_indices=list(c.frames),
                      pose_backend=getattr(track, "backend", "") or None,
                      pose_backend_version=getattr(track, "backend_version", "") or None,
                      facts=c.facts)
    return QARecord(qa_id, c.task, video, c.question, options, answer, c.start_s, c.end_s,
                    c.frame_a, c.frame_b, "rule", prov, person=int(a),
                    person_referent=c.params["referents"][0])
