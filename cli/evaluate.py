"""`eval`: run one or several models (and the rule-based reference) over a project's QA set
with the same frame sampling and prompt; resumes unfinished runs; prints the table and
writes CSV/Markdown reports; ``--list`` / ``--runs`` / ``--compare`` reopen past runs and
list the items that flipped between two (no Qt imported)."""
from __future__ import annotations

import sys
from pathlib import Path

from cli.argtypes import positive_int


def register(sub) -> None:
    ev = sub.add_parser("eval", help="evaluate models over a project's QA set")
    ev.add_argument("project_file", metavar="PROJECT", help="project file (.aastudio)")
    ev.add_argument("--model", nargs="+", default=None,
                    help="checkpoint folder, http(s)://server/v1#model, or 'rule' (reference)")
    ev.add_argument("--runs", nargs="+", type=int, default=None, metavar="RUN",
                    help="report past runs (ids) instead of evaluating")
    ev.add_argument("--compare", nargs=2, type=int, default=None, metavar=("A", "B"),
                    help="list the items whose correctness flipped between two past runs")
    ev.add_argument("--list", action="store_true", help="list the project's past runs")
    ev.add_argument("--reference", action="store_true",
                    help="also evaluate the rule-based reference where it can answer")
    ev.add_argument("--status", nargs="+", default=["accepted"], help="review statuses (default accepted)")
    ev.add_argument("--tasks", nargs="+", default=None, help="only these sub-tasks")
    ev.add_argument("--imported", action="store_true",
                    help="evaluate the items imported from other benchmarks (any status)")
    ev.add_argument("--qa-file", default=None,
                    help="evaluate the items of this file (canonical JSONL, an export's data "
                         "JSONL, MVBench/Video-MME JSON) instead of the project's QA set")
    ev.add_argument("--frames", type=int, default=8, help="frames per item (default 8)")
    ev.add_argument("--max-new-tokens", type=int, default=16)
    ev.add_argument("--template", default="mcq-letter-v1",
                    help="prompt template: mcq-letter-v1 (default), mcq-letter-text-v1, mcq-plain-v1")
    ev.add_argument("--device", default="auto", help="auto, cpu, cuda, mps")
    ev.add_argument("--concurrency", type=positive_int, default=None, metavar="N",
                    help="requests asked at once (default: an HTTP endpoint's concurrency, "
                         "e.g. 8; 1 for a local model, which batches N rows when given)")
    ev.add_argument("--video-root", default=None, help="folder of the items' videos")
    ev.add_argument("--csv", default=None, help="write the report as CSV here")
    ev.add_argument("--md", default=None, help="write the report as Markdown here")
    ev.add_argument("--quiet", action="store_true", help="no progress line")
    ev.set_defaults(func=run)


def _progress(quiet: bool):
    def show(done: int, total: int, message: str) -> None:
        if not quiet:
            print(f"\r{message}: {done}/{total}", end="" if done < total else "\n",
                  file=sys.stderr, flush=True)
    return show


def _write(path, text: str) -> None:
    from models.errors import StudioError  # noqa: PLC0415

    try:
        Path(path).write_text(text, encoding="utf-8")
    except OSError as exc:
        raise StudioError(f"Cannot write {path}: {exc.strerror or exc}") from None


def _records(repo, args) -> list:
    from models.evaluate import EvalError  # noqa: PLC0415
    from models.importers import load_file  # noqa: PLC0415

    if args.qa_file:
        records = load_file(args.qa_file).records
        if args.tasks:
            records = [r for r in records if r.task in args.tasks]
    elif args.imported:
        records = [r for r in repo.qa_records({"task": args.tasks or None})
                   if str(r.source).startswith("import:")]
    else:
        records = repo.qa_records({"status": args.status, "task": args.tasks or None})
    if not records and args.imported:
        raise EvalError(f"Nothing to evaluate: no imported items in {args.project_file}")
    if not records:
        raise EvalError("Nothing to evaluate: no items with status " + ", ".join(args.status)
                        if not args.qa_file else f"Nothing to evaluate in {args.qa_file}")
    return records


