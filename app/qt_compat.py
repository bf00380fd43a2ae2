"""A guard against a Qt binding defect, applied once when ``app`` is imported.

PySide6 6.12.0 treated Python's singletons as immortal (as CPython >= 3.12 does) while we run
CPython 3.11, where they are reference counted: every Python-side signal emit dropped one
reference to ``True`` and every call of a C++ method returning void (``painter.setPen``,
``setObjectName`` ...) dropped one reference to ``None``, so a playing video aborted within
seconds ("none_dealloc/bool_dealloc"). We pin 6.11.3, which does not leak (ADR 0007); this
module stays as a guard. It detects the leak with a few probe calls and, only when present,
gives these singletons a reference count so large that no session can exhaust it. With the
pinned binding the probe finds nothing and the module changes nothing.
"""
from __future__ import annotations

import ctypes
import sys

from PySide6.QtCore import QObject, Signal

PIN = 1 << 40
SINGLETONS = (None, True, False, Ellipsis, NotImplemented)


class _Probe(QObject):
    ping = Signal(int)


def leaks_singletons(calls: int = 8) -> bool:
    """True when void calls or emits from Python lose references to None/True."""
    probe = _Probe()
    probe.ping.connect(lambda _v: None)
    before = sys.getrefcount(None), sys.getrefcount(True)
    for _ in range(calls):
        probe.setObjectName("probe")
        probe.ping.emit(1)
    after = sys.getrefcount(None), sys.getrefcount(True)
    probe.deleteLater()
    return after[0] <= before[0] - calls or after[1] <= before[1] - calls


def pin_singletons() -> bool:
    """Apply the work-around if this binding needs it; returns whether it was applied."""
    if not leaks_singletons():
        return False
    for obj in SINGLETONS:
        # CPython object header: ob_refcnt is the first Py_ssize_t of every object.
        ctypes.c_ssize_t.from_address(id(obj)).value += PIN
    return True


APPLIED = pin_singletons()
