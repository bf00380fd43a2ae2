"""Precision of the pose describer and of QA synthesis on the gold truth set.

    .venv/bin/python bench/bench_truth.py [--gold tests/data/gold/labels.jsonl]
        [--only SUBSTRING] [--project FILE] [--json REPORT.json] [--no-qa] [--examples N]

Poses every source of the gold set once (clips through the same extraction and describe
path as ``main.py describe --json``; images as one-frame clips), judges every asserted fact
against the labels (``models.truth``) and prints, per fact kind and overall: claim precision,
coverage (gold labels the program asserts), QA answer precision (items synthesized on the
gold frames) and how many frames the gold marks unreliable were flagged by the program.
Pose tracks are cached in ``--project`` (default: a temporary project for this run).
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from cli.describe import frame_doc  # noqa: E402
from models import truth  # noqa: E402
from models.store import Repository  # noqa: E402

DEFAULT_GOLD = REPO / "tests" / "data" / "gold" / "labels.jsonl"


def _pct(v) -> str:
    return "   -  " if v is None else f"{100 * v:5.1f}%"


def print_report(r: dict, examples: int = 0) -> None:
    print(f"{'fact kind':24} {'correct':>7} {'wrong':>6} {'unscored':>8} {'precision':>9}")
    for kind, c in r["claims"].items():
        print(f"{kind:24} {c['correct']:7d} {c['wrong']:6d} {c['unscored']:8d} {_pct(c['precision']):>9}")
    o = r["overall"]
    print(f"{'OVERALL (mapped kinds)':24} {o['correct']:7d} {o['wrong']:6d} {o['unscored']:8d} "
          f"{_pct(o['precision']):>9}")
    print()
    print(f"{'coverage':24} {'asserted':>8} {'present':>7} {'coverage':>9}")
    for kind, c in r["coverage"].items():
        print(f"{kind:24} {c['asserted']:8d} {c['present']:7d} {_pct(c['coverage']):>9}")
    print(f"{'OVERALL':24} {'':8} {'':7} {_pct(r['coverage_overall']):>9}")
    print()
    print(f"{'QA sub-task':24} {'correct':>7} {'wrong':>6} {'unscored':>8} {'precision':>9}")
    for kind, c in r["qa"].items():
        print(f"{kind:24} {c['correct']:7d} {c['wrong']:6d} {c['unscored']:8d} {_pct(c['precision']):>9}")
    q = r["qa_overall"]
    print(f"{'QA OVERALL':24} {q['correct']:7d} {q['wrong']:6d} {q['unscored']:8d} {_pct(q['precision']):>9}")
    print()
    f = r["frames"]
    print(f"frames: {f['total']} (skeleton on a labelled person {f['on_subject']}, ghost {f['ghost']}, "
          f"on an unlabelled person {f['other_person']}, no pose {f['no_pose']})")
    print(f"unreliable frames flagged: {f['flagged_unreliable']} of {f['gold_unreliable']} the gold marks "
          f"unreliable (flagged although reliable: {f['flagged_reliable']})")
    for e in r["wrong_examples"][:examples]:
        print("  wrong:", e)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--gold", default=str(DEFAULT_GOLD))
    ap.add_argument("--only", default=None, help="score only records whose id contains this")
    ap.add_argument("--project", default=None, help="project file caching the pose tracks")
    ap.add_argument("--json", default=None, help="write the full report here")
    ap.add_argument("--no-qa", action="store_true")
    ap.add_argument("--examples", type=int, default=0, help="print N wrong claims")
    a = ap.parse_args(argv)
    records = truth.load_gold(a.gold)
    if a.only:
        records = [r for r in records if a.only in r["id"]]
    with tempfile.TemporaryDirectory() as tmp:
        repo = Repository(a.project or Path(tmp) / "truth.aastudio")
        try:
            tally = truth.run(records, lambda tr, v, f: frame_doc(tr, v, f), REPO, repo, qa=not a.no_qa)
        finally:
            repo.close()
    report = tally.report()
    print(f"gold set: {len(records)} frames from {len({r['source'] for r in records})} sources")
    print_report(report, a.examples)
    if a.json:
        Path(a.json).write_text(json.dumps(report, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
