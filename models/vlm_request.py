"""What is asked of a vision-language model: the request, its generation parameters and
the chat messages, plus the error a backend raises. Below both ``models.qa`` (which asks
models) and ``models.vlm`` (whose backends answer, one of them from QA facts); the rest
of the backend types live in ``models.vlm.types``. No heavy imports here."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Optional

import numpy as np

from .errors import StudioError


class VLMError(StudioError):
    """A VLM backend cannot load, reach its server or answer."""


@dataclass
class GenerationParams:
    max_new_tokens: int = 128
    temperature: float = 0.0  # 0 = greedy
    top_p: float = 1.0
    seed: int = 0

    def as_dict(self) -> dict:
        return asdict(self)

    def validate(self) -> "GenerationParams":
        if self.max_new_tokens < 1:
            raise VLMError("max_new_tokens must be at least 1")
        if self.temperature < 0:
            raise VLMError("temperature must be 0 (greedy) or positive")
        if not 0 < self.top_p <= 1:
            raise VLMError("top_p must be in (0, 1]")
        return self


@dataclass
class VLMRequest:
    """What a backend answers: chat messages (text only) + RGB frames + parameters.

    ``messages`` use the chat format ``[{"role": ..., "content": str}]``; the frames are
    attached to the last user message by the backend (as a video where the family takes
    one, else as images). ``as_video`` asks for video input when there are >= 2 frames.
    """
    messages: list[dict]
    frames: list[np.ndarray] = field(default_factory=list)
    params: GenerationParams = field(default_factory=GenerationParams)
    as_video: bool = True
    fps: Optional[float] = None            # frame rate of the sampled frames (video timing)
    frame_indices: list[int] = field(default_factory=list)
    mcq: Optional[tuple] = None            # (question, options) of a multiple-choice ask
    question: str = ""                     # the user's own question ("" for a template)

    def validate(self) -> "VLMRequest":
        if not self.messages or not any(str(m.get("content", "")).strip()
                                        for m in self.messages if m.get("role") == "user"):
            raise VLMError("The question is empty; type a question or choose a template")
        for f in self.frames:
            if not (isinstance(f, np.ndarray) and f.ndim == 3 and f.shape[2] == 3
                    and f.dtype == np.uint8):
                raise VLMError("Frames must be RGB uint8 arrays of shape (H, W, 3)")
        self.params.validate()
        return self


def messages_for(prompt: str, system: Optional[str] = None) -> list[dict]:
    msgs = [{"role": "system", "content": system}] if system else []
    return msgs + [{"role": "user", "content": prompt}]


def answer_text(chunks) -> str:
    """The whole text of a backend's ``generate`` iterator: its ``str`` chunks joined (the
    final answer record, ``models.vlm.many.Generated``, is skipped), for callers below
    ``models.vlm`` that need only the text."""
    return "".join(c for c in chunks if isinstance(c, str))


def default_concurrency(backend) -> int:
    """Requests asked together when the caller names no number: an HTTP endpoint's
    ``concurrency`` or an endpoint pool's ``capacity``; 1 for local models and the rules
    (one request at a time, as the desktop has always asked them)."""
    for attr in ("capacity", "concurrency"):
        value = getattr(backend, attr, None)
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
    return 1


def answer_texts(backend, requests: list, ctx, max_concurrency: int = 1) -> list:
    """The text of each request's answer, or the ``VLMError`` it ended with, in request
    order. Several requests go to the backend's own ``generate_many(requests, ctx,
    max_concurrency=...)`` where it has one (answers carry ``.text``); otherwise, and for a
    single request, they are asked one after another through ``generate``. A cancel
    raises ``Cancelled``."""
    requests = list(requests)
    own = getattr(backend, "generate_many", None)
    if callable(own) and len(requests) > 1 and max_concurrency > 1:
        return [r if isinstance(r, VLMError) else str(r.text)
                for r in own(requests, ctx, max_concurrency=max_concurrency)]
    out: list = []
    for request in requests:
        ctx.check()
        try:
            out.append(answer_text(backend.generate(request, ctx)))
        except VLMError as exc:
            out.append(exc)
    return out
