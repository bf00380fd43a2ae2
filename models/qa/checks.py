"""Quality checks over a set of QA items: answer-position balance, duplicate and
near-duplicate questions, identical options, options containing the answer text, and the
blind test (a backend answers from the question alone; items it gets right may not need
the video)."""
from __future__ import annotations

import math
import re
from collections import defaultdict
from functools import lru_cache
from typing import Iterable, Optional

from ..jobs import NULL_CONTEXT, JobContext
from ..vlm_request import answer_text
from .record import QARecord

NEAR_JACCARD = 0.9
IMBALANCE = 1.5  # most used / least used answer position beyond this is flagged
_WORD = re.compile(r"[\w']+", re.UNICODE)
_NUM = re.compile(r"\d+(?:\.\d+)?")


@lru_cache(maxsize=1 << 16)  # options repeat across thousands of items
def norm(text: str) -> str:
    return " ".join(_WORD.findall(text.lower()))


def _tokens(text: str) -> frozenset:
    return frozenset(_WORD.findall(_NUM.sub("#", text.lower())))


def position_balance(records: Iterable[QARecord]) -> dict:
    """{n options: {"counts": [...], "ratio": max/min, "balanced": bool}}."""
    counts: dict[int, list] = {}
    for r in records:
        c = counts.setdefault(len(r.options), [0] * len(r.options))
        c[r.answer_index] += 1
    out = {}
    for n, c in sorted(counts.items()):
        ratio = max(c) / max(1, min(c)) if sum(c) >= n else 1.0
        out[n] = {"counts": c, "ratio": round(ratio, 3), "balanced": ratio <= IMBALANCE or min(c) == max(c)}
    return out


def identical_options(r: QARecord) -> bool:
    normed = [norm(o) for o in r.options]
    return len(set(normed)) != len(normed)


def option_contains_answer(r: QARecord) -> bool:
    """Another option contains the answer's words (or the answer contains an option's)."""
    ans = norm(r.answer_text)
    for i, o in enumerate(r.options):
        if i == r.answer_index:
            continue
        o = norm(o)
        if ans and o and (re.search(rf"\b{re.escape(ans)}\b", o) or re.search(rf"\b{re.escape(o)}\b", ans)):
            return True
    return False


def duplicates(records: list[QARecord]) -> dict[str, str]:
    """{qa_id: 'duplicate of X' | 'near-duplicate of X'} within the same video and task.

    An item is flagged against the earliest item before it (in ``records`` order) with the
    same answer text and either the same normalised question ("duplicate") or question
    words with a Jaccard similarity of at least NEAR_JACCARD ("near-duplicate"). Items are
    bucketed by (video, task, answer); inside a bucket identical questions and word sets
    are found by hashing and similar word sets through partition keys they must share, so
    the cost grows with the number of items, not with its square."""
    groups: dict[tuple, list] = defaultdict(list)
    for r in records:
        groups[(r.video, r.task)].append(r)
    out = {}
    for items in groups.values():
        match: dict[int, int] = {}
        buckets: dict[str, list[int]] = defaultdict(list)
        for i, r in enumerate(items):
            buckets[norm(r.answer_text)].append(i)
        texts = [norm(r.question) for r in items]
        for members in buckets.values():
            _match_bucket(members, texts, [_tokens(items[i].question) for i in members], match)
        for i, r in enumerate(items):  # in item order, as the flags are reported
            j = match.get(i)
            if j is not None:
                kind = "duplicate" if texts[i] == texts[j] else "near-duplicate"
                out[r.qa_id] = f"{kind} of {items[j].qa_id}"
    return out


_SLACK = (1 - NEAR_JACCARD) / NEAR_JACCARD
_MASK = (1 << 64) - 1


def _deletions(n: int) -> int:
    """How many words two similar sets can differ in, when one has n words: similarity
    J >= NEAR_JACCARD means |A ^ B| <= (1 - J) / J * min(|A|, |B|) (the epsilon only
    makes the bound safe against rounding; a larger bound only adds candidates)."""
    return math.floor(n * _SLACK + 1e-6)


