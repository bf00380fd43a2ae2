"""Ask panel: one backend, one question about the clip on screen, streamed answer."""
from __future__ import annotations

from typing import Optional

from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (QHBoxLayout, QLabel, QLineEdit, QPlainTextEdit, QPushButton,
                               QVBoxLayout, QWidget)

from app.controllers.vlm import vlm_controller
from models.errors import StudioError

from .backend_picker import BackendPicker
from .prompt_form import PromptForm
from .request_view import RequestView, timing_text


def stats_text(answer) -> str:
    s = answer.stats
    line = timing_text(answer.status, answer.error, s.load_s, s.ttft_s, s.tokens_per_s,
                       s.prompt_tokens, s.peak_mem_bytes)
    if answer.status != "ok":
        return line
    mark = "" if answer.correct is None else ("  ✔ right" if answer.correct else "  ✘ wrong")
    return line + ("  n/a" if getattr(answer, "abstained", False) else mark)


class AskPanel(RequestView, QWidget):
    def __init__(self, ctx, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.controller = vlm_controller(ctx)
        self.rid = 0
        self.picker = BackendPicker(self.controller)
        self.add_edit = QLineEdit()
        self.add_edit.setPlaceholderText("checkpoint folder, cached id or http://host:port/v1#model")
        self.add_edit.setToolTip("Type a checkpoint folder, a Hugging Face id in the cache or "
                                 "a server URL and press Enter; it is remembered")
        self.add_button = QPushButton("Add")
        self.find_button = QPushButton("Find models")
        self.find_button.setToolTip("Look again in the Hugging Face cache, the model folders "
                                    "(File > Preferences) and the saved servers")
        self.help_button = QPushButton("How to get a model…")
        self.save_server_button = QPushButton("Save server")
        self.save_server_button.setToolTip("Remember this http(s) server in the project "
                                           "(its API key stays in an environment variable)")
        self.forget_button = QPushButton("Forget")
        self.forget_button.setToolTip("Remove the selected added model or saved server")
        self.form = PromptForm(ctx)
        self.ask_button, self.cancel_button = QPushButton("Ask"), QPushButton("Cancel")
        self.copy_button, self.save_button = QPushButton("Copy"), QPushButton("Save")
        self.answer = QPlainTextEdit()
        self.answer.setReadOnly(True)
        self.status = QLabel("")
        self.status.setWordWrap(True)
        self._layout()
        self._connect()
        self.start_button = self.ask_button
        self._set_busy(False)
        self.controller.refresh_choices()

    def _layout(self) -> None:
        add = QHBoxLayout()            # two short rows: the panel fits a narrow side dock
        add.addWidget(self.add_edit, 1)
        add.addWidget(self.add_button)
        models = QHBoxLayout()
        models.addWidget(self.find_button)
        models.addWidget(self.help_button)
        models.addStretch(1)
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
        lay.addLayout(models)
        lay.addLayout(servers)
        lay.addWidget(self.form)
        lay.addLayout(buttons)
        lay.addWidget(self.answer, 1)
        lay.addWidget(self.status)

    def _connect(self) -> None:
        c = self.controller
        self._connect_request()
        self.picker.currentIndexChanged.connect(self._show_memory_hint)
        self.add_button.clicked.connect(self.add_backend)
        self.add_edit.returnPressed.connect(self.add_backend)
        self.find_button.clicked.connect(self.find_models)
        self.help_button.clicked.connect(self.show_models_help)
        c.choicesChanged.connect(self._on_choices)
        self.save_server_button.clicked.connect(self.save_server)
        self.forget_button.clicked.connect(self.forget_server)
        self.ask_button.clicked.connect(self.ask)
        self.copy_button.clicked.connect(self.copy)
        c.chunk.connect(self._on_chunk)

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

    def find_models(self) -> None:
        self.status.setText("looking for models…")
        self.controller.refresh_choices()

    def show_models_help(self) -> None:
        from widgets.help import show_models_help  # noqa: PLC0415

        show_models_help(self)

    def _on_choices(self) -> None:
        n = len(self.controller.choices) - 1
        if n <= 0:
            self.status.setText("Only the rule-based describer is available (it describes "
                                "poses, it does not read questions). How to get a model…: "
                                "see the button above or the Help menu.")
        elif self.status.text().startswith(("looking for models", "Only the rule-based")):
            self.status.setText(f"{n} model{'s' if n != 1 else ''} available")

    def save_server(self) -> None:
        try:
            name = self.controller.save_endpoint(self.add_edit.text())
        except StudioError as exc:
            self._show_error(str(exc))
            return
        self.status.setText(f"server saved as endpoint '{name}'")

    def forget_server(self) -> None:
        choice = self.picker.choice()
        if choice is not None and self.controller.forget_choice(choice):
            self.status.setText(f"'{choice.label}' forgotten")
            return
        name = choice.settings.get("endpoint") if choice is not None else None
        if not name:
            self._show_error("The selected backend is neither an added model nor a saved "
                             "server")
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
        row = super().save()
        if row is not None:
            self.ctx.message(f"Answer saved (#{row})")

    # -- controller events ------------------------------------------------------------------
    def _on_chunk(self, rid: int, pos: int, text: str) -> None:
        if rid == self.rid:   # at the end, wherever the user clicked meanwhile
            cursor = self.answer.textCursor()
            cursor.movePosition(cursor.MoveOperation.End)
            cursor.insertText(text)

    def _on_answer(self, rid: int, pos: int, answer) -> None:
        if rid == self.rid:
            self.status.setText(stats_text(answer))

    def _on_finished(self, rid: int, answers) -> None:
        if rid == self.rid:
            self._set_busy(False)
            self.status.setText(stats_text(answers[0]))
            self.save_button.setEnabled(answers[0].status == "ok")
