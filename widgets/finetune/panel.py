"""Fine-tune panel: train a LoRA adapter on the project's accepted QA items (or an exported
proxy-training folder) from a base model of the model list; watch the loss per step and the
run's numbers (step / total, tokens per second, peak memory, time left); cancel (a
checkpoint is kept) and resume; then evaluate the base against base + adapter and see the
comparison in the Evaluation panel."""
from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import (QComboBox, QDoubleSpinBox, QFormLayout, QHBoxLayout, QLabel,
                               QLineEdit, QProgressBar, QPushButton, QSpinBox, QSplitter,
                               QVBoxLayout, QWidget)

from app.controllers.finetune import FinetuneController, RunRequest, can_resume, read_card
from widgets import dialogs

CHART_BG = (30, 31, 34)          # the app's dark plots
LOSS_COLOR = "#4C9BE8"
REDRAW_MS = 100                  # the curve is redrawn at most this often


def _eta(seconds) -> str:
    if not isinstance(seconds, (int, float)) or seconds < 0:
        return "—"
    s = int(round(seconds))
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"


def _bytes(n) -> str:
    if not isinstance(n, (int, float)) or n <= 0:
        return "—"
    return f"{n / 1024 ** 3:.2f} GiB" if n >= 1024 ** 3 else f"{n / 1024 ** 2:.0f} MiB"


