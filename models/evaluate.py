"""Evaluation: parse the chosen option, score per sub-task, run backends over a QA set.

- ``parse_choice`` (from ``answer_parse``, shared with the lmms-eval/VLMEvalKit exports).
- ``score`` turns per-item outcomes into accuracy per sub-task, the mean over sub-tasks (the
  paper's "average"), overall micro accuracy, and the list of unparseable items.
- ``answer_items`` asks one backend a list of items and yields each answer (writes
  nothing), in chunks through ``generate_many`` (several requests in flight on an HTTP
  endpoint, a batch on a local model); ``run_eval`` asks it every item of a stored run
  that has no answer yet (resume), with the run's frame sampling and prompt template,
  storing each answer as it comes; a failed request is that item's error only;
  progress/cancel through the JobContext. ``evaluate_models`` does that for several
  backends with identical settings. ``RuleReference`` answers from the stored facts.
- ``compare_runs`` lists the items whose correctness flipped between two runs and, per
  sub-task, the accuracy difference with a paired bootstrap interval (``eval_stats``).
Reports (CSV / Markdown) live in ``models/eval_report.py``.
"""
from __future__ import annotations

import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Optional

from .answer_parse import PARSE_LETTERS, build_mcq_prompt, parse_choice
from .errors import Cancelled, StudioError
from .jobs import NULL_CONTEXT, JobContext
from .qa.record import QARecord
from .vlm.many import generate_one

if TYPE_CHECKING:
    from .qa.storage import EvalStore
    from .vlm.storage import EndpointStore

PROMPT_TEMPLATE = "mcq-letter-v1"


class EvalError(StudioError):
    """An evaluation cannot run as asked."""


@dataclass(frozen=True)
class EvalSettings:
    """Identical for every backend of a comparison: frames, pixels, prompt, tokens."""
    frames: int = 8
    max_pixels: int = 448 * 448
    max_new_tokens: int = 16
    as_video: bool = True
    template: str = PROMPT_TEMPLATE

    def as_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "EvalSettings":
        return cls(**{k: v for k, v in (d or {}).items() if k in cls.__dataclass_fields__})


# -- scoring ----------------------------------------------------------------------------------
@dataclass
class TaskScore:
    task: str
    n: int = 0             # answered items (abstentions excluded)
    correct: int = 0
    unparseable: int = 0
    abstained: int = 0

    @property
    def accuracy(self) -> Optional[float]:
        return self.correct / self.n if self.n else None


@dataclass
class Score:
    tasks: dict = field(default_factory=dict)        # task -> TaskScore, sorted by task
    unparseable: list = field(default_factory=list)  # qa_ids
    pending: int = 0                                 # items without an answer yet
    errors: dict = field(default_factory=dict)       # qa_id -> why its request failed (last run)

    @property
    def n(self) -> int:
        return sum(t.n for t in self.tasks.values())

    @property
    def correct(self) -> int:
        return sum(t.correct for t in self.tasks.values())

    @property
    def overall(self) -> Optional[float]:
        return self.correct / self.n if self.n else None

    @property
    def mean_over_tasks(self) -> Optional[float]:
        accs = [t.accuracy for t in self.tasks.values() if t.accuracy is not None]
        return sum(accs) / len(accs) if accs else None


def score(records, outcomes: dict) -> Score:
    """``outcomes``: qa_id -> {"parsed": index | None, "abstained": bool}."""
    out = Score()
    for rec in sorted(records, key=lambda r: (r.task, r.qa_id)):
        ts = out.tasks.setdefault(rec.task, TaskScore(rec.task))
        o = outcomes.get(rec.qa_id)
        if o is None:
            out.pending += 1
        elif o.get("abstained"):
            ts.abstained += 1
        else:
            ts.n += 1
            if o.get("parsed") is None:
                ts.unparseable += 1
                out.unparseable.append(rec.qa_id)
            elif int(o["parsed"]) == rec.answer_index:
                ts.correct += 1
    return out


def score_texts(records, texts: dict) -> Score:
    """Score free-text answers (qa_id -> text) exactly as runs and exports do."""
    return score(records, {r.qa_id: {"parsed": parse_choice(texts[r.qa_id], r.options)}
                           for r in records if r.qa_id in texts})


