"""`eval`: run one or several models (and the rule-based reference) over a project's QA set
with the same frame sampling and prompt; resumes unfinished runs; prints the table and
writes CSV/Markdown reports; ``--list`` / ``--runs`` / ``--compare`` reopen past runs and
list the items that flipped between two (no Qt imported).

Base vs tuned: ``eval P --model BASE --model ADAPTER --compare`` evaluates both on the same
items and reports, per sub-task, each accuracy, B - A with a paired bootstrap interval and
the flipped items; ``--split heldout`` keeps the items the adapter's card.json lists under
``held_out_ids`` (or ``--split FILE``: ids one per line, a JSON list or a card), and
``--general-qa-file`` / ``--general-project`` add a second, general set (regressions).
Text/Markdown on stdout and ``--md``, JSON with ``--json``."""
from __future__ import annotations

import json
import sys
from pathlib import Path

from cli.argtypes import positive_int


def register(sub) -> None:
    ev = sub.add_parser("eval", help="evaluate models over a project's QA set")
    ev.add_argument("project_file", metavar="PROJECT", help="project file (.aastudio)")
    ev.add_argument("--model", nargs="+", action="extend", default=None,
                    help="checkpoint folder, adapter folder or 'BASE + ADAPTER', "
                         "http(s)://server/v1#model, or 'rule' (reference); repeatable")
    ev.add_argument("--runs", nargs="+", type=int, default=None, metavar="RUN",
                    help="report past runs (ids) instead of evaluating")
    ev.add_argument("--compare", nargs="*", type=int, default=None, metavar="RUN",
                    help="two past run ids: the items whose correctness flipped between "
                         "them, per sub-task difference + CI; with two --model and no ids: "
                         "evaluate both and compare them (base vs tuned)")
    ev.add_argument("--split", default=None, metavar="heldout|FILE",
                    help="with --compare: only the held-out items ('heldout': the ids the "
                         "adapter's card.json lists; or a file of ids)")
    ev.add_argument("--general-qa-file", default=None, metavar="FILE",
                    help="with --compare: also compare on this general set (MVBench JSON, "
                         "JSONL ...) to catch regressions")
    ev.add_argument("--general-project", default=None, metavar="PROJECT",
                    help="with --compare: also compare on this project's QA set (--status)")
    ev.add_argument("--resamples", type=positive_int, default=2000,
                    help="bootstrap resamples of the comparison interval (default 2000)")
    ev.add_argument("--seed", type=int, default=0, help="bootstrap seed (default 0)")
    ev.add_argument("--json", default=None, help="write the comparison as JSON here")
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
    ev.add_argument("--frames", type=positive_int, default=None,
                    help="frames per item (default: what an adapter's card.json records, else 8)")
    ev.add_argument("--max-pixels", type=positive_int, default=None,
                    help="pixel cap per frame (default: what an adapter's card.json records, "
                         "else 448*448)")
    ev.add_argument("--max-new-tokens", type=int, default=16)
    ev.add_argument("--template", default=None,
                    help="prompt template: mcq-letter-v1 (default unless an adapter's card.json "
                         "records another), mcq-letter-text-v1, mcq-plain-v1")
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
        c = compare_runs(repo, *args.compare, resamples=args.resamples, seed=args.seed)
        data = rep.comparison_dict(c, *(rep.run_label(repo.eval_run(i)) for i in args.compare))
        args.comparison = {"sections": [dict(data, section="past runs")]}
        return (f"Run #{c.run_a} vs run #{c.run_b}: {c.common} items answered by both\n"
                f"became correct ({len(c.to_correct)}): {', '.join(c.to_correct)}\n"
                f"became wrong ({len(c.to_wrong)}): {', '.join(c.to_wrong)}\n"
                f"other answer, same result ({len(c.changed)}): {', '.join(c.changed)}\n"
                "\n" + rep.comparison_markdown(data)), []
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
    if (args.runs or args.compare) and args.md:
        _write(args.md, text)
    if args.compare and args.json:
        _write(args.json, json.dumps(args.comparison, indent=2, ensure_ascii=False) + "\n")
    return 0


def run(args) -> int:
    from models.evaluate import EvalError  # noqa: PLC0415

    if args.compare is not None and len(args.compare) not in (0, 2):
        raise EvalError("--compare takes two past run ids, or none with two --model")
    comparing_models = args.compare == []
    if (args.split or args.general_qa_file or args.general_project) and not comparing_models:
        raise EvalError("--split, --general-qa-file and --general-project go with --compare "
                        "and two --model")
    if args.list or args.runs or args.compare:
        return _report_past(args)
    if not args.model:
        raise EvalError("Pass --model (or --runs / --compare / --list for past runs)")
    if comparing_models:
        return _compare_models(args)
    return _evaluate(args)


