"""What QA generation, curation and evaluation need of a project store, as protocols.

The project store (``models.store.Repository``) sits above ``models.qa``: it persists QA
items, captions and evaluation runs. Code in this package and above it is written against
these protocols; the repository satisfies each of them (checked by the type checker in
``models.store.repository`` and by tests/models/test_store_protocols.py).
"""
from __future__ import annotations

from typing import Iterable, Optional, Protocol, Sequence, runtime_checkable

from ..pose.storage import ClipStore
from .record import QARecord


@runtime_checkable
class AnswerSource(Protocol):
    """Saved model answers, read as text sources for question generation."""

    def answers(self, video: Optional[str] = None, limit: int = 500) -> list[dict]: ...


@runtime_checkable
class QAStore(Protocol):
    """QA items (add, read, edit, review with undo/redo), their check flags and captions."""

    def add_qa_items(self, records: Iterable[QARecord], gen_key: Optional[str] = None,
                     run: Optional[dict] = None) -> int: ...

    def generation_done(self, video: str, gen_key: str) -> bool: ...

    def qa_questions(self, video: str) -> list[tuple[str, str, str]]: ...

    def qa_answer_positions(self, tasks: Sequence[str], source: str) -> list[tuple[int, int]]: ...

    def edit_qa(self, qa_id: str, question: Optional[str] = None,
                options: Optional[Sequence[str]] = None, answer_index: Optional[int] = None,
                note: Optional[str] = None) -> Optional[int]: ...

    def set_qa_status(self, qa_ids: Sequence[str], status: str,
                      note: Optional[str] = None) -> Optional[int]: ...

    def delete_qa(self, qa_ids) -> Optional[int]: ...

    def undo(self) -> Optional[dict]: ...

    def redo(self) -> Optional[dict]: ...

    def undo_label(self) -> Optional[str]: ...

    def redo_label(self) -> Optional[str]: ...

    def qa_history(self, qa_id: str) -> list[dict]: ...

    def qa_record(self, qa_id: str) -> Optional[QARecord]: ...

    def qa_records(self, filters: Optional[dict] = None,
                   damaged: Optional[list] = None) -> list[QARecord]: ...

    def qa_count(self, filters: Optional[dict] = None) -> int: ...

    def qa_ids(self, filters: Optional[dict] = None, sort: str = "seq",
               descending: bool = False) -> list[str]: ...

    def qa_table_rows(self, qa_ids: Sequence[str]) -> dict[str, dict]: ...

    def qa_distinct(self, column: str) -> list[str]: ...

    def qa_summary(self) -> dict[str, dict[str, int]]: ...

    def set_qa_flags(self, check_id: str, flags: dict) -> None: ...

    def qa_flags(self, qa_id: str) -> dict: ...

    def add_captions(self, items: Sequence[dict], origin: Optional[str] = None,
                     kind: str = "imported") -> int: ...

    def captions(self, video: Optional[str] = None) -> list[dict]: ...


@runtime_checkable
class QAPoseStore(QAStore, ClipStore, Protocol):
    """Rule-based generation: writes QA items from pose tracks it reads (or extracts) in
    the same project; curation also lists the project's clips."""


@runtime_checkable
class EvalStore(Protocol):
    """Evaluation runs: a model's answers to a frozen list of QA items, resumable."""

    def create_eval_run(self, name: str, backend: str, model: str, settings: dict,
                        records: list) -> int: ...

    def find_eval_run(self, backend: str, model: str, settings: dict,
                      records) -> Optional[int]: ...

    def eval_runs(self) -> list[dict]: ...

    def eval_run(self, run_id: int) -> Optional[dict]: ...

    def eval_run_records(self, run_id: int) -> list[QARecord]: ...

    def eval_answers(self, run_id: int) -> dict[str, dict]: ...

    def save_eval_answer(self, run_id: int, qa_id: str, raw: Optional[str],
                         parsed: Optional[int], correct: bool, abstained: bool = False,
                         gen_s: Optional[float] = None,
                         total_s: Optional[float] = None) -> None: ...

    def set_eval_run_status(self, run_id: int, status: str,
                            model_revision: Optional[str] = None) -> None: ...

    def rename_eval_run(self, run_id: int, name: str) -> None: ...

    def delete_eval_run(self, run_id: int) -> None: ...
