"""Evaluation and export controller: runs (start, cancel, resume, reopen, compare) and
exports in the background through the JobService. Views call intents, observe signals."""
from __future__ import annotations

from typing import Optional, Protocol, runtime_checkable

from PySide6.QtCore import QObject, Signal

from models import eval_report
from models.errors import StudioError
from models.evaluate import EvalSettings, compare_runs, evaluate_models, open_backend, run_score
from models.pose.storage import ClipStore
from models.qa.storage import EvalStore, QAStore
from models.vlm.storage import EndpointStore


def video_root(ctx, records) -> Optional[str]:
    """Where the items' relative video paths live: the open dataset folder, else the
    project's clips."""
    from models.export.project import project_video_root  # noqa: PLC0415

    guessed = project_video_root(ctx.repo, records)
    return guessed or ctx.dataset.root


def choice_spec(choice) -> str:
    """The backend spec ``open_backend`` takes for one of the VLM controller's choices."""
    st = choice.settings
    if choice.kind == "rule":
        return "rule"
    if choice.kind == "openai":
        return f"endpoint:{st['endpoint']}" if st.get("endpoint") else f"{st['base_url']}#{st['model']}"
    return str(st["model"])


def _run_models(repo: EvaluationStore, specs, records, settings, root, device, ctx=None):
    backends = [open_backend(s, device, repo) for s in specs]
    return evaluate_models(repo, backends, records, settings, root, ctx)


def _export_project(repo: ClipStore, format_id, records, out_dir, options, ctx=None):
    from models.export import export  # noqa: PLC0415
    from models.export.project import prepare_options  # noqa: PLC0415

    prepare_options(format_id, repo, records, options)
    return export(format_id, records, out_dir, options, ctx)


@runtime_checkable
class EvaluationStore(EvalStore, QAStore, ClipStore, EndpointStore, Protocol):
    """What evaluation needs of the project: runs and their answers, the QA items to pick
    from, the clips (exports, the video folder) and named endpoints (model specs)."""


