"""Fine-tune controller: the intents of the Fine-tune panel (start a LoRA run, cancel it,
resume it from its newest checkpoint, evaluate base vs tuned) and the signals the panel
draws from. Training runs as a model-lane job of the job service (``models.finetune``);
every optimizer step arrives as a ``step`` dict (step, total, loss, tokens/s, peak memory,
ETA) on the GUI thread. The comparison runs the app's own evaluation
(``EvaluationController``) on the base and on ``local:<adapter folder>`` over the run's
held-out items (card.json ``held_out_ids``), or over its training items when nothing was
held out (said in the ``note``).
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from PySide6.QtCore import QObject, Signal

from models.errors import Cancelled, StudioError

MAX_STATE_BYTES = 64 * 1024 ** 2      # a checkpoint's state.json (its loss history)
MAX_CARD_BYTES = 16 * 1024 ** 2
SOURCES = ("project", "proxy")


@dataclass
class RunRequest:
    """What the panel asks for: the base, the items and the settings."""
    base: str
    out_dir: str
    source: str = "project"                    # "project" (accepted items) | "proxy"
    proxy_folder: str = ""
    video_root: str = ""                       # '' = the project's (or the proxy folder's)
    settings: dict = field(default_factory=dict)


@dataclass
class Prepared:
    """A validated request: its config, dataset and output folder."""
    base: str
    out_dir: str
    cfg: object
    dataset: object
    records: list


def read_card(out_dir) -> Optional[dict]:
    """card.json of a finished run, or None."""
    path = Path(out_dir) / "card.json"
    try:
        with open(path, "rb") as fh:
            raw = fh.read(MAX_CARD_BYTES + 1)
    except OSError:
        return None
    if len(raw) > MAX_CARD_BYTES:
        return None
    try:
        card = json.loads(raw.decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        return None
    return card if isinstance(card, dict) else None


def checkpoint_losses(out_dir) -> list:
    """The loss history kept in the newest checkpoint of an interrupted run ([] if none)."""
    from models.finetune import checkpoint as ckpt  # noqa: PLC0415

    for path in reversed(ckpt.checkpoints(Path(out_dir))):
        try:
            with open(path / ckpt.STATE, "rb") as fh:
                raw = fh.read(MAX_STATE_BYTES + 1)
            if len(raw) > MAX_STATE_BYTES:
                continue
            losses = json.loads(raw.decode("utf-8")).get("losses")
        except (OSError, ValueError, UnicodeDecodeError, AttributeError):
            continue
        if isinstance(losses, list):
            return [x for x in losses if isinstance(x, dict) and "step" in x and "loss" in x]
    return []


def can_resume(out_dir: str) -> bool:
    """The folder holds checkpoints of a run that has not finished."""
    from models.finetune import checkpoint as ckpt  # noqa: PLC0415

    if not out_dir:
        return False
    out = Path(out_dir)
    return bool(ckpt.checkpoints(out)) and not (out / "card.json").is_file()


def _train(prep: Prepared, resume: bool, ctx=None):
    from models.finetune.train import finetune  # noqa: PLC0415

    if resume:
        ctx.partial({"history": checkpoint_losses(prep.out_dir)})
    return finetune(prep.base, prep.dataset, prep.cfg, prep.out_dir, ctx, resume=resume)


class FinetuneController(QObject):
    started = Signal(bool)            # resume?
    step = Signal(dict)               # one optimizer step: step, total, loss, lr, tokens_per_s ...
    history = Signal(list)            # the losses before a resumed run's first new step
    progress = Signal(int, int, str)  # done, total, message (preparing examples, steps)
    finished = Signal(dict)           # card.json of the finished run
    cancelled = Signal(int)           # the last step reported before the cancel
    failed = Signal(str, str)         # title, one-line message (the view shows a dialog)
    evaluated = Signal(int, int, str)  # base run id, tuned run id, note on the item set
    evalProgress = Signal(int, int, str)

    def __init__(self, ctx, parent: Optional[QObject] = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.job = None
        self.last: Optional[Prepared] = None
        self.last_step = 0
        self._eval = None
        self._eval_note = ""
        self._eval_specs: list[str] = []

    @property
    def busy(self) -> bool:
        return self.job is not None and not self.job.done

    @property
    def evaluating(self) -> bool:
        return self._eval is not None and self._eval.busy

    # -- the base models --------------------------------------------------------------------
    def base_choices(self) -> list[tuple[str, str]]:
        """(label, spec) of the local checkpoints the VLM panels know (adapters and servers
        cannot be fine-tuned here)."""
        from models.vlm.adapter import split_spec  # noqa: PLC0415

        out = []
        for c in self.ctx.vlm.choices:
            model = str(c.settings.get("model") or "")
            if c.kind == "transformers" and model and split_spec(model) is None:
                out.append((c.label, model))
        return out

    # -- preparing ----------------------------------------------------------------------------
    def prepare(self, req: RunRequest, resume: bool = False) -> Prepared:
        """Validate the request; ``StudioError`` (one line) when it cannot run."""
        from models.finetune.config import FinetuneError, make_config  # noqa: PLC0415
        from models.finetune.data import build_dataset, project_records, proxy_records  # noqa: PLC0415

        if not req.base.strip():
            raise FinetuneError("Choose a base model (a local checkpoint)")
        if not req.out_dir.strip():
            raise FinetuneError("Choose an output folder for the adapter")
        cfg = make_config(**req.settings)
        out = os.path.abspath(req.out_dir.strip())
        if resume and not can_resume(out):
            raise FinetuneError(f"{out} holds no checkpoint of an unfinished run to resume")
        if not resume and os.path.isdir(out) and any(os.scandir(out)):
            what = ("holds checkpoints of an earlier run: press Resume to go on"
                    if can_resume(out) else "is not empty: choose a new folder")
            raise FinetuneError(f"The output folder {out} {what}")
        if req.source == "proxy":
            if not req.proxy_folder.strip():
                raise FinetuneError("Choose the proxy-training folder to train on")
            records, root = proxy_records(req.proxy_folder.strip())
            source = f"proxy:{req.proxy_folder.strip()}"
        else:
            records, root = project_records(self.ctx.repo, ["accepted"])
            if not records:
                raise FinetuneError("The project has no accepted QA items to train on "
                                    "(accept some in QA curation, or choose a proxy folder)")
            root = root or self.ctx.dataset.root
            source = f"project:{self.ctx.repo.path}"
        root = req.video_root.strip() or root
        dataset = build_dataset(records, source, root, cfg.template, cfg.held_out, cfg.seed)
        return Prepared(req.base.strip(), out, cfg, dataset, records)

    # -- intents ------------------------------------------------------------------------------
    def start(self, req: RunRequest, resume: bool = False) -> bool:
        if self.busy:
            self.failed.emit("Fine-tune", "A fine-tuning run is already going; cancel it first")
            return False
        try:
            prep = self.prepare(req, resume)
        except StudioError as exc:
            self.failed.emit("Cannot resume" if resume else "Cannot start the fine-tune", str(exc))
            return False
        from app.jobs import lane_for  # noqa: PLC0415
        from models.vlm.specs import BackendChoice  # noqa: PLC0415

        self.last, self.last_step = prep, 0
        lane = lane_for(BackendChoice("transformers", {"device": prep.cfg.device}))
        self.job = self.ctx.jobs.submit(_train, prep, resume, kind="model", lane=lane,
                                        on_result=self._on_done, on_error=self._on_error,
                                        on_progress=self.progress.emit,
                                        on_partial=self._on_partial)
        self.started.emit(resume)
        return True

    def resume(self, req: RunRequest) -> bool:
        return self.start(req, resume=True)

    def cancel(self) -> None:
        """Stop after the current step; the trainer saves a checkpoint Resume goes on from."""
        if self.busy:
            self.job.cancel()
            self.ctx.message("Cancelling the fine-tune after the current step…")

    def _on_partial(self, info) -> None:
        if not isinstance(info, dict):
            return
        if "history" in info:
            self.history.emit(list(info["history"]))
        elif "loss" in info:
            self.last_step = int(info.get("step") or 0)
            self.step.emit(dict(info))

    def _on_done(self, result) -> None:
        self.job = None
        card = dict(getattr(result, "card", {}) or {})
        self.finished.emit(card)

    def _on_error(self, exc: BaseException) -> None:
        self.job = None
        if isinstance(exc, Cancelled):
            self.cancelled.emit(self.last_step)
            return
        from app.jobs import one_line  # noqa: PLC0415

        self.failed.emit("The fine-tune stopped", one_line(exc))

    # -- base vs tuned ------------------------------------------------------------------------
    def evaluation_set(self, out_dir: str) -> tuple[list, Optional[str], str]:
        """(records, video root, note): the run's held-out items, else its training items."""
        card = read_card(out_dir)
        if card is None:
            raise StudioError(f"{out_dir} holds no finished fine-tune (card.json)")
        prep = self.last
        if prep is None or os.path.abspath(prep.out_dir) != os.path.abspath(out_dir):
            raise StudioError("Start or resume the run in this session first: its items "
                              "are read from the source it was trained on")
        held = set(card.get("data", {}).get("held_out_ids") or [])
        if held:
            records = [e.record for e in prep.dataset.held_out if e.qa_id in held]
            note = f"{len(records)} held-out item(s)"
        else:
            records = [e.record for e in prep.dataset.train]
            note = (f"no item was held out: evaluated on the {len(records)} training item(s) "
                    "(how well it fits them, not how it generalises)")
        return records, prep.dataset.video_root, note

    def evaluate(self, out_dir: str) -> bool:
        """Evaluate the base and base + adapter on the evaluation set through the app's
        evaluation path (runs stored in the project)."""
        from app.controllers.evaluation import EvaluationController  # noqa: PLC0415
        from models.evaluate import EvalSettings  # noqa: PLC0415

        if self.busy or self.evaluating:
            self.failed.emit("Evaluate base vs tuned", "Wait for the running job to finish")
            return False
        try:
            records, root, note = self.evaluation_set(out_dir)
            card = read_card(out_dir) or {}
            if not records:
                raise StudioError("No item to evaluate on")
        except StudioError as exc:
            self.failed.emit("Evaluate base vs tuned", str(exc))
            return False
        if self._eval is None:
            self._eval = EvaluationController(self.ctx, self)
            self._eval.finished.connect(self._on_evaluated)
            self._eval.failed.connect(lambda msg: self.failed.emit("Evaluate base vs tuned", msg))
            self._eval.progress.connect(self.evalProgress.emit)
        settings = EvalSettings.from_dict(card.get("eval_settings") or {})
        base = self.last.base if self.last else str(card.get("base_model", {}).get("path"))
        self._eval_specs = [base, f"local:{os.path.abspath(out_dir)}"]
        self._eval_note = note
        device = str(self.last.cfg.device) if self.last else "auto"
        return self._eval.start(self._eval_specs, settings, records=records, root=root,
                                device=device)

    def _on_evaluated(self, run_ids) -> None:
        if len(run_ids) >= 2:
            self.evaluated.emit(int(run_ids[0]), int(run_ids[1]), self._eval_note)
