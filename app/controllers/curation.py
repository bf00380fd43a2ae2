"""Curation controller: filters, the current QA item, review actions, undo/redo, quality
checks and background generation. Views call its intents and observe its signals; every
write goes through the repository (one transaction per user action)."""
from __future__ import annotations

import os
from typing import Optional, Protocol, runtime_checkable

from PySide6.QtCore import QObject, QTimer, Signal

from models.errors import StudioError
from models.qa import checks
from models.qa.generate import generate_qa, relative_video
from models.qa.record import QARecord
from models.qa.storage import AnswerSource, QAPoseStore, QAStore
from models.qa.synth import SynthSettings


HISTORY_FIELDS = ("question", "options", "answer_index", "status", "note")
ACTION_WORDS = {"accepted": "accepting", "rejected": "rejecting",
                "needs-fix": "marking as needing a fix", "edit": "the edit of",
                "delete": "deleting"}


def _short(value, limit: int = 80) -> str:
    if isinstance(value, str):
        value = f"“{value}”"
    elif value is not None and not isinstance(value, int):
        import json  # noqa: PLC0415
        value = json.dumps(value, ensure_ascii=False)
    text = "∅" if value is None else str(value).replace("\r", "").replace("\n", "⏎")
    return text if len(text) <= limit else text[:limit - 1] + "…"


@runtime_checkable
class CurationStore(QAPoseStore, AnswerSource, Protocol):
    """What curation needs of the project: QA items and captions, the clips and their
    tracks (rule-based generation), and saved answers (text-based generation)."""


