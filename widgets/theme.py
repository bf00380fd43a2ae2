"""Themes: dark (Fusion, a dark palette and resources/styles/studio.qss) or light (Fusion)."""
from __future__ import annotations

from PySide6.QtGui import QColor, QPalette

from models import resources

THEME_KEY = "theme"            # user setting
THEMES = ("dark", "light")     # the first is the default


def dark_palette() -> QPalette:
    pal = QPalette()
    base, window, text = QColor(30, 31, 34), QColor(43, 45, 48), QColor(222, 224, 228)
    roles = {
        QPalette.ColorRole.Window: window, QPalette.ColorRole.WindowText: text,
        QPalette.ColorRole.Base: base, QPalette.ColorRole.AlternateBase: QColor(38, 40, 43),
        QPalette.ColorRole.ToolTipBase: QColor(250, 250, 235),
        QPalette.ColorRole.ToolTipText: QColor(20, 20, 20),
        QPalette.ColorRole.Text: text, QPalette.ColorRole.Button: QColor(55, 58, 62),
        QPalette.ColorRole.ButtonText: text, QPalette.ColorRole.BrightText: QColor(255, 90, 90),
        QPalette.ColorRole.Highlight: QColor(52, 120, 200),
        QPalette.ColorRole.HighlightedText: QColor(255, 255, 255),
        QPalette.ColorRole.PlaceholderText: QColor(140, 140, 145),
    }
    for role, color in roles.items():
        pal.setColor(role, color)
    for role in (QPalette.ColorRole.Text, QPalette.ColorRole.ButtonText,
                 QPalette.ColorRole.WindowText):
        pal.setColor(QPalette.ColorGroup.Disabled, role, QColor(120, 120, 125))
    return pal


def apply_theme(app, theme: str = "dark") -> None:
    """Fusion with the dark palette and style sheet, or (``light``) Fusion's own palette."""
    app.setStyle("Fusion")
    if theme == "light":
        app.setPalette(app.style().standardPalette())
        app.setStyleSheet("")
        return
    app.setPalette(dark_palette())
    qss = resources.path("styles", "studio.qss")
    if qss.is_file():
        app.setStyleSheet(qss.read_text(encoding="utf-8"))
