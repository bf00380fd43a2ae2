"""Compare models: 2-4 backends (and the rule-based describer) answer the same prompt on
the same frames; columns stream side by side with timings, MCQ right/wrong marks and the
words only one answer has highlighted. Runs are saved and can be reopened."""
from __future__ import annotations

from typing import Optional

from PySide6.QtGui import QTextCursor
from PySide6.QtWidgets import (QComboBox, QGroupBox, QHBoxLayout, QLabel, QPushButton,
                               QTextBrowser, QVBoxLayout, QWidget)

from app.controllers.vlm import vlm_controller
from models.errors import StudioError
from models.vlm.textdiff import distinct_words, highlight_html

from .ask_panel import stats_text
from .backend_picker import BackendPicker
from .prompt_form import PromptForm
from .request_view import RequestView, timing_text

MAX_COLUMNS = 4


class AnswerColumn(QGroupBox):
    def __init__(self, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.mark = QLabel("")
        self.stats = QLabel("")
        self.stats.setWordWrap(True)
        self.text = QTextBrowser()
        self.raw = ""
        lay = QVBoxLayout(self)
        lay.addWidget(self.mark)
        lay.addWidget(self.stats)
        lay.addWidget(self.text, 1)

    def reset(self, title: str) -> None:
        self.setTitle(title)
        self.raw = ""
        self.text.clear()
        self.mark.setText("")
        self.stats.setText("waiting…")

    def append(self, chunk: str) -> None:
        """Add a streamed chunk at the end (not re-setting the whole text per chunk)."""
        self.raw += chunk
        cursor = QTextCursor(self.text.document())
        cursor.movePosition(QTextCursor.MoveOperation.End)
        cursor.insertText(chunk)

    def set_mark(self, correct, abstained: bool = False) -> None:
        """✔ right / ✘ wrong for an MCQ with a known answer; "n/a" where the backend
        abstained (the rule baseline on a question poses cannot answer)."""
        if abstained:
            self.mark.setText("n/a (cannot answer from pose alone)")
            self.mark.setStyleSheet("color: #7f8c8d;")
            return
        self.mark.setText("" if correct is None else ("✔ right" if correct else "✘ wrong"))
        self.mark.setStyleSheet("color: #1e8449;" if correct else "color: #c0392b;")

    def show_html(self, html: str) -> None:
        self.text.setHtml(html)


def _saved_stats(row: dict) -> str:
    return timing_text(row["status"], row["error"], row["load_s"], row["ttft_s"],
                       row["tokens_per_s"], row["prompt_tokens"], row["peak_mem_bytes"])


class CompareView(RequestView, QWidget):
    def __init__(self, ctx, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.controller = vlm_controller(ctx)
        self.rid = 0
        self.pickers = [BackendPicker(self.controller, allow_none=True) for _ in range(MAX_COLUMNS)]
        self.form = PromptForm(ctx)
        self.run_button, self.cancel_button = QPushButton("Compare"), QPushButton("Cancel")
        self.save_button = QPushButton("Save")
        self.saved_box, self.open_button = QComboBox(), QPushButton("Open saved")
        self.find_button = QPushButton("Find models")
        self.find_button.setToolTip("Look again in the Hugging Face cache, the model folders "
                                    "and the saved servers")
        self.help_button = QPushButton("How to get a model…")
        self.columns = [AnswerColumn() for _ in range(MAX_COLUMNS)]
        self.frames_label = QLabel("")
        self.status = QLabel("")
        self.status.setWordWrap(True)
        self._layout()
        self._connect()
        self.start_button = self.run_button
        self._set_busy(False)
        self.reload_saved()

    def _layout(self) -> None:
        pick = QHBoxLayout()
        for p in self.pickers:
            pick.addWidget(p)
        pick.addWidget(self.find_button)
        pick.addWidget(self.help_button)
        buttons = QHBoxLayout()
        for w in (self.run_button, self.cancel_button, self.save_button, self.saved_box,
                  self.open_button):
            buttons.addWidget(w)
        cols = QHBoxLayout()
        for c in self.columns:
            cols.addWidget(c, 1)
        lay = QVBoxLayout(self)
        lay.addLayout(pick)
        lay.addWidget(self.form)
        lay.addLayout(buttons)
        lay.addWidget(self.frames_label)
        lay.addLayout(cols, 1)
        lay.addWidget(self.status)

    def _connect(self) -> None:
        c = self.controller
        self._connect_request()
        self.run_button.clicked.connect(self.run)
        self.open_button.clicked.connect(self.open_selected)
        self.find_button.clicked.connect(c.refresh_choices)
        self.help_button.clicked.connect(self.show_models_help)
        c.prepared.connect(self._on_prepared)
        c.chunk.connect(lambda rid, pos, t: rid == self.rid and self.columns[pos].append(t))
        c.saved.connect(lambda kind, _id: kind == "comparison" and self.reload_saved())

    # -- intents ----------------------------------------------------------------------------
    def chosen(self) -> list:
        return [c for c in (p.choice() for p in self.pickers) if c is not None]

    def run(self) -> None:
        try:
            choices = self.chosen()
            if not choices:
                raise StudioError("Choose at least one backend to compare")
            spec = self.form.spec()
        except StudioError as exc:
            self._show_error(str(exc))
            return
        for i, col in enumerate(self.columns):
            col.setVisible(i < len(choices))
            if i < len(choices):
                col.reset(choices[i].label)
        self._set_busy(True)
        self.rid = self.controller.run(choices, spec)

    def show_models_help(self) -> None:
        from widgets.help import show_models_help  # noqa: PLC0415

        show_models_help(self)

    def reload_saved(self) -> None:
        self.saved_box.clear()
        for rec in self.controller.saved_comparisons():
            q = rec["question"] or rec["template_id"]
            self.saved_box.addItem(f"#{rec['id']} {q[:40]} ({rec['n_answers']} answers)", rec["id"])

    def open_selected(self) -> None:
        cid = self.saved_box.currentData()
        if cid is None:
            self._show_error("No saved comparison to open")
            return
        self.show_saved(self.controller.open_comparison(cid))

    def show_saved(self, rec: dict) -> None:
        """Re-display a saved comparison exactly as it was recorded."""
        answers = rec["answers"][:MAX_COLUMNS]
        for i, col in enumerate(self.columns):
            col.setVisible(i < len(answers))
        for col, row in zip(self.columns, answers):
            col.reset(row["model_id"].split("/")[-1] + f" [{row['backend']}]")
            col.raw = row["answer"]
            col.stats.setText(_saved_stats(row))
            col.set_mark(row["correct"], rec["answer_index"] is not None and
                         row["status"] == "ok" and row["correct"] is None)
        self._highlight([row["answer"] for row in answers])
        self.frames_label.setText(f"frames {rec['frame_indices']} · template "
                                  f"{rec['template_id']} v{rec['template_version']}")

    # -- controller events ------------------------------------------------------------------
    def _on_prepared(self, rid: int, prepared) -> None:
        if rid == self.rid:
            self.frames_label.setText(f"frames {prepared.frames.indices} (same for every column)")

    def _on_answer(self, rid: int, pos: int, answer) -> None:
        if rid == self.rid:
            self.columns[pos].stats.setText(stats_text(answer))
            self.columns[pos].set_mark(answer.correct, answer.abstained)

    def _on_finished(self, rid: int, answers) -> None:
        if rid == self.rid:
            self._set_busy(False)
            self._highlight([a.text for a in answers])
            self.status.setText("done: words only one model used are highlighted")

    def _highlight(self, texts: list[str]) -> None:
        for col, text, distinct in zip(self.columns, texts, distinct_words(texts)):
            col.show_html(highlight_html(text, distinct))