class CurationController(QObject):
    itemsChanged = Signal(list)      # qa_ids whose rows changed ([] = reload everything)
    filtersChanged = Signal()        # the filter or sort changed: the table reloads
    currentChanged = Signal(str)     # qa_id of the selected item ('' = none)
    undoChanged = Signal(str, str)   # undo label, redo label in words ('' = nothing)
    reportReady = Signal(dict)       # quality report
    blindTestDone = Signal(dict, list, str)  # {qa_id: answer} right blind, tested ids, model
    generationProgress = Signal(int, int, str)
    generationDone = Signal(object)  # GenerationSummary
    posesMissing = Signal(list)      # absolute paths of clips generation skipped (no poses)

    def __init__(self, ctx, parent: Optional[QObject] = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.filters: dict = {}
        self.sort_key, self.descending = "seq", False
        self.current: Optional[str] = None
        self._pending_seek: Optional[tuple[str, int]] = None
        self._flags: dict = {}
        self._job = None
        self._gen: tuple = ([], None, None)   # paths, root, settings of the last generation
        if ctx.player is not None:
            ctx.player.clipChanged.connect(self._on_clip_opened)

    @property
    def repo(self) -> CurationStore:
        return self.ctx.repo

    # -- filters and sort -------------------------------------------------------------
    def set_filter(self, key: str, value) -> None:
        if value in ("", None, []):
            self.filters.pop(key, None)
        else:
            self.filters[key] = value
        self.filtersChanged.emit()

    def set_sort(self, key: str, descending: bool = False) -> None:
        self.sort_key, self.descending = key, descending
        self.filtersChanged.emit()

    def ids(self) -> list[str]:
        return self.repo.qa_ids(self.filters, self.sort_key, self.descending)

    # -- selection ------------------------------------------------------------------------
    def select(self, qa_id: Optional[str]) -> Optional[QARecord]:
        """Make ``qa_id`` current; the player jumps to its clip window / frames A and B."""
        self.current = qa_id or None
        rec = self.repo.qa_record(qa_id) if qa_id else None
        self.currentChanged.emit(qa_id or "")
        if rec is not None:
            self._show_in_player(rec)
        return rec

    def record(self, qa_id: Optional[str] = None) -> Optional[QARecord]:
        qa_id = qa_id or self.current
        return self.repo.qa_record(qa_id) if qa_id else None

    def resolve_video(self, video: str) -> Optional[str]:
        """Absolute path of an item's video: dataset root, then known clips, then as given."""
        dataset = self.ctx.dataset
        root = dataset.root
        candidates = [os.path.join(root, video)] if root else []
        known = list(dataset.paths) + [c["path"] for c in self.repo.clips()]
        candidates += [p for p in known if p.replace(os.sep, "/").endswith("/" + video)]
        candidates.append(video)
        return next((os.path.abspath(c) for c in candidates if os.path.isfile(c)), None)

    def target_frame(self, rec: QARecord, info) -> int:
        """The frame an item is about; a time is placed by the clip's frame times."""
        if rec.frame_a is not None:
            return rec.frame_a
        if rec.start_s is not None and info is not None:
            return info.frame_at(rec.start_s)
        return (rec.provenance.frame_indices or [0])[0]

    def _show_in_player(self, rec: QARecord) -> None:
        player = self.ctx.player
        path = self.resolve_video(rec.video)
        if player is None or path is None:
            if player is not None:
                self.ctx.message(f"Video {rec.video} not found; open its dataset folder")
            return
        if rec.frame_a is not None and rec.frame_b is not None:
            self.ctx.marks.mark_a(path, rec.frame_a)
            self.ctx.marks.mark_b(path, rec.frame_b)
        if player.path == path and player.video_info is not None:
            player.seek(self.target_frame(rec, player.video_info))
        else:
            self._pending_seek = (path, rec)
            player.open(path)

    def _on_clip_opened(self, path: str) -> None:
        if self._pending_seek and self._pending_seek[0] == path:
            rec = self._pending_seek[1]
            self._pending_seek = None
            # after the player's own seek(0) that follows clipChanged
            QTimer.singleShot(0, lambda: self.ctx.player.seek(
                self.target_frame(rec, self.ctx.player.video_info)))

    # -- review actions (each one transaction, undoable) ------------------------------------
    def _act(self, fn, *args, **kwargs) -> Optional[int]:
        try:
            aid = fn(*args, **kwargs)
        except StudioError as exc:
            self.ctx.warn("QA curation", str(exc))
            return None
        self._after_change()
        return aid

    def _after_change(self, ids: Optional[list] = None) -> None:
        self.itemsChanged.emit(list(ids or []))
        self.undoChanged.emit(self.action_words(self.repo.undo_label()),
                              self.action_words(self.repo.redo_label()))

    def item_words(self, qa_id: str, limit: int = 60) -> str:
        """An item as a reviewer knows it: its question (shortened), else its id."""
        rec = self.repo.qa_record(qa_id)
        if rec is None:
            return qa_id
        question = " ".join(rec.question.split())
        return f"“{question if len(question) <= limit else question[:limit - 1] + '…'}”"

    def action_words(self, label: Optional[str]) -> str:
        """A stored action label ("accepted qa_1f…", "Edit qa_1f…", "rejected 5 items") in
        words: "accepting “Is the left knee bent?”", "rejecting 5 items"."""
        if not label:
            return ""
        verb, _, rest = label.partition(" ")
        words = ACTION_WORDS.get(verb.lower(), verb.lower().replace("_", " "))
        if rest and " " not in rest:      # one item id
            return f"{words} {self.item_words(rest)}"
        return f"{words} {rest}".strip()

    def set_status(self, qa_ids: list, status: str) -> Optional[int]:
        ids = [i for i in qa_ids if i]
        if not ids:
            return None
        aid = self._act(self.repo.set_qa_status, ids, status)
        self.ctx.message(f"{status.replace('_', '-')}: {len(ids)} item(s)", 2000)
        return aid

    def accept(self, qa_ids: Optional[list] = None) -> Optional[int]:
        return self.set_status(qa_ids or [self.current], "accepted")

    def reject(self, qa_ids: Optional[list] = None) -> Optional[int]:
        return self.set_status(qa_ids or [self.current], "rejected")

    def needs_fix(self, qa_ids: Optional[list] = None) -> Optional[int]:
        return self.set_status(qa_ids or [self.current], "needs_fix")

    def edit(self, qa_id: str, question: str, options: list, answer_index: int,
             note: Optional[str]) -> Optional[int]:
        return self._act(self.repo.edit_qa, qa_id, question=question, options=options,
                         answer_index=answer_index, note=note)

    def undo(self) -> Optional[dict]:
        return self._step(self.repo.undo, "Undid")

    def redo(self) -> Optional[dict]:
        return self._step(self.repo.redo, "Redid")

    def _step(self, fn, verb: str) -> Optional[dict]:
        done = fn()
        if done is None:
            self.ctx.message(f"Nothing to {verb[:-1].lower()}", 2000)
            return None
        self.ctx.message(f"{verb} {self.action_words(done['label'])}", 3000)
        self._after_change([] if done["kind"] == "delete" else done["ids"])
        return done

    def history(self, qa_id: str) -> list[str]:
        """The item's edit history, newest first: one line per action with each changed
        field as before -> after (undone actions are marked)."""
        import json  # noqa: PLC0415
        lines = []
        for h in reversed(self.repo.qa_history(qa_id)):
            before = json.loads(h["before"]) if h["before"] else {}
            after = json.loads(h["after"]) if h["after"] else {}
            changes = [f"{k}: {_short(before.get(k))} → {_short(after.get(k))}"
                       for k in HISTORY_FIELDS if before.get(k) != after.get(k)]
            state = "" if h["state"] == "done" else f" ({h['state']})"
            lines.append(f"{h['created_at'][:19].replace('T', ' ')} · {h['label']}{state}: "
                         + ("; ".join(changes) or "deleted"))
        return lines

    # -- summary and quality -------------------------------------------------------------------
    def summary(self) -> dict:
        return self.repo.qa_summary()

    def flags(self, qa_id: str) -> list[str]:
        """Quality flags of one item: its own checks (identical options, an option holding
        the answer text) always, set-level ones (duplicates) from the last report, and
        the stored blind-test result."""
        names = {"blind": "blind test"}
        rec = self.repo.qa_record(qa_id)
        own = checks.item_flags([rec]).get(qa_id, []) if rec is not None else []
        stored = [f"{names.get(k, k)}: {v}" for k, v in self.repo.qa_flags(qa_id).items()]
        return list(dict.fromkeys(own + self._flags.get(qa_id, []) + stored))

    def run_checks(self) -> dict:
        records = self.repo.qa_records(self.filters)
        report = checks.quality_report(records)
        self._flags = report["flags"]
        self.reportReady.emit(report)
        return report

    # -- generation in the background -----------------------------------------------------------
    def generate(self, videos: list, settings: Optional[SynthSettings] = None,
                 extract: bool = False, root: Optional[str] = None):
        """Generate from pose facts in the background. Without ``extract``, clips that have
        no poses are skipped and reported through ``posesMissing`` (the view offers to
        extract them: ``extract_and_generate``)."""
        root = root or self.ctx.dataset.root
        settings = settings or SynthSettings()
        self._gen = (list(videos), root, settings)
        self._job = self.ctx.jobs.submit(
            generate_qa, self.repo, list(videos), settings, root=root,
            extract=extract, kind="cpu", on_result=self._on_generated,
            on_error=self._on_generation_error, on_progress=self.generationProgress.emit)
        return self._job

    def extract_and_generate(self, paths: list):
        """Extract poses of ``paths`` (inside the job) and generate QA for them."""
        _videos, root, settings = self._gen
        return self.generate(paths, settings, extract=True, root=root)

    def missing_paths(self, summary) -> list[str]:
        """Absolute paths of the last run's clips that had no poses."""
        videos, root, _s = self._gen
        missing = set(summary.no_poses)
        return [p for p in videos if relative_video(str(p), root) in missing]

    # -- model lane: blind test and QA from text ----------------------------------------------
    def model_choices(self) -> list:
        """Models a blind test or text generation can use: the VLM panel's choices (shared
        with the Ask panel, so a model loaded there stays resident), without the rule-based
        describer (it answers from poses, not from a question)."""
        from app.controllers.vlm import vlm_controller  # noqa: PLC0415
        return [c for c in vlm_controller(self.ctx).choices if c.kind != "rule"]

    def add_model(self, spec: str):
        """A checkpoint folder, cached id or server URL typed by the user (a new choice)."""
        from app.controllers.vlm import vlm_controller  # noqa: PLC0415
        try:
            return vlm_controller(self.ctx).add_choice(spec)
        except StudioError as exc:
            self.ctx.warn("Choose a model", str(exc))
            return None

    def _submit_model(self, choice, fn, args: tuple, title: str, on_result):
        """Run ``fn(*args, backend, ctx=...)`` on the model worker; ``choice`` is a
        ``BackendChoice`` (made and loaded there, cached with the VLM panel's backends) or
        an already made backend."""
        cache = {}
        if not hasattr(choice, "generate"):
            from app.controllers.vlm import vlm_controller  # noqa: PLC0415
            cache = vlm_controller(self.ctx)._backends
        from app.jobs import lane_for  # noqa: PLC0415

        self._job = self.ctx.jobs.submit(
            _with_backend, choice, cache, fn, args, kind="model", lane=lane_for(choice),
            on_result=on_result,
            on_error=lambda exc: self.ctx.warn(title, str(exc)),
            on_progress=self.generationProgress.emit)
        return self._job

    def generate_from_text(self, choice, video: Optional[str] = None):
        """QA from the project's captions and saved model answers, plus the pose
        descriptions and difference texts of the open clip when its poses are loaded
        (VLM job lane)."""
        from models.qa.from_text import (answer_sources, caption_sources,  # noqa: PLC0415
                                         generate_from_text, pose_text_sources)
        sources = caption_sources(self.repo, video) + answer_sources(self.repo, video)
        player = self.ctx.player
        track = player.track
        if track is not None and player.path and video in (None, os.path.basename(player.path)):
            sources += pose_text_sources(track, os.path.basename(player.path))
        if not sources:
            self.ctx.message("No captions, model answers or pose descriptions to generate "
                             "QA from")
            return None

        def done(stats) -> None:
            self._job = None
            self.ctx.message(f"QA from text: {stats.items} items; {stats.invalid_outputs} "
                             f"invalid outputs and {stats.rejected_items} invalid items rejected"
                             + (f"; {stats.failed} text(s) got no answer (generate again to "
                                "ask them)" if stats.failed else ""))
            self.itemsChanged.emit([])
        return self._submit_model(choice, _text_job, (self.repo, sources, generate_from_text),
                                  "QA from text", done)

    def run_blind_test(self, choice):
        """Ask the model every listed question without frames; flag those it gets right."""
        records = self.repo.qa_records(self.filters)
        if not records:
            self.ctx.message("No QA items to test")
            return None

        def done(right: dict) -> None:
            self._job = None
            self.repo.set_qa_flags("blind", right)
            self.ctx.message(f"Blind test: {len(right)} of {len(records)} answered right "
                             "without the video")
            self.itemsChanged.emit(list(right) or [records[0].qa_id])
            self.blindTestDone.emit(dict(right), [r.qa_id for r in records],
                                    str(getattr(choice, "label", "") or type(choice).__name__))
        return self._submit_model(choice, _blind_job, (records,), "Blind test", done)

    # -- captions -----------------------------------------------------------------------------
    def import_captions(self, path: str) -> int:
        from models.qa.captions import import_captions  # noqa: PLC0415
        try:
            n = import_captions(self.repo, path)
        except StudioError as exc:
            self.ctx.warn("Import captions", f"{exc}. Nothing was imported.")
            return 0
        self.ctx.message(f"Imported {n} captions from {os.path.basename(path)}")
        return n

    def add_caption(self, video: str, text: str) -> bool:
        if not text.strip():
            return False
        self.repo.add_captions([{"video": video, "text": text}], kind="typed")
        self.ctx.message(f"Caption saved for {video}")
        return True

    def cancel_generation(self) -> None:
        if self._job is not None:
            self._job.cancel()

    def _on_generation_error(self, exc) -> None:
        self._job = None
        self.ctx.warn("QA generation", str(exc))

    def _on_generated(self, summary) -> None:
        self._job = None
        self.ctx.message(summary.line())
        self.itemsChanged.emit([])
        self.generationDone.emit(summary)
        missing = self.missing_paths(summary)
        if missing:
            self.posesMissing.emit(missing)


def _with_backend(choice, cache: dict, fn, args: tuple, ctx=None):
    """On the model worker: make (or reuse) and load the backend, then run ``fn``."""
    backend = choice
    if not hasattr(choice, "generate"):
        from app.controllers.vlm import _key  # noqa: PLC0415 (the VLM panel's cache key)
        from models.vlm.specs import make_backend  # noqa: PLC0415
        clean = type(choice)(choice.kind, {k: v for k, v in choice.settings.items()
                                           if k != "added"})
        backend = cache.get(_key(clean)) or make_backend(clean)
        cache[_key(clean)] = backend
    ctx.check()
    backend.load(ctx)
    return fn(*args, backend, ctx=ctx)


def _blind_job(records, backend, ctx=None):
    return checks.blind_test(records, backend, ctx)


def _text_job(repo: QAStore, sources, generate, backend, ctx=None):
    return generate(repo, backend, sources, ctx=ctx)