# -- requests -----------------------------------------------------------------------------------
def frame_selection(rec: QARecord, settings: EvalSettings, info):
    from .vlm.frames import FrameSelection  # noqa: PLC0415

    marked = tuple(int(f) for f in (rec.frame_a, rec.frame_b) if f is not None)
    if marked:  # a frame pair, or the one moment the question is about
        return FrameSelection(mode="marked", marked=marked, max_pixels=settings.max_pixels)
    start = None if rec.start_s is None else info.frame_at(float(rec.start_s))
    end = None if rec.end_s is None else info.frame_at(float(rec.end_s))
    return FrameSelection(mode="uniform", count=settings.frames, start=start, end=end,
                          max_pixels=settings.max_pixels)


def build_request(rec: QARecord, settings: EvalSettings, video_root: Optional[str]):
    from .export.media import source_path  # noqa: PLC0415
    from .vlm.frames import sample_frames  # noqa: PLC0415
    from .vlm.types import GenerationParams, VLMRequest, messages_for  # noqa: PLC0415

    path = source_path(rec, video_root)
    info = _probe(str(path), *_stamp(path))
    sampled = sample_frames(path, frame_selection(rec, settings, info), info=info)
    return VLMRequest(messages_for(build_mcq_prompt(rec.question, rec.options,
                                                    post_prompt(settings.template))),
                      frames=list(sampled.frames),
                      params=GenerationParams(max_new_tokens=settings.max_new_tokens),
                      as_video=settings.as_video and len(sampled.frames) > 1, fps=info.fps,
                      frame_indices=list(sampled.indices))


def post_prompt(template: str):
    from .answer_parse import PROMPT_TEMPLATES  # noqa: PLC0415

    if template not in PROMPT_TEMPLATES:
        raise EvalError(f"Unknown prompt template '{template}'; known: {', '.join(PROMPT_TEMPLATES)}")
    return PROMPT_TEMPLATES[template]


def _stamp(path) -> tuple:
    import os  # noqa: PLC0415

    try:
        st = os.stat(path)
    except OSError:
        return (0, 0.0)
    return (st.st_size, st.st_mtime)


@lru_cache(maxsize=256)
def _probe(path: str, size: int, mtime: float):
    """Video properties, cached per file version (items of one clip share them)."""
    from .video import probe  # noqa: PLC0415

    return probe(path)


# -- backends ---------------------------------------------------------------------------------
class RuleReference:
    """The rule-based describer as a reference: answers from the item's stored facts where
    the QA synthesis can re-derive them, abstains elsewhere (no frames needed)."""
    kind = "rule-reference"
    needs_frames = False

    def __init__(self) -> None:
        from .vlm.types import BackendInfo  # noqa: PLC0415

        self.info = BackendInfo("rule-reference", "rule-based describer", revision="facts-v1",
                                label="Rule-based reference")

    def load(self, ctx=NULL_CONTEXT) -> None:
        return None

    def unload(self) -> None:
        return None

    def answer(self, rec: QARecord) -> Optional[str]:
        from .qa.synth import rederive  # noqa: PLC0415

        try:
            idx = rederive(rec)
        except (KeyError, ValueError, TypeError, IndexError):
            idx = None
        return None if idx is None else PARSE_LETTERS[idx]


def open_backend(spec: str, device: str = "auto", repo: Optional[EndpointStore] = None):
    """``rule`` -> RuleReference (answers MCQ items from their facts); anything else goes
    through the VLM helper's spec parser: ``http(s)://host/v1#model`` (OpenAI-compatible
    server), ``endpoint:NAME`` (saved in the project), or a local checkpoint folder/id."""
    from .vlm.specs import backend_for  # noqa: PLC0415

    if spec in ("rule", "rule-reference"):
        return RuleReference()
    return backend_for(spec, repo, device=device)


def backend_key(backend) -> tuple[str, str]:
    return getattr(backend, "kind", backend.info.kind), str(backend.info.model_id)


# -- runs --------------------------------------------------------------------------------------
def _request_or_error(rec: QARecord, settings: EvalSettings, video_root):
    """The item's request, or the ``StudioError`` (an undecodable video ...) that keeps
    this one item from being asked."""
    try:
        return build_request(rec, settings, video_root)
    except Cancelled:
        raise
    except StudioError as exc:
        return exc


