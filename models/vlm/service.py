"""Ask one backend or compare several on the same frames: the core the CLI and GUI share.

``prepare(AskSpec)`` samples the frames once and renders the prompt; ``run_answer`` loads
a backend (timed), streams its answer and returns an ``Answer`` carrying the full
provenance; ``compare`` does it for several backends on the identical ``Prepared`` input,
one after another on the caller's (single model) worker, so only one model is resident.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Optional, Sequence

from ..errors import Cancelled, StudioError
from ..jobs import NULL_CONTEXT
from .frames import FrameSelection, SampledFrames, sample_frames
from .prompts import build_messages, get_template, grounding_text, render
from .types import AnswerStats, BackendInfo, GenerationParams, VLMError, VLMRequest

if TYPE_CHECKING:
    from .storage import AnswerStore

ChunkFn = Callable[[int, str], None]   # (backend position, text chunk)


@dataclass
class AskSpec:
    video: str
    question: str = ""
    template_id: str = "free"
    selection: FrameSelection = field(default_factory=FrameSelection)
    options: list[str] = field(default_factory=list)
    answer_index: Optional[int] = None       # known right answer of an MCQ
    pose_grounding: bool = False
    params: GenerationParams = field(default_factory=GenerationParams)


@dataclass
class Prepared:
    spec: AskSpec
    frames: SampledFrames
    prompt: str
    template_version: str
    request: VLMRequest


def prepare(spec: AskSpec, track=None, frames: Optional[SampledFrames] = None) -> Prepared:
    """Sample frames (or reuse ``frames``) and render the prompt; validates everything."""
    template = get_template(spec.template_id)
    if not (spec.question or "").strip() and template.id == "free":
        raise VLMError("The question is empty; type a question or choose a template")
    if spec.answer_index is not None:
        n = len(spec.options)
        if not n:
            raise VLMError("A right answer (--answer) needs the options it points into (--options)")
        if isinstance(spec.answer_index, bool) or not 0 <= spec.answer_index < n:
            raise VLMError(f"The right answer must be an option index in 0..{n - 1} "
                           f"(there are {n} options), got {spec.answer_index}")
    sampled = frames or sample_frames(spec.video, spec.selection)
    grounding = grounding_text(track, sampled.indices) if spec.pose_grounding else ""
    prompt = render(template, spec.question, spec.options, sampled.indices,
                    len(sampled.indices) and sampled.span_s, grounding)
    request = VLMRequest(build_messages(template, prompt), list(sampled.frames),
                         spec.params.validate(), as_video=template.frames == "clip",
                         fps=sampled.fps, frame_indices=list(sampled.indices),
                         mcq=(spec.question, list(spec.options)) if spec.options else None,
                         question=(spec.question or "").strip())
    return Prepared(spec, sampled, prompt, template.version, request.validate())


@dataclass
class Answer:
    info: BackendInfo
    text: str = ""
    stats: AnswerStats = field(default_factory=AnswerStats)
    status: str = "ok"                  # ok | cancelled | error
    error: str = ""
    chosen_index: Optional[int] = None
    correct: Optional[bool] = None          # None: no known answer, or the backend abstained
    abstained: bool = False                 # rule baseline: not answerable from pose alone

    def as_record(self, prepared: Prepared) -> dict:
        """Row for ``model_answers`` with the full provenance (never an API key)."""
        from .openai_http import redact  # noqa: PLC0415

        s, fr = prepared.spec, prepared.frames
        st = self.stats
        info = BackendInfo(**{k: redact(v) if isinstance(v, str) else v
                               for k, v in self.info.as_dict().items()})
        return {
            "video": fr.video, "start_frame": fr.window[0], "end_frame": fr.window[1],
            "frame_indices": list(fr.indices), "backend": info.kind,
            "model_id": info.model_id, "model_revision": info.revision,
            "family": info.family, "device": info.device, "dtype": info.dtype,
            "template_id": s.template_id or "free", "template_version": prepared.template_version,
            "question": s.question, "prompt": prepared.prompt, "options": list(s.options),
            "answer_index": s.answer_index, "generation_params": s.params.as_dict(),
            "seed": s.params.seed, "pose_grounding": s.pose_grounding, "answer": self.text,
            "chosen_index": self.chosen_index, "correct": self.correct, "status": self.status,
            "error": redact(self.error), "load_s": st.load_s, "ttft_s": st.ttft_s, "total_s": st.total_s,
            "tokens_per_s": st.tokens_per_s, "prompt_tokens": st.prompt_tokens,
            "completion_tokens": st.completion_tokens, "peak_mem_bytes": st.peak_mem_bytes}


def comparison_record(prepared: Prepared, title: str = "") -> dict:
    s, fr = prepared.spec, prepared.frames
    return {"title": title, "video": fr.video, "start_frame": fr.window[0],
            "end_frame": fr.window[1], "frame_indices": list(fr.indices),
            "template_id": s.template_id or "free", "template_version": prepared.template_version,
            "question": s.question, "prompt": prepared.prompt, "options": list(s.options),
            "answer_index": s.answer_index, "pose_grounding": s.pose_grounding}


def score(answer: Answer, spec: AskSpec) -> None:
    """Mark an MCQ answer right or wrong when the right option is known."""
    if not spec.options or answer.status != "ok" or answer.abstained:
        return                          # an abstention is shown as "n/a", not as wrong
    from ..answer_parse import parse_choice  # noqa: PLC0415

    answer.chosen_index = parse_choice(answer.text, spec.options)
    if spec.answer_index is not None:
        answer.correct = answer.chosen_index == spec.answer_index


def _stream(backend, request, ctx, sink):
    """Feed an answer's text chunks to ``sink`` as they arrive; returns its ``Generated``.
    Backends with ``generate_to`` generate on this thread and call ``sink`` directly (no
    second thread); others are iterated."""
    from .many import collect  # noqa: PLC0415

    if hasattr(backend, "generate_to"):
        return backend.generate_to(request, ctx, sink)
    return collect(backend.generate(request, ctx), sink, backend.info)


def run_answer(backend, prepared: Prepared, ctx=NULL_CONTEXT, on_chunk: Optional[ChunkFn] = None,
               position: int = 0, keep_errors: bool = False) -> Answer:
    """Load (timed) and stream one backend's answer. With ``keep_errors`` a failure is
    recorded in the Answer (status ``error``) instead of raised: one broken column of a
    comparison never loses the others."""
    answer = Answer(backend.info)

    def sink(chunk: str) -> None:
        answer.text += chunk
        if on_chunk is not None:
            on_chunk(position, chunk)

    try:
        t0 = time.perf_counter()
        backend.load(ctx)            # immediate when already resident
        load_s = time.perf_counter() - t0
        done = _stream(backend, prepared.request, ctx, sink)
        answer.stats = done.stats
        answer.stats.load_s = load_s
        answer.info = done.info or backend.info
        answer.abstained = bool(done.abstained)
    except Cancelled as exc:
        answer.status, answer.error = "cancelled", str(exc)
        answer.info = backend.info
    except StudioError as exc:
        if not keep_errors:
            raise
        answer.status, answer.error = "error", str(exc)
        answer.info = backend.info
    score(answer, prepared.spec)
    return answer


def compare(backends: Sequence, prepared: Prepared, ctx=NULL_CONTEXT,
            on_chunk: Optional[ChunkFn] = None,
            on_answer: Optional[Callable[[int, Answer], None]] = None) -> list[Answer]:
    """Every backend answers the identical prepared input, one after the other."""
    answers = []
    for pos, backend in enumerate(backends):
        if ctx.cancelled:
            answers.append(Answer(backend.info, status="cancelled", error="Cancelled by the user."))
            continue
        ctx.progress(pos, len(backends), f"asking {backend.info.label or backend.info.model_id}")
        answer = run_answer(backend, prepared, ctx, on_chunk, pos, keep_errors=True)
        answers.append(answer)
        if on_answer is not None:
            on_answer(pos, answer)
    ctx.progress(len(backends), len(backends), "done")
    return answers


def save_comparison(repo: AnswerStore, prepared: Prepared, answers: Sequence[Answer], title: str = "") -> int:
    digest = repo.clip_hash(prepared.frames.video)
    return repo.save_comparison(dict(comparison_record(prepared, title), content_hash=digest),
                                [dict(a.as_record(prepared), content_hash=digest) for a in answers])


def save_answer(repo: AnswerStore, prepared: Prepared, answer: Answer) -> int:
    digest = repo.clip_hash(prepared.frames.video)
    return repo.save_answer(dict(answer.as_record(prepared), content_hash=digest))
