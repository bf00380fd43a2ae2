"""Plain data shared by every VLM backend: requests, generation parameters, backend info,
answer timings, and the ``VLMBackend`` protocol. No heavy imports here."""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Iterator, Optional, Protocol, runtime_checkable


from ..vlm_request import GenerationParams, VLMError, VLMRequest, messages_for

__all__ = ["AnswerStats", "BackendInfo", "GenerationParams", "NotEnoughMemory", "VLMBackend",
           "VLMError", "VLMRequest", "first_line", "messages_for"]


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message (its type name when it has none)."""
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


class NotEnoughMemory(VLMError):
    """The model would not fit in the memory available on the chosen device."""


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
    """``generate`` yields text chunks (``str``) and ends with one ``many.Generated``
    carrying that answer's text, stats, info and endpoint; no per-answer state is kept on
    the backend, so one object may answer several requests at once."""
    info: BackendInfo

    def load(self, ctx) -> None: ...

    def generate(self, request: VLMRequest, ctx) -> Iterator[object]: ...

    def unload(self) -> None: ...
