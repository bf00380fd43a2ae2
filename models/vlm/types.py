"""Plain data shared by every VLM backend: requests, generation parameters, backend info,
answer timings, and the ``VLMBackend`` protocol. No heavy imports here."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Iterator, Optional, Protocol, runtime_checkable

import numpy as np

from ..errors import StudioError


class VLMError(StudioError):
    """A VLM backend cannot load, reach its server or answer."""


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message (its type name when it has none)."""
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


class NotEnoughMemory(VLMError):
    """The model would not fit in the memory available on the chosen device."""


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


@dataclass
class BackendInfo:
    kind: str                 # "transformers" | "openai"
    model_id: str             # folder / repo id / served model name
    revision: str = ""        # snapshot hash, config hash or server-reported id
    family: str = ""
    device: str = ""
    dtype: str = ""
    label: str = ""

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class AnswerStats:
    """Timings and counts of one answer (filled by the backend while it streams)."""
    load_s: float = 0.0
    ttft_s: Optional[float] = None
    total_s: float = 0.0
    prompt_tokens: Optional[int] = None
    completion_tokens: Optional[int] = None
    peak_mem_bytes: Optional[int] = None

    @property
    def tokens_per_s(self) -> Optional[float]:
        if not self.completion_tokens or self.ttft_s is None:
            return None
        gen_time = self.total_s - self.ttft_s
        if gen_time <= 1e-3:  # whole answer at once (non-streaming): tokens over total time
            return self.completion_tokens / self.total_s if self.total_s > 0 else None
        if self.completion_tokens <= 1:
            return None
        return (self.completion_tokens - 1) / gen_time

    def as_dict(self) -> dict:
        d = asdict(self)
        d["tokens_per_s"] = self.tokens_per_s
        return d


@runtime_checkable
class VLMBackend(Protocol):
    info: BackendInfo
    stats: AnswerStats

    def load(self, ctx) -> None: ...

    def generate(self, request: VLMRequest, ctx) -> Iterator[str]: ...

    def unload(self) -> None: ...


def messages_for(prompt: str, system: Optional[str] = None) -> list[dict]:
    msgs = [{"role": "system", "content": system}] if system else []
    return msgs + [{"role": "user", "content": prompt}]
