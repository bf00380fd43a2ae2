"""Many requests to one backend: ``generate_many`` returns one ``Generated`` (or the
``VLMError`` that request ended with) per request, in request order.

Backends that can serve requests together (several HTTP endpoints, batched local
generation) provide their own ``generate_many(requests, ctx, max_concurrency)`` method and
this function hands the work to it; for the others it asks one request after another.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Optional, Sequence, Union

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


Result = Union[Generated, VLMError]


def generate_many(backend, requests: Sequence[VLMRequest], ctx=NULL_CONTEXT,
                  max_concurrency: Optional[int] = None) -> list[Result]:
    """Answer every request; a request that fails gives its error in its place, the others
    still run. Cancellation raises ``Cancelled``."""
    own = getattr(backend, "generate_many", None)
    if callable(own):
        return list(own(requests, ctx, max_concurrency=max_concurrency))
    backend.load(ctx)
    out: list[Result] = []
    for request in requests:
        ctx.check()
        try:
            text = "".join(backend.generate(request, ctx))
        except Cancelled:
            raise
        except VLMError as exc:
            out.append(exc)
            continue
        out.append(Generated(text, copy.copy(backend.stats), backend.info))
    return out