def _past(repo, args) -> tuple[str, list]:
    """(text, report rows) for --list / --runs / --compare (nothing is evaluated)."""
    from models import eval_report as rep  # noqa: PLC0415
    from models.evaluate import EvalError, compare_runs  # noqa: PLC0415

    wanted = (args.runs or []) + (args.compare or [])
    known = {r["id"] for r in repo.eval_runs()}
    for run_id in wanted:
        if run_id not in known:
            raise EvalError(f"No evaluation run #{run_id} in {args.project_file} (see --list)")
    if args.list:
        return "".join(f"#{r['id']} {r['name']} {r['status']} items={r['items']} "
                       f"answered={r['answered']} correct={r['correct']}\n"
                       for r in repo.eval_runs()), []
    if args.compare:
        c = compare_runs(repo, *args.compare)
        return (f"Run #{c.run_a} vs run #{c.run_b}: {c.common} items answered by both\n"
                f"became correct ({len(c.to_correct)}): {', '.join(c.to_correct)}\n"
                f"became wrong ({len(c.to_wrong)}): {', '.join(c.to_wrong)}\n"
                f"other answer, same result ({len(c.changed)}): {', '.join(c.changed)}\n"), []
    rows, unparseable = rep.report(repo, args.runs)
    return rep.to_markdown(rows, unparseable), rows


def _report_past(args) -> int:
    from models import eval_report as rep  # noqa: PLC0415
    from models.store import Repository  # noqa: PLC0415

    repo = Repository(args.project_file, allow_read_only=True)
    try:
        text, rows = _past(repo, args)
    finally:
        repo.close()
    print(text, end="")
    if args.runs and args.csv:
        _write(args.csv, rep.to_csv(rows))
    if args.runs and args.md:
        _write(args.md, text)
    return 0


def run(args) -> int:
    from models.evaluate import EvalError  # noqa: PLC0415

    if args.list or args.runs or args.compare:
        return _report_past(args)
    if not args.model:
        raise EvalError("Pass --model (or --runs / --compare / --list for past runs)")
    return _evaluate(args)


def _evaluate(args) -> int:
    from models import eval_report as rep  # noqa: PLC0415
    from models.evaluate import EvalSettings, evaluate_models, open_backend  # noqa: PLC0415
    from models.export.project import project_video_root  # noqa: PLC0415
    from models.jobs import JobContext  # noqa: PLC0415
    from models.store import Repository  # noqa: PLC0415

    repo = Repository(args.project_file)
    try:
        records = _records(repo, args)
        root = args.video_root or project_video_root(repo, records)
        specs = list(args.model) + (["rule"] if args.reference and "rule" not in args.model else [])
        backends = [open_backend(s, args.device, repo) for s in specs]
        settings = EvalSettings(frames=args.frames, max_new_tokens=args.max_new_tokens,
                                template=args.template)
        failed: list[dict] = []

        def on_answer(answer: dict) -> None:
            if answer.get("error"):
                failed.append(answer)
        run_ids = evaluate_models(repo, backends, records, settings, root,
                                  JobContext(on_progress=_progress(args.quiet),
                                             on_partial=on_answer),
                                  max_concurrency=args.concurrency)
        rows, unparseable = rep.report(repo, run_ids)
        md = rep.to_markdown(rows, unparseable)
    finally:
        repo.close()
    print(md, end="")
    if args.csv:
        _write(args.csv, rep.to_csv(rows))
    if args.md:
        _write(args.md, md)
    if failed:
        print(f"error: {len(failed)} item(s) got no answer (first: {failed[0]['qa_id']}: "
              f"{failed[0]['error']}); run the same command again to ask them",
              file=sys.stderr)
        return 1
    return 0