def _similar_sizes(n: int) -> range:
    """Sizes a set similar to an n-word set can have."""
    return range(math.ceil(NEAR_JACCARD * n - 1e-6), math.floor(n / NEAR_JACCARD + 1e-6) + 1)


def _part_keys(words, hashes: dict, parts: int) -> list[tuple]:
    """The set cut into ``parts`` parts by word hash, each part hashed. Two sets differing
    in fewer than ``parts`` words have at least one part in common (pigeonhole)."""
    sums = [0] * parts
    for w in words:
        h = hashes[w]
        sums[(h >> 17) % parts] += h
    return [(parts, j, s & _MASK) for j, s in enumerate(sums)]


def _match_bucket(members: list[int], texts: list[str], toks: list[frozenset],
                  match: dict[int, int]) -> None:
    """For each member (item indexes in order, one answer): the earliest earlier member
    with the same text or a word set similar enough, into ``match``."""
    index = _SimilarSets(toks)
    first_text: dict[str, int] = {}
    # word set -> (position of its first member, earliest similar set before it or None)
    first_set: dict[frozenset, tuple] = {}
    for pos, i in enumerate(members):
        words = toks[pos]
        seen = first_set.get(words)
        if seen is None:  # a new word set: the earliest similar one, then index it
            seen = first_set[words] = (pos, index.earliest_similar(words))
            index.add(words, pos)
        found = [p for p in (first_text.get(texts[i]), *seen) if p is not None and p < pos]
        if found:
            match[i] = members[min(found)]
        first_text.setdefault(texts[i], pos)


class _SimilarSets:
    """Word sets by position, found again by similarity: a set is stored under the
    partition keys of its own size, and looks under those of every size a similar set
    can have (sets too short to differ in a word and stay similar are only ever equal,
    which the caller finds by hashing). Candidates are checked with the exact similarity;
    hash collisions only add candidates."""

    def __init__(self, toks: list[frozenset]) -> None:
        self.toks = toks
        self.hashes = {t: hash(t) & _MASK for s in set(toks) for t in s}
        self.by_key: dict[tuple, list[int]] = defaultdict(list)  # key -> set positions

    def _keys(self, words: frozenset, sizes) -> list[tuple]:
        keys: list[tuple] = []
        for parts in sorted({_deletions(m) + 1 for m in sizes if _deletions(m) >= 1}):
            keys += _part_keys(words, self.hashes, parts)
        return keys

    def earliest_similar(self, words: frozenset) -> Optional[int]:
        candidates: set[int] = set()
        for k in self._keys(words, _similar_sizes(len(words))):
            candidates.update(self.by_key.get(k, ()))
        for c in sorted(candidates):
            if _jaccard(words, self.toks[c]) >= NEAR_JACCARD:
                return c
        return None

    def add(self, words: frozenset, pos: int) -> None:
        for k in self._keys(words, (len(words),)):
            self.by_key[k].append(pos)


def _jaccard(a: frozenset, b: frozenset) -> float:
    return len(a & b) / len(a | b) if a or b else 1.0


def item_flags(records: list[QARecord]) -> dict[str, list[str]]:
    """Per item: the names of the checks it fails."""
    flags: dict[str, list[str]] = defaultdict(list)
    for r in records:
        if identical_options(r):
            flags[r.qa_id].append("identical options")
        if option_contains_answer(r):
            flags[r.qa_id].append("an option contains the answer text")
    for qid, what in duplicates(records).items():
        flags[qid].append(what)
    return dict(flags)


def quality_report(records: list[QARecord], blind: Optional[dict] = None) -> dict:
    flags = item_flags(records)
    if blind:
        for qid in blind:
            flags.setdefault(qid, []).append("answered right without the video (blind test)")
    kinds: defaultdict[str, int] = defaultdict(int)
    for fl in flags.values():
        for f in fl:
            kinds[f.split(" of ")[0]] += 1
    return {"items": len(records), "balance": position_balance(records),
            "flag_counts": dict(kinds), "flags": flags}


