"""Text that changes with every displayed frame, without re-laying out the window.

A label's or button's ``setText`` asks its layout to recompute, and that request climbs
through every parent up to the main window, whose relayout re-places all docks (and, with
animated docks, starts a geometry animation per dock): per displayed frame while playing.
``set_steady_text`` gives the widget a fixed size that only ever grows (to fit the widest
text seen so far, never below its minimum), so a new text of no greater width repaints the
widget alone. ``reserve_text`` sizes it up front for the widest text a clip can show
(every digit counted at the font's widest digit), so playing never grows it at all.
"""
from __future__ import annotations


def set_steady_text(widget, text: str) -> None:
    """``widget.setText(text)`` (QLabel, QAbstractButton) that keeps the window's layout."""
    if widget.text() == text:
        return
    widget.setText(text)
    fixed = widget.minimumSize() == widget.maximumSize()
    need = widget.sizeHint().expandedTo(widget.minimumSize())
    if not fixed or need != widget.minimumSize():
        widget.setFixedSize(need)


def reserve_text(widget, sample: str) -> None:
    """Grow ``widget``'s fixed size (as ``set_steady_text`` keeps it) to fit ``sample`` with
    each digit drawn as the font's widest digit; the text shown does not change."""
    metrics = widget.fontMetrics()
    widest = max("0123456789", key=metrics.horizontalAdvance)
    shown = widget.text()
    widget.setText("".join(widest if c.isdigit() else c for c in sample))
    need = widget.sizeHint().expandedTo(widget.minimumSize())
    widget.setText(shown)
    need = need.expandedTo(widget.sizeHint())
    if need != widget.minimumSize() or widget.minimumSize() != widget.maximumSize():
        widget.setFixedSize(need)
