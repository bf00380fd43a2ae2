"""The canonical QA record. Every exporter maps from it.

Every field is always present (None where empty) in ``to_dict``; ``from_dict`` refuses
records that lack a required field or carry wrong types, naming the field.
"""
from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass, field, fields, is_dataclass
from typing import Any, Optional

from ..bounded_read import json_value_problem, string_problem
from .errors import QAError

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
    # how safely the answer can be given (``models.qa.answerable``; None on older items):
    # confidence 0..1, the value's distance from the nearest bin edge in ``margin_unit``,
    # and that distance over the describer group's own margin
    confidence: Optional[float] = None
    margin: Optional[float] = None
    margin_unit: Optional[str] = None
    margin_ratio: Optional[float] = None


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
    # the person the item is about: its persistent track id in the clip's pose data and
    # how the question names it ("the person on the left"); None: the main subject
    person: Optional[int] = None
    person_referent: Optional[str] = None

    @property
    def answer_letter(self) -> str:
        return LETTERS[self.answer_index]

    @property
    def answer_text(self) -> str:
        return self.options[self.answer_index]

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict, where: str = "record", names: Optional[dict] = None) -> "QARecord":
        """A record from a plain dict, checked against the schema (``check_fields``);
        ``names`` maps schema fields to the source format's names for the messages."""
        check_fields(d, where, names)
        known = {f.name for f in fields(cls)}
        kw = {k: v for k, v in d.items() if k in known and v is not None}
        kw["provenance"] = _sub(Provenance, d.get("provenance"))
        kw["review"] = _sub(Review, d.get("review"))
        return cls(**kw)


class RecordError(QAError, ValueError):
    """A QA record breaks the schema; the one-line message names the record and the field."""


MAX_OPTIONS = len(LETTERS)
MAX_TEXT = 1_000_000
MAX_FRAME = 2 ** 31
MAX_PERSON = 2 ** 31       # track ids are small integers; larger is not a track
MAX_REFERENT = 500         # characters: "the tall person on the left, in red"
TEXT_FIELDS = ("qa_id", "task", "video", "question")
PROV_TEXT = ("model_id", "model_revision", "prompt_template", "prompt_version", "pose_backend",
             "pose_backend_version", "margin_unit")
PROV_NUMBERS = ("confidence", "margin", "margin_ratio")
REVIEW_TEXT = ("note", "created_at", "updated_at")


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _text_problem(v, required: bool = True) -> Optional[str]:
    if not isinstance(v, str):
        return f"must be text, got {_kind(v)}"
    if required and not v.strip():
        return "must not be empty"
    if len(v) > MAX_TEXT:
        return f"is longer than {MAX_TEXT} characters"
    if "\x00" in v:
        return "holds a NUL character"
    return string_problem(v)


def _kind(v) -> str:
    return "null" if v is None else {"str": "text", "bool": "a boolean", "int": "an integer",
                                     "float": "a number", "list": "a list", "dict": "an object"
                                     }.get(type(v).__name__, type(v).__name__)


def check_fields(d, where: str = "record", names: Optional[dict] = None) -> None:
    """The one QA record schema, used by every importer and on every create/edit.

    Required text ``qa_id``, ``task``, ``video``, ``question``; ``options`` 2-10 distinct
    non-empty strings; ``answer_index`` an integer naming one of them; ``start_s``/``end_s``
    finite non-negative numbers (end not before start); ``frame_a``/``frame_b`` non-negative
    integers; ``person`` a track id (integer >= 0) or null, ``person_referent`` short text;
    ``provenance``/``review`` objects of the right field types (JSON values only).
    Raises ``RecordError`` ("<where>: field 'options': ...")."""
    names = names or {}

    def fail(name: str, problem: str):
        raise RecordError(f"{where}: field '{names.get(name, name)}' {problem}")

    if not isinstance(d, dict):
        raise RecordError(f"{where}: expected an object, got {_kind(d)}")
    for name in (*TEXT_FIELDS, "options", "answer_index"):
        if d.get(name) is None:
            fail(name, "is missing")
    for name in TEXT_FIELDS:
        problem = _text_problem(d[name])
        if problem:
            fail(name, problem)
    opts = d["options"]
    if not isinstance(opts, list):
        fail("options", f"must be a list of {2}-{MAX_OPTIONS} strings, got {_kind(opts)}")
    if not 2 <= len(opts) <= MAX_OPTIONS:
        fail("options", f"must hold 2-{MAX_OPTIONS} options, got {len(opts)}")
    for i, o in enumerate(opts):
        problem = _text_problem(o)
        if problem:
            fail("options", f"option {i + 1} {problem}")
    if len({o.strip() for o in opts}) != len(opts):
        fail("options", "has two identical options")
    ai = d["answer_index"]
    if not _is_int(ai) or not 0 <= ai < len(opts):
        fail("answer_index", f"must be an integer in 0..{len(opts) - 1}, got {_short(ai)}")
    for name in ("start_s", "end_s"):
        v = d.get(name)
        if v is not None and (not _is_number(v) or not math.isfinite(v) or v < 0):
            fail(name, f"must be a finite number of seconds >= 0, got {_short(v)}")
    if d.get("start_s") is not None and d.get("end_s") is not None and d["end_s"] < d["start_s"]:
        fail("end_s", "is before start_s")
    for name in ("frame_a", "frame_b"):
        v = d.get(name)
        if v is not None and (not _is_int(v) or not 0 <= v < MAX_FRAME):
            fail(name, f"must be a frame number (integer >= 0), got {_short(v)}")
    if d.get("source") is not None:
        problem = _text_problem(d["source"])
        if problem:
            fail("source", problem)
    _check_person(d.get("person"), d.get("person_referent"), fail)
    _check_provenance(d.get("provenance"), fail)
    _check_review(d.get("review"), fail)