class FinetunePanel(QWidget):
    def __init__(self, ctx, parent=None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.controller = FinetuneController(ctx, self)
        self.losses: dict[int, float] = {}        # step -> loss (the curve's points)
        self.total = 0
        self.card: dict = {}
        self.last_info: dict = {}                 # the newest step's numbers
        self._redraw = QTimer(self)
        self._redraw.setSingleShot(True)
        self._redraw.setInterval(REDRAW_MS)
        self._redraw.timeout.connect(self.draw_curve)
        self._build()
        c = self.controller
        c.started.connect(self._on_started)
        c.step.connect(self._on_step)
        c.history.connect(self._on_history)
        c.progress.connect(self._on_progress)
        c.finished.connect(self._on_finished)
        c.cancelled.connect(self._on_cancelled)
        c.failed.connect(self._on_failed)
        c.evaluated.connect(self._on_evaluated)
        c.evalProgress.connect(self._on_eval_progress)
        ctx.vlm.choicesChanged.connect(self.refresh_models)
        self.refresh_models()
        self._update_buttons()

    # -- layout -------------------------------------------------------------------------------
    def _build(self) -> None:
        self.base_combo = QComboBox()
        self.base_combo.setEditable(True)
        self.base_combo.setToolTip("a local checkpoint of the model list (or type its folder)")
        self.base_combo.lineEdit().setPlaceholderText("base checkpoint folder")
        find = QPushButton("Find models")
        find.clicked.connect(self.ctx.vlm.refresh_choices)
        self.source_combo = QComboBox()
        self.source_combo.addItem("this project's accepted items", "project")
        self.source_combo.addItem("a proxy-training folder", "proxy")
        self.source_combo.currentIndexChanged.connect(lambda *_: self._source_changed())
        self.proxy_edit = QLineEdit(placeholderText="exported proxy-training folder")
        self.proxy_browse = QPushButton("Browse…")
        self.proxy_browse.clicked.connect(lambda: self._browse(self.proxy_edit, "Proxy-training folder"))
        self.video_edit = QLineEdit(placeholderText="videos folder (blank: the project's)")
        self.rank_spin = QSpinBox(minimum=1, maximum=1024, value=8)
        self.alpha_spin = QDoubleSpinBox(minimum=0.0, maximum=4096.0, value=16.0, decimals=1)
        self.lr_edit = QLineEdit("2e-4")
        self.lr_edit.setToolTip("learning rate, in (0, 1]")
        self.epochs_spin = QSpinBox(minimum=1, maximum=10000, value=3)
        self.frames_spin = QSpinBox(minimum=1, maximum=256, value=8)
        self.pixels_spin = QSpinBox(minimum=1, maximum=4096 * 4096, value=448 * 448,
                                    singleStep=1024)
        self.pixels_spin.setToolTip("pixels per frame (width × height)")
        self.length_spin = QSpinBox(minimum=1, maximum=1_000_000, value=4096)
        self.length_spin.setToolTip("tokens per example: prompt, frames and answer")
        self.seed_spin = QSpinBox(minimum=0, maximum=2 ** 31 - 1, value=0)
        self.held_spin = QDoubleSpinBox(minimum=0.0, maximum=0.9, value=0.0, decimals=2,
                                        singleStep=0.05)
        self.held_spin.setToolTip("fraction of clips kept out of training (evaluated on later)")
        self.out_edit = QLineEdit(placeholderText="new folder for the adapter and its checkpoints")
        self.out_edit.textChanged.connect(lambda *_: self._update_buttons())
        out_browse = QPushButton("Browse…")
        out_browse.clicked.connect(lambda: self._browse(self.out_edit, "Output folder"))

        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.addRow("Base model", self._row(self.base_combo, find))
        form.addRow("Items", self.source_combo)
        form.addRow("Proxy folder", self._row(self.proxy_edit, self.proxy_browse))
        form.addRow("Videos", self.video_edit)
        form.addRow("LoRA", self._row(QLabel("rank"), self.rank_spin, QLabel("alpha"), self.alpha_spin))
        form.addRow("Training", self._row(QLabel("lr"), self.lr_edit, QLabel("epochs"),
                                          self.epochs_spin))
        form.addRow("Inputs", self._row(QLabel("frames"), self.frames_spin, QLabel("pixels"),
                                        self.pixels_spin))
        form.addRow("", self._row(QLabel("max length"), self.length_spin, QLabel("seed"),
                                  self.seed_spin))
        form.addRow("Held out", self.held_spin)
        form.addRow("Output", self._row(self.out_edit, out_browse))

        self.start_button = QPushButton("Start")
        self.start_button.clicked.connect(self.start)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(self.controller.cancel)
        self.resume_button = QPushButton("Resume")
        self.resume_button.clicked.connect(self.resume)
        self.resume_button.setToolTip("go on from the newest checkpoint in the output folder")
        self.eval_button = QPushButton("Evaluate base vs tuned")
        self.eval_button.clicked.connect(self.evaluate)
        self.eval_button.setToolTip("evaluate the base and base + adapter on the held-out items "
                                    "(the training items when none was held out); the "
                                    "comparison opens in the Evaluation panel")
        buttons = QHBoxLayout()
        for b in (self.start_button, self.cancel_button, self.resume_button, self.eval_button):
            buttons.addWidget(b)
        buttons.addStretch(1)

        setup = QWidget()
        col = QVBoxLayout(setup)
        col.setContentsMargins(0, 0, 0, 0)
        col.addLayout(form)
        col.addLayout(buttons)
        col.addStretch(1)

        self.plot = pg.PlotWidget(background=CHART_BG)
        self.plot.setMinimumHeight(160)
        self.plot.setLabel("left", "training loss")
        self.plot.setLabel("bottom", "step")
        self.plot.showGrid(x=True, y=True, alpha=0.15)
        self.curve = self.plot.plot([], [], pen=pg.mkPen(LOSS_COLOR, width=2), symbol="o",
                                    symbolSize=4, symbolBrush=LOSS_COLOR, symbolPen=None)
        self.stats = QLabel("No run yet.")
        self.stats.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.stats.setWordWrap(True)
        self.progress_bar = QProgressBar()
        self.progress_bar.setFormat("%v/%m")
        curve = QWidget()
        right = QVBoxLayout(curve)
        right.setContentsMargins(0, 0, 0, 0)
        right.addWidget(self.stats)
        right.addWidget(self.progress_bar)
        right.addWidget(self.plot, 1)

        self.split = QSplitter(Qt.Orientation.Horizontal)
        self.split.setChildrenCollapsible(False)
        self.split.addWidget(setup)
        self.split.addWidget(curve)
        self.split.setStretchFactor(0, 2)
        self.split.setStretchFactor(1, 3)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addWidget(self.split)
        self._source_changed()

    @staticmethod
    def _row(*widgets) -> QWidget:
        w = QWidget()
        row = QHBoxLayout(w)
        row.setContentsMargins(0, 0, 0, 0)
        for x in widgets:
            row.addWidget(x, 1 if isinstance(x, (QLineEdit, QComboBox)) else 0)
        return w

    def _browse(self, edit: QLineEdit, caption: str) -> None:
        path = dialogs.open_folder(self, caption, edit.text())
        if path:
            edit.setText(path)

    def _source_changed(self) -> None:
        proxy = self.source_combo.currentData() == "proxy"
        self.proxy_edit.setEnabled(proxy)
        self.proxy_browse.setEnabled(proxy)

    def refresh_models(self) -> None:
        typed = self.base_combo.currentText()
        self.base_combo.blockSignals(True)
        self.base_combo.clear()
        for label, spec in self.controller.base_choices():
            self.base_combo.addItem(label, spec)
        self.base_combo.setEditText(typed)
        self.base_combo.blockSignals(False)

    # -- the request ------------------------------------------------------------------------------
    def base_spec(self) -> str:
        text = self.base_combo.currentText().strip()
        i = self.base_combo.findText(text)
        return str(self.base_combo.itemData(i)) if i >= 0 and self.base_combo.itemData(i) else text

    def set_base(self, spec: str) -> None:
        i = self.base_combo.findData(spec)
        if i >= 0:
            self.base_combo.setCurrentIndex(i)
        else:
            self.base_combo.setEditText(spec)

    def request(self) -> RunRequest:
        lr_text = self.lr_edit.text().strip()
        try:
            lr: object = float(lr_text)
        except ValueError:
            lr = lr_text                       # refused by the config with the setting's name
        settings = {"rank": self.rank_spin.value(), "alpha": float(self.alpha_spin.value()),
                    "learning_rate": lr, "epochs": self.epochs_spin.value(),
                    "frames": self.frames_spin.value(), "max_pixels": self.pixels_spin.value(),
                    "max_length": self.length_spin.value(), "seed": self.seed_spin.value(),
                    "held_out": float(self.held_spin.value())}
        settings.update(self.extra_settings())
        return RunRequest(self.base_spec(), self.out_edit.text().strip(),
                          str(self.source_combo.currentData()), self.proxy_edit.text().strip(),
                          self.video_edit.text().strip(), settings)

    def extra_settings(self) -> dict:
        """Settings without a field here (tests and scripts set ``extra``)."""
        return dict(getattr(self, "extra", {}) or {})

    # -- intents ------------------------------------------------------------------------------
    def start(self) -> bool:
        self._reset_curve()
        return self.controller.start(self.request())

    def resume(self) -> bool:
        return self.controller.resume(self.request())

    def evaluate(self) -> bool:
        ok = self.controller.evaluate(self.out_edit.text().strip())
        if ok:
            self.stats.setText(self.stats.text() + "\nEvaluating the base and the tuned model…")
        self._update_buttons()
        return ok

    def _update_buttons(self) -> None:
        busy = self.controller.busy or self.controller.evaluating
        out = self.out_edit.text().strip()
        self.start_button.setEnabled(not busy)
        self.cancel_button.setEnabled(self.controller.busy)
        self.resume_button.setEnabled(not busy and can_resume(out))
        self.eval_button.setEnabled(not busy and read_card(out) is not None
                                    if out else False)

    # -- the curve and the numbers ----------------------------------------------------------------
    def _reset_curve(self) -> None:
        self.losses.clear()
        self.total = 0
        self.draw_curve()

    def points(self) -> tuple[list, list]:
        steps = sorted(self.losses)
        return steps, [self.losses[s] for s in steps]

    def draw_curve(self) -> None:
        xs, ys = self.points()
        self.curve.setData(xs, ys)

    def _on_started(self, resume: bool) -> None:
        self.progress_bar.setValue(0)
        self.stats.setText("Resuming…" if resume else "Loading the base and preparing the items…")
        self._update_buttons()

    def _on_history(self, losses: list) -> None:
        self.losses = {int(x["step"]): float(x["loss"]) for x in losses}
        self._redraw.start()

    def _on_step(self, info: dict) -> None:
        step = int(info["step"])
        self.losses = {s: v for s, v in self.losses.items() if s < step}   # a resume's overlap
        self.losses[step] = float(info["loss"])
        self.total = int(info.get("total") or self.total)
        self.last_info = dict(info)
        self.progress_bar.setMaximum(max(1, self.total))
        self.progress_bar.setValue(step)
        self.progress_bar.setFormat("step %v/%m")
        self.stats.setText(
            f"step {step}/{self.total} · epoch {int(info.get('epoch', 0)) + 1} · "
            f"loss {info['loss']:.4f} · {info.get('tokens_per_s', 0):.0f} tokens/s · "
            f"peak memory {_bytes(info.get('peak_memory'))} · ETA {_eta(info.get('eta_s'))}")
        if not self._redraw.isActive():
            self._redraw.start()

    def _on_progress(self, done: int, total: int, message: str) -> None:
        if message.startswith("preparing"):
            self.progress_bar.setMaximum(max(1, total))
            self.progress_bar.setValue(done)
            self.progress_bar.setFormat("preparing %v/%m")

    def _on_finished(self, card: dict) -> None:
        self.card = card
        self._redraw.stop()
        self.draw_curve()
        res = card.get("result", {})
        data = card.get("data", {})
        held = res.get("held_out_loss")
        self.stats.setText(
            f"Done: {res.get('steps')} steps in {res.get('seconds', 0):.0f} s, loss "
            f"{res.get('first_loss', 0):.4f} → {res.get('final_loss', 0):.4f}"
            + (f", held-out loss {held:.4f}" if isinstance(held, (int, float)) else "")
            + (f" · {self.last_info.get('tokens_per_s', 0):.0f} tokens/s · peak memory "
               f"{_bytes(self.last_info.get('peak_memory'))}" if self.last_info else "")
            + f"\n{data.get('train_items', 0)} training item(s), "
            f"{data.get('held_out_items', 0)} held out; adapter in {self.out_edit.text().strip()}")
        self.ctx.message("Fine-tune finished")
        self._update_buttons()

    def _on_cancelled(self, step: int) -> None:
        self._redraw.stop()
        self.draw_curve()
        self.stats.setText(f"Cancelled at step {step}/{self.total}; a checkpoint was kept: "
                           "Resume goes on from it.")
        self._update_buttons()

    def _on_failed(self, title: str, message: str) -> None:
        self._update_buttons()
        self.ctx.message(message, 0)
        dialogs.error(title, message, self)

    def _on_eval_progress(self, done: int, total: int, label: str) -> None:
        self.progress_bar.setMaximum(max(1, total))
        self.progress_bar.setValue(done)
        self.progress_bar.setFormat(f"evaluating {label}: %v/%m")

    def _on_evaluated(self, base_run: int, tuned_run: int, note: str) -> None:
        """Open the comparison (base = A, tuned = B) in the Evaluation panel."""
        self._update_buttons()
        self.progress_bar.setFormat("evaluated")
        self.last_eval = (base_run, tuned_run)
        win = self.window()
        panels = getattr(win, "panels", {})
        evaluation = panels.get("evaluation") if isinstance(panels, dict) else None
        if evaluation is None or not hasattr(win, "show_panel"):
            self.ctx.message(f"Evaluated: runs {base_run} (base) and {tuned_run} (tuned); "
                             "open them in the Evaluation panel", 0)
            return
        win.show_panel("evaluation")
        evaluation.refresh_runs()
        evaluation.select_runs([base_run, tuned_run])
        evaluation.show_runs([base_run, tuned_run])
        evaluation.show_comparison(base_run, tuned_run, f"Base vs tuned on {note}.")
        self.ctx.message("Base vs tuned: the comparison is in the Evaluation panel")