MAX_IDS_BYTES = 64 * 1024 ** 2
SETTING_FLAGS = {"frames": "--frames", "max_pixels": "--max-pixels", "template": "--template"}


def _settings(args, specs) -> tuple:
    """(EvalSettings, notes): every model of one run is asked with the same inputs. A
    setting given on the command line wins; else the one the adapters' card.json records
    (``eval_settings``: the inputs they were trained on); else the default. Two adapters
    recording different values for a setting not given are refused (no common inputs to
    choose); a given value that differs from an adapter's record is allowed and stated in
    the notes, which the report prints."""
    from models.evaluate import EvalError, EvalSettings  # noqa: PLC0415
    from models.vlm.adapter import recorded_eval_settings, split_spec  # noqa: PLC0415

    recorded = []
    for spec in specs:
        if spec == "rule" or spec.startswith(("http://", "https://", "endpoint:", "vllm:")):
            continue
        found = split_spec(spec)
        if found is not None:
            rec = recorded_eval_settings(found.adapter)
            if rec:
                recorded.append((Path(found.adapter.rstrip("/")).name, rec))
    chosen, notes, defaults = {}, [], EvalSettings()
    for key, flag in SETTING_FLAGS.items():
        given = getattr(args, key, None)
        seen = [(name, rec[key]) for name, rec in recorded if key in rec]
        if given is not None:
            chosen[key] = given
            notes += [f"{flag} {given} differs from the {rec} adapter {name} was trained with"
                      for name, rec in seen if rec != given]
        elif len({v for _, v in seen}) > 1:
            raise EvalError(f"The adapters were trained with different {flag[2:].replace('-', ' ')} ("
                            + ", ".join(f"{n}: {v}" for n, v in seen)
                            + f"); pass {flag} to compare them on the same inputs")
        elif seen:
            chosen[key] = seen[0][1]
            notes.append(f"{flag[2:].replace('-', ' ')} {seen[0][1]} from {seen[0][0]}/card.json")
        else:
            chosen[key] = getattr(defaults, key)
    settings = EvalSettings(frames=chosen["frames"], max_pixels=chosen["max_pixels"],
                            max_new_tokens=args.max_new_tokens, template=chosen["template"])
    return settings, notes


def _settings_line(settings, notes) -> str:
    return (f"Settings: frames {settings.frames}, max pixels {settings.max_pixels}, template "
            f"{settings.template}" + (f" ({'; '.join(notes)})" if notes else "") + "\n\n")


def _split_ids(split: str, specs: list) -> list[str]:
    """The held-out item ids: ``heldout`` -> the adapter's card.json (``held_out_ids``);
    else a file: a JSON list of ids, a JSON object with ``held_out_ids``, or one id a line."""
    from models.bounded_read import parse_json, read_text  # noqa: PLC0415
    from models.evaluate import EvalError  # noqa: PLC0415
    from models.vlm.adapter import held_out_ids, split_spec  # noqa: PLC0415

    if split == "heldout":
        local = [s for s in specs if s != "rule" and not s.startswith(
            ("http://", "https://", "endpoint:", "vllm:"))]
        adapters = [a for a in map(split_spec, local) if a is not None]
        if not adapters:
            raise EvalError("--split heldout reads the held-out ids from the adapter's "
                            "card.json, but no --model is an adapter folder; pass "
                            "--split FILE (ids one per line)")
        return held_out_ids(adapters[-1].adapter)
    text = read_text(split, EvalError, MAX_IDS_BYTES)
    if text.lstrip().startswith(("[", "{")):
        data = parse_json(text, Path(split).name, EvalError)
        ids = data.get("held_out_ids") if isinstance(data, dict) else data
        if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
            raise EvalError(f"{Path(split).name}: not a list of item ids (nor a card with "
                            "held_out_ids)")
    else:
        ids = [line.strip() for line in text.splitlines() if line.strip()
               and not line.lstrip().startswith("#")]
    if not ids:
        raise EvalError(f"{Path(split).name} lists no item ids")
    return list(dict.fromkeys(ids))