def _check_person(person, referent, fail) -> None:
    """``person``: a track id (integer >= 0) or None (the main subject); ``person_referent``:
    a short text naming that person, or None."""
    if person is not None and (not _is_int(person) or not 0 <= person < MAX_PERSON):
        fail("person", f"must be a track id (integer >= 0) or null, got {_short(person)}")
    if referent is not None:
        problem = _text_problem(referent)
        if problem is None and len(referent) > MAX_REFERENT:
            problem = f"is longer than {MAX_REFERENT} characters"
        if problem:
            fail("person_referent", problem)


def _short(v) -> str:
    text = repr(v) if isinstance(v, (int, float, str)) and not isinstance(v, bool) else _kind(v)
    return text if len(text) <= 40 else text[:37] + "..."


def _check_provenance(prov, fail) -> None:
    if prov is None:
        return
    if not isinstance(prov, dict):
        fail("provenance", f"must be an object, got {_kind(prov)}")
    for key in PROV_TEXT:
        if prov.get(key) is not None:
            problem = _text_problem(prov[key], required=False)
            if problem:
                fail(f"provenance.{key}", problem)
    for key in PROV_NUMBERS:
        v = prov.get(key)
        if v is not None and (not _is_number(v) or not math.isfinite(v)):
            fail(f"provenance.{key}", f"must be a finite number, got {_short(v)}")
    c = prov.get("confidence")
    if c is not None and _is_number(c) and not 0 <= c <= 1:
        fail("provenance.confidence", f"must be between 0 and 1, got {_short(c)}")
    seed = prov.get("seed")
    if seed is not None and (not _is_int(seed) or not -2 ** 63 <= seed < 2 ** 63):
        fail("provenance.seed", f"must be a 64-bit integer, got {_short(seed)}")
    kinds = {"generation_params": dict, "frame_indices": list, "facts": list}
    for key, kind in kinds.items():
        v = prov.get(key)
        if v is None:
            continue
        if not isinstance(v, kind):
            fail(f"provenance.{key}", f"must be {_kind(kind())}, got {_kind(v)}")
        problem = json_value_problem(v)
        if problem:
            fail(f"provenance.{key}", problem)
    for i, f in enumerate(prov.get("frame_indices") or []):
        if not _is_int(f) or not 0 <= f < MAX_FRAME:
            fail("provenance.frame_indices", f"item {i + 1} must be a frame number, got {_short(f)}")


def _check_review(review, fail) -> None:
    if review is None:
        return
    if not isinstance(review, dict):
        fail("review", f"must be an object, got {_kind(review)}")
    status = review.get("status")
    if status is not None and status not in REVIEW_STATUSES:
        fail("review.status", f"must be one of {', '.join(REVIEW_STATUSES)}, got {_short(status)}")
    for key in REVIEW_TEXT:
        if review.get(key) is not None:
            problem = _text_problem(review[key], required=False)
            if problem:
                fail(f"review.{key}", problem)


def check_record(rec: "QARecord", where: Optional[str] = None) -> "QARecord":
    """``check_fields`` on a built record (before it is stored); returns it."""
    d = _shallow_dict(rec)
    if isinstance(d["options"], tuple):
        d["options"] = list(d["options"])
    check_fields(d, where or f"QA item {str(rec.qa_id)[:60]!r}")
    return rec


def _shallow_dict(rec: "QARecord") -> dict:
    """``asdict`` without the deep copy (the check only reads the values)."""
    d = dict(rec.__dict__)
    for name in ("provenance", "review"):
        sub = d.get(name)
        if is_dataclass(sub) and not isinstance(sub, type):
            d[name] = dict(sub.__dict__)
    return d


def _sub(klass, value: Any):
    if value is None:
        return klass()
    known = {f.name for f in fields(klass)}
    return klass(**{k: v for k, v in value.items() if k in known and v is not None})


def stable_qa_id(*parts: Any) -> str:
    """Deterministic id from the parts that make an item unique (task, clip, frames, question)."""
    text = json.dumps(parts, sort_keys=True, ensure_ascii=False, default=str)
    return "qa_" + hashlib.sha1(text.encode("utf-8")).hexdigest()[:16]