def blind_test(records: list[QARecord], backend, ctx: JobContext = NULL_CONTEXT,
               max_new_tokens: int = 16) -> dict[str, str]:
    """Ask ``backend`` each question with its options and no frames.
    Returns {qa_id: detail} for the items it answered right."""
    from ..answer_parse import build_mcq_prompt, parse_choice  # noqa: PLC0415
    from ..vlm_request import GenerationParams, VLMRequest, messages_for  # noqa: PLC0415

    right = {}
    for i, r in enumerate(records):
        ctx.check()
        ctx.progress(i, len(records), r.qa_id)
        req = VLMRequest(messages_for(build_mcq_prompt(r.question, r.options)), frames=[],
                         params=GenerationParams(max_new_tokens=max_new_tokens), as_video=False)
        text = answer_text(backend.generate(req, ctx))
        if parse_choice(text, r.options) == r.answer_index:
            right[r.qa_id] = f"{backend.info.model_id} answered {r.answer_letter} without frames"
    ctx.progress(len(records), len(records), "done")
    return right


# -- answerability (re-derived from the cached poses) -----------------------------------------
def answerability_flags(records: list[QARecord], load_track,
                        load_person=None) -> tuple[dict, list]:
    """Items synthesized from poses that break the answerability rules of
    ``models.qa.answerable`` (unreliable frame, joint not visible, value within a margin of a
    bin edge, an answer that flips within a few frames, a repetition that is not clearly
    periodic, an answer the track no longer gives), re-derived from each clip's cached
    track. ``load_track(video) -> PoseTrack | None``; an item about one person of several
    (``person`` set) is judged on that person's track, ``load_person(video, person) ->
    PoseTrack | None`` (without it such items are not checked). Returns ({qa_id: ["not
    answerable: <rule> (<detail>)", ...]}, the qa_ids that could not be checked: no cached
    track)."""
    from .answerable import REASONS, TrackContext, judge_record  # noqa: PLC0415
    from .tasks import GENERATORS  # noqa: PLC0415

    from .tasks.interaction import TASKS as PAIR_TASKS  # noqa: PLC0415

    by_track: dict[tuple, list] = defaultdict(list)
    pairs: list = []
    for r in records:
        if r.source == "rule" and r.task in GENERATORS and r.provenance.generation_params:
            by_track[(r.video, r.person)].append(r)
        elif r.source == "rule" and r.task in PAIR_TASKS and r.provenance.generation_params:
            pairs.append(r)
    flags: dict[str, list] = {}
    unchecked: list = []
    _pair_flags(pairs, load_person, flags, unchecked)
    for (video, person), items in by_track.items():
        if person is None:
            track = load_track(video)
        else:
            track = load_person(video, person) if load_person is not None else None
        if track is None or not len(track):
            unchecked += [r.qa_id for r in items]
            continue
        mv = items[0].provenance.generation_params.get("min_visibility", 0.5)
        ctx = TrackContext(track, min_visibility=float(mv) if isinstance(mv, (int, float)) else 0.5)
        for r in items:
            v = judge_record(r, ctx)
            if v.reasons:
                flags[r.qa_id] = [f"not answerable: {REASONS[c]} ({d})" for c, d in v.reasons]
    return flags, unchecked


def _pair_flags(items: list, load_person, flags: dict, unchecked: list) -> None:
    """Items about two people (``tasks.interaction``), re-derived from both people's stored
    tracks (``load_person``); an answer the tracks no longer give is flagged "changed"."""
    from .answerable import REASONS  # noqa: PLC0415
    from .tasks.interaction import recheck  # noqa: PLC0415

    for r in items:
        persons = (r.provenance.generation_params.get("params") or {}).get("persons") or []
        tracks = {int(p): load_person(r.video, int(p)) for p in persons} \
            if load_person is not None else {}
        tracks = {p: t for p, t in tracks.items() if t is not None and len(t)}
        if len(tracks) < 2:
            unchecked.append(r.qa_id)
            continue
        try:
            now, why = recheck(r, tracks)
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            now, why = None, f"cannot be re-derived ({type(exc).__name__})"
        if now != r.answer_text:
            detail = why or f"the tracks now give {now!r}"
            flags[r.qa_id] = [f"not answerable: {REASONS['changed']} ({detail})"]
