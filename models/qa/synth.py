"""QA synthesis from pose facts: sample moments, measure facts, generate, dedupe, balance.

The answer of every item is computed from facts that are stored with it
(``provenance.facts``); ``rederive`` recomputes it from those facts alone. Everything is
deterministic for a given seed and clip.

Several people (``synthesize_people``): each person's track is synthesized on its own; an
item is kept only when the person can be named over its frames (``describe.referents``),
its question and options then name them (``person_text``), and its record keeps the
person number and referent.
"""
from __future__ import annotations

import hashlib
import json
import zlib
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Callable, Collection, Mapping, Optional

import numpy as np

from . import measure
from .errors import QAError
from .record import Provenance, QARecord, stable_qa_id
from .tasks import GENERATORS
from .tasks.interaction import TASKS as PAIR_TASKS
from .tasks.common import Candidate, ClipFacts

if TYPE_CHECKING:
    from ..pose.track import PoseTrack

SYNTH_VERSION = "4"   # 3: unreliable frames are never used; 4: only answerable items
                      # (models.qa.answerable), each with its confidence and margin


@dataclass
class SynthSettings:
    tasks: tuple = tuple(GENERATORS)
    per_clip: int = 12
    seed: int = 0
    n_options: int = 4
    min_visibility: float = 0.5
    max_frames: int = 16      # moments sampled per clip for single-frame questions
    window_s: float = 1.5     # interval length for movement direction
    pair_gap_s: float = 0.5   # minimum gap between frame A and frame B

    def __post_init__(self) -> None:
        unknown = [t for t in self.tasks if t not in GENERATORS and t not in PAIR_TASKS]
        if unknown:
            raise QAError(f"No pose-fact generator for sub-task '{unknown[0]}' "
                          f"(known: {', '.join([*GENERATORS, *PAIR_TASKS])})")
        if self.per_clip < 1 or not 2 <= self.n_options <= 5:
            raise QAError("per-clip must be >= 1 and options between 2 and 5")

    def to_dict(self) -> dict:
        d = dict(self.__dict__)
        d["tasks"] = sorted(self.tasks)
        return d

    def key(self, pose_backend: str = "") -> str:
        text = json.dumps([self.to_dict(), pose_backend, SYNTH_VERSION], sort_keys=True)
        return hashlib.sha1(text.encode()).hexdigest()[:16]


# -- facts of one clip -------------------------------------------------------------------
def _sample(frames: np.ndarray, k: int) -> list[int]:
    if len(frames) <= k:
        return [int(f) for f in frames]
    return [int(frames[i]) for i in np.linspace(0, len(frames) - 1, k).round().astype(int)]


def clip_facts(world: np.ndarray, fps: float, video: str,
               s: Optional[SynthSettings] = None, times=None, track=None) -> ClipFacts:
    """Facts for the sampled moments, intervals and frame pairs of one track (``times``: the
    clip's frame times; ``track``, the ``PoseTrack`` of ``world`` when at hand, lets the
    describer check claims against the image exactly as the describe command does)."""
    from .answerable import TrackContext  # noqa: PLC0415

    s = s or SynthSettings()
    present = np.flatnonzero(~np.isnan(world[:, :, 0]).all(axis=1))
    frames = _sample(present, s.max_frames)
    m = measure.TrackMeasures(world, s.min_visibility, track)
    ctx = TrackContext(track if track is not None else world, fps, times, s.min_visibility, m)
    per_frame = {f: measure.frame_facts(world, f, s.min_visibility, m) for f in frames}
    intervals = _intervals(world, fps, present, s, m)
    gap = max(1, int(round(s.pair_gap_s * fps)))
    run = _run_ids(present, fps, len(world))
    pairs = [(a, b) for i, a in enumerate(frames) for b in frames[i + 1:]
             if b - a >= gap and run[a] == run[b]]
    return ClipFacts(video, fps, per_frame, intervals, _spread(pairs, 24), s.n_options, times, ctx)


def _spread(items: list, k: int) -> list:
    """At most ``k`` items evenly spread over the list (not just the first ones)."""
    if len(items) <= k:
        return items
    return [items[int(i)] for i in np.linspace(0, len(items) - 1, k).round().astype(int)]


