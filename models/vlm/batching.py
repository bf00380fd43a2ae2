"""Batched generation for the local transformers backend.

Requests are grouped by ``inputs.batch_key`` (same media kind, frame count, frame size and
generation parameters); each group goes through the processor and ``model.generate`` in
batches of ``max_concurrency`` rows, prompts left-padded. Where the family's processor
cannot batch the input (it raises), that group is answered one request at a time. A batch
does not stream: every row's ``ttft_s`` is the time to its whole answer.
"""
from __future__ import annotations

import time
from typing import Optional

from ..errors import Cancelled
from ..jobs import NULL_CONTEXT
from .many import Generated, Result, concurrency, sequential
from .types import AnswerStats, VLMError, VLMRequest, first_line

DEFAULT_BATCH = 8


def generate_many(backend, requests: list[VLMRequest], ctx=NULL_CONTEXT,
                  max_concurrency: Optional[int] = None) -> list[Result]:
    """Answers of ``requests`` (loaded ``TransformersBackend``) in request order."""
    from .inputs import batch_key  # noqa: PLC0415

    out: list[Optional[Result]] = [None] * len(requests)
    groups: dict[tuple, list[int]] = {}
    for i, request in enumerate(requests):
        try:
            request.validate()
        except VLMError as exc:
            out[i] = exc
            continue
        groups.setdefault(batch_key(backend.family, request), []).append(i)
    size = concurrency(max_concurrency, DEFAULT_BATCH, len(requests))
    for members in groups.values():
        for start in range(0, len(members), size):
            ctx.check()
            chunk = members[start:start + size]
            for i, result in zip(chunk, _batch_or_each(backend, [requests[i] for i in chunk], ctx)):
                out[i] = result
    ctx.check()
    return out  # type: ignore[return-value]


def _batch_or_each(backend, requests: list[VLMRequest], ctx) -> list[Result]:
    if len(requests) > 1:
        try:
            return _batch(backend, requests, ctx)
        except _CannotBatch:
            pass                       # this processor cannot batch the input: one by one
    return sequential(backend, requests, ctx)    # loaded already: its load returns at once


class _CannotBatch(Exception):
    pass


def _batch(backend, requests: list[VLMRequest], ctx) -> list[Result]:
    import torch  # noqa: PLC0415

    from .inputs import processor_inputs_batch  # noqa: PLC0415
    from .streaming import (_reset_peak, _seed, ensure_threads,  # noqa: PLC0415
                            generation_kwargs, peak_memory, text_decoder)

    t0 = time.perf_counter()
    backend.threads_used = ensure_threads(backend.threads)
    try:
        inputs = processor_inputs_batch(backend, requests)
    except VLMError:
        raise _CannotBatch() from None
    except Exception:  # noqa: BLE001 (a processor that cannot batch this media)
        raise _CannotBatch() from None
    params = requests[0].params
    _reset_peak(backend.device)
    if params.temperature > 0:
        _seed(backend.device, params.seed)
    mask = inputs.get("attention_mask")
    width = int(inputs["input_ids"].shape[1])
    try:
        with torch.inference_mode():
            ids = backend.model.generate(**inputs, max_new_tokens=params.max_new_tokens,
                                         stopping_criteria=_cancel_criteria(ctx),
                                         **generation_kwargs(params))
    except Exception as exc:  # noqa: BLE001 (one line for the whole batch)
        if ctx.cancelled:
            raise Cancelled("Generation cancelled by the user.") from None
        err = VLMError(f"Generation failed: {first_line(exc)}")
        return [err for _ in requests]
    if ctx.cancelled:
        raise Cancelled("Generation cancelled by the user.")
    took = time.perf_counter() - t0
    peak = peak_memory(backend.device)
    tok = getattr(backend.processor, "tokenizer", backend.processor)
    decode = text_decoder(tok)
    stop = _stop_ids(backend, tok)
    out: list[Result] = []
    for row in range(len(requests)):
        new = ids[row, width:].tolist()
        for k, t in enumerate(new):
            if t in stop:                  # its eos (kept, as a single answer keeps it);
                new = new[:k + 1]          # after it only padding
                break
        prompt = int(mask[row].sum()) if mask is not None else width
        stats = AnswerStats(load_s=backend.load_s, ttft_s=took, total_s=took,
                            prompt_tokens=prompt, completion_tokens=len(new),
                            peak_mem_bytes=peak)
        out.append(Generated(decode(new), stats, backend.info, "", token_ids=new))
    return out


def _stop_ids(backend, tok) -> set:
    """Token ids that end a row (its eos ids; rows that finished early are padded)."""
    cfg = getattr(backend.model, "generation_config", None)
    eos = getattr(cfg, "eos_token_id", None)
    ids = set(eos if isinstance(eos, (list, tuple)) else [eos] if eos is not None else [])
    return ids | _pad_ids(tok)


def _pad_ids(tok) -> set:
    pad = getattr(tok, "pad_token_id", None)
    return {pad} if pad is not None else set()


def _cancel_criteria(ctx):
    from transformers import StoppingCriteria, StoppingCriteriaList  # noqa: PLC0415

    class _Cancel(StoppingCriteria):
        def __call__(self, input_ids, scores, **kwargs):
            return ctx.cancelled

    return StoppingCriteriaList([_Cancel()])
