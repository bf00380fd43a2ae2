"""QA generation from text (captions, pose descriptions, difference texts, model answers)
through a VLM backend and the versioned prompt ``resources/prompts/qa_from_text.json``.

The model's output is parsed strictly (``parse_output``): one JSON object
``{"items": [...]}``, optionally inside a single markdown code fence and nothing else.
Invalid outputs and invalid items are rejected and counted, never repaired.
"""
from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Optional

import numpy as np

from .. import resources
from ..jobs import NULL_CONTEXT, JobContext
from ..vlm_request import answer_texts, default_concurrency
from .record import Provenance, QARecord, stable_qa_id
from .synth import Balancer
from .taxonomy import load_taxonomy

if TYPE_CHECKING:
    from .storage import AnswerSource, QAStore

TEMPLATE = ("prompts", "qa_from_text.json")
_FENCE = re.compile(r"^```(?:json)?\s*\n(.*)\n```$", re.DOTALL)
_LETTER_PREFIX = re.compile(r"^\(?[A-Ja-j][.):]\s")


class InvalidOutput(ValueError):
    """The model's whole output is unusable (the message says why)."""


@dataclass
class TextSource:
    video: str
    text: str
    kind: str = "caption"           # caption / description / difference / model_answer
    ref: Optional[str] = None       # e.g. caption id or model answer id
    start_s: Optional[float] = None
    end_s: Optional[float] = None


@dataclass
class TextStats:
    outputs: int = 0
    invalid_outputs: int = 0
    items: int = 0
    rejected_items: int = 0
    failed: int = 0                 # sources whose request failed (asked again next time)
    reasons: list = field(default_factory=list)  # (video, reason), first 50

    def reject(self, video: str, reason: str, whole: bool) -> None:
        if whole:
            self.invalid_outputs += 1
        else:
            self.rejected_items += 1
        if len(self.reasons) < 50:
            self.reasons.append((video, reason))


def template() -> dict:
    return resources.load_json(*TEMPLATE)


def build_prompt(src: TextSource, n: int = 3, n_options: int = 4, tpl: Optional[dict] = None) -> str:
    tpl = tpl or template()
    tax = load_taxonomy()
    lines = "\n".join(f"- {t}: {tax[t].asks_about}" for t in tpl["tasks"] if t in tax)
    return tpl["user"].format(kind=src.kind, text=src.text, n=n, task_lines=lines,
                              n_options=n_options)


def parse_output(text: str) -> list:
    """The list under "items" of a strictly JSON output; raises InvalidOutput."""
    body = text.strip()
    fenced = _FENCE.match(body)
    if fenced:
        body = fenced.group(1).strip()
    if not body:
        raise InvalidOutput("empty output")
    try:
        doc = json.loads(body)
    except json.JSONDecodeError as exc:
        raise InvalidOutput(f"not JSON ({exc.msg} at line {exc.lineno} column {exc.colno})") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("items"), list):
        raise InvalidOutput("expected an object with an 'items' list")
    return doc["items"]


def check_item(item, allowed: set, n_options: int) -> dict:
    """A valid item as {task, question, options, answer_index}; raises ValueError."""
    if not isinstance(item, dict):
        raise ValueError("item is not an object")
    task, q, opts, ai = (item.get(k) for k in ("task", "question", "options", "answer_index"))
    if task not in allowed:
        raise ValueError(f"unknown or disallowed task {task!r}")
    if not isinstance(q, str) or not q.strip():
        raise ValueError("empty question")
    if not isinstance(opts, list) or len(opts) != n_options or \
            not all(isinstance(o, str) and o.strip() for o in opts):
        raise ValueError(f"options must be {n_options} non-empty strings")
    if len({o.strip().lower() for o in opts}) != len(opts):
        raise ValueError("duplicate options")
    if any(_LETTER_PREFIX.match(o) for o in opts):
        raise ValueError("options carry letter prefixes")
    if not isinstance(ai, int) or isinstance(ai, bool) or not 0 <= ai < len(opts):
        raise ValueError("answer_index out of range")
    return {"task": task, "question": q.strip(), "options": [o.strip() for o in opts],
            "answer_index": ai}


