from . import qt_compat  # noqa: F401  (PySide6 6.12.0 signal-emit refcount work-around)
