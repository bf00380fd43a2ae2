"""Evaluation reports: one row per (run, sub-task) plus mean-over-tasks and overall rows,
as CSV or Markdown; the unparseable answers listed per run."""
from __future__ import annotations

from typing import TYPE_CHECKING

import csv
import io

from .evaluate import Score, run_score

if TYPE_CHECKING:
    from .qa.storage import EvalStore

MEAN, OVERALL = "mean over sub-tasks", "overall (micro)"


def _pct(x) -> str:
    return "" if x is None else f"{100.0 * x:.1f}"


def score_rows(label: str, s: Score) -> list[dict]:
    rows = [{"model": label, "sub_task": t.task, "n": t.n, "correct": t.correct,
             "accuracy": _pct(t.accuracy), "unparseable": t.unparseable,
             "abstained": t.abstained} for t in s.tasks.values()]
    totals = {"n": s.n, "correct": s.correct, "unparseable": len(s.unparseable),
              "abstained": sum(t.abstained for t in s.tasks.values())}
    rows += [{"model": label, "sub_task": name, **totals, "accuracy": _pct(acc)}
             for name, acc in ((MEAN, s.mean_over_tasks), (OVERALL, s.overall))]
    return rows


def run_label(run: dict) -> str:
    return f"#{run['id']} {run['name']}"


def report(repo, run_ids) -> tuple[list[dict], dict]:
    """(rows of every run, unparseable qa_ids per run label); each run is scored once."""
    rows, unparseable = [], {}
    for run_id in run_ids:
        label, s = run_label(repo.eval_run(run_id)), run_score(repo, run_id)
        rows += score_rows(label, s)
        unparseable[label] = s.unparseable
    return rows, unparseable


def report_rows(repo: EvalStore, run_ids) -> list[dict]:
    return report(repo, run_ids)[0]


COLUMNS = ("model", "sub_task", "n", "correct", "accuracy", "unparseable", "abstained")


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value):
    """A text cell a spreadsheet would run as a formula gets a leading quote; numbers stay."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def to_csv(rows: list[dict]) -> str:
    """RFC 4180 CSV (CRLF rows, so cells holding a line break or CR are quoted) with
    formula-like text cells neutralised."""
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=COLUMNS, lineterminator="\r\n")
    w.writeheader()
    w.writerows({k: safe_cell(v) for k, v in row.items()} for row in rows)
    return buf.getvalue()


def to_markdown(rows: list[dict], unparseable: dict | None = None) -> str:
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(str(r[c]).replace("|", "\\|") for c in COLUMNS) + " |"
              for r in rows]
    for label, ids in (unparseable or {}).items():
        if ids:
            lines += ["", f"Unparseable answers of {label}: " + ", ".join(ids)]
    return "\n".join(lines) + "\n"


def unparseable_by_run(repo: EvalStore, run_ids) -> dict:
    return report(repo, run_ids)[1]