def _rebalance(item: dict, balancer: Balancer, rng) -> tuple[list, int]:
    answer = item["options"][item["answer_index"]]
    wrong = [o for i, o in enumerate(item["options"]) if i != item["answer_index"]]
    pos = balancer.position(len(item["options"]), rng)
    return wrong[:pos] + [answer] + wrong[pos:], pos


@dataclass
class TextSettings:
    per_text: int = 3
    n_options: int = 4
    seed: int = 0
    max_new_tokens: Optional[int] = None

    def key(self, tpl: dict, info, src: TextSource) -> str:
        text = json.dumps([self.__dict__, tpl["id"], tpl["version"], info.model_id,
                           info.revision, src.kind, src.text], sort_keys=True)
        return hashlib.sha1(text.encode("utf-8")).hexdigest()[:16]


def _request(src: TextSource, s: TextSettings, tpl: dict):
    from ..vlm_request import GenerationParams, VLMRequest, messages_for  # noqa: PLC0415

    params = GenerationParams(max_new_tokens=s.max_new_tokens or tpl["max_new_tokens"],
                              temperature=0.0, seed=s.seed)
    prompt = build_prompt(src, s.per_text, s.n_options, tpl)
    return VLMRequest(messages_for(prompt, tpl["system"]), frames=[], params=params,
                      as_video=False)


def records_from_output(output: str, src: TextSource, s: TextSettings, tpl: dict, info,
                        params: dict, stats: TextStats, balancer: Balancer, rng) -> list[QARecord]:
    """Parse one model output strictly into records; rejects are counted in ``stats``."""
    stats.outputs += 1
    try:
        raw = parse_output(output)
    except InvalidOutput as exc:
        stats.reject(src.video, str(exc), whole=True)
        return []
    out = []
    for n, item in enumerate(raw[:s.per_text]):
        try:
            item = check_item(item, set(tpl["tasks"]), s.n_options)
        except ValueError as exc:
            stats.reject(src.video, f"item {n + 1}: {exc}", whole=False)
            continue
        options, answer = _rebalance(item, balancer, rng)
        prov = Provenance(model_id=info.model_id, model_revision=info.revision or None,
                          prompt_template=tpl["id"], prompt_version=tpl["version"],
                          generation_params=dict(params, per_text=s.per_text), seed=s.seed,
                          facts=[{"kind": src.kind, "quantity": "source_text", "value": src.text,
                                  "ref": src.ref}])
        qa_id = stable_qa_id(item["task"], src.video, item["question"], info.model_id,
                             tpl["version"], src.ref)
        out.append(QARecord(qa_id, item["task"], src.video, item["question"], options, answer,
                            src.start_s, src.end_s, source=info.model_id, provenance=prov))
        stats.items += 1
    return out


