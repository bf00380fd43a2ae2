"""Text progress of a dataset run: one line per stage with a bar, rate, ETA and failures.

``ProgressPrinter`` redraws the lines in place on a terminal; on anything else (a log, a
pipe) it prints the lines again at most every ``every_s`` seconds, and once at the end.
"""
from __future__ import annotations

import sys
import time
from typing import Optional, TextIO

__all__ = ["ProgressPrinter", "stage_lines", "duration_text"]


def duration_text(seconds: Optional[float]) -> str:
    if seconds is None:
        return "--:--"
    s = int(max(0, seconds))
    h, rem = divmod(s, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def stage_lines(status: dict, bar: int = 24) -> list[str]:
    stages = status.get("stages") or []
    width = max([len(s.get("name", "")) for s in stages] + [5])
    lines = []
    for s in stages:
        total = max(0, int(s.get("total") or 0))
        finished = int(s.get("done") or 0) + int(s.get("failed") or 0) + int(s.get("blocked") or 0)
        frac = finished / total if total else 1.0
        fill = int(round(frac * bar))
        rate = float(s.get("items_per_s") or 0.0)
        line = (f"{s.get('name', '?'):<{width}} [{'#' * fill}{'.' * (bar - fill)}] "
                f"{finished}/{total} {rate:7.1f}/s ETA {duration_text(s.get('eta_s')):>7}"
                f"  failed {int(s.get('failed') or 0)}")
        if s.get("blocked"):
            line += f"  blocked {int(s['blocked'])}"
        lines.append(line)
    return lines


class ProgressPrinter:
    def __init__(self, stream: TextIO = sys.stderr, every_s: float = 5.0,
                 tty: Optional[bool] = None) -> None:
        self.stream = stream
        self.every_s = every_s
        self.tty = stream.isatty() if tty is None else tty
        self._drawn = 0
        self._last = 0.0

    def __call__(self, status: dict) -> None:
        final = status.get("state") not in (None, "running")
        now = time.monotonic()
        if not self.tty and not final and now - self._last < self.every_s:
            return
        self._last = now
        lines = stage_lines(status)
        if self.tty:
            if self._drawn:
                self.stream.write(f"\x1b[{self._drawn}F")
            for ln in lines:
                self.stream.write("\x1b[2K" + ln + "\n")
            self._drawn = len(lines)
        else:
            for ln in lines:
                self.stream.write(ln + "\n")
        self.stream.flush()