def _run_ids(present: np.ndarray, fps: float, n: int) -> np.ndarray:
    """Per frame: which pose run it belongs to (-1 = none). Frame pairs and intervals stay
    inside one run: across a longer gap the tracker may have switched to another person."""
    ids = np.full(n, -1)
    for k, (a, b) in enumerate(pose_runs(present, fps, min_s=0.0)):
        ids[a:b] = k
    return ids


def _intervals(world, fps, present, s: SynthSettings, m) -> list:
    if len(present) < 2:
        return []
    first, last = int(present[0]), int(present[-1])
    win = max(2, int(round(s.window_s * fps)))
    run = _run_ids(present, fps, len(world))
    out = []
    for start in range(first, last - win + 1, max(1, win // 2)):
        end = start + win
        if np.isnan(world[[start, end], :, 0]).all(axis=1).any() or run[start] != run[end]:
            continue
        out.append((start, end, measure.displacement_facts(world, start, end, s.min_visibility, m)))
    for a, b in pose_runs(present, fps):
        reps = measure.repetition_facts(world, fps, a, b, s.min_visibility, m.joint_vis)
        if reps:
            out.append((a, b, reps))
    return out


def pose_runs(present: np.ndarray, fps: float, min_s: float = 2.0) -> list[tuple[int, int]]:
    """[start, end) of each stretch with a pose on every frame but gaps of at most the
    motion facts' ``max_gap_s``, lasting at least ``min_s`` (enough for repetitions)."""
    from ..describe.config import config  # noqa: PLC0415
    max_gap = max(1, int(round(config()["motion"]["max_gap_s"] * fps)))
    if not len(present):
        return []
    breaks = np.flatnonzero(np.diff(present) > max_gap + 1)
    starts = np.concatenate([[present[0]], present[breaks + 1]])
    ends = np.concatenate([present[breaks], [present[-1]]]) + 1
    return [(int(a), int(b)) for a, b in zip(starts, ends) if b - a >= min_s * fps]


# -- selection and balancing -------------------------------------------------------------
def _rng(seed: int, video: str) -> np.random.Generator:
    return np.random.default_rng([int(seed), zlib.crc32(video.encode("utf-8"))])


def repeats(c: Candidate, seen) -> bool:
    """``c`` repeats an item already stored for the clip: the same question, or what the
    quality check calls a near-duplicate (same sub-task and answer, word overlap of at
    least ``checks.NEAR_JACCARD`` with numbers ignored). ``seen``: (task, question,
    answer text) triples, or plain question texts."""
    from .checks import NEAR_JACCARD, _jaccard, _tokens  # noqa: PLC0415

    toks = None
    for item in seen:
        if isinstance(item, str):
            if item == c.question:
                return True
            continue
        task, question, answer = item
        if question == c.question:
            return True
        if task == c.task and answer == c.answer:
            toks = toks if toks is not None else _tokens(c.question)
            if _jaccard(toks, _tokens(question)) >= NEAR_JACCARD:
                return True
    return False


def select(cands: list[Candidate], per_clip: int, tasks, rng,
           seen_questions=()) -> list[Candidate]:
    """Drop near-duplicates (same key, or repeating an item already stored for the clip,
    see ``repeats``), then round-robin over sub-tasks in a seeded order until
    ``per_clip`` items."""
    by_task: dict[str, list] = {t: [] for t in tasks}
    keys = set()
    for i in rng.permutation(len(cands)):
        c = cands[int(i)]
        if c.key in keys or c.task not in by_task or repeats(c, seen_questions):
            continue
        keys.add(c.key)
        by_task[c.task].append(c)
    out: list = []
    queues = [q for q in by_task.values() if q]
    while len(out) < per_clip and queues:
        for q in list(queues):
            if len(out) < per_clip:
                out.append(q.pop(0))
            if not q:
                queues.remove(q)
    return out


@dataclass
class Balancer:
    """Puts each answer at the least-used position so far (ties broken by the rng)."""
    counts: dict = field(default_factory=dict)  # n options -> [count per position]

    def position(self, n: int, rng) -> int:
        c = self.counts.setdefault(n, [0] * n)
        low = [i for i in range(n) if c[i] == min(c)]
        pos = int(low[int(rng.integers(len(low)))])
        c[pos] += 1
        return pos

    def arrange(self, cand: Candidate, n_options: int, rng) -> tuple[list, int]:
        wrong = list(dict.fromkeys(d for d in cand.distractors if d != cand.answer))
        wrong = wrong[:n_options - 1]
        n = len(wrong) + 1
        pos = self.position(n, rng)
        order = [wrong[int(i)] for i in rng.permutation(len(wrong))]
        return order[:pos] + [cand.answer] + order[pos:], pos


# -- records -----------------------------------------------------------------------------
def to_record(c: Candidate, video: str, options: list, answer: int, s: SynthSettings,
              pose_backend: str = "", pose_version: str = "", person: Optional[int] = None,
              among_several: bool = False) -> QARecord:
    """The record of a selected candidate. ``person``: the person number it is about (None:
    the clip's one track); ``among_several``: generated from several people's tracks, so
    the id includes the person (a single-person id stays what it always was)."""
    ids = (c.task, video, c.frame_a, c.frame_b, c.start_s, c.end_s, c.question)
    qa_id = stable_qa_id(*ids, {"person": person}) if among_several else stable_qa_id(*ids)
    params = {"template": c.template, "params": c.params, "n_options": s.n_options,
              "min_visibility": s.min_visibility, "synth_version": SYNTH_VERSION}
    m = c.margin
    prov = Provenance(generation_params=params, seed=s.seed, frame_indices=list(c.frames),
                      pose_backend=pose_backend or None, pose_backend_version=pose_version or None,
                      facts=c.facts, confidence=c.confidence,
                      margin=None if m is None else round(float(m.value), 4),
                      margin_unit=None if m is None else m.unit,
                      margin_ratio=None if m is None or not np.isfinite(m.ratio)
                      else round(float(m.ratio), 3))
    return QARecord(qa_id, c.task, video, c.question, options, answer, c.start_s, c.end_s,
                    c.frame_a, c.frame_b, "rule", prov, person=person,
                    person_referent=c.referent if person is not None else None)


def _answerable(c: Candidate, facts: ClipFacts) -> bool:
    """Judge the candidate (``answerable.judge``: reliability, visibility, margin and
    stability over the clip when its context is known) and keep its confidence/margin."""
    from .answerable import judge  # noqa: PLC0415

    v = judge(c.task, c.params, c.answer, list(c.frames), c.facts, facts.context)
    c.confidence, c.margin = v.confidence, v.margin
    return v.ok


Namer = Callable[[Candidate], Optional[Candidate]]   # the candidate about its person, or None


def synthesize_clip(facts: ClipFacts, s: SynthSettings, balancer: Optional[Balancer] = None,
                    seen_questions: Collection = frozenset(), pose_backend: str = "",
                    pose_version: str = "", namer: Optional[Namer] = None,
                    person: Optional[int] = None, among_several: bool = False) -> list[QARecord]:
    """Generated QA records for one clip's facts. ``namer`` (several people) rewrites each
    answerable candidate about its person or drops it; ``person``/``among_several`` go to
    ``to_record``."""
    rng = _rng(s.seed, facts.video if not person else f"{facts.video}#person{person}")
    balancer = balancer or Balancer()
    cands = [c for t in s.tasks if t in GENERATORS for c in GENERATORS[t].generate(facts)]
    cands = [c for c in cands if len(c.distractors) >= 1 and _answerable(c, facts)]
    if namer is not None:
        cands = [n for n in (namer(c) for c in cands) if n is not None]
    out = []
    for c in select(cands, s.per_clip, s.tasks, rng, seen_questions):
        options, answer = balancer.arrange(c, s.n_options, rng)
        out.append(to_record(c, facts.video, options, answer, s, pose_backend, pose_version,
                             person, among_several))
    return out


def reliable_world(track) -> np.ndarray:
    """``track.world`` with every unreliable frame (``models.pose.reliability``) blanked to
    NaN, so synthesis treats it as a frame without a pose and never asks about it."""
    from ..pose.reliability import unreliable_frames  # noqa: PLC0415
    judged = unreliable_frames(track)
    if judged is None or not judged[0].any():
        return track.world
    world = np.array(track.world, copy=True)
    world[judged[0]] = np.nan
    return world


def synthesize_track(track, video: str, s: Optional[SynthSettings] = None,
                     balancer: Optional[Balancer] = None,
                     seen_questions: Collection = frozenset()) -> list[QARecord]:
    s = s or SynthSettings()
    facts = clip_facts(reliable_world(track), track.fps, video, s, track.timeline, track)
    return synthesize_clip(facts, s, balancer, seen_questions, track.backend,
                           track.backend_version)


def _span(c: Candidate) -> tuple[int, int]:
    frames = [int(f) for f in c.frames] or [f for f in (c.frame_a, c.frame_b) if f is not None]
    return (min(frames), max(frames) + 1) if frames else (0, 0)   # no frames: nobody named


def person_namer(tracks: Mapping[int, PoseTrack], person: int) -> Namer:
    """Rewrites a candidate about ``person`` of ``tracks`` so that it names them by their
    referent over the candidate's frames (first to last, inclusive), or drops it (None)
    when that referent is ambiguous there. In a clip with several people, a span where
    only this person is seen is dropped too: the others were lost by the landmarker, not
    gone from the picture (two people hugging: one is found), so "the person" could mean
    either of them."""
    from ..describe.referents import SINGLE, referents  # noqa: PLC0415
    from .person_text import option_for, question_for  # noqa: PLC0415

    cache: dict = {}

    def name(c: Candidate) -> Optional[Candidate]:
        span = _span(c)
        if span not in cache:
            cache[span] = referents(tracks, *span).get(person)
        ref = cache[span]
        if ref is None or ref == SINGLE:
            return None
        return replace(c, question=question_for(c.question, ref), referent=ref,
                       answer=option_for(c.answer, ref),
                       distractors=[option_for(d, ref) for d in c.distractors])
    return name


def synthesize_people(tracks: Mapping[int, PoseTrack], video: str, s: Optional[SynthSettings] = None,
                      balancer: Optional[Balancer] = None,
                      seen_questions: Collection = frozenset()) -> list[QARecord]:
    """QA records about every person of ``tracks`` ({person number: PoseTrack}, 0 = the
    main person), up to ``s.per_clip`` per person, and with several people up to
    ``s.per_clip`` items about pairs of them (``tasks.interaction``: the interaction
    sub-tasks among ``s.tasks``).

    With one person stored the items are ``synthesize_track``'s (same questions and ids),
    marked person 0 / "the person". With several, each person's items are kept only where
    ``referents`` names that person over the item's frames; the question and options name
    them (``person_text``), and the id includes the person number."""
    from ..describe.referents import SINGLE  # noqa: PLC0415

    s = s or SynthSettings()
    several = len(tracks) > 1
    out: list[QARecord] = []
    for person in sorted(tracks):
        track = tracks[person]
        if track is None or not track.has_pose.any():
            continue
        facts = clip_facts(reliable_world(track), track.fps, video, s,
                           track.timeline, track)
        namer = person_namer(tracks, person) if several else \
            (lambda c: replace(c, referent=SINGLE))
        out += synthesize_clip(facts, s, balancer, seen_questions, track.backend,
                               track.backend_version, namer, person, several)
    pair_tasks = [t for t in s.tasks if t in PAIR_TASKS]
    live = {p: t for p, t in tracks.items() if t is not None and t.has_pose.any()}
    if several and pair_tasks and len(live) > 1:
        from .tasks.interaction import interaction_items  # noqa: PLC0415

        out += interaction_items(live, video, s, balancer=balancer, tasks=tuple(pair_tasks),
                                 seen_questions=seen_questions)
    return out


def rederive(record: QARecord) -> Optional[int]:
    """The answer index recomputed from the stored facts alone (None if it cannot be); an
    item about one of several people looks its answer up in the person's wording."""
    from .person_text import option_for  # noqa: PLC0415

    prov = record.provenance
    if record.task in PAIR_TASKS:      # about two people: the options already name them
        from .tasks.interaction import derive  # noqa: PLC0415

        if not prov.facts or not prov.generation_params:
            return None
        text = derive(record.task, prov.facts, prov.generation_params["params"])
        return record.options.index(text) if text in record.options else None
    gen = GENERATORS.get(record.task)
    if gen is None or not prov.facts or not prov.generation_params:
        return None
    text = gen.derive(prov.facts, prov.generation_params["params"])
    if text is not None:
        text = option_for(text, record.person_referent)
    return record.options.index(text) if text in record.options else None