def generate_from_text(repo: QAStore, backend, sources: list, settings: Optional[TextSettings] = None,
                       ctx: JobContext = NULL_CONTEXT, max_concurrency: Optional[int] = None,
                       ask_many: Optional[Callable] = None) -> TextStats:
    """Ask ``backend`` (``generate(request, ctx)``) for QA about each text source; each
    source's items are committed with a run marker (resumable). Sources are asked in
    chunks of ``max_concurrency`` (default: the backend's own, ``default_concurrency``:
    an HTTP endpoint's concurrency, 1 for a local model) through ``ask_many(backend,
    requests, ctx, max_concurrency)`` -> one text or ``VLMError`` per request (default
    ``vlm_request.answer_texts``: the backend's ``generate_many`` where it has one); the
    answers are parsed and stored in source order, so a deterministic backend gives the
    same items as asking one source at a time. A source whose request failed is counted
    in ``stats.failed`` and not marked done (asked again next time); when every source
    asked failed, its error is raised."""
    s, tpl, stats = settings or TextSettings(), template(), TextStats()
    info = backend.info
    balancer = Balancer()
    ask = ask_many or answer_texts
    size = max(1, int(max_concurrency if max_concurrency is not None
                      else default_concurrency(backend)))
    pending: list[tuple[int, TextSource, str]] = []
    asked = 0
    first_error: Optional[BaseException] = None

    def flush() -> None:
        nonlocal asked, first_error
        if not pending:
            return
        ctx.progress(pending[0][0], len(sources), pending[0][1].video)
        requests = [_request(src, s, tpl) for _i, src, _key in pending]
        outputs = ask(backend, requests, ctx, min(size, len(requests)))
        ctx.check()
        for (_i, src, key), req, output in zip(pending, requests, outputs):
            asked += 1
            if isinstance(output, BaseException):
                stats.failed += 1
                first_error = first_error or output
                if len(stats.reasons) < 50:
                    stats.reasons.append((src.video, f"no answer: {output}"))
                continue
            rng = np.random.default_rng([s.seed, int(key, 16) % (2 ** 32)])
            rejected_before = stats.invalid_outputs + stats.rejected_items
            recs = records_from_output(output, src, s, tpl, info, req.params.as_dict(), stats,
                                       balancer, rng)
            rejected = stats.invalid_outputs + stats.rejected_items - rejected_before
            repo.add_qa_items(recs, key, run={"video": src.video, "settings": s.__dict__,
                                              "rejected": rejected})
        pending.clear()

    for i, src in enumerate(sources):
        ctx.check()
        key = s.key(tpl, info, src)
        if repo.generation_done(src.video, key):
            continue
        pending.append((i, src, key))
        if len(pending) >= size:
            flush()
    flush()
    if first_error is not None and stats.failed == asked:
        raise first_error
    ctx.progress(len(sources), len(sources), "done")
    return stats


def caption_sources(repo: QAStore, video: Optional[str] = None) -> list[TextSource]:
    return [TextSource(c["video"], c["text"], "caption", f"caption:{c['id']}", c["start_s"],
                       c["end_s"]) for c in repo.captions(video)]


def answer_sources(repo: AnswerSource, video: Optional[str] = None) -> list[TextSource]:
    """Saved model answers (the VLM helper's ``model_answers``) as text sources."""
    return [TextSource(a["video"], a["answer"], "model_answer", f"answer:{a['id']}")
            for a in repo.answers(video) if a.get("status", "ok") == "ok" and a["answer"].strip()]


def description_sources(track, video: str, frames: list[int]) -> list[TextSource]:
    """Rule-based pose descriptions (``models.describe``) of chosen frames as text sources."""
    from ..describe import describe, pose_facts  # noqa: PLC0415

    out = []
    for f in frames:
        text = describe(pose_facts(track, f))
        if text.strip():
            t = round(track.time_of(f), 2) if track.fps or track.times is not None else None
            out.append(TextSource(video, text, "description", f"frame:{f}", t, t))
    return out


def difference_sources(track, video: str, pairs: list[tuple]) -> list[TextSource]:
    """Spatial-difference texts (``models.diff``) of frame pairs as text sources."""
    from ..diff import diff_facts  # noqa: PLC0415
    from ..diff_text import render_diff  # noqa: PLC0415

    out = []
    for a, b in pairs:
        text = render_diff(diff_facts(track.world[a], track.world[b], a, b))
        if text.strip():
            out.append(TextSource(video, f"From frame A ({a}) to frame B ({b}): {text}",
                                  "difference", f"frames:{a}-{b}"))
    return out


def pose_text_sources(track, video: str, n_frames: int = 4) -> list[TextSource]:
    """Descriptions of ``n_frames`` evenly spread frames with a pose and the difference
    texts between consecutive ones (the rule-based describer's texts of one clip)."""
    present = np.flatnonzero(track.has_pose)
    if not len(present):
        return []
    idx = np.linspace(0, len(present) - 1, min(n_frames, len(present))).round().astype(int)
    frames = [int(present[i]) for i in dict.fromkeys(idx)]
    return (description_sources(track, video, frames) +
            difference_sources(track, video, list(zip(frames[:-1], frames[1:]))))
