"""`dataset`: runs of the stage pipeline over many clips (plan, run, status, cancel, merge)."""
from __future__ import annotations

import argparse
import importlib
import json
import sys

from .argtypes import positive_int


def register(sub) -> None:
    ds = sub.add_parser("dataset", help="run the stage pipeline over a dataset (plan, run, "
                                        "status, cancel, merge)")
    dsub = ds.add_subparsers(dest="dataset_command", required=True)

    run = dsub.add_parser("run", help="run (or resume) the dataset run of a config file")
    run.add_argument("config", help="config file (.toml or .json)")
    run.add_argument("--ray-address", default=None,
                     help="run on Ray: '' starts a local instance, else the address to join")
    run.add_argument("--workers", type=positive_int, default=None,
                     help="parallel workers (default: the config's [runner] workers)")
    run.add_argument("--force", action="store_true",
                     help="use an output folder that holds another run or other files "
                          "(its results are kept; keys that match are reused)")
    run.add_argument("--stages-module", action="append", default=[], metavar="MODULE",
                     help="import this module first (it registers extra stages); repeatable")
    run.add_argument("--quiet", action="store_true", help="no progress lines")
    run.set_defaults(func=run_run)

    st = dsub.add_parser("status", help="print a run's status")
    st.add_argument("run", help="run folder")
    st.add_argument("--json", action="store_true", help="print the status as JSON")
    st.set_defaults(func=run_status_cmd)

    cancel = dsub.add_parser("cancel", help="ask a run's driver to stop")
    cancel.add_argument("run", help="run folder")
    cancel.set_defaults(func=run_cancel)

    merge = dsub.add_parser("merge", help="bring a run's results into a project")
    merge.add_argument("run", help="run folder")
    merge.add_argument("--project", default=argparse.SUPPRESS, help="project file")
    merge.set_defaults(func=run_merge)

    plan = dsub.add_parser("plan", help="estimate a config's work: items, frames, hours, storage")
    plan.add_argument("config", help="config file (.toml or .json)")
    plan.add_argument("--stages-module", action="append", default=[], metavar="MODULE",
                      help="import this module first (it registers extra stages); repeatable")
    plan.add_argument("--json", action="store_true", help="print the plan as JSON")
    plan.add_argument("--clips", type=positive_int, default=None,
                      help="plan for this many clips instead of reading the manifest")
    plan.add_argument("--frames-per-clip", type=positive_int, default=None,
                      help="with --clips: mean frames per clip (default 300)")
    plan.set_defaults(func=run_plan)


def _load_stages(modules) -> None:
    from models.engine.stage import ConfigError  # noqa: PLC0415

    try:
        importlib.import_module("models.engine.stages")   # the built-in stages, when present
    except ModuleNotFoundError as exc:
        if exc.name not in ("models.engine.stages",):
            raise
    for mod in modules:
        try:
            importlib.import_module(mod)
        except ImportError as exc:
            raise ConfigError(f"Cannot import stages module '{mod}': {exc}") from None


def run_run(args) -> int:
    from models.engine.config import load_config  # noqa: PLC0415
    from models.engine.progress import ProgressPrinter  # noqa: PLC0415
    from models.engine.run import make_runner, run_dataset  # noqa: PLC0415

    _load_stages(args.stages_module)
    cfg = load_config(args.config)
    runner = make_runner(cfg, args.workers, args.ray_address)
    printer = None if args.quiet else ProgressPrinter(sys.stderr)
    try:
        status = run_dataset(cfg, runner, force=args.force, on_status=printer)
    finally:
        runner.close()
    failed = sum(int(s.get("failed") or 0) for s in status["stages"])
    print(f"run {status['run_id']}: {status['state']}; output {cfg.output}"
          + (f"; {failed} failed (see: main.py dataset status {cfg.output})" if failed else ""))
    return 0 if status["state"] == "done" else 3


def run_status_cmd(args) -> int:
    from models.engine.progress import stage_lines  # noqa: PLC0415
    from models.engine.status import run_status  # noqa: PLC0415

    status = run_status(args.run)
    if args.json:
        print(json.dumps(status, indent=1, default=str))
        return 0
    print(f"run {status.get('run_id')}: {status.get('state')}"
          + (f" (driver pid {status.get('pid')} on {status.get('host')})" if status.get("alive") else ""))
    for line in stage_lines(status):
        print("  " + line)
    man = status.get("manifest") or {}
    if man:
        print(f"  manifest: {man.get('items', 0)} items, {man.get('bad', 0)} unusable entries, "
              f"{man.get('duplicates', 0)} duplicates")
    fails = status.get("failures") or []
    for f in fails[-10:]:
        print(f"  failed {f.get('stage')}: {f.get('name') or f.get('video')}: {f.get('error')} "
              f"({f.get('attempts')} attempts)")
    return 0


def run_cancel(args) -> int:
    from models.engine.status import request_cancel  # noqa: PLC0415

    request_cancel(args.run)
    print(f"cancel requested for {args.run}")
    return 0


def run_merge(args) -> int:
    from models.engine.merge import merge_run  # noqa: PLC0415
    from models.store import Repository  # noqa: PLC0415

    project = getattr(args, "project", None)
    repo = Repository(project)
    try:
        counts = merge_run(args.run, repo)
    finally:
        repo.close()
    print(counts["summary"])
    return 0


def run_plan(args) -> int:
    from models.engine.config import load_config  # noqa: PLC0415
    from models.engine.plan import plan_lines, plan_run  # noqa: PLC0415

    _load_stages(args.stages_module)
    plan = plan_run(load_config(args.config), clips=args.clips,
                    frames_per_clip=args.frames_per_clip)
    if args.json:
        print(json.dumps(plan, indent=1))
    else:
        for line in plan_lines(plan):
            print(line)
    return 0
