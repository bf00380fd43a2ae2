"""What asking models needs of a project store, as protocols.

The project store (``models.store.Repository``) sits above ``models.vlm``: it persists
saved answers and comparisons, named endpoints and settings. Code in this package and
above it is written against these protocols (the repository satisfies each of them).
"""
from __future__ import annotations

from typing import Optional, Protocol, runtime_checkable

from ..qa.storage import AnswerSource
from ..video import VideoInfo


@runtime_checkable
class AnswerStore(AnswerSource, Protocol):
    """Saved answers and comparisons, keyed to the clip's content hash."""

    def clip_hash(self, path, info: Optional[VideoInfo] = None) -> str: ...

    def save_answer(self, record: dict) -> int: ...

    def answer(self, answer_id: int) -> Optional[dict]: ...

    def delete_answer(self, answer_id: int) -> None: ...

    def save_comparison(self, comparison: dict, answers: list[dict]) -> int: ...

    def comparisons(self, limit: int = 200) -> list[dict]: ...

    def comparison(self, comparison_id: int) -> Optional[dict]: ...

    def delete_comparison(self, comparison_id: int) -> None: ...


@runtime_checkable
class EndpointStore(Protocol):
    """Named OpenAI-compatible endpoints (``endpoint:NAME`` model specs)."""

    def add_endpoint(self, name: str, base_url: str, model: str = "",
                     api_key_env: str = "") -> int: ...

    def endpoints(self) -> list[dict]: ...

    def endpoint(self, name: str) -> Optional[dict]: ...

    def remove_endpoint(self, name: str) -> bool: ...


@runtime_checkable
class SettingsStore(Protocol):
    """Project settings as JSON values by key."""

    def get_setting(self, key: str, default=None): ...

    def set_setting(self, key: str, value) -> None: ...
