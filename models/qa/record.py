"""The canonical QA record. Every exporter maps from it.

Every field is always present (None where empty) in ``to_dict``; ``from_dict`` refuses
records that lack a required field or carry wrong types, naming the field.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Optional

LETTERS = "ABCDEFGHIJ"
REVIEW_STATUSES = ("candidate", "accepted", "rejected", "edited", "needs_fix")


@dataclass
class Provenance:
    model_id: Optional[str] = None
    model_revision: Optional[str] = None
    prompt_template: Optional[str] = None
    prompt_version: Optional[str] = None
    generation_params: Optional[dict] = None
    seed: Optional[int] = None
    frame_indices: Optional[list] = None
    pose_backend: Optional[str] = None
    pose_backend_version: Optional[str] = None
    facts: Optional[list] = None  # the facts the answer was derived from (JSON-able dicts)


@dataclass
class Review:
    status: str = "candidate"
    note: Optional[str] = None
    created_at: Optional[str] = None
    updated_at: Optional[str] = None


@dataclass
class QARecord:
    qa_id: str
    task: str
    video: str
    question: str
    options: list
    answer_index: int
    start_s: Optional[float] = None
    end_s: Optional[float] = None
    frame_a: Optional[int] = None
    frame_b: Optional[int] = None
    source: str = "rule"
    provenance: Provenance = field(default_factory=Provenance)
    review: Review = field(default_factory=Review)

    @property
    def answer_letter(self) -> str:
        return LETTERS[self.answer_index]

    @property
    def answer_text(self) -> str:
        return self.options[self.answer_index]

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict, where: str = "record") -> "QARecord":
        if not isinstance(d, dict):
            raise ValueError(f"{where}: expected an object, got {type(d).__name__}")
        for name in ("qa_id", "task", "video", "question", "options", "answer_index"):
            if d.get(name) is None:
                raise ValueError(f"{where}: missing field '{name}'")
        opts = d["options"]
        if not isinstance(opts, list) or len(opts) < 2 or not all(isinstance(o, str) for o in opts):
            raise ValueError(f"{where}: 'options' must be a list of at least two strings")
        ai = d["answer_index"]
        if not isinstance(ai, int) or isinstance(ai, bool) or not 0 <= ai < len(opts):
            raise ValueError(f"{where}: 'answer_index' must be an integer in 0..{len(opts) - 1}")
        known = {f.name for f in fields(cls)}
        kw = {k: v for k, v in d.items() if k in known}
        kw["provenance"] = _sub(Provenance, d.get("provenance"), where)
        kw["review"] = _sub(Review, d.get("review"), where)
        if kw["review"].status not in REVIEW_STATUSES:
            raise ValueError(f"{where}: unknown review status '{kw['review'].status}'")
        return cls(**kw)


def _sub(klass, value: Any, where: str):
    if value is None:
        return klass()
    if not isinstance(value, dict):
        raise ValueError(f"{where}: '{klass.__name__.lower()}' must be an object")
    known = {f.name for f in fields(klass)}
    return klass(**{k: v for k, v in value.items() if k in known})


def stable_qa_id(*parts: Any) -> str:
    """Deterministic id from the parts that make an item unique (task, clip, frames, question)."""
    text = json.dumps(parts, sort_keys=True, ensure_ascii=False, default=str)
    return "qa_" + hashlib.sha1(text.encode("utf-8")).hexdigest()[:16]
