"""Multiple-choice answers of the rule-based baseline, from pose facts only.

A question is answerable when it is one of the app's pose-derivable QA items for this
clip: the QA synthesis (``models.qa``) measures the clip's facts, its per-task generators
phrase questions from them, and the asked question matches one of those phrasings. The
right option text is then re-derived from the candidate's facts (``generator.derive``, as
``qa.synth.rederive`` does for stored items) and looked up among the asked options. Any
other question gets ``None``: the baseline abstains instead of guessing.

With every person of the clip at hand (``people``: {person number: PoseTrack}), a question
about one of several people is matched the way per-person QA words it: each person's
candidates are named by their place in the picture over the candidate's frames
(``qa.synth.person_namer``) and the options compared in that person's wording
(``qa.person_text``); a question about two people is matched against the interaction
candidates of every pair (``qa.tasks.interaction``).
"""
from __future__ import annotations

import re
from typing import Optional, Sequence

ABSTAIN = "n/a: cannot answer from pose alone"
_TIME = re.compile(r"(\d+(?:\.\d+)?)\s*s\b")


def _norm(text: str) -> str:
    return " ".join(str(text).lower().replace("’", "'").split()).rstrip(" ?.!")


def _asked_frames(question: str, timeline, n_frames: int) -> list[int]:
    """Frames a question names by time ("In the frame at 1.23 s, ...")."""
    if not timeline.fps and timeline.pts is None:
        return []
    out = [timeline.frame_at(float(t), n_frames) for t in _TIME.findall(question)]
    return [f for f in out if 0 <= f < n_frames]


def _facts(track, question: str, extra_frames: Sequence[int]):
    """The QA synthesis' facts of the clip, plus the frames the question or the request
    names (so a question about any moment with a pose can match)."""
    import numpy as np  # noqa: PLC0415

    from ..qa import measure  # noqa: PLC0415
    from ..qa.synth import SynthSettings, clip_facts, reliable_world  # noqa: PLC0415

    world, s = np.asarray(reliable_world(track)), SynthSettings()   # unreliable frames: no pose
    facts = clip_facts(world, track.fps, "", s, track.timeline, track)
    present = ~np.isnan(world[:, :, 0]).all(axis=1)
    named = _asked_frames(question, track.timeline, len(world))
    extra = sorted({int(f) for f in list(extra_frames) + named
                    if 0 <= int(f) < len(world) and present[int(f)]} - set(facts.frames))
    if extra:
        m = measure.TrackMeasures(world, s.min_visibility, track)
        facts.frames.update({f: measure.frame_facts(world, f, s.min_visibility, m) for f in extra})
    named = [f for f in named if f in facts.frames]
    facts.pairs = list(facts.pairs) + [(a, b) for a in named for b in named if a < b]
    return facts


def _matching(facts, question: str):
    from ..qa.tasks import GENERATORS  # noqa: PLC0415

    want = _norm(question)
    for gen in GENERATORS.values():
        for cand in gen.generate(facts):
            if _norm(cand.question) == want:
                return gen, cand
    return None, None


def _index(right: Optional[str], options: Sequence[str]) -> Optional[int]:
    wanted = [_norm(o) for o in options]
    return wanted.index(_norm(right)) if right is not None and _norm(right) in wanted else None


def _person_answer(people, question: str, frame_indices: Sequence[int]) -> Optional[str]:
    """The right option text (in the person's wording) of a question about one of
    ``people``, or None when no person's candidate is worded so."""
    from ..qa.person_text import option_for  # noqa: PLC0415
    from ..qa.synth import person_namer  # noqa: PLC0415
    from ..qa.tasks import GENERATORS  # noqa: PLC0415

    want = _norm(question)
    for person in sorted(people):
        track = people[person]
        if track is None or not track.has_pose.any():
            continue
        facts = _facts(track, question, frame_indices)
        namer = person_namer(people, person)
        for gen in GENERATORS.values():
            for cand in gen.generate(facts):
                named = namer(cand)
                if named is not None and _norm(named.question) == want:
                    right = gen.derive(cand.facts, cand.params)
                    return None if right is None else option_for(right, named.referent)
    return None


def _pair_answer(people, question: str) -> Optional[str]:
    """The right option text of a question about two of ``people`` (interaction items)."""
    from itertools import combinations  # noqa: PLC0415

    from ..qa.synth import SynthSettings  # noqa: PLC0415
    from ..qa.tasks import interaction  # noqa: PLC0415

    s = SynthSettings()
    want = _norm(question)
    live = {p: t for p, t in people.items() if t is not None and t.has_pose.any()}
    if len(live) < 2:
        return None
    first = live[min(live)]
    n = min(len(t) for t in live.values())
    named = _asked_frames(question, first.timeline, n)
    cands = [c for a, b in combinations(sorted(live), 2) for f in named
             for c in interaction._frame_candidates(live, a, b, f, s.min_visibility)]
    if not cands:
        cands = interaction.candidates(live, s)
    for c in cands:
        if _norm(c.question) == want:
            return interaction.derive(c.task, c.facts, c.params)
    return None


def mcq_index(track, question: str, options: Sequence[str],
              frame_indices: Sequence[int] = (), people=None) -> Optional[int]:
    """Index of the option the pose facts support, or None (not pose-derivable here).
    ``people`` ({person number: PoseTrack}, optional): every person of the clip, for
    questions about one of several people or about two of them."""
    if (track is None and not people) or not options or not (question or "").strip():
        return None
    if track is not None:
        facts = _facts(track, question, frame_indices)
        gen, cand = _matching(facts, question)
        if cand is not None:
            return _index(gen.derive(cand.facts, cand.params), options)
    if people and len(people) > 1:
        right = _person_answer(people, question, frame_indices)
        if right is None:
            right = _pair_answer(people, question)
        return _index(right, options)
    return None
