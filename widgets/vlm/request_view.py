"""What the Ask panel and the Compare view share about one running request.

A host widget has ``ctx``, ``controller``, ``rid`` (the id of its latest request),
``status`` (a label), ``cancel_button``, ``save_button``,
``_on_answer`` / ``_on_finished`` slots, and names its start button in ``start_button``.
"""
from __future__ import annotations

from typing import Optional

from models.errors import StudioError
from models.vlm.checkpoint import fmt_bytes


def timing_text(status: str, error, load_s, ttft_s, tokens_per_s, prompt_tokens,
                peak_mem_bytes) -> str:
    """One line of an answer's timings (or its failure), live or read back from the store."""
    if status != "ok":
        return f"{status}: {error}"
    f = lambda v, fmt: "?" if v is None else format(v, fmt)  # noqa: E731
    return (f"load {f(load_s, '.2f')} s · TTFT {f(ttft_s, '.3f')} s · "
            f"{f(tokens_per_s, '.1f')} tok/s · prompt {f(prompt_tokens, 'd')} tok · "
            f"peak {fmt_bytes(peak_mem_bytes)}")


class RequestView:
    def _connect_request(self) -> None:
        """Signals every request view listens to; answers of older requests are ignored."""
        c = self.controller
        self.cancel_button.clicked.connect(c.cancel)
        self.save_button.clicked.connect(self.save)
        c.answerReady.connect(self._on_answer)
        c.finished.connect(self._on_finished)
        c.failed.connect(self._on_failed)
        c.progress.connect(lambda rid, m: rid == self.rid and self.status.setText(m))

    def save(self) -> Optional[int]:
        """Save the latest answer (or comparison); returns its row id, None on failure."""
        try:
            kind, row = self.controller.save_last()
        except StudioError as exc:
            self._show_error(str(exc))
            return None
        self.status.setText(f"saved as {kind} #{row}")
        return row

    def _on_failed(self, rid: int, message: str) -> None:
        if rid == self.rid:
            self._set_busy(False)
            self._show_error(message)

    def _show_error(self, message: str) -> None:
        self.status.setText(message)
        self.ctx.message(message)

    def _set_busy(self, busy: bool) -> None:
        self.start_button.setEnabled(not busy)
        self.cancel_button.setEnabled(busy)
        self.save_button.setEnabled(not busy and self.controller.last is not None)
