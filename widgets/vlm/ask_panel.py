"""Ask panel: one backend, one question about the clip on screen, streamed answer."""
from __future__ import annotations

from typing import Optional

from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (QHBoxLayout, QLabel, QLineEdit, QPlainTextEdit, QPushButton,
                               QVBoxLayout, QWidget)

from app.controllers.vlm import vlm_controller
from models.errors import StudioError
from models.vlm.checkpoint import fmt_bytes

from .backend_picker import BackendPicker
from .prompt_form import PromptForm


def stats_text(answer) -> str:
    s = answer.stats
    if answer.status != "ok":
        return f"{answer.status}: {answer.error}"
    f = lambda v, fmt: "?" if v is None else format(v, fmt)  # noqa: E731
    mark = "" if answer.correct is None else ("  ✔ right" if answer.correct else "  ✘ wrong")
    mark = "  n/a" if getattr(answer, "abstained", False) else mark
    return (f"load {f(s.load_s, '.2f')} s · TTFT {f(s.ttft_s, '.3f')} s · "
            f"{f(s.tokens_per_s, '.1f')} tok/s · prompt {f(s.prompt_tokens, 'd')} tok · "
            f"peak {fmt_bytes(s.peak_mem_bytes)}{mark}")


class AskPanel(QWidget):
    def __init__(self, ctx, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.controller = vlm_controller(ctx)
        self.rid = 0
        self.picker = BackendPicker(self.controller)
        self.add_edit = QLineEdit()
        self.add_edit.setPlaceholderText("checkpoint folder, cached id or http://host:port/v1#model")
        self.add_button = QPushButton("Add")
        self.save_server_button = QPushButton("Save server")
        self.save_server_button.setToolTip("Remember this http(s) server in the project "
                                           "(its API key stays in an environment variable)")
        self.forget_button = QPushButton("Forget server")
        self.form = PromptForm(ctx)
        self.ask_button, self.cancel_button = QPushButton("Ask"), QPushButton("Cancel")
        self.copy_button, self.save_button = QPushButton("Copy"), QPushButton("Save")
        self.answer = QPlainTextEdit()
        self.answer.setReadOnly(True)
        self.status = QLabel("")
        self.status.setWordWrap(True)
        self._layout()
        self._connect()
        self._set_busy(False)
        self.controller.refresh_choices()

    def _layout(self) -> None:
        add = QHBoxLayout()            # two short rows: the panel fits a narrow side dock
        add.addWidget(self.add_edit, 1)
        add.addWidget(self.add_button)
        servers = QHBoxLayout()
        servers.addStretch(1)
        servers.addWidget(self.save_server_button)
        servers.addWidget(self.forget_button)
        buttons = QHBoxLayout()
        for b in (self.ask_button, self.cancel_button, self.copy_button, self.save_button):
            buttons.addWidget(b)
        lay = QVBoxLayout(self)
        lay.addWidget(self.picker)
        lay.addLayout(add)
        lay.addLayout(servers)
        lay.addWidget(self.form)
        lay.addLayout(buttons)
        lay.addWidget(self.answer, 1)
        lay.addWidget(self.status)

    def _connect(self) -> None:
        c = self.controller
        self.picker.currentIndexChanged.connect(self._show_memory_hint)
        self.add_button.clicked.connect(self.add_backend)
        self.save_server_button.clicked.connect(self.save_server)
        self.forget_button.clicked.connect(self.forget_server)
        self.ask_button.clicked.connect(self.ask)
        self.cancel_button.clicked.connect(c.cancel)
        self.copy_button.clicked.connect(self.copy)
        self.save_button.clicked.connect(self.save)
        c.chunk.connect(self._on_chunk)
        c.answerReady.connect(self._on_answer)
        c.finished.connect(self._on_finished)
        c.failed.connect(self._on_failed)
        c.progress.connect(lambda rid, m: rid == self.rid and self.status.setText(m))

    def _show_memory_hint(self, _index: int = 0) -> None:
        hint = self.controller.memory_hint(self.picker.choice())
        if hint:
            self.status.setText(hint)

    # -- intents ----------------------------------------------------------------------------
    def add_backend(self) -> None:
        try:
            choice = self.controller.add_choice(self.add_edit.text())
        except StudioError as exc:
            self._show_error(str(exc))
            return
        self.picker.select_label(choice.label)
        self.add_edit.clear()
        self._show_memory_hint()

    def save_server(self) -> None:
        try:
            name = self.controller.save_endpoint(self.add_edit.text())
        except StudioError as exc:
            self._show_error(str(exc))
            return
        self.status.setText(f"server saved as endpoint '{name}'")

    def forget_server(self) -> None:
        choice = self.picker.choice()
        name = choice.settings.get("endpoint") if choice is not None else None
        if not name:
            self._show_error("The selected backend is not a saved server")
            return
        self.controller.remove_endpoint(name)
        self.status.setText(f"endpoint '{name}' removed")

    def ask(self) -> None:
        try:
            spec = self.form.spec()
            choice = self.picker.choice()
            if choice is None:
                raise StudioError("Pick a backend first")
        except StudioError as exc:
            self._show_error(str(exc))
            return
        self.answer.clear()
        self.status.setText("loading model…")
        self._set_busy(True)
        self.rid = self.controller.run([choice], spec)

    def copy(self) -> None:
        QGuiApplication.clipboard().setText(self.answer.toPlainText())

    def save(self) -> None:
        try:
            kind, row = self.controller.save_last()
        except StudioError as exc:
            self._show_error(str(exc))
            return
        self.status.setText(f"saved as {kind} #{row}")
        self.ctx.message(f"Answer saved (#{row})")

    # -- controller events ------------------------------------------------------------------
    def _on_chunk(self, rid: int, pos: int, text: str) -> None:
        if rid == self.rid:
            self.answer.insertPlainText(text)

    def _on_answer(self, rid: int, pos: int, answer) -> None:
        if rid == self.rid:
            self.status.setText(stats_text(answer))

    def _on_finished(self, rid: int, answers) -> None:
        if rid == self.rid:
            self._set_busy(False)
            self.status.setText(stats_text(answers[0]))
            self.save_button.setEnabled(answers[0].status == "ok")

    def _on_failed(self, rid: int, message: str) -> None:
        if rid == self.rid:
            self._set_busy(False)
            self._show_error(message)

    def _show_error(self, message: str) -> None:
        self.status.setText(message)
        self.ctx.message(message)

    def _set_busy(self, busy: bool) -> None:
        self.ask_button.setEnabled(not busy)
        self.cancel_button.setEnabled(busy)
        self.save_button.setEnabled(not busy and self.controller.last is not None)