def prepared_chunks(todo: list, size: int, settings: EvalSettings, video_root):
    """(records, their requests or errors, seconds waited for them) per chunk of ``size``
    items, in order; the frames of the next chunk (the next two items when asking one at
    a time) are sampled on a helper thread while the model answers the current one."""
    chunks = [todo[i:i + size] for i in range(0, len(todo), size)]
    ahead = 2 if size == 1 else 1

    def build(chunk: list) -> list:
        return [_request_or_error(r, settings, video_root) for r in chunk]

    with ThreadPoolExecutor(1, thread_name_prefix="aa-eval-frames") as pool:
        futures = deque(pool.submit(build, c) for c in chunks[:ahead])
        try:
            for k, chunk in enumerate(chunks):
                fut = futures.popleft()
                if k + ahead < len(chunks):
                    futures.append(pool.submit(build, chunks[k + ahead]))
                t0 = time.perf_counter()
                built = fut.result()
                yield chunk, built, time.perf_counter() - t0
        finally:
            for fut in futures:
                fut.cancel()


def answer_one(rec: QARecord, result, generate_s: float, total_s: float) -> dict:
    """One item's answer dict: the raw text (None when the backend abstains), the parsed
    option, correctness and timings; ``error`` (one line) when the item got no answer."""
    if isinstance(result, BaseException):
        return {"qa_id": rec.qa_id, "task": rec.task, "raw": None, "parsed": None,
                "correct": False, "abstained": False, "generate_s": generate_s,
                "total_s": max(total_s, generate_s), "error": _first_line(result)}
    raw = result
    abstained = raw is None
    parsed = None if abstained else parse_choice(raw, rec.options)
    correct = parsed is not None and parsed == rec.answer_index
    return {"qa_id": rec.qa_id, "task": rec.task, "raw": raw, "parsed": parsed,
            "correct": correct, "abstained": abstained, "generate_s": generate_s,
            "total_s": max(total_s, generate_s), "error": None}


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def _answer_chunk(backend, chunk: list, built: list, waited_s: float, ctx, size: int):
    """Ask one chunk (through ``generate_many`` when several are asked together) and yield
    each item's answer dict in chunk order; a failed request gives that item's error."""
    from .vlm.many import generate_many  # noqa: PLC0415
    from .vlm.types import VLMError  # noqa: PLC0415

    requests = [b for b in built if not isinstance(b, BaseException)]
    t0 = time.perf_counter()
    if size == 1 and requests:
        try:
            results: list = [generate_one(backend, requests[0], ctx)]
        except Cancelled:
            raise
        except VLMError as exc:
            results = [exc]
    else:
        results = generate_many(backend, requests, ctx, size) if requests else []
    took = time.perf_counter() - t0
    ctx.check()
    answers = iter(results)
    for rec, b in zip(chunk, built):
        result = b if isinstance(b, BaseException) else next(answers)
        if isinstance(result, BaseException):
            yield answer_one(rec, result, took, waited_s + took)
            continue
        gen_s = took if size == 1 else (result.stats.total_s or took)
        yield answer_one(rec, result.text, gen_s, waited_s + took)


def _decode_order(rec: QARecord) -> tuple:
    """Ask items clip by clip, window by window, so sampled frames are decoded once."""
    return (rec.video, rec.start_s or -1.0, rec.end_s or -1.0, rec.frame_a or -1,
            rec.frame_b or -1, rec.qa_id)


def answer_items(backend, records, settings: EvalSettings, video_root: Optional[str] = None,
                 ctx: JobContext = NULL_CONTEXT, max_concurrency: Optional[int] = None):
    """Ask ``backend`` every record (in decode order; the backend is loaded first when
    there is anything to ask), yielding one answer dict per item (see ``answer_one``), in
    that order, as each chunk comes back; writes nothing. Items are asked in chunks of
    ``max_concurrency`` (default: the backend's own, ``default_concurrency``) through
    ``generate_many``: requests in flight together on an HTTP endpoint or pool, batched on
    a local model. An item whose request fails yields a dict with its ``error``; the
    others go on. Cancel is checked before each chunk and inside it (the backend's ctx)."""
    from .vlm.many import concurrency  # noqa: PLC0415
    from .vlm_request import default_concurrency  # noqa: PLC0415

    todo = sorted(records, key=_decode_order)
    if not todo:
        return
    backend.load(ctx)
    if isinstance(backend, RuleReference):
        for rec in todo:
            ctx.check()
            yield answer_one(rec, backend.answer(rec), 0.0, 0.0)
        return
    post_prompt(settings.template)   # an unknown template is not an error of each item
    size = concurrency(max_concurrency, default_concurrency(backend), len(todo))
    for chunk, built, waited_s in prepared_chunks(todo, size, settings, video_root):
        ctx.check()
        yield from _answer_chunk(backend, chunk, built, waited_s, ctx, size)


