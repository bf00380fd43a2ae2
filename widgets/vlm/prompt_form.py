"""The question / template / frames / generation controls shared by Ask and Compare."""
from __future__ import annotations

from typing import Optional

from PySide6.QtWidgets import (QCheckBox, QComboBox, QDoubleSpinBox, QFormLayout, QHBoxLayout,
                               QLineEdit, QSpinBox, QWidget)

from models.errors import StudioError
from models.vlm.frames import FrameSelection
from models.vlm.prompts import load_templates
from models.vlm.service import AskSpec
from models.vlm.types import GenerationParams

FRAME_MODES = (("clip", "N frames over the clip"), ("window", "N frames over frames start..end"),
               ("rate", "Frames per second (at most N; window if end > start)"),
               ("marked", "Marked frames A / B"), ("current", "Current frame"))


def _spin(lo: int, hi: int, value: int) -> QSpinBox:
    s = QSpinBox()
    s.setRange(lo, hi)
    s.setValue(value)
    return s


def _narrow(combo: QComboBox) -> QComboBox:
    """A combo box whose width does not follow its longest entry (narrow side docks)."""
    combo.setMinimumContentsLength(12)
    combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
    return combo


class PromptForm(QWidget):
    def __init__(self, ctx, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.template = _narrow(QComboBox())
        for t in load_templates().values():
            self.template.addItem(f"{t.title} (v{t.version})", t.id)
        self.question = QLineEdit()
        self.question.setPlaceholderText("Question about the clip")
        self.options = QLineEdit()
        self.options.setPlaceholderText("MCQ options: left arm | right arm | both")
        self.answer = _spin(-1, 7, -1)
        self.answer.setSpecialValueText("unknown")
        self.answer.setToolTip("Index of the right option (0 = A); marks answers right/wrong")
        self.mode = _narrow(QComboBox())
        for key, text in FRAME_MODES:
            self.mode.addItem(text, key)
        self.count, self.start, self.end = _spin(1, 64, 8), _spin(0, 10 ** 7, 0), _spin(0, 10 ** 7, 0)
        self.rate = QDoubleSpinBox()
        self.rate.setRange(0.05, 60.0)
        self.rate.setValue(1.0)
        self.rate.setSuffix(" fps")
        self.rate.setToolTip("Sampling rate for the 'frames per second' mode")
        self.grounding = QCheckBox("Pose grounding")
        self.grounding.setToolTip("Append the rule-based pose facts of the sampled frames "
                                  "to the prompt")
        self.max_tokens, self.seed = _spin(1, 4096, 128), _spin(0, 2 ** 31 - 1, 0)
        self._layout()

    def _layout(self) -> None:
        form = QFormLayout(self)
        form.setContentsMargins(0, 0, 0, 0)
        # in a narrow dock a label goes above its field instead of widening the panel
        form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapLongRows)
        form.addRow("Template", self.template)
        form.addRow("Question", self.question)
        opts = QHBoxLayout()
        opts.addWidget(self.options, 1)
        opts.addWidget(self.answer)
        form.addRow("Options / right", opts)
        frames = QHBoxLayout()
        frames.addWidget(self.mode, 1)
        frames.addWidget(self.count)
        frames.addWidget(self.rate)
        form.addRow("Frames", frames)
        window = QHBoxLayout()
        window.addWidget(self.start)
        window.addWidget(self.end)
        form.addRow("Window start / end", window)
        gen = QHBoxLayout()
        gen.addWidget(self.max_tokens)
        gen.addWidget(self.seed)
        form.addRow("Max tokens / seed", gen)
        form.addRow("", self.grounding)

    def set_template(self, template_id: str) -> None:
        self.template.setCurrentIndex(max(0, self.template.findData(template_id)))

    def set_mode(self, key: str) -> None:
        self.mode.setCurrentIndex(max(0, self.mode.findData(key)))

    # -- reading the form ---------------------------------------------------------------------
    def selection(self, video: str) -> FrameSelection:
        mode = self.mode.currentData()
        if mode == "marked":
            marks = self.ctx.marks.frames_in(video)
            if not marks:
                raise StudioError("No frames of this clip are marked; mark frame A (and B) first")
            return FrameSelection("marked", marked=tuple(marks[k] for k in sorted(marks)))
        if mode == "current":
            return FrameSelection("marked", marked=(max(0, self.ctx.player.current_frame),))
        if mode == "window":
            return FrameSelection(count=self.count.value(), start=self.start.value(),
                                  end=self.end.value())
        if mode == "rate":
            windowed = self.end.value() > self.start.value()
            return FrameSelection("rate", count=self.count.value(), rate=self.rate.value(),
                                  start=self.start.value() if windowed else None,
                                  end=self.end.value() if windowed else None)
        return FrameSelection(count=self.count.value())

    def spec(self) -> AskSpec:
        video = self.ctx.player.path
        if not video:
            raise StudioError("Open a clip first")
        if self.template.currentData() == "free" and not self.question.text().strip():
            raise StudioError("The question is empty; type a question or choose a template")
        options = [o.strip() for o in self.options.text().split("|") if o.strip()]
        answer = self.answer.value()
        return AskSpec(str(video), self.question.text(), self.template.currentData(),
                       self.selection(str(video)), options,
                       answer if answer >= 0 and options else None, self.grounding.isChecked(),
                       GenerationParams(self.max_tokens.value(), 0.0, 1.0, self.seed.value()))
