"""Streamed, cancellable ``model.generate`` with timings (TTFT, tokens/s, peak memory)."""
from __future__ import annotations

import os
import resource
import sys
import time
from typing import Iterator, Optional

from ..errors import Cancelled
from .types import AnswerStats, VLMError, VLMRequest, first_line


def generation_kwargs(params) -> dict:
    if params.temperature > 0:
        return dict(do_sample=True, temperature=params.temperature, top_p=params.top_p)
    return dict(do_sample=False, temperature=None, top_p=None, top_k=None)


class _Stop(Exception):
    """Raised from the streamer to end ``generate`` at once when the user cancels."""


class IncrementalText:
    """The generation streamer of the app: one short detokenisation per token, no queue.

    ``TextStreamer`` re-decodes every token of the current line on each new token; here
    only a window of the last few ids is decoded (the "prefix offset" method: decode
    ``ids[prefix:]`` and drop the text of ``ids[prefix:read]``), so the per-token cost does
    not grow with the answer. Text goes to ``on_text`` on the generating thread, batched to
    at most one call per ``interval_s`` (the first token and the end are never delayed);
    ids arriving in between are only decoded at the next hand-over.
    Cancellation is checked here too: ``ctx.cancelled`` raises ``_Stop`` out of
    ``generate`` (no stopping criterion in the per-token loop)."""

    def __init__(self, tok, on_text, ctx, interval_s: float = 0.0) -> None:
        self.on_text, self.ctx, self.interval_s = on_text, ctx, interval_s
        self._decode = text_decoder(tok)
        self.ids: list[int] = []
        self.first_token_at: Optional[float] = None
        self._prompt_seen = False
        self._prefix = self._read = 0
        self._prefix_text = ""
        self._pending = ""
        self._emitted_at = 0.0

    def put(self, value) -> None:
        if not self._prompt_seen:                 # generate() first hands over the prompt
            self._prompt_seen = True
            return
        if self.ctx.cancelled:
            raise _Stop()
        now = time.perf_counter()
        if self.first_token_at is None:
            self.first_token_at = now
        self.ids.extend(value.reshape(-1).tolist())
        if self._emitted_at and now - self._emitted_at < self.interval_s:
            return                                # batched: decoded at the next hand-over
        self._advance()
        if self._pending:
            self._emit(now)

    def _advance(self) -> None:
        """Move the decoded text forward over the ids received so far (an unfinished
        multi-byte character, shown as U+FFFD, waits for the next token)."""
        text = self._decode(self.ids[self._prefix:])
        if len(text) > len(self._prefix_text) and not text.endswith("\ufffd"):
            self._pending += text[len(self._prefix_text):]
            self._prefix, self._read = self._read, len(self.ids)
            self._prefix_text = self._decode(self.ids[self._prefix:self._read])

    def _emit(self, now: float) -> None:
        text, self._pending, self._emitted_at = self._pending, "", now
        self.on_text(text)

    def end(self) -> None:
        rest = self._decode(self.ids[self._prefix:])[len(self._prefix_text):]
        self._pending += rest
        self._prefix_text += rest
        if self._pending:
            self._emit(time.perf_counter())


def text_decoder(tok):
    """``ids -> text`` exactly as ``tok.decode(ids, skip_special_tokens=True)``; straight
    through the Rust tokenizer when that is all ``decode`` would do (no clean-up pass), which
    saves most of the per-token Python work of the transformers wrapper."""
    rust = getattr(tok, "_tokenizer", None)
    cleanup = getattr(tok, "clean_up_tokenization_spaces", True)
    if cleanup and rust is not None and type(rust.model).__name__ == "BPE" and not getattr(
            tok, "clean_up_tokenization_spaces_for_bpe_even_though_it_will_corrupt_output", False):
        cleanup = False                                   # transformers skips it for BPE too
    if rust is None or cleanup or not hasattr(rust, "decode"):
        return lambda ids: tok.decode(ids, skip_special_tokens=True)
    return lambda ids: rust.decode(ids, skip_special_tokens=True)


def torch_threads() -> int:
    """Intra-op threads for generation: ``ACTIONART_TORCH_THREADS`` or every usable core."""
    env = os.environ.get("ACTIONART_TORCH_THREADS", "").strip()
    if env.isdigit() and int(env) > 0:
        return int(env)
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def ensure_threads(n: int) -> int:
    """Give the calling thread ``n`` torch intra-op threads. The count is per thread: a
    worker thread started after something lowered it (or by a pool that set it) would
    otherwise run the model on fewer cores than the main thread."""
    import torch  # noqa: PLC0415

    if torch.get_num_threads() != n:
        torch.set_num_threads(n)
    return torch.get_num_threads()