def run_eval(repo: EvalStore, run_id: int, backend, video_root: Optional[str] = None,
             ctx: JobContext = NULL_CONTEXT, max_concurrency: Optional[int] = None) -> Score:
    """Answer every item of run ``run_id`` that has no stored answer, storing each answer
    as it comes back (a stopped run resumes; ``max_concurrency`` as in ``answer_items``);
    returns the score. An item whose request failed is not stored (running again asks it
    again): its error goes to ``ctx.partial`` (with ``error``) and ``Score.errors``, and
    the run ends ``failed``; when no item of this call got an answer, ``EvalError``."""
    run = repo.eval_run(run_id)
    if run is None:
        raise EvalError(f"No evaluation run {run_id} in this project")
    settings = EvalSettings.from_dict(run["settings"])
    records = repo.eval_run_records(run_id)
    done = set(repo.eval_answers(run_id))
    todo = [r for r in records if r.qa_id not in done]
    repo.set_eval_run_status(run_id, "running")
    label = backend.info.label or backend.info.model_id
    errors: dict[str, str] = {}
    try:
        with closing(answer_items(backend, todo, settings, video_root, ctx,
                                  max_concurrency)) as answers:
            for k, a in enumerate(answers):
                shown = {key: a[key] for key in ("qa_id", "task", "raw", "parsed", "correct",
                                                 "abstained")}
                if a.get("error"):
                    errors[a["qa_id"]] = a["error"]
                    shown["error"] = a["error"]
                else:
                    repo.save_eval_answer(run_id, a["qa_id"], a["raw"], a["parsed"],
                                          a["correct"], a["abstained"], a["generate_s"],
                                          a["total_s"])
                ctx.partial(shown)
                ctx.progress(len(done) + k + 1, len(records), label)
    except Cancelled:
        repo.set_eval_run_status(run_id, "cancelled")
        raise
    except Exception:
        repo.set_eval_run_status(run_id, "failed")
        raise
    if errors:
        repo.set_eval_run_status(run_id, "failed", backend.info.revision or None)
        if len(errors) == len(todo):
            qa_id, message = next(iter(errors.items()))
            raise EvalError(f"No item got an answer from {label} ({qa_id}: {message})")
    else:
        repo.set_eval_run_status(run_id, "done", backend.info.revision or None)
    out = score(records, repo.eval_answers(run_id))
    out.errors = errors
    return out


def run_score(repo: EvalStore, run_id: int) -> Score:
    return score(repo.eval_run_records(run_id), repo.eval_answers(run_id))


def start_or_resume(repo: EvalStore, backend, records, settings: EvalSettings, name: str = "",
                    ctx: JobContext = NULL_CONTEXT) -> int:
    kind, model = backend_key(backend)
    found = repo.find_eval_run(kind, model, settings.as_dict(), records)
    if found is not None:
        return found
    if not records:
        raise EvalError("Nothing to evaluate: the QA set is empty")
    backend.load(ctx)  # a model that cannot load leaves no empty run behind
    return repo.create_eval_run(name or backend.info.label or model, kind, model,
                                settings.as_dict(), list(records))


def check_videos(records, video_root: Optional[str]) -> None:
    """Refuse, listing them, items whose video is missing (before any model loads)."""
    from .export.base import missing_text  # noqa: PLC0415
    from .export.media import missing_videos  # noqa: PLC0415

    missing = missing_videos(records, video_root)
    if missing:
        raise EvalError(f"{missing_text(missing)}; "
                        "set the folder of the videos (--video-root) or leave those items out")