class EvaluationController(QObject):
    runsChanged = Signal()                 # the list of runs changed (new, finished, deleted)
    progress = Signal(int, int, str)       # done, total, model label
    answer = Signal(dict)                  # one answered item (qa_id, task, correct ...)
    finished = Signal(list)                # run ids of the finished evaluation
    failed = Signal(str)                   # one-line message
    exportDone = Signal(object)            # ExportReport
    exportFailed = Signal(object)          # the exception (MissingVideosError lists items)

    def __init__(self, ctx, parent: Optional[QObject] = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self._job = None
        self._export_job = None

    @property
    def repo(self) -> EvaluationStore:
        return self.ctx.repo

    @property
    def busy(self) -> bool:
        return self._job is not None and not self._job.done

    # -- model choices (shared with the VLM panels) ------------------------------------------
    @property
    def vlm(self):
        from app.controllers.vlm import vlm_controller  # noqa: PLC0415

        return vlm_controller(self.ctx)

    def model_choices(self) -> list[tuple[str, str]]:
        """(label, spec) of the models the VLM panels know (found or added), no reference."""
        return [(c.label, choice_spec(c)) for c in self.vlm.choices if c.kind != "rule"]

    # -- runs -----------------------------------------------------------------------------
    def runs(self) -> list[dict]:
        return self.repo.eval_runs()

    def records(self, statuses=("accepted",), tasks=None) -> list:
        return self.repo.qa_records({"status": list(statuses), "task": tasks or None})

    def tasks(self) -> list[str]:
        """The sub-tasks present in the project's QA set."""
        return self.repo.qa_distinct("task")

    def qa_set(self, kind: str = "curated", statuses=("accepted",), tasks=None,
               path: Optional[str] = None) -> tuple[list, Optional[str]]:
        """(records, video root) of a QA set: ``curated`` (by review status), ``imported``
        (items imported from other benchmarks, any status) or ``file`` (a canonical or
        exported JSONL, MVBench/Video-MME JSON, read without storing it)."""
        if kind == "file":
            from pathlib import Path  # noqa: PLC0415

            from models.importers import load_file  # noqa: PLC0415

            if not path:
                raise StudioError("Choose a QA file to evaluate")
            records = [r for r in load_file(path).records if not tasks or r.task in tasks]
            root = video_root(self.ctx, records) or str(Path(path).resolve().parent)
            return records, root
        if kind == "imported":
            records = [r for r in self.repo.qa_records({"task": tasks or None})
                       if str(r.source).startswith("import:")]
        else:
            records = self.records(statuses, tasks)
        return records, video_root(self.ctx, records)

    def start(self, specs: list[str], settings: EvalSettings, statuses=("accepted",),
              tasks=None, device: str = "auto", records=None, root=None) -> bool:
        """Evaluate every backend spec over the set in the background (resumes runs);
        ``records`` (with their video ``root``) replace the status/task selection."""
        if self.busy:
            self.failed.emit("An evaluation is already running; cancel it first")
            return False
        if records is None:
            records = self.records(statuses, tasks)
            root = video_root(self.ctx, records)
        if not records or not specs:
            self.failed.emit("Nothing to evaluate: no items in the chosen set, or no model")
            return False
        self._job = self.ctx.jobs.submit(
            _run_models, self.repo, list(specs), records, settings,
            root, device, kind="model", lane=self._lane(specs, device),
            on_result=self._on_done, on_error=self._on_error,
            on_progress=self.progress.emit, on_partial=self.answer.emit)
        self.runsChanged.emit()
        return True

    def _lane(self, specs, device: str) -> str:
        """The model lane of an evaluation: its local device when it runs a local model
        (``device`` applies to every local spec), else its first server's URL."""
        from app.jobs import lane_for  # noqa: PLC0415
        from models.vlm.specs import parse_model  # noqa: PLC0415

        choices = []
        for spec in specs:
            try:
                choice = (spec if spec in ("rule", "rule-reference")
                          else parse_model(spec, self.repo))
            except StudioError:
                continue
            if getattr(choice, "kind", "") == "transformers":
                choice.settings["device"] = device
            choices.append(choice)
        return lane_for(choices)

    def cancel(self) -> None:
        if self._job is not None:
            self._job.cancel()

    def _on_done(self, run_ids) -> None:
        self._job = None
        self.runsChanged.emit()
        self.finished.emit(list(run_ids))

    def _on_error(self, exc) -> None:
        self._job = None
        self.runsChanged.emit()
        self.failed.emit(str(exc) if isinstance(exc, StudioError) else f"Evaluation failed: {exc}")

    def delete_run(self, run_id: int) -> None:
        self.repo.delete_eval_run(run_id)
        self.runsChanged.emit()

    # -- results ----------------------------------------------------------------------------
    def table(self, run_ids) -> list[dict]:
        """Rows (model x sub-task, then mean and overall) of the chosen runs."""
        return eval_report.report_rows(self.repo, run_ids)

    def score(self, run_id: int):
        return run_score(self.repo, run_id)

    def compare(self, run_a: int, run_b: int):
        return compare_runs(self.repo, run_a, run_b)

    def comparison(self, run_a: int, run_b: int, resamples: int = 2000, seed: int = 0) -> dict:
        """Run A (e.g. the base) against run B (the tuned model): per sub-task accuracy of
        each, B - A with its paired bootstrap interval, the flipped items with questions
        (``eval_report.comparison_dict``)."""
        c = compare_runs(self.repo, run_a, run_b, resamples, seed)
        labels = [eval_report.run_label(self.repo.eval_run(r)) for r in (run_a, run_b)]
        return eval_report.comparison_dict(c, *labels)

    def report(self, run_ids, path: str) -> None:
        rows, unparseable = eval_report.report(self.repo, run_ids)
        text = eval_report.to_csv(rows) if path.lower().endswith(".csv") else \
            eval_report.to_markdown(rows, unparseable)
        try:
            with open(path, "w", encoding="utf-8") as fh:
                fh.write(text)
        except OSError as exc:
            raise StudioError(f"Cannot write {path}: {exc.strerror or exc}") from None

    # -- export ----------------------------------------------------------------------------------
    def export(self, format_id: str, out_dir: str, options, statuses=("accepted",), tasks=None):
        records = self.records(statuses, tasks)
        if options.video_root is None:
            options.video_root = video_root(self.ctx, records)
        self._export_job = self.ctx.jobs.submit(
            _export_project, self.repo, format_id, records, out_dir, options, kind="cpu",
            on_result=self.exportDone.emit,
            on_error=self.exportFailed.emit)
        return self._export_job
