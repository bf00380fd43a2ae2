"""The answer contract of every VLM backend, and many requests to one backend.

A backend is stateless per request: ``backend.generate(request, ctx)`` is an iterator that
yields the answer's text chunks (``str``) as they arrive and ends with ONE ``Generated``
(the whole text, that answer's ``AnswerStats``, the ``BackendInfo`` that answered and the
server that answered). Nothing about one answer is kept on the backend object, so one
backend object serves several requests at once (threads) without mixing their stats.

* ``collect(chunks, on_text)`` runs such an iterator to its end and returns the
  ``Generated`` (text chunks go to ``on_text`` as they arrive); an older backend that yields
  text only still works (its ``Generated`` has empty stats).
* ``generate_one(backend, request, ctx, on_text)`` = ``collect(backend.generate(...))``.
* ``generate_many(backend, requests, ctx, max_concurrency)`` returns one ``Generated`` (or
  the ``VLMError`` that request ended with) per request, in request order. Backends that can
  serve requests together (an HTTP endpoint with concurrency, an endpoint pool, batched
  local generation, vLLM) provide their own ``generate_many(requests, ctx, max_concurrency)``
  method and this function hands the work to it; for the others it asks one request after
  another. Cancellation raises ``Cancelled``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Iterable, Optional, Sequence, Union

from ..errors import Cancelled
from ..jobs import NULL_CONTEXT
from .types import AnswerStats, BackendInfo, VLMError, VLMRequest


@dataclass
class Generated:
    """One finished answer with the stats and the model that produced it."""
    text: str
    stats: AnswerStats = field(default_factory=AnswerStats)
    info: Optional[BackendInfo] = None
    endpoint: str = ""                   # the server that answered ("" for local backends)
    abstained: bool = False              # rule baseline: the question is not answerable from poses
    token_ids: list = field(default_factory=list)   # local backends: the answer's token ids


Result = Union[Generated, VLMError]


def collect(chunks: Iterable, on_text: Optional[Callable[[str], None]] = None,
            info: Optional[BackendInfo] = None) -> Generated:
    """Run a ``generate`` iterator to its end: text chunks go to ``on_text``; returns the
    final ``Generated`` (built from the text when the backend sent none)."""
    parts: list[str] = []
    final: Optional[Generated] = None
    for item in chunks:
        if isinstance(item, Generated):
            final = item
        elif item:
            parts.append(item)
            if on_text is not None:
                on_text(item)
    if final is None:
        return Generated("".join(parts), AnswerStats(), info)
    if not final.text and parts:
        final.text = "".join(parts)
    if final.info is None:
        final.info = info
    return final


def text_only(chunks: Iterable) -> Iterable[str]:
    """The text chunks of a ``generate`` iterator (the final ``Generated`` left out)."""
    return (c for c in chunks if isinstance(c, str))


def generate_one(backend, request: VLMRequest, ctx=NULL_CONTEXT,
                 on_text: Optional[Callable[[str], None]] = None) -> Generated:
    """One answer of ``backend`` (loaded on demand by the backend itself)."""
    return collect(backend.generate(request, ctx), on_text, getattr(backend, "info", None))


def generate_many(backend, requests: Sequence[VLMRequest], ctx=NULL_CONTEXT,
                  max_concurrency: Optional[int] = None) -> list[Result]:
    """Answer every request; a request that fails gives its error in its place, the others
    still run. Cancellation raises ``Cancelled``."""
    own = getattr(backend, "generate_many", None)
    if callable(own):
        return list(own(list(requests), ctx, max_concurrency=max_concurrency))
    return sequential(backend, requests, ctx)


def sequential(backend, requests: Sequence[VLMRequest], ctx=NULL_CONTEXT) -> list[Result]:
    """One request after another (the fallback, and the loop of simple backends)."""
    backend.load(ctx)
    out: list[Result] = []
    for request in requests:
        ctx.check()
        try:
            out.append(generate_one(backend, request, ctx))
        except Cancelled:
            raise
        except VLMError as exc:
            out.append(exc)
    return out


def concurrency(max_concurrency: Optional[int], default: int, n: int) -> int:
    """Workers for ``n`` requests: ``max_concurrency`` (or ``default``), at least 1."""
    want = default if max_concurrency is None else int(max_concurrency)
    return max(1, min(max(1, want), max(1, n)))