def _sets(args, repo, specs, records, root) -> list[tuple[str, list, object]]:
    """(title, records, video root) of each section: the project's set (or its held-out
    part), then the general sets."""
    from models.evaluate import EvalError  # noqa: PLC0415
    from models.export.project import project_video_root  # noqa: PLC0415
    from models.importers import load_file  # noqa: PLC0415
    from models.store import Repository  # noqa: PLC0415

    if args.split:
        ids = _split_ids(args.split, specs)
        wanted = set(ids)
        chosen = [r for r in records if r.qa_id in wanted]
        if not chosen:
            raise EvalError(f"None of the {len(ids)} held-out item ids is among the items to "
                            f"evaluate (status {', '.join(args.status)})")
        sets = [(f"held-out split ({len(chosen)} of {len(ids)} listed items)", chosen, root)]
    else:
        sets = [(f"QA set of {Path(args.qa_file or args.project_file).name}", records, root)]
    if args.general_qa_file:
        recs = [r for r in load_file(args.general_qa_file).records
                if not args.tasks or r.task in args.tasks]
        if not recs:
            raise EvalError(f"Nothing to evaluate in {args.general_qa_file}")
        where = (project_video_root(repo, recs)
                 or str(Path(args.general_qa_file).resolve().parent))
        sets.append((f"general set {Path(args.general_qa_file).name}", recs, where))
    if args.general_project:
        if not Path(args.general_project).is_file():
            raise EvalError(f"No project file {args.general_project}")
        other = Repository(args.general_project, allow_read_only=True)
        try:
            recs = other.qa_records({"status": args.status, "task": args.tasks or None})
            where = project_video_root(other, recs)
        finally:
            other.close()
        if not recs:
            raise EvalError(f"Nothing to evaluate in {args.general_project}: no items with "
                            "status " + ", ".join(args.status))
        sets.append((f"general set {Path(args.general_project).name}", recs, where))
    return sets


def _compare_models(args) -> int:
    """Evaluate two models (base, tuned) on each section's items and compare them."""
    from models import eval_report as rep  # noqa: PLC0415
    from models.evaluate import (EvalError, compare_runs, evaluate_models,  # noqa: PLC0415
                                 open_backend)
    from models.export.project import project_video_root  # noqa: PLC0415
    from models.jobs import JobContext  # noqa: PLC0415
    from models.store import Repository  # noqa: PLC0415

    specs = list(dict.fromkeys(args.model))
    if len(specs) != 2:
        raise EvalError("--compare without run ids compares two models: pass --model BASE "
                        "--model TUNED")
    repo = Repository(args.project_file)
    failed: list[dict] = []
    sections = []
    try:
        records = _records(repo, args)
        root = args.video_root or project_video_root(repo, records)
        sets = _sets(args, repo, specs, records, root)
        settings, notes = _settings(args, specs)
        backends = [open_backend(s, args.device, repo) for s in specs]

        def on_answer(answer: dict) -> None:
            if answer.get("error"):
                failed.append(answer)
        ctx = JobContext(on_progress=_progress(args.quiet), on_partial=on_answer)
        for title, recs, where in sets:
            run_ids = evaluate_models(repo, backends, recs, settings,
                                      args.video_root or where, ctx,
                                      max_concurrency=args.concurrency)
            c = compare_runs(repo, run_ids[0], run_ids[1], args.resamples, args.seed)
            labels = [rep.run_label(repo.eval_run(i)) for i in run_ids]
            sections.append(dict(rep.comparison_dict(c, *labels), section=title))
    finally:
        repo.close()
    md = _settings_line(settings, notes) + "\n".join(
        rep.comparison_markdown(d, d["section"]) for d in sections)
    print(md, end="")
    if args.md:
        _write(args.md, md)
    if args.json:
        _write(args.json, json.dumps({"settings": settings.as_dict(), "settings_notes": notes,
                                      "sections": sections}, indent=2, ensure_ascii=False) + "\n")
    return _unanswered_exit(failed)


def _evaluate(args) -> int:
    from models import eval_report as rep  # noqa: PLC0415
    from models.evaluate import evaluate_models, open_backend  # noqa: PLC0415
    from models.export.project import project_video_root  # noqa: PLC0415
    from models.jobs import JobContext  # noqa: PLC0415
    from models.store import Repository  # noqa: PLC0415

    repo = Repository(args.project_file)
    try:
        records = _records(repo, args)
        root = args.video_root or project_video_root(repo, records)
        specs = list(args.model) + (["rule"] if args.reference and "rule" not in args.model else [])
        settings, notes = _settings(args, specs)
        backends = [open_backend(s, args.device, repo) for s in specs]
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
        if notes:
            md = _settings_line(settings, notes) + md
    finally:
        repo.close()
    print(md, end="")
    if args.csv:
        _write(args.csv, rep.to_csv(rows))
    if args.md:
        _write(args.md, md)
    return _unanswered_exit(failed)


def _unanswered_exit(failed: list) -> int:
    """The exit status of an evaluation: 1 with one ``error:`` line when items got no
    answer (a rerun asks them), else 0."""
    if failed:
        print(f"error: {len(failed)} item(s) got no answer (first: {failed[0]['qa_id']}: "
              f"{failed[0]['error']}); run the same command again to ask them",
              file=sys.stderr)
        return 1
    return 0