def evaluate_models(repo: EvalStore, backends, records, settings: EvalSettings = EvalSettings(),
                    video_root: Optional[str] = None, ctx: JobContext = NULL_CONTEXT,
                    max_concurrency: Optional[int] = None) -> list[int]:
    """Run (or resume) every backend over the same records with the same settings;
    ``max_concurrency`` requests at once (default: each backend's own, see
    ``answer_items``)."""
    post_prompt(settings.template)   # an unknown template fails before any model loads
    if any(not isinstance(b, RuleReference) for b in backends):
        check_videos(records, video_root)
    run_ids = []
    for backend in backends:
        run_id = start_or_resume(repo, backend, records, settings, ctx=ctx)
        run_eval(repo, run_id, backend, video_root, ctx, max_concurrency)
        run_ids.append(run_id)
    return run_ids


# -- comparison ---------------------------------------------------------------------------------
OVERALL_TASK = "overall (micro)"


@dataclass
class TaskDelta:
    """Two runs on the items of one sub-task both answered (abstentions left out): each
    run's correct count, B - A with its paired-bootstrap interval, the flipped items."""
    task: str
    n: int = 0
    correct_a: int = 0
    correct_b: int = 0
    diff: Optional[float] = None
    low: Optional[float] = None
    high: Optional[float] = None
    to_correct: list = field(default_factory=list)   # wrong in A, right in B
    to_wrong: list = field(default_factory=list)     # right in A, wrong in B

    @property
    def accuracy_a(self) -> Optional[float]:
        return self.correct_a / self.n if self.n else None

    @property
    def accuracy_b(self) -> Optional[float]:
        return self.correct_b / self.n if self.n else None


@dataclass
class Comparison:
    run_a: int
    run_b: int
    common: int = 0
    to_correct: list = field(default_factory=list)   # wrong in A, right in B
    to_wrong: list = field(default_factory=list)     # right in A, wrong in B
    changed: list = field(default_factory=list)      # other answer, same correctness
    tasks: dict = field(default_factory=dict)        # sub-task -> TaskDelta, sorted
    overall: TaskDelta = field(default_factory=lambda: TaskDelta(OVERALL_TASK))
    questions: dict = field(default_factory=dict)    # qa_id -> (sub-task, question)
    resamples: int = 0
    seed: int = 0
    level: float = 0.95


def _delta(task: str, pairs: list, resamples: int, seed: int, level: float) -> TaskDelta:
    """``pairs``: (qa_id, right in A, right in B) of one sub-task (or all of them)."""
    from .eval_stats import paired_bootstrap  # noqa: PLC0415

    a = [int(x) for _, x, _ in pairs]
    b = [int(y) for _, _, y in pairs]
    ci = paired_bootstrap(a, b, resamples, seed, level)
    return TaskDelta(task, len(pairs), sum(a), sum(b), ci.diff, ci.low, ci.high,
                     [q for q, x, y in pairs if y and not x], [q for q, x, y in pairs if x and not y])


def compare_runs(repo: EvalStore, run_a: int, run_b: int, resamples: int = 2000,
                 seed: int = 0, level: float = 0.95) -> Comparison:
    """Item by item, the items both runs answered (neither abstained): which flipped, and
    per sub-task (and over all items) the accuracy of each, B - A and its paired
    bootstrap interval (``resamples`` resamples of the items, seeded: reproducible)."""
    a, b = repo.eval_answers(run_a), repo.eval_answers(run_b)
    records = {r.qa_id: r for run in (run_b, run_a) for r in repo.eval_run_records(run)}
    out = Comparison(run_a, run_b, resamples=resamples, seed=seed, level=level)
    by_task: dict[str, list] = {}
    for qa_id in sorted(set(a) & set(b)):
        x, y = a[qa_id], b[qa_id]
        if x["abstained"] or y["abstained"]:
            continue
        out.common += 1
        if bool(x["correct"]) != bool(y["correct"]):
            (out.to_correct if y["correct"] else out.to_wrong).append(qa_id)
        elif x["parsed"] != y["parsed"]:
            out.changed.append(qa_id)
        rec = records.get(qa_id)
        task = rec.task if rec is not None else "?"
        out.questions[qa_id] = (task, rec.question if rec is not None else "")
        by_task.setdefault(task, []).append((qa_id, bool(x["correct"]), bool(y["correct"])))
    out.tasks = {t: _delta(t, by_task[t], resamples, seed, level) for t in sorted(by_task)}
    out.overall = _delta(OVERALL_TASK, [p for t in sorted(by_task) for p in by_task[t]],
                         resamples, seed, level)
    return out
