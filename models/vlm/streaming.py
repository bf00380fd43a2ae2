"""Streamed, cancellable ``model.generate`` with timings (TTFT, tokens/s, peak memory)."""
from __future__ import annotations

import resource
import sys
import time
from typing import Iterator

from .types import AnswerStats, VLMError, VLMRequest


def generation_kwargs(params) -> dict:
    if params.temperature > 0:
        return dict(do_sample=True, temperature=params.temperature, top_p=params.top_p)
    return dict(do_sample=False, temperature=None, top_p=None, top_k=None)


def _cancel_criteria(ctx):
    import torch
    from transformers import StoppingCriteria, StoppingCriteriaList

    class _Cancel(StoppingCriteria):
        cache: dict = {}   # (batch, device, cancelled) -> reusable answer tensor

        def __call__(self, input_ids, scores, **kwargs):
            key = (input_ids.shape[0], str(input_ids.device), bool(ctx.cancelled))
            if key not in self.cache:
                self.cache[key] = torch.full((key[0],), key[2], dtype=torch.bool,
                                             device=input_ids.device)
            return self.cache[key]

    return StoppingCriteriaList([_Cancel()])


def _streamer(tok, on_text=None):
    """A text streamer that notes when the first generated token arrived. Without
    ``on_text`` it is a TextIteratorStreamer (queue for a consumer thread); with it, text
    goes straight to ``on_text`` on the generating thread (no queue, no thread hand-off)."""
    from transformers import TextIteratorStreamer, TextStreamer

    base = TextStreamer if on_text is not None else TextIteratorStreamer

    class _Timed(base):
        first_token_at = None

        def put(self, value):
            if not self.next_tokens_are_prompt and self.first_token_at is None:
                self.first_token_at = time.perf_counter()
            super().put(value)

        if on_text is not None:
            def on_finalized_text(self, text: str, stream_end: bool = False) -> None:
                if text:
                    on_text(text)

    return _Timed(tok, skip_prompt=True, skip_special_tokens=True)


def _reset_peak(device: str) -> None:
    if device.startswith("cuda"):
        import torch

        torch.cuda.reset_peak_memory_stats(device)


def peak_memory(device: str) -> int:
    """Peak GPU memory allocated (CUDA), driver memory (MPS) or process peak RSS (CPU)."""
    import torch

    if device.startswith("cuda"):
        return int(torch.cuda.max_memory_allocated(device))
    if device == "mps":
        return int(torch.mps.driver_allocated_memory())
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(rss if sys.platform == "darwin" else rss * 1024)


class GenerationWorker:
    """One long-lived thread per loaded model that runs ``model.generate`` while the caller
    consumes the stream: its CUDA/cuBLAS thread state is created once, not per answer."""

    def __init__(self) -> None:
        from concurrent.futures import ThreadPoolExecutor

        self._pool = ThreadPoolExecutor(1, thread_name_prefix="vlm-generate")

    def submit(self, fn):
        return self._pool.submit(fn)

    def shutdown(self) -> None:
        self._pool.shutdown(wait=False)


def _start(backend, request: VLMRequest):
    import torch

    t0 = time.perf_counter()
    inputs = backend.prepare(request)
    stats = backend.stats = AnswerStats(load_s=backend.load_s)
    stats.prompt_tokens = int(inputs["input_ids"].shape[1])
    _reset_peak(backend.device)
    torch.manual_seed(request.params.seed)
    return t0, inputs, stats


def _generate(backend, inputs, request: VLMRequest, streamer, ctx, result: dict) -> None:
    import torch

    try:
        with torch.inference_mode():
            result["ids"] = backend.model.generate(
                **inputs, max_new_tokens=request.params.max_new_tokens, streamer=streamer,
                stopping_criteria=_cancel_criteria(ctx), **generation_kwargs(request.params))
    except Exception as exc:  # noqa: BLE001 (re-raised as a one-line VLMError)
        result["error"] = exc
        streamer.end()


def generate_to(backend, request: VLMRequest, ctx, on_text) -> None:
    """Generate on the calling thread; text chunks go to ``on_text`` as they decode.
    The fast path (no consumer thread): used by the service, CLI and GUI worker."""
    t0, inputs, stats = _start(backend, request)
    tok = getattr(backend.processor, "tokenizer", backend.processor)
    streamer, result = _streamer(tok, on_text), {}
    _generate(backend, inputs, request, streamer, ctx, result)
    if streamer.first_token_at is not None:
        stats.ttft_s = streamer.first_token_at - t0
    _finish(backend, stats, result, t0)


def stream_generate(backend, request: VLMRequest, ctx) -> Iterator[str]:
    """Yield text chunks as tokens arrive (generation runs on the backend's worker)."""
    t0, inputs, stats = _start(backend, request)
    tok = getattr(backend.processor, "tokenizer", backend.processor)
    streamer, result = _streamer(tok), {}
    future = backend.worker().submit(
        lambda: _generate(backend, inputs, request, streamer, ctx, result))
    for chunk in streamer:
        if chunk:
            yield chunk
    future.result()
    if streamer.first_token_at is not None:
        stats.ttft_s = streamer.first_token_at - t0
    _finish(backend, stats, result, t0)


def _finish(backend, stats: AnswerStats, result: dict, t0: float) -> None:
    stats.total_s = time.perf_counter() - t0
    if "error" in result:
        exc = result["error"]
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise VLMError(f"Generation failed: {first}")
    backend.last_ids = [int(t) for t in result["ids"][0, stats.prompt_tokens:]]
    stats.completion_tokens = len(backend.last_ids)
    if stats.ttft_s is None:
        stats.ttft_s = stats.total_s
    stats.peak_mem_bytes = peak_memory(backend.device)