def _reset_peak(device: str) -> None:
    if device.startswith("cuda"):
        import torch  # noqa: PLC0415

        torch.cuda.reset_peak_memory_stats(device)


def peak_memory(device: str) -> int:
    """Peak GPU memory allocated (CUDA), driver memory (MPS) or process peak RSS (CPU)."""
    import torch  # noqa: PLC0415

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
        from concurrent.futures import ThreadPoolExecutor  # noqa: PLC0415

        self._pool = ThreadPoolExecutor(1, thread_name_prefix="vlm-generate")

    def submit(self, fn):
        return self._pool.submit(fn)

    def shutdown(self) -> None:
        self._pool.shutdown(wait=False)


def _start(backend, request: VLMRequest):
    t0 = time.perf_counter()
    backend.threads_used = ensure_threads(backend.threads)
    inputs = backend.prepare(request)
    stats = AnswerStats(load_s=backend.load_s)
    stats.prompt_tokens = int(inputs["input_ids"].shape[1])
    _reset_peak(backend.device)
    if request.params.temperature > 0:          # greedy decoding needs no seed
        _seed(backend.device, request.params.seed)
    return t0, inputs, stats


def _seed(device: str, seed: int) -> None:
    """Seed the generator sampling runs on. ``torch.manual_seed`` also queues lazy seeding
    of every accelerator type, recording a stack trace each time (milliseconds per call)."""
    import torch  # noqa: PLC0415

    if device.startswith("cuda"):
        torch.cuda.manual_seed(seed)
    elif device == "mps":
        torch.mps.manual_seed(seed)
    torch.default_generator.manual_seed(seed)


def _generate(backend, inputs, request: VLMRequest, streamer, result: dict) -> None:
    import torch  # noqa: PLC0415

    try:
        with torch.inference_mode():
            result["ids"] = backend.model.generate(
                **inputs, max_new_tokens=request.params.max_new_tokens, streamer=streamer,
                **generation_kwargs(request.params))
    except (_Stop, Cancelled):          # the user cancelled (streamer or text consumer)
        result["cancelled"] = True
    except Exception as exc:  # noqa: BLE001 (re-raised as a one-line VLMError)
        result["error"] = exc
    finally:
        streamer.end()


def generate_to(backend, request: VLMRequest, ctx, on_text) -> tuple[AnswerStats, list[int]]:
    """Generate on the calling thread; text chunks go to ``on_text`` as they decode.
    The fast path (no consumer thread): used by the service, CLI and GUI worker.
    Returns this answer's (stats, token ids)."""
    t0, inputs, stats = _start(backend, request)
    tok = getattr(backend.processor, "tokenizer", backend.processor)
    result: dict = {}
    streamer = IncrementalText(tok, on_text, ctx, backend.stream_interval_s)
    _generate(backend, inputs, request, streamer, result)
    return stats, _finish(backend, stats, result, t0, streamer)


def stream_generate(backend, request: VLMRequest, ctx, out: dict) -> Iterator[str]:
    """Yield text chunks as tokens arrive (generation runs on the backend's worker);
    at the end ``out`` holds this answer's ``stats`` and token ``ids``."""
    import queue  # noqa: PLC0415

    t0, inputs, stats = _start(backend, request)
    tok = getattr(backend.processor, "tokenizer", backend.processor)
    chunks: "queue.SimpleQueue" = queue.SimpleQueue()
    result: dict = {}
    streamer = IncrementalText(tok, chunks.put, ctx)

    def run() -> None:
        try:
            _generate(backend, inputs, request, streamer, result)
        finally:
            chunks.put(None)

    future = backend.worker().submit(run)
    for chunk in iter(chunks.get, None):
        yield chunk
    future.result()
    out["ids"] = _finish(backend, stats, result, t0, streamer)
    out["stats"] = stats


def _finish(backend, stats: AnswerStats, result: dict, t0: float, streamer) -> list[int]:
    """Fill ``stats`` of a finished answer; returns its token ids."""
    stats.total_s = time.perf_counter() - t0
    if streamer.first_token_at is not None:
        stats.ttft_s = streamer.first_token_at - t0
    if "error" in result:
        raise VLMError(f"Generation failed: {first_line(result['error'])}")
    ids = result.get("ids")
    new_ids = ids[0, stats.prompt_tokens:].tolist() if ids is not None else list(streamer.ids)
    stats.completion_tokens = len(new_ids)
    if stats.ttft_s is None:
        stats.ttft_s = stats.total_s
    stats.peak_mem_bytes = peak_memory(backend.device)
    return new_ids
