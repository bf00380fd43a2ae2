"""Evaluation reports: one row per (run, sub-task) plus mean-over-tasks and overall rows,
as CSV or Markdown; the unparseable answers listed per run. Two runs on the same items
(base vs tuned): per sub-task the difference with its bootstrap interval and the flipped
items, as JSON-ready data (``comparison_dict``) or Markdown (``comparison_markdown``)."""
from __future__ import annotations

from typing import TYPE_CHECKING, Optional

import csv
import io

from .evaluate import Comparison, Score, TaskDelta, run_score

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


# -- base vs tuned: two runs on the same items ----------------------------------------------
COMPARE_COLUMNS = ("sub_task", "n", "accuracy_a", "accuracy_b", "difference", "ci_low",
                   "ci_high", "became_correct", "became_wrong")


def _pts(x) -> Optional[float]:
    return None if x is None else round(100.0 * x, 2)


def delta_row(d: TaskDelta) -> dict:
    """One sub-task (or the overall row) in percentage points."""
    return {"sub_task": d.task, "n": d.n, "accuracy_a": _pts(d.accuracy_a),
            "accuracy_b": _pts(d.accuracy_b), "difference": _pts(d.diff),
            "ci_low": _pts(d.low), "ci_high": _pts(d.high),
            "became_correct": len(d.to_correct), "became_wrong": len(d.to_wrong)}


def comparison_dict(c: Comparison, label_a: str = "", label_b: str = "") -> dict:
    """Machine-readable comparison: per sub-task rows, the overall row, the flipped items
    with their sub-task and question (accuracies and differences in percentage points)."""
    def items(ids) -> list[dict]:
        return [{"qa_id": q, "task": c.questions.get(q, ("?", ""))[0],
                 "question": c.questions.get(q, ("?", ""))[1]} for q in ids]
    return {"run_a": c.run_a, "run_b": c.run_b, "model_a": label_a, "model_b": label_b,
            "items": c.common, "bootstrap": {"resamples": c.resamples, "seed": c.seed,
                                             "level": c.level, "paired": True},
            "tasks": [delta_row(d) for d in c.tasks.values()],
            "overall": delta_row(c.overall),
            "became_correct": items(c.to_correct), "became_wrong": items(c.to_wrong),
            "changed_same_result": list(c.changed)}


def _signed(x) -> str:
    return "" if x is None else f"{x:+.1f}"


def _num(x) -> str:
    return "" if x is None else f"{x:.1f}"


def comparison_markdown(data: dict, title: str = "") -> str:
    """A ``comparison_dict`` as Markdown: the table (A, B, B - A and its interval, flips)
    and the flipped items listed with their questions."""
    a, b = data["model_a"] or f"run #{data['run_a']}", data["model_b"] or f"run #{data['run_b']}"
    level = round(100 * data["bootstrap"]["level"])
    lines = [f"## {title}", ""] if title else []
    lines += [f"A = {a}, B = {b}: {data['items']} items answered by both; B - A in "
              f"percentage points with its {level} % paired bootstrap interval "
              f"({data['bootstrap']['resamples']} resamples, seed {data['bootstrap']['seed']})",
              "", "| sub-task | n | A % | B % | B - A | " + f"{level} % CI | right→wrong | "
              "wrong→right |", "|---|---|---|---|---|---|---|---|"]
    for r in data["tasks"] + [data["overall"]]:
        ci = f"[{_signed(r['ci_low'])}, {_signed(r['ci_high'])}]" if r["ci_low"] is not None else ""
        lines.append(f"| {str(r['sub_task']).replace('|', '/')} | {r['n']} | "
                     f"{_num(r['accuracy_a'])} | {_num(r['accuracy_b'])} | "
                     f"{_signed(r['difference'])} | {ci} | {r['became_wrong']} | "
                     f"{r['became_correct']} |")
    for key, name in (("became_wrong", "right → wrong"), ("became_correct", "wrong → right")):
        lines += ["", f"{name} ({len(data[key])}):"]
        lines += [f"- {it['qa_id']} [{it['task']}] {one_line(it['question'])}"
                  for it in data[key]]
    return "\n".join(lines) + "\n"


def one_line(text: str, limit: int = 200) -> str:
    flat = " ".join(str(text or "").split())
    return flat if len(flat) <= limit else flat[:limit - 1] + "…"
