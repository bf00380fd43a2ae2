"""qa-check speed on many items of one clip and one sub-task (the worst case for the
duplicate search, which compares items within a clip and sub-task).

    .venv/bin/python bench/bench_qa_check.py [--items 100000] [--compare 5000]

Prints (one run, same machine):
* the time of ``python main.py qa-check --project P`` (in-process: load + checks) on a
  real project file holding ``--items`` generated items (about a third repeat or vary
  an earlier question), and of the checks alone on the loaded records (target < 10 s);
* on ``--compare`` of those items: the time of the previous pairwise duplicate search and
  of the current one, their ratio, and whether both found exactly the same items.
"""
from __future__ import annotations

import argparse
import contextlib
import io
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from main import main  # noqa: E402
from models.qa import checks  # noqa: E402
from models.store import Repository  # noqa: E402
from tests.models.qa_reference import duplicates_pairwise, generated_items  # noqa: E402


def _timed(fn, *args):
    """Result and wall seconds; the CPU seconds of the last call are in _timed.cpu (on a
    shared machine the wall time also counts other people's work)."""
    t, c = time.perf_counter(), time.process_time()
    out = fn(*args)
    _timed.cpu = time.process_time() - c
    return out, time.perf_counter() - t


def main_bench() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--items", type=int, default=100_000)
    ap.add_argument("--compare", type=int, default=5_000)
    args = ap.parse_args()
    items = generated_items(args.items, seed=7)  # one clip, one sub-task
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "bench.aastudio")
        repo = Repository(path)
        _, t_insert = _timed(lambda: [repo.add_qa_items(items[i:i + 10_000])
                                      for i in range(0, len(items), 10_000)])
        records = repo.qa_records()
        repo.close()
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            rc, t_cli = _timed(main, ["qa-check", "--project", path])
        cpu_cli = _timed.cpu
        if rc != 0:
            print(f"qa-check failed ({rc})", file=sys.stderr)
            return 1
    report, t_checks = _timed(checks.quality_report, records)
    print(f"{len(records)} items on one clip and sub-task (inserted in {t_insert:.1f} s)")
    print(f"qa-check command (load + checks): {t_cli:.2f} s (CPU {cpu_cli:.2f} s)   "
          f"checks alone: {t_checks:.2f} s (CPU {_timed.cpu:.2f} s)")
    print("  " + "; ".join(f"{k}: {v}" for k, v in sorted(report["flag_counts"].items())))
    sample = records[:args.compare]
    old, t_old = _timed(duplicates_pairwise, sample)
    new, t_new = _timed(checks.duplicates, sample)
    same = list(old.items()) == list(new.items())
    print(f"duplicate search on {len(sample)} items: pairwise {t_old:.2f} s, "
          f"current {t_new:.3f} s, ratio {t_old / max(t_new, 1e-9):.0f}x, "
          f"same findings: {same} ({len(new)} flagged)")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main_bench())
