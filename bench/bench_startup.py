"""Cold-start benchmark: seconds from process start to the first window shown (offscreen).

Starts ``main.py`` (demo clip, no automatic extraction) in a fresh interpreter N times. The
child marks the moment the main window's first showEvent ran and reports which heavy
libraries were imported by then; the parent measures wall time from spawning the process
to that mark. Target: < 2 s; torch/transformers/mediapipe must not be loaded.

    .venv/bin/python bench/bench_startup.py [--runs N]
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
HEAVY = ("torch", "transformers", "mediapipe")

CHILD = r"""
import os, sys
sys.path.insert(0, os.getcwd())
import widgets.main_window as mw
_orig = mw.MainWindow.showEvent
def _shown(self, event):
    _orig(self, event)
    heavy = [m for m in %r if m in sys.modules]
    print("SHOWN " + (",".join(heavy) or "-"), flush=True)
    os._exit(0)
mw.MainWindow.showEvent = _shown
from widgets.gui_main import run_gui
sys.exit(run_gui(["--no-extract"]))
""" % (HEAVY,)


def one_run(home: str) -> tuple[float, str]:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", ACTIONART_HOME=home,
               XDG_CONFIG_HOME=os.path.join(home, "config"))
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", CHILD], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    for line in proc.stdout:
        if line.startswith("SHOWN"):
            elapsed = time.perf_counter() - t0
            proc.wait(timeout=30)
            return elapsed, line.split(" ", 1)[1].strip()
    proc.wait(timeout=30)
    raise SystemExit(f"child exited ({proc.returncode}) without showing a window")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    times, heavy = [], set()
    with tempfile.TemporaryDirectory() as home:
        one_run(home)  # first run creates the project file; not counted
        for _ in range(args.runs):
            t, h = one_run(home)
            times.append(t)
            heavy |= set(h.split(",")) - {"-"}
    med = statistics.median(times)
    print(f"first window shown: median {med:.2f} s, min {min(times):.2f} s, "
          f"max {max(times):.2f} s over {args.runs} runs (target < 2 s: "
          f"{'OK' if med < 2 else 'SLOW'})")
    print(f"heavy libraries imported at that point: {', '.join(sorted(heavy)) or 'none'}")
    return 0 if not heavy else 1


if __name__ == "__main__":
    sys.exit(main())
