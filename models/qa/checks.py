"""Quality checks over a set of QA items: answer-position balance, duplicate and
near-duplicate questions, identical options, options containing the answer text, and the
blind test (a backend answers from the question alone; items it gets right may not need
the video)."""
from __future__ import annotations

import re
from collections import defaultdict
from typing import Iterable, Optional

from ..jobs import NULL_CONTEXT, JobContext
from .record import QARecord

NEAR_JACCARD = 0.9
IMBALANCE = 1.5  # most used / least used answer position beyond this is flagged
_WORD = re.compile(r"[\w']+", re.UNICODE)
_NUM = re.compile(r"\d+(?:\.\d+)?")


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
    """{qa_id: 'duplicate of X' | 'near-duplicate of X'} within the same video and task."""
    groups = defaultdict(list)
    for r in records:
        groups[(r.video, r.task)].append(r)
    out = {}
    for items in groups.values():
        seen: list[tuple] = []
        for r in items:
            text, toks, ans = norm(r.question), _tokens(r.question), norm(r.answer_text)
            for sid, stext, stoks, sans in seen:
                if text == stext and ans == sans:
                    out[r.qa_id] = f"duplicate of {sid}"
                    break
                if ans == sans and _jaccard(toks, stoks) >= NEAR_JACCARD:
                    out[r.qa_id] = f"near-duplicate of {sid}"
                    break
            seen.append((r.qa_id, text, toks, ans))
    return out


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
    kinds = defaultdict(int)
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
    from ..vlm.types import GenerationParams, VLMRequest, messages_for  # noqa: PLC0415

    right = {}
    for i, r in enumerate(records):
        ctx.check()
        ctx.progress(i, len(records), r.qa_id)
        req = VLMRequest(messages_for(build_mcq_prompt(r.question, r.options)), frames=[],
                         params=GenerationParams(max_new_tokens=max_new_tokens), as_video=False)
        text = "".join(backend.generate(req, ctx))
        if parse_choice(text, r.options) == r.answer_index:
            right[r.qa_id] = f"{backend.info.model_id} answered {r.answer_letter} without frames"
    ctx.progress(len(records), len(records), "done")
    return right
